//! `forja coverage` on a new project: forge's summary table, an LCOV file
//! for the project's own contracts only, and `--match-test` narrowing what
//! counts as covered.

use super::{assert_success, forja, text};

#[test]
fn coverage_of_a_new_project_as_summary_and_lcov() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "hello", "--no-git"]));
    let project = tmp.path().join("hello");

    let run = forja(
        &project,
        &["coverage", "--report", "summary", "--report", "lcov"],
    );
    assert_success(&run);
    let out = text(&run);
    assert!(
        out.contains("| File ") && out.contains("| % Lines ") && out.contains("| % Funcs "),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("| src/Counter.sol "))
        .unwrap_or_else(|| panic!("no row for src/Counter.sol: {out}"));
    assert_eq!(row.matches("100.00%").count(), 4, "{row}");
    assert!(!out.contains("forja-std"), "libraries are left out: {out}");
    // The coverage build has its own output directory.
    assert!(!project.join("out").exists());

    let lcov = std::fs::read_to_string(project.join("lcov.info")).unwrap();
    assert!(lcov.starts_with("TN:\nSF:src/Counter.sol\n"), "{lcov}");
    assert_eq!(lcov.matches("end_of_record").count(), 1, "{lcov}");
    assert!(lcov.contains("FNDA:1,Counter.constructor\n"), "{lcov}");

    // Only test_Increment: setNumber never runs.
    let narrowed = forja(
        &project,
        &[
            "coverage",
            "--report",
            "lcov",
            "--report-file",
            "cov/only.info",
            "--match-test",
            "test_Increment$",
        ],
    );
    assert_success(&narrowed);
    let lcov = std::fs::read_to_string(project.join("cov/only.info")).unwrap();
    assert!(lcov.contains("FNDA:0,Counter.setNumber\n"), "{lcov}");
    assert!(lcov.contains("FNDA:1,Counter.increment\n"), "{lcov}");

    let refused = forja(&project, &["coverage", "--network"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("--network"), "{}", text(&refused));
}
