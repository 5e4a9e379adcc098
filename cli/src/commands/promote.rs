//! `forja promote --to E`: move the release deployed in E's `promote_from`
//! environment to E, through four gates.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use forja_compiler::Project;

use crate::deploy::artifact::ArtifactIndex;
use crate::deploy::config;
use crate::deploy::executor::{DeployOptions, Step};
use crate::deploy::manifest::Manifest;
use crate::deploy::record::{DeploymentRecord, record_path};
use crate::deploy::release::{self, ReleaseRecord, ReleasedContract};
use crate::deploy::{fsutil, git};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to promote to; it takes the release deployed in its
    /// `promote_from` environment.
    #[arg(long)]
    pub to: String,
    /// Project directory (or any directory inside it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::discover(&args.root)?;
    let root = &project.root;
    let environments = config::parse_environments(&project.config.environments)?;
    let target = config::environment(&project.config.environments, &args.to)?;
    let source_name = target.promote_from.clone().with_context(|| {
        format!(
            "`{}` has no `promote_from` in forja.toml, so there is nothing to promote to it",
            target.name
        )
    })?;
    let source = &environments[&source_name];
    let manifest = Manifest::load(&root.join("deploy.toml"))?;
    let artifacts = ArtifactIndex::scan(&project.out_dir())?;

    let candidate = release::candidate(root, &project.config.name, &target, source, &manifest)?;
    let id = candidate.id();
    eprintln!(
        "Release {id}: `{}` → `{}`, commit {}, {} contract(s)",
        candidate.from,
        candidate.to,
        candidate.commit,
        candidate.contracts.len()
    );
    let target_record_path = record_path(root, &target.name);
    if release::release_path(root, &id).exists() && target_record_path.exists() {
        let record = DeploymentRecord::load(&target_record_path)?;
        if record.release.as_deref() == Some(id.as_str()) {
            println!(
                "Nothing to promote: release {id} is already deployed to `{}`.",
                target.name
            );
            return Ok(ExitCode::SUCCESS);
        }
    }

    let source_record = DeploymentRecord::load(&record_path(root, &source.name))?;
    release::gate_tree(git::tree_state(root).as_ref(), &source_record, &candidate)?;
    eprintln!("  gate 1 passed: clean tree at {}", candidate.commit);
    release::gate_tests(root, &candidate)?;
    eprintln!("  gate 2 passed: `forja test` passed at this commit");
    release::gate_artifacts(&candidate, &manifest, &artifacts)?;
    eprintln!(
        "  gate 3 passed: artifacts identical to `{}`",
        candidate.from
    );
    let approvals = release::gate_approvals(root, &candidate, &target.approvals)?;
    eprintln!(
        "  gate 4 passed: {} of {} required approval(s)",
        approvals.len(),
        target.approvals.required
    );

    let options = DeployOptions {
        redeploy_changed: true,
        release: Some(id.clone()),
        ..Default::default()
    };
    let outcome = super::deploy::execute(&project, &target, &options)?;
    super::deploy::report(&target, &outcome, false);

    let audit_entry = super::deploy::append_audit(
        root,
        "promote",
        &target,
        &outcome,
        Some(id.clone()),
        serde_json::json!({
            "from": candidate.from,
            "manifest_hash": candidate.hash(),
            "approvers": approvals.iter().map(|a| a.approver).collect::<Vec<_>>(),
        }),
    )?;
    let tag = format!("forja/{}/{id}", target.name);
    git::tag(root, &tag, &candidate.commit)?;
    let deployed = candidate
        .contracts
        .iter()
        .filter_map(|c| outcome.record.contract(&c.name))
        .map(|c| ReleasedContract {
            name: c.name.clone(),
            address: c.address,
            tx_hash: c.tx_hash,
            block: c.block,
        })
        .collect();
    let record = ReleaseRecord {
        id: id.clone(),
        manifest_hash: candidate.hash(),
        manifest: candidate,
        approvals,
        deployed,
        tag: tag.clone(),
        promoted_at: fsutil::rfc3339(fsutil::unix_now()),
        audit_entry: audit_entry.hash,
    };
    let path = release::release_path(root, &id);
    fsutil::write_durably(
        &path,
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )?;
    let deployed_now = outcome
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Deploy { .. }))
        .count();
    println!(
        "Promoted release {id} to `{}` ({deployed_now} contract(s) deployed); wrote {}, tagged {tag}, appended to deployments/audit.log.",
        target.name,
        path.strip_prefix(root).unwrap_or(&path).display()
    );
    Ok(ExitCode::SUCCESS)
}
