//! World state: accounts, storage and code, with per-block reverse diffs so
//! the state at any past block can be read without keeping copies of it.
//!
//! The Merkle-Patricia state root is recomputed once per block. Storage roots
//! are cached per account and recomputed only for accounts whose storage
//! changed in the block, which is what keeps a block of thousands of ERC-20
//! transfers cheap to seal.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    sync::Arc,
};

use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount, root::storage_root_unhashed};
use revm::{
    bytecode::Bytecode,
    database_interface::DatabaseRef,
    primitives::{StorageKey, StorageValue},
    state::AccountInfo,
};

/// An account as the state holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
    pub storage: HashMap<U256, U256>,
    storage_root: B256,
}

impl Account {
    fn new(nonce: u64, balance: U256, code_hash: B256) -> Self {
        Self {
            nonce,
            balance,
            code_hash,
            storage: HashMap::new(),
            storage_root: EMPTY_ROOT_HASH,
        }
    }

    fn info(&self) -> AccountInfo {
        AccountInfo {
            balance: self.balance,
            nonce: self.nonce,
            code_hash: self.code_hash,
            code: None,
            ..Default::default()
        }
    }

    fn trie_account(&self) -> TrieAccount {
        TrieAccount {
            nonce: self.nonce,
            balance: self.balance,
            storage_root: self.storage_root,
            code_hash: self.code_hash,
        }
    }
}

/// Balance, nonce and code hash of an account (no storage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountFields {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

/// What one account became in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountChange {
    /// New fields; `None` when the account was destroyed (self-destruct or
    /// EIP-161 empty-account removal).
    pub fields: Option<AccountFields>,
    /// Storage was wiped before `storage` applies (account (re)created or destroyed).
    pub storage_cleared: bool,
    /// Slots written (zero means deleted).
    pub storage: HashMap<U256, U256>,
}

/// Every state change of one block, in a form both the in-memory state and
/// the store apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    pub accounts: HashMap<Address, AccountChange>,
    pub codes: HashMap<B256, Bytes>,
}

impl StateChanges {
    /// Folds a later change of the same block into this one.
    pub fn merge(&mut self, later: StateChanges) {
        self.codes.extend(later.codes);
        for (address, change) in later.accounts {
            match self.accounts.get_mut(&address) {
                Some(existing) if !change.storage_cleared => {
                    existing.fields = change.fields;
                    existing.storage.extend(change.storage);
                }
                _ => {
                    self.accounts.insert(address, change);
                }
            }
        }
    }
}

/// What an account looked like before a block changed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriorAccount {
    /// `None` when the account did not exist.
    pub fields: Option<AccountFields>,
    /// Previous values of the slots the block wrote (all slots if it cleared storage).
    pub storage: HashMap<U256, U256>,
    /// The block wiped the account's storage, so `storage` is all of it.
    pub storage_cleared: bool,
}

/// Undo information of one block: enough to answer "what was X at the
/// parent block" and to roll the state back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReverseDiff {
    pub accounts: HashMap<Address, PriorAccount>,
}

/// The latest state of a node.
#[derive(Clone, Debug, Default)]
pub struct WorldState {
    accounts: HashMap<Address, Account>,
    codes: HashMap<B256, Bytecode>,
    /// Trie leaves by hashed address, kept sorted for the root computation.
    leaves: BTreeMap<B256, TrieAccount>,
    /// Storage roots precomputed for the block being applied.
    known_roots: Option<HashMap<Address, B256>>,
}

impl WorldState {
    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.accounts.get(address)
    }

    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Account)> {
        self.accounts.iter()
    }

    pub fn code(&self, hash: &B256) -> Option<&Bytecode> {
        self.codes.get(hash)
    }

    pub fn codes(&self) -> impl Iterator<Item = (&B256, &Bytecode)> {
        self.codes.iter()
    }

    /// Inserts code and returns its hash.
    pub fn insert_code(&mut self, code: Bytes) -> B256 {
        if code.is_empty() {
            return KECCAK256_EMPTY;
        }
        let hash = keccak256(&code);
        self.codes
            .entry(hash)
            .or_insert_with(|| Bytecode::new_raw(code));
        hash
    }

    /// The state root `changes` would give, without applying them. Returns
    /// the new storage roots of the touched accounts too, so [`Self::apply_with_roots`]
    /// does not compute them again.
    pub fn preview_root(&self, changes: &StateChanges) -> (B256, HashMap<Address, B256>) {
        let _timed = crate::phases::Timed::start(crate::phases::Phase::StateRoot);
        let mut storage_roots = HashMap::new();
        let mut changed: Vec<(B256, Option<TrieAccount>)> =
            Vec::with_capacity(changes.accounts.len());
        for (address, change) in &changes.accounts {
            let hashed = keccak256(address);
            let Some(fields) = change.fields else {
                changed.push((hashed, None));
                continue;
            };
            let existing = self.accounts.get(address);
            let root = if !change.storage_cleared && change.storage.is_empty() {
                existing.map_or(EMPTY_ROOT_HASH, |a| a.storage_root)
            } else {
                let mut storage = if change.storage_cleared {
                    HashMap::new()
                } else {
                    existing.map(|a| a.storage.clone()).unwrap_or_default()
                };
                for (slot, value) in &change.storage {
                    if value.is_zero() {
                        storage.remove(slot);
                    } else {
                        storage.insert(*slot, *value);
                    }
                }
                storage_root(&storage)
            };
            storage_roots.insert(*address, root);
            changed.push((
                hashed,
                Some(TrieAccount {
                    nonce: fields.nonce,
                    balance: fields.balance,
                    storage_root: root,
                    code_hash: fields.code_hash,
                }),
            ));
        }
        changed.sort_unstable_by_key(|(hashed, _)| *hashed);
        let overrides: BTreeMap<B256, Option<TrieAccount>> = changed.into_iter().collect();
        let mut builder = alloy_trie::HashBuilder::default();
        let mut buf = Vec::with_capacity(128);
        let mut add = |hashed: &B256, account: &TrieAccount| {
            buf.clear();
            alloy::rlp::Encodable::encode(account, &mut buf);
            builder.add_leaf(alloy_trie::Nibbles::unpack(*hashed), &buf);
        };
        // Merge the sorted leaves with the sorted overrides.
        let mut leaves = self.leaves.iter().peekable();
        let mut over = overrides.iter().peekable();
        loop {
            match (leaves.peek(), over.peek()) {
                (None, None) => break,
                (Some((lk, la)), None) => {
                    add(lk, la);
                    leaves.next();
                }
                (None, Some((ok, oa))) => {
                    if let Some(oa) = oa {
                        add(ok, oa);
                    }
                    over.next();
                }
                (Some((lk, la)), Some((ok, oa))) => {
                    if lk < ok {
                        add(lk, la);
                        leaves.next();
                    } else {
                        if let Some(oa) = oa {
                            add(ok, oa);
                        }
                        if lk == ok {
                            leaves.next();
                        }
                        over.next();
                    }
                }
            }
        }
        (builder.root(), storage_roots)
    }

    /// [`Self::apply`] with storage roots already computed by [`Self::preview_root`].
    pub fn apply_with_roots(
        &mut self,
        changes: &StateChanges,
        roots: &HashMap<Address, B256>,
    ) -> ReverseDiff {
        self.known_roots = Some(roots.clone());
        let reverse = self.apply(changes);
        self.known_roots = None;
        reverse
    }

    /// Applies a block's changes and returns the diff that undoes them.
    /// Storage roots of touched accounts are refreshed here.
    pub fn apply(&mut self, changes: &StateChanges) -> ReverseDiff {
        let _timed = crate::phases::Timed::start(crate::phases::Phase::Apply);
        for (hash, code) in &changes.codes {
            self.codes
                .entry(*hash)
                .or_insert_with(|| Bytecode::new_raw(code.clone()));
        }
        let mut reverse = ReverseDiff::default();
        for (address, change) in &changes.accounts {
            let existing = self.accounts.get(address);
            let mut prior = PriorAccount {
                fields: existing.map(|a| AccountFields {
                    nonce: a.nonce,
                    balance: a.balance,
                    code_hash: a.code_hash,
                }),
                storage: HashMap::new(),
                storage_cleared: change.storage_cleared || change.fields.is_none(),
            };
            if let Some(existing) = existing {
                if prior.storage_cleared {
                    prior.storage = existing.storage.clone();
                } else {
                    for slot in change.storage.keys() {
                        prior.storage.insert(
                            *slot,
                            existing.storage.get(slot).copied().unwrap_or_default(),
                        );
                    }
                }
            }
            reverse.accounts.insert(*address, prior);
            self.apply_account(*address, change);
        }
        reverse
    }

    fn apply_account(&mut self, address: Address, change: &AccountChange) {
        let hashed = keccak256(address);
        let Some(fields) = change.fields else {
            self.accounts.remove(&address);
            self.leaves.remove(&hashed);
            return;
        };
        let account = self
            .accounts
            .entry(address)
            .or_insert_with(|| Account::new(0, U256::ZERO, KECCAK256_EMPTY));
        account.nonce = fields.nonce;
        account.balance = fields.balance;
        account.code_hash = fields.code_hash;
        let storage_touched = change.storage_cleared || !change.storage.is_empty();
        if change.storage_cleared {
            account.storage.clear();
        }
        for (slot, value) in &change.storage {
            if value.is_zero() {
                account.storage.remove(slot);
            } else {
                account.storage.insert(*slot, *value);
            }
        }
        if storage_touched {
            account.storage_root = match self.known_roots.as_ref().and_then(|r| r.get(&address)) {
                Some(root) => *root,
                None => storage_root(&account.storage),
            };
        }
        self.leaves.insert(hashed, account.trie_account());
    }

    /// Undoes a block (the newest applied one).
    pub fn revert(&mut self, diff: &ReverseDiff) {
        for (address, prior) in &diff.accounts {
            let change = match prior.fields {
                None => AccountChange {
                    fields: None,
                    storage_cleared: true,
                    storage: HashMap::new(),
                },
                Some(fields) => AccountChange {
                    fields: Some(fields),
                    storage_cleared: prior.storage_cleared,
                    // Slots the block created were recorded with prior value zero.
                    storage: prior.storage.clone(),
                },
            };
            self.apply_account(*address, &change);
        }
    }

    /// The Merkle-Patricia root of the whole state.
    pub fn state_root(&self) -> B256 {
        let mut builder = alloy_trie::HashBuilder::default();
        let mut buf = Vec::with_capacity(128);
        for (hashed, account) in &self.leaves {
            buf.clear();
            alloy::rlp::Encodable::encode(account, &mut buf);
            builder.add_leaf(alloy_trie::Nibbles::unpack(*hashed), &buf);
        }
        builder.root()
    }
}

fn storage_root(storage: &HashMap<U256, U256>) -> B256 {
    if storage.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    storage_root_unhashed(storage.iter().map(|(k, v)| (B256::from(*k), *v)))
}

/// A read view of the state as of some block: the latest state seen through
/// the reverse diffs of every block after it.
#[derive(Clone)]
pub struct StateAt<'a> {
    pub world: &'a WorldState,
    /// Reverse diffs of the blocks after the viewed one, oldest first
    /// (borrowed from the chain, or read from its store for older states).
    pub newer_diffs: Cow<'a, [Arc<ReverseDiff>]>,
    /// Hashes of blocks `hashes_from..`, for `BLOCKHASH` (which reaches
    /// back 256 blocks only).
    pub block_hashes: &'a [B256],
    pub hashes_from: u64,
}

impl StateAt<'_> {
    fn prior(&self, address: &Address) -> Option<&PriorAccount> {
        self.newer_diffs
            .iter()
            .find_map(|d| d.accounts.get(address))
    }

    pub fn fields(&self, address: Address) -> Option<AccountFields> {
        match self.prior(&address) {
            Some(prior) => prior.fields,
            None => self.world.accounts.get(&address).map(|a| AccountFields {
                nonce: a.nonce,
                balance: a.balance,
                code_hash: a.code_hash,
            }),
        }
    }

    pub fn balance(&self, address: Address) -> U256 {
        self.fields(address).map(|f| f.balance).unwrap_or_default()
    }

    pub fn nonce(&self, address: Address) -> u64 {
        self.fields(address).map(|f| f.nonce).unwrap_or_default()
    }

    pub fn code(&self, address: Address) -> Bytes {
        self.fields(address)
            .and_then(|f| self.world.codes.get(&f.code_hash))
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    pub fn storage(&self, address: Address, slot: U256) -> U256 {
        for diff in self.newer_diffs.iter() {
            if let Some(prior) = diff.accounts.get(&address) {
                if prior.fields.is_none() {
                    return U256::ZERO;
                }
                if let Some(value) = prior.storage.get(&slot) {
                    return *value;
                }
                if prior.storage_cleared {
                    return U256::ZERO;
                }
            }
        }
        self.world
            .accounts
            .get(&address)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default()
    }
}

impl DatabaseRef for StateAt<'_> {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.fields(address).map(|f| AccountInfo {
            balance: f.balance,
            nonce: f.nonce,
            code_hash: f.code_hash,
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(self
            .world
            .codes
            .get(&code_hash)
            .cloned()
            .unwrap_or_default())
    }

    fn storage_ref(
        &self,
        address: Address,
        index: StorageKey,
    ) -> Result<StorageValue, Self::Error> {
        Ok(self.storage(address, index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(number
            .checked_sub(self.hashes_from)
            .and_then(|i| self.block_hashes.get(i as usize))
            .copied()
            .unwrap_or_default())
    }
}

impl WorldState {
    /// Account info as revm wants it (used by genesis and dev controls).
    pub fn info(&self, address: &Address) -> Option<AccountInfo> {
        self.accounts.get(address).map(Account::info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_trie::root::state_root_unhashed;

    fn set(address: Address, nonce: u64, balance: u64, slots: &[(u64, u64)]) -> StateChanges {
        let mut changes = StateChanges::default();
        changes.accounts.insert(
            address,
            AccountChange {
                fields: Some(AccountFields {
                    nonce,
                    balance: U256::from(balance),
                    code_hash: KECCAK256_EMPTY,
                }),
                storage_cleared: false,
                storage: slots
                    .iter()
                    .map(|(k, v)| (U256::from(*k), U256::from(*v)))
                    .collect(),
            },
        );
        changes
    }

    #[test]
    fn incremental_root_matches_full_recomputation() {
        let mut world = WorldState::default();
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        world.apply(&set(a, 1, 100, &[(1, 5), (2, 6)]));
        world.apply(&set(b, 0, 7, &[]));
        world.apply(&set(a, 2, 90, &[(1, 0), (3, 9)]));
        let full = state_root_unhashed(world.accounts.iter().map(|(address, account)| {
            let mut acc = account.clone();
            acc.storage_root = storage_root(&account.storage);
            (*address, acc.trie_account())
        }));
        assert_eq!(world.state_root(), full);
        let next = set(b, 1, 3, &[(4, 4)]);
        let (preview, roots) = world.preview_root(&next);
        world.apply_with_roots(&next, &roots);
        assert_eq!(world.state_root(), preview);
        assert_ne!(world.state_root(), EMPTY_ROOT_HASH);
    }

    #[test]
    fn reverse_diffs_show_past_state_and_revert_it() {
        let mut world = WorldState::default();
        let a = Address::repeat_byte(1);
        world.apply(&set(a, 1, 100, &[(1, 5)]));
        let root_1 = world.state_root();
        let diff = Arc::new(world.apply(&set(a, 2, 90, &[(1, 0), (3, 9)])));
        let past = StateAt {
            world: &world,
            newer_diffs: Cow::Borrowed(std::slice::from_ref(&diff)),
            block_hashes: &[],
            hashes_from: 0,
        };
        assert_eq!(past.balance(a), U256::from(100));
        assert_eq!(past.storage(a, U256::from(1)), U256::from(5));
        assert_eq!(past.storage(a, U256::from(3)), U256::ZERO);
        world.revert(&diff);
        assert_eq!(world.state_root(), root_1);
        assert_eq!(world.account(&a).unwrap().storage.len(), 1);
    }
}
