//! `forja test --network`: the same tests, run as real transactions on an
//! in-process forja network (QBFT validators, permissioning on).
//!
//! Every node executes every block under a [`NetworkHook`] inspector that
//! implements the cheatcodes, so forja-std's and forge-std's assertions,
//! `vm.prank`, `vm.deal`, `vm.expectRevert`… work inside each transaction.
//! Cheatcodes are deterministic, so every validator reaches the same state
//! root and consensus agrees as usual. Node 0 reports what each transaction
//! did (revert data, logs, `console.log`, traces) to the runner.
//!
//! Semantics that differ from the in-memory run (there is one shared chain
//! and no state snapshots on it):
//! - each test function runs on its own deployment of the test contract
//!   (deployment, `setUp()` and the test are three signed transactions from
//!   dev account 0); the cheatcode state `setUp()` leaves (pranks, labels,
//!   permissioning levels…) carries into the test, as in memory;
//! - `warp`, `roll`, `fee`, `chainId`, `coinbase`… change what the EVM sees,
//!   never the real block: from the call on for the rest of the
//!   transaction, and, when made in the constructor or `setUp()`, in the
//!   test too (as in memory);
//! - `deal`, `etch`, `store`, `setNonce` change the chain's real state;
//! - `snapshot`/`revertTo` (and the `*State` names) fail the test;
//! - forja's permissioning cheatcodes keep modelling allowlists for calls
//!   made inside a test (pranked senders), and never change the network's
//!   lists: those are node configuration, which a transaction executed on
//!   every validator must not change. The network's real rules apply to
//!   every transaction the runner sends;
//! - fuzz tests run a bounded number of inputs (each one a deployment,
//!   `setUp()` and call), without shrinking; invariant tests are skipped.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEnvelope, TxLegacy},
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier},
    json_abi::Function,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, hex},
    signers::local::PrivateKeySigner,
};
use forja_runtime::{
    Network, NetworkConfig, NodeHandle, SignedTx, StartOptions, StorageMode,
    config::GenesisAccountConfig,
    execution::{BlockContext, BlockEvmContext, BlockInspector, ExecutionHook},
};
use rand::{SeedableRng, rngs::StdRng};
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
    artifacts::{ArtifactSet, ContractArtifact},
    config::{TestConfig, TraceMode},
    decode::format_value,
    discovery::{TestShape, expects_failure, setup_function, test_contracts, test_functions},
    error::TesterError,
    executor::{CallResult, FAILED_SLOT},
    fuzz::{Dictionary, generate},
    inspector::{CheatState, TestInspector},
    outcome::{Verdict, collect_gas, failure_reason, render_trace, suite_failure},
    report::{
        Counterexample, GasSamples, SuiteResult, TestKind, TestResult, TestRunReport, TestStatus,
    },
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS},
};

/// Fuzz inputs per fuzz test with `--network` unless `--fuzz-runs` asks for fewer.
pub const DEFAULT_NETWORK_FUZZ_RUNS: u32 = 32;

/// How long the runner waits for a transaction to be committed before it
/// reports that the network stopped making blocks.
pub const INCLUSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Transactions in flight at once (below the pool's nonce-gap bound).
const MAX_IN_FLIGHT: usize = 512;

/// Where and how `--network` runs.
#[derive(Clone, Debug)]
pub struct NetworkTestOptions {
    /// The network definition (see [`default_network`] and [`prepare_network`]).
    pub network: NetworkConfig,
    /// Most fuzz inputs per fuzz test.
    pub fuzz_runs: u32,
    /// Which dev account sends the tests' transactions.
    pub sender: usize,
}

impl Default for NetworkTestOptions {
    fn default() -> Self {
        Self {
            network: default_network(),
            fuzz_runs: DEFAULT_NETWORK_FUZZ_RUNS,
            sender: 0,
        }
    }
}

/// The network tests run on when no definition is given: 4 QBFT validators,
/// blocks as soon as a transaction is pending, permissioning on with dev
/// account 0 (the tests' sender) as the only admin.
pub fn default_network() -> NetworkConfig {
    let mut config = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    config.nodes.validators = 4;
    config.permissioning.enabled = true;
    if let Some(sender) = config
        .dev_accounts()
        .ok()
        .and_then(|a| a.into_iter().next())
    {
        config.permissioning.admins = vec![sender.address()];
    }
    config
}

/// Makes a network definition fit for a test run without changing the rules
/// contracts run under (hardfork, chain id, gas limit, allowlists): blocks as
/// soon as a transaction is pending, whatever block period the definition
/// sets, and placeholder code at the cheatcode and console addresses so
/// Solidity's `extcodesize` checks before calls to them pass.
pub fn prepare_network(mut config: NetworkConfig) -> NetworkConfig {
    config.consensus.block_period_seconds = 0;
    for transition in &mut config.consensus.transitions {
        if transition.block_period_seconds.is_some() {
            transition.block_period_seconds = Some(0);
        }
    }
    for address in [CHEATCODE_ADDRESS, CONSOLE_ADDRESS] {
        if !config.accounts.iter().any(|a| a.address == address) {
            config.accounts.push(GenesisAccountConfig {
                address,
                balance: U256::ZERO,
                code: Some(Bytes::from_static(&[0x00])),
                storage: Default::default(),
                nonce: 0,
            });
        }
    }
    config
}

/// What one transaction did, as node 0 executed it.
#[derive(Clone, Debug)]
pub struct TxOutcome {
    /// revm's result: success with output, revert with data, or halt.
    pub result: ExecutionResult,
    /// Console output, logs, traces, gas samples, unmet expectations.
    pub record: crate::inspector::TxRecord,
    /// Whether the `failed` flag was set at the end.
    pub failed_flag: bool,
    /// `vm.skip(true)` was called (with this reason).
    pub skipped: Option<String>,
    /// `vm.assume(false)` rejected the input.
    pub assume_rejected: bool,
}

impl TxOutcome {
    fn into_call_result(self) -> CallResult {
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
pub struct NetworkHook {
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
    pub fn new(artifacts: Arc<ArtifactSet>, nodes: usize, config: &TestConfig) -> Self {
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
    pub fn take_outcome(&self, hash: &B256) -> Option<TxOutcome> {
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

/// A finished `--network` run: the report and the network it ran on (still
/// running, so its blocks and receipts can be inspected; it stops when the
/// last handle is dropped).
#[derive(Debug)]
pub struct NetworkRun {
    /// Results, in the in-memory run's format.
    pub report: TestRunReport,
    /// The network.
    pub network: Network,
    /// The account that sent every transaction.
    pub sender: Address,
    /// Every transaction the run sent, in order.
    pub transactions: Vec<B256>,
}

/// Runs the selected tests as transactions on a network started from
/// `options` (see the module documentation for what differs from memory).
pub fn run_tests_on_network(
    artifacts: Arc<ArtifactSet>,
    config: &TestConfig,
    options: NetworkTestOptions,
    progress: &(dyn Fn(&SuiteResult) + Sync),
) -> Result<NetworkRun, TesterError> {
    let started = Instant::now();
    let network_config = prepare_network(options.network);
    let signer = network_config
        .dev_accounts()
        .map_err(|e| TesterError::Network(e.to_string()))?
        .into_iter()
        .nth(options.sender)
        .ok_or_else(|| {
            TesterError::Network(format!(
                "the network definition has no dev account {} to send the tests' transactions \
                 (raise [dev_accounts] count)",
                options.sender
            ))
        })?;
    let nodes = network_config.nodes.validators + network_config.nodes.regular;
    let hook = NetworkHook::new(artifacts.clone(), nodes, config);
    let spec = network_config.spec();
    let network = Network::start_with(
        network_config,
        StorageMode::InMemory,
        StartOptions {
            execution_hook: Some(Arc::new(hook.clone())),
        },
    )
    .map_err(|e| TesterError::Network(format!("the network did not start: {e}")))?;
    let node = network.node(0);
    let mut chain = Chain {
        sender: signer.address(),
        nonce: node.next_nonce(signer.address()),
        signer,
        node,
        hook,
        chain_id: spec.chain_id,
        gas_price: spec.min_gas_price,
        gas_limit: spec.block_gas_limit.min(crate::executor::TX_GAS_LIMIT),
        transactions: Vec::new(),
    };
    let mut suites = Vec::new();
    let mut gas = GasSamples::default();
    for contract in test_contracts(&artifacts, config) {
        let mut suite = SuiteOnNetwork {
            artifacts: &artifacts,
            contract,
            config,
            fuzz_runs: options.fuzz_runs.min(config.fuzz_runs),
            gas: GasSamples::default(),
            code_names: HashMap::new(),
        };
        let result = suite.run(&mut chain)?;
        progress(&result);
        gas.merge(suite.gas);
        suites.push(result);
    }
    let report = TestRunReport {
        suites,
        duration: started.elapsed(),
        gas_report: config.gas_report.then(|| gas.report()),
    };
    Ok(NetworkRun {
        report,
        network,
        sender: chain.sender,
        transactions: chain.transactions,
    })
}

/// The runner's side of the network: signing, nonces, waiting for results.
struct Chain {
    signer: PrivateKeySigner,
    sender: Address,
    nonce: u64,
    node: NodeHandle,
    hook: NetworkHook,
    chain_id: u64,
    gas_price: u128,
    gas_limit: u64,
    transactions: Vec<B256>,
}

impl Chain {
    /// Signs and submits a transaction; the network's refusal (its
    /// permissioning, above all) comes back as the error, and takes no nonce.
    fn submit(&mut self, to: TxKind, input: Bytes) -> Result<B256, String> {
        let mut tx = TxLegacy {
            chain_id: Some(self.chain_id),
            nonce: self.nonce,
            gas_price: self.gas_price,
            gas_limit: self.gas_limit,
            to,
            value: U256::ZERO,
            input,
        };
        let signature = self
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| format!("signing failed: {e}"))?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let hash = self
            .node
            .submit_transaction(envelope)
            .map_err(|e| e.to_string())?;
        self.nonce += 1;
        self.transactions.push(hash);
        Ok(hash)
    }

    /// Waits until `hash` is committed, then returns what it did.
    fn outcome(&self, hash: B256, what: &str) -> Result<TxOutcome, TesterError> {
        let deadline = Instant::now() + INCLUSION_TIMEOUT;
        while self.node.receipt(hash).is_none() {
            if Instant::now() > deadline {
                return Err(TesterError::Network(format!(
                    "{what} (transaction {hash}) was not committed within {} s; the network's head \
                     is block {}",
                    INCLUSION_TIMEOUT.as_secs(),
                    self.node.block_number()
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.hook.take_outcome(&hash).ok_or_else(|| {
            TesterError::Network(format!(
                "{what} (transaction {hash}) was committed but node 0 reported no execution"
            ))
        })
    }

    /// Waits for an instance's transactions and drops their results.
    fn discard(&self, instance: &Instance) -> Result<(), TesterError> {
        for hash in [instance.deploy]
            .into_iter()
            .chain(instance.setup)
            .chain([instance.call])
        {
            self.outcome(hash, "a transaction of an abandoned test")?;
        }
        Ok(())
    }
}

/// A test contract deployed for one test: its transactions.
struct Instance {
    deploy: B256,
    setup: Option<B256>,
    call: B256,
}

/// What a test function needs run.
enum Planned {
    Unit(Instance),
    Fuzz(Vec<(Vec<DynSolValue>, Instance)>),
    Refused(TestResult),
}

struct SuiteOnNetwork<'a> {
    artifacts: &'a Arc<ArtifactSet>,
    contract: &'a ContractArtifact,
    config: &'a TestConfig,
    fuzz_runs: u32,
    gas: GasSamples,
    code_names: HashMap<B256, Option<String>>,
}

impl SuiteOnNetwork<'_> {
    fn run(&mut self, chain: &mut Chain) -> Result<SuiteResult, TesterError> {
        let started = Instant::now();
        let contract = self.contract;
        if !contract.link_references.is_empty() {
            let libraries: Vec<&str> = contract
                .link_references
                .keys()
                .map(String::as_str)
                .collect();
            let reason = format!(
                "{} links libraries ({}), which forja test --network does not deploy yet",
                contract.name,
                libraries.join(", ")
            );
            return Ok(suite_failure(
                contract,
                "setUp()",
                reason,
                started.elapsed(),
            ));
        }
        let functions = test_functions(contract, self.config);

        // Everything is submitted first (the deployment address follows from
        // the nonce), so blocks carry many transactions; results are read after.
        let mut planned = Vec::new();
        let mut in_flight = VecDeque::new();
        for function in &functions {
            let plan = match self.plan(chain, function, &mut in_flight) {
                Ok(plan) => plan,
                Err(refusal) => {
                    // Earlier instances' transactions are in flight: let them land.
                    for (_, plan) in planned {
                        self.discard(chain, plan)?;
                    }
                    return Ok(suite_failure(
                        contract,
                        "setUp()",
                        refusal,
                        started.elapsed(),
                    ));
                }
            };
            planned.push((*function, plan));
        }
        let mut tests = Vec::new();
        let mut planned = planned.into_iter();
        while let Some((function, plan)) = planned.next() {
            let test_started = Instant::now();
            let evaluated = match plan {
                Planned::Refused(result) => Ok(result),
                Planned::Unit(instance) => {
                    self.evaluate_unit(chain, function, instance, started)?
                }
                Planned::Fuzz(runs) => self.evaluate_fuzz(chain, function, runs, started)?,
            };
            match evaluated {
                Ok(mut result) => {
                    result.duration = test_started.elapsed();
                    tests.push(result);
                }
                Err(suite) => {
                    for (_, rest) in planned {
                        self.discard(chain, rest)?;
                    }
                    return Ok(suite);
                }
            }
        }
        Ok(SuiteResult {
            contract: contract.qualified_name(),
            name: contract.name.clone(),
            source: contract.source.clone(),
            tests,
            duration: started.elapsed(),
        })
    }

    /// Submits a deployment, `setUp()` and the call `data` to the new contract.
    fn submit_instance(
        &self,
        chain: &mut Chain,
        data: Bytes,
        in_flight: &mut VecDeque<B256>,
    ) -> Result<Instance, String> {
        // Bound what is in flight: the pool refuses nonces too far ahead.
        while in_flight.len() + 3 > MAX_IN_FLIGHT {
            let Some(hash) = in_flight.pop_front() else {
                break;
            };
            let deadline = Instant::now() + INCLUSION_TIMEOUT;
            while chain.node.receipt(hash).is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let contract = self.contract;
        let address = chain.sender.create(chain.nonce);
        let deploy = chain
            .submit(TxKind::Create, contract.bytecode.clone())
            .map_err(|e| {
                format!(
                    "the network refused the deployment of {} from {}: {e}",
                    contract.name, chain.sender
                )
            })?;
        let setup = match setup_function(contract) {
            Some(setup) => Some(
                chain
                    .submit(
                        TxKind::Call(address),
                        Bytes::from(setup.selector().to_vec()),
                    )
                    .map_err(|e| {
                        format!(
                            "the network refused {}.setUp() from {}: {e}",
                            contract.name, chain.sender
                        )
                    })?,
            ),
            None => None,
        };
        let call = chain.submit(TxKind::Call(address), data).map_err(|e| {
            format!(
                "the network refused a call to {} from {}: {e}",
                contract.name, chain.sender
            )
        })?;
        in_flight.extend([deploy].into_iter().chain(setup).chain([call]));
        Ok(Instance {
            deploy,
            setup,
            call,
        })
    }

    fn plan(
        &self,
        chain: &mut Chain,
        function: &Function,
        in_flight: &mut VecDeque<B256>,
    ) -> Result<Planned, String> {
        if TestShape::of(function) == TestShape::Invariant {
            return Ok(Planned::Refused(TestResult {
                signature: function.signature(),
                status: TestStatus::Skip,
                reason: Some(
                    "invariant tests do not run with --network (they need state snapshots)".into(),
                ),
                kind: TestKind::Invariant {
                    runs: 0,
                    calls: 0,
                    reverts: 0,
                },
                counterexample: None,
                logs: vec![],
                trace: None,
                duration: Duration::ZERO,
                gas_snapshots: Default::default(),
            }));
        }
        if TestShape::of(function) == TestShape::Unit {
            let data = Bytes::from(function.selector().to_vec());
            return Ok(Planned::Unit(self.submit_instance(chain, data, in_flight)?));
        }
        let types: Result<Vec<DynSolType>, _> =
            function.inputs.iter().map(|p| p.resolve()).collect();
        let types = match types {
            Ok(types) => types,
            Err(e) => {
                return Ok(Planned::Refused(TestResult {
                    signature: function.signature(),
                    status: TestStatus::Fail,
                    reason: Some(format!(
                        "cannot fuzz parameters of {}: {e}",
                        function.signature()
                    )),
                    kind: TestKind::fuzz(0, &mut []),
                    counterexample: None,
                    logs: vec![],
                    trace: None,
                    duration: Duration::ZERO,
                    gas_snapshots: Default::default(),
                }));
            }
        };
        // Inputs are drawn up front (each run is its own deployment): the
        // dictionary holds the test contract's constants and the sender.
        let mut dict = Dictionary::default();
        dict.insert_bytecode(&self.contract.deployed_bytecode);
        dict.insert_address(chain.sender);
        let mut rng = StdRng::seed_from_u64(self.seed_for(function));
        let mut runs = Vec::new();
        for _ in 0..self.fuzz_runs {
            let args: Vec<DynSolValue> =
                types.iter().map(|t| generate(t, &mut rng, &dict)).collect();
            let Ok(data) = function.abi_encode_input(&args) else {
                continue;
            };
            let instance = self.submit_instance(chain, Bytes::from(data), in_flight)?;
            runs.push((args, instance));
        }
        Ok(Planned::Fuzz(runs))
    }

    fn seed_for(&self, function: &Function) -> u64 {
        self.config.seed_for(self.contract, function)
    }

    /// Reads an instance's deployment and `setUp()`; `Err` is the suite's
    /// failure (they fail alike for every test: the same code on the same rules).
    fn prepared(
        &mut self,
        chain: &Chain,
        instance: &Instance,
        started: Instant,
    ) -> Result<Result<(), SuiteResult>, TesterError> {
        let contract = self.contract;
        let deployed = chain
            .outcome(
                instance.deploy,
                &format!("the deployment of {}", contract.name),
            )?
            .into_call_result();
        self.collect_gas(&deployed);
        if !deployed.success || deployed.created.is_none() {
            let reason = if deployed.halt.as_deref() == Some("CreateContractSizeLimit") {
                // In memory the limit is off, as in forge; a network enforces it.
                format!(
                    "{} is {} bytes of runtime code, over the network's 24576-byte limit \
                     (EIP-170): split the test contract",
                    contract.name,
                    contract.deployed_bytecode.len()
                )
            } else {
                format!(
                    "constructor reverted: {}",
                    failure_reason(self.artifacts, &deployed)
                )
            };
            let mut suite = suite_failure(contract, "setUp()", reason, started.elapsed());
            suite.tests[0].logs = deployed.record.console.clone();
            if let Some(setup) = instance.setup {
                chain.outcome(setup, "setUp() of a failed deployment")?;
            }
            return Ok(Err(suite));
        }
        if let Some(setup) = instance.setup {
            let result = chain
                .outcome(setup, &format!("{}.setUp()", contract.name))?
                .into_call_result();
            self.collect_gas(&result);
            if !result.success || result.failed_flag {
                let mut suite = suite_failure(
                    contract,
                    "setUp()",
                    format!(
                        "setUp() failed: {}",
                        failure_reason(self.artifacts, &result)
                    ),
                    started.elapsed(),
                );
                suite.tests[0].logs = result.record.console.clone();
                if self.config.traces != TraceMode::Never {
                    suite.tests[0].trace = Some(render_trace(self.artifacts, &result));
                }
                return Ok(Err(suite));
            }
        }
        Ok(Ok(()))
    }

    fn collect_gas(&mut self, call: &CallResult) {
        collect_gas(
            self.artifacts,
            &self.contract.name,
            &mut self.code_names,
            &mut self.gas,
            &call.record.gas,
        );
    }

    fn evaluate_unit(
        &mut self,
        chain: &Chain,
        function: &Function,
        instance: Instance,
        started: Instant,
    ) -> Result<Result<TestResult, SuiteResult>, TesterError> {
        if let Err(suite) = self.prepared(chain, &instance, started)? {
            chain.outcome(instance.call, "a test of a failed setUp()")?;
            return Ok(Err(suite));
        }
        let (outcome, call) = self.test_call(chain, function, instance.call)?;
        let mut result =
            TestResult::passing(function.signature(), TestKind::Unit { gas: call.gas });
        result.logs = call.record.console.clone();
        outcome.record_unit(&mut result);
        if self.config.traces.wants(result.status) {
            result.trace = Some(render_trace(self.artifacts, &call));
        }
        Ok(Ok(result))
    }

    /// Reads a test call's result and judges it as the in-memory run does.
    fn test_call(
        &mut self,
        chain: &Chain,
        function: &Function,
        hash: B256,
    ) -> Result<(Verdict, CallResult), TesterError> {
        let what = format!("{}.{}", self.contract.name, function.signature());
        let outcome = chain.outcome(hash, &what)?;
        let skipped = outcome.skipped.clone();
        let rejected = outcome.assume_rejected;
        let call = outcome.into_call_result();
        self.collect_gas(&call);
        let verdict = Verdict::judge(
            self.artifacts,
            &call,
            skipped,
            rejected,
            expects_failure(function),
        );
        Ok((verdict, call))
    }

    fn evaluate_fuzz(
        &mut self,
        chain: &Chain,
        function: &Function,
        runs: Vec<(Vec<DynSolValue>, Instance)>,
        started: Instant,
    ) -> Result<Result<TestResult, SuiteResult>, TesterError> {
        let mut result = TestResult::passing(function.signature(), TestKind::fuzz(0, &mut []));
        let mut gas = Vec::new();
        let (mut executed, mut rejects) = (0u32, 0u32);
        let mut runs = runs.into_iter();
        for (args, instance) in runs.by_ref() {
            if let Err(suite) = self.prepared(chain, &instance, started)? {
                chain.outcome(instance.call, "a test of a failed setUp()")?;
                for (_, rest) in runs {
                    chain.discard(&rest)?;
                }
                return Ok(Err(suite));
            }
            let (verdict, call) = self.test_call(chain, function, instance.call)?;
            match verdict {
                Verdict::Rejected => rejects += 1,
                Verdict::Pass => {
                    executed += 1;
                    gas.push(call.gas);
                }
                Verdict::Skip(reason) => {
                    result.status = TestStatus::Skip;
                    result.reason = (!reason.is_empty()).then_some(reason);
                    break;
                }
                Verdict::Fail(reason) => {
                    executed += 1;
                    result.status = TestStatus::Fail;
                    result.reason = Some(reason);
                    result.logs = call.record.console.clone();
                    result.counterexample = Some(counterexample(function, &args));
                    if self.config.traces.wants(TestStatus::Fail) {
                        result.trace = Some(render_trace(self.artifacts, &call));
                    }
                    break;
                }
            }
        }
        for (_, rest) in runs {
            chain.discard(&rest)?;
        }
        if result.status == TestStatus::Pass && executed == 0 && rejects > 0 {
            result.status = TestStatus::Fail;
            result.reason = Some(format!("vm.assume rejected every input ({rejects})"));
        }
        result.kind = TestKind::fuzz(executed, &mut gas);
        Ok(Ok(result))
    }

    /// Waits for a plan's transactions and drops their results.
    fn discard(&self, chain: &Chain, plan: Planned) -> Result<(), TesterError> {
        match plan {
            Planned::Unit(instance) => chain.discard(&instance),
            Planned::Fuzz(runs) => runs.iter().try_for_each(|(_, i)| chain.discard(i)),
            Planned::Refused(_) => Ok(()),
        }
    }
}

fn counterexample(function: &Function, args: &[DynSolValue]) -> Counterexample {
    let calldata = function.abi_encode_input(args).unwrap_or_default();
    let args_text: Vec<String> = args.iter().map(format_value).collect();
    Counterexample {
        calldata: hex::encode_prefixed(&calldata),
        args: format!("{}({})", function.name, args_text.join(", ")),
        sequence: vec![],
    }
}
