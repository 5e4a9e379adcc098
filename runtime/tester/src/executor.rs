//! Executes transactions of a test against an in-memory state.

use std::{
    cell::RefCell,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::Arc,
};

use alloy::primitives::{Address, B256, Bytes, U256};
use revm::{
    Context, InspectCommitEvm, InspectEvm, MainBuilder,
    bytecode::Bytecode,
    context::{BlockEnv, TxEnv},
    context_interface::result::{ExecutionResult, Output},
    database::CacheDB,
    database_interface::DatabaseRef,
    handler::MainnetEvm,
    primitives::{TxKind, hardfork::SpecId},
    state::{AccountInfo, EvmState},
};

use crate::{
    artifacts::ArtifactSet,
    backend::{Backend, EvmContext, TestDb},
    coverage::{CoverageCollector, HitMaps},
    error::TesterError,
    inspector::{CheatState, TestInspector, TxRecord},
    vm::{
        CHEATCODE_ADDRESS, CONSOLE_ADDRESS, CREATE2_DEPLOYER, CREATE2_DEPLOYER_RUNTIME_CODE,
        DEFAULT_SENDER,
    },
};

/// Gas limit of each test transaction.
pub(crate) const TX_GAS_LIMIT: u64 = 1 << 30;
/// Balance given to the default sender and the test contract.
pub(crate) const INITIAL_BALANCE: U256 = U256::from_limbs([0, 0, 0, 1 << 32]);
/// Chain id tests see by default (Foundry's).
pub(crate) const DEFAULT_CHAIN_ID: u64 = 31337;
/// Storage slot of the global failure flag on the cheatcode address (`bytes32("failed")`).
pub(crate) const FAILED_SLOT: B256 =
    B256::new(*b"failed\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");

/// What a transaction did.
#[derive(Clone, Debug)]
pub(crate) struct CallResult {
    /// Whether the call succeeded (no revert, no halt, no unmet expectation).
    pub success: bool,
    /// Return or revert data.
    pub output: Bytes,
    /// Why the EVM halted (out of gas, invalid opcode…), if it did.
    pub halt: Option<String>,
    /// Gas used by the call itself (without the intrinsic transaction cost).
    pub gas: u64,
    /// Address created by a deployment.
    pub created: Option<Address>,
    /// Console output, logs, traces, gas samples, expectation failures.
    pub record: TxRecord,
    /// Whether the global `failed` flag is set after the call.
    pub failed_flag: bool,
    /// State changes (only for calls that were not committed).
    pub state: Option<EvmState>,
}

impl CallResult {
    /// What revm's `result` and the inspector's `record` say about a call.
    pub(crate) fn new(
        result: ExecutionResult,
        record: TxRecord,
        failed_flag: bool,
        state: Option<EvmState>,
    ) -> Self {
        let (success, output, halt, created) = match result {
            ExecutionResult::Success { output, .. } => match output {
                Output::Call(out) => (true, out, None, None),
                Output::Create(out, address) => (true, out, None, address),
            },
            ExecutionResult::Revert { output, .. } => (false, output, None, None),
            ExecutionResult::Halt { reason, .. } => {
                (false, Bytes::new(), Some(format!("{reason:?}")), None)
            }
        };
        Self {
            // An unmet expectation fails a call that itself succeeded.
            success: success && record.failures.is_empty(),
            output,
            halt,
            gas: record.top_gas,
            created,
            record,
            failed_flag,
            state,
        }
    }
}

/// Transaction options.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CallOptions {
    /// Keep the state changes.
    pub commit: bool,
    /// Record a call trace.
    pub tracing: bool,
    /// Record gas per call.
    pub gas_recording: bool,
}

/// The EVM the executor runs transactions in, between transactions an empty shell.
type TestEvm = MainnetEvm<EvmContext, TestInspector>;

thread_local! {
    /// One EVM per thread, reused by every transaction run there. Building one
    /// allocates eight 32 KiB interpreter stacks, its instruction table and
    /// precompiles: that was 8 of a fuzz run's ~120 allocations but 260 of its
    /// 330 KB, and glibc handed the memory back to the kernel after each run.
    static SPARE_EVM: RefCell<Option<Box<TestEvm>>> = const { RefCell::new(None) };
}

/// A fresh EVM with the settings every test transaction shares.
fn new_evm(artifacts: Arc<ArtifactSet>) -> TestEvm {
    let mut ctx: EvmContext = Context::new(TestDb::default(), SpecId::PRAGUE);
    ctx.modify_cfg(|cfg| {
        cfg.disable_nonce_check = true;
        cfg.limit_contract_code_size = Some(usize::MAX);
        cfg.limit_contract_initcode_size = Some(usize::MAX);
        cfg.tx_chain_id_check = false;
    });
    ctx.build_mainnet_with_inspector(TestInspector::new(CheatState::default(), artifacts))
}

/// An EVM with a state, a block environment and cheatcode state.
#[derive(Clone, Debug)]
pub(crate) struct Executor {
    /// The state.
    pub db: TestDb,
    /// The block environment (changed by `warp`, `roll`…).
    pub block: BlockEnv,
    /// The chain id (changed by `chainId`).
    pub chain_id: u64,
    /// Cheatcode state carried from one transaction to the next.
    pub cheats: CheatState,
    /// Contracts, for `getCode` and naming.
    pub artifacts: Arc<ArtifactSet>,
    /// See [`TestInspector::allow_internal_expect_revert`].
    pub allow_internal_expect_revert: bool,
    /// Where each transaction's instruction hits go (`forja coverage`).
    pub coverage: Option<Arc<CoverageCollector>>,
}

impl Executor {
    /// A fresh chain over `backend`: funded default sender, and placeholder
    /// code at the cheatcode and console addresses so `extcodesize` checks pass.
    pub(crate) fn new(backend: Backend, artifacts: Arc<ArtifactSet>) -> Self {
        let mut db = CacheDB::new(backend);
        db.insert_account_info(
            DEFAULT_SENDER,
            AccountInfo {
                balance: INITIAL_BALANCE,
                ..Default::default()
            },
        );
        for address in [CHEATCODE_ADDRESS, CONSOLE_ADDRESS] {
            let code = Bytecode::new_raw(Bytes::from_static(&[0x00]));
            db.insert_account_info(
                address,
                AccountInfo {
                    code_hash: code.hash_slow(),
                    code: Some(code),
                    ..Default::default()
                },
            );
        }
        // The deterministic deployment proxy, present in every forge test
        // (forge deploys it before setUp): CREATE2 helpers and tests that
        // call it find the same code there.
        let deployer = Bytecode::new_raw(Bytes::from_static(&CREATE2_DEPLOYER_RUNTIME_CODE));
        db.insert_account_info(
            CREATE2_DEPLOYER,
            AccountInfo {
                nonce: 1,
                code_hash: deployer.hash_slow(),
                code: Some(deployer),
                ..Default::default()
            },
        );
        let block = BlockEnv {
            number: U256::from(1),
            timestamp: U256::from(1),
            gas_limit: u64::MAX,
            ..Default::default()
        };
        Self {
            db,
            block,
            chain_id: DEFAULT_CHAIN_ID,
            cheats: CheatState::default(),
            artifacts,
            allow_internal_expect_revert: false,
            coverage: None,
        }
    }

    /// Sets an account's balance directly.
    pub(crate) fn set_balance(&mut self, address: Address, balance: U256) {
        let mut info = self
            .db
            .basic_ref(address)
            .ok()
            .flatten()
            .unwrap_or_default();
        info.balance = balance;
        self.db.insert_account_info(address, info);
    }

    /// Deploys `code` at the address `from`'s nonce gives, or at `at` by
    /// deploying normally and moving the result there (Foundry places the
    /// test contract at a fixed address).
    pub(crate) fn deploy(
        &mut self,
        from: Address,
        code: Bytes,
        value: U256,
        options: CallOptions,
    ) -> Result<CallResult, TesterError> {
        self.transact(
            from,
            TxKind::Create,
            code,
            value,
            CallOptions {
                commit: true,
                ..options
            },
        )
    }

    /// Calls `to` with `data`.
    pub(crate) fn call(
        &mut self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
        options: CallOptions,
    ) -> Result<CallResult, TesterError> {
        self.transact(from, TxKind::Call(to), data, value, options)
    }

    fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Bytes,
        value: U256,
        options: CallOptions,
    ) -> Result<CallResult, TesterError> {
        let mut evm = SPARE_EVM
            .with_borrow_mut(Option::take)
            .unwrap_or_else(|| Box::new(new_evm(self.artifacts.clone())));
        let ctx = &mut evm.ctx;
        ctx.journaled_state.database = std::mem::take(&mut self.db);
        // Everything a cheatcode may have changed in the last transaction is set again.
        ctx.modify_cfg(|cfg| cfg.chain_id = self.chain_id);
        ctx.block = self.block.clone();
        // Tests pay no gas price: the base fee is held back from revm's
        // check and restored for the code (see `TestInspector::held_basefee`).
        let basefee = std::mem::take(&mut ctx.block.basefee);
        let nonce = self.nonce_of(ctx, from);
        let tx = TxEnv {
            caller: from,
            kind,
            data,
            value,
            gas_limit: TX_GAS_LIMIT,
            gas_price: 0,
            nonce,
            chain_id: Some(self.chain_id),
            ..Default::default()
        };
        let mut inspector = TestInspector::new(self.cheats.clone(), self.artifacts.clone());
        inspector.tracing = options.tracing;
        inspector.gas_recording = options.gas_recording;
        inspector.allow_internal_expect_revert = self.allow_internal_expect_revert;
        inspector.held_basefee = Some(basefee);
        inspector.coverage = self.coverage.as_ref().map(|_| HitMaps::default());
        evm.inspector = inspector;
        // A panic in revm or a cheatcode is re-raised naming what was running
        // (the runner fails that test alone with this message); the EVM,
        // whose state is unknown, is dropped rather than reused.
        let run = catch_unwind(AssertUnwindSafe(|| {
            if options.commit {
                (evm.inspect_tx_commit(tx), None)
            } else {
                match evm.inspect_tx(tx) {
                    Ok(r) => (Ok(r.result), Some(r.state)),
                    Err(e) => (Err(e), None),
                }
            }
        }));
        let (result, state) = match run {
            Ok(run) => run,
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                let message = match evm.inspector.panic_site() {
                    Some(site) => format!("{message} ({site})"),
                    None => message,
                };
                resume_unwind(Box::new(message))
            }
        };
        let mut inspector = std::mem::replace(
            &mut evm.inspector,
            TestInspector::new(CheatState::default(), self.artifacts.clone()),
        );
        let mut block = evm.ctx.block.clone();
        if let Some(basefee) = inspector.held_basefee {
            block.basefee = basefee;
        }
        let chain_id = evm.ctx.cfg.chain_id;
        self.db = std::mem::take(&mut evm.ctx.journaled_state.database);
        let result = result.map_err(|e| TesterError::Evm(format!("{e:?}")))?;
        // Only an EVM whose transaction ran to its end is known to be clean.
        SPARE_EVM.with_borrow_mut(|spare| *spare = Some(evm));
        inspector.finish();
        if let (Some(collector), Some(hits)) = (&self.coverage, inspector.coverage.take()) {
            collector.add(hits);
        }

        if options.commit {
            self.block = block;
            self.chain_id = chain_id;
            self.cheats = std::mem::take(&mut inspector.cheats);
        } else {
            // Keep what later transactions of the same test should see.
            self.cheats.assume_rejected = inspector.cheats.assume_rejected;
            self.cheats.skipped = inspector.cheats.skipped.clone();
        }
        let failed_flag = self.failed_flag(state.as_ref());
        let record = std::mem::take(&mut inspector.record);
        Ok(CallResult::new(result, record, failed_flag, state))
    }

    fn nonce_of(&self, ctx: &EvmContext, address: Address) -> u64 {
        ctx.journaled_state
            .database
            .basic_ref(address)
            .ok()
            .flatten()
            .map(|a| a.nonce)
            .unwrap_or(0)
    }

    /// Reads the global failure flag, looking at uncommitted changes first.
    fn failed_flag(&self, state: Option<&EvmState>) -> bool {
        let key = U256::from_be_bytes(FAILED_SLOT.0);
        if let Some(value) = state
            .and_then(|s| s.get(&CHEATCODE_ADDRESS))
            .and_then(|a| a.storage.get(&key))
        {
            return !value.present_value.is_zero();
        }
        self.db
            .storage_ref(CHEATCODE_ADDRESS, key)
            .is_ok_and(|v| !v.is_zero())
    }

    /// Code deployed at `address`.
    pub(crate) fn code_at(&self, address: Address) -> Option<Bytes> {
        let info = self.db.basic_ref(address).ok().flatten()?;
        let code = match info.code {
            Some(code) => code,
            None => self.db.code_by_hash_ref(info.code_hash).ok()?,
        };
        let bytes = code.original_bytes();
        (!bytes.is_empty()).then_some(bytes)
    }

    /// Every account with code (for the fuzz dictionary and naming).
    pub(crate) fn contracts(&self) -> Vec<(Address, Bytes)> {
        let mut out: Vec<(Address, Bytes)> = self
            .db
            .cache
            .accounts
            .keys()
            .filter(|a| **a != CHEATCODE_ADDRESS && **a != CONSOLE_ADDRESS)
            .filter_map(|a| self.code_at(*a).map(|c| (*a, c)))
            .collect();
        out.sort_by_key(|(a, _)| *a);
        out
    }

    /// Storage values of every account (for the fuzz dictionary).
    pub(crate) fn storage_values(&self) -> Vec<U256> {
        self.db
            .cache
            .accounts
            .values()
            .flat_map(|a| a.storage.iter().flat_map(|(k, v)| [*k, *v]))
            .collect()
    }
}

/// The message a panic was raised with.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}
