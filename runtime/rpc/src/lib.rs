//! forja's JSON-RPC API: Ethereum's `eth_*`/`net_*`/`web3_*`/`txpool_*`,
//! Geth's `debug_trace*`, Besu's `qbft_*`/`ibft_*`, `perm_*` and `admin_*`,
//! Otterscan's `ots_*`, and the dev network's `evm_*`/`anvil_*`/`hardhat_*`, over HTTP and
//! WebSocket on one port (jsonrpsee), with Prometheus `/metrics`,
//! `/liveness` and `/readiness` on the same port.
//!
//! The server reads and drives a node through [`NodeApi`]; the runtime's
//! node implements it. This crate translates and maps errors; it decides
//! nothing about the chain.
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod auth;
mod backend;
mod config;
mod consortium;
mod context;
mod convert;
mod debug;
mod dev;
mod envelope;
pub mod error;
mod eth;
mod filters;
pub mod groups;
mod hex;
mod http;
mod limits;
mod metrics;
mod ots;
mod pubsub;
mod runtime_node;
mod runtime_trace;
mod server;
mod summary;
mod ws_front;

pub use auth::{AccessConfig, Authentication};
pub use backend::{
    AddedNode, Consensus, ConsensusCounters, DevApi, NodeApi, NodeInfo, NodeResult, PeerInfo,
    SignerMetric, TraceApi,
};
pub use config::RpcConfig;
pub use groups::{ApiGroup, ApiGroups, UnknownApiGroup};
pub use http::{HttpPage, HttpPages};
pub use metrics::RpcMetrics;
pub use ots::index::{IndexError as OtsIndexError, OtsIndex};
pub use runtime_node::NetworkNode;
pub use server::{RpcServer, ServerError};
pub use summary::{BlockSummary, block_summary};
