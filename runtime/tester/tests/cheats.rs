//! Cheatcodes forge-std's helpers and Foundry users call: nonce reset,
//! seeded randomness (numbers, bytes, shuffles), files inside the project
//! root, `envOr` with arrays.

mod common;

use forja_tester::{config::TestConfig, runner::run_tests};

#[test]
fn reset_nonce_random_and_files_as_foundry() {
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let root = tempfile::tempdir().unwrap();
    let config = TestConfig {
        fuzz_seed: Some(1),
        project_root: Some(root.path().to_path_buf()),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    for passing in [
        "test_ResetNonce()",
        "test_RandomWithSeed()",
        "test_FilesInsideTheRoot()",
        "test_RandomBitsBytesShuffleSort()",
        "test_EnvOrArrays()",
    ] {
        let test = common::find_test(&report, passing);
        assert_eq!(
            test.status,
            forja_tester::report::TestStatus::Pass,
            "{passing}: {:?}",
            test.reason
        );
    }
    assert!(!root.path().join("cache/cheats/note.txt").exists());
    let outside = common::find_test(&report, "test_RevertWhen_ReadingOutsideTheRoot()");
    let reason = outside.reason.clone().unwrap_or_default();
    assert!(reason.contains("outside the project root"), "{reason}");
    let inverted = common::find_test(&report, "test_RevertWhen_RandomRangeIsInverted()");
    let reason = inverted.reason.clone().unwrap_or_default();
    assert!(reason.contains("min 2 is greater than max 1"), "{reason}");
    let bits = common::find_test(&report, "test_RevertWhen_TooManyBits()");
    let reason = bits.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("vm.randomUint: number of bits cannot exceed 256"),
        "{reason}"
    );
}
