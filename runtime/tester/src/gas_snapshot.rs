//! Foundry's `.gas-snapshot` file: one line per passing test,
//! `Contract:test() (gas: N)` (fuzz: `(runs: N, μ: N, ~: N)`, invariant:
//! `(runs: N, calls: N, reverts: N)`), lines sorted as strings and joined
//! without a final newline, as `forge snapshot` writes it.

use std::{collections::HashMap, sync::LazyLock};

use regex::Regex;

use crate::report::{TestKind, TestRunReport, TestStatus};

/// One line of a `.gas-snapshot`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Test contract name.
    pub contract: String,
    /// Test signature, `test_x(uint256)`.
    pub signature: String,
    /// The figures.
    pub kind: TestKind,
}

impl SnapshotEntry {
    /// `Contract:signature`, as the snapshot and its messages name a test.
    pub fn test_name(&self) -> String {
        format!("{}::{}", self.contract, self.signature)
    }
}

/// The entries of a run: every test that did not fail.
pub fn entries(report: &TestRunReport) -> Vec<SnapshotEntry> {
    report
        .suites
        .iter()
        .flat_map(|suite| {
            suite
                .tests
                .iter()
                .filter(|t| t.status != TestStatus::Fail)
                .map(|t| SnapshotEntry {
                    contract: suite.name.clone(),
                    signature: t.signature.clone(),
                    kind: t.kind.clone(),
                })
        })
        .collect()
}

/// The files `vm.startSnapshotGas` & co write, as forge writes them:
/// `(group, contents)` for `snapshots/<group>.json`, each a pretty-printed
/// object of name → value (a string), names sorted, no final newline.
pub fn group_files(report: &TestRunReport) -> Vec<(String, String)> {
    let mut groups: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, &str>> =
        Default::default();
    for test in report.suites.iter().flat_map(|s| &s.tests) {
        for (group, values) in &test.gas_snapshots {
            let entries = groups.entry(group).or_default();
            for (name, value) in values {
                entries.insert(name, value);
            }
        }
    }
    groups
        .into_iter()
        .map(|(group, values)| {
            let json = serde_json::to_string_pretty(&values).expect("strings serialize");
            (group.to_string(), json)
        })
        .collect()
}

/// The file's text.
pub fn render(entries: &[SnapshotEntry]) -> String {
    let mut lines: Vec<String> = entries
        .iter()
        .map(|e| format!("{}:{} {}", e.contract, e.signature, e.kind))
        .collect();
    lines.sort();
    lines.join("\n")
}

// forge's own pattern for a line, so that files it wrote parse the same.
static LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<file>.*?):(?P<sig>\w+\s*\(.*?\))\s*\((?:(?:gas:)?\s*(?P<gas>\d+)|runs:\s*(?P<runs>\d+),\s*μ:\s*(?P<avg>\d+),\s*~:\s*(?P<med>\d+)|runs:\s*(?P<invruns>\d+),\s*calls:\s*(?P<calls>\d+),\s*reverts:\s*(?P<reverts>\d+))\)",
    )
    .expect("valid pattern")
});

/// A line of a snapshot file that is not an entry.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: `{text}` is not a gas snapshot entry")]
pub struct SnapshotLineError {
    /// The line's number, from 1.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
}

/// Parses a snapshot file; an unreadable line is an error naming its number.
pub fn parse(text: &str) -> Result<Vec<SnapshotEntry>, SnapshotLineError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let captures = LINE.captures(line).ok_or_else(|| SnapshotLineError {
            line: index + 1,
            text: line.to_string(),
        })?;
        let number = |name: &str| -> u64 {
            captures
                .name(name)
                .and_then(|m| m.as_str().parse().ok())
                .unwrap_or(0)
        };
        let kind = if captures.name("gas").is_some() {
            TestKind::Unit { gas: number("gas") }
        } else if captures.name("runs").is_some() {
            TestKind::Fuzz {
                runs: number("runs") as u32,
                mean_gas: number("avg"),
                median_gas: number("med"),
            }
        } else {
            TestKind::Invariant {
                runs: number("invruns") as u32,
                calls: number("calls"),
                reverts: number("reverts"),
            }
        };
        entries.push(SnapshotEntry {
            contract: captures["file"].to_string(),
            signature: captures["sig"].to_string(),
            kind,
        });
    }
    Ok(entries)
}

/// How a test's figures compare with the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// In the snapshot, with the figures it had then.
    Changed {
        /// The test.
        entry: SnapshotEntry,
        /// The snapshot's figures.
        expected: TestKind,
    },
    /// Not in the snapshot.
    New(SnapshotEntry),
}

/// Pairs this run's entries with the snapshot's, in the run's order.
pub fn compare(current: &[SnapshotEntry], snapshot: &[SnapshotEntry]) -> Vec<Comparison> {
    let expected: HashMap<(&str, &str), &TestKind> = snapshot
        .iter()
        .map(|e| ((e.contract.as_str(), e.signature.as_str()), &e.kind))
        .collect();
    current
        .iter()
        .map(
            |entry| match expected.get(&(entry.contract.as_str(), entry.signature.as_str())) {
                Some(kind) => Comparison::Changed {
                    entry: entry.clone(),
                    expected: (*kind).clone(),
                },
                None => Comparison::New(entry.clone()),
            },
        )
        .collect()
}

/// Whether two gas figures are equal, or within `tolerance` percent of the
/// larger one (`forge snapshot --check --tolerance`).
pub(crate) fn within_tolerance(current: u64, expected: u64, tolerance: Option<u32>) -> bool {
    match tolerance {
        None => current == expected,
        Some(tolerance) => {
            let (high, low) = (current.max(expected), current.min(expected));
            if high == 0 {
                return true;
            }
            (1.0 - low as f64 / high as f64) * 100.0 < f64::from(tolerance)
        }
    }
}

/// The differences `--check` reports, as forge words them; empty when the
/// run matches the snapshot.
pub fn check(
    current: &[SnapshotEntry],
    snapshot: &[SnapshotEntry],
    tolerance: Option<u32>,
) -> Vec<String> {
    compare(current, snapshot)
        .into_iter()
        .filter_map(|comparison| match comparison {
            Comparison::Changed { entry, expected } => (!within_tolerance(
                entry.kind.compared_gas(),
                expected.compared_gas(),
                tolerance,
            ))
            .then(|| {
                format!(
                    "Diff in \"{}\": consumed \"{}\" gas, expected \"{expected}\" gas",
                    entry.test_name(),
                    entry.kind
                )
            }),
            Comparison::New(entry) => Some(format!(
                "No matching snapshot entry found for \"{}\" in snapshot file",
                entry.test_name()
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(contract: &str, signature: &str, kind: TestKind) -> SnapshotEntry {
        SnapshotEntry {
            contract: contract.into(),
            signature: signature.into(),
            kind,
        }
    }

    #[test]
    fn renders_sorted_and_parses_back() {
        let entries = vec![
            entry("B", "test_b()", TestKind::Unit { gas: 10 }),
            entry(
                "A",
                "testFuzz_x(uint256)",
                TestKind::Fuzz {
                    runs: 256,
                    mean_gas: 30,
                    median_gas: 29,
                },
            ),
            entry(
                "A",
                "invariant_y()",
                TestKind::Invariant {
                    runs: 256,
                    calls: 128000,
                    reverts: 3,
                },
            ),
        ];
        let text = render(&entries);
        assert_eq!(
            text,
            "A:invariant_y() (runs: 256, calls: 128000, reverts: 3)\n\
             A:testFuzz_x(uint256) (runs: 256, μ: 30, ~: 29)\n\
             B:test_b() (gas: 10)"
        );
        let mut parsed = parse(&text).unwrap();
        parsed.sort_by_key(|e| e.contract.clone() + &e.signature);
        let mut expected = entries.clone();
        expected.sort_by_key(|e| e.contract.clone() + &e.signature);
        assert_eq!(parsed, expected);
        assert_eq!(
            parse("A:test() (gas: 1)\nnot a line")
                .unwrap_err()
                .to_string(),
            "line 2: `not a line` is not a gas snapshot entry"
        );
    }

    #[test]
    fn check_reports_changes_beyond_the_tolerance_and_new_tests() {
        let snapshot = vec![entry("A", "test_a()", TestKind::Unit { gas: 1000 })];
        let same = vec![entry("A", "test_a()", TestKind::Unit { gas: 1000 })];
        assert!(check(&same, &snapshot, None).is_empty());
        let dearer = vec![
            entry("A", "test_a()", TestKind::Unit { gas: 1040 }),
            entry("A", "test_new()", TestKind::Unit { gas: 5 }),
        ];
        assert_eq!(
            check(&dearer, &snapshot, None),
            vec![
                "Diff in \"A::test_a()\": consumed \"(gas: 1040)\" gas, expected \"(gas: 1000)\" gas"
                    .to_string(),
                "No matching snapshot entry found for \"A::test_new()\" in snapshot file".to_string(),
            ]
        );
        assert_eq!(
            check(&dearer[..1], &snapshot, Some(5)),
            Vec::<String>::new()
        );
        assert_eq!(check(&dearer[..1], &snapshot, Some(3)).len(), 1);
    }
}
