//! The cheatcode inspector every node of a `--network` run executes blocks
//! under, and what node 0 reports of each transaction.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use alloy::primitives::{Address, B256, U256};
use forja_runtime::{
    SignedTx,
    execution::{BlockContext, BlockEvmContext, BlockInspector, ExecutionHook},
};
use revm::{
    Inspector,
    context::{BlockEnv, JournalTr},
    context_interface::result::{ExecResultAndState, ExecutionResult},
    database_interface::Database,
    interpreter::{CallInputs, CallOutcome, CreateInputs, CreateOutcome, Interpreter},
    primitives::Log,
    state::EvmState,
};

use crate::{
    artifacts::ArtifactSet,
    config::{TestConfig, TraceMode},
    executor::{CallResult, FAILED_SLOT},
    inspector::{CheatState, TestInspector, TxRecord},
    vm::CHEATCODE_ADDRESS,
};

/// What one transaction did, as node 0 executed it.
#[derive(Clone, Debug)]
pub(super) struct TxOutcome {
    /// revm's result: success with output, revert with data, or halt.
    pub result: ExecutionResult,
    /// Console output, logs, traces, gas samples, unmet expectations.
    pub record: TxRecord,
    /// Whether the `failed` flag was set at the end.
    pub failed_flag: bool,
    /// `vm.skip(true)` was called (with this reason).
    pub skipped: Option<String>,
    /// `vm.assume(false)` rejected the input.
    pub assume_rejected: bool,
}

impl TxOutcome {
    pub(super) fn into_call_result(self) -> CallResult {
        CallResult::new(self.result, self.record, self.failed_flag, None)
    }
}

/// State shared by every node's block inspectors and the runner.
struct HookShared {
    artifacts: Arc<ArtifactSet>,
    /// The node whose executions are reported.
    reporting_node: usize,
    tracing: bool,
    gas_recording: bool,
    allow_internal_expect_revert: bool,
    /// Per node: what each test contract's next transaction starts from
    /// (what its constructor and `setUp()` left).
    carried: Vec<Mutex<HashMap<Address, Carried>>>,
    /// The reporting node's results, by transaction hash.
    outcomes: Mutex<HashMap<B256, TxOutcome>>,
}

/// The cheatcode inspector, attached to every block every node executes.
#[derive(Clone)]
pub(super) struct NetworkHook {
    shared: Arc<HookShared>,
}

impl std::fmt::Debug for NetworkHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkHook")
            .field("reporting_node", &self.shared.reporting_node)
            .finish()
    }
}

impl NetworkHook {
    /// A hook for a network of `nodes` nodes; node 0 reports.
    pub(super) fn new(artifacts: Arc<ArtifactSet>, nodes: usize, config: &TestConfig) -> Self {
        Self {
            shared: Arc::new(HookShared {
                artifacts,
                reporting_node: 0,
                tracing: config.traces != TraceMode::Never,
                gas_recording: config.gas_report,
                allow_internal_expect_revert: config.allow_internal_expect_revert,
                carried: (0..nodes).map(|_| Mutex::default()).collect(),
                outcomes: Mutex::default(),
            }),
        }
    }

    /// Takes what transaction `hash` did, once node 0 executed it.
    pub(super) fn take_outcome(&self, hash: &B256) -> Option<TxOutcome> {
        self.shared
            .outcomes
            .lock()
            .expect("outcomes lock")
            .remove(hash)
    }
}

impl ExecutionHook for NetworkHook {
    fn block_inspector(&self, node: usize, _block: &BlockContext) -> Box<dyn BlockInspector> {
        Box::new(NetworkInspector {
            inner: self.fresh_inspector(node, CheatState::default()),
            shared: self.shared.clone(),
            node,
            transaction: None,
        })
    }
}

impl NetworkHook {
    fn fresh_inspector(&self, node: usize, cheats: CheatState) -> TestInspector {
        fresh_inspector(&self.shared, node, cheats)
    }
}

fn fresh_inspector(shared: &HookShared, node: usize, cheats: CheatState) -> TestInspector {
    let mut inspector = TestInspector::new(cheats, shared.artifacts.clone());
    // Only the reporting node's records are read: the others skip the work.
    let reporting = node == shared.reporting_node;
    inspector.tracing = shared.tracing && reporting;
    inspector.gas_recording = shared.gas_recording && reporting;
    inspector.allow_internal_expect_revert = shared.allow_internal_expect_revert;
    inspector
}

/// What a test contract's transaction leaves for its next one.
#[derive(Clone, Default)]
struct Carried {
    cheats: CheatState,
    environment: Environment,
}

/// The block fields and chain id cheatcodes changed (`warp`, `roll`…).
#[derive(Clone, Copy, Debug, Default)]
struct Environment {
    timestamp: Option<U256>,
    number: Option<U256>,
    basefee: Option<u64>,
    beneficiary: Option<Address>,
    difficulty: Option<U256>,
    prevrandao: Option<Option<B256>>,
    chain_id: Option<u64>,
}

impl Environment {
    /// What differs between the real environment and the one seen at the end.
    fn changed(real: &BlockEnv, real_chain_id: u64, seen: &BlockEnv, chain_id: u64) -> Self {
        fn differs<T: PartialEq + Copy>(real: T, seen: T) -> Option<T> {
            (real != seen).then_some(seen)
        }
        Self {
            timestamp: differs(real.timestamp, seen.timestamp),
            number: differs(real.number, seen.number),
            basefee: differs(real.basefee, seen.basefee),
            beneficiary: differs(real.beneficiary, seen.beneficiary),
            difficulty: differs(real.difficulty, seen.difficulty),
            prevrandao: differs(real.prevrandao, seen.prevrandao),
            chain_id: differs(real_chain_id, chain_id),
        }
    }

    fn apply(&self, block: &mut BlockEnv, chain_id: &mut u64) {
        if let Some(timestamp) = self.timestamp {
            block.timestamp = timestamp;
        }
        if let Some(number) = self.number {
            block.number = number;
        }
        if let Some(basefee) = self.basefee {
            block.basefee = basefee;
        }
        if let Some(beneficiary) = self.beneficiary {
            block.beneficiary = beneficiary;
        }
        if let Some(difficulty) = self.difficulty {
            block.difficulty = difficulty;
        }
        if let Some(prevrandao) = self.prevrandao {
            block.prevrandao = prevrandao;
        }
        if let Some(id) = self.chain_id {
            *chain_id = id;
        }
    }
}

/// The transaction being executed.
struct Current {
    /// The test contract: the callee, or the address a deployment creates.
    contract: Address,
    /// The real block environment and chain id, restored when the transaction's
    /// first frame ends.
    block: BlockEnv,
    chain_id: u64,
    /// What cheatcodes changed, as seen when the first frame ended.
    environment: Environment,
}

/// One node's inspector for one block.
struct NetworkInspector {
    inner: TestInspector,
    shared: Arc<HookShared>,
    node: usize,
    transaction: Option<Current>,
}

impl NetworkInspector {
    /// Called at the transaction's first frame.
    fn begin(&mut self, context: &mut BlockEvmContext<'_>, contract: Address) {
        let Carried {
            mut cheats,
            environment,
        } = self.shared.carried[self.node]
            .lock()
            .expect("carried lock")
            .get(&contract)
            .cloned()
            .unwrap_or_default();
        cheats.skipped = None;
        cheats.assume_rejected = false;
        self.inner = fresh_inspector(&self.shared, self.node, cheats);
        self.inner.self_accounts = [context.tx.caller, contract];
        self.transaction = Some(Current {
            contract,
            block: context.block.clone(),
            chain_id: context.cfg.chain_id,
            environment: Environment::default(),
        });
        environment.apply(&mut context.block, &mut context.cfg.chain_id);
        // ds-test's `failed` flag lives in the chain's state: a failed test
        // must not fail every later one.
        let slot = U256::from_be_bytes(FAILED_SLOT.0);
        let set = context
            .journaled_state
            .database
            .storage(CHEATCODE_ADDRESS, slot)
            .is_ok_and(|value| !value.is_zero());
        if set
            && context
                .journaled_state
                .load_account(CHEATCODE_ADDRESS)
                .is_ok()
        {
            let _ = context
                .journaled_state
                .sstore(CHEATCODE_ADDRESS, slot, U256::ZERO);
        }
    }

    /// Called when the transaction's first frame ends: cheatcodes that
    /// changed the block environment did so for this transaction only.
    fn end(&mut self, context: &mut BlockEvmContext<'_>) {
        if let Some(current) = &mut self.transaction {
            current.environment = Environment::changed(
                &current.block,
                current.chain_id,
                &context.block,
                context.cfg.chain_id,
            );
            context.block = current.block.clone();
            context.cfg.chain_id = current.chain_id;
        }
    }
}

impl<'a> Inspector<BlockEvmContext<'a>> for NetworkInspector {
    fn step(&mut self, interp: &mut Interpreter, context: &mut BlockEvmContext<'a>) {
        self.inner.step(interp, context);
    }

    fn log(&mut self, context: &mut BlockEvmContext<'a>, log: Log) {
        Inspector::<BlockEvmContext<'a>>::log(&mut self.inner, context, log);
    }

    fn call(
        &mut self,
        context: &mut BlockEvmContext<'a>,
        inputs: &mut CallInputs,
    ) -> Option<CallOutcome> {
        if context.journaled_state.depth == 0 {
            self.begin(context, inputs.target_address);
        }
        self.inner.call(context, inputs)
    }

    fn call_end(
        &mut self,
        context: &mut BlockEvmContext<'a>,
        inputs: &CallInputs,
        outcome: &mut CallOutcome,
    ) {
        self.inner.call_end(context, inputs, outcome);
        if context.journaled_state.depth == 0 {
            self.end(context);
        }
    }

    fn create(
        &mut self,
        context: &mut BlockEvmContext<'a>,
        inputs: &mut CreateInputs,
    ) -> Option<CreateOutcome> {
        if context.journaled_state.depth == 0 {
            let created = context.tx.caller.create(context.tx.nonce);
            self.begin(context, created);
        }
        self.inner.create(context, inputs)
    }

    fn create_end(
        &mut self,
        context: &mut BlockEvmContext<'a>,
        inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        self.inner.create_end(context, inputs, outcome);
        if context.journaled_state.depth == 0 {
            self.end(context);
        }
    }
}

impl BlockInspector for NetworkInspector {
    fn transaction_executed(
        &mut self,
        tx: &SignedTx,
        result: &ExecResultAndState<ExecutionResult, EvmState>,
    ) {
        let Some(current) = self.transaction.take() else {
            return;
        };
        self.inner.finish();
        let slot = U256::from_be_bytes(FAILED_SLOT.0);
        let failed_flag = result
            .state
            .get(&CHEATCODE_ADDRESS)
            .and_then(|account| account.storage.get(&slot))
            .is_some_and(|value| !value.present_value.is_zero());
        let mut inner = std::mem::replace(
            &mut self.inner,
            fresh_inspector(&self.shared, self.node, CheatState::default()),
        );
        let skipped = inner.cheats.skipped.take();
        let assume_rejected = std::mem::take(&mut inner.cheats.assume_rejected);
        self.shared.carried[self.node]
            .lock()
            .expect("carried lock")
            .insert(
                current.contract,
                Carried {
                    cheats: inner.cheats,
                    environment: current.environment,
                },
            );
        if self.node == self.shared.reporting_node {
            self.shared.outcomes.lock().expect("outcomes lock").insert(
                tx.hash,
                TxOutcome {
                    result: result.result.clone(),
                    record: inner.record,
                    failed_flag,
                    skipped,
                    assume_rejected,
                },
            );
        }
    }
}
