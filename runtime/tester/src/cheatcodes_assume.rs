//! `vm.assumeNoRevert`: the next call made at the test's depth rejects the
//! fuzz input instead of failing the test when it reverts (with one of the
//! listed reverts, when any are listed), as in forge.

use alloy::primitives::{Address, Bytes};

use crate::{cheatcodes::CheatResult, inspector::TestInspector};

alloy::sol! {
    /// Foundry's cheatcodes served by this module.
    #[derive(Debug)]
    interface VmAssume {
        struct PotentialRevert { address reverter; bool partialMatch; bytes revertData; }
        function assumeNoRevert() external pure;
        function assumeNoRevert(PotentialRevert calldata potentialRevert) external pure;
        function assumeNoRevert(PotentialRevert[] calldata potentialReverts) external pure;
    }
}

pub(crate) use VmAssume::VmAssumeCalls;

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmAssumeCalls::signature_by_selector(selector)
}

/// A pending `assumeNoRevert`.
#[derive(Clone, Debug, Default)]
pub(crate) struct AssumeNoRevert {
    /// Depth of the frame that called the cheatcode: its next call is the one watched.
    pub depth: usize,
    /// The reverts that reject the input; empty = any revert.
    pub reverts: Vec<VmAssume::PotentialRevert>,
    /// The watched call has started.
    pub armed: bool,
    /// The address the revert came from (the deepest reverting frame).
    pub reverter: Option<Address>,
}

impl AssumeNoRevert {
    /// Whether a revert with `data` from `reverter` is one of the assumed reverts.
    fn covers(&self, data: &Bytes, reverter: Option<Address>) -> bool {
        self.reverts.is_empty()
            || self.reverts.iter().any(|r| {
                let data_matches = if r.partialMatch {
                    data.starts_with(&r.revertData)
                } else {
                    *data == r.revertData
                };
                data_matches && (r.reverter.is_zero() || Some(r.reverter) == reverter)
            })
    }
}

impl TestInspector {
    /// Applies one of this module's cheatcodes.
    pub(crate) fn apply_assume(&mut self, depth: usize, call: VmAssumeCalls) -> CheatResult {
        use VmAssumeCalls as C;
        let reverts = match call {
            C::assumeNoRevert_0(_) => vec![],
            C::assumeNoRevert_1(c) => vec![c.potentialRevert],
            C::assumeNoRevert_2(c) => c.potentialReverts,
        };
        if self.cheats.expected_revert.is_some() {
            return Err("vm.assumeNoRevert cannot be used with vm.expectRevert".into());
        }
        self.cheats.assume_no_revert = Some(AssumeNoRevert {
            depth,
            reverts,
            armed: false,
            reverter: None,
        });
        Ok(Bytes::new())
    }

    /// A call other than a cheatcode starts at `depth`: it is the watched
    /// one when it comes from the frame that asked.
    pub(crate) fn assume_no_revert_call(&mut self, depth: usize) {
        if let Some(assumed) = self.cheats.assume_no_revert.as_mut()
            && !assumed.armed
            && assumed.depth == depth
        {
            assumed.armed = true;
        }
    }

    /// A call other than a cheatcode to `target` ended at `depth`; when the
    /// watched call reverts with an assumed revert, the input is rejected:
    /// the call's revert data becomes `vm.assume`'s, as in Foundry, so the
    /// rejection reaches the test only if the revert does.
    pub(crate) fn assume_no_revert_call_end(
        &mut self,
        depth: usize,
        target: Address,
        reverted: bool,
        output: &mut Bytes,
    ) {
        let Some(assumed) = self.cheats.assume_no_revert.as_mut() else {
            return;
        };
        if !assumed.armed {
            return;
        }
        if reverted && assumed.reverter.is_none() {
            assumed.reverter = Some(target);
        }
        if assumed.depth != depth {
            return;
        }
        if reverted && assumed.covers(output, assumed.reverter) {
            self.cheats.assume_rejected = true;
            *output = crate::decode::encode_error_string(crate::vm::ASSUME_MAGIC);
        }
        self.cheats.assume_no_revert = None;
    }
}
