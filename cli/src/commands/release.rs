//! `forja release`: bundle what HEAD would release into `releases/<id>/`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use forja_compiler::{ArtifactIndex, Project};
use forja_deploy::bundle::{self, ReleaseInput};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Use the artifacts in out/ as they are instead of building first.
    #[arg(long)]
    pub no_build: bool,
    /// Project directory (or any directory inside it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::discover(&args.root)?;
    if !args.no_build && !super::build::compile(&project, false, super::build::BuildReport::Human)?
    {
        bail!("the build failed; no release was made");
    }
    let artifacts = ArtifactIndex::scan(&project.out_dir())?;
    let actor = git2::Repository::discover(&project.root)
        .ok()
        .and_then(|r| r.signature().ok())
        .and_then(|s| s.email().ok().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let (release, created) = bundle::create(&ReleaseInput {
        root: &project.root,
        project: &project.config.name,
        artifacts: &artifacts,
        actor,
    })?;
    let content = &release.content;
    println!(
        "{} release {} (digest {}): commit {}, {} contract(s), tests {} passed (report {}).",
        if created { "Created" } else { "Already have" },
        release.id,
        release.digest,
        content.commit,
        content.contracts.len(),
        content.evidence.passed,
        content.evidence.report_digest
    );
    println!(
        "Commit releases/{}/ (and deployments/audit.log); approvers then run `forja approve --release {} --env ENV` and commit the file it writes.",
        release.id, release.id
    );
    Ok(ExitCode::SUCCESS)
}
