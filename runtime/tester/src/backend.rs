//! The state a test runs against: an in-memory cache over a swappable source.
//!
//! Tests run on `CacheDB<Backend>`. By default the backend is empty (a fresh
//! chain); a caller can plug any read-only state source (for instance a
//! snapshot of a running forja network) behind it without touching the
//! executor.

use std::{convert::Infallible, fmt, sync::Arc};

use forja_runtime::execution::BlockDb;
use revm::{
    Context, Journal,
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, TxEnv},
    database::CacheDB,
    database_interface::{Database, DatabaseRef},
    primitives::{Address, B256, StorageKey, StorageValue, keccak256},
    state::AccountInfo,
};

use crate::vm::UnsupportedOnNetwork;

/// A read-only state source a test run can start from.
pub trait StateSource: Send + Sync {
    /// Account info (balance, nonce, code) of `address`, if it exists.
    fn account(&self, address: Address) -> Option<AccountInfo>;
    /// Contract code by its hash.
    fn code_by_hash(&self, hash: B256) -> Option<Bytecode>;
    /// A storage slot of `address`.
    fn storage(&self, address: Address, slot: StorageKey) -> StorageValue;
}

/// The database under every test's in-memory state.
#[derive(Clone, Default)]
pub struct Backend {
    source: Option<Arc<dyn StateSource>>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("forked", &self.source.is_some())
            .finish()
    }
}

impl Backend {
    /// An empty chain.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A backend that reads missing state from `source`.
    pub fn with_source(source: Arc<dyn StateSource>) -> Self {
        Self {
            source: Some(source),
        }
    }
}

impl DatabaseRef for Backend {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.source.as_ref().and_then(|s| s.account(address)))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(self
            .source
            .as_ref()
            .and_then(|s| s.code_by_hash(code_hash))
            .unwrap_or_default())
    }

    fn storage_ref(
        &self,
        address: Address,
        index: StorageKey,
    ) -> Result<StorageValue, Self::Error> {
        Ok(self
            .source
            .as_ref()
            .map(|s| s.storage(address, index))
            .unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        // Deterministic, distinct hashes so `blockhash` is usable in tests.
        Ok(keccak256(number.to_be_bytes()))
    }
}

/// The database tests execute on.
pub type TestDb = CacheDB<Backend>;

/// The revm context type used by the executor and its inspector.
pub type EvmContext = CheatContext<TestDb>;

/// A revm context the cheatcode inspector can run in: the executor's
/// in-memory state ([`TestDb`]) or a block of a forja network ([`BlockDb`]).
pub type CheatContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;

/// A database cheatcodes can act on. Cheatcodes that read or write state go
/// through the journal and work on any of them; whole-state snapshots only
/// exist where the state is a value the tester owns.
pub trait CheatDatabase: Database<Error = Infallible> + Sized {
    /// `vm.snapshotState`: a copy of the state, or why there cannot be one.
    fn snapshot(context: &CheatContext<Self>) -> Result<StateSnapshot, UnsupportedOnNetwork>;
    /// `vm.revertToState`: restores `snapshot`.
    fn restore(context: &mut CheatContext<Self>, snapshot: &StateSnapshot);
    /// Why cheatcode `name` cannot run on this database, when it cannot.
    fn refuses(name: &str) -> Option<UnsupportedOnNetwork> {
        let _ = name;
        None
    }
}

/// A `vm.snapshotState` of the in-memory state.
#[derive(Clone, Debug)]
pub struct StateSnapshot {
    state: revm::state::EvmState,
    db: TestDb,
    block: BlockEnv,
    chain_id: u64,
}

impl CheatDatabase for TestDb {
    fn snapshot(context: &CheatContext<Self>) -> Result<StateSnapshot, UnsupportedOnNetwork> {
        Ok(StateSnapshot {
            state: context.journaled_state.state.clone(),
            db: context.journaled_state.database.clone(),
            block: context.block.clone(),
            chain_id: context.cfg.chain_id,
        })
    }

    fn restore(context: &mut CheatContext<Self>, snapshot: &StateSnapshot) {
        // The state of accounts touched since the snapshot is replaced; accounts
        // loaded only afterwards stay loaded (with their snapshot-time values from the db).
        let mut state = snapshot.state.clone();
        for (address, account) in context.journaled_state.state.iter() {
            if !state.contains_key(address) {
                let mut fresh = account.clone();
                fresh.info = snapshot
                    .db
                    .basic_ref(*address)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                fresh.storage.clear();
                state.insert(*address, fresh);
            }
        }
        context.journaled_state.state = state;
        context.journaled_state.database = snapshot.db.clone();
        context.block = snapshot.block.clone();
        context.cfg.chain_id = snapshot.chain_id;
    }
}

/// Blocks of a forja network: the chain is shared by every test and every
/// validator, so there is no state of one's own to snapshot.
impl CheatDatabase for BlockDb<'_> {
    fn snapshot(_: &CheatContext<Self>) -> Result<StateSnapshot, UnsupportedOnNetwork> {
        Err(UnsupportedOnNetwork {
            name: "snapshotState".into(),
        })
    }

    fn restore(_: &mut CheatContext<Self>, _: &StateSnapshot) {
        unreachable!("no snapshot of a network block can be taken")
    }

    fn refuses(name: &str) -> Option<UnsupportedOnNetwork> {
        UnsupportedOnNetwork::of(name)
    }
}
