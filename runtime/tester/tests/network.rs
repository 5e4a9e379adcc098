//! `--network` mode: the fixture suite as real transactions on a 4-validator
//! QBFT network with permissioning on.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use alloy::primitives::Address;
use forja_runtime::{NetworkConfig, permissions::AccessLevel};
use forja_tester::{
    ArtifactSet,
    config::TestConfig,
    filter::TestFilter,
    network::{NetworkTestOptions, default_network, run_tests_on_network},
    report::{SuiteResult, TestKind, TestResult, TestRunReport, TestStatus},
    runner::run_tests,
};

fn artifacts() -> Arc<ArtifactSet> {
    static ARTIFACTS: OnceLock<Arc<ArtifactSet>> = OnceLock::new();
    ARTIFACTS
        .get_or_init(|| common::compile(&common::fixtures_dir().join("network")))
        .clone()
}

fn config(match_contract: &str) -> TestConfig {
    TestConfig {
        fuzz_runs: 16,
        fuzz_seed: Some(7),
        filter: TestFilter::new(None, None, Some(match_contract), None, None, None).unwrap(),
        ..Default::default()
    }
}

fn suite<'a>(report: &'a TestRunReport, name: &str) -> &'a SuiteResult {
    report
        .suites
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no suite {name} in {report:#?}"))
}

fn test<'a>(suite: &'a SuiteResult, signature: &str) -> &'a TestResult {
    suite
        .tests
        .iter()
        .find(|t| t.signature == signature)
        .unwrap_or_else(|| panic!("no test {signature} in {suite:#?}"))
}

fn status(suite: &SuiteResult, signature: &str) -> (TestStatus, Option<String>) {
    let test = test(suite, signature);
    (test.status, test.reason.clone())
}

fn dev_account(index: usize) -> Address {
    NetworkConfig::default().dev_accounts().unwrap()[index].address()
}

#[test]
fn suite_passes_as_transactions_committed_on_every_validator() {
    let run = run_tests_on_network(
        artifacts(),
        &config(".*"),
        NetworkTestOptions::default(),
        &|_| {},
    )
    .unwrap();
    let report = &run.report;

    let boxes = suite(report, "BoxTest");
    for test in &boxes.tests {
        assert_eq!(test.status, TestStatus::Pass, "{test:#?}");
    }
    assert_eq!(boxes.tests.len(), 6);
    let assertions = test(boxes, "test_Assertions()");
    assert_eq!(assertions.logs, vec!["stored 7".to_string()]);
    assert!(matches!(assertions.kind, TestKind::Unit { gas } if gas > 0));
    let fuzz = test(boxes, "testFuzz_Store(uint256)");
    assert!(
        matches!(fuzz.kind, TestKind::Fuzz { runs: 16, .. }),
        "{fuzz:#?}"
    );

    let carried = suite(report, "CarriedSetUpTest");
    assert_eq!(
        status(carried, "test_LevelsFromSetUpApply()"),
        (TestStatus::Pass, None)
    );
    assert_eq!(
        status(carried, "test_WarpFromSetUpApplies()"),
        (TestStatus::Pass, None)
    );

    // A failed assertion fails its test only: the `failed` flag a test
    // leaves on the chain does not leak into the next one.
    let failing = suite(report, "FailingTest");
    assert_eq!(
        status(failing, "test_AssertionFails()"),
        (TestStatus::Fail, Some("one is not two: 1 != 2".into()))
    );
    assert_eq!(
        status(failing, "test_SoftFailure()"),
        (TestStatus::Fail, Some("assertion failed".into()))
    );
    assert_eq!(
        status(failing, "test_ThenOthersStillPass()"),
        (TestStatus::Pass, None)
    );

    let (snapshot, reason) = status(suite(report, "SnapshotTest"), "test_Snapshot()");
    assert_eq!(snapshot, TestStatus::Fail);
    assert!(
        reason
            .as_deref()
            .unwrap()
            .contains("cheatcode snapshotState is not supported with --network"),
        "{reason:?}"
    );

    // The same verdicts as in memory, but for the snapshot cheatcodes.
    let memory = run_tests(artifacts(), &config(".*"), &|_| {});
    for suite in &memory.suites {
        for test in &suite.tests {
            let on_network = status(self::suite(report, &suite.name), &test.signature);
            if suite.name == "SnapshotTest" {
                assert_eq!(test.status, TestStatus::Pass, "{test:#?}");
            } else {
                assert_eq!(on_network, (test.status, test.reason.clone()), "{test:#?}");
            }
        }
    }

    // Every transaction is in a block that every validator committed.
    let network = &run.network;
    let head = network.node(0).read().block_number();
    assert!(head >= 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    for node in network.nodes() {
        while node.read().block_number() < head {
            assert!(
                Instant::now() < deadline,
                "node {} stays behind",
                node.index()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            node.read().block_by_number(head).unwrap().hash,
            network.node(0).read().block_by_number(head).unwrap().hash
        );
    }
    // deployment + setUp + test per unit test, 3 per fuzz run
    assert!(run.transactions.len() >= 3 * (5 + 16));
    for hash in &run.transactions {
        for node in network.nodes() {
            let receipt = node
                .read()
                .receipt(*hash)
                .unwrap_or_else(|| panic!("node {} has no receipt for {hash}", node.index()));
            assert_eq!(receipt.from, run.sender);
        }
    }
    network.shutdown();
}

#[test]
fn a_deployer_without_deploy_rights_fails_on_the_network_only() {
    // In memory the forja cheatcodes model permissioning; nothing stops the
    // test contract's deployment.
    let memory = run_tests(artifacts(), &config("^BoxTest$"), &|_| {});
    assert_eq!(memory.failed(), 0, "{memory:#?}");

    // On a network whose allowlist lets dev account 0 only transact.
    let mut network = default_network();
    network.permissioning.admins = vec![dev_account(1)];
    network
        .permissioning
        .accounts
        .insert(dev_account(0), AccessLevel::Transact);
    let options = NetworkTestOptions {
        network,
        ..Default::default()
    };
    let run = run_tests_on_network(artifacts(), &config("^BoxTest$"), options, &|_| {}).unwrap();
    let boxes = suite(&run.report, "BoxTest");
    assert_eq!(boxes.tests.len(), 1, "{boxes:#?}");
    let (status, reason) = status(boxes, "setUp()");
    assert_eq!(status, TestStatus::Fail);
    let reason = reason.unwrap();
    assert!(
        reason.contains(&format!(
            "the network refused the deployment of BoxTest from {}",
            dev_account(0)
        )) && reason.contains("is transact, which may not deploy contracts"),
        "{reason}"
    );
    run.network.shutdown();
}

#[test]
fn a_test_contract_over_the_code_size_limit_is_explained() {
    // Over EIP-170's 24576 bytes: fine in memory (as in forge), refused by
    // the network's rules.
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("test")).unwrap();
    let filler = "ab".repeat(25_000);
    std::fs::write(
        project.path().join("test/Huge.t.sol"),
        format!(
            "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\
             import {{Test}} from \"forja-std/Test.sol\";\n\
             contract HugeTest is Test {{\n\
                 function filler() public pure returns (bytes memory) {{ return hex\"{filler}\"; }}\n\
                 function test_Nothing() public pure {{}}\n\
             }}\n"
        ),
    )
    .unwrap();
    let std_dir = forja_tester::materialize_forja_std(&project.path().join("std")).unwrap();
    let artifacts = common::compile_with(project.path(), &["test"], &[("forja-std/", &std_dir)]);

    let memory = run_tests(artifacts.clone(), &config(".*"), &|_| {});
    assert_eq!(memory.failed(), 0, "{memory:#?}");

    let run = run_tests_on_network(
        artifacts,
        &config(".*"),
        NetworkTestOptions::default(),
        &|_| {},
    )
    .unwrap();
    let (status, reason) = status(suite(&run.report, "HugeTest"), "setUp()");
    assert_eq!(status, TestStatus::Fail);
    let reason = reason.unwrap();
    assert!(
        reason.starts_with("HugeTest is ")
            && reason.contains("bytes of runtime code, over the network's 24576-byte limit"),
        "{reason}"
    );
    run.network.shutdown();
}
