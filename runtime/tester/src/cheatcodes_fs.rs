//! Foundry's directory and metadata cheatcodes: `closeFile`, `fsMetadata`,
//! `createDir`, `removeDir` and `readDir`. Paths follow the same rules as
//! forja's other file cheatcodes: inside the project root, and never the
//! project's configuration for writing.

use std::{
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{Bytes, U256},
    sol_types::SolValue,
};

use crate::{
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The file-system part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmFs {
        struct FsMetadata { bool isDir; bool isSymlink; uint256 length; bool readOnly; uint256 modified; uint256 accessed; uint256 created; }
        struct DirEntry { string errorMessage; string path; uint64 depth; bool isDir; bool isSymlink; }
        function closeFile(string calldata path) external;
        function fsMetadata(string calldata path) external view returns (FsMetadata memory metadata);
        function createDir(string calldata path, bool recursive) external;
        function removeDir(string calldata path, bool recursive) external;
        function readDir(string calldata path) external view returns (DirEntry[] memory entries);
        function readDir(string calldata path, uint64 maxDepth) external view returns (DirEntry[] memory entries);
        function readDir(string calldata path, uint64 maxDepth, bool followLinks) external view returns (DirEntry[] memory entries);
    }
}

pub(crate) use VmFs::VmFsCalls;

/// The signature of the file-system cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmFsCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies one file-system cheatcode.
    pub(crate) fn apply_fs(&mut self, call: VmFsCalls) -> CheatResult {
        use VmFsCalls as C;
        let encoded = match call {
            C::closeFile(c) => {
                // The next `readLine` starts from the first line again.
                let path = self.project_path(&c.path)?;
                self.cheats.line_cursors.remove(&path);
                Vec::new()
            }
            C::fsMetadata(c) => metadata(&self.project_path(&c.path)?)?.abi_encode(),
            C::createDir(c) => {
                let path = self.project_write_path(&c.path)?;
                let created = if c.recursive {
                    std::fs::create_dir_all(&path)
                } else {
                    std::fs::create_dir(&path)
                };
                created.map_err(|e| format!("vm.createDir: {}: {e}", path.display()))?;
                Vec::new()
            }
            C::removeDir(c) => {
                let path = self.project_write_path(&c.path)?;
                let removed = if c.recursive {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_dir(&path)
                };
                removed.map_err(|e| format!("vm.removeDir: {}: {e}", path.display()))?;
                Vec::new()
            }
            C::readDir_0(c) => read_dir(&self.project_path(&c.path)?, 1, false).abi_encode(),
            C::readDir_1(c) => {
                read_dir(&self.project_path(&c.path)?, c.maxDepth, false).abi_encode()
            }
            C::readDir_2(c) => {
                read_dir(&self.project_path(&c.path)?, c.maxDepth, c.followLinks).abi_encode()
            }
        };
        Ok(Bytes::from(encoded))
    }
}

/// `vm.fsMetadata` of `path` (symlinks followed, as forge does); times a
/// platform does not record are 0.
fn metadata(path: &Path) -> Result<VmFs::FsMetadata, CheatError> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("vm.fsMetadata: {}: {e}", path.display()))?;
    let seconds = |time: std::io::Result<SystemTime>| {
        U256::from(
            time.ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or_default(),
        )
    };
    Ok(VmFs::FsMetadata {
        isDir: meta.is_dir(),
        isSymlink: meta.is_symlink(),
        length: U256::from(meta.len()),
        readOnly: meta.permissions().readonly(),
        modified: seconds(meta.modified()),
        accessed: seconds(meta.accessed()),
        created: seconds(meta.created()),
    })
}

/// The entries under `root` down to `max_depth`, depth first, each
/// directory's entries by file name (forge's order); an entry that cannot
/// be read is listed with its error.
fn read_dir(root: &Path, max_depth: u64, follow_links: bool) -> Vec<VmFs::DirEntry> {
    let mut entries = Vec::new();
    walk(root, 1, max_depth, follow_links, &mut entries);
    entries
}

fn walk(dir: &Path, depth: u64, max_depth: u64, follow_links: bool, out: &mut Vec<VmFs::DirEntry>) {
    if depth > max_depth {
        return;
    }
    let error_entry = |path: &Path, depth: u64, error: std::io::Error| VmFs::DirEntry {
        errorMessage: format!("IO error for operation on {}: {error}", path.display()),
        path: path.display().to_string(),
        depth,
        isDir: false,
        isSymlink: false,
    };
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) => {
            out.push(error_entry(dir, depth - 1, error));
            return;
        }
    };
    let mut children: Vec<_> = listing.filter_map(Result::ok).map(|e| e.path()).collect();
    children.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    for path in children {
        let is_symlink = path
            .symlink_metadata()
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        let meta = if follow_links {
            std::fs::metadata(&path)
        } else {
            std::fs::symlink_metadata(&path)
        };
        match meta {
            Ok(meta) => {
                let is_dir = meta.is_dir();
                out.push(VmFs::DirEntry {
                    errorMessage: String::new(),
                    path: path.display().to_string(),
                    depth,
                    isDir: is_dir,
                    isSymlink: is_symlink,
                });
                if is_dir {
                    walk(&path, depth + 1, max_depth, follow_links, out);
                }
            }
            Err(error) => out.push(error_entry(&path, depth, error)),
        }
    }
}
