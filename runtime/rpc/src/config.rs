//! Server settings: address, limits, CORS and host allowlists.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use alloy::signers::local::PrivateKeySigner;

use crate::auth::AccessConfig;

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
    pub max_subscriptions_per_connection: u32,
    /// Origins allowed by CORS; `["*"]` allows any, empty sends no CORS headers.
    pub cors_origins: Vec<String>,
    /// Values accepted in the `Host` header; `["*"]` accepts any.
    pub host_allowlist: Vec<String>,
    /// Filters not polled for this long are removed (Geth uses 5 minutes).
    pub filter_expiry: std::time::Duration,
    /// Accounts `eth_accounts`, `eth_sendTransaction` and `eth_sign` use.
    pub dev_accounts: Vec<PrivateKeySigner>,
    /// `web3_clientVersion`.
    pub client_version: String,
    /// Serve the dev methods (`evm_*`, `anvil_*`, `hardhat_*`) when the node
    /// offers them; when off they answer -32601 (method not found), as
    /// Besu does. Off by default: they rewrite the chain.
    pub dev_methods: bool,
    /// API groups, authentication and who may use node-held keys.
    pub access: AccessConfig,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8545),
            max_request_body_size: 10 * 1024 * 1024,
            max_response_body_size: 100 * 1024 * 1024,
            max_batch_size: 1024,
            max_connections: 256,
            max_subscriptions_per_connection: 1024,
            cors_origins: vec!["*".to_owned()],
            host_allowlist: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            filter_expiry: std::time::Duration::from_secs(5 * 60),
            dev_accounts: Vec::new(),
            client_version: format!("forja/v{}", env!("CARGO_PKG_VERSION")),
            dev_methods: false,
            access: AccessConfig::default(),
        }
    }
}
