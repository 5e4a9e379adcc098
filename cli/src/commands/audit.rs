//! `forja audit verify`: check deployments/audit.log's hash chain and the
//! log against every anchor of its head kept in git.

use std::path::PathBuf;
use std::process::ExitCode;

use forja_compiler::Project;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify that no entry of deployments/audit.log was edited, removed,
    /// inserted or reordered, that it was not cut short or rewritten (its
    /// head is anchored in release bundles, promotion records and tags), and
    /// list the exceptions it records (emergency deploys).
    Verify {
        /// Project directory (or any directory inside it).
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

pub(crate) fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify { root } = command;
    let project = Project::discover(&root)?;
    let verification = forja_deploy::audit_check::verify_all(&project.root)?;
    for exception in &verification.exceptions {
        println!(
            "exception: entry {} ({}): emergency deploy to `{}` by {}, bypassing `forja promote`: {}",
            exception.seq,
            exception.time,
            exception.environment,
            exception.actor,
            exception.detail["extra"]["reason"]
                .as_str()
                .unwrap_or("(no reason recorded)")
        );
    }
    if !verification.problems.is_empty() {
        for problem in &verification.problems {
            eprintln!("error: audit log does not verify: {problem}");
        }
        return Ok(ExitCode::FAILURE);
    }
    let entries = verification.report.entries;
    println!(
        "Audit log verified: {entries} entr{}, {} anchor(s) hold, {} exception(s), head {}",
        if entries == 1 { "y" } else { "ies" },
        verification.anchors_checked,
        verification.exceptions.len(),
        verification.report.tip
    );
    Ok(ExitCode::SUCCESS)
}
