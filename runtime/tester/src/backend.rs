//! The state a test runs against: an in-memory cache over a swappable source.
//!
//! Tests run on `CacheDB<Backend>`. By default the backend is empty (a fresh
//! chain); a caller can plug any read-only state source (for instance a
//! snapshot of a running forja network) behind it without touching the
//! executor.

use std::{convert::Infallible, fmt, sync::Arc};

use revm::{
    Context, Journal,
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, TxEnv},
    database::CacheDB,
    database_interface::DatabaseRef,
    primitives::{Address, B256, StorageKey, StorageValue, keccak256},
    state::AccountInfo,
};

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
pub type EvmContext = Context<BlockEnv, TxEnv, CfgEnv, TestDb, Journal<TestDb>, ()>;
