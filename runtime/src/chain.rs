//! One node's view of the chain: blocks, receipts, indexes and state, all
//! in memory (the store keeps the durable copy).

use std::{collections::HashMap, sync::Arc};

use alloy::{
    consensus::{ReceiptEnvelope, Transaction},
    primitives::{Address, B256, Log},
};

use crate::{
    block::{SealedBlock, TxLocation, TxReceipt},
    execution::ExecutedBlock,
    state::{ReverseDiff, StateAt, WorldState},
};

/// Blocks, receipts, transaction index and state of one node.
#[derive(Clone, Debug)]
pub struct Chain {
    blocks: Vec<Arc<SealedBlock>>,
    hashes: Vec<B256>,
    by_hash: HashMap<B256, u64>,
    receipts: Vec<Arc<Vec<TxReceipt>>>,
    tx_index: HashMap<B256, (u64, u32)>,
    world: WorldState,
    /// `history[n]` undoes block `n` (empty for genesis).
    history: Vec<Arc<ReverseDiff>>,
}

impl Chain {
    /// A chain holding only `genesis`, whose state is `world`.
    pub fn new(genesis: Arc<SealedBlock>, world: WorldState) -> Self {
        let mut chain = Self {
            blocks: Vec::new(),
            hashes: Vec::new(),
            by_hash: HashMap::new(),
            receipts: Vec::new(),
            tx_index: HashMap::new(),
            world,
            history: Vec::new(),
        };
        chain.push(genesis, Vec::new(), ReverseDiff::default());
        chain
    }

    fn push(&mut self, block: Arc<SealedBlock>, receipts: Vec<TxReceipt>, reverse: ReverseDiff) {
        let number = block.number();
        debug_assert_eq!(number as usize, self.blocks.len());
        for (index, tx) in block.transactions.iter().enumerate() {
            self.tx_index.insert(tx.hash, (number, index as u32));
        }
        self.by_hash.insert(block.hash, number);
        self.hashes.push(block.hash);
        self.blocks.push(block);
        self.receipts.push(Arc::new(receipts));
        self.history.push(Arc::new(reverse));
    }

    /// Appends a block whose changes were already applied to the state.
    pub fn append(
        &mut self,
        block: Arc<SealedBlock>,
        executed: &ExecutedBlock,
        reverse: ReverseDiff,
    ) -> Arc<Vec<TxReceipt>> {
        let receipts = build_receipts(&block, executed.receipts(), executed);
        self.push(block, receipts, reverse);
        self.receipts.last().cloned().unwrap_or_default()
    }

    /// Appends a block loaded from the store (state already loaded).
    pub fn append_stored(
        &mut self,
        block: Arc<SealedBlock>,
        receipts: Vec<ReceiptEnvelope<Log>>,
        reverse: ReverseDiff,
    ) {
        let receipts = stored_receipts(&block, receipts);
        self.push(block, receipts, reverse);
    }

    /// Removes the newest block and undoes its state changes (dev `revert`).
    pub fn pop(&mut self) -> Option<Arc<SealedBlock>> {
        if self.blocks.len() <= 1 {
            return None;
        }
        let block = self.blocks.pop()?;
        self.hashes.pop();
        self.by_hash.remove(&block.hash);
        self.receipts.pop();
        for tx in &block.transactions {
            self.tx_index.remove(&tx.hash);
        }
        if let Some(reverse) = self.history.pop() {
            self.world.revert(&reverse);
        }
        Some(block)
    }

    pub fn head(&self) -> &Arc<SealedBlock> {
        self.blocks
            .last()
            .expect("a chain always holds its genesis")
    }

    pub fn head_number(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }

    pub fn genesis_hash(&self) -> B256 {
        self.hashes[0]
    }

    pub fn block(&self, number: u64) -> Option<&Arc<SealedBlock>> {
        self.blocks.get(number as usize)
    }

    pub fn number_of(&self, hash: &B256) -> Option<u64> {
        self.by_hash.get(hash).copied()
    }

    pub fn receipts(&self, number: u64) -> Option<&Arc<Vec<TxReceipt>>> {
        self.receipts.get(number as usize)
    }

    pub fn transaction(&self, hash: &B256) -> Option<TxLocation> {
        let (number, index) = *self.tx_index.get(hash)?;
        let block = self.block(number)?;
        Some(TxLocation {
            transaction: block.transactions[index as usize].clone(),
            block_hash: block.hash,
            block_number: number,
            index: index as u64,
        })
    }

    pub fn receipt(&self, hash: &B256) -> Option<TxReceipt> {
        let (number, index) = *self.tx_index.get(hash)?;
        self.receipts(number)?.get(index as usize).cloned()
    }

    pub fn world(&self) -> &WorldState {
        &self.world
    }

    pub fn world_mut(&mut self) -> &mut WorldState {
        &mut self.world
    }

    pub fn hashes(&self) -> &[B256] {
        &self.hashes
    }

    pub fn reverse_diff(&self, number: u64) -> Option<&Arc<ReverseDiff>> {
        self.history.get(number as usize)
    }

    /// The state after block `number` (`None` past the head).
    pub fn state_at(&self, number: u64) -> Option<StateAt<'_>> {
        if number > self.head_number() {
            return None;
        }
        Some(StateAt {
            world: &self.world,
            newer_diffs: &self.history[number as usize + 1..],
            block_hashes: &self.hashes,
        })
    }

    pub fn latest_state(&self) -> StateAt<'_> {
        StateAt {
            world: &self.world,
            newer_diffs: &[],
            block_hashes: &self.hashes,
        }
    }
}

fn build_receipts(
    block: &SealedBlock,
    envelopes: Vec<ReceiptEnvelope<Log>>,
    executed: &ExecutedBlock,
) -> Vec<TxReceipt> {
    let mut receipts = stored_receipts(block, envelopes);
    for (receipt, tx) in receipts.iter_mut().zip(&executed.transactions) {
        receipt.contract_address = tx.contract_address;
    }
    receipts
}

/// Receipts with their metadata, derived from the block and the consensus
/// receipts alone (which is all the store keeps).
fn stored_receipts(block: &SealedBlock, envelopes: Vec<ReceiptEnvelope<Log>>) -> Vec<TxReceipt> {
    let mut previous_cumulative = 0;
    let mut log_index = 0u64;
    let mut out = Vec::with_capacity(envelopes.len());
    for (index, (envelope, tx)) in envelopes.into_iter().zip(&block.transactions).enumerate() {
        let cumulative = envelope.cumulative_gas_used();
        let logs = envelope.logs().len() as u64;
        let contract_address: Option<Address> =
            (tx.kind().is_create() && envelope.status()).then(|| tx.sender.create(tx.nonce()));
        out.push(TxReceipt {
            transaction_hash: tx.hash,
            transaction_index: index as u64,
            block_hash: block.hash,
            block_number: block.number(),
            from: tx.sender,
            to: tx.envelope.to(),
            gas_used: cumulative - previous_cumulative,
            effective_gas_price: tx
                .envelope
                .effective_gas_price(block.header.base_fee_per_gas),
            contract_address,
            first_log_index: log_index,
            receipt: envelope,
        });
        previous_cumulative = cumulative;
        log_index += logs;
    }
    out
}
