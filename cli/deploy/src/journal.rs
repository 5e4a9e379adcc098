//! The write-ahead journal, `deployments/.journal-<env>.json`. Before a
//! transaction is broadcast its signed bytes, hash and nonce are fsync'd
//! here; after it is mined and recorded the entry is cleared. A run that
//! finds an entry finishes that transaction first: by its hash if it was
//! mined, by rebroadcasting the same signed bytes if the node forgot it, or
//! by dropping it if its nonce was used by something else. Because the
//! replacement is the same signed transaction (same nonce), a contract is
//! never deployed twice.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, Bytes};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::record::{CallRecord, ContractRecord};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub environment: String,
    pub chain_id: u64,
    /// The transaction in flight, if any (transactions are sent one at a time).
    pub pending: Option<PendingTx>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingTx {
    pub from: Address,
    pub nonce: u64,
    pub tx_hash: B256,
    /// The signed transaction (EIP-2718 bytes), to rebroadcast as is.
    pub raw: Bytes,
    pub action: PendingAction,
}

/// What the transaction does, with the record to write once it is mined
/// (address, hash and block filled in then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingAction {
    Deploy(Box<ContractRecord>),
    Call(CallRecord),
}

impl PendingAction {
    pub fn describe(&self) -> String {
        match self {
            Self::Deploy(c) => format!("deployment of {}", c.name),
            Self::Call(c) => format!("call {}.{}", c.contract, c.function),
        }
    }
}

pub fn journal_path(root: &Path, environment: &str) -> PathBuf {
    crate::record::deployments_dir(root).join(format!(".journal-{environment}.json"))
}

impl Journal {
    pub fn load_or_new(root: &Path, environment: &str, chain_id: u64) -> anyhow::Result<Self> {
        let path = journal_path(root, environment);
        if !path.exists() {
            return Ok(Self {
                environment: environment.to_string(),
                chain_id,
                pending: None,
            });
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let journal: Self = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is corrupt; it lists the transaction in flight, inspect it before deleting it",
                path.display()
            )
        })?;
        anyhow::ensure!(
            journal.chain_id == chain_id,
            "{} belongs to chain id {}, but `{environment}` is chain id {chain_id}",
            path.display(),
            journal.chain_id
        );
        Ok(journal)
    }

    /// Persists the journal (fsync'd) before anything is broadcast.
    /// Removes the file once nothing is in flight.
    pub fn save(&self, root: &Path) -> anyhow::Result<()> {
        let path = journal_path(root, &self.environment);
        if self.pending.is_none() {
            return match std::fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    Err(err).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        crate::fsutil::write_durably(
            &path,
            (serde_json::to_string_pretty(self)? + "\n").as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_pending_call() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::load_or_new(dir.path(), "dev", 7).unwrap();
        assert!(journal.pending.is_none());
        journal.pending = Some(PendingTx {
            from: Address::repeat_byte(1),
            nonce: 4,
            tx_hash: B256::repeat_byte(2),
            raw: Bytes::from_static(&[1, 2, 3]),
            action: PendingAction::Call(CallRecord {
                key: "k".into(),
                contract: "C".into(),
                function: "f()".into(),
                args: vec![],
                tx_hash: B256::ZERO,
                block: 0,
                made_at: String::new(),
            }),
        });
        journal.save(dir.path()).unwrap();
        assert_eq!(Journal::load_or_new(dir.path(), "dev", 7).unwrap(), journal);
        assert!(Journal::load_or_new(dir.path(), "dev", 8).is_err());
        journal.pending = None;
        journal.save(dir.path()).unwrap();
        assert!(!journal_path(dir.path(), "dev").exists());
    }
}
