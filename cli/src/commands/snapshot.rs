//! `forja snapshot`: runs the tests and writes their gas to `.gas-snapshot`
//! (Foundry's format), or checks or diffs the run against it.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use forja_tester::gas_snapshot::{self, Comparison, SnapshotEntry};

use super::test::{Ran, run_and_render};

/// The fuzz seed snapshots use unless `--fuzz-seed` says otherwise, so that
/// fuzz figures are the same from run to run (forge also fixes one).
const SNAPSHOT_FUZZ_SEED: &str = "0x1";

/// Run the tests and write, check or diff their gas (`.gas-snapshot`).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Compare with a snapshot file (default: the --snap file) and print
    /// each test's change, without writing.
    #[arg(long, value_name = "SNAPSHOT_FILE", num_args = 0..=1, conflicts_with = "check")]
    pub diff: Option<Option<PathBuf>>,
    /// Compare with a snapshot file (default: the --snap file) and exit 1
    /// on any difference or test missing from it, without writing.
    #[arg(long, value_name = "SNAPSHOT_FILE", num_args = 0..=1)]
    pub check: Option<Option<PathBuf>>,
    /// The snapshot file, relative to the project root.
    #[arg(long, value_name = "FILE", default_value = ".gas-snapshot")]
    pub snap: PathBuf,
    /// With --check: accept gas changes below this percentage.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..100))]
    pub tolerance: Option<u32>,
    #[command(flatten)]
    pub test: super::test::Args,
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    if args.test.network.is_some() || args.test.watch || args.test.json {
        anyhow::bail!(
            "forja snapshot runs the tests in memory: --network, --watch and --json are for forja test"
        );
    }
    if args.test.fuzz_seed.is_none() {
        args.test.fuzz_seed = Some(SNAPSHOT_FUZZ_SEED.into());
    }
    let (report, root) = match run_and_render(&args.test)? {
        Ran::Report { report, root } => (report, root),
        Ran::NothingSelected => return Ok(ExitCode::SUCCESS),
        Ran::BuildFailed => return Ok(ExitCode::FAILURE),
    };
    if report.failed() > 0 {
        eprintln!("error: some tests failed; the gas snapshot was not written or compared");
        return Ok(ExitCode::FAILURE);
    }
    let current = gas_snapshot::entries(&report);
    let snapshot_path = |file: &Option<PathBuf>| root.join(file.as_ref().unwrap_or(&args.snap));
    if let Some(file) = &args.check {
        let path = snapshot_path(file);
        let snapshot = read(&path)?;
        let differences = gas_snapshot::check(&current, &snapshot, args.tolerance);
        for difference in &differences {
            println!("{difference}");
        }
        return Ok(if differences.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if let Some(file) = &args.diff {
        let path = snapshot_path(file);
        print_diff(&current, &read(&path)?);
        return Ok(ExitCode::SUCCESS);
    }
    let path = root.join(&args.snap);
    std::fs::write(&path, gas_snapshot::render(&current))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<SnapshotEntry>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read snapshot file \"{}\"", path.display()))?;
    gas_snapshot::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// forge's `--diff` listing: each test's change, smallest relative change
/// first, then new tests and the totals.
fn print_diff(current: &[SnapshotEntry], snapshot: &[SnapshotEntry]) {
    let mut changes = Vec::new();
    let mut new_tests = Vec::new();
    for comparison in gas_snapshot::compare(current, snapshot) {
        match comparison {
            Comparison::Changed { entry, expected } => {
                let (now, before) = (entry.kind.compared_gas(), expected.compared_gas());
                let change = i128::from(now) - i128::from(before);
                let relative = if before == 0 {
                    0.0
                } else {
                    change as f64 / before as f64
                };
                changes.push((entry.test_name(), before, now, change, relative));
            }
            Comparison::New(entry) => new_tests.push(entry.test_name()),
        }
    }
    changes.sort_by(|a, b| a.4.abs().total_cmp(&b.4.abs()));
    let (mut increased, mut decreased, mut unchanged) = (0, 0, 0);
    let (mut total_change, mut total_before) = (0i128, 0i128);
    for (name, before, now, change, relative) in &changes {
        total_change += change;
        total_before += i128::from(*before);
        let icon = match change.signum() {
            1 => {
                increased += 1;
                "↑"
            }
            -1 => {
                decreased += 1;
                "↓"
            }
            _ => {
                unchanged += 1;
                "━"
            }
        };
        println!(
            "{icon} {name} (gas: {before} → {now} | {change} {:.3}%)",
            relative * 100.0
        );
    }
    if !new_tests.is_empty() {
        println!("\nNew tests:");
        for name in &new_tests {
            println!("  + {name}");
        }
    }
    println!("\n{}", "-".repeat(80));
    println!(
        "Total tests: {}, ↑ {increased}, ↓ {decreased}, ━ {unchanged}",
        changes.len()
    );
    let overall = if total_before > 0 {
        total_change as f64 / total_before as f64
    } else {
        0.0
    };
    println!(
        "Overall gas change: {total_change} ({:.3}%)",
        overall * 100.0
    );
}
