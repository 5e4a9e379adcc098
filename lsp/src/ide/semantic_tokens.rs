//! Semantic tokens: every resolved name with the kind of what it names.

use crate::index::{FileData, Index, SymbolKind, Target};
use std::ops::Range;

/// One highlighted name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub range: Range<usize>,
    pub kind: SymbolKind,
    /// The name is the declaration itself.
    pub is_declaration: bool,
}

/// The file's names that resolve to declarations, in order, without overlaps.
pub fn semantic_tokens(index: &Index, data: &FileData) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut last_end = 0usize;
    for r in &data.references {
        if r.range.start < last_end {
            continue;
        }
        let Target::Symbol(key) = &r.target else {
            continue;
        };
        let Some(sym) = index.symbol(key) else {
            continue;
        };
        tokens.push(Token {
            range: r.range.clone(),
            kind: sym.kind,
            is_declaration: *key.path == *data.path && key.offset as usize == r.range.start,
        });
        last_end = r.range.end;
    }
    tokens
}
