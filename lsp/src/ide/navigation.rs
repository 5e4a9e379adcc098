//! Go to definition, type definition, implementation, and references.

use super::FileRange;
use crate::index::{FileData, Index, Symbol, SymbolKey, SymbolKind, Target};

fn symbol_range(index: &Index, sym: &Symbol) -> Option<FileRange> {
    index.files.get(&*sym.key.path)?;
    Some(FileRange {
        path: sym.key.path.to_path_buf(),
        range: sym.name_range.clone(),
    })
}

/// The declared symbol named at `offset`, if any.
pub fn symbol_key_at(data: &FileData, offset: usize) -> Option<SymbolKey> {
    match &data.reference_at(offset)?.target {
        Target::Symbol(key) => Some(key.clone()),
        Target::Builtin { .. } => None,
    }
}

/// Where the name at `offset` is declared; an import path leads to its file
/// (an empty range at its start).
pub fn definition(index: &Index, data: &FileData, offset: usize) -> Option<FileRange> {
    if let Some(import) = data.import_at(offset) {
        return Some(FileRange {
            path: import.resolved.clone(),
            range: 0..0,
        });
    }
    let key = symbol_key_at(data, offset)?;
    symbol_range(index, index.symbol(&key)?)
}

/// Where the type of the name at `offset` is declared (the name itself for a type).
pub fn type_definition(index: &Index, data: &FileData, offset: usize) -> Option<FileRange> {
    let key = symbol_key_at(data, offset)?;
    let sym = index.symbol(&key)?;
    let is_type = sym.kind.is_contract_like()
        || matches!(
            sym.kind,
            SymbolKind::Struct | SymbolKind::Enum | SymbolKind::Udvt
        );
    let target = if is_type {
        sym
    } else {
        index.symbol(sym.type_target.as_ref()?)?
    };
    symbol_range(index, target)
}

/// Overrides and implementations of the function or contract at `offset`.
pub fn implementations(index: &Index, data: &FileData, offset: usize) -> Option<Vec<FileRange>> {
    let key = symbol_key_at(data, offset)?;
    Some(
        index
            .implementations(&key)
            .into_iter()
            .filter_map(|s| symbol_range(index, s))
            .collect(),
    )
}

/// Every occurrence of the symbol at `offset`, grouped by file in path order.
pub fn references(
    index: &Index,
    data: &FileData,
    offset: usize,
    include_declaration: bool,
) -> Option<Vec<FileRange>> {
    let key = symbol_key_at(data, offset)?;
    let mut out = Vec::new();
    for (path, range) in index.references(&key) {
        let is_decl = *path == *key.path && range.start as u32 == key.offset;
        if is_decl && !include_declaration {
            continue;
        }
        if index.files.contains_key(&path) {
            out.push(FileRange { path, range });
        }
    }
    Some(out)
}
