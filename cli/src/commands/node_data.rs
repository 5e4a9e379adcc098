//! `forja node backup|restore|verify`: a running node's data directory
//! backed up through its JSON-RPC (`admin_backup`; redb locks a store to
//! the process that runs it), restored into a new data directory, and
//! checked. Subcommands of `forja node` because they act on what
//! `forja node --data-dir` keeps (Besu keeps its offline equivalents
//! under `besu operator`).

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use forja_bench::rpc::{Connection, Endpoint};
use forja_runtime::backup::{self, NodeHead};
use serde_json::json;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Back up a running `forja node --data-dir` without stopping it, into
    /// <DATA-DIR>/backups/<NAME>/ (the node's ADMIN API group, authenticated
    /// as the node requires)
    Backup(BackupArgs),
    /// Restore a backup into a new data directory (verified first)
    Restore(RestoreArgs),
    /// Check a data directory (of a stopped node) or a backup: every node's
    /// head hash, state root and shared genesis
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct BackupArgs {
    /// The node's JSON-RPC URL
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// Bearer token for a node with --rpc-http-authentication-enabled
    #[arg(
        long,
        env = "FORJA_RPC_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub rpc_token: Option<String>,
    /// Name of the backup folder [default: the UTC time, e.g. 20260101T120000Z]
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    /// The backup folder (<DATA-DIR>/backups/<NAME>)
    pub backup: PathBuf,
    /// Data directory to restore into; it must hold no node store
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// A data directory or a backup folder
    pub dir: PathBuf,
}

pub(crate) fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Backup(args) => run_backup(args),
        Command::Restore(args) => {
            let restored = backup::restore(&args.backup, &args.data_dir)
                .with_context(|| format!("cannot restore {}", args.backup.display()))?;
            print_heads(&restored.nodes);
            println!(
                "Restored into {}. Start it with `forja node --data-dir {}` and the network definition it ran with.",
                args.data_dir.display(),
                args.data_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => {
            let verified = backup::verify(&args.dir)
                .with_context(|| format!("{} failed verification", args.dir.display()))?;
            print_heads(&verified.nodes);
            println!(
                "{}: {} node store(s) verified, genesis {}{}",
                args.dir.display(),
                verified.nodes.len(),
                verified.genesis_hash,
                if verified.manifest.is_some() {
                    ", heads as backup.json records"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_heads(nodes: &[NodeHead]) {
    for head in nodes {
        println!(
            "node {}: block {} {} state root {}",
            head.node, head.number, head.hash, head.state_root
        );
    }
}

fn run_backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.name {
        backup::check_name(name)?;
    }
    let endpoint = Endpoint::new(&args.rpc, args.rpc_token.clone())?;
    let result = super::block_on(async {
        let mut connection = Connection::open(&endpoint).await?;
        let params = match &args.name {
            Some(name) => json!([name]),
            None => json!([]),
        };
        connection.call("admin_backup", params).await
    })??;
    let name = result["name"].as_str().unwrap_or_default();
    let path = result["path"].as_str().unwrap_or_default();
    for node in result["nodes"].as_array().into_iter().flatten() {
        let number = node["number"]
            .as_str()
            .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok())
            .unwrap_or_default();
        println!(
            "node {}: block {} {} state root {}",
            node["node"],
            number,
            node["hash"].as_str().unwrap_or("?"),
            node["stateRoot"].as_str().unwrap_or("?")
        );
    }
    println!("Backup `{name}` written to {path}");
    Ok(ExitCode::SUCCESS)
}
