//! `forja promote --to E`: deploy a release bundle to E through every gate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use forja_compiler::Project;
use forja_deploy::config;
use forja_deploy::executor::{Event, Step};
use forja_deploy::promote::{self, PromoteOutcome, Promotion};
use forja_deploy::signer;

use crate::render::Spinner;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The environment to promote to (one with `promote_from`).
    #[arg(long)]
    pub to: String,
    /// The release to promote [default: the one its `promote_from`
    /// environment runs, else the newest in releases/].
    #[arg(long)]
    pub release: Option<String>,
    /// Project directory (or any directory inside it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::discover(&args.root)?;
    let root = &project.root;
    let environments = config::parse_environments(&project.config.environments)?;
    let target = config::environment(&project.config.environments, &args.to)?;
    let source_name = target.promote_from.clone().with_context(|| {
        format!(
            "`{}` has no `promote_from` in forja.toml: it takes deploys (`forja deploy --env {}`), not promotions",
            target.name, target.name
        )
    })?;
    let source = &environments[&source_name];
    let release = promote::select(root, source, args.release.as_deref())?;
    eprintln!(
        "Release {}: `{}` → `{}`, commit {}, {} contract(s)",
        release.id,
        source.name,
        target.name,
        release.content.commit,
        release.content.contracts.len()
    );
    let load_signer = || signer::load(&target.signer, root, &crate::prompt::keystore_password);
    let promotion = Promotion {
        root,
        target: &target,
        source,
        release: &release,
        signer: &load_signer,
    };
    let spinner = Spinner::new(true);
    let on_event = |event: Event| super::deploy::render_event(&spinner, event);
    let outcome = super::block_on(promotion.run(&on_event))?;
    spinner.finish();
    match outcome? {
        PromoteOutcome::AlreadyPromoted(record) => println!(
            "Nothing to promote: release {} is already deployed to `{}` (since {}).",
            record.release, target.name, record.promoted_at
        ),
        PromoteOutcome::Promoted {
            record,
            path,
            deployment,
        } => {
            super::deploy::report(&target, &deployment, false);
            let deployed = deployment
                .steps
                .iter()
                .filter(|s| matches!(s, Step::Deploy { .. }))
                .count();
            println!(
                "Promoted release {} to `{}` ({deployed} contract(s) deployed); wrote {}, tagged {} (audit head {} at entry {}). Commit deployments/ and releases/, and push the tag.",
                record.release,
                target.name,
                path.strip_prefix(root).unwrap_or(&path).display(),
                record.tag,
                record.audit_anchor.head,
                record.audit_anchor.entries
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
