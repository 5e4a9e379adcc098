//! Test evidence: what a release bundle keeps of the report `forja test`
//! writes (`cache/test-report.json`, forja-tester's `TestReportFile`). Only a full, unfiltered, passing
//! run on a clean tree is evidence; a filtered run records its filter so
//! that it can be told apart and refused.

use std::path::{Path, PathBuf};

use alloy::primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

use crate::gate::{Gate, GateRefused};

pub use forja_tester::report::{TestReportFile, report_path};

/// Writes `report` as the project's test report, durably (temporary file,
/// fsync, rename), so a crash never leaves a torn report for a release to
/// read.
pub fn write_report(report: &TestReportFile, root: &Path) -> anyhow::Result<PathBuf> {
    let path = report_path(root);
    crate::fsutil::write_durably(&path, &report.to_bytes())?;
    Ok(path)
}

/// What a release keeps of its test run; the report itself is in the
/// bundle and hashes to `report_digest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub commit: String,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// keccak256 of the report file's bytes.
    pub report_digest: B256,
    pub runner_version: String,
}

/// Checks that `report` is evidence for `commit` and makes it one. Refusals
/// are the [`Gate::Evidence`] gate's.
pub fn evidence(report_bytes: &[u8], commit: &str, place: &Path) -> Result<Evidence, GateRefused> {
    let refuse = |reason: String| GateRefused::new(Gate::Evidence, reason);
    let fix = "run `forja test` (no --match-* options) on a clean tree at that commit";
    let report =
        TestReportFile::parse(report_bytes, place).map_err(|e| refuse(format!("{e:#}; {fix}")))?;
    if !report.filters.is_empty() {
        return Err(refuse(format!(
            "{} is from a filtered run ({}), which tests only part of the project; {fix}",
            place.display(),
            report.filters.join(" ")
        )));
    }
    if report.network {
        return Err(refuse(format!(
            "{} is from a `forja test --network` run; evidence is the full in-memory run; {fix}",
            place.display()
        )));
    }
    match report.commit.as_deref() {
        Some(tested) if tested == commit => {}
        tested => {
            return Err(refuse(format!(
                "the tests ran at commit {}, not {commit}; {fix}",
                tested.unwrap_or("(none: not a git repository)")
            )));
        }
    }
    if report.dirty != Some(false) {
        return Err(refuse(format!(
            "the tests ran with uncommitted changes; {fix}"
        )));
    }
    if report.failed > 0 {
        return Err(refuse(format!(
            "{} test(s) failed at {commit}: {}",
            report.failed,
            report.failing_tests.join(", ")
        )));
    }
    if report.passed == 0 {
        return Err(refuse(format!("the run at {commit} passed no tests")));
    }
    Ok(Evidence {
        commit: commit.to_string(),
        passed: report.passed,
        failed: report.failed,
        skipped: report.skipped,
        report_digest: keccak256(report_bytes),
        runner_version: report.forja_version,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A full passing run at `commit` (the other modules' tests use it too).
    pub(crate) fn passing(commit: &str) -> TestReportFile {
        TestReportFile {
            commit: Some(commit.into()),
            dirty: Some(false),
            timestamp: 1,
            passed: 4,
            failed: 0,
            skipped: 0,
            suites: 1,
            duration_secs: 0.1,
            failing_tests: vec![],
            filters: vec![],
            network: false,
            forja_version: "0.1.0".into(),
        }
    }

    fn check(report: &TestReportFile) -> Result<Evidence, GateRefused> {
        let bytes = serde_json::to_vec(report).unwrap();
        evidence(&bytes, "c0ffee", Path::new("test-report.json"))
    }

    #[test]
    fn only_a_full_passing_clean_run_at_the_commit_is_evidence() {
        let good = passing("c0ffee");
        let found = check(&good).unwrap();
        assert_eq!(found.passed, 4);
        assert_eq!(
            found.report_digest,
            keccak256(serde_json::to_vec(&good).unwrap())
        );

        let cases: [(TestReportFile, &str); 5] = [
            (
                TestReportFile {
                    filters: vec!["--match-test one".into()],
                    ..good.clone()
                },
                "filtered run (--match-test one)",
            ),
            (passing("beef"), "not c0ffee"),
            (
                TestReportFile {
                    dirty: Some(true),
                    ..good.clone()
                },
                "uncommitted changes",
            ),
            (
                TestReportFile {
                    failed: 1,
                    failing_tests: vec!["T::test_x()".into()],
                    ..good.clone()
                },
                "1 test(s) failed",
            ),
            (
                TestReportFile {
                    passed: 0,
                    ..good.clone()
                },
                "passed no tests",
            ),
        ];
        for (report, expected) in cases {
            let refused = check(&report).unwrap_err();
            assert_eq!(refused.gate, Gate::Evidence);
            assert!(refused.reason.contains(expected), "{}", refused.reason);
        }

        // A report without a recorded filter (older forja) is no evidence.
        let mut old = serde_json::to_value(&good).unwrap();
        old.as_object_mut().unwrap().remove("filters");
        let refused =
            evidence(old.to_string().as_bytes(), "c0ffee", Path::new("r.json")).unwrap_err();
        assert!(
            refused.reason.contains("not recorded"),
            "{}",
            refused.reason
        );
    }
}
