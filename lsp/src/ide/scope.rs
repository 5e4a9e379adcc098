//! What a name at an offset can see: its scopes, its file, the files it
//! imports (top level), and the inherited members of its contract.

use crate::index::{FileData, Index, Symbol, SymbolKind};
use std::{collections::HashSet, path::PathBuf};

/// Symbols visible at `offset` in `data`.
pub fn visible_symbols<'a>(index: &'a Index, data: &'a FileData, offset: usize) -> Vec<&'a Symbol> {
    let mut out: Vec<&Symbol> = data
        .symbols
        .iter()
        .filter(|s| match s.kind {
            SymbolKind::Local | SymbolKind::Parameter | SymbolKind::ReturnParameter => {
                s.scope.start <= offset && offset <= s.scope.end && s.name_range.start <= offset
            }
            _ => true,
        })
        .collect();
    let mut seen = HashSet::new();
    let mut stack: Vec<&PathBuf> = index
        .imports
        .get(&data.path)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    while let Some(p) = stack.pop() {
        if !seen.insert(p) || seen.len() > 256 {
            continue;
        }
        if let Some(f) = index.files.get(p) {
            out.extend(f.symbols.iter().filter(|s| {
                s.container.is_none()
                    && s.kind != SymbolKind::Local
                    && s.kind != SymbolKind::Parameter
                    && s.kind != SymbolKind::ReturnParameter
            }));
        }
        if let Some(more) = index.imports.get(p) {
            stack.extend(more.iter());
        }
    }
    // Inherited members of the enclosing contract.
    if let Some(contract) = data.symbols.iter().rfind(|s| {
        s.kind.is_contract_like() && s.full_range.start <= offset && offset <= s.full_range.end
    }) {
        let mut bases = contract.supers.clone();
        let mut visited = HashSet::new();
        while let Some(base) = bases.pop() {
            if !visited.insert(base.clone()) {
                continue;
            }
            if let Some(f) = index.files.get(&*base.path) {
                out.extend(
                    f.symbols
                        .iter()
                        .filter(|s| s.container.as_ref() == Some(&base)),
                );
                if let Some(b) = f.symbol_at_key(base.offset) {
                    bases.extend(b.supers.iter().cloned());
                }
            }
        }
    }
    out
}
