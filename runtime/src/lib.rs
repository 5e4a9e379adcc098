//! forja's permissioned chain: revm execution, blocks with Merkle-Patricia
//! roots, transaction pool, permissioning, redb storage and a network of
//! in-process nodes.
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub(crate) mod admission;
pub mod backup;
pub mod besu;
pub(crate) mod block;
pub(crate) mod chain;
pub mod config;
mod data_dir;
pub(crate) mod error;
pub mod execution;
pub(crate) mod interrupt;
mod memory;
pub mod network;
pub mod node;
pub mod permissions;
mod permissions_file;
pub mod phases;
pub mod pool;
pub mod sim;
pub(crate) mod spec;
pub(crate) mod state;
pub mod storage;
pub mod trace;

pub use block::{SealedBlock, SignedTx, TxLocation, TxReceipt, TxRef};
pub use config::NetworkConfig;
pub use error::{BlockError, CallError, ConfigError, Error, Result, StorageError, TxError};
pub use execution::{CallRequest, ExecutionOutcome};
pub use interrupt::Interrupted;
pub use network::{
    ChainReader, DevControls, Network, NodeAdmin, NodeHandle, StartOptions, StorageMode,
    TransactionPool,
};
pub use spec::{ChainSpec, Hardfork};
