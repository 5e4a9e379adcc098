//! `forja bench`: runs a `bench.toml` workload against the embedded network
//! or JSON-RPC endpoints (forja-bench does the work), shows a progress line,
//! prints the figures and writes the reports.

use std::{
    io::IsTerminal as _,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context as _, bail};
use forja_bench::{
    BenchConfig, Contracts, Endpoint, Event, LoadOverrides, Report, RunOptions, Target,
    parse_duration,
};
use forja_runtime::{Network, NetworkConfig, StorageMode, config::ConsensusMode};

use forja_deploy::signer;

/// Stress a network: run bench.toml's workload and report throughput, latency and blocks.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Project root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// The workload [default: bench.toml in the project root]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run against the project's network in this process (network.toml, else 4 QBFT validators)
    #[arg(long, conflicts_with = "rpc")]
    pub embedded: bool,
    /// Network definition for --embedded [default: ./network.toml]
    #[arg(long, value_name = "FILE", requires = "embedded")]
    pub network: Option<PathBuf>,
    /// JSON-RPC endpoint(s) to drive; several (comma-separated or repeated) share the load
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    pub rpc: Vec<String>,
    /// Bearer token for guarded endpoints (sent as `Authorization: Bearer …`)
    #[arg(
        long,
        env = "FORJA_RPC_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub rpc_token: Option<String>,
    /// Private key (hex) that deploys, funds and allowlists; on a permissioned
    /// embedded network it must be a network admin [default: dev account 0]
    #[arg(
        long,
        env = "FORJA_BENCH_ADMIN_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub admin_key: Option<String>,
    /// Fixed rate, tx/s (overrides bench.toml's load shape)
    #[arg(long, value_name = "TPS", conflicts_with_all = ["concurrency", "ramp"])]
    pub rate: Option<f64>,
    /// At most N transactions submitted and not yet committed
    #[arg(long, value_name = "N", conflicts_with = "ramp")]
    pub concurrency: Option<usize>,
    /// Linear ramp of the rate over the duration, FROM:TO tx/s
    #[arg(long, value_name = "FROM:TO", value_parser = parse_ramp)]
    pub ramp: Option<[f64; 2]>,
    /// How long to offer load (10s, 500ms, 2m)
    #[arg(long, value_parser = parse_duration, conflicts_with = "transactions")]
    pub duration: Option<Duration>,
    /// How many transactions to send
    #[arg(long, value_name = "N")]
    pub transactions: Option<u64>,
    /// Leading part of the run left out of latency and throughput
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Number of generated sender accounts
    #[arg(long, value_name = "N")]
    pub senders: Option<usize>,
    /// Parallel lanes: kept-alive connections (at most one per sender)
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub connections: usize,
    /// Transactions per JSON-RPC batch request (1: no batching)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub batch: usize,
    /// How long to wait for the last transactions to commit
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub drain_timeout: Duration,
    /// Skip measuring the generator's ceiling against a no-op sink
    #[arg(long)]
    pub no_ceiling: bool,
    /// Where to write bench-report.json, bench-report.html and the SVG plots [default: bench-report/ in the project]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Compare with an earlier bench-report.json; exit 1 on a regression beyond --tolerance
    #[arg(long, value_name = "OLD.json")]
    pub compare: Option<PathBuf>,
    /// With --compare: compare this report instead of running
    #[arg(long, value_name = "NEW.json", requires = "compare")]
    pub against: Option<PathBuf>,
    /// Percent a figure may worsen before --compare fails (percentage points for failures)
    #[arg(long, value_name = "PCT", default_value_t = 10.0)]
    pub tolerance: f64,
}

fn parse_ramp(text: &str) -> Result<[f64; 2], String> {
    let (from, to) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: write the ramp as FROM:TO (e.g. 100:1000)"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{s}` in `{text}` is not a rate"))
    };
    Ok([number(from)?, number(to)?])
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(old), Some(new)) = (&args.compare, &args.against) {
        let old = Report::load(old)?;
        let new = Report::load(new)?;
        return Ok(print_comparison(&old, &new, args.tolerance));
    }
    if !args.embedded && args.rpc.is_empty() {
        bail!("say what to drive: --embedded (the project's network in this process) or --rpc URL");
    }
    let project = forja_compiler::Project::discover(&args.root)?;
    let root = project.root.clone();
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| root.join("bench.toml"));
    let config = BenchConfig::load(&config_path)?;
    let overrides = LoadOverrides {
        senders: args.senders,
        rate: args.rate,
        concurrency: args.concurrency,
        ramp: args.ramp,
        duration: args.duration,
        transactions: args.transactions,
        warmup: args.warmup,
    };
    let plan = config
        .plan(&overrides)
        .with_context(|| config_path.display().to_string())?;
    let old = args.compare.as_deref().map(Report::load).transpose()?;
    let admin = match &args.admin_key {
        Some(key) => signer::parse_private_key(key).context("--admin-key")?,
        None => signer::dev_account(0)?,
    };

    // Checked before the build, so a mistyped URL fails at once.
    let endpoints = args
        .rpc
        .iter()
        .map(|url| Endpoint::new(url, args.rpc_token.clone()))
        .collect::<anyhow::Result<Vec<_>>>()?;

    if !super::build::compile(&project, false, super::build::BuildReport::Human)? {
        return Ok(ExitCode::FAILURE);
    }
    let contracts = Contracts::from_project(&root, &project.out_dir(), &config)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let target = if args.embedded {
        let (network_config, source) = network_definition(args.network.as_deref(), &root)?;
        let description = describe(&network_config, &source);
        let network = runtime
            .block_on(async {
                tokio::task::spawn_blocking(move || {
                    Network::start(network_config, StorageMode::InMemory)
                })
                .await
            })
            .context("the network's start-up task failed")??;
        Target::Embedded {
            network,
            description,
        }
    } else {
        Target::Rpc(endpoints)
    };
    eprintln!("Benchmarking {}", target.describe());

    let progress = Progress::new();
    let options = RunOptions {
        plan,
        connections: args.connections,
        batch: args.batch,
        admin,
        drain_timeout: args.drain_timeout,
        measure_ceiling: !args.no_ceiling,
    };
    let result = runtime.block_on(forja_bench::run(
        &target,
        &config,
        contracts,
        options,
        &|event| progress.show(event),
    ));
    progress.finish();
    if let Target::Embedded { network, .. } = target {
        network.shutdown();
    }
    let report = result?;

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("bench-report"));
    let written = forja_bench::plot::write_all(&report, &out)?;
    println!();
    let rows = forja_bench::plot::summary_rows(&report);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (label, value) in &rows {
        println!("  {label:<width$}  {value}");
    }
    println!();
    println!(
        "Report: {} ({} and {} SVG plots alongside)",
        written.json.display(),
        written
            .html
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        written.svgs.len()
    );
    Ok(match old {
        Some(old) => {
            println!();
            print_comparison(&old, &report, args.tolerance)
        }
        None => ExitCode::SUCCESS,
    })
}

/// The network `--embedded` runs: FILE, else ./network.toml, else forja
/// node's dev network (4 QBFT validators, blocks on demand).
fn network_definition(file: Option<&Path>, root: &Path) -> anyhow::Result<(NetworkConfig, String)> {
    if let Some(found) = NetworkConfig::for_project(file, root)? {
        return Ok(found);
    }
    let config = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    Ok((config, "the dev network".into()))
}

fn describe(config: &NetworkConfig, source: &str) -> String {
    format!(
        "{source}: {} validator(s), {} regular node(s), {}, block period {}, permissioning {}",
        config.nodes.validators,
        config.nodes.regular,
        match config.consensus.mode {
            ConsensusMode::Qbft => "QBFT",
            ConsensusMode::Ibft2 => "IBFT 2.0",
        },
        match config.consensus.block_period_seconds {
            0 => "on demand".to_owned(),
            s => format!("{s}s"),
        },
        if config.permissioning.enabled {
            "on"
        } else {
            "off"
        }
    )
}

/// The live progress line (on a terminal) and setup steps.
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new() -> Self {
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    fn show(&self, event: Event) {
        match event {
            Event::Step(step) => {
                if self.bar.is_hidden() {
                    eprintln!("  {step}");
                } else {
                    self.bar.println(format!("  {step}"));
                }
            }
            Event::Started { planned } => {
                self.bar.set_length(planned);
                self.bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} sent  {msg}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                if self.bar.is_hidden() {
                    eprintln!("  running: {planned} transactions planned");
                }
            }
            Event::Progress(p) => {
                self.bar.set_position(p.submitted);
                self.bar.set_message(format!(
                    "{} committed, {} failed, {:.0} tx/s",
                    p.committed, p.failed, p.committed_tps
                ));
            }
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Prints the change per figure; failure when one regressed beyond the tolerance.
fn print_comparison(old: &Report, new: &Report, tolerance: f64) -> ExitCode {
    let changes = forja_bench::compare(old, new, tolerance);
    println!(
        "  {:<16} {:>12} {:>12} {:>10}",
        "figure", "old", "new", "change"
    );
    for c in &changes {
        let change = if c.unit == "%" {
            format!("{:+.2} pt", c.change)
        } else {
            format!("{:+.1}%", c.change)
        };
        println!(
            "  {:<16} {:>12} {:>12} {:>10}  {}",
            c.figure,
            format!("{:.1} {}", c.old, c.unit),
            format!("{:.1} {}", c.new, c.unit),
            change,
            if c.regression { "REGRESSION" } else { "ok" }
        );
    }
    let regressions = changes.iter().filter(|c| c.regression).count();
    if regressions > 0 {
        println!("{regressions} figure(s) worse than {tolerance}% beyond the old report");
        ExitCode::FAILURE
    } else {
        println!("No regression beyond {tolerance}%.");
        ExitCode::SUCCESS
    }
}
