//! The document outline and workspace symbol search.

use super::FileRange;
use crate::index::{FileData, Index, Symbol, SymbolKind};
use std::{ops::Range, sync::Arc};

/// One outline entry with its children (contract members, struct fields, enum variants).
#[derive(Debug, Clone)]
pub struct OutlineItem {
    pub name: String,
    pub detail: String,
    pub kind: SymbolKind,
    /// The whole declaration.
    pub range: Range<usize>,
    /// The name.
    pub name_range: Range<usize>,
    pub children: Vec<OutlineItem>,
}

/// A symbol found by a workspace search.
#[derive(Debug, Clone)]
pub struct FoundSymbol {
    pub name: String,
    pub kind: SymbolKind,
    pub container_name: Option<String>,
    pub location: FileRange,
}

fn is_outline_item(s: &Symbol) -> bool {
    !matches!(
        s.kind,
        SymbolKind::Local | SymbolKind::Parameter | SymbolKind::ReturnParameter
    )
}

/// The file's top-level declarations with their members.
pub fn outline(data: &FileData) -> Vec<OutlineItem> {
    data.symbols
        .iter()
        .filter(|s| s.container.is_none() && is_outline_item(s) && s.kind != SymbolKind::Field)
        .map(|s| outline_node(data, s))
        .collect()
}

fn outline_node(data: &FileData, s: &Symbol) -> OutlineItem {
    let children = data
        .symbols
        .iter()
        .filter(|c| is_outline_item(c) && c.key != s.key)
        .filter(|c| match s.kind {
            SymbolKind::Struct => {
                c.kind == SymbolKind::Field
                    && c.full_range.start >= s.full_range.start
                    && c.full_range.end <= s.full_range.end
            }
            _ => c.container.as_ref() == Some(&s.key) && c.kind != SymbolKind::Field,
        })
        .map(|c| outline_node(data, c))
        .collect();
    OutlineItem {
        name: s.name.clone(),
        detail: s.signature.clone(),
        kind: s.kind,
        range: s.full_range.start..s.full_range.end.max(s.name_range.end),
        name_range: s.name_range.clone(),
        children,
    }
}

/// Declarations whose name contains `query` (case-insensitive), at most 500.
pub fn workspace_symbols(index: &Index, query: &str) -> Vec<FoundSymbol> {
    let query = query.to_lowercase();
    let mut out = Vec::new();
    let mut files: Vec<&Arc<FileData>> = index.files.values().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for f in files {
        for s in &f.symbols {
            if !is_outline_item(s) || !s.name.to_lowercase().contains(&query) {
                continue;
            }
            out.push(FoundSymbol {
                name: s.name.clone(),
                kind: s.kind,
                container_name: s.container_name.clone(),
                location: FileRange {
                    path: f.path.clone(),
                    range: s.name_range.clone(),
                },
            });
            if out.len() >= 500 {
                return out;
            }
        }
    }
    out
}
