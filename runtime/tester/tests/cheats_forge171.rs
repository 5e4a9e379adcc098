//! Cheatcodes of forge 1.7.1 that forja once skipped or lacked and that need
//! no live chain: the Foundry version, signed transactions, directories,
//! the chain table, blocks and blobs, allocs, ENS and P-256.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use forja_tester::{
    config::TestConfig,
    filter::TestFilter,
    report::{TestRunReport, TestStatus},
    runner::run_tests,
};

fn run(contracts: &str, root: &std::path::Path) -> TestRunReport {
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let config = TestConfig {
        fuzz_seed: Some(1),
        project_root: Some(root.to_path_buf()),
        filter: TestFilter::new(None, None, Some(contracts), None, None, None).unwrap(),
        ..Default::default()
    };
    run_tests(artifacts, &config, &|_| {})
}

fn assert_pass(report: &TestRunReport, tests: &[&str]) {
    for &name in tests {
        let test = common::find_test(report, name);
        assert_eq!(test.status, TestStatus::Pass, "{name}: {:?}", test.reason);
    }
}

fn assert_fail(report: &TestRunReport, tests: &[(&str, &str)]) {
    for &(name, reason) in tests {
        let test = common::find_test(report, name);
        assert_eq!(test.status, TestStatus::Fail, "{name}");
        let actual = test.reason.clone().unwrap_or_default();
        assert!(actual.contains(reason), "{name}: {actual}");
    }
}

/// `Forge171.t.sol`: what forge 1.7.1 answers, with forja's build metadata
/// in the version, files only inside the project root.
#[test]
fn version_directories_chains_blocks_allocs_and_keys_as_forge() {
    let root = tempfile::tempdir().unwrap();
    let report = run("Forge171Test", root.path());
    assert_pass(
        &report,
        &[
            "test_FoundryVersionIs171()",
            "test_DirectoriesInsideTheRoot()",
            "test_ChainTable()",
            "test_BlockhashAndBlobs()",
            "test_LoadAllocsAndCloneAccount()",
            "test_EnsP256AndLogsJson()",
            "test_AttachBlobThenBroadcast()",
        ],
    );
    assert_fail(
        &report,
        &[
            (
                "test_RevertWhen_VersionHasPreRelease()",
                "invalid version `1.0.0-nightly`: pre-release versions are not supported",
            ),
            (
                "test_RevertWhen_ReadDirOutsideTheRoot()",
                "the path /etc is not allowed to be accessed for read operations",
            ),
            (
                "test_RevertWhen_AllocsFileIsMissing()",
                "allocs file does not exist: cache/no-such-allocs.json",
            ),
            (
                "test_RevertWhen_BlobAndDelegationTogether()",
                "both delegation and blob are active",
            ),
        ],
    );
    assert!(!root.path().join("cache/dirs").exists());
}

/// `SignedTx.t.sol`: signed transactions decoded, checked and run on the
/// test's state.
#[test]
fn signed_transactions_run_on_the_tests_state_as_forge() {
    let root = tempfile::tempdir().unwrap();
    let report = run("SignedTxTest", root.path());
    assert_pass(
        &report,
        &[
            "test_BroadcastRawTransactionPaysItsGas()",
            "test_ExecuteTransactionRunsItFree()",
        ],
    );
    assert_fail(
        &report,
        &[
            (
                "test_RevertWhen_ExecutedOutOfNonceOrder()",
                "transaction validation error: nonce 1 too high",
            ),
            (
                "test_RevertWhen_SignedForAnotherChain()",
                "transaction validation error: invalid chain ID",
            ),
            (
                "test_RevertWhen_NotATransaction()",
                "failed to decode RLP-encoded transaction",
            ),
        ],
    );
}
