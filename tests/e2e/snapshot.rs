//! `forja snapshot`: writes `.gas-snapshot` in Foundry's format, `--check`
//! passes on an unchanged project and fails, naming the test, once a change
//! costs gas.

use super::{assert_success, forja, text};

#[test]
fn snapshot_check_passes_unchanged_and_fails_after_a_gas_change() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "hello"]));
    let project = tmp.path().join("hello");

    assert_success(&forja(&project, &["snapshot"]));
    let snapshot = std::fs::read_to_string(project.join(".gas-snapshot")).unwrap();
    let lines: Vec<&str> = snapshot.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("CounterTest:test_Increment() (gas: ")),
        "{snapshot}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("(uint256) (runs: 256, μ: ") && l.contains(", ~: ")),
        "fuzz tests get runs, mean and median: {snapshot}"
    );
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "lines are sorted");
    assert!(
        !snapshot.ends_with('\n'),
        "no final newline, as forge writes it"
    );

    assert_success(&forja(&project, &["snapshot", "--check"]));

    // One more storage write per increment.
    let source = project.join("src/Counter.sol");
    let code = std::fs::read_to_string(&source).unwrap().replace(
        "        number++;\n",
        "        number++;\n        number = number + 0;\n",
    );
    std::fs::write(&source, code).unwrap();
    let check = forja(&project, &["snapshot", "--check"]);
    let out = text(&check);
    assert_eq!(check.status.code(), Some(1), "{out}");
    assert!(
        out.contains("Diff in \"CounterTest::test_Increment()\": consumed \"(gas: "),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".gas-snapshot")).unwrap(),
        snapshot,
        "--check does not write"
    );
    // A 50% tolerance accepts the change; --diff reports it without failing.
    assert_success(&forja(
        &project,
        &["snapshot", "--check", "--tolerance", "50"],
    ));
    let diff = forja(&project, &["snapshot", "--diff"]);
    assert_success(&diff);
    assert!(
        text(&diff).contains("↑ CounterTest::test_Increment() (gas: "),
        "{}",
        text(&diff)
    );
}
