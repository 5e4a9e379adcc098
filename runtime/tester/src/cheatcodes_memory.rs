//! Foundry's memory-safety cheatcodes: `expectSafeMemory(min, max)` lets the
//! current call frame (`expectSafeMemoryCall`: the next call's frame) write
//! memory only in `[min, max)` besides the scratch space and free memory
//! pointer (`[0, 0x60)`); any other write, or a read that expands memory
//! outside those ranges, reverts the frame with forge's message.

use std::ops::Range;

use alloy::{primitives::Bytes, sol_types::SolCall};
use revm::{
    bytecode::opcode as op,
    interpreter::{
        InstructionResult, Interpreter, InterpreterAction,
        interpreter_types::{Jumps, LoopControl, MemoryTr},
    },
};

use crate::{cheatcodes::CheatResult, inspector::TestInspector, vm::CHEATCODE_ADDRESS};

alloy::sol! {
    /// The memory-safety part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmMemory {
        function expectSafeMemory(uint64 min, uint64 max) external;
        function expectSafeMemoryCall(uint64 min, uint64 max) external;
        function stopExpectSafeMemory() external;
    }
}

pub(crate) use VmMemory::VmMemoryCalls;

/// Allowed memory ranges by journal depth of the frame they apply to.
pub(crate) type SafeMemory = std::collections::BTreeMap<usize, Vec<Range<u64>>>;

/// The signature of the memory-safety cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmMemoryCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies one memory-safety cheatcode called from a frame at `depth`.
    pub(crate) fn apply_memory(&mut self, depth: usize, call: VmMemoryCalls) -> CheatResult {
        match call {
            VmMemoryCalls::expectSafeMemory(c) => self.allow_memory(depth, c.min, c.max),
            VmMemoryCalls::expectSafeMemoryCall(c) => self.allow_memory(depth + 1, c.min, c.max),
            VmMemoryCalls::stopExpectSafeMemory(_) => {
                self.cheats.safe_memory.remove(&depth);
                Ok(Bytes::new())
            }
        }
    }

    fn allow_memory(&mut self, depth: usize, start: u64, end: u64) -> CheatResult {
        if start >= end {
            return Err(format!("memory range start ({start}) is greater than end ({end})").into());
        }
        self.cheats
            .safe_memory
            .entry(depth)
            // Scratch space and the free memory pointer are always writable.
            .or_insert_with(|| std::iter::once(0..0x60).collect())
            .push(start..end);
        Ok(Bytes::new())
    }
}

/// Before an instruction of a frame at `depth`: reverts the frame when the
/// instruction would touch memory outside its allowed ranges.
#[inline(never)]
pub(crate) fn check_memory_access(safe: &SafeMemory, interp: &mut Interpreter, depth: usize) {
    let Some(ranges) = safe.get(&depth) else {
        return;
    };
    let peek = |interp: &Interpreter, n: usize| {
        interp.stack.peek(n).map(|v| v.saturating_to::<u64>()).ok()
    };
    let inside = |offset: u64, size: u64| {
        ranges.iter().any(|r| {
            r.contains(&offset) && r.contains(&offset.saturating_add(size.saturating_sub(1)))
        })
    };
    let memory_size = interp.memory.size() as u64;
    let violation = match interp.bytecode.opcode() {
        op::MSTORE => {
            let Some(offset) = peek(interp, 0) else {
                return;
            };
            // Solidity stores the selector of `stopExpectSafeMemory` at the
            // free memory pointer to call it: that write is allowed.
            let storing_stop = interp.stack.peek(1).is_ok_and(|v| {
                v.to_be_bytes::<32>()[..4] == VmMemory::stopExpectSafeMemoryCall::SELECTOR
            });
            (!inside(offset, 32) && !storing_stop).then_some((offset, 32))
        }
        op::MSTORE8 => {
            let Some(offset) = peek(interp, 0) else {
                return;
            };
            (!inside(offset, 1)).then_some((offset, 1))
        }
        op::MLOAD => {
            let Some(offset) = peek(interp, 0) else {
                return;
            };
            (offset >= memory_size && !inside(offset, 32)).then_some((offset, 32))
        }
        op::CALL => {
            let (Some(offset), Some(size)) = (peek(interp, 5), peek(interp, 6)) else {
                return;
            };
            let calling_stop = || {
                let to = interp.stack.peek(1).ok()?;
                if alloy::primitives::Address::from_word(to.into()) != CHEATCODE_ADDRESS {
                    return None;
                }
                let args_offset = peek(interp, 3)?;
                let args_size = peek(interp, 4)?;
                if args_size < 4 || args_offset.checked_add(4)? > memory_size {
                    return None;
                }
                let args = interp
                    .memory
                    .slice_len(usize::try_from(args_offset).ok()?, 4);
                Some(args[..4] == VmMemory::stopExpectSafeMemoryCall::SELECTOR)
            };
            (!inside(offset, size) && calling_stop() != Some(true)).then_some((offset, size))
        }
        opcode => {
            // (destination offset, size) stack positions, and whether the
            // instruction writes (else it only matters when it expands memory).
            let (offset_at, size_at, writes) = match opcode {
                op::CALLDATACOPY | op::CODECOPY | op::RETURNDATACOPY => (0, 2, true),
                op::EXTCODECOPY => (1, 3, true),
                op::CALLCODE => (5, 6, true),
                op::STATICCALL | op::DELEGATECALL => (4, 5, true),
                op::KECCAK256
                | op::LOG0
                | op::LOG1
                | op::LOG2
                | op::LOG3
                | op::LOG4
                | op::RETURN
                | op::REVERT => (0, 1, false),
                op::CREATE | op::CREATE2 => (1, 2, false),
                _ => return,
            };
            let (Some(offset), Some(size)) = (peek(interp, offset_at), peek(interp, size_at))
            else {
                return;
            };
            let expands = offset >= memory_size
                || offset.saturating_add(size).saturating_sub(1) >= memory_size;
            (!inside(offset, size) && (writes || expands)).then_some((offset, size))
        }
    };
    if let Some((offset, size)) = violation {
        let allowed: Vec<String> = ranges
            .iter()
            .map(|r| format!("[0x{:02X}, 0x{:02X})", r.start, r.end))
            .collect();
        let message = format!(
            "memory write at offset 0x{offset:02X} of size 0x{size:02X} not allowed; safe range: {}",
            allowed.join(" U ")
        );
        let gas = interp.gas;
        interp.bytecode.set_action(InterpreterAction::new_return(
            InstructionResult::Revert,
            Bytes::from(message.into_bytes()),
            gas,
        ));
    }
}
