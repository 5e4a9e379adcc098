//! A node's durable store: one redb file, one write transaction per block.
//!
//! Tables hold the blocks (RLP, and their headers apart, for reads that need
//! no body), their senders, the consensus receipts, the hash and transaction
//! indexes, the latest state (accounts, storage, code), the reverse diffs of
//! the newest blocks (for historical reads; older ones are pruned) and
//! metadata (genesis hash, head, permissions). A block and everything it
//! changed are committed in one redb transaction, so a crash leaves the
//! store at a block, never between two. Every block's commit is durable
//! (fsync'd) by default ([`DURABLE_EVERY`]). The transaction index is a small
//! table for the newest entries and sorted runs written in key order
//! (`TxRuns`), so its writes per block grow with the logarithm of the
//! chain's length, not with it.
//!
//! History is read on demand ([`crate::chain::Chain`] caches it); opening
//! a store reads the head block, the state and the recent reverse diffs,
//! never the whole chain.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    consensus::{Block, Header, ReceiptEnvelope, TxEnvelope},
    eips::eip2718::{Decodable2718, Encodable2718},
    primitives::{Address, B256, Bytes, Log, U256},
};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use forja_consensus::{BftMode, bft_block_hash};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
};

use crate::{
    block::{SealedBlock, SignedTx, TxReceipt},
    chain::{Chain, stored_receipts},
    error::StorageError,
    permissions::Permissions,
    phases::{Phase, Timed},
    state::{AccountChange, AccountFields, PriorAccount, ReverseDiff, StateChanges, WorldState},
};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const SENDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("senders");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
const ACCOUNTS: TableDefinition<&[u8; 20], &[u8]> = TableDefinition::new("accounts");
const STORAGE: TableDefinition<&[u8; 52], &[u8; 32]> = TableDefinition::new("storage");
const CODES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("codes");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
const HASHES: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("hashes");
const BY_HASH: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_numbers");
/// Transaction hash to (block number, index in the block) of a store
/// written before the index had levels; read, never written.
const TX_INDEX: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
type TxIndexTable<'a> = TableDefinition<'a, &'static [u8; 32], (u64, u32)>;
/// The transaction index's newest entries: a block's transactions are
/// inserted here, a small table whatever the chain's length.
const TX_NEWEST: TxIndexTable<'static> = TableDefinition::new("tx_index_0");
/// The levels of a store written before the index was made of runs
/// (`tx_index_1` ..): read, never written.
const TX_LEGACY_LEVELS: [TxIndexTable<'static>; 4] = [
    TableDefinition::new("tx_index_1"),
    TableDefinition::new("tx_index_2"),
    TableDefinition::new("tx_index_3"),
    TableDefinition::new("tx_index_4"),
];
/// The sizes of the transaction index's parts (small in unit tests, so a
/// few blocks make runs and merges of several levels).
#[derive(Clone, Copy, Debug)]
struct TxShape {
    /// Entries [`TX_NEWEST`] takes before it becomes a run of level 1.
    newest_entries: u64,
    /// Runs of a level merged into one run of the next.
    fan_in: usize,
    /// Entries each merge moves per block, besides twice the block's
    /// transactions (a level receives one block's worth per block, so its
    /// merge finishes before the level holds `fan_in` more runs).
    min_step: u64,
    /// Entries per chunk of a run: a chunk and its key fill a 4 KiB page.
    chunk_entries: usize,
}

const TX_SHAPE: TxShape = TxShape {
    newest_entries: 8192,
    fan_in: 8,
    min_step: 256,
    chunk_entries: 88,
};

/// `meta` key of the index's runs and merges ([`TxRuns`]).
const META_TX_RUNS: &str = "tx_runs";

const META_GENESIS: &str = "genesis_hash";
const META_PERMISSIONS: &str = "permissions";
const META_CHAIN_ID: &str = "chain_id";
const META_HEAD: &str = "head";
const META_FORMAT: &str = "format";
/// Version 2 added the head, headers, hash and transaction indexes (version
/// 1 stores are upgraded when they open).
const FORMAT: u64 = 2;

/// Blocks whose state stays readable (Besu's `--bonsai-historical-block-limit`
/// default): reverse diffs of older blocks are pruned.
pub const DEFAULT_HISTORICAL_BLOCK_LIMIT: u64 = 512;

/// Reverse diffs a stored chain keeps decoded in memory, newest first (a
/// block of thousands of ERC-20 transfers has a diff of ~1,000 slots: 512
/// of them, Besu's default window, were ~60 MiB per node). Reads of older
/// states decode the diffs they need from the store.
pub const UNDO_IN_MEMORY: usize = 16;

/// The reverse diffs a stored chain starts with: the newest ones, decoded,
/// and the oldest block whose diff the store holds.
pub(crate) struct StoredUndo {
    pub newest: Vec<Arc<ReverseDiff>>,
    pub from: u64,
}

/// redb's page cache per store (its default, 1 GiB, would let four nodes'
/// caches grow with the chain).
const PAGE_CACHE_BYTES: usize = 16 << 20;

/// Longest a store goes between durable (fsync'd) commits by default: none,
/// every block's commit is durable. A longer interval
/// ([`Store::with_durable_every`]) commits the blocks in between with
/// `redb::Durability::None`, which halved the soak's system time, but a
/// process crash then loses them (the store reopens at its last durable
/// block, consistent): unlike Besu's RocksDB, whose unsynced writes survive
/// a process crash, and a validator that forgets a block it sealed could
/// seal another at its height. So the default keeps every block.
pub const DURABLE_EVERY: Duration = Duration::ZERO;

/// Block hashes kept in memory for the BLOCKHASH opcode.
pub(crate) const RECENT_HASHES: u64 = 256;

#[derive(RlpEncodable, RlpDecodable)]
struct StoredAccount {
    nonce: u64,
    balance: U256,
    code_hash: B256,
}

#[derive(RlpEncodable, RlpDecodable)]
struct StoredSlot {
    slot: U256,
    value: U256,
}

#[derive(RlpEncodable, RlpDecodable)]
struct StoredPrior {
    address: Address,
    existed: bool,
    nonce: u64,
    balance: U256,
    code_hash: B256,
    storage_cleared: bool,
    storage: Vec<StoredSlot>,
}

/// A store's file, open for writing (a running node) or only for reading
/// (checking a data directory or a backup, which must not change it).
enum Db {
    Writable(Database),
    ReadOnly(redb::ReadOnlyDatabase),
}

/// One node's redb file.
pub struct Store {
    db: Db,
    path: PathBuf,
    /// Reverse diffs kept (see [`DEFAULT_HISTORICAL_BLOCK_LIMIT`]).
    historical_block_limit: u64,
    /// Block bodies, receipt lists and reverse diffs decoded so far (tests
    /// check that opening a store reads only its head and the newest
    /// [`UNDO_IN_MEMORY`] diffs).
    decoded: AtomicU64,
    /// See [`DURABLE_EVERY`].
    durable_every: Duration,
    /// When the last durable commit was made (`None`: none since opening,
    /// so the next one is).
    last_durable: Mutex<Option<Instant>>,
    tx_shape: TxShape,
}

/// A store's head block: number, hash and state root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreHead {
    pub number: u64,
    pub hash: B256,
    pub state_root: B256,
}

/// What a store holds at its head, read when it opens.
#[derive(Debug)]
pub struct StoredChain {
    pub chain: Chain,
    pub permissions: Permissions,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn slot_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

impl Store {
    /// Opens (or creates) the store at `path`. A file redb cannot read
    /// (overwritten, truncated) is an error naming it, even where redb
    /// itself would panic on the damage. A store that was not shut down
    /// cleanly is repaired, every page's checksum checked on the way.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let opened = quietly(|| {
            let needs_repair = path.exists() && Self::inspect(path)?;
            redb::Builder::new()
                .set_cache_size(PAGE_CACHE_BYTES)
                .set_check_integrity_on_open(needs_repair)
                .create(path)
                .map_err(|e| open_error(path, e))
        });
        let db = opened.unwrap_or_else(|panic| Err(damaged(path, panic_message(&panic))))?;
        Ok(Self {
            db: Db::Writable(db),
            path: path.to_owned(),
            historical_block_limit: DEFAULT_HISTORICAL_BLOCK_LIMIT,
            decoded: AtomicU64::new(0),
            durable_every: DURABLE_EVERY,
            last_durable: Mutex::new(None),
            tx_shape: TX_SHAPE,
        })
    }

    /// Opens the store at `path` for reading only: nothing is written to it,
    /// not even a repair (a store that needs one is an error).
    pub fn open_read_only(path: &Path) -> Result<Self, StorageError> {
        if !path.is_file() {
            return Err(StorageError::Open {
                path: path.to_owned(),
                message: "no such file".to_owned(),
            });
        }
        let opened = quietly(|| {
            match redb::ReadOnlyDatabase::open(path) {
            Err(redb::DatabaseError::RepairAborted) => Err(StorageError::Open {
                path: path.to_owned(),
                message: "it was not shut down cleanly: start the node on it once to repair it"
                    .to_owned(),
            }),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StorageError::Open {
                path: path.to_owned(),
                message: "a running node holds it: stop the node, or back it up (`forja node backup`) and check the backup".to_owned(),
            }),
            opened => opened.map_err(|e| open_error(path, e)),
        }
        });
        let db = opened.unwrap_or_else(|panic| Err(damaged(path, panic_message(&panic))))?;
        Ok(Self {
            db: Db::ReadOnly(db),
            path: path.to_owned(),
            historical_block_limit: DEFAULT_HISTORICAL_BLOCK_LIMIT,
            decoded: AtomicU64::new(0),
            durable_every: DURABLE_EVERY,
            last_durable: Mutex::new(None),
            tx_shape: TX_SHAPE,
        })
    }

    fn begin_read(&self) -> Result<redb::ReadTransaction, redb::TransactionError> {
        match &self.db {
            Db::Writable(db) => db.begin_read(),
            Db::ReadOnly(db) => db.begin_read(),
        }
    }

    fn begin_write(&self) -> Result<redb::WriteTransaction, StorageError> {
        match &self.db {
            Db::Writable(db) => db.begin_write().map_err(|e| self.write_error(e)),
            Db::ReadOnly(_) => Err(self.write_error("the store is open for reading only")),
        }
    }

    /// Writes a consistent copy of this store to a new file at `target`:
    /// everything as of one read transaction, so blocks committed while it
    /// copies are simply not in it. Returns the copy's head.
    pub fn backup_to(&self, target: &Path) -> Result<StoreHead, StorageError> {
        let target_error = |e: &dyn std::fmt::Display| StorageError::Write {
            path: target.to_owned(),
            message: e.to_string(),
        };
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.corrupt(e))?;
            let copy = Database::create(target).map_err(|e| target_error(&e))?;
            let write = copy.begin_write().map_err(|e| target_error(&e))?;
            let copy_error = |e: redb::Error| target_error(&e);
            copy_table(&read, &write, BLOCKS).map_err(copy_error)?;
            copy_table(&read, &write, SENDERS).map_err(copy_error)?;
            copy_table(&read, &write, RECEIPTS).map_err(copy_error)?;
            copy_table(&read, &write, HISTORY).map_err(copy_error)?;
            copy_table(&read, &write, ACCOUNTS).map_err(copy_error)?;
            copy_table(&read, &write, STORAGE).map_err(copy_error)?;
            copy_table(&read, &write, CODES).map_err(copy_error)?;
            copy_table(&read, &write, META).map_err(copy_error)?;
            copy_table(&read, &write, HEADERS).map_err(copy_error)?;
            copy_table(&read, &write, HASHES).map_err(copy_error)?;
            copy_table(&read, &write, BY_HASH).map_err(copy_error)?;
            copy_table(&read, &write, TX_INDEX).map_err(copy_error)?;
            copy_table(&read, &write, TX_NEWEST).map_err(copy_error)?;
            for level in TX_LEGACY_LEVELS {
                copy_table(&read, &write, level).map_err(copy_error)?;
            }
            // The index's runs, and the output of a merge under way (`meta`
            // says how far it got).
            let runs: Vec<String> = read
                .list_tables()
                .map_err(|e| self.corrupt(e))?
                .map(|table| table.name().to_owned())
                .filter(|name| name.starts_with("tx_run_"))
                .collect();
            for name in &runs {
                copy_table(&read, &write, TxRunTable::new(name)).map_err(copy_error)?;
            }
            write.commit().map_err(|e| target_error(&e))?;
            self.head_in(&read)
        })
    }

    /// The head recorded in `read`'s snapshot: number, hash, state root.
    fn head_in(&self, read: &redb::ReadTransaction) -> Result<StoreHead, StorageError> {
        let meta = read
            .open_table(META)
            .map_err(|_| self.corrupt("table `meta` is missing"))?;
        let number = self
            .u64_meta(&meta, META_HEAD)?
            .ok_or_else(|| self.corrupt("the head entry is missing"))?;
        let headers = read
            .open_table(HEADERS)
            .map_err(|_| self.corrupt("table `headers` is missing"))?;
        let header = headers
            .get(number)
            .map_err(|e| self.corrupt(e))?
            .ok_or_else(|| self.corrupt(format!("the head header {number} is missing")))?;
        let header = Header::decode(&mut header.value())
            .map_err(|e| self.corrupt(format!("header {number}: {e}")))?;
        let hashes = read
            .open_table(HASHES)
            .map_err(|_| self.corrupt("table `hashes` is missing"))?;
        let hash = self
            .hash_in(&hashes, number)?
            .ok_or_else(|| self.corrupt(format!("the hash of block {number} is missing")))?;
        Ok(StoreHead {
            number,
            hash,
            state_root: header.state_root,
        })
    }

    /// Checks the store at `path` without writing to it: whether it opens
    /// and its head block reads. `Ok(true)` when it was not shut down
    /// cleanly, which only opening it for writing (and repairing it) can
    /// check further.
    pub fn inspect(path: &Path) -> Result<bool, StorageError> {
        let checked = quietly(|| {
            let db = match redb::ReadOnlyDatabase::open(path) {
                Ok(db) => db,
                Err(redb::DatabaseError::RepairAborted) => return Ok(true),
                Err(e) => return Err(open_error(path, e)),
            };
            let corrupt = |e: &dyn std::fmt::Display| damaged(path, e.to_string());
            let read = db.begin_read().map_err(|e| corrupt(&e))?;
            let meta = match read.open_table(META) {
                Ok(meta) => meta,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
                Err(e) => return Err(corrupt(&e)),
            };
            let head = meta.get(META_HEAD).map_err(|e| corrupt(&e))?;
            if let Some(head) = head {
                let head: [u8; 8] = head
                    .value()
                    .try_into()
                    .map_err(|_| corrupt(&"the head entry is not 8 bytes"))?;
                let head = u64::from_be_bytes(head);
                let blocks = read.open_table(BLOCKS).map_err(|e| corrupt(&e))?;
                let block = blocks
                    .get(head)
                    .map_err(|e| corrupt(&e))?
                    .ok_or_else(|| corrupt(&format!("the head block {head} is missing")))?;
                Block::<TxEnvelope>::decode(&mut block.value())
                    .map_err(|e| corrupt(&format!("block {head}: {e}")))?;
            }
            Ok(false)
        });
        checked.unwrap_or_else(|panic| Err(damaged(path, panic_message(&panic))))
    }

    /// Keeps the state of the newest `limit` blocks readable (at least 1).
    pub fn with_historical_block_limit(mut self, limit: u64) -> Self {
        self.historical_block_limit = limit.max(1);
        self
    }

    pub fn historical_block_limit(&self) -> u64 {
        self.historical_block_limit
    }

    /// Makes a block's commit durable only when `interval` has passed since
    /// the last durable one (see [`DURABLE_EVERY`]; zero: every commit).
    pub fn with_durable_every(mut self, interval: Duration) -> Self {
        self.durable_every = interval;
        self
    }

    /// Makes every commit so far durable (an fsync), as closing the store
    /// cleanly does.
    pub fn sync(&self) -> Result<(), StorageError> {
        let write = self.begin_write()?;
        write.commit().map_err(|e| self.write_error(e))?;
        *self.last_durable.lock().expect("durability lock") = Some(Instant::now());
        Ok(())
    }

    /// Block bodies, receipt lists and reverse diffs decoded since the
    /// store opened.
    pub fn decoded_count(&self) -> u64 {
        self.decoded.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, message: impl std::fmt::Display) -> StorageError {
        StorageError::Corrupt {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    fn write_error(&self, message: impl std::fmt::Display) -> StorageError {
        StorageError::Write {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    /// The genesis hash recorded in the store, `None` for a new store.
    pub fn genesis_hash(&self) -> Result<Option<B256>, StorageError> {
        let read = self.begin_read().map_err(|e| self.corrupt(e))?;
        let table = match read.open_table(META) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.corrupt(e)),
        };
        let value = table.get(META_GENESIS).map_err(|e| self.corrupt(e))?;
        match value {
            None => Ok(None),
            Some(bytes) => {
                let bytes = bytes.value();
                if bytes.len() != 32 {
                    return Err(self.corrupt("genesis hash entry is not 32 bytes"));
                }
                Ok(Some(B256::from_slice(bytes)))
            }
        }
    }

    /// The chain id recorded in the store (`None` for a new store, or one
    /// written before chain ids were recorded).
    pub fn chain_id(&self) -> Result<Option<u64>, StorageError> {
        let read = self.begin_read().map_err(|e| self.corrupt(e))?;
        let table = match read.open_table(META) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.corrupt(e)),
        };
        match table.get(META_CHAIN_ID).map_err(|e| self.corrupt(e))? {
            None => Ok(None),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .value()
                    .try_into()
                    .map_err(|_| self.corrupt("chain id entry is not 8 bytes"))?;
                Ok(Some(u64::from_be_bytes(bytes)))
            }
        }
    }

    /// Records the chain id the store belongs to.
    pub fn write_chain_id(&self, chain_id: u64) -> Result<(), StorageError> {
        let write = self.begin_write()?;
        write
            .open_table(META)
            .map_err(|e| self.write_error(e))?
            .insert(META_CHAIN_ID, chain_id.to_be_bytes().as_slice())
            .map_err(|e| self.write_error(e))?;
        write.commit().map_err(|e| self.write_error(e))
    }

    /// Writes a new chain's genesis: block 0, its state and the permissions.
    pub fn write_genesis(
        &self,
        genesis: &SealedBlock,
        world: &WorldState,
        permissions: &Permissions,
    ) -> Result<(), StorageError> {
        let mut changes = StateChanges::default();
        for (address, account) in world.accounts() {
            changes.accounts.insert(
                *address,
                AccountChange {
                    fields: Some(AccountFields {
                        nonce: account.nonce,
                        balance: account.balance,
                        code_hash: account.code_hash,
                    }),
                    storage_cleared: false,
                    storage: account.storage.clone(),
                },
            );
        }
        for (hash, code) in world.codes() {
            changes.codes.insert(*hash, code.original_bytes());
        }
        let write = self.begin_write()?;
        self.write_block_in(&write, genesis, &[], &changes, &ReverseDiff::default())?;
        {
            let mut meta = write.open_table(META).map_err(|e| self.write_error(e))?;
            meta.insert(META_GENESIS, genesis.hash.as_slice())
                .map_err(|e| self.write_error(e))?;
            let permissions = serde_json::to_vec(permissions).map_err(|e| self.write_error(e))?;
            meta.insert(META_PERMISSIONS, permissions.as_slice())
                .map_err(|e| self.write_error(e))?;
        }
        write.commit().map_err(|e| self.write_error(e))
    }

    /// Commits one block with its receipts and state changes.
    pub fn write_block(
        &self,
        block: &SealedBlock,
        receipts: &[ReceiptEnvelope<Log>],
        changes: &StateChanges,
        reverse: &ReverseDiff,
    ) -> Result<(), StorageError> {
        let timed = Timed::start(Phase::StoreWrite);
        let mut write = self.begin_write()?;
        let mut last_durable = self.last_durable.lock().expect("durability lock");
        let now = Instant::now();
        let durable =
            last_durable.is_none_or(|last| now.duration_since(last) >= self.durable_every);
        if !durable {
            write
                .set_durability(redb::Durability::None)
                .map_err(|e| self.write_error(e))?;
        }
        self.write_block_in(&write, block, receipts, changes, reverse)?;
        drop(timed);
        let _timed = Timed::start(Phase::StoreCommit);
        write.commit().map_err(|e| self.write_error(e))?;
        if durable {
            *last_durable = Some(now);
        }
        Ok(())
    }

    fn write_block_in(
        &self,
        write: &redb::WriteTransaction,
        block: &SealedBlock,
        receipts: &[ReceiptEnvelope<Log>],
        changes: &StateChanges,
        reverse: &ReverseDiff,
    ) -> Result<(), StorageError> {
        let err = |e: &dyn std::fmt::Display| self.write_error(e);
        let number = block.number();
        let mut encoded = Vec::with_capacity(600);
        block.header.encode(&mut encoded);
        write
            .open_table(HEADERS)
            .map_err(|e| err(&e))?
            .insert(number, encoded.as_slice())
            .map_err(|e| err(&e))?;
        write
            .open_table(HASHES)
            .map_err(|e| err(&e))?
            .insert(number, &block.hash.0)
            .map_err(|e| err(&e))?;
        write
            .open_table(BY_HASH)
            .map_err(|e| err(&e))?
            .insert(&block.hash.0, number)
            .map_err(|e| err(&e))?;
        let timed = Timed::start(Phase::StoreIndex);
        {
            let mut index = write.open_table(TX_NEWEST).map_err(|e| err(&e))?;
            for (position, tx) in block.transactions.iter().enumerate() {
                index
                    .insert(&tx.hash.0, (number, position as u32))
                    .map_err(|e| err(&e))?;
            }
        }
        update_tx_runs(write, &self.tx_shape, block.transactions.len() as u64)
            .map_err(|e| err(&e))?;
        drop(timed);
        {
            let mut meta = write.open_table(META).map_err(|e| err(&e))?;
            meta.insert(META_HEAD, number.to_be_bytes().as_slice())
                .map_err(|e| err(&e))?;
            meta.insert(META_FORMAT, FORMAT.to_be_bytes().as_slice())
                .map_err(|e| err(&e))?;
        }
        let mut encoded = Vec::with_capacity(block.size);
        block.to_consensus().encode(&mut encoded);
        write
            .open_table(BLOCKS)
            .map_err(|e| err(&e))?
            .insert(number, encoded.as_slice())
            .map_err(|e| err(&e))?;
        let senders: Vec<u8> = block
            .transactions
            .iter()
            .flat_map(|t| t.sender.into_array())
            .collect();
        write
            .open_table(SENDERS)
            .map_err(|e| err(&e))?
            .insert(number, senders.as_slice())
            .map_err(|e| err(&e))?;
        let receipts: Vec<Bytes> = receipts.iter().map(|r| r.encoded_2718().into()).collect();
        let mut encoded = Vec::new();
        receipts.encode(&mut encoded);
        write
            .open_table(RECEIPTS)
            .map_err(|e| err(&e))?
            .insert(number, encoded.as_slice())
            .map_err(|e| err(&e))?;
        let timed = Timed::start(Phase::StoreHistory);
        let priors: Vec<StoredPrior> = reverse
            .accounts
            .iter()
            .map(|(address, prior)| {
                let fields = prior.fields.unwrap_or(AccountFields {
                    nonce: 0,
                    balance: U256::ZERO,
                    code_hash: B256::ZERO,
                });
                StoredPrior {
                    address: *address,
                    existed: prior.fields.is_some(),
                    nonce: fields.nonce,
                    balance: fields.balance,
                    code_hash: fields.code_hash,
                    storage_cleared: prior.storage_cleared,
                    storage: prior
                        .storage
                        .iter()
                        .map(|(slot, value)| StoredSlot {
                            slot: *slot,
                            value: *value,
                        })
                        .collect(),
                }
            })
            .collect();
        let mut encoded = Vec::new();
        priors.encode(&mut encoded);
        {
            let mut history = write.open_table(HISTORY).map_err(|e| err(&e))?;
            history
                .insert(number, encoded.as_slice())
                .map_err(|e| err(&e))?;
            // The state of blocks before the limit is no longer readable.
            if number > self.historical_block_limit {
                history
                    .retain_in(..=number - self.historical_block_limit, |_, _| false)
                    .map_err(|e| err(&e))?;
            }
        }

        drop(timed);
        let _timed = Timed::start(Phase::StoreState);
        let mut codes = write.open_table(CODES).map_err(|e| err(&e))?;
        for (hash, code) in &changes.codes {
            codes.insert(&hash.0, code.as_ref()).map_err(|e| err(&e))?;
        }
        let mut accounts = write.open_table(ACCOUNTS).map_err(|e| err(&e))?;
        let mut storage = write.open_table(STORAGE).map_err(|e| err(&e))?;
        for (address, change) in &changes.accounts {
            if change.storage_cleared {
                let start = slot_key(address, &U256::ZERO);
                let end = slot_key(address, &U256::MAX);
                let keys: Vec<[u8; 52]> = storage
                    .range::<&[u8; 52]>(&start..=&end)
                    .map_err(|e| err(&e))?
                    .map(|entry| entry.map(|(k, _)| *k.value()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| err(&e))?;
                for key in keys {
                    storage.remove(&key).map_err(|e| err(&e))?;
                }
            }
            match change.fields {
                None => {
                    accounts.remove(&address.0.0).map_err(|e| err(&e))?;
                }
                Some(fields) => {
                    let mut encoded = Vec::with_capacity(80);
                    StoredAccount {
                        nonce: fields.nonce,
                        balance: fields.balance,
                        code_hash: fields.code_hash,
                    }
                    .encode(&mut encoded);
                    accounts
                        .insert(&address.0.0, encoded.as_slice())
                        .map_err(|e| err(&e))?;
                }
            }
            for (slot, value) in &change.storage {
                let key = slot_key(address, slot);
                if value.is_zero() {
                    storage.remove(&key).map_err(|e| err(&e))?;
                } else {
                    storage
                        .insert(&key, &value.to_be_bytes::<32>())
                        .map_err(|e| err(&e))?;
                }
            }
        }
        Ok(())
    }

    /// Persists the permission lists.
    pub fn write_permissions(&self, permissions: &Permissions) -> Result<(), StorageError> {
        let write = self.begin_write()?;
        {
            let mut meta = write.open_table(META).map_err(|e| self.write_error(e))?;
            let encoded = serde_json::to_vec(permissions).map_err(|e| self.write_error(e))?;
            meta.insert(META_PERMISSIONS, encoded.as_slice())
                .map_err(|e| self.write_error(e))?;
        }
        write.commit().map_err(|e| self.write_error(e))
    }

    fn read_error(&self, message: impl std::fmt::Display) -> StorageError {
        self.corrupt(message)
    }

    /// Runs a read of the store, turning a panic inside redb (damage it
    /// asserts on) into an error naming the file.
    fn reading<T>(
        &self,
        read: impl FnOnce() -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        quietly(read).unwrap_or_else(|panic| Err(damaged(&self.path, panic_message(&panic))))
    }

    fn u64_meta(
        &self,
        meta: &impl ReadableTable<&'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Option<u64>, StorageError> {
        match meta.get(key).map_err(|e| self.corrupt(e))? {
            None => Ok(None),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .value()
                    .try_into()
                    .map_err(|_| self.corrupt(format!("{key} entry is not 8 bytes")))?;
                Ok(Some(u64::from_be_bytes(bytes)))
            }
        }
    }

    /// Opens the chain the store holds: its head block, the state, the
    /// reverse diffs of the newest blocks and the permissions, checked
    /// against each other (the head's hash as `mode` computes it, the state
    /// root in its header). Reads no other block, whatever the chain's
    /// length. A store written before the head was recorded is upgraded
    /// first (once, reading every block).
    pub fn load(self: &Arc<Self>, mode: BftMode) -> Result<StoredChain, StorageError> {
        self.reading(|| {
            if self.format()? < FORMAT {
                self.upgrade(mode)?;
            }
            self.load_head(mode)
        })
    }

    fn format(&self) -> Result<u64, StorageError> {
        let read = self.begin_read().map_err(|e| self.corrupt(e))?;
        let meta = read
            .open_table(META)
            .map_err(|_| self.corrupt("table `meta` is missing"))?;
        Ok(self.u64_meta(&meta, META_FORMAT)?.unwrap_or(1))
    }

    fn load_head(self: &Arc<Self>, mode: BftMode) -> Result<StoredChain, StorageError> {
        let read = self.begin_read().map_err(|e| self.corrupt(e))?;
        let table = |name| self.corrupt(format!("table `{name}` is missing"));
        let meta = read.open_table(META).map_err(|_| table("meta"))?;
        let hashes = read.open_table(HASHES).map_err(|_| table("hashes"))?;
        let history = read.open_table(HISTORY).map_err(|_| table("history"))?;
        let head_number = self
            .u64_meta(&meta, META_HEAD)?
            .ok_or_else(|| self.corrupt("the head entry is missing"))?;
        let genesis_hash = meta
            .get(META_GENESIS)
            .map_err(|e| self.corrupt(e))?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| self.corrupt("the genesis hash entry is missing"))?;
        let genesis_hash = B256::try_from(genesis_hash.as_slice())
            .map_err(|_| self.corrupt("genesis hash entry is not 32 bytes"))?;
        if self.hash_in(&hashes, 0)? != Some(genesis_hash) {
            return Err(self.corrupt("block 0 is not the genesis block recorded in the store"));
        }

        let head = self
            .block_in(&read, head_number)?
            .ok_or_else(|| self.corrupt(format!("the head block {head_number} is missing")))?;
        let computed = bft_block_hash(mode, &head.header)
            .map_err(|e| self.corrupt(format!("block {head_number}: {e}")))?;
        if computed != head.hash {
            return Err(self.corrupt(format!(
                "block {head_number} hashes to {computed}, its index says {}",
                head.hash
            )));
        }

        let first_hash = head_number.saturating_sub(RECENT_HASHES - 1);
        let mut recent_hashes = Vec::with_capacity((head_number - first_hash + 1) as usize);
        for entry in hashes
            .range(first_hash..=head_number)
            .map_err(|e| self.corrupt(e))?
        {
            let (number, hash) = entry.map_err(|e| self.corrupt(e))?;
            if number.value() != first_hash + recent_hashes.len() as u64 {
                return Err(
                    self.corrupt(format!("the hash of block {} is missing", number.value()))
                );
            }
            recent_hashes.push(B256::from(*hash.value()));
        }
        if recent_hashes.len() as u64 != head_number - first_hash + 1 {
            return Err(self.corrupt("the hashes of the newest blocks are missing"));
        }

        // Reverse diffs of the newest blocks, newest first while contiguous
        // (a smaller limit earlier may have pruned more): the oldest one
        // marks how far back the state is readable; only the newest
        // `UNDO_IN_MEMORY` are decoded, older ones are read when asked for.
        let first_undo = head_number
            .saturating_sub(self.historical_block_limit - 1)
            .max(1);
        let mut undo = Vec::new();
        let mut undo_from = head_number + 1;
        for entry in history
            .range(first_undo..=head_number)
            .map_err(|e| self.corrupt(e))?
            .rev()
        {
            let (number, bytes) = entry.map_err(|e| self.corrupt(e))?;
            let number = number.value();
            if number + 1 != undo_from {
                break;
            }
            undo_from = number;
            if undo.len() < UNDO_IN_MEMORY {
                undo.push(Arc::new(self.decode_reverse(number, bytes.value())?));
            }
        }
        undo.reverse();

        let world = self.load_state(&read)?;
        let root = world.state_root();
        if root != head.header.state_root {
            return Err(self.corrupt(format!(
                "state does not match block {head_number}: root {root}, header says {}",
                head.header.state_root
            )));
        }
        let permissions = match meta.get(META_PERMISSIONS).map_err(|e| self.corrupt(e))? {
            None => Permissions::default(),
            Some(bytes) => serde_json::from_slice(bytes.value())
                .map_err(|e| self.corrupt(format!("permissions entry: {e}")))?,
        };
        let chain = Chain::stored(
            self.clone(),
            head,
            genesis_hash,
            recent_hashes,
            StoredUndo {
                newest: undo,
                from: undo_from,
            },
            world,
        );
        Ok(StoredChain { chain, permissions })
    }

    fn load_state(&self, read: &redb::ReadTransaction) -> Result<WorldState, StorageError> {
        let table = |name| self.corrupt(format!("table `{name}` is missing"));
        let mut world = WorldState::default();
        let codes = read.open_table(CODES).map_err(|_| table("codes"))?;
        for entry in codes.iter().map_err(|e| self.corrupt(e))? {
            let (_, code) = entry.map_err(|e| self.corrupt(e))?;
            world.insert_code(Bytes::copy_from_slice(code.value()));
        }
        let mut changes = StateChanges::default();
        let accounts = read.open_table(ACCOUNTS).map_err(|_| table("accounts"))?;
        for entry in accounts.iter().map_err(|e| self.corrupt(e))? {
            let (address, value) = entry.map_err(|e| self.corrupt(e))?;
            let stored = StoredAccount::decode(&mut value.value())
                .map_err(|e| self.corrupt(format!("account entry: {e}")))?;
            changes.accounts.insert(
                Address::from(*address.value()),
                AccountChange {
                    fields: Some(AccountFields {
                        nonce: stored.nonce,
                        balance: stored.balance,
                        code_hash: stored.code_hash,
                    }),
                    storage_cleared: false,
                    storage: Default::default(),
                },
            );
        }
        let storage = read.open_table(STORAGE).map_err(|_| table("storage"))?;
        for entry in storage.iter().map_err(|e| self.corrupt(e))? {
            let (key, value) = entry.map_err(|e| self.corrupt(e))?;
            let key = key.value();
            let address = Address::from_slice(&key[..20]);
            let slot = U256::from_be_slice(&key[20..]);
            let Some(account) = changes.accounts.get_mut(&address) else {
                return Err(self.corrupt(format!(
                    "storage of {address}, an account that does not exist"
                )));
            };
            account
                .storage
                .insert(slot, U256::from_be_bytes(*value.value()));
        }
        world.apply(&changes);
        Ok(world)
    }

    fn decode_reverse(&self, number: u64, bytes: &[u8]) -> Result<ReverseDiff, StorageError> {
        self.decoded.fetch_add(1, Ordering::Relaxed);
        let priors = Vec::<StoredPrior>::decode(&mut &bytes[..])
            .map_err(|e| self.corrupt(format!("state history of block {number}: {e}")))?;
        Ok(ReverseDiff {
            accounts: priors
                .into_iter()
                .map(|p| {
                    (
                        p.address,
                        PriorAccount {
                            fields: p.existed.then_some(AccountFields {
                                nonce: p.nonce,
                                balance: p.balance,
                                code_hash: p.code_hash,
                            }),
                            storage_cleared: p.storage_cleared,
                            storage: p.storage.into_iter().map(|s| (s.slot, s.value)).collect(),
                        },
                    )
                })
                .collect(),
        })
    }

    fn hash_in(
        &self,
        hashes: &impl ReadableTable<u64, &'static [u8; 32]>,
        number: u64,
    ) -> Result<Option<B256>, StorageError> {
        Ok(hashes
            .get(number)
            .map_err(|e| self.corrupt(e))?
            .map(|h| B256::from(*h.value())))
    }

    /// Decodes block `number` with its senders and indexed hash.
    fn block_in(
        &self,
        read: &redb::ReadTransaction,
        number: u64,
    ) -> Result<Option<Arc<SealedBlock>>, StorageError> {
        let table = |name| self.corrupt(format!("table `{name}` is missing"));
        let blocks = read.open_table(BLOCKS).map_err(|_| table("blocks"))?;
        let Some(encoded) = blocks.get(number).map_err(|e| self.corrupt(e))? else {
            return Ok(None);
        };
        self.decoded.fetch_add(1, Ordering::Relaxed);
        let block = Block::<TxEnvelope>::decode(&mut encoded.value())
            .map_err(|e| self.corrupt(format!("block {number}: {e}")))?;
        let senders = read.open_table(SENDERS).map_err(|_| table("senders"))?;
        let sender_bytes = senders
            .get(number)
            .map_err(|e| self.corrupt(e))?
            .ok_or_else(|| self.corrupt(format!("senders of block {number} are missing")))?;
        let sender_bytes = sender_bytes.value();
        if sender_bytes.len() != block.body.transactions.len() * 20 {
            return Err(self.corrupt(format!(
                "senders of block {number} do not match its transactions"
            )));
        }
        let hashes = read.open_table(HASHES).map_err(|_| table("hashes"))?;
        let hash = self
            .hash_in(&hashes, number)?
            .ok_or_else(|| self.corrupt(format!("the hash of block {number} is missing")))?;
        if block.header.number != number {
            return Err(self.corrupt(format!(
                "entry {number} holds block {}",
                block.header.number
            )));
        }
        let transactions = block
            .body
            .transactions
            .into_iter()
            .zip(sender_bytes.chunks(20))
            .map(|(tx, sender)| Arc::new(SignedTx::new(tx, Address::from_slice(sender))))
            .collect();
        Ok(Some(Arc::new(SealedBlock::with_hash(
            block.header,
            hash,
            transactions,
        ))))
    }

    /// The reverse diffs of blocks `from..=to`, oldest first; `None` when
    /// one of them was pruned (or never written).
    pub fn reverse_diffs(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Option<Vec<Arc<ReverseDiff>>>, StorageError> {
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            let history = read
                .open_table(HISTORY)
                .map_err(|_| self.corrupt("table `history` is missing"))?;
            let mut diffs = Vec::new();
            for entry in history.range(from..=to).map_err(|e| self.corrupt(e))? {
                let (number, bytes) = entry.map_err(|e| self.corrupt(e))?;
                if number.value() != from + diffs.len() as u64 {
                    return Ok(None);
                }
                diffs.push(Arc::new(
                    self.decode_reverse(number.value(), bytes.value())?,
                ));
            }
            Ok((diffs.len() as u64 == to + 1 - from).then_some(diffs))
        })
    }

    /// Block `number`, read from the file.
    pub fn block(&self, number: u64) -> Result<Option<Arc<SealedBlock>>, StorageError> {
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            self.block_in(&read, number)
        })
    }

    /// The header of block `number` (no body decoded).
    pub fn header(&self, number: u64) -> Result<Option<Header>, StorageError> {
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            let headers = read
                .open_table(HEADERS)
                .map_err(|_| self.corrupt("table `headers` is missing"))?;
            let Some(encoded) = headers.get(number).map_err(|e| self.corrupt(e))? else {
                return Ok(None);
            };
            Header::decode(&mut encoded.value())
                .map(Some)
                .map_err(|e| self.corrupt(format!("header {number}: {e}")))
        })
    }

    /// The headers of blocks `from..=to`, in one read (fewer when some are
    /// missing: the caller checks).
    pub fn headers(&self, from: u64, to: u64) -> Result<Vec<Header>, StorageError> {
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            let headers = read
                .open_table(HEADERS)
                .map_err(|_| self.corrupt("table `headers` is missing"))?;
            let mut out = Vec::with_capacity((to.saturating_sub(from) + 1) as usize);
            for entry in headers.range(from..=to).map_err(|e| self.corrupt(e))? {
                let (number, encoded) = entry.map_err(|e| self.corrupt(e))?;
                out.push(
                    Header::decode(&mut encoded.value())
                        .map_err(|e| self.corrupt(format!("header {}: {e}", number.value())))?,
                );
            }
            Ok(out)
        })
    }

    /// The hash of block `number`.
    pub fn hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            let hashes = read
                .open_table(HASHES)
                .map_err(|_| self.corrupt("table `hashes` is missing"))?;
            self.hash_in(&hashes, number)
        })
    }

    /// The number of the block with `hash`.
    pub fn number_of(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            let numbers = read
                .open_table(BY_HASH)
                .map_err(|_| self.corrupt("table `block_numbers` is missing"))?;
            Ok(numbers
                .get(&hash.0)
                .map_err(|e| self.corrupt(e))?
                .map(|n| n.value()))
        })
    }

    /// Where the transaction with `hash` sits: block number and index.
    pub fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, StorageError> {
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            let runs = {
                let meta = read
                    .open_table(META)
                    .map_err(|_| self.corrupt("table `meta` is missing"))?;
                TxRuns::read(&meta).map_err(|e| self.corrupt(e))?
            };
            let run_names = runs.lookup_order();
            // Newest first; a table not created yet holds nothing.
            if let Some(location) = self.get_in(&read, TX_NEWEST, hash)? {
                return Ok(Some(location));
            }
            for name in &run_names {
                let table = read
                    .open_table(TxRunTable::new(name))
                    .map_err(|e| self.corrupt(format!("transaction index run {name}: {e}")))?;
                let chunk = table
                    .range::<&[u8; 32]>(&hash.0..)
                    .map_err(|e| self.corrupt(e))?
                    .next()
                    .transpose()
                    .map_err(|e| self.corrupt(e))?;
                if let Some((_, chunk)) = chunk
                    && let Some(location) =
                        find_in_chunk(chunk.value(), &hash.0).map_err(|e| self.corrupt(e))?
                {
                    return Ok(Some(location));
                }
            }
            for definition in TX_LEGACY_LEVELS.into_iter().chain([TX_INDEX]) {
                if let Some(location) = self.get_in(&read, definition, hash)? {
                    return Ok(Some(location));
                }
            }
            Ok(None)
        })
    }

    /// `hash`'s entry in one of the index's hash-keyed tables (absent:
    /// none).
    fn get_in(
        &self,
        read: &redb::ReadTransaction,
        definition: TxIndexTable<'_>,
        hash: &B256,
    ) -> Result<Option<(u64, u32)>, StorageError> {
        let table = match read.open_table(definition) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.corrupt(e)),
        };
        Ok(table
            .get(&hash.0)
            .map_err(|e| self.corrupt(e))?
            .map(|location| location.value()))
    }

    /// The receipts of `block` (read from the file), with their metadata.
    pub fn receipts(&self, block: &SealedBlock) -> Result<Option<Vec<TxReceipt>>, StorageError> {
        let number = block.number();
        self.reading(|| {
            let read = self.begin_read().map_err(|e| self.read_error(e))?;
            let receipts = read
                .open_table(RECEIPTS)
                .map_err(|_| self.corrupt("table `receipts` is missing"))?;
            let Some(bytes) = receipts.get(number).map_err(|e| self.corrupt(e))? else {
                return Ok(None);
            };
            self.decoded.fetch_add(1, Ordering::Relaxed);
            let encoded = Vec::<Bytes>::decode(&mut bytes.value())
                .map_err(|e| self.corrupt(format!("receipts of block {number}: {e}")))?;
            let decoded = encoded
                .iter()
                .map(|r| ReceiptEnvelope::<Log>::decode_2718(&mut r.as_ref()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.corrupt(format!("receipts of block {number}: {e}")))?;
            Ok(Some(stored_receipts(block, decoded)))
        })
    }

    /// Builds the head entry, headers, hash and transaction indexes of a
    /// store written before they existed, in one write transaction.
    fn upgrade(&self, mode: BftMode) -> Result<(), StorageError> {
        let write = self.begin_write()?;
        {
            let blocks = write.open_table(BLOCKS).map_err(|e| self.write_error(e))?;
            let mut headers = write.open_table(HEADERS).map_err(|e| self.write_error(e))?;
            let mut hashes = write.open_table(HASHES).map_err(|e| self.write_error(e))?;
            let mut numbers = write.open_table(BY_HASH).map_err(|e| self.write_error(e))?;
            let mut index = write
                .open_table(TX_INDEX)
                .map_err(|e| self.write_error(e))?;
            let mut head = None;
            for entry in blocks.iter().map_err(|e| self.corrupt(e))? {
                let (number, encoded) = entry.map_err(|e| self.corrupt(e))?;
                let number = number.value();
                let block = Block::<TxEnvelope>::decode(&mut encoded.value())
                    .map_err(|e| self.corrupt(format!("block {number}: {e}")))?;
                let hash = bft_block_hash(mode, &block.header)
                    .map_err(|e| self.corrupt(format!("block {number}: {e}")))?;
                let mut header = Vec::new();
                block.header.encode(&mut header);
                headers
                    .insert(number, header.as_slice())
                    .map_err(|e| self.write_error(e))?;
                hashes
                    .insert(number, &hash.0)
                    .map_err(|e| self.write_error(e))?;
                numbers
                    .insert(&hash.0, number)
                    .map_err(|e| self.write_error(e))?;
                for (position, tx) in block.body.transactions.iter().enumerate() {
                    index
                        .insert(&tx.tx_hash().0, (number, position as u32))
                        .map_err(|e| self.write_error(e))?;
                }
                head = Some(number);
            }
            let head = head.ok_or_else(|| self.corrupt("no blocks (not even genesis)"))?;
            let mut meta = write.open_table(META).map_err(|e| self.write_error(e))?;
            meta.insert(META_HEAD, head.to_be_bytes().as_slice())
                .map_err(|e| self.write_error(e))?;
            meta.insert(META_FORMAT, FORMAT.to_be_bytes().as_slice())
                .map_err(|e| self.write_error(e))?;
        }
        write.commit().map_err(|e| self.write_error(e))
    }
}

/// The transaction index past [`TX_NEWEST`]: sorted runs, each a table
/// (`tx_run_<id>`), grouped in levels, as a size-tiered log-structured merge
/// tree keeps them (LevelDB/RocksDB's universal compaction). Hashes are
/// random, so a B-tree keyed by them takes each insert on a page of its
/// own: merging entries into a larger table (the levelled design this
/// replaced) rewrote about eight old entries per entry moved, at every
/// level, and the cost per block grew with the chain. Here a run is only
/// ever written in key order into a new table, in chunks of
/// `TxShape::chunk_entries` entries keyed by their last hash (LevelDB's data
/// blocks: a B-tree insert per chunk, not per entry): [`TX_NEWEST`], full,
/// is copied into a run of level 1; `TxShape::fan_in` runs of a level are
/// merged into one run of the next, a step each block (never a whole level
/// at once, which would stall the network); when done, the sources are
/// deleted. An entry is so written once per level, and the levels grow
/// with the logarithm of the chain's length. A lookup reads
/// [`TX_NEWEST`], then the runs, newest first (a merge's sources until it
/// is done, never its unfinished output): in each, the first chunk whose
/// last hash is not below the one looked up.
#[derive(Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
struct TxRuns {
    /// Id of the next run's table.
    next: u64,
    runs: Vec<TxRun>,
    merges: Vec<TxMerge>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
struct TxRun {
    id: u64,
    level: u64,
    entries: u64,
}

/// A merge under way: its output run (not yet looked up), its sources
/// (oldest first) and the last key it wrote (empty: none yet).
#[derive(Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
struct TxMerge {
    into: TxRun,
    sources: Vec<u64>,
    after: Bytes,
}

/// A run's table: a chunk's last hash to its entries, each a hash, a
/// block number and an index (big-endian), in hash order.
type TxRunTable<'a> = TableDefinition<'a, &'static [u8; 32], &'static [u8]>;
const TX_ENTRY_BYTES: usize = 32 + 8 + 4;

type TxEntry = ([u8; 32], (u64, u32));

fn tx_run_name(id: u64) -> String {
    format!("tx_run_{id}")
}

fn decode_tx_entry(bytes: &[u8]) -> TxEntry {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[..32]);
    let mut number = [0u8; 8];
    number.copy_from_slice(&bytes[32..40]);
    let mut index = [0u8; 4];
    index.copy_from_slice(&bytes[40..44]);
    (
        hash,
        (u64::from_be_bytes(number), u32::from_be_bytes(index)),
    )
}

/// What is wrong with a transaction index's stored parts (the store reports
/// it as damage, naming its file).
#[derive(Debug, thiserror::Error)]
enum TxIndexDamage {
    #[error("a transaction index chunk of {0} bytes (not whole entries)")]
    PartialChunk(usize),
    #[error("the transaction index's runs ({META_TX_RUNS}): {0}")]
    Runs(String),
}

/// The entry for `hash` in a chunk, if there.
fn find_in_chunk(chunk: &[u8], hash: &[u8; 32]) -> Result<Option<(u64, u32)>, TxIndexDamage> {
    if !chunk.len().is_multiple_of(TX_ENTRY_BYTES) {
        return Err(TxIndexDamage::PartialChunk(chunk.len()));
    }
    let entries = chunk.len() / TX_ENTRY_BYTES;
    let key = |i: usize| &chunk[i * TX_ENTRY_BYTES..i * TX_ENTRY_BYTES + 32];
    let (mut low, mut high) = (0, entries);
    while low < high {
        let mid = (low + high) / 2;
        match key(mid).cmp(hash.as_slice()) {
            std::cmp::Ordering::Less => low = mid + 1,
            std::cmp::Ordering::Greater => high = mid,
            std::cmp::Ordering::Equal => {
                let start = mid * TX_ENTRY_BYTES;
                return Ok(Some(
                    decode_tx_entry(&chunk[start..start + TX_ENTRY_BYTES]).1,
                ));
            }
        }
    }
    Ok(None)
}

impl TxRuns {
    fn read(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Self, TxIndexDamage> {
        match meta
            .get(META_TX_RUNS)
            .map_err(|e| TxIndexDamage::Runs(e.to_string()))?
        {
            None => Ok(Self::default()),
            Some(bytes) => {
                Self::decode(&mut bytes.value()).map_err(|e| TxIndexDamage::Runs(e.to_string()))
            }
        }
    }

    /// Tables a lookup reads after [`TX_NEWEST`], newest first: runs of
    /// lower levels hold newer entries, and within a level a higher id.
    fn lookup_order(&self) -> Vec<String> {
        let mut runs = self.runs.clone();
        runs.sort_by_key(|run| (run.level, std::cmp::Reverse(run.id)));
        runs.into_iter().map(|run| tx_run_name(run.id)).collect()
    }
}

/// Writes entries, in key order, as a run's chunks.
struct RunWriter<'t> {
    table: redb::Table<'t, &'static [u8; 32], &'static [u8]>,
    chunk: Vec<u8>,
    chunk_entries: usize,
}

impl RunWriter<'_> {
    fn push(&mut self, (hash, (number, index)): TxEntry) -> Result<(), redb::Error> {
        self.chunk.extend_from_slice(&hash);
        self.chunk.extend_from_slice(&number.to_be_bytes());
        self.chunk.extend_from_slice(&index.to_be_bytes());
        if self.chunk.len() >= self.chunk_entries * TX_ENTRY_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the chunk begun (a step's last is shorter than the others).
    fn flush(&mut self) -> Result<(), redb::Error> {
        if self.chunk.len() >= TX_ENTRY_BYTES {
            let mut last = [0u8; 32];
            last.copy_from_slice(&self.chunk[self.chunk.len() - TX_ENTRY_BYTES..][..32]);
            self.table.insert(&last, self.chunk.as_slice())?;
            self.chunk.clear();
        }
        Ok(())
    }
}

/// Reads a run's entries in key order, from after a key.
struct RunReader<'t> {
    chunks: redb::Range<'t, &'static [u8; 32], &'static [u8]>,
    chunk: Vec<u8>,
    position: usize,
    after: Option<[u8; 32]>,
}

impl RunReader<'_> {
    fn next(&mut self) -> Result<Option<TxEntry>, redb::Error> {
        loop {
            if self.position + TX_ENTRY_BYTES <= self.chunk.len() {
                let entry = decode_tx_entry(&self.chunk[self.position..]);
                self.position += TX_ENTRY_BYTES;
                // The first chunk may begin at or before `after`.
                if self.after.is_some_and(|after| entry.0 <= after) {
                    continue;
                }
                return Ok(Some(entry));
            }
            let Some(next) = self.chunks.next().transpose()? else {
                return Ok(None);
            };
            self.chunk.clear();
            self.chunk.extend_from_slice(next.1.value());
            self.position = 0;
            if !self.chunk.len().is_multiple_of(TX_ENTRY_BYTES) {
                return Err(redb::Error::Corrupted(format!(
                    "a transaction index chunk of {} bytes (not whole entries)",
                    self.chunk.len()
                )));
            }
        }
    }
}

/// The index's per-block upkeep, after a block's entries went into
/// [`TX_NEWEST`] (`added` of them): turns it into a run when full, starts
/// the merges that are due and moves each merge on a step.
fn update_tx_runs(
    write: &redb::WriteTransaction,
    shape: &TxShape,
    added: u64,
) -> Result<(), redb::Error> {
    let step = 2 * added + shape.min_step;
    let mut runs = {
        let meta = write.open_table(META)?;
        TxRuns::read(&meta).map_err(|e| redb::Error::Corrupted(e.to_string()))?
    };
    let before_len = (runs.next, runs.runs.len(), runs.merges.len());
    let newest = write.open_table(TX_NEWEST)?;
    let entries = newest.len()?;
    if entries >= shape.newest_entries {
        let id = runs.next;
        runs.next += 1;
        let name = tx_run_name(id);
        let mut run = RunWriter {
            table: write.open_table(TxRunTable::new(&name))?,
            chunk: Vec::with_capacity(shape.chunk_entries * TX_ENTRY_BYTES),
            chunk_entries: shape.chunk_entries,
        };
        for entry in newest.iter()? {
            let (hash, location) = entry?;
            run.push((*hash.value(), location.value()))?;
        }
        run.flush()?;
        drop(run);
        write.delete_table(newest)?;
        runs.runs.push(TxRun {
            id,
            level: 1,
            entries,
        });
    } else {
        drop(newest);
    }
    // A level with enough runs and no merge of its own starts one, of its
    // oldest runs.
    let mut levels: Vec<u64> = runs.runs.iter().map(|run| run.level).collect();
    levels.sort_unstable();
    levels.dedup();
    for level in levels {
        if runs.merges.iter().any(|m| m.into.level == level + 1) {
            continue;
        }
        let mut sources: Vec<u64> = runs
            .runs
            .iter()
            .filter(|run| run.level == level)
            .map(|run| run.id)
            .collect();
        if sources.len() < shape.fan_in {
            continue;
        }
        sources.sort_unstable();
        sources.truncate(shape.fan_in);
        let id = runs.next;
        runs.next += 1;
        runs.merges.push(TxMerge {
            into: TxRun {
                id,
                level: level + 1,
                entries: 0,
            },
            sources,
            after: Bytes::new(),
        });
    }
    let mut changed = (runs.next, runs.runs.len(), runs.merges.len()) != before_len;
    let mut finished = Vec::new();
    for (position, merge) in runs.merges.iter_mut().enumerate() {
        let (moved, done) = step_merge(write, merge, step, shape.chunk_entries)?;
        changed |= moved > 0 || done;
        if done {
            finished.push(position);
        }
    }
    // Newest first, so the positions stay valid.
    for position in finished.into_iter().rev() {
        let merge = runs.merges.remove(position);
        for id in &merge.sources {
            write.delete_table(TxRunTable::new(&tx_run_name(*id)))?;
        }
        runs.runs.retain(|run| !merge.sources.contains(&run.id));
        runs.runs.push(merge.into);
    }
    if changed {
        let mut encoded = Vec::new();
        runs.encode(&mut encoded);
        write
            .open_table(META)?
            .insert(META_TX_RUNS, encoded.as_slice())?;
    }
    Ok(())
}

/// Moves `merge` on by up to `step` entries, in key order. Returns the
/// entries moved and whether its sources are exhausted. On a key in two
/// sources (not expected: a transaction is in one block) the newest
/// source's entry is kept.
fn step_merge(
    write: &redb::WriteTransaction,
    merge: &mut TxMerge,
    step: u64,
    chunk_entries: usize,
) -> Result<(u64, bool), redb::Error> {
    use std::ops::Bound;
    let after: Option<[u8; 32]> = merge.after.as_ref().try_into().ok();
    let names: Vec<String> = merge.sources.iter().map(|id| tx_run_name(*id)).collect();
    let mut tables = Vec::with_capacity(names.len());
    for name in &names {
        tables.push(write.open_table(TxRunTable::new(name))?);
    }
    let mut readers = Vec::with_capacity(tables.len());
    for table in &tables {
        // Chunks whose last key is past `after`.
        let chunks = match &after {
            Some(after) => table.range::<&[u8; 32]>((Bound::Excluded(after), Bound::Unbounded))?,
            None => table.range::<&[u8; 32]>(..)?,
        };
        readers.push(RunReader {
            chunks,
            chunk: Vec::new(),
            position: 0,
            after,
        });
    }
    let mut heads: Vec<Option<TxEntry>> = Vec::with_capacity(readers.len());
    for reader in &mut readers {
        heads.push(reader.next()?);
    }
    let name = tx_run_name(merge.into.id);
    let mut output = RunWriter {
        table: write.open_table(TxRunTable::new(&name))?,
        chunk: Vec::with_capacity(chunk_entries * TX_ENTRY_BYTES),
        chunk_entries,
    };
    let mut moved = 0;
    let mut last = None;
    while moved < step {
        // The smallest key; of equal ones, the newest source's (the last).
        let Some((key, value)) = heads
            .iter()
            .flatten()
            .copied()
            .reduce(|best, head| if head.0 <= best.0 { head } else { best })
        else {
            break;
        };
        for (head, reader) in heads.iter_mut().zip(&mut readers) {
            if head.is_some_and(|(k, _)| k == key) {
                *head = reader.next()?;
            }
        }
        output.push((key, value))?;
        merge.into.entries += 1;
        moved += 1;
        last = Some(key);
    }
    output.flush()?;
    if let Some(last) = last {
        merge.after = Bytes::copy_from_slice(&last);
    }
    Ok((moved, heads.iter().all(Option::is_none)))
}

/// Copies every entry of one table (absent in the source: nothing to copy).
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    read: &redb::ReadTransaction,
    write: &redb::WriteTransaction,
    definition: TableDefinition<K, V>,
) -> Result<(), redb::Error> {
    let source = match read.open_table(definition) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut target = write.open_table(definition)?;
    for entry in source.iter()? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
    }
    Ok(())
}

/// A store redb cannot read, and what to do about it.
fn damaged(path: &Path, message: String) -> StorageError {
    StorageError::Corrupt {
        path: path.to_owned(),
        message: format!(
            "{message}; restore it from a backup (`forja node restore`) or delete it to resync the node from its peers"
        ),
    }
}

fn open_error(path: &Path, error: redb::DatabaseError) -> StorageError {
    match error {
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(message)) => {
            damaged(path, message)
        }
        e => StorageError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        },
    }
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic (redb asserts on some damage instead of
/// returning an error) without printing it: the caller reports it as an
/// error naming the file. Panics on other threads print as before.
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|quiet| quiet.get()) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|quiet| quiet.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(was));
    result
}

/// The message a caught panic carried.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    format!("redb cannot read the file ({detail})")
}

#[cfg(test)]
mod tests {
    use alloy::primitives::KECCAK256_EMPTY;
    use forja_consensus::BftExtraData;

    use super::*;

    const MODE: BftMode = BftMode::Qbft;

    fn block(number: u64, parent_hash: B256, world: &WorldState) -> SealedBlock {
        block_with(number, parent_hash, world, Vec::new())
    }

    fn block_with(
        number: u64,
        parent_hash: B256,
        world: &WorldState,
        transactions: Vec<crate::TxRef>,
    ) -> SealedBlock {
        let header = Header {
            number,
            parent_hash,
            state_root: world.state_root(),
            extra_data: BftExtraData::genesis(vec![Address::repeat_byte(9)]).encode(MODE),
            ..Default::default()
        };
        let hash = bft_block_hash(MODE, &header).expect("valid extra data");
        SealedBlock::with_hash(header, hash, transactions)
    }

    /// A transaction with a distinct hash per `nonce` (its signature is
    /// not checked here).
    fn transaction(nonce: u64) -> crate::TxRef {
        use alloy::consensus::{SignableTransaction, TxLegacy};
        let tx = TxLegacy {
            chain_id: Some(1),
            nonce,
            gas_limit: 21_000,
            to: alloy::primitives::TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let signature = alloy::primitives::Signature::new(U256::from(1), U256::from(1), false);
        let envelope = TxEnvelope::Legacy(tx.into_signed(signature));
        Arc::new(SignedTx::new(envelope, Address::repeat_byte(1)))
    }

    /// A transaction index of 8 newest entries, runs merged two by two,
    /// in chunks of 3.
    fn small_index(store: Store) -> Store {
        Store {
            tx_shape: TxShape {
                newest_entries: 8,
                fan_in: 2,
                min_step: 4,
                chunk_entries: 3,
            },
            ..store
        }
    }

    /// The transaction index's runs and merges.
    fn tx_runs(store: &Store) -> TxRuns {
        let read = store.begin_read().unwrap();
        TxRuns::read(&read.open_table(META).unwrap()).unwrap()
    }

    /// Writes block `n` with 40 transactions, noting where each is.
    fn write_block_of_40(
        store: &Store,
        world: &mut WorldState,
        parent: B256,
        n: u64,
        located: &mut Vec<(B256, (u64, u32))>,
    ) -> B256 {
        let transactions: Vec<_> = (0..40).map(|i| transaction(n * 1000 + i)).collect();
        for (position, tx) in transactions.iter().enumerate() {
            located.push((tx.hash, (n, position as u32)));
        }
        let changes = changes(n);
        let reverse = world.apply(&changes);
        let block = block_with(n, parent, world, transactions);
        store.write_block(&block, &[], &changes, &reverse).unwrap();
        block.hash
    }

    /// Every transaction is found at every block, while runs are made and
    /// merged over several blocks, after a reopen and in a backup; a
    /// merge's sources are deleted when it is done.
    #[test]
    fn the_transaction_index_finds_every_transaction_across_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let store = small_index(Store::open(&path).unwrap());
        let mut world = WorldState::default();
        let genesis = block(0, B256::ZERO, &world);
        store
            .write_genesis(&genesis, &world, &Permissions::default())
            .unwrap();
        let mut parent = genesis.hash;
        let mut located = Vec::new();
        let mut merged_over_blocks = false;
        // 4,000 entries: runs of 40 (the newest table takes 8) merged two
        // by two up to level 6, a merge moving 84 a block.
        for n in 1..=100u64 {
            parent = write_block_of_40(&store, &mut world, parent, n, &mut located);
            let runs = tx_runs(&store);
            merged_over_blocks |= runs.merges.iter().any(|m| m.into.entries > 0);
            // The newest, the oldest and some in between.
            for (hash, location) in located.iter().step_by(97).chain(located.last()) {
                assert_eq!(store.transaction_location(hash).unwrap(), Some(*location));
            }
        }
        assert!(merged_over_blocks, "a merge took more than one block");
        let runs = tx_runs(&store);
        assert!(runs.runs.iter().any(|run| run.level >= 5), "{runs:?}");
        let read = store.begin_read().unwrap();
        let tables: Vec<String> = read
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_owned())
            .filter(|name| name.starts_with("tx_run_"))
            .collect();
        let mut expected: Vec<String> = runs
            .runs
            .iter()
            .map(|run| run.id)
            .chain(runs.merges.iter().map(|m| m.into.id))
            .map(tx_run_name)
            .collect();
        let mut tables = tables;
        tables.sort();
        expected.sort();
        assert_eq!(tables, expected, "merged runs are deleted");
        let in_runs: u64 = runs.runs.iter().map(|run| run.entries).sum();
        let newest = read.open_table(TX_NEWEST).map_or(0, |t| t.len().unwrap());
        assert_eq!(in_runs + newest, located.len() as u64);
        drop(read);
        for (hash, location) in &located {
            assert_eq!(store.transaction_location(hash).unwrap(), Some(*location));
        }
        assert_eq!(
            store.transaction_location(&B256::repeat_byte(7)).unwrap(),
            None
        );
        drop(store);
        let store = small_index(Store::open(&path).unwrap());
        for (hash, location) in &located {
            assert_eq!(store.transaction_location(hash).unwrap(), Some(*location));
        }
        // A backup holds every run, and the merges under way go on in it.
        let copy = dir.path().join("backup.redb");
        store.backup_to(&copy).unwrap();
        drop(store);
        let backup = small_index(Store::open(&copy).unwrap());
        for (hash, location) in &located {
            assert_eq!(backup.transaction_location(hash).unwrap(), Some(*location));
        }
        for n in 101..=130u64 {
            parent = write_block_of_40(&backup, &mut world, parent, n, &mut located);
        }
        for (hash, location) in &located {
            assert_eq!(backup.transaction_location(hash).unwrap(), Some(*location));
        }
    }

    /// The transaction index's cost per block as the chain grows (not a
    /// check: a measurement, printed): blocks of 2,000 transactions to
    /// 1,000,000, each commit durable, this thread's CPU time, the wall
    /// time and the bytes written per transaction up to 10,000, then of
    /// each stretch of 50 blocks. `cargo test -p
    /// forja-runtime --lib index_cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, minutes long"]
    fn index_cost_as_the_chain_grows() {
        fn thread_cpu() -> Duration {
            // SAFETY: clock_gettime only writes the struct it is given.
            let time = unsafe {
                let mut time: libc::timespec = std::mem::zeroed();
                libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
                time
            };
            Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
        }
        fn written() -> u64 {
            std::fs::read_to_string("/proc/self/io")
                .ok()
                .and_then(|io| {
                    io.lines()
                        .find_map(|l| l.strip_prefix("write_bytes:"))
                        .and_then(|n| n.trim().parse().ok())
                })
                .unwrap_or(0)
        }
        const PER_BLOCK: u64 = 2_000;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("node.redb")).unwrap();
        let mut world = WorldState::default();
        let genesis = block(0, B256::ZERO, &world);
        store
            .write_genesis(&genesis, &world, &Permissions::default())
            .unwrap();
        let mut parent = genesis.hash;
        let (mut cpu, mut wall, mut bytes, mut index) = (
            Duration::ZERO,
            Duration::ZERO,
            0,
            crate::phases::phase_times().store_index,
        );
        for n in 1..=500u64 {
            let transactions: Vec<_> = (0..PER_BLOCK)
                .map(|i| transaction(n * PER_BLOCK + i))
                .collect();
            let changes = changes(n);
            let reverse = world.apply(&changes);
            let block = block_with(n, parent, &world, transactions);
            let (started, bytes_before, clock) = (thread_cpu(), written(), Instant::now());
            store.write_block(&block, &[], &changes, &reverse).unwrap();
            wall += clock.elapsed();
            cpu += thread_cpu() - started;
            bytes += written() - bytes_before;
            parent = block.hash;
            if n == 5 || n % 50 == 0 {
                let now = crate::phases::phase_times().store_index;
                let txs = (if n == 5 {
                    5
                } else {
                    50 - 5 * u64::from(n == 50)
                }) * PER_BLOCK;
                let per_tx = |d: Duration| d.as_secs_f64() * 1e6 / txs as f64;
                println!(
                    "{:>8} transactions, per transaction: {:>5.1} µs CPU, {:>5.1} µs wall (index {:>5.1} µs), {:>5.0} bytes written",
                    n * PER_BLOCK,
                    per_tx(cpu),
                    per_tx(wall),
                    per_tx(now - index),
                    bytes as f64 / txs as f64,
                );
                (cpu, wall, bytes, index) = (Duration::ZERO, Duration::ZERO, 0, now);
            }
        }
    }

    /// A store written when the index had levels (`tx_index_1` .. and
    /// `tx_index`) still finds the transactions in them.
    #[test]
    fn the_transaction_index_reads_the_levels_of_older_stores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let store = Store::open(&path).unwrap();
        write_chain(&store, 1);
        let old = [
            (TX_LEGACY_LEVELS[1], B256::repeat_byte(1), (5, 1)),
            (TX_INDEX, B256::repeat_byte(2), (3, 0)),
        ];
        let write = store.begin_write().unwrap();
        for (table, hash, location) in old {
            write
                .open_table(table)
                .unwrap()
                .insert(&hash.0, location)
                .unwrap();
        }
        write.commit().unwrap();
        for (_, hash, location) in old {
            assert_eq!(store.transaction_location(&hash).unwrap(), Some(location));
        }
    }

    /// Block `n` sets the balance of 0x11..11 to `n` and slot `n` of it.
    fn changes(n: u64) -> StateChanges {
        let mut changes = StateChanges::default();
        changes.accounts.insert(
            Address::repeat_byte(0x11),
            AccountChange {
                fields: Some(AccountFields {
                    nonce: 0,
                    balance: U256::from(n),
                    code_hash: KECCAK256_EMPTY,
                }),
                storage_cleared: false,
                storage: [(U256::from(n), U256::from(n))].into_iter().collect(),
            },
        );
        changes
    }

    fn head_of(path: &Path) -> (u64, U256) {
        let store = Arc::new(Store::open(path).expect("the store opens"));
        let loaded = store.load(MODE).expect("the store loads, checked");
        let balance = loaded
            .chain
            .world()
            .account(&Address::repeat_byte(0x11))
            .map_or(U256::ZERO, |a| a.balance);
        (loaded.chain.head_number(), balance)
    }

    /// Writes a genesis and blocks 1..=`blocks`, block n setting the test
    /// account's balance to n.
    fn write_chain(store: &Store, blocks: u64) {
        let mut world = WorldState::default();
        let genesis = block(0, B256::ZERO, &world);
        store
            .write_genesis(&genesis, &world, &Permissions::default())
            .unwrap();
        let mut parent = genesis.hash;
        for n in 1..=blocks {
            let changes = changes(n);
            let reverse = world.apply(&changes);
            let block = block(n, parent, &world);
            store.write_block(&block, &[], &changes, &reverse).unwrap();
            parent = block.hash;
        }
    }

    /// A validator never forgets a block it sealed: by default a killed
    /// process's store holds every committed block.
    #[test]
    fn by_default_every_block_survives_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let crashed = dir.path().join("crashed.redb");
        let store = Store::open(&path).unwrap();
        write_chain(&store, 3);
        // The file as a killed process leaves it: every sealed block is there.
        std::fs::copy(&path, &crashed).unwrap();
        drop(store);
        assert_eq!(head_of(&crashed), (3, U256::from(3)));
    }

    /// Blocks committed without an fsync after the last durable commit are
    /// what a crash can lose: a copy of the file taken while the store is
    /// open (what a killed process leaves) reopens at the last durable
    /// block with its state, checked against its header, and takes new
    /// blocks from there; a clean close keeps every block.
    #[test]
    fn a_crash_between_durable_commits_reopens_at_the_last_durable_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let crashed = dir.path().join("crashed.redb");
        let store = Store::open(&path)
            .unwrap()
            .with_durable_every(Duration::from_secs(3600));
        // Block 1 is the first since the store opened: durable; 2..=5 are not.
        write_chain(&store, 5);
        std::fs::copy(&path, &crashed).unwrap();
        drop(store);

        assert_eq!(
            head_of(&path),
            (5, U256::from(5)),
            "a clean close keeps all"
        );
        assert_eq!(
            head_of(&crashed),
            (1, U256::from(1)),
            "a crash keeps the durable"
        );

        // The reopened store takes blocks from there; after a sync they
        // all survive a crash.
        let store = Arc::new(Store::open(&crashed).unwrap());
        let loaded = store.load(MODE).unwrap();
        let mut world = loaded.chain.world().clone();
        let mut parent = loaded.chain.head().hash;
        drop(loaded);
        let store = Arc::try_unwrap(store)
            .expect("the loaded chain is dropped")
            .with_durable_every(Duration::from_secs(3600));
        for n in 2..=3 {
            let changes = changes(n * 10);
            let reverse = world.apply(&changes);
            let block = block(n, parent, &world);
            store.write_block(&block, &[], &changes, &reverse).unwrap();
            parent = block.hash;
        }
        store.sync().unwrap();
        let synced = dir.path().join("synced.redb");
        std::fs::copy(&crashed, &synced).unwrap();
        drop(store);
        assert_eq!(head_of(&synced), (3, U256::from(30)));
    }
}
