//! The in-memory run: test contracts in parallel and, inside each, the test
//! functions in parallel, each on its own copy of the state after deployment
//! and `setUp()`.

use std::{
    borrow::Cow,
    collections::HashMap,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
    time::Instant,
};

use alloy::{
    json_abi::Function,
    primitives::{Address, B256, Bytes, U256},
};
use rayon::prelude::*;

mod fuzz;
mod invariant;
mod unit;

use crate::{
    artifacts::{ArtifactSet, ContractArtifact, LIBRARY_DEPLOYER},
    backend::Backend,
    config::{TestConfig, TraceMode},
    discovery::{TestShape, setup_function, test_contracts, test_functions},
    error::TesterError,
    executor::{CallOptions, CallResult, Executor, INITIAL_BALANCE},
    fuzz::Dictionary,
    inline_config::InlineConfig,
    inspector::GasSample,
    outcome::{Verdict, collect_gas, failure_reason, render_trace, suite_failure},
    report::{GasSamples, SuiteResult, TestKind, TestResult, TestRunReport, TestStatus},
    vm::{DEFAULT_SENDER, TEST_CONTRACT_ADDRESS},
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
    /// The run's settings with the contract's (and, for one test, the
    /// function's) inline configuration applied.
    config: Cow<'a, TestConfig>,
    /// State after deployment and `setUp`.
    base: Executor,
    address: Address,
    gas: GasSamples,
    code_names: HashMap<B256, Option<String>>,
}

/// Deploys `contract`, runs `setUp` and then each selected test.
fn run_suite(
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
    let inline = match inline_config(contract, config) {
        Ok(inline) => inline,
        Err(e) => {
            return (
                suite_failure(contract, "setUp()", e.to_string(), started.elapsed()),
                GasSamples::default(),
            );
        }
    };
    let run_config = config;
    let contract_config = match inline.apply(run_config, None) {
        Ok(config) if inline.applies_to(None) => Cow::Owned(config),
        Ok(_) => Cow::Borrowed(run_config),
        Err(e) => {
            return (
                suite_failure(contract, "setUp()", e.to_string(), started.elapsed()),
                GasSamples::default(),
            );
        }
    };
    let config: &TestConfig = &contract_config;
    let mut exec = Executor::new(Backend::empty(), artifacts.clone());
    exec.allow_internal_expect_revert = config.allow_internal_expect_revert;
    exec.cheats.create.set_modes(config);
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
    // The test contract has its balance while its constructor runs, as in
    // forge (Foundry's Issue6293.t.sol).
    exec.set_balance(DEFAULT_SENDER.create(nonce), INITIAL_BALANCE);
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
    exec.cheats.names.insert(address, contract.name.clone());

    let mut runner = SuiteRunner {
        artifacts: artifacts.clone(),
        contract,
        config: Cow::Borrowed(config),
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
            if inline.applies_to(Some(&function.name)) {
                match inline.apply(run_config, Some(&function.name)) {
                    Ok(own) => {
                        runner.base.allow_internal_expect_revert = own.allow_internal_expect_revert;
                        runner.base.cheats.create.set_modes(&own);
                        runner.config = Cow::Owned(own);
                    }
                    Err(e) => {
                        let mut failed =
                            TestResult::passing(function.signature(), TestKind::Unit { gas: 0 });
                        failed.status = TestStatus::Fail;
                        failed.reason = Some(e.to_string());
                        return (failed, runner.gas);
                    }
                }
            }
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

/// The inline configuration in `contract`'s source (none when the source
/// cannot be read: a build without its project, like a solc output).
fn inline_config(
    contract: &ContractArtifact,
    config: &TestConfig,
) -> Result<InlineConfig, crate::inline_config::InlineConfigError> {
    let Some(text) = config
        .project_root
        .as_ref()
        .and_then(|root| std::fs::read_to_string(root.join(&contract.source)).ok())
    else {
        return Ok(InlineConfig::default());
    };
    InlineConfig::parse(&contract.source, &text, &contract.name)
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

impl SuiteRunner<'_> {
    /// A copy of the post-setUp runner for one test, with no gas recorded yet.
    fn for_one_test(&self) -> Self {
        SuiteRunner {
            artifacts: self.artifacts.clone(),
            contract: self.contract,
            config: self.config.clone(),
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
        dict.excluded = (0..self.artifacts.libraries.len() as u64)
            .map(|nonce| LIBRARY_DEPLOYER.create(nonce))
            .collect();
        dict
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
