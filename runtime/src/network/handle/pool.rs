//! Submitting transactions to the node's pool, and what is pending there.

use std::sync::{Arc, mpsc::Sender};

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256},
};
use tokio::sync::broadcast;

use crate::{
    block::{SignedTx, TxRef},
    error::TxError,
    network::transport::Envelope,
    node::NodeShared,
    node::{CoreEvent, LocalEvent},
    pool::{PoolStatus, decode_transaction, recover},
};

/// One node's transaction pool (Besu's `eth_sendRawTransaction` and
/// TXPOOL): submitting transactions, and what is pending.
#[derive(Clone)]
pub struct TransactionPool {
    shared: Arc<NodeShared>,
    /// The node's channel: its core gossips what enters the pool.
    sender: Sender<Envelope>,
}

impl TransactionPool {
    pub(crate) fn new(shared: Arc<NodeShared>, sender: Sender<Envelope>) -> Self {
        Self { shared, sender }
    }

    /// A transaction still in this node's pool.
    pub fn pending_transaction(&self, hash: B256) -> Option<TxRef> {
        self.shared
            .pool
            .lock()
            .expect("pool lock")
            .get(&hash)
            .cloned()
    }

    /// The nonce the next transaction of `address` should use, counting
    /// the ones waiting in this node's pool.
    pub fn next_nonce(&self, address: Address) -> u64 {
        let chain = self.shared.chain.read().expect("chain lock");
        let state = chain.latest_state();
        let mut nonce = state.nonce(address);
        let pool = self.shared.pool.lock().expect("pool lock");
        while pool
            .transactions()
            .iter()
            .any(|t| t.sender == address && t.nonce() == nonce)
        {
            nonce += 1;
        }
        nonce
    }

    /// Submits an EIP-2718 encoded signed transaction.
    pub fn submit_raw_transaction(&self, raw: &[u8]) -> Result<B256, TxError> {
        let tx = decode_transaction(raw)?;
        self.submit_signed(Arc::new(tx))
    }

    /// Submits a signed transaction.
    pub fn submit_transaction(&self, envelope: TxEnvelope) -> Result<B256, TxError> {
        self.submit_signed(Arc::new(recover(envelope)?))
    }

    /// Submits a transaction whose sender is already recovered.
    pub fn submit_signed(&self, tx: TxRef) -> Result<B256, TxError> {
        let hash = tx.hash;
        self.shared.add_transaction(tx.clone())?;
        crate::pool::remember_recovered([&tx]);
        let _ = self.sender.send(Envelope::Event(CoreEvent::Local(
            LocalEvent::TransactionsAdded(vec![tx]),
        )));
        Ok(hash)
    }

    /// Submits many transactions; returns each one's result, in order.
    pub fn submit_batch(&self, txs: Vec<SignedTx>) -> Vec<Result<B256, TxError>> {
        let txs: Vec<TxRef> = txs.into_iter().map(Arc::new).collect();
        let added = self.shared.add_transactions(&txs);
        let mut accepted = Vec::with_capacity(txs.len());
        let results = txs
            .into_iter()
            .zip(added)
            .map(|(tx, added)| {
                added?;
                let hash = tx.hash;
                accepted.push(tx);
                Ok(hash)
            })
            .collect();
        crate::pool::remember_recovered(&accepted);
        if !accepted.is_empty() {
            let _ = self.sender.send(Envelope::Event(CoreEvent::Local(
                LocalEvent::TransactionsAdded(accepted),
            )));
        }
        results
    }

    pub fn pending_transactions(&self) -> Vec<TxRef> {
        self.shared.pool.lock().expect("pool lock").transactions()
    }

    pub fn status(&self) -> PoolStatus {
        let chain = self.shared.chain.read().expect("chain lock");
        let state = chain.latest_state();
        self.shared
            .pool
            .lock()
            .expect("pool lock")
            .status(|a| state.nonce(a))
    }

    /// Hashes of transactions entering this node's pool.
    pub fn subscribe_pending_transactions(&self) -> broadcast::Receiver<B256> {
        self.shared.new_transactions.subscribe()
    }
}
