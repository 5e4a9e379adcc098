//! `forja network add-node`: the consortium's "add a new node" procedure.
//! A new node's key is made here; its enode must then be on the node
//! allowlist of every member node (Besu's local permissioning: each node
//! holds its own list), which `perm_addNodesToAllowlist` changes.
//!
//! Against a `forja node` with `--apply`, the node is started by the network
//! that hosts it (`admin_addNode`, forja's own method; a Besu endpoint does
//! not know it and the procedure goes on as for Besu): the node makes and
//! keeps its key, and its enode goes on the allowlists the same way.

use std::{io::Write as _, path::PathBuf, process::ExitCode};

use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context as _, bail};
use forja_runtime::config::node_id;
use serde_json::{Value, json};

use super::endpoint::{AuthArgs, Endpoint};

#[derive(Debug, clap::Args)]
pub(crate) struct AddNodeArgs {
    /// Where to write the new node's key (Besu's `key` file: the private key
    /// in hex); an existing file is never overwritten. Not written when a
    /// `forja node` starts the node (`--apply`): that node keeps its own key
    #[arg(long, default_value = "key")]
    pub key_file: PathBuf,
    /// Host (an IP address, as Besu wants in enode URLs) the node will be reached at
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The node's P2P port (Besu's --p2p-port)
    #[arg(long, default_value_t = 30303)]
    pub p2p_port: u16,
    /// A member node's JSON-RPC endpoint whose node allowlist must list the
    /// new node (repeat for each member; `forja node`'s one endpoint changes
    /// every node of its in-process network)
    #[arg(long = "rpc", value_name = "URL")]
    pub rpc: Vec<String>,
    /// Send the perm_addNodesToAllowlist calls (without it they are printed)
    #[arg(long, requires = "rpc")]
    pub apply: bool,
    #[command(flatten)]
    pub auth: AuthArgs,
}

pub(crate) fn run(args: AddNodeArgs) -> anyhow::Result<ExitCode> {
    if args.host.parse::<std::net::IpAddr>().is_err() {
        bail!(
            "--host {}: an enode URL needs an IP address (Besu resolves host names only with --Xdns-enabled)",
            args.host
        );
    }
    if args.apply
        && let Some(code) = super::super::block_on(start_in_process(&args))??
    {
        return Ok(code);
    }
    let signer = PrivateKeySigner::random();
    write_key_file(&args.key_file, &signer)?;
    let enode = format!(
        "enode://{}@{}:{}",
        alloy::hex::encode(node_id(&signer)),
        args.host,
        args.p2p_port
    );
    println!("Node key written to {}", args.key_file.display());
    println!("Node address: {}", signer.address());
    println!("Enode: {enode}");
    let method = "perm_addNodesToAllowlist";
    let params = json!([[enode]]);
    let body = Endpoint::request(method, &params);
    if !args.apply {
        print_calls(&args, &body);
        return Ok(ExitCode::SUCCESS);
    }
    super::super::block_on(apply(&args, method, params))?
}

/// Asks the first endpoint to start the node (`admin_addNode`), then puts
/// its enode on every endpoint's allowlist. `None`: the endpoint is not a
/// forja node (it does not know the method), so the node is the operator's
/// to start.
async fn start_in_process(args: &AddNodeArgs) -> anyhow::Result<Option<ExitCode>> {
    let first = Endpoint::connect(&args.rpc[0], &args.auth).await?;
    let started = match first.call("admin_addNode", json!([])).await? {
        Ok(started) => started,
        // Besu's (and the JSON-RPC spec's) "Method not found".
        Err(error) if error.code == -32601 => return Ok(None),
        Err(error) => bail!(
            "{}: admin_addNode refused: {error} (forja node serves it in the ADMIN group, --rpc-http-api, to a user allowed admin:* whose account, if any, is an admin)",
            first.url
        ),
    };
    let field = |name: &str| {
        started[name].as_str().map(str::to_owned).with_context(|| {
            format!(
                "{}: admin_addNode answered without {name}: {started}",
                first.url
            )
        })
    };
    let enode = field("enode")?;
    let address: alloy::primitives::Address = field("address")?
        .parse()
        .with_context(|| format!("{}: admin_addNode answered a bad address", first.url))?;
    println!(
        "Node {} started in the network served at {}",
        started["index"], first.url
    );
    match started["keyFile"].as_str() {
        Some(path) => println!("Node key kept by that node in {path}"),
        None => println!("Node key kept in memory by that node (its network has no --data-dir)"),
    }
    println!("Node address: {address}");
    println!("Enode: {enode}");
    let code = apply(args, "perm_addNodesToAllowlist", json!([[enode]])).await?;
    if code == ExitCode::SUCCESS {
        println!(
            "It syncs now; to make it a validator: forja network propose-validator {address} --rpc URL…"
        );
    }
    Ok(Some(code))
}

/// The calls an operator sends, one per member endpoint.
fn print_calls(args: &AddNodeArgs, body: &Value) {
    let auth = if args.auth.rpc_token.is_some() || args.auth.username.is_some() {
        " -H \"Authorization: Bearer $TOKEN\""
    } else {
        ""
    };
    println!();
    println!("Add it to the node allowlist of every member node (each holds its own):");
    let urls: Vec<&str> = if args.rpc.is_empty() {
        vec!["http://MEMBER_NODE:8545"]
    } else {
        args.rpc.iter().map(String::as_str).collect()
    };
    for url in urls {
        println!("  curl -s {url} -H 'content-type: application/json'{auth} -d '{body}'");
    }
    println!("(or run again with --rpc URL... --apply to send them)");
}

async fn apply(args: &AddNodeArgs, method: &str, params: Value) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for url in &args.rpc {
        let outcome = match Endpoint::connect(url, &args.auth).await {
            Ok(endpoint) => endpoint.call(method, params.clone()).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(Ok(result)) => println!("{url}: {method} → {result}"),
            Ok(Err(error)) => {
                failed += 1;
                eprintln!("{url}: {method} refused: {error}");
            }
            Err(error) => {
                failed += 1;
                eprintln!("{url}: {error:#}");
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} endpoints did not add the node; send the call again to those",
            args.rpc.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Besu's `key` file: `0x` and the private key in hex, readable by its owner only.
fn write_key_file(path: &std::path::Path, signer: &PrivateKeySigner) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| {
        if path.exists() {
            format!(
                "{} exists: a node key is never overwritten (give another --key-file)",
                path.display()
            )
        } else {
            format!("cannot create {}", path.display())
        }
    })?;
    file.write_all(format!("0x{}", alloy::hex::encode(signer.to_bytes())).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
