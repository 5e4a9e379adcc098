//! The state a test runs against: an in-memory cache over an empty chain,
//! and what cheatcodes may do to a database (the in-memory one, or a block
//! of a forja network under `--network`).

use std::convert::Infallible;

use forja_runtime::execution::BlockDb;
use revm::{
    Context, Journal,
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, TxEnv},
    database::CacheDB,
    database_interface::{Database, DatabaseRef},
    primitives::{Address, B256, StorageKey, StorageValue, U256, keccak256},
    state::AccountInfo,
};

use crate::vm::UnsupportedOnNetwork;

/// The database under every test's in-memory state: a fresh chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct Backend;

impl Backend {
    /// An empty chain.
    pub(crate) fn empty() -> Self {
        Self
    }
}

impl DatabaseRef for Backend {
    type Error = Infallible;

    fn basic_ref(&self, _: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(None)
    }

    fn code_by_hash_ref(&self, _: B256) -> Result<Bytecode, Self::Error> {
        Ok(Bytecode::default())
    }

    fn storage_ref(&self, _: Address, _: StorageKey) -> Result<StorageValue, Self::Error> {
        Ok(StorageValue::ZERO)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        // Deterministic, distinct hashes so `blockhash` is usable in tests.
        Ok(keccak256(number.to_be_bytes()))
    }
}

/// The database tests execute on.
pub(crate) type TestDb = CacheDB<Backend>;

/// The revm context type used by the executor and its inspector.
pub(crate) type EvmContext = CheatContext<TestDb>;

/// A revm context the cheatcode inspector can run in: the executor's
/// in-memory state ([`TestDb`]) or a block of a forja network ([`BlockDb`]).
pub(crate) type CheatContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;

/// A database cheatcodes can act on. Cheatcodes that read or write state go
/// through the journal and work on any of them; whole-state snapshots only
/// exist where the state is a value the tester owns.
pub(crate) trait CheatDatabase: Database<Error = Infallible> + Sized {
    /// `vm.snapshotState`: a copy of the state, or why there cannot be one.
    fn snapshot(context: &CheatContext<Self>) -> Result<StateSnapshot, UnsupportedOnNetwork>;
    /// `vm.revertToState`: restores `snapshot`.
    fn restore(context: &mut CheatContext<Self>, snapshot: &StateSnapshot);
    /// `vm.setBlockhash`: what BLOCKHASH answers for block `number` from now on.
    fn set_block_hash(&mut self, number: u64, hash: B256);
    /// Why cheatcode `name` cannot run on this database, when it cannot.
    fn refuses(name: &str) -> Option<UnsupportedOnNetwork> {
        let _ = name;
        None
    }
}

/// A `vm.snapshotState` of the in-memory state.
#[derive(Clone, Debug)]
pub(crate) struct StateSnapshot {
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

    fn set_block_hash(&mut self, number: u64, hash: B256) {
        self.cache.block_hashes.insert(U256::from(number), hash);
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

    fn set_block_hash(&mut self, number: u64, hash: B256) {
        self.cache.block_hashes.insert(U256::from(number), hash);
    }

    fn refuses(name: &str) -> Option<UnsupportedOnNetwork> {
        UnsupportedOnNetwork::of(name)
    }
}
