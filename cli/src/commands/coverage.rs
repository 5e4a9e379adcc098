//! `forja coverage`: runs the tests on a coverage build (optimizer off, as
//! forge does) and reports line, statement, branch and function coverage of
//! the project's contracts: a summary table, an LCOV file, or both.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
};

use anyhow::Context as _;
use forja_tester::coverage::{
    CoverageAnalysis, CoverageCollector, CoverageReport, CoverageSummary, SourceFilter,
};

use super::test::{Ran, run_and_render_with};

/// The fuzz seed coverage runs use unless `--fuzz-seed` says otherwise, so
/// that reports are the same from run to run (forge also fixes one).
const COVERAGE_FUZZ_SEED: &str = "0x1";

/// A report `forja coverage` can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportKind {
    /// A table per file on stdout: % lines, statements, branches, functions.
    Summary,
    /// An LCOV tracefile (`lcov.info`), as forge writes it, for Codecov,
    /// Coveralls, genhtml or an editor's coverage gutters.
    Lcov,
}

/// Run the tests and report the coverage of the project's contracts.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Report to produce; may be given several times.
    #[arg(long, value_enum, default_value = "summary")]
    pub report: Vec<ReportKind>,
    /// Where the LCOV report goes, relative to the project root.
    #[arg(long, value_name = "PATH", default_value = "lcov.info")]
    pub report_file: PathBuf,
    /// Also report sources under the library directories (lib/, node_modules/).
    #[arg(long)]
    pub include_libs: bool,
    /// Leave sources under the test directory out of the report (test
    /// contracts themselves never count).
    #[arg(long)]
    pub exclude_tests: bool,
    #[command(flatten)]
    pub test: super::test::Args,
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    if args.test.network.is_some()
        || args.test.genesis.is_some()
        || args.test.watch
        || args.test.json
    {
        anyhow::bail!(
            "forja coverage runs the tests in memory: --network, --genesis, --watch and --json are for forja test"
        );
    }
    if args.test.fuzz_seed.is_none() {
        args.test.fuzz_seed = Some(COVERAGE_FUZZ_SEED.into());
    }
    eprintln!(
        "warning: optimizer settings and viaIR are disabled for accurate coverage reports (a separate build in {})",
        forja_compiler::build::coverage_out_dir(&forja_compiler::Project::discover(
            &args.test.root
        )?)
        .display()
    );
    let collector = Arc::new(CoverageCollector::default());
    let failed = match run_and_render_with(&args.test, Some(collector.clone()))? {
        Ran::BuildFailed => return Ok(ExitCode::FAILURE),
        Ran::NothingSelected => false,
        Ran::Report { report, .. } => report.failed() > 0,
    };
    let project = forja_compiler::Project::discover(&args.test.root)?;
    let root = &project.root;
    // forja-std is materialised under the cache directory: a library too.
    let mut libs = project.config.libs.clone();
    libs.extend(["node_modules".into(), project.config.cache.clone()]);
    let filter = SourceFilter {
        libs,
        include_libs: args.include_libs,
        test_dir: args.test.test_dir.clone(),
        exclude_tests: args.exclude_tests,
    };
    let out = root.join(forja_compiler::build::coverage_out_dir(&project));
    let analysis = CoverageAnalysis::load(root, &out, &filter)
        .with_context(|| format!("analysing the coverage build in {}", out.display()))?;
    let report = analysis.report(&collector.hits());
    let mut kinds = args.report.clone();
    kinds.dedup();
    for kind in kinds {
        match kind {
            ReportKind::Summary => {
                let stdout = std::io::stdout();
                render_summary(&mut stdout.lock(), &report)?;
            }
            ReportKind::Lcov => {
                let path = root.join(&args.report_file);
                write_lcov(&path, &report)?;
                println!("Wrote LCOV report to {}.", relative(&path, root));
            }
        }
    }
    // The reports are written even when tests fail, as forge does.
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_lcov(path: &Path, report: &CoverageReport) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, report.lcov()).with_context(|| format!("writing {}", path.display()))
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// forge's summary table (its Markdown form): one row per file, then Total.
pub(crate) fn render_summary(out: &mut impl Write, report: &CoverageReport) -> std::io::Result<()> {
    let cell = |(hits, total): (usize, usize)| {
        let percent = if total == 0 {
            100.0
        } else {
            hits as f64 * 100.0 / total as f64
        };
        format!("{percent:.2}% ({hits}/{total})")
    };
    let row = |name: &str, s: &CoverageSummary| {
        [
            name.to_string(),
            cell(s.lines),
            cell(s.statements),
            cell(s.branches),
            cell(s.functions),
        ]
    };
    let mut rows =
        vec![["File", "% Lines", "% Statements", "% Branches", "% Funcs"].map(String::from)];
    let mut total = CoverageSummary::default();
    for (path, summary) in report.summaries() {
        total.merge(&summary);
        rows.push(row(&path, &summary));
    }
    rows.push(row("Total", &total));
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    writeln!(out)?;
    crate::render::markdown_table(out, &rows, &widths)?;
    Ok(())
}
