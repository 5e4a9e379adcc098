//! `vm.loadAllocs` (accounts from a genesis `alloc` JSON file, or a whole
//! genesis file) and `vm.cloneAccount`, as forge 1.7.1 applies them: each
//! account's balance and nonce are set, its code only when given, and the
//! given storage slots written.

use std::collections::BTreeMap;

use alloy::{
    genesis::{Genesis, GenesisAccount},
    primitives::{Address, B256, Bytes, U256},
};
use revm::{
    bytecode::Bytecode, context::JournalTr,
    context_interface::journaled_state::account::JournaledAccountTr,
};

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The account-loading part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmAllocs {
        function loadAllocs(string calldata pathToAllocsJson) external;
        function cloneAccount(address source, address target) external;
    }
}

pub(crate) use VmAllocs::VmAllocsCalls;

/// The signature of the account-loading cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmAllocsCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies one account-loading cheatcode.
    pub(crate) fn apply_allocs<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        call: VmAllocsCalls,
    ) -> CheatResult {
        match call {
            VmAllocsCalls::loadAllocs(c) => {
                let path = self.project_path(&c.pathToAllocsJson)?;
                if !path.exists() {
                    return Err(
                        format!("allocs file does not exist: {}", c.pathToAllocsJson).into(),
                    );
                }
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("vm.loadAllocs: {}: {e}", path.display()))?;
                // An `alloc` object, or a genesis file holding one.
                let allocs: BTreeMap<Address, GenesisAccount> = match serde_json::from_str(&text) {
                    Ok(allocs) => allocs,
                    Err(_) => {
                        serde_json::from_str::<Genesis>(&text)
                            .map_err(|e| format!("failed to load allocs: {}: {e}", path.display()))?
                            .alloc
                    }
                };
                for (address, account) in &allocs {
                    apply_account(ctx, *address, account)?;
                }
            }
            VmAllocsCalls::cloneAccount(c) => {
                // As forge: the source's code, balance, nonce and the slots
                // this transaction has loaded of it.
                let source = &ctx
                    .journaled_state
                    .load_account_with_code(c.source)
                    .map_err(|e| e.to_string())?
                    .data;
                let account = GenesisAccount {
                    nonce: Some(source.info.nonce),
                    balance: source.info.balance,
                    code: source.info.code.as_ref().map(Bytecode::original_bytes),
                    storage: Some(
                        source
                            .storage
                            .iter()
                            .map(|(slot, value)| {
                                (B256::from(*slot), B256::from(value.present_value))
                            })
                            .collect(),
                    ),
                    private_key: None,
                };
                apply_account(ctx, c.target, &account)?;
            }
        }
        Ok(Bytes::new())
    }
}

/// Writes `account` at `address` through the journal, so it persists past
/// `setUp` and a revert of the calling frame undoes it.
fn apply_account<DB: CheatDatabase>(
    ctx: &mut CheatContext<DB>,
    address: Address,
    account: &GenesisAccount,
) -> Result<(), CheatError> {
    let journal = &mut ctx.journaled_state;
    journal
        .load_account_with_code(address)
        .map_err(|e| e.to_string())?;
    if let Some(code) = &account.code {
        journal.set_code(address, Bytecode::new_raw(code.clone()));
    }
    let mut loaded = journal
        .load_account_mut(address)
        .map_err(|e| e.to_string())?;
    loaded.data.set_balance(account.balance);
    loaded.data.set_nonce(account.nonce.unwrap_or_default());
    for (slot, value) in account.storage.iter().flatten() {
        journal
            .sstore(
                address,
                U256::from_be_bytes(slot.0),
                U256::from_be_bytes(value.0),
            )
            .map_err(|e| e.to_string())?;
    }
    journal.touch_account(address);
    Ok(())
}
