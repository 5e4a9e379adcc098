//! What a cheatcode reverts with.
//!
//! A cheatcode that fails does not stop the EVM: its call reverts, and the
//! test sees the revert as it would see any other (`expectRevert` can
//! match it, a `try` can catch it). So the error is, in the end, revert
//! data; the variants keep apart what forja needs to tell apart before
//! encoding it.

use std::fmt;

use alloy::primitives::{Bytes, hex};

use crate::decode::encode_error_string;

/// Why a cheatcode call reverted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CheatError {
    /// A reason, reverted with as `Error(string)` (what forge-std's
    /// helpers and `expectRevert("...")` match).
    Reason(String),
    /// Revert data given as is (a custom error, or bytes a cheatcode was
    /// told to revert with).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "no cheatcode of forja reverts with raw data yet")
    )]
    Data(Bytes),
    /// A cheatcode forja does not implement, by its signature
    /// (`closeFile(string)`) or, when no ABI known to the run names it, its
    /// selector.
    NotSupported(String),
}

impl CheatError {
    /// What the cheatcode's call reverts with.
    pub(crate) fn revert_data(&self) -> Bytes {
        match self {
            Self::Data(data) => data.clone(),
            Self::Reason(_) | Self::NotSupported(_) => encode_error_string(&self.to_string()),
        }
    }
}

impl fmt::Display for CheatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reason(message) => f.write_str(message),
            Self::Data(data) => f.write_str(&hex::encode_prefixed(data)),
            Self::NotSupported(cheatcode) => {
                write!(f, "cheatcode {cheatcode} is not supported by forja")
            }
        }
    }
}

impl std::error::Error for CheatError {}

impl From<String> for CheatError {
    fn from(message: String) -> Self {
        Self::Reason(message)
    }
}

impl From<&str> for CheatError {
    fn from(message: &str) -> Self {
        Self::Reason(message.to_string())
    }
}

/// A cheatcode `--network` refuses reverts with its refusal.
impl From<crate::vm::UnsupportedOnNetwork> for CheatError {
    fn from(refusal: crate::vm::UnsupportedOnNetwork) -> Self {
        Self::Reason(refusal.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{primitives::bytes, sol_types::SolError};

    #[test]
    fn a_reason_reverts_as_error_string() {
        let error = CheatError::from("vm.foo: bad input");
        assert_eq!(error.to_string(), "vm.foo: bad input");
        let decoded = alloy::sol_types::Revert::abi_decode(&error.revert_data()).unwrap();
        assert_eq!(decoded.reason, "vm.foo: bad input");
    }

    #[test]
    fn data_reverts_as_given() {
        let error = CheatError::Data(bytes!("deadbeef"));
        assert_eq!(error.revert_data(), bytes!("deadbeef"));
        assert_eq!(error.to_string(), "0xdeadbeef");
    }

    #[test]
    fn not_supported_names_the_cheatcode() {
        let error = CheatError::NotSupported("closeFile(string)".into());
        assert_eq!(
            error.to_string(),
            "cheatcode closeFile(string) is not supported by forja"
        );
        let decoded = alloy::sol_types::Revert::abi_decode(&error.revert_data()).unwrap();
        assert_eq!(decoded.reason, error.to_string());
    }
}
