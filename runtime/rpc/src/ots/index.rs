//! The address index behind `ots_searchTransactionsBefore`/`After`,
//! `ots_getTransactionBySenderAndNonce` and `ots_getContractCreator`, in
//! its own redb file beside the chain (`<data dir>/ots-index.redb`; in
//! memory for a network without a data directory).
//!
//! What is indexed, per transaction (as Erigon's Otterscan indexes do):
//! every address that appears in one of its frames as sender or target:
//! the transaction's sender and recipient, the contracts it created
//! (CREATE/CREATE2, failed ones included), every address called at any
//! depth (DELEGATECALL's code address included) and self-destruct
//! beneficiaries; the sender and nonce; and each contract it created that
//! survived, with its creator.
//!
//! The index follows the chain: it is built from the block after the last
//! one indexed, and a block whose hash no longer matches the chain's (the
//! dev network's `evm_revert`) is unwound with everything it added, so an
//! answer never names a transaction the chain no longer has.

use std::{path::PathBuf, sync::Mutex};

use alloy::primitives::{Address, B256};
use forja_runtime::execution::CallLimits;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::backend::NodeApi;

/// address ‖ block (BE u64) ‖ transaction index (BE u32) → ().
const ADDRESS_TXS: TableDefinition<&[u8], ()> = TableDefinition::new("address_txs");
/// sender ‖ nonce (BE u64) → block (BE u64) ‖ transaction index (BE u32).
const SENDER_NONCES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sender_nonces");
/// contract ‖ block ‖ transaction index → creator.
const CREATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("creations");
/// block number → its hash ‖ the keys it added (tag byte, key), to unwind it.
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// "genesis" → the genesis hash of the chain this index belongs to.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const TAG_ADDRESS: u8 = 0;
const TAG_SENDER_NONCE: u8 = 1;
const TAG_CREATION: u8 = 2;

/// Blocks indexed per write transaction while catching up.
const BLOCKS_PER_COMMIT: u64 = 256;

/// Why the index could not answer.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the Otterscan index {file}: {message}")]
    Store { file: String, message: String },
    #[error("indexing block {number}: {source}")]
    Trace {
        number: u64,
        source: forja_runtime::Error,
    },
}

/// Where a transaction is: block number and index in the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TxPosition {
    pub block: u64,
    pub index: u32,
}

/// Which way a search goes from its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Blocks before this one, newest first (0: from the newest).
    Before(u64),
    /// Blocks after this one, oldest first (0: from the genesis).
    After(u64),
}

/// One page of a search, newest first, as Otterscan pages: whole blocks,
/// so a page may hold more than the page size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPage {
    pub positions: Vec<TxPosition>,
    /// Holds the newest matching transaction.
    pub first_page: bool,
    /// Holds the oldest matching transaction.
    pub last_page: bool,
}

/// The index; see the module documentation.
pub struct OtsIndex {
    db: Database,
    file: String,
    /// Held while the index is being brought up to the chain, so the
    /// background indexer and a search never index the same block twice.
    writer: Mutex<()>,
}

impl OtsIndex {
    /// Opens (or creates) the index at `path`, or an empty one in memory
    /// when `path` is `None`. An index made for another chain (another
    /// genesis) is emptied and rebuilt.
    pub fn open(path: Option<PathBuf>, genesis: B256) -> Result<Self, IndexError> {
        let file = path
            .as_ref()
            .map_or_else(|| "(in memory)".to_owned(), |p| p.display().to_string());
        let store_error = |e: &dyn std::fmt::Display| IndexError::Store {
            file: file.clone(),
            message: e.to_string(),
        };
        let db = match &path {
            Some(path) => Database::create(path).map_err(|e| store_error(&e))?,
            None => Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .map_err(|e| store_error(&e))?,
        };
        let index = Self {
            db,
            file: file.clone(),
            writer: Mutex::new(()),
        };
        index.claim(genesis).map_err(|e| store_error(&e))?;
        Ok(index)
    }

    fn store_error(&self, error: impl std::fmt::Display) -> IndexError {
        IndexError::Store {
            file: self.file.clone(),
            message: error.to_string(),
        }
    }

    /// Makes the index belong to the chain of `genesis`.
    fn claim(&self, genesis: B256) -> Result<(), redb::Error> {
        let write = self.db.begin_write()?;
        {
            let mut meta = write.open_table(META)?;
            let current = meta.get("genesis")?.map(|v| v.value().to_vec());
            if current.as_deref() != Some(genesis.as_slice()) {
                if current.is_some() {
                    tracing::warn!(file = %self.file, "the Otterscan index belongs to another chain; rebuilding it");
                }
                write.delete_table(ADDRESS_TXS)?;
                write.delete_table(SENDER_NONCES)?;
                write.delete_table(CREATIONS)?;
                write.delete_table(BLOCKS)?;
                meta.insert("genesis", genesis.as_slice())?;
            }
            // Every table exists from now on, so readers need no special case.
            write.open_table(ADDRESS_TXS)?;
            write.open_table(SENDER_NONCES)?;
            write.open_table(CREATIONS)?;
            write.open_table(BLOCKS)?;
        }
        write.commit()?;
        Ok(())
    }

    /// The last block indexed and its hash (`None`: nothing after genesis).
    pub fn last_indexed(&self) -> Result<Option<(u64, B256)>, IndexError> {
        let read = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let blocks = read.open_table(BLOCKS).map_err(|e| self.store_error(e))?;
        let last = blocks.last().map_err(|e| self.store_error(e))?;
        Ok(last.map(|(number, record)| (number.value(), B256::from_slice(&record.value()[..32]))))
    }

    /// Brings the index up to `node`'s head: unwinds blocks the chain no
    /// longer has, then indexes the ones after the last indexed. Returns
    /// the last block indexed.
    pub fn catch_up(&self, node: &dyn NodeApi, limits: &CallLimits) -> Result<u64, IndexError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tracer) = node.tracer() else {
            return Ok(0);
        };
        loop {
            // Unwind while the last indexed block is not the chain's.
            let mut last = self.last_indexed()?;
            while let Some((number, hash)) = last {
                if node.block_by_number(number).map(|b| b.hash) == Some(hash) {
                    break;
                }
                self.unwind(number)?;
                last = self.last_indexed()?;
            }
            let (parent_number, mut parent_hash) = match last {
                Some(last) => last,
                None => match node.block_by_number(0) {
                    Some(genesis) => (0, genesis.hash),
                    None => return Ok(0),
                },
            };
            let head = node.block_number();
            if parent_number >= head {
                return Ok(parent_number);
            }
            let end = head.min(parent_number + BLOCKS_PER_COMMIT);
            let write = self.db.begin_write().map_err(|e| self.store_error(e))?;
            let mut reorganised = false;
            for number in parent_number + 1..=end {
                let Some(block) = node.block_by_number(number) else {
                    reorganised = true;
                    break;
                };
                if block.header.parent_hash != parent_hash {
                    reorganised = true;
                    break;
                }
                let traces = tracer
                    .ots_trace_block(number, limits)
                    .map_err(|source| IndexError::Trace { number, source })?;
                let mut undo = block.hash.to_vec();
                {
                    let mut addresses = write
                        .open_table(ADDRESS_TXS)
                        .map_err(|e| self.store_error(e))?;
                    let mut nonces = write
                        .open_table(SENDER_NONCES)
                        .map_err(|e| self.store_error(e))?;
                    let mut creations = write
                        .open_table(CREATIONS)
                        .map_err(|e| self.store_error(e))?;
                    for (index, (tx, trace)) in block.transactions.iter().zip(&traces).enumerate() {
                        let position = TxPosition {
                            block: number,
                            index: index as u32,
                        };
                        let mut participants = trace.participants();
                        participants.insert(tx.sender);
                        for address in participants {
                            let key = address_key(address, position);
                            addresses
                                .insert(key.as_slice(), ())
                                .map_err(|e| self.store_error(e))?;
                            undo.push(TAG_ADDRESS);
                            undo.extend_from_slice(&key);
                        }
                        let key = sender_nonce_key(
                            tx.sender,
                            alloy::consensus::Transaction::nonce(&tx.envelope),
                        );
                        nonces
                            .insert(key.as_slice(), position_bytes(position).as_slice())
                            .map_err(|e| self.store_error(e))?;
                        undo.push(TAG_SENDER_NONCE);
                        undo.extend_from_slice(&key);
                        for creation in &trace.created {
                            let key = address_key(creation.contract, position);
                            creations
                                .insert(key.as_slice(), creation.creator.as_slice())
                                .map_err(|e| self.store_error(e))?;
                            undo.push(TAG_CREATION);
                            undo.extend_from_slice(&key);
                        }
                    }
                    let mut blocks = write.open_table(BLOCKS).map_err(|e| self.store_error(e))?;
                    blocks
                        .insert(number, undo.as_slice())
                        .map_err(|e| self.store_error(e))?;
                }
                parent_hash = block.hash;
            }
            write.commit().map_err(|e| self.store_error(e))?;
            if reorganised {
                // The chain moved under us: the unwinding above sorts it out.
                continue;
            }
        }
    }

    /// Removes block `number` and everything it added.
    fn unwind(&self, number: u64) -> Result<(), IndexError> {
        tracing::debug!(
            number,
            "unwinding a block the chain no longer has from the Otterscan index"
        );
        let write = self.db.begin_write().map_err(|e| self.store_error(e))?;
        {
            let mut blocks = write.open_table(BLOCKS).map_err(|e| self.store_error(e))?;
            let record = blocks
                .remove(number)
                .map_err(|e| self.store_error(e))?
                .map(|v| v.value().to_vec())
                .unwrap_or_default();
            let mut addresses = write
                .open_table(ADDRESS_TXS)
                .map_err(|e| self.store_error(e))?;
            let mut nonces = write
                .open_table(SENDER_NONCES)
                .map_err(|e| self.store_error(e))?;
            let mut creations = write
                .open_table(CREATIONS)
                .map_err(|e| self.store_error(e))?;
            let mut rest = record.get(32..).unwrap_or_default();
            while let Some((&tag, after)) = rest.split_first() {
                let len = if tag == TAG_SENDER_NONCE { 28 } else { 32 };
                let Some(key) = after.get(..len) else {
                    return Err(self.store_error(format!("block {number}'s record is damaged")));
                };
                match tag {
                    TAG_ADDRESS => addresses.remove(key).map(|_| ()),
                    TAG_SENDER_NONCE => nonces.remove(key).map(|_| ()),
                    _ => creations.remove(key).map(|_| ()),
                }
                .map_err(|e| self.store_error(e))?;
                rest = &after[len..];
            }
        }
        write.commit().map_err(|e| self.store_error(e))
    }

    /// One page of the transactions `address` took part in.
    pub fn search(
        &self,
        address: Address,
        direction: Direction,
        page_size: usize,
    ) -> Result<SearchPage, IndexError> {
        let read = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let table = read
            .open_table(ADDRESS_TXS)
            .map_err(|e| self.store_error(e))?;
        let lowest = address_key(address, TxPosition { block: 0, index: 0 });
        let highest = address_key(
            address,
            TxPosition {
                block: u64::MAX,
                index: u32::MAX,
            },
        );
        let (range, from_the_end) = match direction {
            Direction::Before(block) => {
                let below = if block == 0 {
                    highest
                } else {
                    address_key(address, TxPosition { block, index: 0 })
                };
                (
                    table
                        .range(lowest.as_slice()..below.as_slice())
                        .map_err(|e| self.store_error(e))?,
                    true,
                )
            }
            Direction::After(block) => {
                let above = address_key(
                    address,
                    TxPosition {
                        block: block.saturating_add(1),
                        index: 0,
                    },
                );
                (
                    table
                        .range(above.as_slice()..=highest.as_slice())
                        .map_err(|e| self.store_error(e))?,
                    false,
                )
            }
        };
        let mut entries: Box<dyn Iterator<Item = _>> = if from_the_end {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut positions: Vec<TxPosition> = Vec::new();
        let mut exhausted = true;
        for entry in entries.by_ref() {
            let (key, _) = entry.map_err(|e| self.store_error(e))?;
            let position = key_position(key.value());
            // Whole blocks: past the page size, only the last block's rest.
            if positions.len() >= page_size
                && positions
                    .last()
                    .is_none_or(|last| last.block != position.block)
            {
                exhausted = false;
                break;
            }
            positions.push(position);
        }
        Ok(match direction {
            Direction::Before(block) => SearchPage {
                positions,
                first_page: block == 0,
                last_page: exhausted,
            },
            Direction::After(block) => {
                positions.reverse();
                SearchPage {
                    positions,
                    first_page: exhausted,
                    last_page: block == 0,
                }
            }
        })
    }

    /// The transaction `sender` sent with `nonce`, if the chain has it.
    pub fn by_sender_and_nonce(
        &self,
        sender: Address,
        nonce: u64,
    ) -> Result<Option<TxPosition>, IndexError> {
        let read = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let table = read
            .open_table(SENDER_NONCES)
            .map_err(|e| self.store_error(e))?;
        let found = table
            .get(sender_nonce_key(sender, nonce).as_slice())
            .map_err(|e| self.store_error(e))?;
        Ok(found.map(|v| {
            let v = v.value();
            TxPosition {
                block: u64::from_be_bytes(v[..8].try_into().expect("8 bytes")),
                index: u32::from_be_bytes(v[8..12].try_into().expect("4 bytes")),
            }
        }))
    }

    /// The latest creation of `contract`: where, and by whom.
    pub fn creation(&self, contract: Address) -> Result<Option<(TxPosition, Address)>, IndexError> {
        let read = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let table = read
            .open_table(CREATIONS)
            .map_err(|e| self.store_error(e))?;
        let lowest = address_key(contract, TxPosition { block: 0, index: 0 });
        let highest = address_key(
            contract,
            TxPosition {
                block: u64::MAX,
                index: u32::MAX,
            },
        );
        let mut range = table
            .range(lowest.as_slice()..=highest.as_slice())
            .map_err(|e| self.store_error(e))?;
        match range.next_back() {
            Some(entry) => {
                let (key, creator) = entry.map_err(|e| self.store_error(e))?;
                Ok(Some((
                    key_position(key.value()),
                    Address::from_slice(creator.value()),
                )))
            }
            None => Ok(None),
        }
    }
}

fn address_key(address: Address, position: TxPosition) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&position_bytes(position));
    key
}

fn position_bytes(position: TxPosition) -> [u8; 12] {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&position.block.to_be_bytes());
    bytes[8..].copy_from_slice(&position.index.to_be_bytes());
    bytes
}

fn key_position(key: &[u8]) -> TxPosition {
    TxPosition {
        block: u64::from_be_bytes(key[20..28].try_into().expect("32-byte key")),
        index: u32::from_be_bytes(key[28..32].try_into().expect("32-byte key")),
    }
}

fn sender_nonce_key(sender: Address, nonce: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(sender.as_slice());
    key[20..].copy_from_slice(&nonce.to_be_bytes());
    key
}
