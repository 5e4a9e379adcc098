//! One test contract on the network: every test function gets its own
//! deployment, `setUp()` and call, all submitted first and judged after.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier},
    json_abi::Function,
    primitives::{B256, Bytes, TxKind, hex},
};
use rand::{SeedableRng, rngs::StdRng};

use super::{
    INCLUSION_TIMEOUT,
    chain::{Chain, Instance, Refusal},
};
use crate::{
    artifacts::{ArtifactSet, ContractArtifact},
    config::{TestConfig, TraceMode},
    decode::format_value,
    discovery::{TestShape, expects_failure, setup_function, test_functions},
    error::TesterError,
    executor::CallResult,
    fuzz::{Dictionary, generate},
    outcome::{Verdict, collect_gas, failure_reason, render_trace, suite_failure},
    report::{Counterexample, GasSamples, SuiteResult, TestKind, TestResult, TestStatus},
};

/// Transactions in flight at once (below the pool's nonce-gap bound).
const MAX_IN_FLIGHT: usize = 512;

/// What a test function needs run.
enum Planned {
    Unit(Instance),
    Fuzz(Vec<(Vec<DynSolValue>, Instance)>),
    Refused(TestResult),
}

pub(super) struct SuiteOnNetwork<'a> {
    pub(super) artifacts: &'a Arc<ArtifactSet>,
    pub(super) contract: &'a ContractArtifact,
    pub(super) config: &'a TestConfig,
    pub(super) fuzz_runs: u32,
    pub(super) gas: GasSamples,
    pub(super) code_names: HashMap<B256, Option<String>>,
}

impl SuiteOnNetwork<'_> {
    pub(super) fn run(&mut self, chain: &mut Chain) -> Result<SuiteResult, TesterError> {
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
                        refusal.to_string(),
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
    ) -> Result<Instance, Refusal> {
        // Bound what is in flight: the pool refuses nonces too far ahead.
        while in_flight.len() + 3 > MAX_IN_FLIGHT {
            let Some(hash) = in_flight.pop_front() else {
                break;
            };
            let deadline = Instant::now() + INCLUSION_TIMEOUT;
            while chain.node.read().receipt(hash).is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let contract = self.contract;
        let sender = chain.sender;
        let refused = |what: String| {
            move |source| Refusal {
                what,
                sender,
                source: Box::new(source),
            }
        };
        let address = sender.create(chain.nonce);
        let deploy = chain
            .submit(TxKind::Create, contract.bytecode.clone())
            .map_err(refused(format!("the deployment of {}", contract.name)))?;
        let setup = match setup_function(contract) {
            Some(setup) => Some(
                chain
                    .submit(
                        TxKind::Call(address),
                        Bytes::from(setup.selector().to_vec()),
                    )
                    .map_err(refused(format!("{}.setUp()", contract.name)))?,
            ),
            None => None,
        };
        let call = chain
            .submit(TxKind::Call(address), data)
            .map_err(refused(format!("a call to {}", contract.name)))?;
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
    ) -> Result<Planned, Refusal> {
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
