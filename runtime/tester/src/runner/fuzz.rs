//! Fuzz tests: `test*(…)` called with generated inputs, split over lanes,
//! the failing input shrunk and persisted under `cache/fuzz/failures`.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier},
    json_abi::Function,
    primitives::{B256, Bytes, hex},
};
use rand::{SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use super::{FUZZ_LANES, SuiteRunner, lane_seed};
use crate::{
    config::TraceMode,
    decode::format_value,
    discovery::expects_failure,
    executor::CallResult,
    fuzz::{Dictionary, generate, shrink},
    outcome::{Verdict, failure_reason},
    report::{Counterexample, GasSamples, TestKind, TestResult, TestStatus},
};

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

impl SuiteRunner<'_> {
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

    pub(super) fn run_fuzz(&mut self, function: &Function) -> TestResult {
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
}
