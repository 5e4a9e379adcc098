//! One node's view of the chain: blocks, receipts, indexes and state.
//!
//! An in-memory node (no data directory) keeps its whole history in memory,
//! where dev controls wind it back (`evm_revert`). A node with a store reads
//! blocks, receipts and indexes from it on demand through a bounded cache,
//! and keeps in memory only the head, the latest state, the newest block
//! hashes (for BLOCKHASH) and the reverse diffs of the newest blocks (for
//! historical reads), so its memory grows with its state, not its history.

use std::{
    borrow::Cow,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use alloy::{
    consensus::{Header, ReceiptEnvelope, Transaction},
    primitives::{Address, B256, Log, map::B256HashMap},
};
use lru::LruCache;

use crate::{
    block::{SealedBlock, TxLocation, TxReceipt},
    error::StorageError,
    execution::ExecutedBlock,
    state::{ReverseDiff, StateAt, StateChanges, WorldState},
    storage::{RECENT_HASHES, Store, StoredUndo, UNDO_IN_MEMORY},
};

/// Blocks (and as many receipt lists) a stored chain keeps decoded...
const CACHED_BLOCKS: usize = 256;
/// ...as long as they hold no more than this many transactions (and
/// receipts): blocks of a busy chain are large.
const CACHED_TRANSACTIONS: usize = 8_192;

/// Blocks, receipts, transaction index and state of one node.
#[derive(Clone, Debug)]
pub struct Chain {
    history: History,
    head: Arc<SealedBlock>,
    genesis_hash: B256,
    /// Hashes of blocks `hashes_from..=head` (all of them in memory, the
    /// newest [`RECENT_HASHES`] with a store).
    hashes: Vec<B256>,
    hashes_from: u64,
    world: WorldState,
    /// `undo[i]` undoes block `head + 1 - undo.len() + i` (from genesis's
    /// empty one in memory; the newest [`UNDO_IN_MEMORY`] with a store).
    undo: Vec<Arc<ReverseDiff>>,
    /// Reverse diffs kept with a store (older ones are pruned).
    undo_limit: Option<u64>,
    /// With a store: the oldest block whose reverse diff it holds (the
    /// diffs before `undo`'s are read from it when asked for).
    undo_from: u64,
    /// State patched between blocks (dev controls), oldest first.
    patches: Vec<Patch>,
}

#[derive(Clone, Debug)]
enum History {
    Memory(MemoryHistory),
    Stored(StoredHistory),
}

#[derive(Clone, Debug, Default)]
struct MemoryHistory {
    blocks: Vec<Arc<SealedBlock>>,
    by_hash: B256HashMap<u64>,
    receipts: Vec<Arc<Vec<TxReceipt>>>,
    /// Where each transaction sits (hashes are random: no need for SipHash).
    tx_index: B256HashMap<(u64, u32)>,
}

#[derive(Clone)]
struct StoredHistory {
    store: Arc<Store>,
    cache: Arc<Mutex<HistoryCache>>,
}

impl std::fmt::Debug for StoredHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredHistory")
            .field("store", &self.store)
            .finish()
    }
}

struct HistoryCache {
    blocks: LruCache<u64, Arc<SealedBlock>>,
    receipts: LruCache<u64, Arc<Vec<TxReceipt>>>,
    /// Transactions in `blocks`, receipts in `receipts`.
    block_weight: usize,
    receipt_weight: usize,
}

impl HistoryCache {
    fn put_block(&mut self, number: u64, block: Arc<SealedBlock>) {
        self.block_weight += block.transactions.len();
        if let Some((_, old)) = self.blocks.push(number, block) {
            self.block_weight -= old.transactions.len();
        }
        while self.block_weight > CACHED_TRANSACTIONS && self.blocks.len() > 1 {
            let (_, old) = self.blocks.pop_lru().expect("not empty");
            self.block_weight -= old.transactions.len();
        }
    }

    fn put_receipts(&mut self, number: u64, receipts: Arc<Vec<TxReceipt>>) {
        self.receipt_weight += receipts.len();
        if let Some((_, old)) = self.receipts.push(number, receipts) {
            self.receipt_weight -= old.len();
        }
        while self.receipt_weight > CACHED_TRANSACTIONS && self.receipts.len() > 1 {
            let (_, old) = self.receipts.pop_lru().expect("not empty");
            self.receipt_weight -= old.len();
        }
    }
}

impl StoredHistory {
    fn new(store: Arc<Store>) -> Self {
        let size = NonZeroUsize::new(CACHED_BLOCKS).expect("not zero");
        Self {
            store,
            cache: Arc::new(Mutex::new(HistoryCache {
                blocks: LruCache::new(size),
                receipts: LruCache::new(size),
                block_weight: 0,
                receipt_weight: 0,
            })),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HistoryCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn block(&self, number: u64) -> Option<Arc<SealedBlock>> {
        if let Some(block) = self.cache().blocks.get(&number) {
            return Some(block.clone());
        }
        let block = reported(self.store.block(number))?;
        self.cache().put_block(number, block.clone());
        Some(block)
    }

    fn receipts(&self, number: u64) -> Option<Arc<Vec<TxReceipt>>> {
        if let Some(receipts) = self.cache().receipts.get(&number) {
            return Some(receipts.clone());
        }
        let block = self.block(number)?;
        let receipts = Arc::new(reported(self.store.receipts(&block))?);
        self.cache().put_receipts(number, receipts.clone());
        Some(receipts)
    }
}

/// A read from the store: a failure (a store damaged while running) is
/// logged and reads as absent, as a missing block would.
fn reported<T>(read: Result<Option<T>, StorageError>) -> Option<T> {
    read.unwrap_or_else(|e| {
        tracing::error!("{e}");
        None
    })
}

/// A state change made outside any block, and how to undo it.
#[derive(Clone, Debug)]
struct Patch {
    /// The head when it was applied: it undoes after every later block.
    after_block: u64,
    reverse: ReverseDiff,
}

/// Why a chain cannot be wound back to a point (dev `evm_revert`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewindRefused {
    #[error("a chain kept in a data directory cannot be wound back")]
    Stored,
    #[error("block {number} is {here} here, not {expected}")]
    OtherBlock {
        number: u64,
        here: B256,
        expected: B256,
    },
    #[error("block {number} is past the head ({head})")]
    PastHead { number: u64, head: u64 },
    #[error("this chain has no state with {patches} patches at block {number}")]
    NoSuchPatchState { patches: usize, number: u64 },
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
    /// An in-memory chain holding only `genesis`, whose state is `world`.
    pub fn new(genesis: Arc<SealedBlock>, world: WorldState) -> Self {
        let mut chain = Self {
            history: History::Memory(MemoryHistory::default()),
            head: genesis.clone(),
            genesis_hash: genesis.hash,
            hashes: Vec::new(),
            hashes_from: 0,
            world,
            undo: Vec::new(),
            undo_limit: None,
            undo_from: 0,
            patches: Vec::new(),
        };
        chain.push(genesis, Vec::new(), ReverseDiff::default());
        chain
    }

    /// A chain read from `store` at `head` (see [`Store::load`]).
    pub(crate) fn stored(
        store: Arc<Store>,
        head: Arc<SealedBlock>,
        genesis_hash: B256,
        recent_hashes: Vec<B256>,
        undo: StoredUndo,
        world: WorldState,
    ) -> Self {
        let undo_limit = Some(store.historical_block_limit());
        Self {
            undo: undo.newest,
            undo_from: undo.from,
            hashes_from: head.number() + 1 - recent_hashes.len() as u64,
            history: History::Stored(StoredHistory::new(store)),
            head,
            genesis_hash,
            hashes: recent_hashes,
            world,
            undo_limit,
            patches: Vec::new(),
        }
    }

    /// The store this chain reads its history from, if any.
    pub fn store(&self) -> Option<&Arc<Store>> {
        match &self.history {
            History::Memory(_) => None,
            History::Stored(stored) => Some(&stored.store),
        }
    }

    fn push(&mut self, block: Arc<SealedBlock>, receipts: Vec<TxReceipt>, reverse: ReverseDiff) {
        let number = block.number();
        let receipts = Arc::new(receipts);
        match &mut self.history {
            History::Memory(memory) => {
                debug_assert_eq!(number as usize, memory.blocks.len());
                for (index, tx) in block.transactions.iter().enumerate() {
                    memory.tx_index.insert(tx.hash, (number, index as u32));
                }
                memory.by_hash.insert(block.hash, number);
                memory.blocks.push(block.clone());
                memory.receipts.push(receipts);
            }
            History::Stored(stored) => {
                let mut cache = stored.cache();
                cache.put_block(number, block.clone());
                cache.put_receipts(number, receipts);
            }
        }
        self.hashes.push(block.hash);
        self.undo.push(Arc::new(reverse));
        if let Some(limit) = self.undo_limit {
            // The store pruned the diffs of blocks up to `number - limit`.
            self.undo_from = self.undo_from.max(number.saturating_sub(limit) + 1);
            let excess = self.undo.len().saturating_sub(UNDO_IN_MEMORY);
            self.undo.drain(..excess);
            let excess = self.hashes.len().saturating_sub(RECENT_HASHES as usize);
            self.hashes.drain(..excess);
            self.hashes_from += excess as u64;
        }
        self.head = block;
    }

    /// Appends a block whose changes were already applied to the state
    /// (and, for a stored chain, written to its store).
    pub fn append(
        &mut self,
        block: Arc<SealedBlock>,
        executed: &ExecutedBlock,
        reverse: ReverseDiff,
    ) -> Arc<Vec<TxReceipt>> {
        let receipts = build_receipts(&block, executed.receipts().to_vec(), executed);
        let number = block.number();
        self.push(block, receipts, reverse);
        // A committed block frees its execution's working memory.
        crate::memory::release_freed();
        self.receipts(number).unwrap_or_default()
    }

    fn memory_mut(&mut self) -> Option<&mut MemoryHistory> {
        match &mut self.history {
            History::Memory(memory) => Some(memory),
            History::Stored(_) => None,
        }
    }

    /// Removes the newest block and undoes its state changes, and the
    /// patches made on it (dev `revert`). Only an in-memory chain winds
    /// back.
    pub fn pop(&mut self) -> Option<Arc<SealedBlock>> {
        let head_number = self.head_number();
        let memory = self.memory_mut()?;
        if memory.blocks.len() <= 1 {
            return None;
        }
        let block = memory.blocks.pop()?;
        memory.by_hash.remove(&block.hash);
        memory.receipts.pop();
        for tx in &block.transactions {
            memory.tx_index.remove(&tx.hash);
        }
        let new_head = memory.blocks.last().cloned().expect("genesis stays");
        while self
            .patches
            .last()
            .is_some_and(|p| p.after_block == head_number)
        {
            let patch = self.patches.pop().expect("checked above");
            self.world.revert(&patch.reverse);
        }
        self.hashes.pop();
        if let Some(reverse) = self.undo.pop() {
            self.world.revert(&reverse);
        }
        self.head = new_head;
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
    pub fn check_rewind(&self, point: ChainPoint) -> Result<(), RewindRefused> {
        if self.store().is_some() {
            return Err(RewindRefused::Stored);
        }
        match self.hash(point.number) {
            Some(hash) if hash == point.hash => {}
            Some(hash) => {
                return Err(RewindRefused::OtherBlock {
                    number: point.number,
                    here: hash,
                    expected: point.hash,
                });
            }
            None => {
                return Err(RewindRefused::PastHead {
                    number: point.number,
                    head: self.head_number(),
                });
            }
        }
        let made_before = |number: u64| self.patches.partition_point(|p| p.after_block < number);
        if !(made_before(point.number)..=made_before(point.number + 1)).contains(&point.patches) {
            return Err(RewindRefused::NoSuchPatchState {
                patches: point.patches,
                number: point.number,
            });
        }
        Ok(())
    }

    /// Winds the chain back to `point`: undoes blocks and patches newest
    /// first until the head is `point.number` with `point.patches` patches
    /// applied. Fails, changing nothing, when `point` is not on this chain.
    pub fn rewind(&mut self, point: ChainPoint) -> Result<(), RewindRefused> {
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
        &self.head
    }

    pub fn head_number(&self) -> u64 {
        self.head.number()
    }

    pub fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    pub fn block(&self, number: u64) -> Option<Arc<SealedBlock>> {
        if number == self.head_number() {
            return Some(self.head.clone());
        }
        match &self.history {
            History::Memory(memory) => memory.blocks.get(number as usize).cloned(),
            History::Stored(_) if number > self.head_number() => None,
            History::Stored(stored) => stored.block(number),
        }
    }

    /// The header of block `number`, without decoding its body when it
    /// has to be read from the store.
    pub fn header(&self, number: u64) -> Option<Header> {
        match &self.history {
            History::Stored(stored) if number < self.head_number() => {
                if let Some(block) = stored.cache().blocks.peek(&number) {
                    return Some(block.header.clone());
                }
                reported(stored.store.header(number))
            }
            _ => self.block(number).map(|b| b.header.clone()),
        }
    }

    /// The headers of blocks `from..=to` (read from the store in one go),
    /// `None` when one is missing.
    pub fn headers(&self, from: u64, to: u64) -> Option<Vec<Header>> {
        let headers = match &self.history {
            History::Stored(stored) => reported(stored.store.headers(from, to).map(Some))?,
            History::Memory(memory) => memory
                .blocks
                .get(from as usize..=to as usize)?
                .iter()
                .map(|b| b.header.clone())
                .collect(),
        };
        (headers.len() as u64 == to - from + 1).then_some(headers)
    }

    /// The hash of block `number`.
    pub fn hash(&self, number: u64) -> Option<B256> {
        if number > self.head_number() {
            return None;
        }
        if number >= self.hashes_from {
            return self
                .hashes
                .get((number - self.hashes_from) as usize)
                .copied();
        }
        match &self.history {
            History::Memory(_) => None,
            History::Stored(stored) => reported(stored.store.hash(number)),
        }
    }

    pub fn number_of(&self, hash: &B256) -> Option<u64> {
        match &self.history {
            History::Memory(memory) => memory.by_hash.get(hash).copied(),
            History::Stored(stored) => {
                reported(stored.store.number_of(hash)).filter(|n| *n <= self.head_number())
            }
        }
    }

    pub fn receipts(&self, number: u64) -> Option<Arc<Vec<TxReceipt>>> {
        match &self.history {
            History::Memory(memory) => memory.receipts.get(number as usize).cloned(),
            History::Stored(_) if number > self.head_number() => None,
            History::Stored(stored) => stored.receipts(number),
        }
    }

    fn location(&self, hash: &B256) -> Option<(u64, u32)> {
        match &self.history {
            History::Memory(memory) => memory.tx_index.get(hash).copied(),
            History::Stored(stored) => reported(stored.store.transaction_location(hash))
                .filter(|(n, _)| *n <= self.head_number()),
        }
    }

    pub fn transaction(&self, hash: &B256) -> Option<TxLocation> {
        let (number, index) = self.location(hash)?;
        let block = self.block(number)?;
        Some(TxLocation {
            transaction: block.transactions.get(index as usize)?.clone(),
            block_hash: block.hash,
            block_number: number,
            index: index as u64,
        })
    }

    pub fn receipt(&self, hash: &B256) -> Option<TxReceipt> {
        let (number, index) = self.location(hash)?;
        self.receipts(number)?.get(index as usize).cloned()
    }

    pub fn world(&self) -> &WorldState {
        &self.world
    }

    pub fn world_mut(&mut self) -> &mut WorldState {
        &mut self.world
    }

    /// The oldest block whose state can still be read.
    pub fn oldest_state(&self) -> u64 {
        match &self.history {
            History::Memory(_) => {
                (self.head_number() + 1 - self.undo.len() as u64).saturating_sub(1)
            }
            History::Stored(_) => self.undo_from.saturating_sub(1),
        }
    }

    /// The state after block `number` (`None` past the head, or before
    /// [`Self::oldest_state`]). With a store, the reverse diffs older than
    /// the ones kept in memory are read from it.
    pub fn state_at(&self, number: u64) -> Option<StateAt<'_>> {
        if number > self.head_number() || number < self.oldest_state() {
            return None;
        }
        let behind = (self.head_number() - number) as usize;
        let newer_diffs = match self.undo.len().checked_sub(behind) {
            Some(skip) => Cow::Borrowed(&self.undo[skip..]),
            None => {
                let History::Stored(stored) = &self.history else {
                    return None;
                };
                let in_memory_from = self.head_number() + 1 - self.undo.len() as u64;
                let mut diffs =
                    reported(stored.store.reverse_diffs(number + 1, in_memory_from - 1))?;
                diffs.extend(self.undo.iter().cloned());
                Cow::Owned(diffs)
            }
        };
        Some(StateAt {
            world: &self.world,
            newer_diffs,
            block_hashes: &self.hashes,
            hashes_from: self.hashes_from,
        })
    }

    pub fn latest_state(&self) -> StateAt<'_> {
        StateAt {
            world: &self.world,
            newer_diffs: Cow::Borrowed(&[]),
            block_hashes: &self.hashes,
            hashes_from: self.hashes_from,
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
pub(crate) fn stored_receipts(
    block: &SealedBlock,
    envelopes: Vec<ReceiptEnvelope<Log>>,
) -> Vec<TxReceipt> {
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
        assert!(matches!(
            chain.rewind(elsewhere).unwrap_err(),
            RewindRefused::OtherBlock { .. }
        ));
        let ahead = ChainPoint { number: 1, ..point };
        assert!(
            chain
                .rewind(ahead)
                .unwrap_err()
                .to_string()
                .contains("past the head")
        );
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
