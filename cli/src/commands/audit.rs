//! `forja audit verify`: check the hash chain of deployments/audit.log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use forja_compiler::Project;

use crate::deploy::audit;
use crate::deploy::release::{ReleaseRecord, releases_dir};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Verify that no entry of deployments/audit.log was edited, removed,
    /// inserted or reordered, and that every release is in it.
    Verify {
        /// Project directory (or any directory inside it).
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify { root } = command;
    let project = Project::discover(&root)?;
    let path = audit::audit_log_path(&project.root);
    let report = audit::verify(&path)?;
    if let Some(problem) = report.problem {
        eprintln!("error: {} does not verify: {problem}", path.display());
        return Ok(ExitCode::FAILURE);
    }
    // Releases carry the hash of the entry that logged them: a log cut
    // short after a release no longer contains it.
    let mut releases = 0;
    let dir = releases_dir(&project.root);
    if dir.is_dir() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let file = entry?.path();
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".json") || name.ends_with(".approvals.json") {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
            let release: ReleaseRecord = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a release record", file.display()))?;
            if !report.hashes.contains(&release.audit_entry) {
                eprintln!(
                    "error: {} does not verify: release {} ({}) points at entry {}, which the log no longer has (entries were removed from its end)",
                    path.display(),
                    release.id,
                    file.display(),
                    release.audit_entry
                );
                return Ok(ExitCode::FAILURE);
            }
            releases += 1;
        }
    }
    println!(
        "Audit log verified: {} entr{}, {releases} release(s) anchored, head {}",
        report.entries,
        if report.entries == 1 { "y" } else { "ies" },
        report.tip
    );
    Ok(ExitCode::SUCCESS)
}
