//! The settings of a test run.

use std::{path::PathBuf, sync::Arc};

use alloy::{json_abi::Function, primitives::keccak256};
use rand::Rng;

use crate::{
    artifacts::ContractArtifact, coverage::CoverageCollector, filter::TestFilter,
    report::TestStatus,
};

/// When to record call traces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceMode {
    /// Never.
    #[default]
    Never,
    /// For failing tests (`-vvv`).
    Failures,
    /// For every test (`-vvvv`).
    All,
}

impl TraceMode {
    /// Whether a test that ended with `status` gets a trace.
    pub(crate) fn wants(self, status: TestStatus) -> bool {
        match self {
            TraceMode::Never => false,
            TraceMode::Failures => status == TestStatus::Fail,
            TraceMode::All => true,
        }
    }
}

/// Settings of a test run.
#[derive(Clone, Debug)]
pub struct TestConfig {
    /// Fuzz runs per fuzz test.
    pub fuzz_runs: u32,
    /// Seed of the fuzzer (random when `None`).
    pub fuzz_seed: Option<u64>,
    /// Rejected inputs (`vm.assume`) allowed before a fuzz test fails.
    pub fuzz_max_rejects: u32,
    /// Call sequences per invariant.
    pub invariant_runs: u32,
    /// Calls per sequence.
    pub invariant_depth: u32,
    /// Fail invariant campaigns when a target call reverts.
    pub invariant_fail_on_revert: bool,
    /// When to record traces.
    pub traces: TraceMode,
    /// Gather a gas report.
    pub gas_report: bool,
    /// Which tests to run.
    pub filter: TestFilter,
    /// Directory to persist fuzz counterexamples in (`cache/fuzz/failures`).
    pub failure_dir: Option<PathBuf>,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// Test directory (relative source prefix); contracts there or in
    /// `*.t.sol` files are test contracts.
    pub test_dir: String,
    /// Let `expectRevert` match reverts of the test function itself
    /// (Foundry's `allow_internal_expect_revert`; off by default as in Foundry 1.x).
    pub allow_internal_expect_revert: bool,
    /// Every call the test contract (or a pranked sender) makes is a
    /// transaction of its own, spending the sender's nonce (forge's
    /// `isolate`, as far as forja models it: see `cheatcodes_create`).
    pub isolate: bool,
    /// CREATE2 from the test contract goes through the deterministic CREATE2
    /// deployer, as forge's `always_use_create_2_factory`.
    pub always_use_create_2_factory: bool,
    /// Collect instruction hits here (`forja coverage`).
    pub coverage: Option<Arc<CoverageCollector>>,
    /// The project root: `vm.projectRoot`, and the only directory the file
    /// cheatcodes may read or write under.
    pub project_root: Option<PathBuf>,
}

impl Default for TestConfig {
    fn default() -> Self {
        Self {
            fuzz_runs: 256,
            fuzz_seed: None,
            fuzz_max_rejects: 65_536,
            invariant_runs: 256,
            invariant_depth: 500,
            invariant_fail_on_revert: false,
            traces: TraceMode::Never,
            gas_report: false,
            filter: TestFilter::default(),
            failure_dir: None,
            threads: 0,
            test_dir: "test".into(),
            allow_internal_expect_revert: false,
            isolate: false,
            always_use_create_2_factory: false,
            coverage: None,
            project_root: None,
        }
    }
}

impl TestConfig {
    /// The fuzzer's seed for one test: the run's seed (random when not given)
    /// mixed with the test's name, so tests of one run draw different inputs.
    pub(crate) fn seed_for(&self, contract: &ContractArtifact, function: &Function) -> u64 {
        let base = self.fuzz_seed.unwrap_or_else(|| rand::rng().random());
        let tag = keccak256(format!(
            "{}:{}",
            contract.qualified_name(),
            function.signature()
        ));
        base ^ u64::from_be_bytes(tag[..8].try_into().expect("8 bytes"))
    }
}
