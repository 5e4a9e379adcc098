//! Completion: import paths, members after `.`, names in scope, keywords,
//! elementary types, globals and snippets.

use super::scope::visible_symbols;
use crate::{
    index::{FileData, Index, SymbolKind},
    project::Workspace,
};
use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

/// What a completion inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Type,
    Global,
    Snippet,
    /// A declaration of this kind.
    Symbol(SymbolKind),
    /// A member that is called (a builtin or attached function).
    Method,
    /// A member that is read.
    Field,
    Folder,
    File,
}

/// One completion item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    /// Markdown.
    pub documentation: Option<String>,
    /// A snippet (LSP snippet syntax) to insert instead of the label.
    pub snippet: Option<String>,
}

impl Completion {
    fn plain(label: &str, kind: CompletionKind) -> Self {
        Self {
            label: label.to_string(),
            kind,
            detail: None,
            documentation: None,
            snippet: None,
        }
    }
}

pub(crate) const KEYWORDS: &[&str] = &[
    "pragma",
    "import",
    "contract",
    "abstract",
    "interface",
    "library",
    "function",
    "modifier",
    "event",
    "error",
    "struct",
    "enum",
    "mapping",
    "returns",
    "return",
    "if",
    "else",
    "for",
    "while",
    "do",
    "break",
    "continue",
    "emit",
    "revert",
    "require",
    "assert",
    "new",
    "delete",
    "public",
    "private",
    "internal",
    "external",
    "pure",
    "view",
    "payable",
    "constant",
    "immutable",
    "virtual",
    "override",
    "memory",
    "storage",
    "calldata",
    "transient",
    "using",
    "unchecked",
    "assembly",
    "try",
    "catch",
    "constructor",
    "fallback",
    "receive",
    "type",
    "is",
    "indexed",
    "anonymous",
    "true",
    "false",
];

pub(crate) const TYPES: &[&str] = &[
    "address", "bool", "string", "bytes", "uint256", "int256", "uint8", "uint16", "uint32",
    "uint64", "uint128", "int8", "int128", "bytes4", "bytes32",
];

const GLOBALS: &[(&str, &str)] = &[
    ("msg", "global: sender, value, data, sig"),
    (
        "block",
        "global: timestamp, number, chainid, coinbase, basefee, prevrandao",
    ),
    ("tx", "global: origin, gasprice"),
    (
        "abi",
        "global: encode, encodePacked, encodeWithSelector, encodeCall, decode",
    ),
    ("keccak256", "function (bytes memory) returns (bytes32)"),
    ("sha256", "function (bytes memory) returns (bytes32)"),
    (
        "ecrecover",
        "function (bytes32, uint8, bytes32, bytes32) returns (address)",
    ),
    ("gasleft", "function () returns (uint256)"),
    ("blockhash", "function (uint256) returns (bytes32)"),
    (
        "addmod",
        "function (uint256, uint256, uint256) returns (uint256)",
    ),
    (
        "mulmod",
        "function (uint256, uint256, uint256) returns (uint256)",
    ),
    ("this", "the current contract"),
];

const SNIPPETS: &[(&str, &str)] = &[
    (
        "function",
        "function ${1:name}(${2}) ${3:external} {\n\t$0\n}",
    ),
    ("contract", "contract ${1:Name} {\n\t$0\n}"),
    ("modifier", "modifier ${1:name}() {\n\t$0\n\t_;\n}"),
    ("event", "event ${1:Name}(${2});"),
    ("error", "error ${1:Name}(${2});"),
    ("require", "require(${1:condition}, ${2:Error}());"),
    (
        "for",
        "for (uint256 ${1:i} = 0; ${1:i} < ${2:length}; ++${1:i}) {\n\t$0\n}",
    ),
    ("test", "function test_${1:name}() public {\n\t$0\n}"),
    (
        "spdx",
        "// SPDX-License-Identifier: ${1:MIT}\npragma solidity ^${2:0.8.30};\n",
    ),
];

/// Completions at `offset` of the buffer `text` of `path`; `data` is the
/// file's latest analysis (possibly of an older text), if it has one.
pub fn completions(
    index: &Index,
    workspace: Option<&Workspace>,
    path: &Path,
    data: Option<&FileData>,
    text: &str,
    offset: usize,
) -> Vec<Completion> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    // Import paths.
    if let Some(q) = line.rfind('"').or_else(|| line.rfind('\''))
        && line.trim_start().starts_with("import")
        && line[..q].matches(['"', '\'']).count().is_multiple_of(2)
    {
        return import_path_completions(workspace, path, &line[q + 1..]);
    }
    let word_start = text[..offset]
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .map_or(0, |i| i + 1);
    let Some(data) = data else {
        return keyword_items();
    };
    if word_start > 0 && text.as_bytes()[word_start - 1] == b'.' {
        let receiver = receiver_before(text, word_start - 1);
        return member_completions(index, data, receiver, word_start - 1);
    }
    let mut items = keyword_items();
    let mut names = HashSet::new();
    // Map the position into the (possibly older) indexed text.
    let data_offset = if *data.text == *text {
        offset
    } else {
        offset.min(data.text.len())
    };
    for sym in visible_symbols(index, data, data_offset) {
        if sym.kind == SymbolKind::Constructor
            || sym.kind == SymbolKind::Fallback
            || sym.kind == SymbolKind::Receive
        {
            continue;
        }
        if !names.insert((sym.name.clone(), sym.kind as u8)) {
            continue;
        }
        items.push(Completion {
            label: sym.name.clone(),
            kind: CompletionKind::Symbol(sym.kind),
            detail: Some(sym.signature.clone()),
            documentation: sym.doc.clone(),
            snippet: None,
        });
    }
    items
}

fn keyword_items() -> Vec<Completion> {
    let mut items: Vec<Completion> = KEYWORDS
        .iter()
        .map(|k| Completion::plain(k, CompletionKind::Keyword))
        .collect();
    items.extend(
        TYPES
            .iter()
            .map(|t| Completion::plain(t, CompletionKind::Type)),
    );
    items.extend(GLOBALS.iter().map(|(g, d)| Completion {
        detail: Some(d.to_string()),
        ..Completion::plain(g, CompletionKind::Global)
    }));
    items.extend(SNIPPETS.iter().map(|(label, body)| Completion {
        detail: Some("snippet".into()),
        snippet: Some(body.to_string()),
        ..Completion::plain(label, CompletionKind::Snippet)
    }));
    items
}

/// The receiver expression text before a `.` ending at `dot`.
fn receiver_before(text: &str, dot: usize) -> &str {
    let bytes = text.as_bytes();
    let mut i = dot;
    let mut depth = 0i32;
    while i > 0 {
        let b = bytes[i - 1];
        match b {
            b')' | b']' => depth += 1,
            b'(' | b'[' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            b'.' => {}
            _ if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' => {}
            _ => break,
        }
        i -= 1;
    }
    &text[i..dot]
}

fn member_completions(
    index: &Index,
    data: &FileData,
    receiver: &str,
    dot: usize,
) -> Vec<Completion> {
    if receiver.is_empty() {
        return Vec::new();
    }
    // An expression with the same text that solar typed, nearest to the cursor.
    let typed = data
        .typed_exprs
        .iter()
        .filter(|e| data.text.get(e.range.clone()) == Some(receiver))
        .min_by_key(|e| (e.range.end as isize - dot as isize).unsigned_abs());
    let list = typed.map(|e| e.members).or_else(|| {
        // Fall back to the declaration named like the receiver.
        let name = receiver.rsplit('.').next().unwrap_or(receiver);
        visible_symbols(index, data, dot.min(data.text.len()))
            .into_iter()
            .filter(|s| s.name == name)
            .max_by_key(|s| s.name_range.start)
            .and_then(|s| s.members)
    });
    let Some(list) = list.and_then(|i| data.member_lists.get(i as usize)) else {
        return Vec::new();
    };
    list.iter()
        .map(|m| Completion {
            label: m.name.clone(),
            kind: match m.kind {
                Some(k) => CompletionKind::Symbol(k),
                None if m.callable => CompletionKind::Method,
                None => CompletionKind::Field,
            },
            detail: Some(m.detail.clone()),
            documentation: None,
            snippet: None,
        })
        .collect()
}

fn import_path_completions(
    workspace: Option<&Workspace>,
    current: &Path,
    typed: &str,
) -> Vec<Completion> {
    let mut items = Vec::new();
    let (dir_part, _) = typed.rsplit_once('/').unwrap_or(("", typed));
    let mut dirs: Vec<PathBuf> = Vec::new();
    if typed.starts_with('.') {
        if let Some(parent) = current.parent() {
            dirs.push(parent.join(dir_part));
        }
    } else if let Some(workspace) = workspace {
        if dir_part.is_empty() {
            for r in &workspace.remappings {
                if let Some((lhs, _)) = r.split_once('=') {
                    let prefix = lhs.rsplit(':').next().unwrap_or(lhs);
                    items.push(Completion::plain(prefix, CompletionKind::Folder));
                }
            }
        }
        for r in &workspace.remappings {
            if let Some((lhs, target)) = r.split_once('=') {
                let prefix = lhs.rsplit(':').next().unwrap_or(lhs);
                if let Some(rest) = format!("{dir_part}/").strip_prefix(prefix) {
                    dirs.push(Path::new(target).join(rest));
                }
            }
        }
        dirs.push(workspace.root.join(dir_part));
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let is_dir = e.path().is_dir();
            if name.starts_with('.') || (!is_dir && !name.ends_with(".sol")) {
                continue;
            }
            let kind = if is_dir {
                CompletionKind::Folder
            } else {
                CompletionKind::File
            };
            items.push(Completion::plain(&name, kind));
        }
    }
    items.sort_by(|a, b| a.label.cmp(&b.label));
    items.dedup_by(|a, b| a.label == b.label);
    items
}
