//! `forja node`: a permissioned QBFT/IBFT 2.0 network in this process,
//! served over JSON-RPC (HTTP and WebSocket on one port).

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{U256, utils::format_ether};
use anyhow::{Context, bail};
use forja_explorer::{Endpoint, Explorer};
use forja_rpc::{
    AccessConfig, ApiGroup, ApiGroups, Authentication, NetworkNode, NodeApi, RpcConfig, RpcServer,
    block_summary,
};
use forja_runtime::{
    Hardfork, Network, NetworkConfig, StorageMode,
    config::{ConsensusMode, DEFAULT_BLOCK_TXS_SELECTION_MAX_TIME},
    execution::CallLimits,
    permissions::Permissions,
};
use tokio::sync::broadcast::error::RecvError;

/// Run a local permissioned network (QBFT validators in this process) with a JSON-RPC endpoint.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    /// Back up, restore or verify a data directory instead of running
    #[command(subcommand)]
    pub command: Option<super::node_data::Command>,
    /// Number of validators [default: 4, or the network file's]
    #[arg(long, value_name = "N")]
    pub validators: Option<usize>,
    /// Number of non-validating nodes [default: 0]
    #[arg(long, value_name = "N")]
    pub regular_nodes: Option<usize>,
    /// Consensus protocol: qbft or ibft2 [default: qbft]
    #[arg(long, value_parser = parse_consensus)]
    pub consensus: Option<ConsensusMode>,
    /// Seconds between blocks; 0 makes a block as soon as a transaction is pending [default: 0]
    #[arg(long, value_name = "SECONDS")]
    pub block_period: Option<u64>,
    /// EVM hardfork (byzantium ... prague) [default: prague]
    #[arg(long, value_parser = |s: &str| s.parse::<Hardfork>())]
    pub hardfork: Option<Hardfork>,
    /// Chain id [default: 1337]
    #[arg(long)]
    pub chain_id: Option<u64>,
    /// Number of funded dev accounts (from the dev mnemonic "test test ... junk") [default: 10]
    #[arg(long, value_name = "N")]
    pub accounts: Option<u32>,
    /// Balance of each dev account, in ether [default: 10000]
    #[arg(long, value_name = "ETHER")]
    pub balance: Option<u64>,
    /// Address to listen on (Besu: --rpc-http-host); a non-loopback one without authentication
    /// prints what it exposes
    #[arg(long, alias = "rpc-http-host", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one (printed)
    #[arg(long, alias = "rpc-http-port", default_value_t = 8545)]
    pub port: u16,
    /// Also serve every other node on an endpoint of its own (node N on
    /// PORT+N, or a free port with --port 0), as each Besu node has one:
    /// validator votes are cast per node. Same API groups and authentication;
    /// the dev methods only on node 0's
    #[arg(long)]
    pub rpc_every_node: bool,
    /// API groups served (Besu's: ETH, NET, WEB3, TXPOOL, DEBUG, TRACE, ADMIN, PERM, QBFT, IBFT,
    /// forja's DEV, and OTS: Otterscan's ots_* with erigon_getHeaderByNumber); others answer
    /// -32604 "Method not enabled" [default: all for the built-in dev network; ETH,NET,WEB3 for a
    /// network from a file, or its [rpc] rpc-http-api]
    #[arg(long, value_name = "GROUPS", value_delimiter = ',')]
    pub rpc_http_api: Option<Vec<ApiGroup>>,
    /// API groups served over WebSocket (same port) [default: those of --rpc-http-api]
    #[arg(long, value_name = "GROUPS", value_delimiter = ',')]
    pub rpc_ws_api: Option<Vec<ApiGroup>>,
    /// Require authentication (HTTP and WebSocket): a token from POST /login
    /// (with --rpc-http-authentication-credentials-file) or a JWT signed by the key in
    /// --rpc-http-authentication-jwt-public-key-file
    #[arg(long, alias = "rpc-ws-authentication-enabled")]
    pub rpc_http_authentication_enabled: bool,
    /// Besu's credentials file: [Users.<name>] password = "<bcrypt hash>", permissions = ["perm:*", ...],
    /// and forja's account = "0x..." (the account its admin calls act as)
    #[arg(
        long,
        value_name = "FILE",
        alias = "rpc-ws-authentication-credentials-file"
    )]
    pub rpc_http_authentication_credentials_file: Option<PathBuf>,
    /// PEM public key that signs the accepted JWTs (no /login then)
    #[arg(
        long,
        value_name = "FILE",
        alias = "rpc-ws-authentication-jwt-public-key-file"
    )]
    pub rpc_http_authentication_jwt_public_key_file: Option<PathBuf>,
    /// Algorithm of the JWT public key: RS256, RS384, RS512, ES256 or ES384 [default: RS256]
    #[arg(
        long,
        value_name = "ALGORITHM",
        alias = "rpc-ws-authentication-jwt-algorithm"
    )]
    pub rpc_http_authentication_jwt_algorithm: Option<String>,
    /// Besu's permissions_config.toml (accounts-allowlist, nodes-allowlist): replaces every
    /// node's lists at start. With --data-dir the lists are also written to
    /// <DIR>/permissions_config.toml at start and at stop
    #[arg(long, value_name = "FILE")]
    pub permissions_config_file: Option<PathBuf>,
    /// Network definition to run [default: ./network.toml when it exists]
    #[arg(long, value_name = "FILE", conflicts_with = "genesis")]
    pub network: Option<PathBuf>,
    /// Besu genesis.json to run: its genesis block as Besu builds it (same hash), chain id, gas
    /// limit, allocations, consensus settings and as many validators as its extraData names
    /// (forja's own keys: when they are not the named ones, they take over at block 1)
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Keep the chain here and resume from it; without it the network is discarded on exit
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Origins allowed to call the RPC from a browser (CORS); `*` for any [default: `*` for the
    /// built-in dev network; none for a network from a file, or its [rpc] rpc-http-cors-origins]
    #[arg(
        long = "rpc-http-cors-origins",
        alias = "cors",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub cors: Option<Vec<String>>,
    /// Host header values accepted (DNS-rebinding protection); `*` for any
    #[arg(
        long,
        value_name = "HOST",
        value_delimiter = ',',
        default_value = "localhost,127.0.0.1"
    )]
    pub host_allowlist: Vec<String>,
    /// Serve the dev methods (evm_*, anvil_*, hardhat_*: mining, clock, state patches,
    /// impersonation, snapshots) [default: on for the built-in dev network, off for a
    /// network from --network, --genesis or ./network.toml]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub dev: Option<bool>,
    /// Don't serve the dev methods (same as --dev=false)
    #[arg(long, conflicts_with = "dev")]
    pub no_dev: bool,
    /// Don't log committed blocks
    #[arg(long)]
    pub quiet: bool,
    /// The project whose out/ artifacts the explorer page (/explorer) decodes with [default:
    /// the current directory's project, when built]
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Don't serve the explorer page at /explorer
    #[arg(long)]
    pub no_explorer: bool,
    /// Most gas eth_call, eth_estimateGas, eth_createAccessList and debug_traceCall get
    /// (Besu's flag; 0: no cap)
    #[arg(long, value_name = "GAS", default_value_t = 50_000_000)]
    pub rpc_gas_cap: u64,
    /// Seconds those calls and the debug traces may run before they are stopped (Geth's
    /// --rpc.evmtimeout; 0: no limit)
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_seconds)]
    pub rpc_evm_timeout: f64,
    /// Percent of the block period (of the request timeout when blocks are made on demand)
    /// a proposer spends executing transactions for its block; a transaction that does
    /// not finish in time is left out and dropped from the pool (Besu's flag)
    #[arg(long, value_name = "PERCENT", default_value_t = DEFAULT_BLOCK_TXS_SELECTION_MAX_TIME,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub poa_block_txs_selection_max_time: u8,
    /// With --data-dir, the number of newest blocks whose state stays readable (eth_call,
    /// eth_getBalance, ... at a past block); older blocks' undo data is pruned (Besu's flag)
    #[arg(long, value_name = "BLOCKS", default_value_t = forja_runtime::storage::DEFAULT_HISTORICAL_BLOCK_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub bonsai_historical_block_limit: u64,
    /// Percent more a transaction replacing a pending one (same sender and nonce) must pay
    /// (Besu's flag)
    #[arg(long, value_name = "PERCENT", default_value_t = 10)]
    pub tx_pool_price_bump: u64,
    /// Accept transactions signed without a chain id (pre-EIP-155), which can be replayed
    /// on any chain (Geth's --rpc.allow-unprotected-txs)
    #[arg(long)]
    pub rpc_allow_unprotected_txs: bool,
    /// Most connections the RPC port holds at once, HTTP and WebSocket together (Besu's
    /// flag; forja serves both on one port)
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub rpc_http_max_active_connections: u32,
    /// Most connections one client address holds at once, so one client cannot take every
    /// slot (0: no cap)
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub rpc_max_connections_per_client: u32,
    /// Largest request body (HTTP) or message (WebSocket) accepted, in bytes (Besu's flag)
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    pub rpc_http_max_request_content_length: u32,
    /// Most calls in one batch request (Besu's flag)
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub rpc_http_max_batch_size: u32,
}

/// A number of seconds, whole or not, at least 0.
fn parse_seconds(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
        _ => Err(format!(
            "`{value}` is not a number of seconds (e.g. 5 or 0.5)"
        )),
    }
}

impl Args {
    /// Whether to serve the dev methods: forja's own dev network has them,
    /// a network defined by a file (a stand-in for a real one) does not,
    /// unless the flags say otherwise.
    fn dev_methods(&self, defined_by_file: bool) -> bool {
        if self.no_dev {
            return false;
        }
        self.dev.unwrap_or(!defined_by_file)
    }
}

fn parse_consensus(text: &str) -> Result<ConsensusMode, String> {
    match text.to_ascii_lowercase().as_str() {
        "qbft" => Ok(ConsensusMode::Qbft),
        "ibft2" | "ibft" => Ok(ConsensusMode::Ibft2),
        _ => Err(format!(
            "unknown consensus `{text}`; expected qbft or ibft2"
        )),
    }
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    if let Some(command) = args.command.take() {
        return super::node_data::run(command);
    }
    let started = Instant::now();
    let (config, source) = network_config(&args)?;
    let defined_by_file = source.is_some();
    let dev_methods = args.dev_methods(defined_by_file);
    let serving = serving(&args, &config, source.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(serve(args, config, dev_methods, serving, started))
}

/// The `[rpc]` table of network.toml: Besu's config-file keys for the
/// settings `forja node` also takes as flags (a flag wins). Paths are
/// relative to network.toml.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct RpcFileSettings {
    rpc_http_api: Option<Vec<String>>,
    rpc_ws_api: Option<Vec<String>>,
    rpc_http_authentication_enabled: bool,
    rpc_http_authentication_credentials_file: Option<PathBuf>,
    rpc_http_authentication_jwt_public_key_file: Option<PathBuf>,
    rpc_http_authentication_jwt_algorithm: Option<String>,
    rpc_http_cors_origins: Option<Vec<String>>,
}

/// Who may call what, from the flags over network.toml's `[rpc]` over the
/// defaults: everything open on the built-in dev network; Besu's defaults
/// (ETH,NET,WEB3, no CORS, node-held keys only for authenticated callers)
/// on a network from a file.
struct Serving {
    access: AccessConfig,
    cors: Vec<String>,
    authentication: String,
}

fn serving(args: &Args, config: &NetworkConfig, source: Option<&Path>) -> anyhow::Result<Serving> {
    let file_name = source.map_or_else(|| "network.toml".into(), |p| p.display().to_string());
    let file: RpcFileSettings = if config.rpc.is_empty() {
        RpcFileSettings::default()
    } else {
        toml::Value::Table(config.rpc.0.clone())
            .try_into()
            .map_err(|e| anyhow::anyhow!("{file_name}: [rpc]: {e}"))?
    };
    let base = source
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .to_owned();
    let from_file = |names: &[String], key: &str| -> anyhow::Result<ApiGroups> {
        names
            .iter()
            .map(|name| name.parse::<ApiGroup>())
            .collect::<Result<ApiGroups, _>>()
            .map_err(|e| anyhow::anyhow!("{file_name}: [rpc] {key}: {e}"))
    };
    let api_groups = match (&args.rpc_http_api, &file.rpc_http_api) {
        (Some(flag), _) => flag.iter().copied().collect(),
        (None, Some(names)) => from_file(names, "rpc-http-api")?,
        (None, None) if source.is_some() => ApiGroups::besu_default(),
        (None, None) => ApiGroups::all(),
    };
    let ws_api_groups = match (&args.rpc_ws_api, &file.rpc_ws_api) {
        (Some(flag), _) => flag.iter().copied().collect(),
        (None, Some(names)) => from_file(names, "rpc-ws-api")?,
        (None, None) => api_groups.clone(),
    };
    let enabled = args.rpc_http_authentication_enabled || file.rpc_http_authentication_enabled;
    let credentials = args
        .rpc_http_authentication_credentials_file
        .clone()
        .or_else(|| {
            file.rpc_http_authentication_credentials_file
                .map(|p| base.join(p))
        });
    let public_key = args
        .rpc_http_authentication_jwt_public_key_file
        .clone()
        .or_else(|| {
            file.rpc_http_authentication_jwt_public_key_file
                .map(|p| base.join(p))
        });
    let algorithm = args
        .rpc_http_authentication_jwt_algorithm
        .clone()
        .or(file.rpc_http_authentication_jwt_algorithm)
        .unwrap_or_else(|| "RS256".into());
    let (authentication, note) = match (enabled, credentials, public_key) {
        (false, None, None) => (Authentication::Disabled, "off".to_owned()),
        (false, _, _) => bail!(
            "an authentication file is given but authentication is off: add --rpc-http-authentication-enabled (or rpc-http-authentication-enabled = true under [rpc])"
        ),
        (true, Some(_), Some(_)) => bail!(
            "give either a credentials file (users log in at POST /login) or a JWT public key, not both"
        ),
        (true, Some(path), None) => (
            Authentication::credentials_file(&path)?,
            format!(
                "users of {} (a token from POST /login, valid 5 minutes)",
                path.display()
            ),
        ),
        (true, None, Some(path)) => (
            Authentication::public_key_file(&path, &algorithm)?,
            format!("JWTs signed by {} ({algorithm})", path.display()),
        ),
        (true, None, None) => bail!(
            "--rpc-http-authentication-enabled needs --rpc-http-authentication-credentials-file or --rpc-http-authentication-jwt-public-key-file"
        ),
    };
    let cors = args
        .cors
        .clone()
        .or(file.rpc_http_cors_origins)
        .unwrap_or_else(|| {
            if source.is_some() {
                Vec::new()
            } else {
                vec!["*".to_owned()]
            }
        });
    Ok(Serving {
        access: AccessConfig {
            api_groups,
            ws_api_groups,
            authentication,
            node_keys_need_authentication: source.is_some(),
        },
        cors,
        authentication: note,
    })
}

/// What binding `host` without authentication exposes, as a warning to
/// print; `None` when nothing beyond this machine can reach it.
fn exposure_warning(listening: SocketAddr, serving: &Serving) -> Option<String> {
    if listening.ip().is_loopback() || serving.access.authentication.is_enabled() {
        return None;
    }
    let groups = &serving.access.api_groups;
    let mut powers = Vec::new();
    if groups.contains(ApiGroup::Perm) {
        powers.push("change the allowlists (PERM)");
    }
    if groups.contains(ApiGroup::Qbft) || groups.contains(ApiGroup::Ibft) {
        powers.push("vote validators in or out (QBFT/IBFT)");
    }
    if groups.contains(ApiGroup::Dev) {
        powers.push("rewrite the chain (DEV)");
    }
    if groups.contains(ApiGroup::Debug)
        || groups.contains(ApiGroup::Trace)
        || groups.contains(ApiGroup::Ots)
    {
        powers.push("run expensive traces (DEBUG/TRACE/OTS)");
    }
    if !serving.access.node_keys_need_authentication && groups.contains(ApiGroup::Eth) {
        powers.push("send transactions and sign as the node's dev accounts");
    }
    let powers = if powers.is_empty() {
        String::new()
    } else {
        format!(", and so {}", powers.join(", "))
    };
    Some(format!(
        "warning: listening on {listening} without authentication: anyone who can reach it may call {groups}{powers}. Bind 127.0.0.1, or add --rpc-http-authentication-enabled."
    ))
}

/// The network definition: a file if one is given (or ./network.toml),
/// then the command-line settings on top. Also names the file that
/// defined it (`None`: forja's built-in dev network).
fn network_config(args: &Args) -> anyhow::Result<(NetworkConfig, Option<PathBuf>)> {
    let (mut config, source) = if let Some(path) = &args.network {
        (NetworkConfig::load(path)?, Some(path.clone()))
    } else if let Some(path) = &args.genesis {
        (
            forja_runtime::besu::BesuGenesis::load(path)?
                .network_config()
                .with_context(|| path.display().to_string())?,
            Some(path.clone()),
        )
    } else if Path::new("network.toml").is_file() {
        (
            NetworkConfig::load(Path::new("network.toml"))?,
            Some(PathBuf::from("network.toml")),
        )
    } else {
        let dev = NetworkConfig {
            chain_id: 1337,
            ..Default::default()
        };
        (dev, None)
    };
    if let Some(n) = args.validators {
        config.nodes.validators = n;
    }
    if let Some(n) = args.regular_nodes {
        config.nodes.regular = n;
    }
    if let Some(mode) = args.consensus {
        config.consensus.mode = mode;
    }
    if let Some(period) = args.block_period {
        config.consensus.block_period_seconds = period;
    }
    if let Some(fork) = args.hardfork {
        config.hardfork = fork;
    }
    if let Some(id) = args.chain_id {
        config.chain_id = id;
    }
    if let Some(n) = args.accounts {
        config.dev_accounts.count = n;
    }
    if let Some(ether) = args.balance {
        config.dev_accounts.balance_ether = ether;
    }
    config.block_txs_selection_max_time = args.poa_block_txs_selection_max_time;
    config.historical_block_limit = args.bonsai_historical_block_limit;
    config.pool.0.price_bump_percent = args.tx_pool_price_bump;
    config.pool.0.allow_unprotected = args.rpc_allow_unprotected_txs;
    config.validate()?;
    Ok((config, source))
}

async fn serve(
    args: Args,
    config: NetworkConfig,
    dev_methods: bool,
    serving: Serving,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    // Before the network starts: a bad --project stops nothing.
    let explorer = if args.no_explorer {
        None
    } else {
        let out_dir = forja_explorer::project_out_dir(args.project.as_deref())?;
        Some(Arc::new(Explorer::new(
            out_dir.as_deref(),
            Endpoint::SameOrigin,
        )?))
    };
    let storage = match &args.data_dir {
        Some(dir) => StorageMode::Dir(dir.clone()),
        None => StorageMode::InMemory,
    };
    let mode = config.consensus.mode;
    let summary = format!(
        "{} validator(s), {} regular node(s), {}, block period {}",
        config.nodes.validators,
        config.nodes.regular,
        match mode {
            ConsensusMode::Qbft => "QBFT",
            ConsensusMode::Ibft2 => "IBFT 2.0",
        },
        match config.consensus.block_period_seconds {
            0 => "on demand".to_owned(),
            s => format!("{s}s"),
        }
    );
    let balance =
        U256::from(config.dev_accounts.balance_ether) * U256::from(10u64).pow(U256::from(18));
    let network = tokio::task::spawn_blocking(move || Network::start(config, storage))
        .await
        .context("the network's start-up task failed")??;
    if let Err(err) = import_permissions(&args, &network) {
        network.shutdown();
        return Err(err);
    }
    let node = Arc::new(NetworkNode::new(network.node(0), mode));
    let dev_accounts: Vec<_> = network.dev_accounts().into_iter().map(|(_, s)| s).collect();
    let rpc_config = RpcConfig {
        pages: explorer
            .clone()
            .map(|explorer| explorer as Arc<dyn forja_rpc::HttpPages>),
        listen: SocketAddr::new(args.host, args.port),
        cors_origins: serving.cors.clone(),
        host_allowlist: args.host_allowlist.clone(),
        dev_accounts: dev_accounts.clone(),
        dev_methods,
        access: serving.access.clone(),
        // Otterscan's address index lives beside the chain.
        ots_index_file: args.data_dir.as_ref().map(|dir| dir.join("ots-index.redb")),
        max_connections: args.rpc_http_max_active_connections,
        max_connections_per_client: args.rpc_max_connections_per_client,
        max_request_body_size: args.rpc_http_max_request_content_length,
        max_batch_size: args.rpc_http_max_batch_size,
        call_limits: CallLimits {
            gas_cap: args.rpc_gas_cap,
            timeout: (args.rpc_evm_timeout > 0.0)
                .then(|| Duration::from_secs_f64(args.rpc_evm_timeout)),
        },
        ..Default::default()
    };
    let rpc_config_for_nodes = rpc_config.clone();
    let server = match RpcServer::start(rpc_config, node.clone()).await {
        Ok(server) => server,
        Err(err) => {
            network.shutdown();
            return Err(err.into());
        }
    };
    let mut node_servers = Vec::new();
    if args.rpc_every_node {
        for handle in network.nodes().iter().skip(1) {
            let port = match args.port {
                0 => 0,
                port => port.checked_add(handle.index() as u16).with_context(|| {
                    format!(
                        "--port {port}: node {} would be past port 65535",
                        handle.index()
                    )
                })?,
            };
            let config = RpcConfig {
                listen: SocketAddr::new(args.host, port),
                dev_methods: false,
                ..rpc_config_for_nodes.clone()
            };
            let node = Arc::new(NetworkNode::new(handle.clone(), mode));
            match RpcServer::start(config, node).await {
                Ok(server) => node_servers.push((handle.clone(), server)),
                Err(err) => {
                    network.shutdown();
                    return Err(anyhow::Error::from(err)
                        .context(format!("serving node {}", handle.index())));
                }
            }
        }
    }
    let ready_in = started.elapsed();

    println!("forja node: chain id {}, {summary}", network.chain_id());
    if let Some(dir) = &args.data_dir {
        println!(
            "Data directory: {} (resumed at block {})",
            dir.display(),
            node.block_number()
        );
    }
    println!();
    println!("Available accounts");
    println!("==================");
    for (i, signer) in dev_accounts.iter().enumerate() {
        println!("({i}) {} ({} ETH)", signer.address(), format_ether(balance));
    }
    println!();
    println!("Private keys");
    println!("==================");
    for (i, signer) in dev_accounts.iter().enumerate() {
        println!("({i}) {}", signer.to_bytes());
    }
    println!();
    // Before the "Listening on" line, which tools wait for to know all is up.
    for (handle, server) in &node_servers {
        println!(
            "Node {} ({} {}) on {}",
            handle.index(),
            if handle.is_validator() {
                "validator"
            } else {
                "regular node"
            },
            handle.address(),
            server.local_addr()
        );
    }
    println!("Listening on {} (HTTP and WebSocket)", server.local_addr());
    println!(
        "Metrics: {}/metrics   Health: {}/liveness, {}/readiness",
        server.http_url(),
        server.http_url(),
        server.http_url()
    );
    if let Some(explorer) = &explorer {
        println!(
            "Explorer: {}/explorer (decodes {} contract(s) of the project)",
            server.http_url(),
            explorer.contract_count()
        );
    }
    println!("Dev methods: {}", dev_methods_note(dev_methods, &args));
    println!(
        "API groups: {} (WebSocket: {})   Authentication: {}",
        serving.access.api_groups, serving.access.ws_api_groups, serving.authentication
    );
    if let Some(warning) = exposure_warning(server.local_addr(), &serving) {
        eprintln!("{warning}");
    }
    println!("Ready in {} ms. Ctrl-C to stop.", ready_in.as_millis());

    let mut blocks = node.subscribe_new_blocks();
    let consensus = node.consensus();
    let shutdown = shutdown_requested();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            result = &mut shutdown => {
                result?;
                break;
            }
            block = blocks.recv() => match block {
                Ok(block) if !args.quiet => {
                    let b = block_summary(consensus, &block);
                    println!(
                        "block {:>6}  {}  {:>4} tx  proposer {}  round {}",
                        b.number,
                        b.hash,
                        b.transactions,
                        b.proposer,
                        b.round.map_or_else(|| "?".to_owned(), |r| r.to_string())
                    );
                }
                Ok(_) => {}
                Err(RecvError::Lagged(skipped)) => {
                    println!("({skipped} blocks committed faster than they could be logged)");
                }
                Err(RecvError::Closed) => break,
            }
        }
    }
    println!("Shutting down...");
    let head = node.block_number();
    if let Err(err) = export_permissions(&args, &network) {
        eprintln!("warning: {err:#}");
    }
    // The network first: that interrupts whatever calls the server is
    // executing, which the server's stop would otherwise wait for.
    tokio::task::spawn_blocking(move || network.shutdown())
        .await
        .context("the network's shutdown task failed")?;
    server.stop().await;
    for (_, server) in node_servers {
        server.stop().await;
    }
    match &args.data_dir {
        Some(dir) => println!(
            "Stopped at block {head}; the chain is in {}.",
            dir.display()
        ),
        None => println!("Stopped at block {head}."),
    }
    Ok(ExitCode::SUCCESS)
}

/// `--permissions-config-file`: the lists it names replace every node's,
/// durably; then, with `--data-dir`, the lists are exported there.
fn import_permissions(args: &Args, network: &Network) -> anyhow::Result<()> {
    if let Some(path) = &args.permissions_config_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let change = Permissions::from_besu_toml(&text, &path.display().to_string())?;
        network
            .node(0)
            .admin()
            .change_permissions(None, change)
            .with_context(|| format!("cannot apply {}", path.display()))?;
    }
    export_permissions(args, network)
}

/// Writes the lists as Besu's `permissions_config.toml` in `--data-dir`.
fn export_permissions(args: &Args, network: &Network) -> anyhow::Result<()> {
    let Some(dir) = &args.data_dir else {
        return Ok(());
    };
    let path = dir.join("permissions_config.toml");
    let text = format!(
        "# The allowlists of this network's nodes (Besu's permissions_config.toml),\n# written by forja node at start and stop; the nodes' stores hold the truth.\n{}",
        network
            .node(0)
            .admin()
            .permissions()
            .to_besu_toml(|_| 30303)
    );
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The banner's word on the dev methods, with what the user can change.
fn dev_methods_note(on: bool, args: &Args) -> &'static str {
    match (on, args.data_dir.is_some()) {
        (true, false) => "on (evm_*, anvil_*, hardhat_*; --no-dev turns them off)",
        (true, true) => {
            "on (evm_*, anvil_*, hardhat_*), except state patches and snapshots, which need a network without --data-dir"
        }
        (false, _) => "off (--dev turns on evm_*, anvil_*, hardhat_*)",
    }
}

/// Ctrl-C, or SIGTERM (what `kill`, systemd and Docker send to stop a
/// service): either way the node stops accepting requests and shuts the
/// network down with every committed block on disk.
async fn shutdown_requested() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C"),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")
    }
}
