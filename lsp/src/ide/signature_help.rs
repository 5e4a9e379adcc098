//! Signature help: the callable whose argument list holds the cursor, and
//! which parameter the cursor is on.

use super::scope::visible_symbols;
use crate::index::{FileData, Index, Symbol, SymbolKind, Target};

/// One candidate signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub label: String,
    pub doc: Option<String>,
    pub parameters: Vec<String>,
}

/// The candidates and the active parameter (commas before the cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHelp {
    pub signatures: Vec<Signature>,
    pub active_parameter: u32,
}

/// Signature help at `offset` of the buffer `text`; `data` is the file's
/// latest analysis (possibly of an older text).
pub fn signature_help(
    index: &Index,
    data: &FileData,
    text: &str,
    offset: usize,
) -> Option<SignatureHelp> {
    // Find the unmatched `(` before the cursor and count commas at depth 0.
    let bytes = text.as_bytes();
    let (mut depth, mut commas, mut i) = (0i32, 0u32, offset.min(text.len()));
    let open = loop {
        if i == 0 {
            return None;
        }
        i -= 1;
        match bytes[i] {
            b')' | b']' | b'}' => depth += 1,
            b'(' | b'[' | b'{' if depth > 0 => depth -= 1,
            b'(' => break i,
            b',' if depth == 0 => commas += 1,
            b';' | b'{' | b'[' if depth == 0 => return None,
            _ => {}
        }
    };
    let name_end = text[..open].trim_end().len();
    let name_start = text[..name_end]
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .map_or(0, |i| i + 1);
    let name = &text[name_start..name_end];
    if name.is_empty() {
        return None;
    }
    let in_data = name_start.min(data.text.len());
    let by_ref = data.reference_at(in_data).and_then(|r| match &r.target {
        Target::Symbol(k) if data.text.get(r.range.clone()) == Some(name) => index.symbol(k),
        _ => None,
    });
    let candidates: Vec<&Symbol> = match by_ref {
        Some(s) => vec![s],
        None => {
            let mut v: Vec<&Symbol> = visible_symbols(index, data, in_data)
                .into_iter()
                .filter(|s| {
                    s.name == name
                        && (s.kind.is_function_like()
                            || matches!(
                                s.kind,
                                SymbolKind::Event | SymbolKind::Error | SymbolKind::Struct
                            ))
                })
                .collect();
            if v.is_empty() {
                v = index
                    .files
                    .values()
                    .flat_map(|f| f.symbols.iter())
                    .filter(|s| s.name == name && s.kind.is_function_like())
                    .take(8)
                    .collect();
            }
            v
        }
    };
    if candidates.is_empty() {
        return None;
    }
    Some(SignatureHelp {
        signatures: candidates
            .iter()
            .map(|s| Signature {
                label: s.signature.clone(),
                doc: s.doc.clone(),
                parameters: s.param_labels.clone(),
            })
            .collect(),
        active_parameter: commas,
    })
}
