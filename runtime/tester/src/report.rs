//! Results of a test run, gas reports, their JSON/JUnit renderings, and
//! the test report file (`cache/test-report.json`) a run leaves behind.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::error::TesterError;

/// `cache/test-report.json`: what `forja test` records of its last run. A
/// release keeps it as the evidence that its tests passed (forja-deploy's
/// `evidence` decides what counts); this type is the file's one owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReportFile {
    /// HEAD when the tests ran.
    pub commit: Option<String>,
    /// Whether the work tree had changes outside forja's records.
    pub dirty: Option<bool>,
    pub timestamp: u64,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub suites: usize,
    pub duration_secs: f64,
    pub failing_tests: Vec<String>,
    /// The selection options the run had (`--match-test RE`, …); empty for a
    /// full run. Missing in old reports, which count as filtered.
    #[serde(default = "unknown_filter")]
    pub filters: Vec<String>,
    /// Whether the tests ran as transactions on a network (`--network`).
    #[serde(default)]
    pub network: bool,
    /// The forja (test runner) version.
    pub forja_version: String,
}

fn unknown_filter() -> Vec<String> {
    vec!["(not recorded: a report from an older forja)".into()]
}

/// Where a project's test report lives.
pub fn report_path(root: &Path) -> PathBuf {
    root.join("cache").join("test-report.json")
}

impl TestReportFile {
    /// The file's contents (pretty JSON and a final newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut json = serde_json::to_string_pretty(self).expect("a report serialises");
        json.push('\n');
        json.into_bytes()
    }

    /// Reads a report; `place` names the file in the error.
    pub fn parse(bytes: &[u8], place: &Path) -> Result<Self, TesterError> {
        serde_json::from_slice(bytes).map_err(|source| TesterError::Report {
            path: place.to_path_buf(),
            source,
        })
    }
}

/// Outcome of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Skipped with `vm.skip(true)`.
    Skip,
}

/// Kind-specific figures of a test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TestKind {
    /// A test without parameters.
    Unit {
        /// Gas used.
        gas: u64,
    },
    /// A fuzz test.
    Fuzz {
        /// Runs executed.
        runs: u32,
        /// Mean gas per run.
        mean_gas: u64,
        /// Median gas per run.
        median_gas: u64,
    },
    /// An invariant test.
    Invariant {
        /// Sequences executed.
        runs: u32,
        /// Calls made.
        calls: u64,
        /// Calls that reverted.
        reverts: u64,
    },
}

impl TestKind {
    /// A fuzz test's kind from its runs and their gas (sorted here), with
    /// the mean and median gas shown after it.
    pub(crate) fn fuzz(runs: u32, gas: &mut [u64]) -> Self {
        gas.sort_unstable();
        let mean = match gas.len() {
            0 => 0,
            n => gas.iter().sum::<u64>() / n as u64,
        };
        TestKind::Fuzz {
            runs,
            mean_gas: mean,
            median_gas: gas.get(gas.len() / 2).copied().unwrap_or(0),
        }
    }
}

/// Foundry's figures after a test's name: `(gas: N)`, `(runs: N, μ: N, ~: N)`,
/// `(runs: N, calls: N, reverts: N)`, as `forge test` and `.gas-snapshot`
/// write them.
impl std::fmt::Display for TestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestKind::Unit { gas } => write!(f, "(gas: {gas})"),
            TestKind::Fuzz {
                runs,
                mean_gas,
                median_gas,
            } => write!(f, "(runs: {runs}, μ: {mean_gas}, ~: {median_gas})"),
            TestKind::Invariant {
                runs,
                calls,
                reverts,
            } => write!(f, "(runs: {runs}, calls: {calls}, reverts: {reverts})"),
        }
    }
}

impl TestKind {
    /// The gas figure snapshots compare: a unit test's gas, a fuzz test's
    /// median, 0 for an invariant test (as forge does).
    pub fn compared_gas(&self) -> u64 {
        match self {
            TestKind::Unit { gas } => *gas,
            TestKind::Fuzz { median_gas, .. } => *median_gas,
            TestKind::Invariant { .. } => 0,
        }
    }
}

/// A failing fuzz input or call sequence.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// Calldata of the failing call, hex.
    pub calldata: String,
    /// `name(arg, …)` with decoded arguments.
    pub args: String,
    /// For invariants: the sequence of calls (`sender → Contract.fn(args)`).
    pub sequence: Vec<String>,
}

/// Result of one test function.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    /// Signature, e.g. `testIncrement()`.
    pub signature: String,
    /// Pass, fail or skip.
    pub status: TestStatus,
    /// Why it failed (decoded revert, assertion message) or was skipped.
    pub reason: Option<String>,
    /// Figures.
    #[serde(flatten)]
    pub kind: TestKind,
    /// Failing input, for fuzz and invariant tests.
    pub counterexample: Option<Counterexample>,
    /// `console.log` lines and ds-test log events.
    pub logs: Vec<String>,
    /// Rendered call trace (when traces were requested).
    pub trace: Option<String>,
    /// Wall time.
    #[serde(serialize_with = "serialize_duration")]
    pub duration: Duration,
    /// Gas snapshots the test took (`vm.snapshotValue` & co): group → name → value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub gas_snapshots: BTreeMap<String, BTreeMap<String, String>>,
}

impl TestResult {
    /// A passing result for `signature` with nothing recorded yet: runners
    /// start from it and fill in what the test does.
    pub(crate) fn passing(signature: String, kind: TestKind) -> Self {
        Self {
            signature,
            status: TestStatus::Pass,
            reason: None,
            kind,
            counterexample: None,
            logs: vec![],
            trace: None,
            duration: Duration::ZERO,
            gas_snapshots: BTreeMap::new(),
        }
    }
}

/// Results of one test contract.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteResult {
    /// `path:Name`.
    pub contract: String,
    /// Contract name.
    pub name: String,
    /// Source path.
    pub source: String,
    /// Test results, in execution order.
    pub tests: Vec<TestResult>,
    /// Wall time of the suite (deployment, setUp and tests).
    #[serde(serialize_with = "serialize_duration")]
    pub duration: Duration,
}

impl SuiteResult {
    /// Number of passed tests.
    pub fn passed(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == TestStatus::Pass)
            .count()
    }
    /// Number of failed tests.
    pub fn failed(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == TestStatus::Fail)
            .count()
    }
    /// Number of skipped tests.
    pub fn skipped(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == TestStatus::Skip)
            .count()
    }
}

/// Gas figures of one function in the gas report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GasStats {
    /// Calls.
    pub calls: u64,
    /// Minimum.
    pub min: u64,
    /// Mean.
    pub avg: u64,
    /// Median.
    pub median: u64,
    /// Maximum.
    pub max: u64,
}

impl GasStats {
    /// Computes figures from samples.
    pub(crate) fn from_samples(samples: &mut [u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&g| g as u128).sum();
        Self {
            calls: samples.len() as u64,
            min: samples[0],
            avg: (sum / samples.len() as u128) as u64,
            median: samples[samples.len() / 2],
            max: samples[samples.len() - 1],
        }
    }
}

/// Gas report of one contract.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ContractGasReport {
    /// Deployment gas (mean).
    pub deployment_gas: u64,
    /// Deployment init code size.
    pub deployment_size: usize,
    /// Per function signature.
    pub functions: BTreeMap<String, GasStats>,
}

/// Raw gas samples, gathered across suites.
#[derive(Clone, Debug, Default)]
pub(crate) struct GasSamples {
    /// contract → function → gas per call.
    pub(crate) calls: BTreeMap<String, BTreeMap<String, Vec<u64>>>,
    /// contract → (gas, size) per deployment.
    pub(crate) deployments: BTreeMap<String, Vec<(u64, usize)>>,
}

impl GasSamples {
    /// Adds another set of samples.
    pub(crate) fn merge(&mut self, other: GasSamples) {
        for (contract, functions) in other.calls {
            let entry = self.calls.entry(contract).or_default();
            for (function, gas) in functions {
                entry.entry(function).or_default().extend(gas);
            }
        }
        for (contract, deployments) in other.deployments {
            self.deployments
                .entry(contract)
                .or_default()
                .extend(deployments);
        }
    }

    /// Aggregates into a report.
    pub(crate) fn report(&self) -> BTreeMap<String, ContractGasReport> {
        let mut report: BTreeMap<String, ContractGasReport> = BTreeMap::new();
        for (contract, functions) in &self.calls {
            let entry = report.entry(contract.clone()).or_default();
            for (function, gas) in functions {
                entry
                    .functions
                    .insert(function.clone(), GasStats::from_samples(&mut gas.clone()));
            }
        }
        for (contract, deployments) in &self.deployments {
            let entry = report.entry(contract.clone()).or_default();
            if !deployments.is_empty() {
                entry.deployment_gas =
                    deployments.iter().map(|d| d.0).sum::<u64>() / deployments.len() as u64;
                entry.deployment_size = deployments[0].1;
            }
        }
        report
    }
}

/// Everything a `forja test` run produced.
#[derive(Clone, Debug, Serialize)]
pub struct TestRunReport {
    /// Per contract, in a stable order.
    pub suites: Vec<SuiteResult>,
    /// Wall time.
    #[serde(serialize_with = "serialize_duration")]
    pub duration: Duration,
    /// Gas report, when requested.
    pub gas_report: Option<BTreeMap<String, ContractGasReport>>,
}

impl TestRunReport {
    /// Total passed.
    pub fn passed(&self) -> usize {
        self.suites.iter().map(SuiteResult::passed).sum()
    }
    /// Total failed.
    pub fn failed(&self) -> usize {
        self.suites.iter().map(SuiteResult::failed).sum()
    }
    /// Total skipped.
    pub fn skipped(&self) -> usize {
        self.suites.iter().map(SuiteResult::skipped).sum()
    }

    /// JUnit XML, as CI systems read it.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"forja test\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
            self.passed() + self.failed() + self.skipped(),
            self.failed(),
            self.skipped(),
            self.duration.as_secs_f64()
        ));
        for suite in &self.suites {
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
                xml_escape(&suite.contract),
                suite.tests.len(),
                suite.failed(),
                suite.skipped(),
                suite.duration.as_secs_f64()
            ));
            for test in &suite.tests {
                out.push_str(&format!(
                    "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                    xml_escape(&test.signature),
                    xml_escape(&suite.contract),
                    test.duration.as_secs_f64()
                ));
                match test.status {
                    TestStatus::Pass => out.push_str("/>\n"),
                    TestStatus::Skip => out.push_str(">\n      <skipped/>\n    </testcase>\n"),
                    TestStatus::Fail => {
                        let reason = test.reason.clone().unwrap_or_default();
                        let mut body = test.logs.join("\n");
                        if let Some(c) = &test.counterexample {
                            body.push_str(&format!("\ncounterexample: {}", c.args));
                        }
                        out.push_str(&format!(
                            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                            xml_escape(&reason),
                            xml_escape(&body)
                        ));
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
