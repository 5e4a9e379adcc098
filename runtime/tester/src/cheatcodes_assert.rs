//! The assertions forja's main `Vm` interface lacked: the `*Decimal` family
//! (values shown as fixed-point numbers with the given decimals, as forge
//! shows them) and `assertNotEq` on arrays. They share `cheatcodes.rs`'s
//! comparison helpers, so their messages are the other assertions' with
//! only the numbers' format changed.

use std::fmt::Display;

use alloy::primitives::{I256, U256};

use crate::{
    cheatcodes::{CheatResult, List, approx_abs, approx_rel, checksummed, cmp, eq, hexes, ne},
    inspector::TestInspector,
};

alloy::sol! {
    /// Foundry's decimal assertions and array `assertNotEq`.
    #[derive(Debug)]
    interface VmAssert {
        function assertEqDecimal(uint256 left, uint256 right, uint256 decimals) external pure;
        function assertEqDecimal(uint256 left, uint256 right, uint256 decimals, string calldata error) external pure;
        function assertEqDecimal(int256 left, int256 right, uint256 decimals) external pure;
        function assertEqDecimal(int256 left, int256 right, uint256 decimals, string calldata error) external pure;
        function assertNotEqDecimal(uint256 left, uint256 right, uint256 decimals) external pure;
        function assertNotEqDecimal(uint256 left, uint256 right, uint256 decimals, string calldata error) external pure;
        function assertNotEqDecimal(int256 left, int256 right, uint256 decimals) external pure;
        function assertNotEqDecimal(int256 left, int256 right, uint256 decimals, string calldata error) external pure;
        function assertGtDecimal(uint256 left, uint256 right, uint256 decimals) external pure;
        function assertGtDecimal(uint256 left, uint256 right, uint256 decimals, string calldata error) external pure;
        function assertGtDecimal(int256 left, int256 right, uint256 decimals) external pure;
        function assertGtDecimal(int256 left, int256 right, uint256 decimals, string calldata error) external pure;
        function assertGeDecimal(uint256 left, uint256 right, uint256 decimals) external pure;
        function assertGeDecimal(uint256 left, uint256 right, uint256 decimals, string calldata error) external pure;
        function assertGeDecimal(int256 left, int256 right, uint256 decimals) external pure;
        function assertGeDecimal(int256 left, int256 right, uint256 decimals, string calldata error) external pure;
        function assertLtDecimal(uint256 left, uint256 right, uint256 decimals) external pure;
        function assertLtDecimal(uint256 left, uint256 right, uint256 decimals, string calldata error) external pure;
        function assertLtDecimal(int256 left, int256 right, uint256 decimals) external pure;
        function assertLtDecimal(int256 left, int256 right, uint256 decimals, string calldata error) external pure;
        function assertLeDecimal(uint256 left, uint256 right, uint256 decimals) external pure;
        function assertLeDecimal(uint256 left, uint256 right, uint256 decimals, string calldata error) external pure;
        function assertLeDecimal(int256 left, int256 right, uint256 decimals) external pure;
        function assertLeDecimal(int256 left, int256 right, uint256 decimals, string calldata error) external pure;
        function assertApproxEqAbsDecimal(uint256 left, uint256 right, uint256 maxDelta, uint256 decimals) external pure;
        function assertApproxEqAbsDecimal(uint256 left, uint256 right, uint256 maxDelta, uint256 decimals, string calldata error) external pure;
        function assertApproxEqAbsDecimal(int256 left, int256 right, uint256 maxDelta, uint256 decimals) external pure;
        function assertApproxEqAbsDecimal(int256 left, int256 right, uint256 maxDelta, uint256 decimals, string calldata error) external pure;
        function assertApproxEqRelDecimal(uint256 left, uint256 right, uint256 maxPercentDelta, uint256 decimals) external pure;
        function assertApproxEqRelDecimal(uint256 left, uint256 right, uint256 maxPercentDelta, uint256 decimals, string calldata error) external pure;
        function assertApproxEqRelDecimal(int256 left, int256 right, uint256 maxPercentDelta, uint256 decimals) external pure;
        function assertApproxEqRelDecimal(int256 left, int256 right, uint256 maxPercentDelta, uint256 decimals, string calldata error) external pure;

        function assertNotEq(bool[] calldata left, bool[] calldata right) external pure;
        function assertNotEq(bool[] calldata left, bool[] calldata right, string calldata error) external pure;
        function assertNotEq(uint256[] calldata left, uint256[] calldata right) external pure;
        function assertNotEq(uint256[] calldata left, uint256[] calldata right, string calldata error) external pure;
        function assertNotEq(int256[] calldata left, int256[] calldata right) external pure;
        function assertNotEq(int256[] calldata left, int256[] calldata right, string calldata error) external pure;
        function assertNotEq(address[] calldata left, address[] calldata right) external pure;
        function assertNotEq(address[] calldata left, address[] calldata right, string calldata error) external pure;
        function assertNotEq(bytes32[] calldata left, bytes32[] calldata right) external pure;
        function assertNotEq(bytes32[] calldata left, bytes32[] calldata right, string calldata error) external pure;
        function assertNotEq(string[] calldata left, string[] calldata right) external pure;
        function assertNotEq(string[] calldata left, string[] calldata right, string calldata error) external pure;
        function assertNotEq(bytes[] calldata left, bytes[] calldata right) external pure;
        function assertNotEq(bytes[] calldata left, bytes[] calldata right, string calldata error) external pure;
    }
}

pub(crate) use VmAssert::VmAssertCalls;

/// The signature of the assertion with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmAssertCalls::signature_by_selector(selector)
}

/// A number shown with `decimals` places, as forge formats it (alloy's
/// `format_units`: every place shown, `1.50`, `-2.25`); decimals past 77
/// show it plain.
#[derive(PartialEq)]
pub(crate) struct Decimal<T>(pub(crate) T, pub(crate) U256);

impl Display for Decimal<U256> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_units(self.0, self.1))
    }
}

impl Display for Decimal<I256> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sign, abs) = self.0.into_sign_and_abs();
        write!(f, "{sign}{}", format_units(abs, self.1))
    }
}

fn format_units(value: U256, decimals: U256) -> String {
    use alloy::primitives::utils::{ParseUnits, Unit};
    match Unit::new(decimals.saturating_to::<u8>()) {
        Some(unit) => ParseUnits::U256(value).format_units(unit),
        None => value.to_string(),
    }
}

impl TestInspector {
    /// Applies one decimal assertion or array `assertNotEq`.
    pub(crate) fn apply_assert(&mut self, call: VmAssertCalls) -> CheatResult {
        use VmAssertCalls as C;
        let u = |value: U256, decimals: U256| Decimal(value, decimals);
        let i = |value: I256, decimals: U256| Decimal(value, decimals);
        match call {
            C::assertEqDecimal_0(c) => eq(&u(c.left, c.decimals), &u(c.right, c.decimals), None),
            C::assertEqDecimal_1(c) => eq(
                &u(c.left, c.decimals),
                &u(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertEqDecimal_2(c) => eq(&i(c.left, c.decimals), &i(c.right, c.decimals), None),
            C::assertEqDecimal_3(c) => eq(
                &i(c.left, c.decimals),
                &i(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertNotEqDecimal_0(c) => ne(&u(c.left, c.decimals), &u(c.right, c.decimals), None),
            C::assertNotEqDecimal_1(c) => ne(
                &u(c.left, c.decimals),
                &u(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertNotEqDecimal_2(c) => ne(&i(c.left, c.decimals), &i(c.right, c.decimals), None),
            C::assertNotEqDecimal_3(c) => ne(
                &i(c.left, c.decimals),
                &i(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertGtDecimal_0(c) => cmp(
                c.left > c.right,
                &u(c.left, c.decimals),
                "<=",
                &u(c.right, c.decimals),
                None,
            ),
            C::assertGtDecimal_1(c) => cmp(
                c.left > c.right,
                &u(c.left, c.decimals),
                "<=",
                &u(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertGtDecimal_2(c) => cmp(
                c.left > c.right,
                &i(c.left, c.decimals),
                "<=",
                &i(c.right, c.decimals),
                None,
            ),
            C::assertGtDecimal_3(c) => cmp(
                c.left > c.right,
                &i(c.left, c.decimals),
                "<=",
                &i(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertGeDecimal_0(c) => cmp(
                c.left >= c.right,
                &u(c.left, c.decimals),
                "<",
                &u(c.right, c.decimals),
                None,
            ),
            C::assertGeDecimal_1(c) => cmp(
                c.left >= c.right,
                &u(c.left, c.decimals),
                "<",
                &u(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertGeDecimal_2(c) => cmp(
                c.left >= c.right,
                &i(c.left, c.decimals),
                "<",
                &i(c.right, c.decimals),
                None,
            ),
            C::assertGeDecimal_3(c) => cmp(
                c.left >= c.right,
                &i(c.left, c.decimals),
                "<",
                &i(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertLtDecimal_0(c) => cmp(
                c.left < c.right,
                &u(c.left, c.decimals),
                ">=",
                &u(c.right, c.decimals),
                None,
            ),
            C::assertLtDecimal_1(c) => cmp(
                c.left < c.right,
                &u(c.left, c.decimals),
                ">=",
                &u(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertLtDecimal_2(c) => cmp(
                c.left < c.right,
                &i(c.left, c.decimals),
                ">=",
                &i(c.right, c.decimals),
                None,
            ),
            C::assertLtDecimal_3(c) => cmp(
                c.left < c.right,
                &i(c.left, c.decimals),
                ">=",
                &i(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertLeDecimal_0(c) => cmp(
                c.left <= c.right,
                &u(c.left, c.decimals),
                ">",
                &u(c.right, c.decimals),
                None,
            ),
            C::assertLeDecimal_1(c) => cmp(
                c.left <= c.right,
                &u(c.left, c.decimals),
                ">",
                &u(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertLeDecimal_2(c) => cmp(
                c.left <= c.right,
                &i(c.left, c.decimals),
                ">",
                &i(c.right, c.decimals),
                None,
            ),
            C::assertLeDecimal_3(c) => cmp(
                c.left <= c.right,
                &i(c.left, c.decimals),
                ">",
                &i(c.right, c.decimals),
                Some(&c.error),
            ),
            C::assertApproxEqAbsDecimal_0(c) => approx_abs(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxDelta,
                false,
                Some(c.decimals),
                None,
            ),
            C::assertApproxEqAbsDecimal_1(c) => approx_abs(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxDelta,
                false,
                Some(c.decimals),
                Some(&c.error),
            ),
            C::assertApproxEqAbsDecimal_2(c) => {
                approx_abs(c.left, c.right, c.maxDelta, true, Some(c.decimals), None)
            }
            C::assertApproxEqAbsDecimal_3(c) => approx_abs(
                c.left,
                c.right,
                c.maxDelta,
                true,
                Some(c.decimals),
                Some(&c.error),
            ),
            C::assertApproxEqRelDecimal_0(c) => approx_rel(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxPercentDelta,
                false,
                Some(c.decimals),
                None,
            ),
            C::assertApproxEqRelDecimal_1(c) => approx_rel(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxPercentDelta,
                false,
                Some(c.decimals),
                Some(&c.error),
            ),
            C::assertApproxEqRelDecimal_2(c) => approx_rel(
                c.left,
                c.right,
                c.maxPercentDelta,
                true,
                Some(c.decimals),
                None,
            ),
            C::assertApproxEqRelDecimal_3(c) => approx_rel(
                c.left,
                c.right,
                c.maxPercentDelta,
                true,
                Some(c.decimals),
                Some(&c.error),
            ),
            C::assertNotEq_0(c) => ne(&List(c.left), &List(c.right), None),
            C::assertNotEq_1(c) => ne(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertNotEq_2(c) => ne(&List(c.left), &List(c.right), None),
            C::assertNotEq_3(c) => ne(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertNotEq_4(c) => ne(&List(c.left), &List(c.right), None),
            C::assertNotEq_5(c) => ne(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertNotEq_6(c) => ne(
                &List(checksummed(c.left)),
                &List(checksummed(c.right)),
                None,
            ),
            C::assertNotEq_7(c) => ne(
                &List(checksummed(c.left)),
                &List(checksummed(c.right)),
                Some(&c.error),
            ),
            C::assertNotEq_8(c) => ne(&List(c.left), &List(c.right), None),
            C::assertNotEq_9(c) => ne(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertNotEq_10(c) => ne(&List(c.left), &List(c.right), None),
            C::assertNotEq_11(c) => ne(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertNotEq_12(c) => ne(&List(hexes(c.left)), &List(hexes(c.right)), None),
            C::assertNotEq_13(c) => ne(&List(hexes(c.left)), &List(hexes(c.right)), Some(&c.error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_show_as_forge_shows_them() {
        let e18 = U256::from(10u64).pow(U256::from(18));
        assert_eq!(
            Decimal(e18, U256::from(18)).to_string(),
            "1.000000000000000000"
        );
        assert_eq!(Decimal(U256::ZERO, U256::from(2)).to_string(), "0.00");
        assert_eq!(Decimal(U256::from(15), U256::from(1)).to_string(), "1.5");
        assert_eq!(
            Decimal(I256::try_from(-225).unwrap(), U256::from(2)).to_string(),
            "-2.25"
        );
        assert_eq!(Decimal(U256::from(7), U256::from(100)).to_string(), "7");
    }
}
