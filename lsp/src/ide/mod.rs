//! The editor features as plain functions over the analysis results: an
//! [`Index`](crate::index::Index) snapshot, a file's data, its text and
//! byte offsets in, plain values with byte ranges out. Nothing here knows
//! the transport or LSP's types; `server` converts both ways. Tests can
//! call these functions without a client.

pub mod code_actions;
pub mod completion;
pub mod hover;
pub mod inlay_hints;
pub mod lenses;
pub mod navigation;
pub mod rename;
pub mod scope;
pub mod semantic_tokens;
pub mod signature_help;
pub mod symbols;

use std::{ops::Range, path::PathBuf};

/// A byte range in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRange {
    pub path: PathBuf,
    pub range: Range<usize>,
}
