//! Where a node's files are in a network's data directory.

use std::path::{Path, PathBuf};

/// Node `index`'s store (`node-<index>.redb`).
pub(crate) fn node_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("node-{index}.redb"))
}
