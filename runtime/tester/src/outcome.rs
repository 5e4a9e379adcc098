//! What a test call's result becomes: its [`Verdict`], the failure reason in
//! words, its rendered trace and its gas samples. The in-memory runner and
//! `--network` judge alike through this module.

use std::{collections::HashMap, time::Duration};

use alloy::primitives::{B256, hex};

use crate::{
    artifacts::{ArtifactSet, ContractArtifact},
    decode::decode_revert,
    executor::CallResult,
    inspector::GasSample,
    report::{GasSamples, SuiteResult, TestKind, TestResult, TestStatus},
    trace::TraceDecoder,
};

/// Outcome of evaluating one test call.
pub(crate) enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
    /// `vm.assume` rejected the input.
    Rejected,
}

impl Verdict {
    /// Judges a test call: `skipped` is `vm.skip`'s reason and `rejected`
    /// whether `vm.assume` rejected the input, as the call left them;
    /// `expect_fail` is a `testFail*` test.
    pub(crate) fn judge(
        artifacts: &ArtifactSet,
        call: &CallResult,
        skipped: Option<String>,
        rejected: bool,
        expect_fail: bool,
    ) -> Self {
        if let Some(reason) = skipped {
            return Verdict::Skip(reason);
        }
        // A rejection counts when its revert ended the test, as in Foundry:
        // one caught by `expectRevert` or `try` lets the test go on.
        if rejected
            && !call.success
            && call.output == crate::decode::encode_error_string(crate::vm::ASSUME_MAGIC)
        {
            return Verdict::Rejected;
        }
        let failed = !call.success || call.failed_flag;
        match (failed, expect_fail) {
            (false, false) | (true, true) => Verdict::Pass,
            (false, true) => {
                Verdict::Fail("test was expected to fail (testFail prefix) but passed".into())
            }
            (true, false) => Verdict::Fail(failure_reason(artifacts, call)),
        }
    }

    /// Records the verdict of a unit test's only call in `result`.
    pub(crate) fn record_unit(self, result: &mut TestResult) {
        match self {
            Verdict::Pass => {}
            Verdict::Skip(reason) => {
                result.status = TestStatus::Skip;
                result.reason = (!reason.is_empty()).then_some(reason);
            }
            Verdict::Fail(reason) => {
                result.status = TestStatus::Fail;
                result.reason = Some(reason);
            }
            Verdict::Rejected => {
                result.status = TestStatus::Skip;
                result.reason = Some("vm.assume rejected the only input of a unit test".into());
            }
        }
    }
}

/// Why a call failed, in words.
pub(crate) fn failure_reason(artifacts: &ArtifactSet, call: &CallResult) -> String {
    if !call.record.failures.is_empty() {
        return call.record.failures.join("; ");
    }
    if let Some(halt) = &call.halt {
        return format!("EvmError: {halt}");
    }
    if !call.success {
        return decode_revert(&call.output, artifacts.contracts.iter().map(|c| &c.abi));
    }
    if call.failed_flag {
        return "assertion failed".to_string();
    }
    "passed".to_string()
}

/// A call's trace, rendered as forge renders it.
pub(crate) fn render_trace(artifacts: &ArtifactSet, call: &CallResult) -> String {
    TraceDecoder::new(artifacts, call.record.names.clone()).render(&call.record.trace)
}

/// A suite that failed as a whole (deployment, libraries or `setUp`): one
/// failing entry named `signature`.
pub(crate) fn suite_failure(
    contract: &ContractArtifact,
    signature: &str,
    reason: String,
    duration: Duration,
) -> SuiteResult {
    SuiteResult {
        contract: contract.qualified_name(),
        name: contract.name.clone(),
        source: contract.source.clone(),
        tests: vec![TestResult {
            signature: signature.to_string(),
            status: TestStatus::Fail,
            reason: Some(reason),
            kind: TestKind::Unit { gas: 0 },
            counterexample: None,
            logs: vec![],
            trace: None,
            duration,
            gas_snapshots: Default::default(),
        }],
        duration,
    }
}

/// Adds gas samples of a test contract's calls to `gas`, naming callees
/// from the artifacts (`code_names` caches code hash → contract).
pub(crate) fn collect_gas(
    artifacts: &ArtifactSet,
    test_contract: &str,
    code_names: &mut HashMap<B256, Option<String>>,
    gas: &mut GasSamples,
    samples: &[GasSample],
) {
    for sample in samples {
        let contract = match (&sample.contract, &sample.code) {
            (Some(name), _) => Some(name.clone()),
            (None, Some((hash, code))) => code_names
                .entry(*hash)
                .or_insert_with(|| artifacts.identify_runtime(code).map(|c| c.name.clone()))
                .clone(),
            _ => None,
        };
        let Some(contract) = contract else { continue };
        if contract == test_contract {
            continue;
        }
        match (sample.selector, sample.deploy_size) {
            (_, Some(size)) => {
                gas.deployments
                    .entry(contract)
                    .or_default()
                    .push((sample.gas, size));
            }
            (Some(selector), None) => {
                let function = artifacts
                    .contracts
                    .iter()
                    .find(|c| c.name == contract)
                    .and_then(|c| c.abi.functions().find(|f| f.selector().0 == selector))
                    .map(|f| f.signature())
                    .unwrap_or_else(|| hex::encode_prefixed(selector));
                gas.calls
                    .entry(contract)
                    .or_default()
                    .entry(function)
                    .or_default()
                    .push(sample.gas);
            }
            (None, None) => {}
        }
    }
}
