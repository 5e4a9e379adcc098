//! What the RPC layer needs from a node, in the runtime's own types.
//!
//! The server is written against this trait rather than a concrete node so
//! that the JSON-RPC translation stays separate from the chain: the runtime's
//! `NodeHandle` implements it (see `runtime_node.rs`), and nothing in this
//! crate decides what a block, a balance or a valid transaction is.

use std::sync::Arc;

use alloy::{
    eips::eip2930::AccessList,
    primitives::{Address, B256, Bytes, U256},
    rpc::types::trace::geth::{GethDebugTracingOptions, GethTrace},
};
use forja_runtime::{
    CallRequest, ExecutionOutcome, SealedBlock, TxError, TxLocation, TxReceipt, TxRef,
    execution::CallLimits, pool::PoolStatus, trace::otterscan::OtsTrace,
};
use tokio::sync::broadcast;

/// Which BFT protocol the network runs; decides `qbft_*` or `ibft_*` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consensus {
    Qbft,
    Ibft2,
}

impl Consensus {
    /// Prefix of the consortium methods, as Besu names them.
    pub fn method_prefix(self) -> &'static str {
        match self {
            Consensus::Qbft => "qbft",
            Consensus::Ibft2 => "ibft",
        }
    }
}

/// A validator's proposals over a block range (`qbft_getSignerMetrics`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerMetric {
    pub address: Address,
    pub proposed_block_count: u64,
    pub last_proposed_block_number: u64,
}

/// This node as `admin_nodeInfo` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node public key (64 bytes, hex without prefix in enode URLs).
    pub id: String,
    pub enode: String,
    pub name: String,
    pub listen_addr: String,
}

/// A node `admin_addNode` started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedNode {
    pub index: usize,
    pub enode: String,
    pub address: Address,
    /// Where its key is kept (`None`: in memory only).
    pub key_file: Option<std::path::PathBuf>,
}

/// A connected peer as `admin_peers` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub id: String,
    pub enode: String,
    pub remote_address: String,
}

/// Consensus progress counters exported on `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsensusCounters {
    /// Consensus rounds started (one or more per block).
    pub rounds: u64,
    /// Rounds that ended in a round change (proposer timeout or bad proposal).
    pub round_changes: u64,
}

/// Errors the runtime reports for non-transaction requests.
pub type NodeResult<T> = Result<T, forja_runtime::Error>;

/// One node of a running network, as the JSON-RPC server reads and drives it.
/// Block numbers are already resolved: the server turns tags into numbers.
pub trait NodeApi: Send + Sync + 'static {
    fn chain_id(&self) -> u64;
    fn consensus(&self) -> Consensus;
    /// The network's minimum gas price (`eth_gasPrice`).
    fn min_gas_price(&self) -> u128;
    fn block_gas_limit(&self) -> u64;

    fn block_number(&self) -> u64;
    fn block_by_number(&self, number: u64) -> Option<Arc<SealedBlock>>;
    fn block_by_hash(&self, hash: B256) -> Option<Arc<SealedBlock>>;
    fn receipts_by_block(&self, hash: B256) -> Option<Arc<Vec<TxReceipt>>>;
    fn transaction_by_hash(&self, hash: B256) -> Option<TxLocation>;
    fn receipt(&self, hash: B256) -> Option<TxReceipt>;

    fn balance(&self, address: Address, block: u64) -> NodeResult<U256>;
    fn nonce(&self, address: Address, block: u64) -> NodeResult<u64>;
    /// Next nonce counting this node's pool (`eth_getTransactionCount(.., "pending")`).
    fn pending_nonce(&self, address: Address) -> u64;
    fn code(&self, address: Address, block: u64) -> NodeResult<Bytes>;
    fn storage(&self, address: Address, slot: U256, block: u64) -> NodeResult<U256>;

    fn call(
        &self,
        request: CallRequest,
        block: u64,
        limits: &CallLimits,
    ) -> NodeResult<ExecutionOutcome>;
    fn estimate_gas(
        &self,
        request: CallRequest,
        block: u64,
        limits: &CallLimits,
    ) -> NodeResult<u64>;

    fn submit_transaction(&self, raw: Bytes) -> Result<B256, TxError>;
    fn pending_transactions(&self) -> Vec<TxRef>;
    fn pending_transaction(&self, hash: B256) -> Option<TxRef>;
    fn pool_status(&self) -> PoolStatus;
    fn subscribe_new_blocks(&self) -> broadcast::Receiver<Arc<SealedBlock>>;
    /// Hashes of transactions entering this node's pool.
    fn subscribe_pending_transactions(&self) -> broadcast::Receiver<B256>;

    fn validators_at(&self, block: u64) -> NodeResult<Vec<Address>>;
    /// `by` is the account the caller acts as (`None`: the node's
    /// operator); an account must be an admin.
    fn propose_validator_vote(
        &self,
        by: Option<Address>,
        validator: Address,
        add: bool,
    ) -> NodeResult<()>;
    /// Returns whether a vote for `validator` was pending.
    fn discard_validator_vote(&self, by: Option<Address>, validator: Address) -> NodeResult<bool>;
    fn pending_votes(&self) -> Vec<(Address, bool)>;
    fn signer_metrics(&self, from: u64, to: u64) -> NodeResult<Vec<SignerMetric>>;
    fn consensus_counters(&self) -> ConsensusCounters;

    /// The allowlist changes act as `by` (`None`: the node's operator); an
    /// account must be an admin, and no change may leave the network
    /// without one.
    fn accounts_allowlist(&self) -> Vec<Address>;
    fn add_accounts_to_allowlist(
        &self,
        by: Option<Address>,
        accounts: Vec<Address>,
    ) -> NodeResult<()>;
    fn remove_accounts_from_allowlist(
        &self,
        by: Option<Address>,
        accounts: Vec<Address>,
    ) -> NodeResult<()>;
    fn nodes_allowlist(&self) -> Vec<String>;
    fn add_nodes_to_allowlist(&self, by: Option<Address>, enodes: Vec<String>) -> NodeResult<()>;
    fn remove_nodes_from_allowlist(
        &self,
        by: Option<Address>,
        enodes: Vec<String>,
    ) -> NodeResult<()>;

    fn node_info(&self) -> NodeInfo;
    fn peers(&self) -> Vec<PeerInfo>;

    /// Starts a new node in the network this node belongs to, with a key
    /// of its own (`admin_addNode`, forja's own: a Besu node is a process
    /// its operator starts; an in-process node only the network hosting it
    /// can start). `by` must be an admin account (`None`: the operator).
    fn add_node(&self, by: Option<Address>) -> NodeResult<AddedNode> {
        let _ = by;
        Err(forja_runtime::Error::InvalidRequest(
            "this node cannot start nodes".to_owned(),
        ))
    }

    /// Backs up every node's store into the data directory's
    /// `backups/<name>/` while the network runs (`admin_backup`).
    fn backup(&self, name: Option<&str>) -> NodeResult<forja_runtime::backup::Backup> {
        let _ = name;
        Err(forja_runtime::Error::InvalidRequest(
            "this node cannot be backed up".to_owned(),
        ))
    }

    /// Development controls; `None` when the node cannot offer them. The
    /// server serves them only when [`crate::RpcConfig::dev_methods`] is on.
    fn dev(&self) -> Option<&dyn DevApi>;
    /// Execution tracing and access lists; `None` when the node cannot trace.
    fn tracer(&self) -> Option<&dyn TraceApi>;
}

/// Re-execution with an inspector: Geth's tracers and access lists.
pub trait TraceApi: Send + Sync {
    fn create_access_list(
        &self,
        request: CallRequest,
        block: u64,
        limits: &CallLimits,
    ) -> NodeResult<(AccessList, u64)>;
    fn trace_transaction(
        &self,
        hash: B256,
        options: GethDebugTracingOptions,
        limits: &CallLimits,
    ) -> NodeResult<GethTrace>;
    fn trace_call(
        &self,
        request: CallRequest,
        block: u64,
        options: GethDebugTracingOptions,
        limits: &CallLimits,
    ) -> NodeResult<GethTrace>;
    /// Otterscan's view of committed transaction `hash`: frames, internal
    /// operations, created contracts, revert data.
    fn ots_trace_transaction(&self, hash: B256, limits: &CallLimits) -> NodeResult<OtsTrace>;
    /// [`TraceApi::ots_trace_transaction`] for every transaction of block
    /// `number`, in order (what the address index is built from).
    fn ots_trace_block(&self, number: u64, limits: &CallLimits) -> NodeResult<Vec<OtsTrace>>;
}

/// Hardhat/anvil-style controls of the dev network.
pub trait DevApi: Send + Sync {
    fn snapshot(&self) -> NodeResult<U256>;
    /// Returns false when `id` is not a live snapshot.
    fn revert(&self, id: U256) -> NodeResult<bool>;
    fn mine(&self, blocks: u64, timestamp: Option<u64>) -> NodeResult<()>;
    /// Returns the total offset added to the clock so far, in seconds.
    fn increase_time(&self, seconds: u64) -> NodeResult<u64>;
    fn set_next_block_timestamp(&self, timestamp: u64) -> NodeResult<()>;
    fn set_balance(&self, address: Address, balance: U256) -> NodeResult<()>;
    fn set_code(&self, address: Address, code: Bytes) -> NodeResult<()>;
    fn set_storage_at(&self, address: Address, slot: U256, value: U256) -> NodeResult<()>;
    fn impersonate(&self, address: Address) -> NodeResult<()>;
    fn stop_impersonating(&self, address: Address) -> NodeResult<()>;
    fn is_impersonated(&self, address: Address) -> bool;
    /// Submits a transaction from an impersonated account, without a signature.
    fn submit_impersonated(
        &self,
        from: Address,
        request: alloy::rpc::types::TransactionRequest,
    ) -> Result<B256, TxError>;
}
