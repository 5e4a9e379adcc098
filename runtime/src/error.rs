//! Errors of the chain, by the rule or the resource that produced them.

use std::path::PathBuf;

use alloy::primitives::{Address, B256, U256};

use crate::interrupt::Interrupted;

/// Why a transaction was refused (at submission, on gossip, or when a block
/// is built). Each rule has its own variant so callers can map them to codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("transaction could not be decoded: {0}")]
    Decode(String),
    #[error("invalid transaction signature: {0}")]
    InvalidSignature(String),
    #[error("unsupported transaction type {0} (supported: legacy, EIP-2930, EIP-1559)")]
    UnsupportedType(u8),
    #[error("wrong chain id: transaction is for chain {got}, this chain is {expected}")]
    WrongChainId { expected: u64, got: u64 },
    #[error("nonce too low: sender {sender} has nonce {state_nonce}, transaction has {tx_nonce}")]
    NonceTooLow {
        sender: Address,
        state_nonce: u64,
        tx_nonce: u64,
    },
    #[error(
        "nonce gap too large: sender {sender} is at nonce {expected}, transaction has {tx_nonce} (at most {max_gap} ahead are queued)"
    )]
    NonceGap {
        sender: Address,
        expected: u64,
        tx_nonce: u64,
        max_gap: u64,
    },
    #[error(
        "insufficient balance: sender {sender} has {balance} wei, transaction needs up to {cost} wei (gas * price + value)"
    )]
    InsufficientBalance {
        sender: Address,
        balance: U256,
        cost: U256,
    },
    #[error("intrinsic gas too low: transaction gives {gas_limit} gas, needs at least {intrinsic}")]
    GasTooLow { gas_limit: u64, intrinsic: u64 },
    #[error("gas limit {gas_limit} exceeds the block gas limit {block_gas_limit}")]
    GasLimitAboveBlockLimit {
        gas_limit: u64,
        block_gas_limit: u64,
    },
    #[error("gas price {price} is below the network's minimum gas price {min}")]
    FeeTooLow { price: u128, min: u128 },
    #[error("max priority fee {priority} is above max fee {max_fee}")]
    PriorityFeeAboveMaxFee { priority: u128, max_fee: u128 },
    #[error("transaction {0} is already known")]
    AlreadyKnown(B256),
    #[error(
        "replacement transaction underpriced: sender {sender} already has nonce {nonce} pending; a replacement must pay at least {bump}% more (max fee and priority fee)"
    )]
    ReplacementUnderpriced {
        sender: Address,
        nonce: u64,
        bump: u64,
    },
    #[error("oversized data: transaction is {size} bytes, the limit is {limit}")]
    Oversized { size: usize, limit: usize },
    #[error(
        "only replay-protected (EIP-155) transactions allowed: this one has no chain id (start the node with --rpc-allow-unprotected-txs to accept it)"
    )]
    Unprotected,
    #[error("transaction pool is full ({limit} transactions)")]
    PoolFull { limit: usize },
    #[error("sender {sender} has too many pending transactions ({limit} per sender)")]
    SenderPoolFull { sender: Address, limit: usize },
    #[error("permission denied by the account allowlist: sender {0} is not on it")]
    AccountNotAllowed(Address),
    #[error(
        "permission denied by access level: sender {sender} is {level}, which may not {action}"
    )]
    AccessLevelTooLow {
        sender: Address,
        level: &'static str,
        action: &'static str,
    },
    #[error("transaction rejected by the EVM: {0}")]
    Evm(String),
}

/// A block a node refused to import.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block {number} does not extend the chain: parent {parent} is not the head {head}")]
    UnknownParent {
        number: u64,
        parent: B256,
        head: B256,
    },
    #[error("block {number}: proposer {got} is not the expected proposer {expected}")]
    WrongProposer {
        number: u64,
        expected: Address,
        got: Address,
    },
    #[error("block {number}: transaction {index} ({hash}) is invalid: {reason}")]
    InvalidTransaction {
        number: u64,
        index: usize,
        hash: B256,
        reason: String,
    },
    #[error("block {number}: gas limit {gas_limit} is not {allowed}")]
    GasLimit {
        number: u64,
        gas_limit: u64,
        allowed: String,
    },
    #[error("block {number}: {field} mismatch: header says {header}, execution gives {computed}")]
    Mismatch {
        number: u64,
        field: &'static str,
        header: String,
        computed: String,
    },
    #[error("block {number}: gas used {gas_used} exceeds gas limit {gas_limit}")]
    GasLimitExceeded {
        number: u64,
        gas_used: u64,
        gas_limit: u64,
    },
    /// Execution was stopped from outside (the node is shutting down); says
    /// nothing about the block's validity.
    #[error("block {number}: {why}")]
    Interrupted { number: u64, why: String },
}

/// Why a call (`eth_call`) or a gas estimate gave no outcome. The messages
/// are the EVM's own (the RPC answers them as invalid params).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The EVM refused to run the call: a field of the request, the block's
    /// header or a state read.
    #[error("{0}")]
    Rejected(String),
    /// Execution was stopped from outside (a deadline or the node's shutdown).
    #[error("{}", .0.message())]
    Interrupted(Interrupted),
    /// An estimate's call fails even with all the gas it may have: the revert
    /// reason, or "execution reverted".
    #[error("{0}")]
    Reverted(String),
}

/// Problems with a node's store (its redb file).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot open node store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("node store {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("data directory {dir} is incomplete: {message}")]
    Incomplete { dir: PathBuf, message: String },
    #[error(
        "node store {path} belongs to another network: its genesis is {stored}, the configuration's is {configured}"
    )]
    GenesisMismatch {
        path: PathBuf,
        stored: B256,
        configured: B256,
    },
    #[error(
        "node store {path} belongs to chain id {stored}, the configuration says {configured} (transactions signed for one chain do not replay on another)"
    )]
    ChainIdMismatch {
        path: PathBuf,
        stored: u64,
        configured: u64,
    },
    #[error("writing to node store {path} failed: {message}")]
    Write { path: PathBuf, message: String },
}

/// A network definition that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid network definition: {0}")]
    Invalid(String),
}

/// Errors of the runtime's API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tx(#[from] TxError),
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("block {0} not found")]
    BlockNotFound(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the network has shut down")]
    ShutDown,
    /// A call ran past its time limit (Geth's wording).
    #[error("execution aborted (timeout = {}s)", .0.as_secs_f64())]
    ExecutionTimeout(std::time::Duration),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
