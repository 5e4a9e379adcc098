//! `forja build`: compile the project's Solidity into `out/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use forja_compiler::solc::{SolcEvent, SolcManager};
use forja_compiler::{BuildEvent, BuildOptions, BuildOutput, Project, Remapping};

use crate::render;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Project directory (or any directory inside it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Rebuild on every change to the sources.
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// Print diagnostics as JSON (one array) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Ignore the cache and compile everything.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::discover(&args.root)?;
    if !args.watch {
        let ok = compile(&project, args.force, build_report(args.json))?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let dirs = watched_dirs(&project);
    crate::watch::on_change(&dirs, || {
        // A failed build keeps the last good artifacts: `build` only writes
        // out/ when everything compiled.
        if let Err(err) = compile(&project, args.force, build_report(args.json)) {
            crate::commands::print_error(&err);
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Directories whose changes trigger a rebuild.
pub(crate) fn watched_dirs(project: &Project) -> Vec<PathBuf> {
    [
        project.src_dir(),
        project.test_dir(),
        project.script_dir(),
        project.root.join("forja.toml"),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect()
}

/// Remappings every forja project gets: `forja-std/`, materialised inside
/// the project's cache so its unit names (and so the metadata hashes of the
/// test contracts) are the same on every machine.
pub(crate) fn builtin_remappings(project: &Project) -> anyhow::Result<Vec<Remapping>> {
    let dir = forja_tester::materialize_forja_std(&project.cache_dir())?;
    let relative = dir.strip_prefix(&project.root).unwrap_or(&dir);
    Ok(vec![Remapping {
        prefix: "forja-std/".into(),
        target: format!("{}/", relative.display()),
    }])
}

/// How [`compile`] reports to the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BuildReport {
    /// A spinner while compiling, then diagnostics and a summary on stderr.
    Human,
    /// No spinner; the diagnostics as JSON on stdout (`forja build --json`).
    Json,
    /// No spinner; diagnostics and summary on stderr, so stdout is left to
    /// the command's own JSON (`forja test --json`).
    Quiet,
}

/// Builds the project, printing diagnostics and a summary. Returns whether
/// the build succeeded (no errors).
pub(crate) fn compile(
    project: &Project,
    force: bool,
    reporting: BuildReport,
) -> anyhow::Result<bool> {
    compile_with(project, force, false, reporting)
}

/// [`compile`], or with `coverage` the coverage build (optimizer off, ASTs,
/// its own output directory).
pub(crate) fn compile_with(
    project: &Project,
    force: bool,
    coverage: bool,
    reporting: BuildReport,
) -> anyhow::Result<bool> {
    let manager = SolcManager::from_env()?;
    let options = BuildOptions {
        extra_remappings: builtin_remappings(project)?,
        force,
        coverage,
        ..Default::default()
    };
    let started = Instant::now();
    let spinner = render::Spinner::new(reporting == BuildReport::Human);
    let events = |event: BuildEvent| match event {
        BuildEvent::Solc(SolcEvent::Installing { version }) => {
            spinner.set(format!("Installing solc {version} (npm solc)…"))
        }
        BuildEvent::Solc(SolcEvent::Precompiling { version }) => spinner.set(format!(
            "Precompiling solc {version} for this machine (once; 20-45 s)…"
        )),
        BuildEvent::Solc(SolcEvent::DiscardedCache { path, reason }) => {
            spinner.println(format!("warning: discarded {}: {reason}", path.display()))
        }
        BuildEvent::Compiling { version, files } => {
            spinner.set(format!("Compiling {files} files with solc {version}…"))
        }
        _ => {}
    };
    let output = forja_compiler::build(project, &options, &manager, &events);
    spinner.finish();
    let output = output?;
    report(
        project,
        coverage,
        &output,
        started.elapsed(),
        reporting == BuildReport::Json,
    );
    Ok(!output.has_errors())
}

fn build_report(json: bool) -> BuildReport {
    if json {
        BuildReport::Json
    } else {
        BuildReport::Human
    }
}

fn report(project: &Project, coverage: bool, output: &BuildOutput, elapsed: Duration, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output.diagnostics).expect("diagnostics serialise")
        );
        return;
    }
    for diagnostic in &output.diagnostics {
        eprintln!("{}", render::diagnostic(diagnostic, &project.root));
    }
    let errors = output.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = output.diagnostics.len() - errors;
    if errors > 0 {
        eprintln!(
            "error: build failed with {errors} error(s) and {warnings} warning(s); {} keeps the last good artifacts",
            if coverage {
                forja_compiler::build::coverage_out_dir(project)
                    .display()
                    .to_string()
            } else {
                relative(&project.out_dir(), &project.root)
            }
        );
        return;
    }
    if output.compiled.is_empty() {
        eprintln!("No files changed, compilation skipped");
        return;
    }
    for unit in &output.compiled {
        eprintln!(
            "Compiled {} files with solc {} in {:.2}s",
            unit.files,
            unit.version,
            elapsed.as_secs_f64()
        );
    }
    if warnings > 0 {
        eprintln!("Compiler run successful with {warnings} warning(s)");
    } else {
        eprintln!("Compiler run successful!");
    }
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
