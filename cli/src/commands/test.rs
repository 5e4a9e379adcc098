//! `forja test`: build the project, run its Solidity tests, render results.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use forja_runtime::NetworkConfig;
use forja_tester::{
    ArtifactSet,
    config::{TestConfig, TraceMode},
    coverage::CoverageCollector,
    discovery::test_contracts,
    filter::TestFilter,
    network::{
        DEFAULT_NETWORK_FUZZ_RUNS, NetworkTestOptions, default_network, run_tests_on_network,
    },
    report::{SuiteResult, TestResult, TestRunReport, TestStatus},
    runner::run_tests,
};

mod render;

/// Run the project's Solidity tests (Foundry-compatible).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Project root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Directory of the tests, relative to the root.
    #[arg(long, default_value = "test")]
    pub test_dir: String,
    /// Only run tests whose name matches this regex.
    #[arg(long = "match-test", visible_alias = "mt")]
    pub match_test: Option<String>,
    /// Skip tests whose name matches this regex.
    #[arg(long = "no-match-test", visible_alias = "nmt")]
    pub no_match_test: Option<String>,
    /// Only run test contracts whose name matches this regex.
    #[arg(long = "match-contract", visible_alias = "mc")]
    pub match_contract: Option<String>,
    /// Skip test contracts whose name matches this regex.
    #[arg(long = "no-match-contract", visible_alias = "nmc")]
    pub no_match_contract: Option<String>,
    /// Only run test files matching this glob.
    #[arg(long = "match-path", visible_alias = "mp")]
    pub match_path: Option<String>,
    /// Skip test files matching this glob.
    #[arg(long = "no-match-path", visible_alias = "nmp")]
    pub no_match_path: Option<String>,
    /// Fuzz runs per fuzz test [default: 256, or 32 with --network]
    #[arg(long, env = "FORJA_FUZZ_RUNS")]
    pub fuzz_runs: Option<u32>,
    /// Fuzzer seed (decimal or 0x-hex); random when absent.
    #[arg(long, env = "FORJA_FUZZ_SEED")]
    pub fuzz_seed: Option<String>,
    /// Call sequences per invariant test.
    #[arg(long, default_value_t = 256)]
    pub invariant_runs: u32,
    /// Calls per invariant sequence.
    #[arg(long, default_value_t = 500)]
    pub invariant_depth: u32,
    /// Fail invariant tests when a target call reverts.
    #[arg(long)]
    pub invariant_fail_on_revert: bool,
    /// Let `vm.expectRevert` match reverts of the test function itself (internal
    /// calls), as Foundry before 1.0 did.
    #[arg(long)]
    pub allow_internal_expect_revert: bool,
    /// Print a gas report per contract and function.
    #[arg(long)]
    pub gas_report: bool,
    /// Print results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Re-run tests when sources change.
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// Worker threads (0 = one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub jobs: usize,
    /// Verbosity: -vv logs of all tests, -vvv traces of failing tests, -vvvv traces of all tests.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbosity: u8,
    /// Run the tests as transactions on an in-process QBFT network with
    /// permissioning on (FILE, else ./network.toml, else 4 validators)
    ///
    /// The network follows FILE's definition, else the project's
    /// network.toml, else 4 QBFT validators with dev account 0 as the only
    /// admin: its hardfork, chain id, gas limit and allowlists apply to every
    /// transaction, but blocks come as soon as a transaction is pending
    /// whatever block period it sets. Each test gets its own deployment and
    /// setUp() (a real chain has no state snapshots), sent from dev account
    /// 0. Fuzz tests run 32 inputs without shrinking unless --fuzz-runs says
    /// otherwise; invariant tests are skipped and the snapshot cheatcodes
    /// fail. vm.warp/roll/chainId last one transaction; vm.deal/etch/store
    /// change the chain. forja's permissioning cheatcodes model allowlists
    /// for calls inside a test and never change the network's.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub network: Option<Option<PathBuf>>,
    /// Run the tests on a network from a Besu genesis.json (as --network
    /// does): its chain id, hardfork, gas limit, consensus and allocations,
    /// plus dev account 0 (funded) as the tests' sender
    #[arg(long, value_name = "FILE", conflicts_with = "network")]
    pub genesis: Option<PathBuf>,
}

impl Args {
    /// Whether the tests run as transactions on a network.
    fn on_network(&self) -> bool {
        self.network.is_some() || self.genesis.is_some()
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.watch {
        return run_once(&args);
    }
    let project = forja_compiler::Project::discover(&args.root)?;
    crate::watch::on_change(&super::build::watched_dirs(&project), || {
        if let Err(err) = run_once(&args) {
            super::print_error(&err);
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run_once(args: &Args) -> anyhow::Result<ExitCode> {
    Ok(match run_and_render(args)? {
        Ran::Report { report, .. } if report.failed() > 0 => ExitCode::FAILURE,
        Ran::Report { .. } | Ran::NothingSelected => ExitCode::SUCCESS,
        Ran::BuildFailed => ExitCode::FAILURE,
    })
}

/// What [`run_and_render`] did.
pub(crate) enum Ran {
    /// The build failed (its diagnostics are printed).
    BuildFailed,
    /// No test matched the filters.
    NothingSelected,
    /// The tests ran and their results are printed.
    Report {
        /// The results.
        report: TestRunReport,
        /// The project root.
        root: PathBuf,
    },
}

/// Builds the project, runs the selected tests, writes the test report and
/// prints the results as `forja test` does (shared with `forja snapshot`).
pub(crate) fn run_and_render(args: &Args) -> anyhow::Result<Ran> {
    run_and_render_with(args, None)
}

/// [`run_and_render`]; with a `coverage` collector, on the coverage build's
/// artifacts and with every instruction's hits collected there.
pub(crate) fn run_and_render_with(
    args: &Args,
    coverage: Option<Arc<CoverageCollector>>,
) -> anyhow::Result<Ran> {
    let project = forja_compiler::Project::discover(&args.root)?;
    let root = &project.root;
    let Some(artifacts) = build(&project, args, coverage.is_some())? else {
        return Ok(Ran::BuildFailed);
    };
    let artifacts = Arc::new(artifacts);
    let mut config = config(args, root)?;
    config.coverage = coverage;
    let network = match (&args.network, &args.genesis) {
        (_, Some(genesis)) => Some(genesis_definition(genesis)?),
        (Some(file), None) => Some(network_definition(file.as_deref(), root)?),
        (None, None) => None,
    };

    let selected = test_contracts(&artifacts, &config).len();
    if selected == 0 {
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "suites": [], "duration": 0.0, "gas_report": null })
            );
        } else {
            println!("No tests match the provided filters.");
        }
        return Ok(Ran::NothingSelected);
    }

    let progress = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(selected as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} test suites {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let on_suite = |suite: &SuiteResult| {
        if let Some(bar) = &progress {
            bar.set_message(suite.name.clone());
            bar.inc(1);
        }
    };
    let (report, network_summary) = match network {
        None => (run_tests(artifacts.clone(), &config, &on_suite), None),
        Some((definition, source)) => {
            let options = NetworkTestOptions {
                network: definition,
                fuzz_runs: config.fuzz_runs,
                ..Default::default()
            };
            let run = run_tests_on_network(artifacts.clone(), &config, options, &on_suite)?;
            let node = run.network.node(0);
            let summary = format!(
                "Ran on {source}: {} validators, chain id {}, permissioning {}; {} transactions from {} in {} blocks",
                node.admin().current_validators().len(),
                run.network.chain_id(),
                if node.admin().permissions().enabled {
                    "on"
                } else {
                    "off"
                },
                run.transactions.len(),
                run.sender,
                node.read().block_number(),
            );
            run.network.shutdown();
            (run.report, Some(summary))
        }
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    write_test_report(root, args, &report)?;
    write_gas_snapshot_groups(root, &report)?;
    if let Some(path) = &args.junit {
        std::fs::write(path, report.to_junit())
            .with_context(|| format!("writing JUnit report to {}", path.display()))?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        if let Some(summary) = &network_summary {
            writeln!(out, "{summary}")?;
        }
        render::render_report(
            &mut out,
            &report,
            args.verbosity,
            std::io::stdout().is_terminal(),
        )?;
        if let Some(gas) = &report.gas_report {
            render::render_gas_report(&mut out, gas, &artifacts)?;
        }
    }
    Ok(Ran::Report {
        report,
        root: root.clone(),
    })
}

/// Compiles the project (incrementally), then loads its artifacts; `None`
/// when compilation failed (the diagnostics are already printed).
fn build(
    project: &forja_compiler::Project,
    args: &Args,
    coverage: bool,
) -> anyhow::Result<Option<ArtifactSet>> {
    // With --json, stdout carries the test report alone.
    let reporting = if args.json {
        super::build::BuildReport::Quiet
    } else {
        super::build::BuildReport::Human
    };
    if !super::build::compile_with(project, false, coverage, reporting)? {
        return Ok(None);
    }
    let out = if coverage {
        project
            .root
            .join(forja_compiler::build::coverage_out_dir(project))
    } else {
        project.out_dir()
    };
    let artifacts = ArtifactSet::load_foundry_out(&out)
        .with_context(|| format!("loading artifacts from {}", out.display()))?;
    Ok(Some(artifacts))
}

fn config(args: &Args, root: &Path) -> anyhow::Result<TestConfig> {
    let filter = TestFilter::new(
        args.match_test.as_deref(),
        args.no_match_test.as_deref(),
        args.match_contract.as_deref(),
        args.no_match_contract.as_deref(),
        args.match_path.as_deref(),
        args.no_match_path.as_deref(),
    )?;
    let fuzz_seed = args.fuzz_seed.as_deref().map(parse_seed).transpose()?;
    let default_fuzz_runs = if args.on_network() {
        DEFAULT_NETWORK_FUZZ_RUNS
    } else {
        256
    };
    Ok(TestConfig {
        fuzz_runs: args.fuzz_runs.unwrap_or(default_fuzz_runs),
        fuzz_seed,
        invariant_runs: args.invariant_runs,
        invariant_depth: args.invariant_depth,
        invariant_fail_on_revert: args.invariant_fail_on_revert,
        traces: match args.verbosity {
            0..=2 => TraceMode::Never,
            3 => TraceMode::Failures,
            _ => TraceMode::All,
        },
        gas_report: args.gas_report,
        filter,
        failure_dir: Some(root.join("cache/fuzz/failures")),
        threads: args.jobs,
        test_dir: args.test_dir.clone(),
        allow_internal_expect_revert: args.allow_internal_expect_revert,
        project_root: Some(root.to_path_buf()),
        ..Default::default()
    })
}

/// The network `--network` runs on, and where its definition came from:
/// the file given, else the project's `network.toml`, else the default.
fn network_definition(file: Option<&Path>, root: &Path) -> anyhow::Result<(NetworkConfig, String)> {
    if let Some(found) = NetworkConfig::for_project(file, root)? {
        return Ok(found);
    }
    Ok((default_network(), "the default test network".into()))
}

/// The network `--genesis` runs on: the genesis's definition (see
/// `BesuGenesis::network_config`) with dev account 0, which sends the tests.
fn genesis_definition(path: &Path) -> anyhow::Result<(NetworkConfig, String)> {
    let mut config = forja_runtime::besu::BesuGenesis::load(path)?
        .network_config()
        .with_context(|| path.display().to_string())?;
    config.dev_accounts.count = config.dev_accounts.count.max(1);
    Ok((config, path.display().to_string()))
}

/// Accepts decimal or `0x` hex; wider seeds are folded to 64 bits.
fn parse_seed(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let value = match text.strip_prefix("0x") {
        Some(hex) => alloy::primitives::U256::from_str_radix(hex, 16),
        None => alloy::primitives::U256::from_str_radix(text, 10),
    }
    .map_err(|_| anyhow::anyhow!("--fuzz-seed `{text}` is not a decimal or 0x-hex number"))?;
    let limbs = value.as_limbs();
    Ok(limbs[0] ^ limbs[1] ^ limbs[2] ^ limbs[3])
}

/// Writes `snapshots/<group>.json` for the gas snapshots the tests took
/// (`vm.startSnapshotGas` & co), as forge does.
fn write_gas_snapshot_groups(root: &Path, report: &TestRunReport) -> anyhow::Result<()> {
    let files = forja_tester::gas_snapshot::group_files(report);
    if files.is_empty() {
        return Ok(());
    }
    let dir = root.join("snapshots");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (group, json) in files {
        let path = dir.join(format!("{group}.json"));
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Writes `cache/test-report.json`, the evidence `forja release` bundles.
/// The run's selection options are recorded: a filtered run is no evidence.
fn write_test_report(root: &Path, args: &Args, report: &TestRunReport) -> anyhow::Result<()> {
    let state = forja_deploy::git::tree_state(root);
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let failing_tests: Vec<String> = report
        .suites
        .iter()
        .flat_map(|s| {
            s.tests
                .iter()
                .filter(|t| t.status == TestStatus::Fail)
                .map(move |t| format!("{}::{}", s.contract, t.signature))
        })
        .collect();
    let mut filters = Vec::new();
    for (flag, value) in [
        ("--match-test", &args.match_test),
        ("--no-match-test", &args.no_match_test),
        ("--match-contract", &args.match_contract),
        ("--no-match-contract", &args.no_match_contract),
        ("--match-path", &args.match_path),
        ("--no-match-path", &args.no_match_path),
    ] {
        if let Some(value) = value {
            filters.push(format!("{flag} {value}"));
        }
    }
    if args.test_dir != "test" {
        filters.push(format!("--test-dir {}", args.test_dir));
    }
    let file = forja_tester::report::TestReportFile {
        commit: state.as_ref().and_then(|s| s.commit.clone()),
        dirty: state.as_ref().map(|s| s.is_dirty()),
        timestamp,
        passed: report.passed(),
        failed: report.failed(),
        skipped: report.skipped(),
        suites: report.suites.len(),
        duration_secs: report.duration.as_secs_f64(),
        failing_tests,
        filters,
        network: args.on_network(),
        forja_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    forja_deploy::evidence::write_report(&file, root)?;
    Ok(())
}

/// `[PASS] name() (gas: N)`-style line for one test.
fn test_line(test: &TestResult, color: bool) -> String {
    let status = match test.status {
        TestStatus::Pass => paint("[PASS]", "32", color),
        TestStatus::Skip => match &test.reason {
            Some(reason) => paint(&format!("[SKIP: {reason}]"), "33", color),
            None => paint("[SKIP]", "33", color),
        },
        TestStatus::Fail => {
            let mut reason = test.reason.clone().unwrap_or_default();
            if let Some(c) = &test.counterexample
                && c.sequence.is_empty()
            {
                reason.push_str(&format!(
                    "; counterexample: calldata={} args=[{}]",
                    c.calldata,
                    args_of(&c.args)
                ));
            }
            paint(&format!("[FAIL: {reason}]"), "31", color)
        }
    };
    format!("{status} {} {}", test.signature, test.kind)
}

/// `name(a, b)` → `a, b`.
fn args_of(call: &str) -> &str {
    call.split_once('(')
        .map(|(_, rest)| rest.trim_end_matches(')'))
        .unwrap_or(call)
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}
