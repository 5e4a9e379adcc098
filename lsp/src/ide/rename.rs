//! Rename: what may be renamed, and the edits that rename it everywhere.

use super::{FileRange, completion::KEYWORDS, completion::TYPES, navigation};
use crate::{
    index::{FileData, Index, SymbolKind, Target},
    project::Workspace,
};
use std::{fmt, ops::Range, path::PathBuf};

/// Why a name cannot be renamed, as a sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameRefused(pub String);

impl fmt::Display for RenameRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenameRefused {}

/// Ranges to replace, grouped by file in path order.
pub type FileEdits = Vec<(PathBuf, Vec<Range<usize>>)>;

/// The range of the name at `offset` and its current text, or why it
/// cannot be renamed (a sentence for the user). `Ok(None)`: nothing known there.
pub fn prepare_rename(
    index: &Index,
    workspace: Option<&Workspace>,
    data: &FileData,
    offset: usize,
) -> Result<Option<(Range<usize>, String)>, RenameRefused> {
    let Some(reference) = data.reference_at(offset) else {
        return Err(RenameRefused(
            "nothing renameable here: not a declared name".into(),
        ));
    };
    let Target::Symbol(key) = &reference.target else {
        return Err(RenameRefused("builtins cannot be renamed".into()));
    };
    if workspace.is_some_and(|w| w.is_dependency(&key.path)) {
        return Err(RenameRefused(format!(
            "`{}` is declared in a dependency ({}) and cannot be renamed",
            data.text.get(reference.range.clone()).unwrap_or(""),
            key.path.display()
        )));
    }
    let Some(sym) = index.symbol(key) else {
        return Ok(None);
    };
    if matches!(
        sym.kind,
        SymbolKind::Constructor | SymbolKind::Fallback | SymbolKind::Receive
    ) {
        return Err(RenameRefused(format!(
            "a {} has no name to rename",
            sym.kind.describe()
        )));
    }
    Ok(Some((reference.range.clone(), sym.name.clone())))
}

/// The ranges to replace with `new_name`, grouped by file in path order.
pub fn rename(
    index: &Index,
    workspace: Option<&Workspace>,
    data: &FileData,
    offset: usize,
    new_name: &str,
) -> Result<FileEdits, RenameRefused> {
    if !is_identifier(new_name) {
        return Err(RenameRefused(format!(
            "`{new_name}` is not a valid Solidity identifier"
        )));
    }
    prepare_rename(index, workspace, data, offset)?;
    let refs = navigation::references(index, data, offset, true).unwrap_or_default();
    let mut by_file: FileEdits = Vec::new();
    for FileRange { path, range } in refs {
        match by_file.last_mut() {
            Some((p, ranges)) if *p == path => ranges.push(range),
            _ => by_file.push((path, vec![range])),
        }
    }
    Ok(by_file)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !KEYWORDS.contains(&name)
        && !TYPES.contains(&name)
}
