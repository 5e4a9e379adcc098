//! Runs the fixture project (every supported cheatcode, expected reverts and
//! emits, fuzzing with shrinking, invariants, permissioning, failure reasons)
//! and snapshots the deterministic parts of the results.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use std::sync::{Arc, OnceLock};

use forja_tester::{
    ArtifactSet,
    config::{TestConfig, TraceMode},
    filter::TestFilter,
    report::{TestKind, TestRunReport, TestStatus},
    runner::run_tests,
};

fn artifacts() -> Arc<ArtifactSet> {
    static ARTIFACTS: OnceLock<Arc<ArtifactSet>> = OnceLock::new();
    ARTIFACTS
        .get_or_init(|| common::compile(&common::fixtures_dir().join("project")))
        .clone()
}

fn config() -> TestConfig {
    TestConfig {
        fuzz_runs: 64,
        fuzz_seed: Some(1),
        invariant_runs: 16,
        invariant_depth: 16,
        ..Default::default()
    }
}

fn set_fixture_env() {
    // SAFETY: the values are constants and every test sets the same ones.
    unsafe {
        std::env::set_var("FORJA_FIXTURE_STRING", "hello");
        std::env::set_var("FORJA_FIXTURE_UINT", "0x10");
        std::env::set_var("FORJA_FIXTURE_BOOL", "true");
        std::env::set_var(
            "FORJA_FIXTURE_ADDRESS",
            "0x7109709ECfa91a80626fF3989D68f67F5b1DD12D",
        );
    }
}

/// Everything but timings and gas (which depend on the compiler's output).
fn summary(report: &TestRunReport) -> String {
    let mut out = String::new();
    for suite in &report.suites {
        out.push_str(&format!("{}\n", suite.contract));
        for test in &suite.tests {
            let status = match test.status {
                TestStatus::Pass => "PASS".to_string(),
                TestStatus::Skip => "SKIP".to_string(),
                TestStatus::Fail => format!("FAIL: {}", test.reason.clone().unwrap_or_default()),
            };
            let kind = match &test.kind {
                TestKind::Unit { .. } => String::new(),
                TestKind::Fuzz { runs, .. } => format!(" (runs: {runs})"),
                TestKind::Invariant { .. } => " (invariant)".to_string(),
            };
            out.push_str(&format!("  [{status}] {}{kind}\n", test.signature));
            if let Some(c) = &test.counterexample {
                if c.sequence.is_empty() {
                    out.push_str(&format!("      counterexample: {}\n", c.args));
                } else {
                    out.push_str(&format!("      sequence: {} calls\n", c.sequence.len()));
                }
            }
            for log in &test.logs {
                out.push_str(&format!("      {log}\n"));
            }
        }
    }
    out
}

#[test]
fn fixture_suite_outcomes() {
    set_fixture_env();
    let report = run_tests(artifacts(), &config(), &|_| {});
    insta::assert_snapshot!("fixture_suite", summary(&report));

    // Every cheatcode test passes; every test in FailuresTest fails.
    let cheats = report
        .suites
        .iter()
        .find(|s| s.name == "CheatsTest")
        .unwrap();
    assert_eq!(cheats.failed(), 0, "{}", summary(&report));
    assert_eq!(cheats.skipped(), 1);
    let failures = report
        .suites
        .iter()
        .find(|s| s.name == "FailuresTest")
        .unwrap();
    assert_eq!(failures.passed(), 0);

    // The shrinker finds the exact boundary.
    let fuzz = report.suites.iter().find(|s| s.name == "FuzzTest").unwrap();
    let shrunk = fuzz
        .tests
        .iter()
        .find(|t| t.signature.starts_with("testFuzzShrinksToBoundary"))
        .unwrap();
    assert_eq!(
        shrunk.counterexample.as_ref().unwrap().args,
        "testFuzzShrinksToBoundary(1000)"
    );

    // The invariant bug needs three deposits and a withdrawal: the shrunk sequence has four calls.
    let vault = report
        .suites
        .iter()
        .find(|s| s.name == "VaultInvariantTest")
        .unwrap();
    let sequence = &vault.tests[0].counterexample.as_ref().unwrap().sequence;
    assert_eq!(sequence.len(), 4, "{sequence:#?}");
    assert!(sequence[3].contains("Vault.withdraw"), "{sequence:#?}");
}

#[test]
fn filters_select_tests_and_contracts() {
    set_fixture_env();
    let filter = TestFilter::new(
        Some("Prank"),
        None,
        Some("^CheatsTest$"),
        None,
        Some("test/Cheats.t.sol"),
        None,
    )
    .unwrap();
    let report = run_tests(artifacts(), &TestConfig { filter, ..config() }, &|_| {});
    let names: Vec<&str> = report
        .suites
        .iter()
        .flat_map(|s| s.tests.iter().map(|t| t.signature.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            "testPrank()",
            "testPrankWithOrigin()",
            "testStartStopPrank()"
        ]
    );

    let bad = TestFilter::new(Some("("), None, None, None, None, None);
    assert!(bad.unwrap_err().to_string().contains("invalid pattern `(`"));
}

#[test]
fn failing_tests_get_decoded_traces() {
    set_fixture_env();
    let filter = TestFilter::new(
        Some("testCustomError|testSetUpRan"),
        None,
        None,
        None,
        None,
        None,
    )
    .unwrap();
    let report = run_tests(
        artifacts(),
        &TestConfig {
            filter,
            traces: TraceMode::Failures,
            ..config()
        },
        &|_| {},
    );
    let failing = common::find_test(&report, "testCustomError()");
    let passing = common::find_test(&report, "testSetUpRan()");
    assert!(passing.trace.is_none(), "traces only for failures at -vvv");
    let trace = failing.trace.as_ref().expect("failing test has a trace");
    // Gas figures depend on the compiler build; names, arguments and reverts do not.
    let trace = common::without_gas(trace);
    insta::assert_snapshot!("custom_error_trace", trace);
}

#[test]
fn gas_report_counts_calls_per_function() {
    set_fixture_env();
    let filter = TestFilter::new(
        Some("testExpectCallCount|testSetUpRan"),
        None,
        Some("^CheatsTest$"),
        None,
        None,
        None,
    )
    .unwrap();
    let report = run_tests(
        artifacts(),
        &TestConfig {
            filter,
            gas_report: true,
            ..config()
        },
        &|_| {},
    );
    let gas = report.gas_report.expect("requested");
    let counter = gas.get("Counter").expect("Counter is in the gas report");
    // setUp deploys and calls setNumber once; testExpectCallCount increments twice;
    // testSetUpRan reads number and owner.
    assert_eq!(counter.functions["increment()"].calls, 2);
    assert_eq!(counter.functions["setNumber(uint256)"].calls, 1);
    assert_eq!(counter.functions["owner()"].calls, 1);
    assert!(counter.deployment_gas > 100_000);
    assert!(counter.functions["increment()"].min > 0);
    assert!(
        !gas.contains_key("CheatsTest"),
        "the test contract is not reported"
    );
}

#[test]
fn fuzz_failures_are_persisted_and_replayed() {
    set_fixture_env();
    let dir = tempfile::tempdir().unwrap();
    let filter = TestFilter::new(
        Some("testFuzzShrinksToBoundary"),
        None,
        None,
        None,
        None,
        None,
    )
    .unwrap();
    let first = TestConfig {
        filter: filter.clone(),
        failure_dir: Some(dir.path().to_path_buf()),
        ..config()
    };
    let report = run_tests(artifacts(), &first, &|_| {});
    assert_eq!(report.failed(), 1);
    let saved =
        std::fs::read_to_string(dir.path().join("FuzzTest/testFuzzShrinksToBoundary")).unwrap();
    assert!(saved.starts_with("0x"));

    // A different seed still fails on the first run: the saved input is replayed first.
    let second = TestConfig {
        fuzz_runs: 1,
        fuzz_seed: Some(99),
        ..first
    };
    let report = run_tests(artifacts(), &second, &|_| {});
    let test = &report.suites[0].tests[0];
    assert_eq!(test.status, TestStatus::Fail);
    assert!(matches!(test.kind, TestKind::Fuzz { runs: 1, .. }));
    assert_eq!(
        test.counterexample.as_ref().unwrap().args,
        "testFuzzShrinksToBoundary(1000)"
    );
}

#[test]
fn junit_and_json_reports() {
    set_fixture_env();
    let filter = TestFilter::new(
        Some("testRevertString|testSetUpRan"),
        None,
        None,
        None,
        None,
        None,
    )
    .unwrap();
    let report = run_tests(artifacts(), &TestConfig { filter, ..config() }, &|_| {});
    let junit = report.to_junit();
    assert!(junit.contains("<testcase name=\"testRevertString()\""));
    assert!(junit.contains("<failure message=\"value must be positive\">"));
    let json = serde_json::to_value(&report).unwrap();
    let tests = json["suites"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["tests"].as_array().unwrap().clone());
    let statuses: Vec<String> = tests
        .map(|t| format!("{}={}", t["signature"], t["status"]))
        .collect();
    assert!(
        statuses.contains(&"\"testRevertString()\"=\"fail\"".to_string()),
        "{statuses:?}"
    );
}

#[test]
fn foundry_layout_artifacts_load_and_run() {
    set_fixture_env();
    // Write the fixture's artifacts in Foundry's layout, as `forja build` and `forge build` do.
    let out = tempfile::tempdir().unwrap();
    for contract in &artifacts().contracts {
        let file = std::path::Path::new(&contract.source).file_name().unwrap();
        let dir = out.path().join(file);
        std::fs::create_dir_all(&dir).unwrap();
        let json = serde_json::json!({
            "abi": contract.abi,
            "bytecode": { "object": alloy::primitives::hex::encode_prefixed(&contract.bytecode), "linkReferences": {} },
            "deployedBytecode": { "object": alloy::primitives::hex::encode_prefixed(&contract.deployed_bytecode) },
            "ast": { "absolutePath": contract.source },
        });
        std::fs::write(
            dir.join(format!("{}.json", contract.name)),
            json.to_string(),
        )
        .unwrap();
    }
    let loaded = ArtifactSet::load_foundry_out(out.path()).unwrap();
    assert_eq!(loaded.contracts.len(), artifacts().contracts.len());
    let counter = loaded.find("src/Counter.sol:Counter").unwrap().unwrap();
    assert_eq!(counter.source, "src/Counter.sol");
    assert!(loaded.find("Counter.sol:Counter").unwrap().is_some());

    let filter =
        TestFilter::new(None, None, Some("^PermissioningTest$"), None, None, None).unwrap();
    let report = run_tests(
        Arc::new(loaded),
        &TestConfig { filter, ..config() },
        &|_| {},
    );
    assert_eq!(report.passed(), 4, "{}", summary(&report));

    let broken = out.path().join("Broken.sol");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("Broken.json"), "{ not json").unwrap();
    let err = ArtifactSet::load_foundry_out(out.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Broken.json"), "{err}");
}

#[test]
fn internal_expect_revert_is_opt_in() {
    let filter = TestFilter::new(
        None,
        None,
        Some("^InternalExpectRevertTest$"),
        None,
        None,
        None,
    )
    .unwrap();
    let strict = run_tests(
        artifacts(),
        &TestConfig {
            filter: filter.clone(),
            ..config()
        },
        &|_| {},
    );
    assert_eq!(strict.failed(), 1);
    let lenient = TestConfig {
        filter,
        allow_internal_expect_revert: true,
        ..config()
    };
    let report = run_tests(artifacts(), &lenient, &|_| {});
    assert_eq!(report.passed(), 1, "{}", summary(&report));
}

#[test]
fn console_logs_appear_once_in_traces_by_their_line() {
    set_fixture_env();
    let filter = TestFilter::new(Some("^testConsoleLog$"), None, None, None, None, None).unwrap();
    let report = run_tests(
        artifacts(),
        &TestConfig {
            filter,
            traces: TraceMode::All,
            ..config()
        },
        &|_| {},
    );
    let test = common::find_test(&report, "testConsoleLog()");
    let trace = test.trace.as_ref().expect("-vvvv traces passing tests");
    let trace = common::without_gas(trace);
    insta::assert_snapshot!("console_log_trace", trace);
}

#[test]
fn fuzz_and_invariant_results_depend_on_the_seed_not_on_the_cores() {
    set_fixture_env();
    // What a run reports of each fuzz test, without timings.
    let fuzz_outcomes = |threads: usize| -> Vec<String> {
        let filter =
            TestFilter::new(None, None, Some("^FuzzTest$|Invariant"), None, None, None).unwrap();
        let report = run_tests(
            artifacts(),
            &TestConfig {
                filter,
                threads,
                ..config()
            },
            &|_| {},
        );
        report
            .suites
            .iter()
            .flat_map(|s| &s.tests)
            .map(|t| {
                format!(
                    "{} {:?} {:?} {:?} {:?}",
                    t.signature,
                    t.status,
                    t.kind,
                    t.reason,
                    t.counterexample
                        .as_ref()
                        .map(|c| (&c.calldata, &c.sequence))
                )
            })
            .collect()
    };
    let one_core = fuzz_outcomes(1);
    for kind in ["Fuzz", "Invariant"] {
        assert!(
            one_core
                .iter()
                .any(|t| t.contains("Fail") && t.contains(kind)),
            "the fixture has a failing {kind} test: {one_core:#?}"
        );
    }
    // Fuzz runs and invariant sequences are split over lanes run in
    // parallel; which lane's failure is reported, and the totals, must not
    // change with the threads.
    assert_eq!(one_core, fuzz_outcomes(3));
    assert_eq!(one_core, fuzz_outcomes(0));
}

#[test]
fn calls_refused_by_permissioning_or_mocked_are_not_in_the_gas_report() {
    set_fixture_env();
    let gas_of = |test: &str, contract: &str| {
        let filter = TestFilter::new(Some(test), None, Some(contract), None, None, None).unwrap();
        let report = run_tests(
            artifacts(),
            &TestConfig {
                filter,
                gas_report: true,
                ..config()
            },
            &|_| {},
        );
        report.gas_report.expect("requested")
    };
    // Two refused increments, then one that runs.
    let gas = gas_of(
        "^(testUnknownAccountIsRejected|testRemovedAccountIsRejected|testAllowlistedAccountTransacts)$",
        "^PermissioningTest$",
    );
    let increment = &gas["Counter"].functions["increment()"];
    assert_eq!(increment.calls, 1, "only the call that ran counts");
    assert!(increment.min > 20_000, "{}", increment.min);

    // The mocked oracle never runs: it has no code, and no row.
    let gas = gas_of("^testMockCall$", "^CheatsTest$");
    assert!(
        gas.values().all(|c| !c.functions.contains_key("price()")),
        "{:?}",
        gas.keys().collect::<Vec<_>>()
    );
}

#[test]
fn traces_show_labels_real_reverts_and_setup_as_forge_does() {
    set_fixture_env();
    let filter = TestFilter::new(None, None, Some("^TracesTest$"), None, None, None).unwrap();
    let report = run_tests(
        artifacts(),
        &TestConfig {
            filter,
            traces: TraceMode::All,
            ..config()
        },
        &|_| {},
    );
    let mut traces = String::new();
    for test in &report.suites[0].tests {
        traces.push_str(&format!("{}:\n", test.signature));
        traces.push_str(test.trace.as_deref().expect("-vvvv traces every test"));
        traces.push('\n');
    }
    insta::assert_snapshot!("forge_style_traces", common::without_gas(&traces));
}

#[test]
fn gas_snapshot_cheatcodes_record_values_by_group() {
    set_fixture_env();
    let filter = TestFilter::new(None, None, Some("^GasSnapshotsTest$"), None, None, None).unwrap();
    let report = run_tests(artifacts(), &TestConfig { filter, ..config() }, &|_| {});
    assert_eq!(report.failed(), 0, "{}", summary(&report));
    let files = forja_tester::gas_snapshot::group_files(&report);
    let groups: Vec<&str> = files.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(groups, ["GasSnapshotsTest", "Loops"]);
    let own: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&files[0].1).unwrap();
    assert_eq!(
        own.keys().collect::<Vec<_>>(),
        ["fromSetUp", "increment", "number"]
    );
    assert_eq!(own["fromSetUp"], "7");
    assert!(own["increment"].parse::<u64>().unwrap() > 20_000, "{own:?}");
    let loops: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&files[1].1).unwrap();
    assert_eq!(loops["x"], "45");
    assert!(loops["sum"].parse::<u64>().unwrap() > 0);
    assert!(files[0].1.starts_with("{\n  \"fromSetUp\": \"7\",\n"));
}

#[test]
fn fork_rpc_and_ffi_tests_are_skipped_with_the_reason() {
    set_fixture_env();
    let filter = TestFilter::new(
        None,
        None,
        Some("^(OutOfScopeTest|ForkInSetUpTest)$"),
        None,
        None,
        None,
    )
    .unwrap();
    let report = run_tests(artifacts(), &TestConfig { filter, ..config() }, &|_| {});
    let fork = common::find_test(&report, "testForkIsSkipped()");
    assert_eq!(fork.status, TestStatus::Skip);
    assert_eq!(
        fork.reason.as_deref(),
        Some(
            "needs forking or an RPC endpoint (vm.createSelectFork(string)), which forja test does not offer"
        )
    );
    let ffi = common::find_test(&report, "testFfiIsSkipped()");
    assert_eq!(ffi.status, TestStatus::Skip);
    assert!(
        ffi.reason
            .as_deref()
            .unwrap()
            .starts_with("runs external commands (vm.ffi(string[]))")
    );
    let header = common::find_test(&report, "testLiveChainDataIsSkipped()");
    assert_eq!(header.status, TestStatus::Skip);
    assert_eq!(
        header.reason.as_deref(),
        Some(
            "needs block headers of a live chain (vm.getRawBlockHeader(uint256)), which forja test does not offer"
        )
    );
    let setup = common::find_test(&report, "setUp()");
    assert_eq!(
        setup.status,
        TestStatus::Skip,
        "a fork in setUp skips the contract"
    );
    assert!(
        setup
            .reason
            .as_deref()
            .unwrap()
            .starts_with("needs forking")
    );
}
