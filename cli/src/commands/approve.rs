//! `forja approve --release ID`: sign a release with an approver's key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use forja_compiler::Project;

use crate::deploy::config::{self, SignerConfig};
use crate::deploy::manifest::Manifest;
use crate::deploy::{release, signer};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release id `forja promote` printed.
    #[arg(long)]
    pub release: String,
    /// The approver's keystore: a name in the forja keystore directory, or a
    /// path. Its password comes from FORJA_KEYSTORE_PASSWORD or a prompt.
    #[arg(long, conflicts_with = "private_key_env")]
    pub keystore: Option<PathBuf>,
    /// An environment variable holding the approver's private key.
    #[arg(long, value_name = "VAR")]
    pub private_key_env: Option<String>,
    /// Project directory (or any directory inside it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::discover(&args.root)?;
    let root = &project.root;
    let key = match (&args.keystore, &args.private_key_env) {
        (Some(path), None) => SignerConfig::Keystore {
            path: path.clone(),
            password_env: None,
        },
        (None, Some(var)) => SignerConfig::PrivateKeyEnv(var.clone()),
        _ => bail!("say which key approves: --keystore NAME_OR_PATH or --private-key-env VAR"),
    };
    let environments = config::parse_environments(&project.config.environments)?;
    let manifest = Manifest::load(&root.join("deploy.toml"))?;

    // The release is whichever promotion candidate has this id.
    let mut candidates = Vec::new();
    for target in environments.values() {
        let Some(from) = &target.promote_from else {
            continue;
        };
        let Ok(candidate) = release::candidate(
            root,
            &project.config.name,
            target,
            &environments[from],
            &manifest,
        ) else {
            continue;
        };
        if candidate.id() == args.release {
            let approver = signer::load(&key, root)?;
            release::approve(root, &candidate, &target.approvals, &approver)?;
            let (valid, _) = release::valid_approvals(root, &candidate, &target.approvals)?;
            println!(
                "Approved release {} (`{}` → `{}`, commit {}, manifest hash {}) as {}; {}/{} approval(s).",
                args.release,
                candidate.from,
                candidate.to,
                candidate.commit,
                candidate.hash(),
                approver.address(),
                valid.len(),
                target.approvals.required
            );
            return Ok(ExitCode::SUCCESS);
        }
        candidates.push(format!(
            "{} (`{}` → `{}`)",
            candidate.id(),
            candidate.from,
            candidate.to
        ));
    }
    if candidates.is_empty() {
        bail!(
            "no release {}: nothing is ready to promote (deploy an environment that another one promotes from)",
            args.release
        );
    }
    bail!(
        "no release {}: the releases ready to promote now are {}",
        args.release,
        candidates.join(", ")
    );
}
