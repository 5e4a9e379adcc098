//! Cheatcodes forge-std's helpers and Foundry users call: nonce reset,
//! seeded randomness (numbers, bytes, shuffles), files inside the project
//! root, `envOr` with arrays, JSON/TOML, keys and wallets, memory safety; and
//! what forja once skipped or lacked that needs no live chain (the Foundry
//! version, signed transactions, directories, the chain table, blocks and
//! blobs, allocs, ENS and P-256).
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use forja_tester::{
    config::TestConfig,
    filter::TestFilter,
    report::{TestRunReport, TestStatus},
    runner::run_tests,
};

/// Each of `tests` passed.
fn assert_pass(report: &TestRunReport, tests: &[&str]) {
    for &name in tests {
        let test = common::find_test(report, name);
        assert_eq!(test.status, TestStatus::Pass, "{name}: {:?}", test.reason);
    }
}

/// Each of `tests` failed, its reason holding the text given with it.
fn assert_fail(report: &TestRunReport, tests: &[(&str, &str)]) {
    for &(name, reason) in tests {
        let test = common::find_test(report, name);
        assert_eq!(test.status, TestStatus::Fail, "{name}");
        let actual = test.reason.clone().unwrap_or_default();
        assert!(actual.contains(reason), "{name}: {actual}");
    }
}

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
    assert_pass(
        &report,
        &[
            "test_ResetNonce()",
            "test_RandomWithSeed()",
            "test_FilesInsideTheRoot()",
            "test_RandomBitsBytesShuffleSort()",
            "test_EnvOrArrays()",
        ],
    );
    assert!(!root.path().join("cache/cheats/note.txt").exists());
    let outside = common::find_test(&report, "test_RevertWhen_ReadingOutsideTheRoot()");
    let reason = outside.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("is not allowed to be accessed for read operations"),
        "{reason}"
    );
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

/// The cheatcodes of `Formats.t.sol` pass and fail as in forge (Foundry's
/// `Json.t.sol`, `Toml.t.sol`, `Derive.t.sol`, `Wallet.t.sol`,
/// `MemSafety.t.sol` and `Fs.t.sol` cases).
#[test]
fn json_toml_keys_and_memory_safety_as_foundry() {
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("Foundry.toml"), "").unwrap();
    let config = TestConfig {
        fuzz_seed: Some(1),
        project_root: Some(root.path().to_path_buf()),
        filter: TestFilter::new(None, None, Some("FormatsTest"), None, None, None).unwrap(),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_ParseJsonAndToml()",
            "test_SerializeAndWriteJson()",
            "test_DeriveRememberAndCreateWallets()",
            "test_SafeMemoryAllowsWritesInRange()",
            "test_PausedGasMeteringCostsNothing()",
            "test_StringsCallersAndSnapshots()",
        ],
    );
    assert_fail(
        &report,
        &[
            (
                "test_RevertWhen_WritingTheConfig()",
                "access to Foundry.toml is not allowed",
            ),
            ("test_RevertWhen_JsonIsMalformed()", "failed parsing JSON"),
            (
                "test_RevertWhen_MemoryIsWrittenOutOfRange()",
                "memory write at offset 0xA0 of size 0x20 not allowed; safe range: [0x00, 0x60) U [0x80, 0xA0)",
            ),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("Foundry.toml")).unwrap(),
        ""
    );
}

/// `Assume.t.sol`: `assumeNoRevert` rejects the inputs whose next call
/// reverts as assumed and fails on any other revert; `toBase64`, `toRlp`,
/// `stopRecord`, `currentFilePath` and `mockCalls` as forge.
#[test]
fn assume_no_revert_and_smaller_cheatcodes_as_foundry() {
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let config = TestConfig {
        fuzz_seed: Some(1),
        filter: TestFilter::new(None, None, Some("AssumeTest"), None, None, None).unwrap(),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "testFuzz_AssumeAnyRevert(uint256)",
            "testFuzz_AssumeSelectorFromReverter(uint256)",
            "testFuzz_AssumePartialData(uint256)",
            "test_Base64()",
            "test_Rlp()",
            "test_StopRecord()",
            "test_CurrentFilePath()",
            "test_MockCalls()",
        ],
    );
    assert_fail(
        &report,
        &[
            ("test_RevertWhen_OtherRevert()", "Odd()"),
            ("test_RevertWhen_SecondCallReverts()", "Odd()"),
            (
                "test_RevertWhen_MockCallsHasNoOutput()",
                "vm.mockCalls: returnData holds no return data",
            ),
            (
                "test_RevertWhen_RlpIsMalformed()",
                "vm.fromRlp: failed to decode RLP",
            ),
        ],
    );
}

/// `ForgeStdHelpers.t.sol`: what forge-std's own suite needs, as forge does it
/// (cheatcode-only revert expectations, `resolveEnv`, `isContext`,
/// `copyFile`, a caught `assume`, the console address, the CREATE2 deployer).
#[test]
fn forge_std_helpers_as_foundry() {
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let root = tempfile::tempdir().unwrap();
    let config = TestConfig {
        fuzz_seed: Some(1),
        project_root: Some(root.path().to_path_buf()),
        filter: TestFilter::new(None, None, Some("ForgeStdHelpersTest"), None, None, None).unwrap(),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_ExpectCheatcodeRevertSkipsOrdinaryCalls()",
            "test_ResolveEnv()",
            "test_IsContext()",
            "test_CopyFile()",
            "test_AssumeCaughtByExpectRevertLetsTheTestGoOn()",
            "test_ConsoleAddressTakesNoValue()",
            "test_Create2DeployerIsThere()",
        ],
    );
    let test = common::find_test(&report, "test_RevertWhen_ExpectedCheatcodeDoesNotRevert()");
    assert_eq!(test.status, forja_tester::report::TestStatus::Fail);
    let reason = test.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("call did not revert as expected"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("cache/helpers/to.txt")).unwrap(),
        "copied"
    );
}

/// `StateDiff.t.sol`: state-diff and mapping recording, arbitrary storage,
/// `copyStorage`, `warmSlot`/`coolSlot`/`cool` and `dumpState` as forge
/// (Foundry's `RecordAccountAccesses.t.sol`, `Mapping.t.sol`,
/// `ArbitraryStorage.t.sol`, `CopyStorage.t.sol`, `StorageSlotState.t.sol`,
/// `Cool.t.sol` and `dumpState.t.sol` cases).
#[test]
fn state_diffs_mappings_and_storage_as_foundry() {
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let root = tempfile::tempdir().unwrap();
    let config = TestConfig {
        fuzz_seed: Some(1),
        project_root: Some(root.path().to_path_buf()),
        filter: TestFilter::new(None, None, Some("StateDiffTest"), None, None, None).unwrap(),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_RecordsCallsStorageAndResume()",
            "test_StateDiffTextAndJson()",
            "test_CreationsAndExtOpcodes()",
            "test_MappingRecording()",
            "test_ArbitraryStorage()",
            "test_ArbitraryStorageOverwrite()",
            "test_WarmAndCoolSlots()",
            "test_DumpState()",
        ],
    );
    assert!(root.path().join("cache/state.json").is_file());
    let copy = common::find_test(&report, "test_RevertWhen_CopyingOntoArbitraryStorage()");
    assert_eq!(copy.status, forja_tester::report::TestStatus::Fail);
    let reason = copy.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("target address cannot have arbitrary storage"),
        "{reason}"
    );
}

/// `Create.t.sol`: `deployCode` (constructor arguments, value, salt),
/// `getCode` by name, file and solc version, `expectCreate`/`expectCreate2`,
/// EIP-7702 delegations applied to the next call, pranks that follow
/// delegatecalls, broadcasts that spend the broadcaster's nonce, and inline
/// configuration (`/// forge-config:`) read from the test's source, as forge.
#[test]
fn creation_delegation_and_inline_config_as_foundry() {
    let project = common::fixtures_dir().join("cheats");
    let artifacts = common::compile(&project);
    let config = TestConfig {
        fuzz_seed: Some(1),
        // The source is read from here for its inline configuration.
        project_root: Some(project),
        filter: TestFilter::new(None, None, Some("CreateTest"), None, None, None).unwrap(),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_DeployCodeEveryOverload()",
            "test_GetCodeByNameFileAndVersion()",
            "test_ExpectCreateAndCreate2()",
            "test_DelegationRunsTheImplementation()",
            "test_BroadcastSpendsTheNonce()",
            "test_PrankFollowsDelegatecall()",
            "test_InlineAllowsInternalExpectRevert()",
            "test_Ed25519SignAndVerify()",
        ],
    );
    let fuzz = common::find_test(&report, "testFuzz_InlineRuns(uint256)");
    assert!(
        matches!(
            fuzz.kind,
            forja_tester::report::TestKind::Fuzz { runs: 3, .. }
        ),
        "{:?}",
        fuzz.kind
    );
    assert_fail(
        &report,
        &[
            (
                "test_RevertWhen_NoArtifact()",
                "vm.deployCode: no matching artifact found",
            ),
            (
                "test_RevertWhen_CreateNotSeen()",
                "expected CREATE2 call by address",
            ),
            (
                "test_InlineUnknownKey()",
                "Inline config error at test/Create.t.sol:181:5: `fuzz.runz` is not a setting forja knows",
            ),
        ],
    );
}

/// Semantics of existing cheatcodes as forge 1.7.1 has them: the relative
/// delta of `assertApproxEqRel` in 512 bits, an unused prank that may not be
/// replaced, `load`/`store`/`etch` refusing precompiles.
#[test]
fn existing_cheatcodes_behave_as_forge() {
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let config = TestConfig {
        fuzz_seed: Some(1),
        filter: TestFilter::new(None, None, Some("SemanticsTest"), None, None, None).unwrap(),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_ApproxEqRelWithoutOverflow()",
            "test_RevertWhen_OverwritingAnUnusedPrank()",
            "test_OverwritingAUsedPrank()",
            "test_RevertWhen_PrecompileIsAnArgument()",
        ],
    );
    let config = TestConfig {
        filter: TestFilter::new(None, None, Some("ReverterTest"), None, None, None).unwrap(),
        ..config
    };
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_ReverterOfANestedCreateIsTheCallee()",
            "test_ReverterOfACreateInAConstructorIsTheCreated()",
        ],
    );
    let config = TestConfig {
        filter: TestFilter::new(None, None, Some("MockSemanticsTest"), None, None, None).unwrap(),
        ..config
    };
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_MockAnswersADelegatecall()",
            "test_MockCallRevertMovesNoValue()",
        ],
    );
    let config = TestConfig {
        filter: TestFilter::new(None, None, Some("SignSemanticsTest"), None, None, None).unwrap(),
        ..config
    };
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(
        &report,
        &[
            "test_SignWithNonceRecovers()",
            "test_RevertWhen_NonceIsNoScalar()",
        ],
    );
    let config = TestConfig {
        filter: TestFilter::new(None, None, Some("EnvSemanticsTest"), None, None, None).unwrap(),
        ..config
    };
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(&report, &["test_RevertWhen_HexHasNoPrefix()"]);
    let config = TestConfig {
        filter: TestFilter::new(
            None,
            None,
            Some("BalanceInConstructorTest"),
            None,
            None,
            None,
        )
        .unwrap(),
        ..config
    };
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(&report, &["test_BalanceInConstructor()"]);
    let config = TestConfig {
        filter: TestFilter::new(None, None, Some("BaseFeeFromSetUpTest"), None, None, None)
            .unwrap(),
        ..config
    };
    let artifacts = common::compile(&common::fixtures_dir().join("cheats"));
    let report = run_tests(artifacts, &config, &|_| {});
    assert_pass(&report, &["test_BaseFeeFromSetUp()"]);
}

/// The cheatcode fixtures' contracts named by `contracts`, run with seed 1 in
/// `root`.
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
            "test_SleepWaitsAndWalletNonce()",
            "test_ExpectCallMetThroughADelegatecall()",
            "test_DecimalAndArrayAssertions()",
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
                "test_RevertWhen_DecimalsDiffer()",
                "assertion failed: 1.5 != 2.0",
            ),
            (
                "test_RevertWhen_ApproxDecimalsTooFar()",
                "far: -2.25 !~= 0.00 (max delta: 1.00, real delta: 2.25)",
            ),
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
