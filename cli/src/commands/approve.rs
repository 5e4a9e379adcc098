//! `forja approve --release ID --env E`: sign a release for an environment
//! with an approver's key, into `releases/<id>/approvals/<address>-<env>.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use forja_compiler::Project;
use forja_deploy::approval::{self, Approved};
use forja_deploy::config::{self, SignerConfig};
use forja_deploy::{bundle, signer};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The release id (`forja release` prints it), or a unique prefix.
    #[arg(long)]
    pub release: String,
    /// The environment the approval lets the release reach.
    #[arg(long, short)]
    pub env: String,
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

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
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
    let target = config::environment(&project.config.environments, &args.env)?;
    approval::ensure_takes_releases(&target)?;
    let release = bundle::load(root, &args.release)?;
    let approver = signer::load(&key, root, &crate::prompt::keystore_password)?;
    let outcome = approval::approve(root, &release, &target, &approver)?;
    let tally = approval::tally(root, &release, &target)?;
    let count = format!(
        "{}/{} approval(s) for `{}`",
        tally.valid.len(),
        target.approvals.required,
        target.name
    );
    match outcome {
        Approved::New(_, path) => println!(
            "Approved release {} (digest {}, commit {}) for `{}` as {}; {count}. Commit {}.",
            release.id,
            release.digest,
            release.content.commit,
            target.name,
            approver.address(),
            path.strip_prefix(root).unwrap_or(&path).display()
        ),
        Approved::AlreadyApproved(_, path) => println!(
            "{} had already approved release {} for `{}` ({}); a duplicate approval counts once: still {count}.",
            approver.address(),
            release.id,
            target.name,
            path.strip_prefix(root).unwrap_or(&path).display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
