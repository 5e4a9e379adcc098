//! `vm.mockFunction(callee, target, data)`: calls whose code is `callee`'s
//! and whose calldata is `data` (or, for 4-byte `data`, starts with that
//! selector) run `target`'s code instead, in the callee's context.

use std::collections::HashMap;

use alloy::primitives::{Address, Bytes};
use revm::{context::JournalTr, interpreter::CallInputs};

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::CheatResult,
    inspector::TestInspector,
};

alloy::sol! {
    /// `mockFunction` from Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmMockFunction {
        function mockFunction(address callee, address target, bytes calldata data) external;
    }
}

pub(crate) use VmMockFunction::VmMockFunctionCalls;

/// Mocked functions: code address → calldata (or selector) → code to run.
pub(crate) type MockedFunctions = HashMap<Address, HashMap<Bytes, Address>>;

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmMockFunctionCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies `mockFunction`.
    pub(crate) fn apply_mock_function(&mut self, call: VmMockFunctionCalls) -> CheatResult {
        let VmMockFunctionCalls::mockFunction(c) = call;
        self.cheats
            .mocked_functions
            .entry(c.callee)
            .or_default()
            .insert(c.data, c.target);
        Ok(Bytes::new())
    }
}

/// Points a call at the mock's code when its code address and calldata
/// match a `mockFunction`.
pub(crate) fn redirect<DB: CheatDatabase>(
    mocks: &MockedFunctions,
    context: &mut CheatContext<DB>,
    inputs: &mut CallInputs,
    input: &Bytes,
) {
    let Some(by_data) = mocks.get(&inputs.bytecode_address) else {
        return;
    };
    let target = by_data.get(input).or_else(|| {
        input
            .get(..4)
            .and_then(|selector| by_data.get(&Bytes::copy_from_slice(selector)))
    });
    let Some(&target) = target else {
        return;
    };
    let code = context
        .journaled_state
        .load_account_with_code(target)
        .ok()
        .map(|account| {
            (
                account.data.info.code_hash,
                account.data.info.code.clone().unwrap_or_default(),
            )
        });
    if let Some(code) = code {
        inputs.known_bytecode = code;
        inputs.bytecode_address = target;
    }
}
