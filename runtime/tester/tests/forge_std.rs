//! forge-std 1.1.2 (npm `forge-std@1.1.2`, an unofficial distribution of
//! Foundry's standard library, built on ds-test) runs its own test suite on
//! forja: the library sources go to `src/`, its tests to `test/` with their
//! `../Test.sol` import pointed at `../src/Test.sol`.
//!
//! Needs `npm` and the npm registry (CI has both); without them it fails
//! under `CI=true` and elsewhere prints SKIPPED.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use std::process::Command;

use forja_tester::{config::TestConfig, report::TestStatus, runner::run_tests};

#[test]
fn forge_std_own_suite_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let packed = Command::new("npm")
        .args(["pack", "forge-std@1.1.2", "--silent"])
        .current_dir(tmp.path())
        .status();
    if !packed.is_ok_and(|status| status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and `npm pack forge-std@1.1.2` failed"
        );
        println!(
            "SKIPPED forge_std_own_suite_runs: `npm pack forge-std@1.1.2` failed (no npm or no registry)"
        );
        return;
    }
    let status = Command::new("tar")
        .args(["xzf", "forge-std-1.1.2.tgz"])
        .current_dir(tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
    let package = tmp.path().join("package");
    let project = tmp.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::create_dir_all(project.join("test")).unwrap();
    for entry in std::fs::read_dir(&package).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "sol") {
            std::fs::copy(&path, project.join("src").join(path.file_name().unwrap())).unwrap();
        }
    }
    for entry in std::fs::read_dir(package.join("test")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path())
            .unwrap()
            .replace("\"../Test.sol\"", "\"../src/Test.sol\"");
        std::fs::write(project.join("test").join(entry.file_name()), text).unwrap();
    }
    let ds_test = common::fixtures_dir().join("ds-test");
    let artifacts = common::compile_with(&project, &["src", "test"], &[("ds-test/", &ds_test)]);
    // forge-std 1.1.2 predates Foundry 1.0: some tests expect reverts of internal calls.
    let config = TestConfig {
        fuzz_seed: Some(7),
        allow_internal_expect_revert: true,
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    println!(
        "forge-std 1.1.2: {} suites, {} passed, {} failed, {} skipped",
        report.suites.len(),
        report.passed(),
        report.failed(),
        report.skipped()
    );
    for suite in &report.suites {
        for test in suite.tests.iter().filter(|t| t.status == TestStatus::Fail) {
            println!(
                "  FAIL {}::{} — {}",
                suite.name,
                test.signature,
                test.reason.clone().unwrap_or_default()
            );
        }
    }
    assert!(report.suites.len() >= 5);
    assert_eq!(report.failed(), 0, "forge-std's own tests all pass");
}
