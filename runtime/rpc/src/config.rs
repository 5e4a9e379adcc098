//! Server settings: address, limits, CORS and host allowlists.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use alloy::signers::local::PrivateKeySigner;
use forja_runtime::execution::CallLimits;

use std::sync::Arc;

use crate::{auth::AccessConfig, http::HttpPages};

/// How the JSON-RPC server listens and what it accepts.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// Address to bind; port 0 picks a free port (see `RpcServer::local_addr`).
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes (HTTP body or WS message).
    pub max_request_body_size: u32,
    /// Largest response produced, in bytes.
    pub max_response_body_size: u32,
    /// Most calls in one batch request.
    pub max_batch_size: u32,
    /// Most simultaneous connections (HTTP and WebSocket together).
    pub max_connections: u32,
    /// Most simultaneous connections from one client address, so one
    /// client cannot take every slot (0: no cap).
    pub max_connections_per_client: u32,
    /// Time an HTTP request may take, reading its body included (Besu's
    /// HTTP timeout: 30 s); past it the client gets 408.
    pub request_timeout: std::time::Duration,
    /// A connection with nothing read or written for this long is closed
    /// (Geth's `IdleTimeout`, 120 s); WebSocket pings come four times as
    /// often, so a live WebSocket client is never idle.
    pub idle_timeout: std::time::Duration,
    pub max_subscriptions_per_connection: u32,
    /// Origins allowed by CORS; `["*"]` allows any, empty sends no CORS headers.
    pub cors_origins: Vec<String>,
    /// Values accepted in the `Host` header; `["*"]` accepts any.
    pub host_allowlist: Vec<String>,
    /// Filters not polled for this long are removed (Geth uses 5 minutes).
    pub filter_expiry: std::time::Duration,
    /// Most polling filters installed at once (each holds memory until it
    /// expires); past it `eth_new*Filter` answers -32005.
    pub max_filters: usize,
    /// Accounts `eth_accounts`, `eth_sendTransaction` and `eth_sign` use.
    pub dev_accounts: Vec<PrivateKeySigner>,
    /// `web3_clientVersion`.
    pub client_version: String,
    /// Gas cap and time limit of `eth_call`, `eth_estimateGas`,
    /// `eth_createAccessList` and the `debug_trace*` methods (Besu's
    /// `--rpc-gas-cap`, Geth's `--rpc.evmtimeout`).
    pub call_limits: CallLimits,
    /// Most of those executions running at once; more wait for a turn, so
    /// they never hold up the threads that answer everything else.
    pub max_concurrent_executions: usize,
    /// Serve the dev methods (`evm_*`, `anvil_*`, `hardhat_*`) when the node
    /// offers them; when off they answer -32601 (method not found), as
    /// Besu does. Off by default: they rewrite the chain.
    pub dev_methods: bool,
    /// API groups, authentication and who may use node-held keys.
    pub access: AccessConfig,
    /// Pages served over `GET` beside the API (the explorer at `/explorer`).
    pub pages: Option<Arc<dyn HttpPages>>,
    /// File of Otterscan's address index (`ots_searchTransactions*`),
    /// kept while the OTS group is served (`forja node` puts it in the
    /// data directory, `ots-index.redb`); `None` keeps it in memory.
    pub ots_index_file: Option<std::path::PathBuf>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8545),
            max_request_body_size: 10 * 1024 * 1024,
            max_response_body_size: 100 * 1024 * 1024,
            max_batch_size: 1024,
            max_connections: 256,
            max_connections_per_client: 64,
            request_timeout: std::time::Duration::from_secs(30),
            idle_timeout: std::time::Duration::from_secs(120),
            max_subscriptions_per_connection: 1024,
            cors_origins: vec!["*".to_owned()],
            host_allowlist: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            filter_expiry: std::time::Duration::from_secs(5 * 60),
            max_filters: 1024,
            dev_accounts: Vec::new(),
            client_version: format!("forja/v{}", env!("CARGO_PKG_VERSION")),
            dev_methods: false,
            access: AccessConfig::default(),
            pages: None,
            ots_index_file: None,
            call_limits: CallLimits::default(),
            max_concurrent_executions: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(2),
        }
    }
}
