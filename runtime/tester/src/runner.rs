//! The in-memory run: test contracts in parallel and, inside each, the test
//! functions in parallel, each on its own copy of the state after deployment
//! and `setUp()`.

use std::{
    collections::HashMap,
    panic::{AssertUnwindSafe, catch_unwind},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Instant,
};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue, FunctionExt, JsonAbiExt, Specifier},
    json_abi::{Function, StateMutability},
    primitives::{Address, B256, Bytes, U256, hex},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use crate::{
    artifacts::{ArtifactSet, ContractArtifact, LIBRARY_DEPLOYER},
    backend::Backend,
    config::{TestConfig, TraceMode},
    decode::format_value,
    discovery::{TestShape, expects_failure, setup_function, test_contracts, test_functions},
    error::TesterError,
    executor::{CallOptions, CallResult, Executor, INITIAL_BALANCE},
    fuzz::{Dictionary, generate, shrink},
    inspector::GasSample,
    outcome::{Verdict, collect_gas, failure_reason, render_trace, suite_failure},
    report::{
        Counterexample, GasSamples, SuiteResult, TestKind, TestResult, TestRunReport, TestStatus,
    },
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS, DEFAULT_SENDER, TEST_CONTRACT_ADDRESS},
};

/// Runs every selected test contract, `progress` is called as each finishes.
pub fn run_tests(
    artifacts: Arc<ArtifactSet>,
    config: &TestConfig,
    progress: &(dyn Fn(&SuiteResult) + Sync),
) -> TestRunReport {
    let started = Instant::now();
    let contracts = test_contracts(&artifacts, config);
    let threads = if config.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        config.threads
    };
    // Contracts in parallel and, inside each, test functions in parallel:
    // rayon's work stealing keeps every core busy on a suite of one big
    // contract without running more threads than cores.
    let run_all = || -> Vec<(SuiteResult, GasSamples)> {
        contracts
            .par_iter()
            // One contract per task: rayon's adaptive splitting would
            // otherwise keep neighbours together on one core.
            .with_max_len(1)
            .map(|contract| {
                let (suite, gas) = run_suite_guarded(artifacts.clone(), contract, config);
                progress(&suite);
                (suite, gas)
            })
            .collect()
    };
    let results = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("forja-test-{i}"))
        .build()
    {
        Ok(pool) => pool.install(run_all),
        // No threads to be had: rayon's global pool (or this thread) will do.
        Err(_) => run_all(),
    };
    let mut gas = GasSamples::default();
    let mut suites = Vec::new();
    for (suite, samples) in results {
        gas.merge(samples);
        suites.push(suite);
    }
    TestRunReport {
        suites,
        duration: started.elapsed(),
        gas_report: config.gas_report.then(|| gas.report()),
    }
}

fn run_suite_guarded(
    artifacts: Arc<ArtifactSet>,
    contract: &ContractArtifact,
    config: &TestConfig,
) -> (SuiteResult, GasSamples) {
    let started = Instant::now();
    // A panic inside a test is caught around that test (see `run_suite`);
    // what reaches here came from deployment or setUp.
    match catch_unwind(AssertUnwindSafe(|| run_suite(artifacts, contract, config))) {
        Ok(result) => result,
        Err(panic) => {
            let suite = suite_failure(
                contract,
                "setUp()",
                internal_error(panic.as_ref()),
                started.elapsed(),
            );
            (suite, GasSamples::default())
        }
    }
}

/// The reason a test fails with when the EVM or a cheatcode panicked inside it.
fn internal_error(panic: &(dyn std::any::Any + Send)) -> String {
    format!("internal error: {}", crate::executor::panic_message(panic))
}

/// State shared by the tests of one contract.
struct SuiteRunner<'a> {
    artifacts: Arc<ArtifactSet>,
    contract: &'a ContractArtifact,
    config: &'a TestConfig,
    /// State after deployment and `setUp`.
    base: Executor,
    address: Address,
    gas: GasSamples,
    code_names: HashMap<B256, Option<String>>,
}

/// Deploys `contract`, runs `setUp` and then each selected test.
pub fn run_suite(
    artifacts: Arc<ArtifactSet>,
    contract: &ContractArtifact,
    config: &TestConfig,
) -> (SuiteResult, GasSamples) {
    let started = Instant::now();
    if !contract.unlinked_libraries.is_empty() {
        let reason = format!(
            "{} links libraries the build does not hold: {}",
            contract.name,
            contract.unlinked_libraries.join(", ")
        );
        return (
            suite_failure(contract, "setUp()", reason, started.elapsed()),
            GasSamples::default(),
        );
    }
    let mut exec = Executor::new(Backend::empty(), artifacts.clone());
    exec.allow_internal_expect_revert = config.allow_internal_expect_revert;
    exec.coverage = config.coverage.clone();
    exec.cheats.project_root = config.project_root.clone();
    if let Some(seed) = config.fuzz_seed {
        exec.cheats.rng = Some(crate::cheatcodes::seeded_rng(U256::from(seed)));
    }
    // External libraries first, from forge's library deployer (their
    // addresses are linked into every contract's code).
    for (nonce, code) in artifacts.libraries.iter().enumerate() {
        let deployed = exec.deploy(
            LIBRARY_DEPLOYER,
            code.clone(),
            U256::ZERO,
            CallOptions::default(),
        );
        let failure = match deployed {
            Ok(d) if d.success && d.created == Some(LIBRARY_DEPLOYER.create(nonce as u64)) => None,
            Ok(d) => Some(failure_reason(&artifacts, &d)),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = failure {
            let reason = format!("deploying library {nonce} failed: {why}");
            return (
                suite_failure(contract, "setUp()", reason, started.elapsed()),
                GasSamples::default(),
            );
        }
    }
    // Foundry's test contract lives at a fixed address: the sender's CREATE at nonce 1.
    let nonce = (0..16u64)
        .find(|n| DEFAULT_SENDER.create(*n) == TEST_CONTRACT_ADDRESS)
        .unwrap_or(0);
    set_nonce(&mut exec, DEFAULT_SENDER, nonce);
    let options = CallOptions {
        gas_recording: config.gas_report,
        ..Default::default()
    };
    let deployed = match exec.deploy(
        DEFAULT_SENDER,
        contract.bytecode.clone(),
        U256::ZERO,
        options,
    ) {
        Ok(d) => d,
        Err(e) => {
            return (
                suite_failure(contract, "setUp()", e.to_string(), started.elapsed()),
                GasSamples::default(),
            );
        }
    };
    let Some(address) = deployed.created.filter(|_| deployed.success) else {
        let reason = format!(
            "constructor reverted: {}",
            failure_reason(&artifacts, &deployed)
        );
        return (
            suite_failure(contract, "setUp()", reason, started.elapsed()),
            GasSamples::default(),
        );
    };
    exec.set_balance(address, INITIAL_BALANCE);
    exec.cheats.names.insert(address, contract.name.clone());

    let mut runner = SuiteRunner {
        artifacts: artifacts.clone(),
        contract,
        config,
        base: exec,
        address,
        gas: GasSamples::default(),
        code_names: HashMap::new(),
    };
    let mut setup_trace = None;
    if let Some(setup) = setup_function(contract) {
        let data = Bytes::from(setup.selector().to_vec());
        // At -vvvv forge shows a failing test's setUp trace before its own.
        let options = CallOptions {
            commit: true,
            gas_recording: config.gas_report,
            tracing: config.traces == TraceMode::All,
        };
        let result = runner
            .base
            .call(DEFAULT_SENDER, address, data.clone(), U256::ZERO, options);
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                return (
                    suite_failure(contract, "setUp()", e.to_string(), started.elapsed()),
                    runner.gas,
                );
            }
        };
        runner.collect_gas(&result.record.gas);
        if options.tracing {
            setup_trace = Some(render_trace(&artifacts, &result));
        }
        // `vm.skip(true)` in setUp (or a cheatcode forja does not offer)
        // skips the whole contract, as in forge.
        if let Some(reason) = runner.base.cheats.skipped.take() {
            let mut suite = suite_failure(contract, "setUp()", reason, started.elapsed());
            let skipped = &mut suite.tests[0];
            skipped.status = TestStatus::Skip;
            skipped.reason = skipped.reason.take().filter(|r| !r.is_empty());
            return (suite, runner.gas);
        }
        if !result.success || result.failed_flag {
            let mut suite = suite_failure(
                contract,
                "setUp()",
                format!("setUp() failed: {}", failure_reason(&artifacts, &result)),
                started.elapsed(),
            );
            suite.tests[0].logs = result.record.console.clone();
            if config.traces != TraceMode::Never {
                let mut exec = runner.base.clone();
                let traced = exec.call(
                    DEFAULT_SENDER,
                    address,
                    data,
                    U256::ZERO,
                    CallOptions {
                        tracing: true,
                        ..Default::default()
                    },
                );
                if let Ok(traced) = traced {
                    suite.tests[0].trace = Some(render_trace(&artifacts, &traced));
                }
            }
            return (suite, runner.gas);
        }
    }

    let functions = test_functions(contract, config);
    // Every test starts from the post-setUp state: each gets its own copy of
    // the runner, so they can run on any core in any order.
    let outcomes: Vec<(TestResult, GasSamples)> = functions
        .par_iter()
        // One test per task, so two slow fuzz tests side by side in the
        // list still land on different cores.
        .with_max_len(1)
        .map(|function| {
            let mut runner = runner.for_one_test();
            let test_started = Instant::now();
            // A panic fails this test alone, under its own name; the other
            // tests of the contract still run.
            let outcome = catch_unwind(AssertUnwindSafe(|| match TestShape::of(function) {
                TestShape::Unit => runner.run_unit(function),
                TestShape::Fuzz => runner.run_fuzz(function),
                TestShape::Invariant => runner.run_invariant(function),
            }));
            let mut result = outcome.unwrap_or_else(|panic| {
                let mut failed =
                    TestResult::passing(function.signature(), TestKind::Unit { gas: 0 });
                failed.status = TestStatus::Fail;
                failed.reason = Some(internal_error(panic.as_ref()));
                failed
            });
            result.duration = test_started.elapsed();
            (result, runner.gas)
        })
        .collect();
    let mut tests = Vec::with_capacity(outcomes.len());
    for (mut result, gas) in outcomes {
        runner.gas.merge(gas);
        if let (TestStatus::Fail, Some(setup), Some(trace)) =
            (&result.status, &setup_trace, &result.trace)
        {
            result.trace = Some(format!("{setup}\n{trace}"));
        }
        tests.push(result);
    }
    let suite = SuiteResult {
        contract: contract.qualified_name(),
        name: contract.name.clone(),
        source: contract.source.clone(),
        tests,
        duration: started.elapsed(),
    };
    (suite, runner.gas)
}

fn set_nonce(exec: &mut Executor, address: Address, nonce: u64) {
    use revm::database_interface::DatabaseRef;
    let mut info = exec
        .db
        .basic_ref(address)
        .ok()
        .flatten()
        .unwrap_or_default();
    info.nonce = nonce;
    exec.db.insert_account_info(address, info);
}

/// Lane `lane`'s seed: lane 0 keeps the test's seed.
fn lane_seed(seed: u64, lane: u32) -> u64 {
    seed ^ u64::from(lane).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Lanes a fuzz test's runs are split over (see `SuiteRunner::run_fuzz`):
/// fixed, so that results depend on the seed and not on the machine.
const FUZZ_LANES: u32 = 4;

/// One lane's share of a fuzz test.
struct FuzzLane {
    index: u32,
    seed: u64,
    runs: u32,
    max_rejects: u32,
    /// A persisted counterexample to try before any generated input.
    replay: Option<Vec<DynSolValue>>,
}

/// What one lane did.
struct LaneOutcome {
    /// Inputs that ran to a verdict (not rejected by `vm.assume`).
    runs: u32,
    /// Gas of each passing run.
    gas: Vec<u64>,
    end: LaneEnd,
}

enum LaneEnd {
    /// Every run passed.
    Completed,
    /// An input failed the test (not yet shrunk).
    Failed {
        args: Vec<DynSolValue>,
        call: Box<CallResult>,
    },
    Skipped(String),
    TooManyRejects,
    /// The executor failed.
    Error(String),
    /// Stopped because an earlier lane already decided the test.
    Abandoned,
}

/// What an invariant test's lanes share: what they may call, as whom,
/// and the invariant's calldata.
struct InvariantTargets<'a> {
    callable: &'a [(Address, String, Function)],
    senders: &'a [Address],
    excluded_senders: &'a [Address],
    invariant: &'a Bytes,
}

/// What one lane of an invariant test did.
struct InvariantLaneOutcome {
    /// Sequences run to the end without breaking the invariant.
    runs: u32,
    calls: u64,
    reverts: u64,
    end: InvariantLaneEnd,
}

enum InvariantLaneEnd {
    Completed,
    /// A sequence broke the invariant (or reverted, with fail-on-revert).
    Broken {
        reason: String,
        sequence: Vec<(Address, Address, Bytes, String)>,
    },
    /// The executor failed.
    Error(String),
    /// Stopped because an earlier lane already decided the test.
    Abandoned,
}

impl SuiteRunner<'_> {
    /// A copy of the post-setUp runner for one test, with no gas recorded yet.
    fn for_one_test(&self) -> Self {
        SuiteRunner {
            artifacts: self.artifacts.clone(),
            contract: self.contract,
            config: self.config,
            base: self.base.clone(),
            address: self.address,
            gas: GasSamples::default(),
            code_names: self.code_names.clone(),
        }
    }

    fn call_test(&mut self, data: Bytes, tracing: bool) -> Result<CallResult, TesterError> {
        self.base.cheats.skipped = None;
        self.base.cheats.assume_rejected = false;
        let options = CallOptions {
            commit: false,
            tracing,
            gas_recording: self.config.gas_report && !tracing,
        };
        let result = self
            .base
            .call(DEFAULT_SENDER, self.address, data, U256::ZERO, options);
        if let Ok(r) = &result
            && !tracing
        {
            let samples = r.record.gas.clone();
            self.collect_gas(&samples);
        }
        result
    }

    fn verdict(&mut self, call: &CallResult, expect_fail: bool) -> Verdict {
        let skipped = self.base.cheats.skipped.take();
        let rejected = self.base.cheats.assume_rejected;
        Verdict::judge(&self.artifacts, call, skipped, rejected, expect_fail)
    }

    fn traced(&mut self, data: Bytes) -> Option<String> {
        let call = self.call_test(data, true).ok()?;
        Some(render_trace(&self.artifacts, &call))
    }

    fn run_unit(&mut self, function: &Function) -> TestResult {
        let data = Bytes::from(function.selector().to_vec());
        let expect_fail = expects_failure(function);
        let mut result = TestResult::passing(function.signature(), TestKind::Unit { gas: 0 });
        let call = match self.call_test(data.clone(), false) {
            Ok(c) => c,
            Err(e) => {
                result.status = TestStatus::Fail;
                result.reason = Some(e.to_string());
                return result;
            }
        };
        result.kind = TestKind::Unit { gas: call.gas };
        result.logs = call.record.console.clone();
        result.gas_snapshots = call.record.gas_snapshots.clone();
        self.verdict(&call, expect_fail).record_unit(&mut result);
        if self.config.traces.wants(result.status) {
            result.trace = self.traced(data);
        }
        result
    }

    fn seed_for(&self, function: &Function) -> u64 {
        self.config.seed_for(self.contract, function)
    }

    fn dictionary(&self) -> Dictionary {
        let mut dict = Dictionary::default();
        for (address, code) in self.base.contracts() {
            dict.insert_address(address);
            dict.insert_bytecode(&code);
        }
        for value in self.base.storage_values() {
            dict.insert(B256::from(value));
        }
        dict.insert_address(DEFAULT_SENDER);
        dict
    }

    /// Runs one lane of a fuzz test; stops early once a lane before it
    /// has ended the test, since the earliest such lane decides.
    fn fuzz_lane(
        &mut self,
        function: &Function,
        types: &[DynSolType],
        expect_fail: bool,
        lane: FuzzLane,
        mut dict: Dictionary,
        first_unpassed: &AtomicU32,
    ) -> LaneOutcome {
        let mut rng = StdRng::seed_from_u64(lane.seed);
        let mut replay = lane.replay;
        let mut outcome = LaneOutcome {
            runs: 0,
            gas: Vec::new(),
            end: LaneEnd::Completed,
        };
        let mut rejects = 0u32;
        let end = loop {
            if outcome.runs >= lane.runs {
                break LaneEnd::Completed;
            }
            if first_unpassed.load(Ordering::Relaxed) < lane.index {
                break LaneEnd::Abandoned;
            }
            let args: Vec<DynSolValue> = match replay.take() {
                Some(args) => args,
                None => types.iter().map(|t| generate(t, &mut rng, &dict)).collect(),
            };
            let Ok(calldata) = function.abi_encode_input(&args) else {
                continue;
            };
            let call = match self.call_test(Bytes::from(calldata), false) {
                Ok(c) => c,
                Err(e) => break LaneEnd::Error(e.to_string()),
            };
            match self.verdict(&call, expect_fail) {
                Verdict::Rejected => {
                    rejects += 1;
                    if rejects > lane.max_rejects {
                        break LaneEnd::TooManyRejects;
                    }
                }
                Verdict::Skip(reason) => break LaneEnd::Skipped(reason),
                Verdict::Pass => {
                    outcome.runs += 1;
                    outcome.gas.push(call.gas);
                    dict.insert_logs(&call.record.logs);
                    if let Some(state) = &call.state {
                        for account in state.values() {
                            for (slot, value) in &account.storage {
                                dict.insert(B256::from(*slot));
                                dict.insert(B256::from(value.present_value));
                            }
                        }
                    }
                }
                Verdict::Fail(_) => {
                    outcome.runs += 1;
                    break LaneEnd::Failed {
                        args,
                        call: Box::new(call),
                    };
                }
            }
        };
        if !matches!(end, LaneEnd::Completed | LaneEnd::Abandoned) {
            first_unpassed.fetch_min(lane.index, Ordering::Relaxed);
        }
        outcome.end = end;
        outcome
    }

    fn failure_file(&self, function: &Function) -> Option<PathBuf> {
        let dir = self.config.failure_dir.as_ref()?;
        Some(dir.join(&self.contract.name).join(&function.name))
    }

    fn run_fuzz(&mut self, function: &Function) -> TestResult {
        let expect_fail = expects_failure(function);
        let mut result = TestResult::passing(function.signature(), TestKind::fuzz(0, &mut []));
        let types: Result<Vec<DynSolType>, _> =
            function.inputs.iter().map(|p| p.resolve()).collect();
        let types = match types {
            Ok(t) => t,
            Err(e) => {
                result.status = TestStatus::Fail;
                result.reason = Some(format!(
                    "cannot fuzz parameters of {}: {e}",
                    function.signature()
                ));
                return result;
            }
        };
        let dict = self.dictionary();
        let seed = self.seed_for(function);

        // A persisted counterexample is tried first (by lane 0).
        let replay: Option<Vec<DynSolValue>> = self.failure_file(function).and_then(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let calldata = hex::decode(text.trim()).ok()?;
            if calldata.get(..4) != Some(&function.selector()[..]) {
                return None;
            }
            function.abi_decode_input(&calldata[4..]).ok()
        });

        // The runs are split over a fixed number of lanes, each with its own
        // seed, dictionary and copy of the post-setUp state, run in parallel.
        // The outcome is the first lane's (in lane order) that did not pass,
        // so it depends on the seed, never on the number of cores.
        let fuzz_runs = self.config.fuzz_runs;
        let lanes = FUZZ_LANES.min(fuzz_runs.max(1));
        let max_rejects = self.config.fuzz_max_rejects.div_ceil(lanes);
        let first_unpassed = AtomicU32::new(u32::MAX);
        let mut replay = replay;
        let lane_work: Vec<_> = (0..lanes)
            .map(|lane| FuzzLane {
                index: lane,
                seed: lane_seed(seed, lane),
                runs: fuzz_runs / lanes + u32::from(lane < fuzz_runs % lanes),
                max_rejects,
                replay: replay.take(),
            })
            .collect();
        let runners: Vec<_> = lane_work
            .into_iter()
            .map(|lane| (self.for_one_test(), lane))
            .collect();
        let outcomes: Vec<(LaneOutcome, GasSamples)> = runners
            .into_par_iter()
            .with_max_len(1)
            .map(|(mut runner, lane)| {
                let outcome = runner.fuzz_lane(
                    function,
                    &types,
                    expect_fail,
                    lane,
                    dict.clone(),
                    &first_unpassed,
                );
                (outcome, runner.gas)
            })
            .collect();

        let mut runs = 0u32;
        let mut gas = Vec::new();
        for (outcome, samples) in outcomes {
            self.gas.merge(samples);
            runs += outcome.runs;
            gas.extend(outcome.gas);
            match outcome.end {
                // A lane is abandoned only after an earlier one ended the
                // test, and the loop stops at that one.
                LaneEnd::Completed | LaneEnd::Abandoned => continue,
                LaneEnd::Error(error) => {
                    result.status = TestStatus::Fail;
                    result.reason = Some(error);
                    return result;
                }
                LaneEnd::TooManyRejects => {
                    result.status = TestStatus::Fail;
                    result.reason = Some(format!(
                        "vm.assume rejected too many inputs ({} allowed)",
                        self.config.fuzz_max_rejects
                    ));
                }
                LaneEnd::Skipped(reason) => {
                    result.status = TestStatus::Skip;
                    result.reason = (!reason.is_empty()).then_some(reason);
                }
                LaneEnd::Failed { args, call } => {
                    let shrunk = shrink(args, 512, |candidate| {
                        let Ok(data) = function.abi_encode_input(candidate) else {
                            return false;
                        };
                        match self.call_test(Bytes::from(data), false) {
                            Ok(c) => matches!(self.verdict(&c, expect_fail), Verdict::Fail(_)),
                            Err(_) => false,
                        }
                    });
                    let calldata =
                        Bytes::from(function.abi_encode_input(&shrunk).unwrap_or_default());
                    let final_call = self.call_test(calldata.clone(), false);
                    let reason = match &final_call {
                        Ok(c) => match self.verdict(c, expect_fail) {
                            Verdict::Fail(reason) => reason,
                            _ => failure_reason(&self.artifacts, &call),
                        },
                        Err(e) => e.to_string(),
                    };
                    if let Ok(c) = &final_call {
                        result.logs = c.record.console.clone();
                    }
                    let args_text: Vec<String> = shrunk.iter().map(format_value).collect();
                    result.status = TestStatus::Fail;
                    result.reason = Some(reason);
                    result.counterexample = Some(Counterexample {
                        calldata: hex::encode_prefixed(&calldata),
                        args: format!("{}({})", function.name, args_text.join(", ")),
                        sequence: vec![],
                    });
                    if let Some(path) = self.failure_file(function) {
                        if let Some(parent) = path.parent() {
                            let _ = std::fs::create_dir_all(parent);
                        }
                        // Best effort: a read-only cache must not turn a failure into an error.
                        let _ = std::fs::write(&path, hex::encode_prefixed(&calldata));
                    }
                    if self.config.traces != TraceMode::Never {
                        result.trace = self.traced(calldata);
                    }
                }
            }
            break;
        }
        if result.status == TestStatus::Pass {
            // The persisted failure no longer reproduces: forget it.
            if let Some(path) = self.failure_file(function) {
                let _ = std::fs::remove_file(path);
            }
        }
        result.kind = TestKind::fuzz(runs, &mut gas);
        result
    }

    /// Calls a view function of the test contract that returns an array
    /// (`targetContracts()`…), when it exists.
    fn query(&mut self, name: &str) -> Option<DynSolValue> {
        let function = self
            .contract
            .abi
            .functions()
            .find(|f| f.name == name && f.inputs.is_empty())?
            .clone();
        let call = self
            .call_test(Bytes::from(function.selector().to_vec()), false)
            .ok()?;
        if !call.success {
            return None;
        }
        function
            .abi_decode_output(&call.output)
            .ok()?
            .into_iter()
            .next()
    }

    fn addresses(&mut self, name: &str) -> Vec<Address> {
        match self.query(name) {
            Some(DynSolValue::Array(items)) => {
                items.iter().filter_map(|v| v.as_address()).collect()
            }
            _ => vec![],
        }
    }

    fn selectors(&mut self, name: &str) -> Vec<(Address, Vec<[u8; 4]>)> {
        let Some(DynSolValue::Array(items)) = self.query(name) else {
            return vec![];
        };
        items
            .iter()
            .filter_map(|item| {
                let DynSolValue::Tuple(fields) = item else {
                    return None;
                };
                let address = fields.first()?.as_address()?;
                let DynSolValue::Array(sels) = fields.get(1)? else {
                    return None;
                };
                let sels = sels
                    .iter()
                    .filter_map(|s| match s {
                        DynSolValue::FixedBytes(w, 4) => Some([w[0], w[1], w[2], w[3]]),
                        _ => None,
                    })
                    .collect();
                Some((address, sels))
            })
            .collect()
    }

    fn contract_at(&self, exec: &Executor, address: Address) -> Option<ContractArtifact> {
        if let Some(name) = exec.cheats.names.get(&address)
            && let Some(c) = self
                .artifacts
                .contracts
                .iter()
                .find(|c| &c.name == name && !c.bytecode.is_empty())
        {
            return Some(c.clone());
        }
        let code = exec.code_at(address)?;
        self.artifacts.identify_runtime(&code).cloned()
    }

    fn run_invariant(&mut self, invariant: &Function) -> TestResult {
        let mut result = TestResult::passing(
            invariant.signature(),
            TestKind::Invariant {
                runs: 0,
                calls: 0,
                reverts: 0,
            },
        );
        // Targets, as forge-std's StdInvariant declares them.
        let excluded = self.addresses("excludeContracts");
        let mut targets = self.addresses("targetContracts");
        if targets.is_empty() {
            targets = self
                .base
                .contracts()
                .into_iter()
                .map(|(a, _)| a)
                .filter(|a| *a != self.address && *a != CHEATCODE_ADDRESS && *a != CONSOLE_ADDRESS)
                .collect();
        }
        targets.retain(|a| !excluded.contains(a));
        let target_selectors = self.selectors("targetSelectors");
        let excluded_selectors = self.selectors("excludeSelectors");
        let mut senders = self.addresses("targetSenders");
        let excluded_senders = self.addresses("excludeSenders");

        let mut callable: Vec<(Address, String, Function)> = Vec::new();
        for address in &targets {
            let Some(artifact) = self.contract_at(&self.base, *address) else {
                continue;
            };
            let restricted: Option<&Vec<[u8; 4]>> = target_selectors
                .iter()
                .find(|(a, _)| a == address)
                .map(|(_, s)| s);
            let excluded_here: Vec<[u8; 4]> = excluded_selectors
                .iter()
                .filter(|(a, _)| a == address)
                .flat_map(|(_, s)| s.clone())
                .collect();
            for f in artifact.abi.functions() {
                let selector: [u8; 4] = f.selector().0;
                let mutating = !matches!(
                    f.state_mutability,
                    StateMutability::View | StateMutability::Pure
                );
                let allowed = match restricted {
                    Some(sels) => sels.contains(&selector),
                    None => mutating,
                };
                if allowed && !excluded_here.contains(&selector) {
                    callable.push((*address, artifact.name.clone(), f.clone()));
                }
            }
        }
        if callable.is_empty() {
            result.status = TestStatus::Fail;
            result.reason = Some("no target contract functions to call: deploy contracts in setUp() or use targetContract()".into());
            return result;
        }
        senders.retain(|s| !excluded_senders.contains(s));

        let invariant_data = Bytes::from(invariant.selector().to_vec());

        // The invariant must hold right after setUp.
        if let Some(reason) = self.invariant_broken(&mut self.base.clone(), &invariant_data) {
            result.status = TestStatus::Fail;
            result.reason = Some(format!("invariant broken after setUp(): {reason}"));
            return result;
        }

        // Sequences are independent (each starts from the post-setUp state),
        // so they are split over lanes like fuzz runs, and the first lane in
        // lane order that breaks the invariant decides.
        let seed = self.seed_for(invariant);
        let total_runs = self.config.invariant_runs;
        let lanes = FUZZ_LANES.min(total_runs.max(1));
        let dict = self.dictionary();
        let first_unpassed = AtomicU32::new(u32::MAX);
        let targets = InvariantTargets {
            callable: &callable,
            senders: &senders,
            excluded_senders: &excluded_senders,
            invariant: &invariant_data,
        };
        let outcomes: Vec<InvariantLaneOutcome> = (0..lanes)
            .into_par_iter()
            .with_max_len(1)
            .map(|lane| {
                let runs = total_runs / lanes + u32::from(lane < total_runs % lanes);
                self.invariant_lane(
                    lane,
                    lane_seed(seed, lane),
                    runs,
                    &targets,
                    dict.clone(),
                    &first_unpassed,
                )
            })
            .collect();

        let (mut runs, mut calls, mut reverts) = (0u32, 0u64, 0u64);
        for outcome in outcomes {
            calls += outcome.calls;
            reverts += outcome.reverts;
            match outcome.end {
                InvariantLaneEnd::Completed | InvariantLaneEnd::Abandoned => {
                    runs += outcome.runs;
                }
                InvariantLaneEnd::Error(error) => {
                    result.status = TestStatus::Fail;
                    result.reason = Some(error);
                    return result;
                }
                InvariantLaneEnd::Broken { reason, sequence } => {
                    // The breaking sequence counts as a run.
                    return self.invariant_failure(
                        result,
                        runs + outcome.runs + 1,
                        calls,
                        reverts,
                        reason,
                        sequence,
                        &invariant_data,
                    );
                }
            }
        }
        result.kind = TestKind::Invariant {
            runs,
            calls,
            reverts,
        };
        result
    }

    /// Runs `runs` call sequences of one lane of an invariant test; stops
    /// early once a lane before it has broken the invariant.
    fn invariant_lane(
        &self,
        lane: u32,
        seed: u64,
        runs: u32,
        targets: &InvariantTargets<'_>,
        mut dict: Dictionary,
        first_unpassed: &AtomicU32,
    ) -> InvariantLaneOutcome {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut outcome = InvariantLaneOutcome {
            runs: 0,
            calls: 0,
            reverts: 0,
            end: InvariantLaneEnd::Completed,
        };
        let callable = targets.callable;
        let end = 'runs: {
            for _ in 0..runs {
                if first_unpassed.load(Ordering::Relaxed) < lane {
                    break 'runs InvariantLaneEnd::Abandoned;
                }
                let mut exec = self.base.clone();
                let mut sequence: Vec<(Address, Address, Bytes, String)> = Vec::new();
                for _ in 0..self.config.invariant_depth {
                    let (target, contract_name, function) =
                        &callable[rng.random_range(0..callable.len())];
                    let types: Vec<DynSolType> = function
                        .inputs
                        .iter()
                        .filter_map(|p| p.resolve().ok())
                        .collect();
                    let args: Vec<DynSolValue> =
                        types.iter().map(|t| generate(t, &mut rng, &dict)).collect();
                    let Ok(data) = function.abi_encode_input(&args) else {
                        continue;
                    };
                    let sender = if !targets.senders.is_empty() {
                        targets.senders[rng.random_range(0..targets.senders.len())]
                    } else {
                        random_sender(&mut rng, &dict, targets.excluded_senders)
                    };
                    let data = Bytes::from(data);
                    let call = match exec.call(
                        sender,
                        *target,
                        data.clone(),
                        U256::ZERO,
                        CallOptions {
                            commit: true,
                            ..Default::default()
                        },
                    ) {
                        Ok(c) => c,
                        Err(e) => break 'runs InvariantLaneEnd::Error(e.to_string()),
                    };
                    outcome.calls += 1;
                    let args_text: Vec<String> = args.iter().map(format_value).collect();
                    let described = format!(
                        "{sender} → {contract_name}.{}({})",
                        function.name,
                        args_text.join(", ")
                    );
                    sequence.push((sender, *target, data, described));
                    dict.insert_logs(&call.record.logs);
                    if !call.success {
                        outcome.reverts += 1;
                        if self.config.invariant_fail_on_revert {
                            let reason = format!(
                                "{} reverted: {}",
                                function.name,
                                failure_reason(&self.artifacts, &call)
                            );
                            break 'runs InvariantLaneEnd::Broken { reason, sequence };
                        }
                        continue;
                    }
                    if let Some(reason) = self.invariant_broken(&mut exec, targets.invariant) {
                        break 'runs InvariantLaneEnd::Broken { reason, sequence };
                    }
                }
                outcome.runs += 1;
            }
            InvariantLaneEnd::Completed
        };
        if !matches!(
            end,
            InvariantLaneEnd::Completed | InvariantLaneEnd::Abandoned
        ) {
            first_unpassed.fetch_min(lane, Ordering::Relaxed);
        }
        outcome.end = end;
        outcome
    }

    /// Calls the invariant; `Some(reason)` when it does not hold.
    fn invariant_broken(&self, exec: &mut Executor, data: &Bytes) -> Option<String> {
        let call = exec.call(
            DEFAULT_SENDER,
            self.address,
            data.clone(),
            U256::ZERO,
            CallOptions::default(),
        );
        match call {
            Ok(c) if c.success && !c.failed_flag => None,
            Ok(c) => Some(failure_reason(&self.artifacts, &c)),
            Err(e) => Some(e.to_string()),
        }
    }

    /// Whether replaying `sequence` from the post-setUp state breaks the invariant.
    fn replay_breaks(&self, sequence: &[(Address, Address, Bytes, String)], data: &Bytes) -> bool {
        let mut exec = self.base.clone();
        for (sender, target, calldata, _) in sequence {
            let options = CallOptions {
                commit: true,
                ..Default::default()
            };
            if exec
                .call(*sender, *target, calldata.clone(), U256::ZERO, options)
                .is_err()
            {
                return false;
            }
            if self.invariant_broken(&mut exec, data).is_some() {
                return true;
            }
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    fn invariant_failure(
        &mut self,
        mut result: TestResult,
        runs: u32,
        calls: u64,
        reverts: u64,
        reason: String,
        mut sequence: Vec<(Address, Address, Bytes, String)>,
        data: &Bytes,
    ) -> TestResult {
        let original = sequence.len();
        // Shrink: drop calls that are not needed to break the invariant.
        if !self.config.invariant_fail_on_revert {
            let mut i = 0;
            let mut budget = 256;
            while i < sequence.len() && budget > 0 {
                budget -= 1;
                let mut shorter = sequence.clone();
                shorter.remove(i);
                if !shorter.is_empty() && self.replay_breaks(&shorter, data) {
                    sequence = shorter;
                } else {
                    i += 1;
                }
            }
        }
        result.status = TestStatus::Fail;
        result.reason = Some(reason);
        result.kind = TestKind::Invariant {
            runs,
            calls,
            reverts,
        };
        let last = sequence
            .last()
            .map(|s| hex::encode_prefixed(&s.2))
            .unwrap_or_default();
        result.counterexample = Some(Counterexample {
            calldata: last,
            args: format!("original: {original}, shrunk: {}", sequence.len()),
            sequence: sequence.iter().map(|s| s.3.clone()).collect(),
        });
        if self.config.traces != TraceMode::Never {
            let mut exec = self.base.clone();
            for (sender, target, calldata, _) in &sequence {
                let _ = exec.call(
                    *sender,
                    *target,
                    calldata.clone(),
                    U256::ZERO,
                    CallOptions {
                        commit: true,
                        ..Default::default()
                    },
                );
            }
            let traced = exec.call(
                DEFAULT_SENDER,
                self.address,
                data.clone(),
                U256::ZERO,
                CallOptions {
                    tracing: true,
                    ..Default::default()
                },
            );
            if let Ok(traced) = traced {
                result.logs = traced.record.console.clone();
                result.trace = Some(render_trace(&self.artifacts, &traced));
            }
        }
        result
    }

    fn collect_gas(&mut self, samples: &[GasSample]) {
        collect_gas(
            &self.artifacts,
            &self.contract.name,
            &mut self.code_names,
            &mut self.gas,
            samples,
        );
    }
}

/// A random sender that is not a precompile, the cheatcode address or excluded.
fn random_sender(rng: &mut StdRng, dict: &Dictionary, excluded: &[Address]) -> Address {
    loop {
        // Senders must be EOAs (EIP-3607), so known contracts are never picked.
        let candidate = if rng.random_bool(0.2) {
            DEFAULT_SENDER
        } else {
            let mut bytes = [0u8; 20];
            rng.fill(&mut bytes);
            Address::from(bytes)
        };
        if dict.addresses.contains(&candidate) && candidate != DEFAULT_SENDER {
            continue;
        }
        let low = U256::from_be_slice(candidate.as_slice()) <= U256::from(0xffu64);
        if !low
            && candidate != CHEATCODE_ADDRESS
            && candidate != CONSOLE_ADDRESS
            && candidate != TEST_CONTRACT_ADDRESS
            && !excluded.contains(&candidate)
        {
            return candidate;
        }
    }
}
