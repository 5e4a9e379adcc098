//! `forja network export --besu DIR`: the project's network as the files a
//! Besu operator runs it from (the writer is forja-runtime's `besu::export`).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use forja_runtime::{
    NetworkConfig,
    besu::{BESU_IMAGE, BESU_RELEASE},
};

/// Export the network (FILE, else ./network.toml, else forja's built-in dev network)
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory to write genesis.json, node-<i>/ (key, config.toml,
    /// permissions_config.toml, static-nodes.json) and docker-compose.yml to;
    /// it must not exist or be empty
    #[arg(long, value_name = "DIR")]
    pub besu: PathBuf,
    /// Network definition to export [default: ./network.toml, else the built-in dev network]
    #[arg(long, value_name = "FILE")]
    pub network: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (config, source) =
        match NetworkConfig::for_project(args.network.as_deref(), Path::new("."))? {
            Some(found) => found,
            // The network `forja node` runs without a definition.
            None => (
                NetworkConfig {
                    chain_id: 1337,
                    ..Default::default()
                },
                "the built-in dev network".to_owned(),
            ),
        };
    let base_dir = args
        .network
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let exported = forja_runtime::besu::export(&config, base_dir)?;
    exported.write_to(&args.besu)?;
    println!(
        "Exported {source} for Besu {BESU_RELEASE} ({BESU_IMAGE}) to {}",
        args.besu.display()
    );
    println!();
    println!("{:<8} {:<10} {:<43} RPC", "node", "role", "address");
    for node in &exported.nodes {
        println!(
            "{:<8} {:<10} {:<43} {}",
            node.dir,
            if node.is_validator {
                "validator"
            } else {
                "regular"
            },
            node.address.to_checksum(None),
            node.rpc_url
        );
    }
    println!();
    println!("Enodes (static-nodes.json, permissions_config.toml):");
    for node in &exported.nodes {
        println!("  {}", node.enode);
    }
    for note in &exported.notes {
        println!("note: {note}");
    }
    println!();
    println!(
        "Start it: cd {} && docker compose up -d   (each node/key is a private key: keep it with its member)",
        args.besu.display()
    );
    Ok(ExitCode::SUCCESS)
}
