//! One node's view of the chain: blocks, receipts, indexes and state, all
//! in memory (the store keeps the durable copy).

use std::sync::Arc;

use alloy::{
    consensus::{ReceiptEnvelope, Transaction},
    primitives::{Address, B256, Log, map::B256HashMap},
};

use crate::{
    block::{SealedBlock, TxLocation, TxReceipt},
    execution::ExecutedBlock,
    state::{ReverseDiff, StateAt, StateChanges, WorldState},
};

/// Blocks, receipts, transaction index and state of one node.
#[derive(Clone, Debug)]
pub struct Chain {
    blocks: Vec<Arc<SealedBlock>>,
    hashes: Vec<B256>,
    by_hash: B256HashMap<u64>,
    receipts: Vec<Arc<Vec<TxReceipt>>>,
    /// Where each transaction sits (hashes are random: no need for SipHash).
    tx_index: B256HashMap<(u64, u32)>,
    world: WorldState,
    /// `history[n]` undoes block `n` (empty for genesis).
    history: Vec<Arc<ReverseDiff>>,
    /// State patched between blocks (dev controls), oldest first.
    patches: Vec<Patch>,
}

/// A state change made outside any block, and how to undo it.
#[derive(Clone, Debug)]
struct Patch {
    /// The head when it was applied: it undoes after every later block.
    after_block: u64,
    reverse: ReverseDiff,
}

/// Where a [`Chain`] can be wound back to: a head and how many of the
/// patches made by then to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainPoint {
    pub number: u64,
    pub hash: B256,
    pub patches: usize,
}

impl Chain {
    /// A chain holding only `genesis`, whose state is `world`.
    pub fn new(genesis: Arc<SealedBlock>, world: WorldState) -> Self {
        let mut chain = Self {
            blocks: Vec::new(),
            hashes: Vec::new(),
            by_hash: B256HashMap::default(),
            receipts: Vec::new(),
            tx_index: B256HashMap::default(),
            world,
            history: Vec::new(),
            patches: Vec::new(),
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
        let receipts = build_receipts(&block, executed.receipts().to_vec(), executed);
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

    /// Removes the newest block and undoes its state changes, and the
    /// patches made on it (dev `revert`).
    pub fn pop(&mut self) -> Option<Arc<SealedBlock>> {
        if self.blocks.len() <= 1 {
            return None;
        }
        while self
            .patches
            .last()
            .is_some_and(|p| p.after_block == self.head_number())
        {
            let patch = self.patches.pop().expect("checked above");
            self.world.revert(&patch.reverse);
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

    /// Changes the head state outside any block (dev state patches); the
    /// change is recorded so [`Self::rewind`] can undo it.
    pub fn apply_patch(&mut self, changes: &StateChanges) {
        let reverse = self.world.apply(changes);
        self.patches.push(Patch {
            after_block: self.head_number(),
            reverse,
        });
    }

    /// The current head and patch count, for a later [`Self::rewind`].
    pub fn point(&self) -> ChainPoint {
        ChainPoint {
            number: self.head_number(),
            hash: self.head().hash,
            patches: self.patches.len(),
        }
    }

    /// Why this chain cannot be wound back to `point`, if it cannot.
    pub fn check_rewind(&self, point: ChainPoint) -> Result<(), String> {
        match self.hashes.get(point.number as usize) {
            Some(hash) if *hash == point.hash => {}
            Some(hash) => {
                return Err(format!(
                    "block {} is {hash} here, not {}",
                    point.number, point.hash
                ));
            }
            None => {
                return Err(format!(
                    "block {} is past the head ({})",
                    point.number,
                    self.head_number()
                ));
            }
        }
        let made_before = |number: u64| self.patches.partition_point(|p| p.after_block < number);
        if !(made_before(point.number)..=made_before(point.number + 1)).contains(&point.patches) {
            return Err(format!(
                "this chain has no state with {} patches at block {}",
                point.patches, point.number
            ));
        }
        Ok(())
    }

    /// Winds the chain back to `point`: undoes blocks and patches newest
    /// first until the head is `point.number` with `point.patches` patches
    /// applied. Fails, changing nothing, when `point` is not on this chain.
    pub fn rewind(&mut self, point: ChainPoint) -> Result<(), String> {
        self.check_rewind(point)?;
        while self.head_number() > point.number {
            self.pop();
        }
        // Left: patches made on this head, the later ones to undo.
        while self.patches.len() > point.patches {
            let patch = self.patches.pop().expect("longer than the point's");
            self.world.revert(&patch.reverse);
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::Header,
        primitives::{KECCAK256_EMPTY, U256},
    };

    use super::*;
    use crate::state::{AccountChange, AccountFields};

    fn set_balance(address: Address, balance: u64) -> StateChanges {
        let mut changes = StateChanges::default();
        changes.accounts.insert(
            address,
            AccountChange {
                fields: Some(AccountFields {
                    nonce: 0,
                    balance: U256::from(balance),
                    code_hash: KECCAK256_EMPTY,
                }),
                storage_cleared: false,
                storage: Default::default(),
            },
        );
        changes
    }

    #[test]
    fn rewind_undoes_only_the_patches_made_after_the_point() {
        let genesis = SealedBlock::with_hash(Header::default(), B256::repeat_byte(1), Vec::new());
        let mut chain = Chain::new(Arc::new(genesis), WorldState::default());
        let account = Address::repeat_byte(0xaa);
        let balance = |chain: &Chain| chain.latest_state().balance(account);
        chain.apply_patch(&set_balance(account, 1));
        let point = chain.point();
        let root_at_point = chain.world().state_root();
        chain.apply_patch(&set_balance(account, 2));
        chain.apply_patch(&set_balance(account, 3));
        assert_eq!(balance(&chain), U256::from(3));

        let elsewhere = ChainPoint {
            hash: B256::repeat_byte(2),
            ..point
        };
        assert!(chain.rewind(elsewhere).unwrap_err().contains("not"));
        let ahead = ChainPoint { number: 1, ..point };
        assert!(chain.rewind(ahead).unwrap_err().contains("past the head"));
        let unknown_patch = ChainPoint {
            patches: 7,
            ..point
        };
        assert!(chain.rewind(unknown_patch).is_err());
        assert_eq!(
            balance(&chain),
            U256::from(3),
            "failed rewinds change nothing"
        );

        chain.rewind(point).unwrap();
        assert_eq!(balance(&chain), U256::from(1));
        assert_eq!(chain.point(), point);
        assert_eq!(chain.world().state_root(), root_at_point);
        // Rewinding to where it already is changes nothing.
        chain.rewind(point).unwrap();
        assert_eq!(balance(&chain), U256::from(1));
    }
}
