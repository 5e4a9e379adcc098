//! Quick fixes: the SPDX line, `override` on a function that shadows a base
//! function, `virtual` on that base, and a data location where one is missing.

use crate::{
    index::{FileData, Index, Symbol, SymbolKind},
    project::Workspace,
};
use std::{ops::Range, path::PathBuf};

/// A fix that inserts text at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    /// The file to edit (a base contract's file for `virtual`).
    pub path: PathBuf,
    /// Byte offset in that file's text.
    pub offset: usize,
    pub insert: String,
    /// Index of the diagnostic (in the list given) this fixes.
    pub fixes_diagnostic: Option<usize>,
}

/// Fixes at `offset` of the buffer `text` of `path`. `data` is the file's
/// latest analysis; `diagnostics` are the editor's (byte range, message).
pub fn code_actions(
    index: &Index,
    workspace: Option<&Workspace>,
    path: &std::path::Path,
    text: &str,
    offset: usize,
    diagnostics: &[(Range<usize>, String)],
) -> Vec<Fix> {
    let mut fixes = Vec::new();
    let fix = |title: String, path: &std::path::Path, offset: usize, insert: &str| Fix {
        title,
        path: path.to_path_buf(),
        offset,
        insert: insert.to_string(),
        fixes_diagnostic: None,
    };
    if !text.contains("SPDX-License-Identifier") {
        fixes.push(fix(
            "Add SPDX license identifier".into(),
            path,
            0,
            "// SPDX-License-Identifier: UNLICENSED\n",
        ));
    }
    if let Some(data) = index.files.get(path)
        && *data.text == *text
    {
        // Functions at the cursor that shadow a base function without `override`.
        for sym in data.symbols.iter().filter(|s| {
            s.kind == SymbolKind::Function
                && s.full_range.start <= offset
                && offset <= s.full_range.end
                && !s.is_override
        }) {
            let Some(contract) = sym.container.as_ref().and_then(|c| index.symbol(c)) else {
                continue;
            };
            let base_fns = base_functions(index, contract, sym);
            if base_fns.is_empty() {
                continue;
            }
            if let Some(at) = override_insert_offset(&data.text, sym) {
                fixes.push(fix(
                    format!("Add `override` to `{}`", sym.name),
                    path,
                    at,
                    " override",
                ));
            }
            for base in base_fns.iter().filter(|b| !b.is_virtual) {
                let Some(base_file) = index.files.get(&*base.key.path) else {
                    continue;
                };
                if workspace.is_some_and(|w| w.is_dependency(&base_file.path)) {
                    continue;
                }
                if let Some(at) = override_insert_offset(&base_file.text, base) {
                    fixes.push(fix(
                        format!("Mark base `{}` as `virtual`", base.name),
                        &base_file.path,
                        at,
                        " virtual",
                    ));
                }
            }
        }
    }
    // Data location missing on a reference-type variable.
    for (i, (range, message)) in diagnostics.iter().enumerate() {
        if !message.contains("data location") {
            continue;
        }
        let Some(decl) = text.get(range.clone()) else {
            continue;
        };
        // Insert before the variable name: after the last whitespace-separated type token.
        let Some(space) = decl.trim_end().rfind(char::is_whitespace) else {
            continue;
        };
        for location in ["memory", "calldata", "storage"] {
            fixes.push(Fix {
                fixes_diagnostic: Some(i),
                ..fix(
                    format!("Add data location `{location}`"),
                    path,
                    range.start + space,
                    &format!(" {location}"),
                )
            });
        }
    }
    fixes
}

/// The functions of `contract`'s direct bases that `sym` shadows.
fn base_functions<'a>(index: &'a Index, contract: &'a Symbol, sym: &Symbol) -> Vec<&'a Symbol> {
    contract
        .supers
        .iter()
        .filter_map(|b| index.files.get(&*b.path).map(|f| (b, f)))
        .flat_map(|(b, f): (_, &'a std::sync::Arc<FileData>)| {
            f.symbols
                .iter()
                .filter(move |s| s.container.as_ref() == Some(b))
        })
        .filter(|s| {
            s.name == sym.name
                && s.params.len() == sym.params.len()
                && s.kind == SymbolKind::Function
        })
        .collect()
}

/// Where to insert ` override` in a function declaration header.
fn override_insert_offset(text: &str, sym: &Symbol) -> Option<usize> {
    let decl = text.get(sym.name_range.end..sym.full_range.end)?;
    let mut depth = 0i32;
    let mut seen_params = false;
    for (i, ch) in decl.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    seen_params = true;
                }
            }
            '{' | ';' if depth == 0 && seen_params => {
                let head = &decl[..i];
                let at = head.find(" returns").unwrap_or(head.trim_end().len());
                return Some(sym.name_range.end + at);
            }
            _ => {}
        }
    }
    None
}
