//! `vm.broadcastRawTransaction` and `vm.executeTransaction` in tests: the
//! signed transaction is decoded and its signer recovered with alloy's
//! types, then it runs as a transaction of its own (revm checks its chain
//! id, fees and balance) on the test's current state, and what it changed
//! is written back into the test's journal, as forge does.
//!
//! `broadcastRawTransaction` runs it as the chain would (the sender pays
//! its gas); `executeTransaction` runs it in isolation as forge 1.7.1 does:
//! no base fee, gas price zero, nonce checked, and returns its output.

use std::convert::Infallible;

use alloy::{
    consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable},
    eips::Typed2718,
    primitives::{Address, B256, Bytes, U256, hex},
    rlp::Decodable,
    sol_types::SolValue,
};
use revm::{
    Context, ExecuteEvm, MainBuilder,
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, JournalTr, TxEnv, either::Either},
    context_interface::journaled_state::account::JournaledAccountTr,
    context_interface::result::ExecutionResult,
    database_interface::Database,
    state::{AccountInfo, EvmState},
};

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The signed-transaction part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmTx {
        function broadcastRawTransaction(bytes calldata data) external;
        function executeTransaction(bytes calldata rawTx) external returns (bytes memory);
    }
}

pub(crate) use VmTx::VmTxCalls;

/// The signature of the signed-transaction cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmTxCalls::signature_by_selector(selector)
}

/// A signed transaction (legacy RLP or an EIP-2718 envelope) and its
/// signer, as revm's transaction environment.
fn decode_signed(raw: &[u8]) -> Result<TxEnv, CheatError> {
    let envelope = TxEnvelope::decode(&mut &raw[..])
        .map_err(|e| format!("failed to decode RLP-encoded transaction: {e}"))?;
    let sender = envelope
        .recover_signer()
        .map_err(|e| format!("failed to recover signer: {e}"))?;
    let authorization_list = envelope
        .authorization_list()
        .map(|list| list.iter().cloned().map(Either::Left).collect())
        .unwrap_or_default();
    Ok(TxEnv {
        tx_type: envelope.ty(),
        caller: sender,
        gas_limit: envelope.gas_limit(),
        gas_price: envelope.max_fee_per_gas(),
        kind: envelope.kind(),
        value: envelope.value(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: envelope.max_priority_fee_per_gas(),
        blob_hashes: envelope
            .blob_versioned_hashes()
            .map(<[B256]>::to_vec)
            .unwrap_or_default(),
        max_fee_per_blob_gas: envelope.max_fee_per_blob_gas().unwrap_or_default(),
        authorization_list,
    })
}

/// The test's state as a database: accounts and slots the journal holds
/// read as the journal has them now, everything else from the database
/// underneath.
struct JournalView<'a, DB> {
    state: &'a EvmState,
    db: &'a mut DB,
}

impl<DB: Database<Error = Infallible>> Database for JournalView<'_, DB> {
    type Error = Infallible;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        match self.state.get(&address) {
            Some(account) if account.is_loaded_as_not_existing() && !account.is_touched() => {
                Ok(None)
            }
            Some(account) => Ok(Some(account.info.clone())),
            None => self.db.basic(address),
        }
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Infallible> {
        let journaled = self.state.values().find_map(|account| {
            (account.info.code_hash == code_hash)
                .then(|| account.info.code.clone())
                .flatten()
        });
        match journaled {
            Some(code) => Ok(code),
            None => self.db.code_by_hash(code_hash),
        }
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Infallible> {
        match self.state.get(&address) {
            Some(account) => match account.storage.get(&index) {
                Some(slot) => Ok(slot.present_value),
                // A contract created in this test has no older storage.
                None if account.is_created() => Ok(U256::ZERO),
                None => self.db.storage(address, index),
            },
            None => self.db.storage(address, index),
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Infallible> {
        self.db.block_hash(number)
    }
}

/// What running the transaction isolated changes in its environment.
#[derive(Clone, Copy)]
enum Mode {
    /// As the chain would: the test's block and fees.
    Broadcast,
    /// forge's `executeTransaction`: no base fee, gas price zero, nonce checked.
    Isolated,
}

impl TestInspector {
    /// Applies one signed-transaction cheatcode.
    pub(crate) fn apply_tx<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        call: VmTxCalls,
    ) -> CheatResult {
        match call {
            VmTxCalls::broadcastRawTransaction(c) => {
                run_signed(ctx, &c.data, Mode::Broadcast)?;
                Ok(Bytes::new())
            }
            VmTxCalls::executeTransaction(c) => {
                let result = run_signed(ctx, &c.rawTx, Mode::Isolated)?;
                match result {
                    ExecutionResult::Success { output, .. } => {
                        Ok(Bytes::from(output.into_data().abi_encode()))
                    }
                    ExecutionResult::Revert { output, .. } => Err(format!(
                        "transaction reverted: {}",
                        hex::encode_prefixed(&output)
                    )
                    .into()),
                    ExecutionResult::Halt { reason, .. } => {
                        Err(format!("transaction halted: {reason:?}").into())
                    }
                }
            }
        }
    }
}

/// Runs the signed transaction `raw` on the test's current state and writes
/// what it changed back through the journal (so a revert of the calling
/// frame undoes it, as any other state change).
fn run_signed<DB: CheatDatabase>(
    ctx: &mut CheatContext<DB>,
    raw: &[u8],
    mode: Mode,
) -> Result<ExecutionResult, CheatError> {
    let mut tx = decode_signed(raw)?;
    let mut block: BlockEnv = ctx.block.clone();
    let mut cfg: CfgEnv = ctx.cfg.clone();
    // A signed transaction names its chain: it must be the test's.
    cfg.tx_chain_id_check = true;
    if let Mode::Isolated = mode {
        block.basefee = 0;
        tx.gas_price = 0;
        tx.gas_priority_fee = None;
        cfg.disable_nonce_check = false;
    }
    let outcome = {
        let view = JournalView {
            state: &ctx.journaled_state.inner.state,
            db: &mut ctx.journaled_state.database,
        };
        let nested: Context<BlockEnv, TxEnv, CfgEnv, _, revm::Journal<_>, ()> =
            Context::new(view, cfg.spec);
        let mut evm = nested.with_block(block).with_cfg(cfg).build_mainnet();
        evm.transact(tx).map_err(|e| e.to_string())?
    };
    for (address, account) in outcome.state {
        if !account.is_touched() {
            continue;
        }
        let journal = &mut ctx.journaled_state;
        let current = journal
            .load_account_with_code(address)
            .map_err(|e| e.to_string())?
            .data
            .info
            .code_hash;
        if current != account.info.code_hash {
            journal.set_code(address, account.info.code.clone().unwrap_or_default());
        }
        let mut loaded = journal
            .load_account_mut(address)
            .map_err(|e| e.to_string())?;
        loaded.data.set_balance(account.info.balance);
        loaded.data.set_nonce(account.info.nonce);
        for (slot, value) in account.storage {
            if value.is_changed() {
                journal
                    .sstore(address, slot, value.present_value)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(outcome.result)
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxLegacy},
        eips::Encodable2718,
        network::TxSignerSync,
        primitives::{Signature, TxKind, address},
        signers::local::PrivateKeySigner,
    };

    use super::*;

    /// The fixtures' key: `vm.addr(0xf0f0)`.
    fn key() -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::from(U256::from(0xf0f0))).unwrap()
    }

    fn raw<T: SignableTransaction<Signature>>(mut tx: T) -> Vec<u8>
    where
        TxEnvelope: From<alloy::consensus::Signed<T>>,
    {
        let signature = key().sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
    }

    /// A legacy transfer of 17 wei on chain 31337 and an EIP-1559 call of
    /// `increment()` on chain 31337: the raw transactions in
    /// `tests/fixtures/cheats/test/SignedTx.t.sol`.
    fn fixture_transactions() -> (Vec<u8>, Vec<u8>) {
        let legacy = raw(TxLegacy {
            chain_id: Some(31337),
            nonce: 0,
            gas_price: 100,
            gas_limit: 100_000,
            to: TxKind::Call(address!("0x00000000000000000000000000000000000b0b00")),
            value: U256::from(17),
            input: Bytes::new(),
        });
        let dynamic = raw(TxEip1559 {
            chain_id: 31337,
            nonce: 1,
            gas_limit: 100_000,
            max_fee_per_gas: 100,
            max_priority_fee_per_gas: 10,
            to: TxKind::Call(address!("0x0000000000000000000000000000000000c0c0c0")),
            value: U256::ZERO,
            input: Bytes::from_static(&[0xd0, 0x9d, 0xe0, 0x8a]),
            access_list: Default::default(),
        });
        (legacy, dynamic)
    }

    #[test]
    fn decodes_legacy_and_typed_transactions_with_their_signer() {
        let (legacy, dynamic) = fixture_transactions();
        println!("legacy  {}", hex::encode(&legacy));
        println!("eip1559 {}", hex::encode(&dynamic));
        let sender = key().address();
        let tx = decode_signed(&legacy).unwrap();
        assert_eq!((tx.caller, tx.tx_type, tx.gas_price), (sender, 0, 100));
        assert_eq!((tx.chain_id, tx.value), (Some(31337), U256::from(17)));
        let tx = decode_signed(&dynamic).unwrap();
        assert_eq!((tx.caller, tx.tx_type, tx.nonce), (sender, 2, 1));
        assert_eq!((tx.gas_price, tx.gas_priority_fee), (100, Some(10)));
    }

    #[test]
    fn refuses_what_is_not_a_signed_transaction() {
        let error = decode_signed(&[0x01, 0x02]).unwrap_err().to_string();
        assert!(
            error.starts_with("failed to decode RLP-encoded transaction"),
            "{error}"
        );
        // A legacy transaction whose signature was cut off.
        let (legacy, _) = fixture_transactions();
        let error = decode_signed(&legacy[..legacy.len() - 40])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("failed to decode RLP-encoded transaction"),
            "{error}"
        );
    }
}
