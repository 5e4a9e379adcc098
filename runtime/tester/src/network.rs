//! `forja test --network`: the same tests, run as real transactions on an
//! in-process forja network (QBFT validators, permissioning on).
//!
//! Every node executes every block under a [`NetworkHook`] inspector that
//! implements the cheatcodes, so forja-std's and forge-std's assertions,
//! `vm.prank`, `vm.deal`, `vm.expectRevert`… work inside each transaction.
//! Cheatcodes are deterministic, so every validator reaches the same state
//! root and consensus agrees as usual. Node 0 reports what each transaction
//! did (revert data, logs, `console.log`, traces) to the runner.
//!
//! Semantics that differ from the in-memory run (there is one shared chain
//! and no state snapshots on it):
//! - each test function runs on its own deployment of the test contract
//!   (deployment, `setUp()` and the test are three signed transactions from
//!   dev account 0); the cheatcode state `setUp()` leaves (pranks, labels,
//!   permissioning levels…) carries into the test, as in memory;
//! - `warp`, `roll`, `fee`, `chainId`, `coinbase`… change what the EVM sees,
//!   never the real block: from the call on for the rest of the
//!   transaction, and, when made in the constructor or `setUp()`, in the
//!   test too (as in memory);
//! - `deal`, `etch`, `store`, `setNonce` change the chain's real state;
//! - `snapshot`/`revertTo` (and the `*State` names) fail the test;
//! - forja's permissioning cheatcodes keep modelling allowlists for calls
//!   made inside a test (pranked senders), and never change the network's
//!   lists: those are node configuration, which a transaction executed on
//!   every validator must not change. The network's real rules apply to
//!   every transaction the runner sends;
//! - fuzz tests run a bounded number of inputs (each one a deployment,
//!   `setUp()` and call), without shrinking; invariant tests are skipped.

mod chain;
mod hook;
mod suite;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{Address, B256, Bytes, U256};
use forja_runtime::{
    Network, NetworkConfig, StartOptions, StorageMode, config::GenesisAccountConfig,
};

use self::{chain::Chain, hook::NetworkHook, suite::SuiteOnNetwork};
use crate::{
    artifacts::ArtifactSet,
    config::TestConfig,
    discovery::test_contracts,
    error::TesterError,
    executor::TX_GAS_LIMIT,
    report::{GasSamples, SuiteResult, TestRunReport},
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS},
};

/// Fuzz inputs per fuzz test with `--network` unless `--fuzz-runs` asks for fewer.
pub const DEFAULT_NETWORK_FUZZ_RUNS: u32 = 32;

/// How long the runner waits for a transaction to be committed before it
/// reports that the network stopped making blocks.
pub(crate) const INCLUSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Where and how `--network` runs.
#[derive(Clone, Debug)]
pub struct NetworkTestOptions {
    /// The network definition (see [`default_network`] and [`prepare_network`]).
    pub network: NetworkConfig,
    /// Most fuzz inputs per fuzz test.
    pub fuzz_runs: u32,
    /// Which dev account sends the tests' transactions.
    pub sender: usize,
}

impl Default for NetworkTestOptions {
    fn default() -> Self {
        Self {
            network: default_network(),
            fuzz_runs: DEFAULT_NETWORK_FUZZ_RUNS,
            sender: 0,
        }
    }
}

/// The network tests run on when no definition is given: 4 QBFT validators,
/// blocks as soon as a transaction is pending, permissioning on with dev
/// account 0 (the tests' sender) as the only admin.
pub fn default_network() -> NetworkConfig {
    let mut config = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    config.nodes.validators = 4;
    config.permissioning.enabled = true;
    if let Some(sender) = config
        .dev_accounts()
        .ok()
        .and_then(|a| a.into_iter().next())
    {
        config.permissioning.admins = vec![sender.address()];
    }
    config
}

/// Makes a network definition fit for a test run without changing the rules
/// contracts run under (hardfork, chain id, gas limit, allowlists): blocks as
/// soon as a transaction is pending, whatever block period the definition
/// sets, and placeholder code at the cheatcode and console addresses so
/// Solidity's `extcodesize` checks before calls to them pass.
pub(crate) fn prepare_network(mut config: NetworkConfig) -> NetworkConfig {
    config.consensus.block_period_seconds = 0;
    for transition in &mut config.consensus.transitions {
        if transition.block_period_seconds.is_some() {
            transition.block_period_seconds = Some(0);
        }
    }
    for address in [CHEATCODE_ADDRESS, CONSOLE_ADDRESS] {
        if !config.accounts.iter().any(|a| a.address == address) {
            config.accounts.push(GenesisAccountConfig {
                address,
                balance: U256::ZERO,
                code: Some(Bytes::from_static(&[0x00])),
                storage: Default::default(),
                nonce: 0,
            });
        }
    }
    config
}

/// A finished `--network` run: the report and the network it ran on (still
/// running, so its blocks and receipts can be inspected; it stops when the
/// last handle is dropped).
#[derive(Debug)]
pub struct NetworkRun {
    /// Results, in the in-memory run's format.
    pub report: TestRunReport,
    /// The network.
    pub network: Network,
    /// The account that sent every transaction.
    pub sender: Address,
    /// Every transaction the run sent, in order.
    pub transactions: Vec<B256>,
}

/// Runs the selected tests as transactions on a network started from
/// `options` (see the module documentation for what differs from memory).
pub fn run_tests_on_network(
    artifacts: Arc<ArtifactSet>,
    config: &TestConfig,
    options: NetworkTestOptions,
    progress: &(dyn Fn(&SuiteResult) + Sync),
) -> Result<NetworkRun, TesterError> {
    let started = Instant::now();
    let network_config = prepare_network(options.network);
    let signer = network_config
        .dev_accounts()
        .map_err(|e| TesterError::Network(e.to_string()))?
        .into_iter()
        .nth(options.sender)
        .ok_or_else(|| {
            TesterError::Network(format!(
                "the network definition has no dev account {} to send the tests' transactions \
                 (raise [dev_accounts] count)",
                options.sender
            ))
        })?;
    let nodes = network_config.nodes.validators + network_config.nodes.regular;
    let hook = NetworkHook::new(artifacts.clone(), nodes, config);
    let spec = network_config.spec();
    let network = Network::start_with(
        network_config,
        StorageMode::InMemory,
        StartOptions {
            execution_hook: Some(Arc::new(hook.clone())),
        },
    )
    .map_err(|e| TesterError::Network(format!("the network did not start: {e}")))?;
    let node = network.node(0);
    let mut chain = Chain {
        sender: signer.address(),
        nonce: node.pool().next_nonce(signer.address()),
        signer,
        node,
        hook,
        chain_id: spec.chain_id,
        gas_price: spec.min_gas_price,
        gas_limit: spec.block_gas_limit.min(TX_GAS_LIMIT),
        transactions: Vec::new(),
    };
    let mut suites = Vec::new();
    let mut gas = GasSamples::default();
    for contract in test_contracts(&artifacts, config) {
        let mut suite = SuiteOnNetwork {
            artifacts: &artifacts,
            contract,
            config,
            fuzz_runs: options.fuzz_runs.min(config.fuzz_runs),
            gas: GasSamples::default(),
            code_names: HashMap::new(),
        };
        let result = suite.run(&mut chain)?;
        progress(&result);
        gas.merge(suite.gas);
        suites.push(result);
    }
    let report = TestRunReport {
        suites,
        duration: started.elapsed(),
        gas_report: config.gas_report.then(|| gas.report()),
    };
    Ok(NetworkRun {
        report,
        network,
        sender: chain.sender,
        transactions: chain.transactions,
    })
}
