//! Invariant tests: `invariant*()` / `statefulFuzz*()` checked after random
//! call sequences to the targets forge-std's `StdInvariant` declares, split
//! over lanes; a breaking sequence is shrunk.

use std::sync::atomic::{AtomicU32, Ordering};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue, FunctionExt, JsonAbiExt, Specifier},
    json_abi::{Function, StateMutability},
    primitives::{Address, Bytes, U256, hex},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use super::{FUZZ_LANES, SuiteRunner, lane_seed};
use crate::{
    artifacts::ContractArtifact,
    config::TraceMode,
    decode::format_value,
    executor::{CallOptions, Executor},
    fuzz::{Dictionary, generate},
    outcome::{failure_reason, render_trace},
    report::{Counterexample, TestKind, TestResult, TestStatus},
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS, DEFAULT_SENDER, TEST_CONTRACT_ADDRESS},
};

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

    pub(super) fn run_invariant(&mut self, invariant: &Function) -> TestResult {
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
