//! A node's state shared by its core and its API handles: chain, pool,
//! permissions, store, subscriptions, counters and the consensus view.

use std::sync::{
    Arc, Mutex, RwLock,
    atomic::{AtomicBool, AtomicU64},
};

use alloy::primitives::{Address, B256, B512};
use forja_consensus::BftMode;
use tokio::sync::broadcast;

use crate::{
    block::{SealedBlock, TxRef},
    chain::Chain,
    config::NodeKey,
    error::{Error, TxError},
    permissions::{PermissionChange, Permissions},
    pool::{TxPool, validate},
    spec::ChainSpec,
    storage::Store,
};

/// Counters exposed as metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    pub blocks_committed: AtomicU64,
    pub transactions_committed: AtomicU64,
    pub rounds_started: AtomicU64,
    pub round_changes: AtomicU64,
    pub blocks_rejected: AtomicU64,
}

/// Consensus state the API reads (the engine itself lives in the core).
#[derive(Clone, Debug, Default)]
pub struct ConsensusView {
    pub validators: Vec<Address>,
    pub pending_votes: Vec<(Address, bool)>,
    pub height: u64,
    pub round: u32,
}

/// State of one node shared between its core and its API handles.
pub struct NodeShared {
    pub index: usize,
    pub key: NodeKey,
    pub node_id: B512,
    pub spec: ChainSpec,
    pub mode: BftMode,
    pub chain: RwLock<Chain>,
    pub pool: Mutex<TxPool>,
    pub permissions: RwLock<Permissions>,
    pub store: Option<Arc<Store>>,
    pub new_blocks: broadcast::Sender<Arc<SealedBlock>>,
    pub new_transactions: broadcast::Sender<B256>,
    pub metrics: Metrics,
    pub consensus: RwLock<ConsensusView>,
    /// Set when the node shuts down: stops whatever EVM execution it or its
    /// API handles are running (see [`crate::interrupt`]).
    pub stop: Arc<AtomicBool>,
    /// Besu's `--poa-block-txs-selection-max-time`: the share of the block
    /// period (percent) this node spends executing transactions for a block
    /// it proposes (see `core::selection_budget`).
    pub block_txs_selection_max_time: u8,
}

impl std::fmt::Debug for NodeShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeShared")
            .field("index", &self.index)
            .field("address", &self.key.address())
            .finish()
    }
}

impl NodeShared {
    /// Validates a transaction against the latest state and adds it to the pool.
    pub fn add_transaction(&self, tx: TxRef) -> Result<(), TxError> {
        let chain = self.chain.read().expect("chain lock");
        let state = chain.latest_state();
        {
            let permissions = self.permissions.read().expect("permissions lock");
            validate(&self.spec, &state, &permissions, &tx)?;
        }
        let state_nonce = state.nonce(tx.sender);
        let hash = tx.hash;
        self.pool
            .lock()
            .expect("pool lock")
            .insert(tx, state_nonce)?;
        drop(chain);
        let _ = self.new_transactions.send(hash);
        Ok(())
    }

    /// [`Self::add_transaction`] for a batch (gossip, `submit_batch`): each
    /// lock is taken once per batch rather than once per transaction.
    pub fn add_transactions(&self, txs: &[TxRef]) -> Vec<Result<(), TxError>> {
        let chain = self.chain.read().expect("chain lock");
        let state = chain.latest_state();
        let mut results: Vec<Result<(), TxError>> = {
            let permissions = self.permissions.read().expect("permissions lock");
            txs.iter()
                .map(|tx| validate(&self.spec, &state, &permissions, tx))
                .collect()
        };
        {
            let mut pool = self.pool.lock().expect("pool lock");
            for (tx, result) in txs.iter().zip(&mut results) {
                if result.is_ok() {
                    *result = pool.insert(tx.clone(), state.nonce(tx.sender));
                }
            }
        }
        drop(chain);
        if self.new_transactions.receiver_count() > 0 {
            for (tx, result) in txs.iter().zip(&results) {
                if result.is_ok() {
                    let _ = self.new_transactions.send(tx.hash);
                }
            }
        }
        results
    }

    /// Applies a permission change to this node's lists and persists it:
    /// on disk first, so a failed write leaves the lists as they were.
    /// Refused, changing nothing, when it would leave no admin.
    pub fn apply_permissions(&self, change: &PermissionChange) -> Result<(), Error> {
        let mut permissions = self.permissions.write().expect("permissions lock");
        let changed = permissions.changed_by(change)?;
        if let Some(store) = &self.store {
            store.write_permissions(&changed)?;
        }
        *permissions = changed;
        Ok(())
    }
}
