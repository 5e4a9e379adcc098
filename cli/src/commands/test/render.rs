//! Foundry-style text rendering of test results and gas reports.

use std::{collections::BTreeMap, io::Write};

use forja_tester::{
    ArtifactSet,
    report::{ContractGasReport, TestRunReport, TestStatus},
};

use super::{paint, test_line};

/// Prints each suite, its failures' details, and the summary.
pub(super) fn render_report(
    out: &mut impl Write,
    report: &TestRunReport,
    verbosity: u8,
    color: bool,
) -> std::io::Result<()> {
    for suite in &report.suites {
        writeln!(
            out,
            "\nRan {} test{} for {}",
            suite.tests.len(),
            plural(suite.tests.len()),
            suite.contract
        )?;
        for test in &suite.tests {
            writeln!(out, "{}", test_line(test, color))?;
            let failed = test.status == TestStatus::Fail;
            if let Some(c) = test
                .counterexample
                .as_ref()
                .filter(|c| !c.sequence.is_empty())
            {
                writeln!(out, "        [Sequence] ({})", c.args)?;
                for call in &c.sequence {
                    writeln!(out, "                {call}")?;
                }
            }
            if (failed || verbosity >= 2) && !test.logs.is_empty() {
                writeln!(out, "Logs:")?;
                for line in &test.logs {
                    writeln!(out, "  {line}")?;
                }
            }
            if let Some(trace) = &test.trace {
                writeln!(out, "Traces:")?;
                for line in trace.lines() {
                    if line.is_empty() {
                        writeln!(out)?;
                    } else {
                        writeln!(out, "  {line}")?;
                    }
                }
            }
            if (failed || verbosity >= 2) && (!test.logs.is_empty() || test.trace.is_some()) {
                writeln!(out)?;
            }
        }
        let ok = suite.failed() == 0;
        writeln!(
            out,
            "Suite result: {}. {} passed; {} failed; {} skipped; finished in {:.2?}",
            if ok {
                paint("ok", "32", color)
            } else {
                paint("FAILED", "31", color)
            },
            suite.passed(),
            suite.failed(),
            suite.skipped(),
            suite.duration
        )?;
    }
    let total = report.passed() + report.failed() + report.skipped();
    writeln!(
        out,
        "\nRan {} test suite{} in {:.2?}: {} tests passed, {} failed, {} skipped ({} total tests)",
        report.suites.len(),
        plural(report.suites.len()),
        report.duration,
        paint(&report.passed().to_string(), "32", color),
        paint(
            &report.failed().to_string(),
            if report.failed() > 0 { "31" } else { "32" },
            color
        ),
        report.skipped(),
        total
    )?;
    if report.failed() > 0 {
        writeln!(out, "\nFailing tests:")?;
        for suite in report.suites.iter().filter(|s| s.failed() > 0) {
            writeln!(
                out,
                "Encountered {} failing test{} in {}",
                suite.failed(),
                plural(suite.failed()),
                suite.contract
            )?;
            for test in suite.tests.iter().filter(|t| t.status == TestStatus::Fail) {
                writeln!(out, "{}", test_line(test, color))?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "Encountered a total of {} failing test{}, {} test{} succeeded",
            report.failed(),
            plural(report.failed()),
            report.passed(),
            plural(report.passed())
        )?;
    }
    Ok(())
}

/// Prints one table per contract: deployment cost/size, then min/avg/median/max/calls per function.
pub(super) fn render_gas_report(
    out: &mut impl Write,
    report: &BTreeMap<String, ContractGasReport>,
    artifacts: &ArtifactSet,
) -> std::io::Result<()> {
    for (contract, gas) in report {
        let qualified = artifacts
            .contracts
            .iter()
            .find(|c| &c.name == contract)
            .map(|c| c.qualified_name())
            .unwrap_or_else(|| contract.clone());
        let mut rows: Vec<[String; 6]> = vec![
            [
                format!("{qualified} contract"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            [
                "Deployment Cost".into(),
                "Deployment Size".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            [
                gas.deployment_gas.to_string(),
                gas.deployment_size.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            [
                "Function Name".into(),
                "min".into(),
                "avg".into(),
                "median".into(),
                "max".into(),
                "# calls".into(),
            ],
        ];
        for (function, stats) in &gas.functions {
            let name = function.split('(').next().unwrap_or(function).to_string();
            rows.push([
                name,
                stats.min.to_string(),
                stats.avg.to_string(),
                stats.median.to_string(),
                stats.max.to_string(),
                stats.calls.to_string(),
            ]);
        }
        let widths: Vec<usize> = (0..6)
            .map(|i| {
                rows.iter()
                    .skip(1)
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let widths: Vec<usize> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    (*w).max(rows[0][0].chars().count())
                } else {
                    *w
                }
            })
            .collect();
        writeln!(out)?;
        crate::render::markdown_table(out, &rows, &widths)?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use forja_tester::report::{
        Counterexample, SuiteResult, TestKind, TestResult, TestRunReport, TestStatus,
    };

    use super::render_report;

    fn test(
        signature: &str,
        status: TestStatus,
        reason: Option<&str>,
        kind: TestKind,
    ) -> TestResult {
        TestResult {
            signature: signature.into(),
            status,
            reason: reason.map(Into::into),
            kind,
            counterexample: None,
            logs: vec![],
            trace: None,
            duration: Duration::from_millis(1),
            gas_snapshots: Default::default(),
        }
    }

    #[test]
    fn renders_like_forge() {
        let mut fuzz = test(
            "testFuzz(uint256)",
            TestStatus::Fail,
            Some("value too large: 1000 >= 1000"),
            TestKind::Fuzz {
                runs: 3,
                mean_gas: 4000,
                median_gas: 4001,
            },
        );
        fuzz.counterexample = Some(Counterexample {
            calldata: "0xabcdef".into(),
            args: "testFuzz(1000)".into(),
            sequence: vec![],
        });
        fuzz.logs = vec!["x is 1000".into()];
        let mut failing = test(
            "testBad()",
            TestStatus::Fail,
            Some("numbers differ: 1 != 2"),
            TestKind::Unit { gas: 21 },
        );
        failing.trace = Some("[21] T::testBad()\n└─ ← [Revert] numbers differ: 1 != 2\n".into());
        let suite = SuiteResult {
            contract: "test/T.t.sol:T".into(),
            name: "T".into(),
            source: "test/T.t.sol".into(),
            tests: vec![
                test(
                    "testOk()",
                    TestStatus::Pass,
                    None,
                    TestKind::Unit { gas: 1234 },
                ),
                failing,
                fuzz,
                test(
                    "testSkipped()",
                    TestStatus::Skip,
                    None,
                    TestKind::Unit { gas: 0 },
                ),
                test(
                    "invariantX()",
                    TestStatus::Pass,
                    None,
                    TestKind::Invariant {
                        runs: 256,
                        calls: 128000,
                        reverts: 7,
                    },
                ),
            ],
            duration: Duration::from_millis(5),
        };
        let report = TestRunReport {
            suites: vec![suite],
            duration: Duration::from_millis(6),
            gas_report: None,
        };
        let mut out = Vec::new();
        render_report(&mut out, &report, 0, false).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }
}
