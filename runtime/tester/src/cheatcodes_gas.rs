//! `vm.pauseGasMetering`/`resumeGasMetering`: while paused, every frame
//! keeps the gas it had when the pause began (or when it started), so code
//! run in between costs nothing, as in forge.

use alloy::primitives::Bytes;
use revm::interpreter::{Gas, Interpreter};

use crate::{cheatcodes::CheatResult, inspector::TestInspector};

alloy::sol! {
    /// The gas-metering part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmGas {
        function pauseGasMetering() external;
        function resumeGasMetering() external;
    }
}

pub(crate) use VmGas::VmGasCalls;

/// The gas each frame is held at while metering is paused, by depth.
pub(crate) type PausedGas = Vec<(usize, Gas)>;

/// The signature of the gas-metering cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmGasCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies one gas-metering cheatcode.
    pub(crate) fn apply_gas(&mut self, call: VmGasCalls) -> CheatResult {
        match call {
            VmGasCalls::pauseGasMetering(_) => {
                self.cheats.paused_gas.get_or_insert_with(Vec::new);
            }
            VmGasCalls::resumeGasMetering(_) => self.cheats.paused_gas = None,
        }
        Ok(Bytes::new())
    }
}

/// Before an instruction of a frame at `depth` while paused: puts the
/// frame's gas back to what it was when the pause reached it.
#[inline(never)]
pub(crate) fn hold_gas(paused: &mut PausedGas, interp: &mut Interpreter, depth: usize) {
    match paused.iter().find(|(d, _)| *d == depth) {
        Some((_, gas)) => interp.gas = *gas,
        None => paused.push((depth, interp.gas)),
    }
}

/// After a frame ended, back at `depth`: forgets the held gas of frames
/// deeper than that, so the next frame at their depth is held afresh.
pub(crate) fn frame_ended(paused: &mut PausedGas, depth: usize) {
    paused.retain(|(d, _)| *d <= depth);
}
