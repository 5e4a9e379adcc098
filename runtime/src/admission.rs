//! Nodes added to a running network with a data directory
//! ([`crate::Network::add_node`]): each one's key file (Besu's `key`
//! format) and the record that makes the next start with the same data
//! directory include them.
//!
//! `added-nodes.json` lists them in the order they joined, after the
//! nodes of the network definition: `{"nodes": [{"index": 4, "keyFile":
//! "node-4.key"}]}`. A node's store is `node-<index>.redb`, as for the
//! defined nodes. The record is rewritten whole (a temporary file, then a
//! rename) after the node's key and store exist, so it never names a node
//! whose files are missing.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error, Result, StorageError};

/// The record of added nodes in a data directory.
pub(crate) const RECORD: &str = "added-nodes.json";

/// One added node as the record lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AddedNode {
    /// The node's index in the network (its store is `node-<index>.redb`).
    pub index: usize,
    /// Its key file, relative to the data directory.
    pub key_file: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    nodes: Vec<AddedNode>,
}

/// The key file of the node at `index`.
pub(crate) fn key_file_name(index: usize) -> String {
    format!("node-{index}.key")
}

/// A record or key file that cannot be used: `<path>: <why>`.
fn corrupt(path: &Path, message: impl std::fmt::Display) -> Error {
    ConfigError::Parse {
        path: path.to_owned(),
        message: message.to_string(),
    }
    .into()
}

fn write_error(path: &Path, message: impl std::fmt::Display) -> Error {
    StorageError::Write {
        path: path.to_owned(),
        message: message.to_string(),
    }
    .into()
}

/// The nodes `dir` records as added, with their keys, checked: indexes
/// follow the `defined` nodes one by one, and each key file holds a key.
/// None when there is no record.
pub(crate) fn read(dir: &Path, defined: usize) -> Result<Vec<(AddedNode, PrivateKeySigner)>> {
    let path = dir.join(RECORD);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(corrupt(&path, format!("cannot read it: {error}"))),
    };
    let record: Record = serde_json::from_str(&text).map_err(|e| corrupt(&path, e))?;
    let mut nodes = Vec::with_capacity(record.nodes.len());
    for (position, node) in record.nodes.into_iter().enumerate() {
        let expected = defined + position;
        if node.index != expected {
            return Err(corrupt(
                &path,
                format!(
                    "entry {position} is node {}, expected node {expected} (the network defines {defined} nodes, and added ones follow in order)",
                    node.index
                ),
            ));
        }
        if node.key_file != key_file_name(node.index) {
            return Err(corrupt(
                &path,
                format!(
                    "node {}'s key file is `{}`, expected `{}`",
                    node.index,
                    node.key_file,
                    key_file_name(node.index)
                ),
            ));
        }
        let key = read_key(&dir.join(&node.key_file))?;
        nodes.push((node, key));
    }
    Ok(nodes)
}

/// The record of `dir` as written, unchecked (empty without one).
fn entries(dir: &Path) -> Result<Vec<AddedNode>> {
    let path = dir.join(RECORD);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(serde_json::from_str::<Record>(&text)
            .map_err(|e| corrupt(&path, e))?
            .nodes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(corrupt(&path, format!("cannot read it: {error}"))),
    }
}

/// Copies the record and the key files of `added` (the record `from`
/// holds, when `None`) from one data directory or backup to another.
pub(crate) fn copy(from: &Path, to: &Path, added: Option<&[AddedNode]>) -> Result<()> {
    let added = match added {
        Some(added) => added.to_vec(),
        None => entries(from)?,
    };
    if added.is_empty() {
        return Ok(());
    }
    for node in &added {
        let key = read_key(&from.join(&node.key_file))?;
        write_key(to, node.index, &key)?;
    }
    write(to, &added)
}

/// Reads a Besu `key` file: the private key in hex, `0x` optional.
fn read_key(path: &Path) -> Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| corrupt(path, format!("cannot read the node key: {e}")))?;
    let hex = text.trim();
    let bytes = alloy::hex::decode(hex.strip_prefix("0x").unwrap_or(hex))
        .map_err(|e| corrupt(path, format!("the node key is not hex: {e}")))?;
    if bytes.len() != 32 {
        return Err(corrupt(
            path,
            format!("the node key is {} bytes, expected 32", bytes.len()),
        ));
    }
    PrivateKeySigner::from_slice(&bytes)
        .map_err(|e| corrupt(path, format!("not a secp256k1 private key: {e}")))
}

/// Writes the key of node `index` into `dir`, readable by its owner only;
/// never over an existing file.
pub(crate) fn write_key(dir: &Path, index: usize, signer: &PrivateKeySigner) -> Result<PathBuf> {
    let path = dir.join(key_file_name(index));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| {
        if path.exists() {
            write_error(
                &path,
                "a key file for this node index exists but no record names it (left by an interrupted add-node?); move it away to add a node",
            )
        } else {
            write_error(&path, e)
        }
    })?;
    file.write_all(format!("{}", signer.to_bytes()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| write_error(&path, e))?;
    Ok(path)
}

/// Records `added` as the data directory's added nodes (all of them).
pub(crate) fn write(dir: &Path, added: &[AddedNode]) -> Result<()> {
    let path = dir.join(RECORD);
    let temporary = dir.join(format!("{RECORD}.tmp"));
    let record = Record {
        nodes: added.to_vec(),
    };
    let text = serde_json::to_string_pretty(&record).expect("the record serialises");
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| write_error(&path, e))?;
    // The rename is durable once the directory is.
    if let Ok(directory) = std::fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_corrupt_one_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path(), 4).unwrap().is_empty());
        let signer = PrivateKeySigner::random();
        write_key(dir.path(), 4, &signer).unwrap();
        let added = AddedNode {
            index: 4,
            key_file: key_file_name(4),
        };
        write(dir.path(), std::slice::from_ref(&added)).unwrap();
        let read_back = read(dir.path(), 4).unwrap();
        assert_eq!(read_back.len(), 1);
        assert_eq!(read_back[0].0, added);
        assert_eq!(read_back[0].1.address(), signer.address());
        // A key is never written over.
        let again = write_key(dir.path(), 4, &PrivateKeySigner::random()).unwrap_err();
        assert!(again.to_string().contains("node-4.key"), "{again}");

        // Indexes must follow the defined nodes.
        let error = read(dir.path(), 3).unwrap_err().to_string();
        assert!(
            error.contains(RECORD) && error.contains("expected node 3"),
            "{error}"
        );
        std::fs::write(dir.path().join(RECORD), "{\"nodes\": [").unwrap();
        let error = read(dir.path(), 4).unwrap_err().to_string();
        assert!(error.contains(RECORD) && error.contains("EOF"), "{error}");
        std::fs::write(
            dir.path().join(RECORD),
            r#"{"nodes":[{"index":4,"keyFile":"node-4.key"}]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("node-4.key"), "0x1234").unwrap();
        let error = read(dir.path(), 4).unwrap_err().to_string();
        assert!(
            error.contains("node-4.key") && error.contains("2 bytes"),
            "{error}"
        );
    }
}
