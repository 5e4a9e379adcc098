//! forja's permissioned chain: revm execution, blocks with Merkle-Patricia
//! roots, transaction pool, permissioning, redb storage and a network of
//! in-process nodes.

pub mod admission;
pub mod backup;
pub mod besu;
pub mod block;
pub mod chain;
pub mod config;
pub mod dev;
pub mod error;
pub mod execution;
pub mod interrupt;
mod memory;
pub mod network;
pub mod node;
pub mod permissions;
mod permissions_file;
pub mod pool;
pub mod sim;
pub mod spec;
pub mod state;
pub mod storage;
pub mod trace;

pub use block::{SealedBlock, SignedTx, TxLocation, TxReceipt, TxRef};
pub use config::NetworkConfig;
pub use error::{BlockError, ConfigError, Error, Result, StorageError, TxError};
pub use execution::{CallRequest, ExecutionOutcome};
pub use network::{Network, NodeHandle, StartOptions, StorageMode};
pub use spec::{ChainSpec, Hardfork};
