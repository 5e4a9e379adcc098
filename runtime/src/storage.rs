//! A node's durable store: one redb file, one write transaction per block.
//!
//! Tables hold the blocks (RLP), their senders, the consensus receipts, the
//! latest state (accounts, storage, code), the reverse diff of every block
//! (for historical reads) and metadata (genesis hash, permissions). A block
//! and everything it changed are committed in one redb transaction, so a
//! crash leaves the store at the previous block or at this one, never between.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use alloy::{
    consensus::{Block, ReceiptEnvelope, TxEnvelope},
    eips::eip2718::{Decodable2718, Encodable2718},
    primitives::{Address, B256, Bytes, Log, U256},
};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use forja_consensus::{BftMode, bft_block_hash};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{
    block::{SealedBlock, SignedTx},
    chain::Chain,
    error::StorageError,
    permissions::Permissions,
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

const META_GENESIS: &str = "genesis_hash";
const META_PERMISSIONS: &str = "permissions";
const META_CHAIN_ID: &str = "chain_id";

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

/// One node's redb file.
pub struct Store {
    db: Database,
    path: PathBuf,
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
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let db = Database::create(path).map_err(|e| StorageError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            db,
            path: path.to_owned(),
        })
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
        let read = self.db.begin_read().map_err(|e| self.corrupt(e))?;
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
        let read = self.db.begin_read().map_err(|e| self.corrupt(e))?;
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
        let write = self.db.begin_write().map_err(|e| self.write_error(e))?;
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
        let write = self.db.begin_write().map_err(|e| self.write_error(e))?;
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
        let write = self.db.begin_write().map_err(|e| self.write_error(e))?;
        self.write_block_in(&write, block, receipts, changes, reverse)?;
        write.commit().map_err(|e| self.write_error(e))
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
        write
            .open_table(HISTORY)
            .map_err(|e| err(&e))?
            .insert(number, encoded.as_slice())
            .map_err(|e| err(&e))?;

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
        let write = self.db.begin_write().map_err(|e| self.write_error(e))?;
        {
            let mut meta = write.open_table(META).map_err(|e| self.write_error(e))?;
            let encoded = serde_json::to_vec(permissions).map_err(|e| self.write_error(e))?;
            meta.insert(META_PERMISSIONS, encoded.as_slice())
                .map_err(|e| self.write_error(e))?;
        }
        write.commit().map_err(|e| self.write_error(e))
    }

    /// Loads the whole chain and the permissions. Block hashes are computed
    /// as `mode` defines them (BFT hashes leave out the committed seals and
    /// the round, which differ between nodes), so that each block's parent
    /// hash can be checked. The loaded state's root must equal the head's
    /// state root, or the store is reported corrupt.
    pub fn load(&self, mode: BftMode) -> Result<(Chain, Permissions), StorageError> {
        let read = self.db.begin_read().map_err(|e| self.corrupt(e))?;
        let table = |name| self.corrupt(format!("table `{name}` is missing"));
        let blocks = read.open_table(BLOCKS).map_err(|_| table("blocks"))?;
        let senders = read.open_table(SENDERS).map_err(|_| table("senders"))?;
        let receipts = read.open_table(RECEIPTS).map_err(|_| table("receipts"))?;
        let history = read.open_table(HISTORY).map_err(|_| table("history"))?;
        let meta = read.open_table(META).map_err(|_| table("meta"))?;

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

        let mut chain: Option<Chain> = None;
        for entry in blocks.iter().map_err(|e| self.corrupt(e))? {
            let (number, encoded) = entry.map_err(|e| self.corrupt(e))?;
            let number = number.value();
            let block = Block::<TxEnvelope>::decode(&mut encoded.value())
                .map_err(|e| self.corrupt(format!("block {number}: {e}")))?;
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
            let transactions = block
                .body
                .transactions
                .into_iter()
                .zip(sender_bytes.chunks(20))
                .map(|(tx, sender)| Arc::new(SignedTx::new(tx, Address::from_slice(sender))))
                .collect();
            let hash = bft_block_hash(mode, &block.header)
                .map_err(|e| self.corrupt(format!("block {number}: {e}")))?;
            let sealed = Arc::new(SealedBlock::with_hash(block.header, hash, transactions));
            if sealed.number() != number {
                return Err(self.corrupt(format!("entry {number} holds block {}", sealed.number())));
            }
            match &mut chain {
                None => {
                    if number != 0 {
                        return Err(self.corrupt("the genesis block is missing"));
                    }
                    let recorded = meta
                        .get(META_GENESIS)
                        .map_err(|e| self.corrupt(e))?
                        .map(|v| v.value().to_vec());
                    if recorded.as_deref() != Some(sealed.hash.as_slice()) {
                        return Err(
                            self.corrupt("block 0 is not the genesis block recorded in the store")
                        );
                    }
                    chain = Some(Chain::new(sealed, WorldState::default()));
                }
                Some(chain) => {
                    if chain.head().hash != sealed.header.parent_hash {
                        return Err(self.corrupt(format!(
                            "block {number} does not extend block {}",
                            number - 1
                        )));
                    }
                    let receipt_bytes = receipts
                        .get(number)
                        .map_err(|e| self.corrupt(e))?
                        .ok_or_else(|| {
                            self.corrupt(format!("receipts of block {number} are missing"))
                        })?;
                    let encoded = Vec::<Bytes>::decode(&mut receipt_bytes.value())
                        .map_err(|e| self.corrupt(format!("receipts of block {number}: {e}")))?;
                    let decoded = encoded
                        .iter()
                        .map(|r| ReceiptEnvelope::<Log>::decode_2718(&mut r.as_ref()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| self.corrupt(format!("receipts of block {number}: {e}")))?;
                    let history_bytes = history
                        .get(number)
                        .map_err(|e| self.corrupt(e))?
                        .ok_or_else(|| {
                            self.corrupt(format!("state history of block {number} is missing"))
                        })?;
                    let priors =
                        Vec::<StoredPrior>::decode(&mut history_bytes.value()).map_err(|e| {
                            self.corrupt(format!("state history of block {number}: {e}"))
                        })?;
                    let reverse = ReverseDiff {
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
                                        storage: p
                                            .storage
                                            .into_iter()
                                            .map(|s| (s.slot, s.value))
                                            .collect(),
                                    },
                                )
                            })
                            .collect(),
                    };
                    chain.append_stored(sealed, decoded, reverse);
                }
            }
        }
        let mut chain = chain.ok_or_else(|| self.corrupt("no blocks (not even genesis)"))?;
        let root = world.state_root();
        *chain.world_mut() = world;
        if root != chain.head().header.state_root {
            return Err(self.corrupt(format!(
                "state does not match block {}: root {root}, header says {}",
                chain.head_number(),
                chain.head().header.state_root
            )));
        }
        let permissions = match meta.get(META_PERMISSIONS).map_err(|e| self.corrupt(e))? {
            None => Permissions::default(),
            Some(bytes) => serde_json::from_slice(bytes.value())
                .map_err(|e| self.corrupt(format!("permissions entry: {e}")))?,
        };
        Ok((chain, permissions))
    }
}
