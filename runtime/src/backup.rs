//! Backups of a data directory: a consistent copy of every node's store,
//! taken while the network keeps committing blocks; restoring one into a
//! data directory; and checking a data directory or a backup.
//!
//! A backup is a directory `<data-dir>/backups/<name>/` holding one
//! `node-<i>.redb` per node (each copied within one read transaction of
//! that node's store, so it is exactly the store at one block) and
//! `backup.json`, which records each copy's head (and, for nodes added
//! while the network ran, their key files and `added-nodes.json`). The nodes' heads may
//! differ by the blocks committed while the backup ran; a restored network
//! catches its nodes up as after any restart.

use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use forja_consensus::BftMode;
use serde::{Deserialize, Serialize};

use crate::{
    data_dir::node_path,
    error::{Error, Result, StorageError},
    node::NodeShared,
    storage::{Store, StoreHead},
};

/// The folder of a data directory that holds its backups.
pub const BACKUPS_DIR: &str = "backups";
/// The file of a backup that describes it.
pub const MANIFEST: &str = "backup.json";

/// What `backup.json` records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupManifest {
    /// Seconds since the Unix epoch when the backup finished.
    pub created: u64,
    pub chain_id: u64,
    pub genesis_hash: B256,
    /// `qbft` or `ibft2` (how block hashes are computed).
    pub consensus: String,
    pub nodes: Vec<NodeHead>,
}

/// One node's store at its head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeHead {
    pub node: usize,
    pub number: u64,
    pub hash: B256,
    pub state_root: B256,
}

/// A finished backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    pub name: String,
    pub path: PathBuf,
    pub manifest: BackupManifest,
}

/// A backup's name: letters, digits, `-`, `_` and `.`, not starting with a
/// dot, at most 64 characters (it names a folder of the data directory,
/// never a path elsewhere).
pub fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "invalid backup name `{name}`: use 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`"
        )))
    }
}

fn mode_name(mode: BftMode) -> &'static str {
    match mode {
        BftMode::Qbft => "qbft",
        BftMode::Ibft2 => "ibft2",
    }
}

fn mode_of(name: &str) -> Option<BftMode> {
    match name {
        "qbft" => Some(BftMode::Qbft),
        "ibft2" => Some(BftMode::Ibft2),
        _ => None,
    }
}

fn io_error(path: &Path, message: impl std::fmt::Display) -> Error {
    StorageError::Write {
        path: path.to_owned(),
        message: message.to_string(),
    }
    .into()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The default name: the UTC time, as `20260101T120000Z`.
fn default_name() -> String {
    let secs = now_secs();
    let days = (secs / 86_400) as i64;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{h:02}{m:02}{s:02}Z")
}

/// Backs up every node of a running network into
/// `<data_dir>/backups/<name>/`. Written under a temporary name and renamed
/// when complete, so a backup folder is never half-written.
pub(crate) fn backup(
    data_dir: &Path,
    nodes: &[std::sync::Arc<NodeShared>],
    added: &[crate::admission::AddedNode],
    name: Option<&str>,
) -> Result<Backup> {
    let name = name.map_or_else(default_name, str::to_owned);
    check_name(&name)?;
    let backups = data_dir.join(BACKUPS_DIR);
    let path = backups.join(&name);
    if path.exists() {
        return Err(Error::InvalidRequest(format!(
            "a backup named `{name}` already exists ({})",
            path.display()
        )));
    }
    let partial = backups.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| io_error(&partial, e))?;
    let written = (|| {
        let mut heads = Vec::with_capacity(nodes.len());
        for node in nodes {
            let store = node.store.as_ref().ok_or_else(|| {
                Error::InvalidRequest("this network has no data directory to back up".to_owned())
            })?;
            let StoreHead {
                number,
                hash,
                state_root,
            } = store.backup_to(&node_path(&partial, node.index))?;
            heads.push(NodeHead {
                node: node.index,
                number,
                hash,
                state_root,
            });
        }
        let first = nodes
            .first()
            .ok_or_else(|| Error::InvalidRequest("a network without nodes".to_owned()))?;
        let manifest = BackupManifest {
            created: now_secs(),
            chain_id: first.spec.chain_id,
            genesis_hash: first.chain.read().expect("chain lock").genesis_hash(),
            consensus: mode_name(first.mode).to_owned(),
            nodes: heads,
        };
        // Nodes added while the network ran: their keys and the record.
        crate::admission::copy(data_dir, &partial, Some(added))?;
        let text = serde_json::to_string_pretty(&manifest).expect("serialisable");
        let manifest_path = partial.join(MANIFEST);
        std::fs::write(&manifest_path, text + "\n").map_err(|e| io_error(&manifest_path, e))?;
        std::fs::rename(&partial, &path).map_err(|e| io_error(&path, e))?;
        Ok(manifest)
    })();
    match written {
        Ok(manifest) => Ok(Backup {
            name,
            path,
            manifest,
        }),
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(error)
        }
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub genesis_hash: B256,
    pub nodes: Vec<NodeHead>,
    /// The manifest, when the directory is a backup.
    pub manifest: Option<BackupManifest>,
}

/// The node stores of a data directory or backup, `node-0.redb` on, in
/// order, without gaps.
fn node_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    while node_path(dir, files.len()).is_file() {
        files.push(node_path(dir, files.len()));
    }
    if files.is_empty() {
        return Err(StorageError::Incomplete {
            dir: dir.to_owned(),
            message: "it holds no node store (node-0.redb)".to_owned(),
        }
        .into());
    }
    Ok(files)
}

/// Checks a data directory or a backup without writing to it: every node
/// store opens, its head block hashes to what its index says, its state
/// matches the head's state root, all share one genesis and, in a backup,
/// each head is the one `backup.json` records. Stores of a running network
/// are locked: verify its backups instead.
pub fn verify(dir: &Path) -> Result<Verified> {
    let manifest_path = dir.join(MANIFEST);
    let manifest: Option<BackupManifest> = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => Some(
            serde_json::from_str(&text).map_err(|e| StorageError::Corrupt {
                path: manifest_path.clone(),
                message: e.to_string(),
            })?,
        ),
        Err(_) => None,
    };
    let modes: Vec<BftMode> = match manifest.as_ref().map(|m| m.consensus.as_str()) {
        Some(name) => vec![mode_of(name).ok_or_else(|| StorageError::Corrupt {
            path: manifest_path.clone(),
            message: format!("unknown consensus `{name}`"),
        })?],
        None => vec![BftMode::Qbft, BftMode::Ibft2],
    };
    let mut genesis: Option<B256> = None;
    let mut nodes = Vec::new();
    for (index, path) in node_files(dir)?.into_iter().enumerate() {
        let store = std::sync::Arc::new(Store::open_read_only(&path)?);
        // Without a manifest the consensus is not recorded: a block hashes
        // as one of the two modes.
        let mut loaded = Err(StorageError::Corrupt {
            path: path.clone(),
            message: "no consensus mode to check it with".to_owned(),
        });
        for mode in &modes {
            loaded = store.load(*mode);
            if loaded.is_ok() {
                break;
            }
        }
        let loaded = loaded?;
        let head = loaded.chain.head();
        let stored_genesis = loaded.chain.genesis_hash();
        match genesis {
            None => genesis = Some(stored_genesis),
            Some(first) if first != stored_genesis => {
                return Err(StorageError::Corrupt {
                    path,
                    message: format!(
                        "its genesis is {stored_genesis}, node-0.redb's is {first}: the stores are of different networks"
                    ),
                }
                .into());
            }
            Some(_) => {}
        }
        let found = NodeHead {
            node: index,
            number: head.number(),
            hash: head.hash,
            state_root: head.header.state_root,
        };
        if let Some(manifest) = &manifest {
            let recorded = manifest.nodes.iter().find(|n| n.node == index);
            if recorded != Some(&found) {
                return Err(StorageError::Corrupt {
                    path,
                    message: format!(
                        "its head is block {} ({}), {MANIFEST} records {recorded:?}",
                        found.number, found.hash
                    ),
                }
                .into());
            }
        }
        nodes.push(found);
    }
    if let Some(manifest) = &manifest
        && manifest.nodes.len() != nodes.len()
    {
        return Err(StorageError::Incomplete {
            dir: dir.to_owned(),
            message: format!(
                "{MANIFEST} records {} nodes, the folder holds {}",
                manifest.nodes.len(),
                nodes.len()
            ),
        }
        .into());
    }
    Ok(Verified {
        genesis_hash: genesis.expect("at least one node store"),
        nodes,
        manifest,
    })
}

/// Restores `backup` (a folder [`backup`] wrote) into `data_dir`, which
/// must hold no node store: the backup is verified first, then its stores
/// are copied in (each under a temporary name, renamed when complete).
pub fn restore(backup: &Path, data_dir: &Path) -> Result<Verified> {
    let verified = verify(backup)?;
    if verified.manifest.is_none() {
        return Err(StorageError::Incomplete {
            dir: backup.to_owned(),
            message: format!("it has no {MANIFEST}: it is not a backup"),
        }
        .into());
    }
    if node_path(data_dir, 0).exists() {
        return Err(Error::InvalidRequest(format!(
            "{} already holds node stores: restore into a new or empty data directory (or move them away first)",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| io_error(data_dir, e))?;
    for node in &verified.nodes {
        let from = node_path(backup, node.node);
        let to = node_path(data_dir, node.node);
        let partial = to.with_extension("redb.partial");
        std::fs::copy(&from, &partial).map_err(|e| io_error(&partial, e))?;
        std::fs::rename(&partial, &to).map_err(|e| io_error(&to, e))?;
    }
    crate::admission::copy(backup, data_dir, None)?;
    Ok(verified)
}
