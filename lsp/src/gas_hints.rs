//! Gas inlay hints: solc's gas estimate for each function and constructor,
//! read from the artifacts of the last build (the check on save asks solc
//! for `evm.gasEstimates`). No artifact, or no estimate that matches a
//! declaration unambiguously: no hint, never a wrong one.

use std::{
    collections::HashMap,
    ops::Range,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use forja_compiler::ArtifactFile;
use serde_json::Value;

use crate::index::{FileData, Symbol, SymbolKind};

/// A hint: where (byte offset in the file) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasHint {
    pub offset: usize,
    pub label: String,
    pub tooltip: String,
}

/// Artifacts' gas estimates, re-read only when an artifact file changes.
#[derive(Default)]
pub struct GasEstimates {
    by_artifact: HashMap<PathBuf, (SystemTime, Option<Arc<Value>>)>,
}

impl GasEstimates {
    /// Hints for the functions and constructors of `data` whose name lies in `range`.
    pub fn hints(&mut self, data: &FileData, range: Range<usize>) -> Vec<GasHint> {
        let Ok(project) = forja_compiler::Project::discover(&data.path) else {
            return Vec::new();
        };
        let Some(file_name) = data.path.file_name() else {
            return Vec::new();
        };
        let out = project.out_dir().join(file_name);
        let mut hints = Vec::new();
        for symbol in &data.symbols {
            if !matches!(symbol.kind, SymbolKind::Function | SymbolKind::Constructor)
                || symbol.name_range.start < range.start
                || symbol.name_range.start > range.end
            {
                continue;
            }
            let Some(contract) = &symbol.container_name else {
                continue;
            };
            let artifact = out.join(format!("{contract}.json"));
            let Some(estimates) = self.load(&artifact, &project.root, &data.path) else {
                continue;
            };
            let Some(cost) = estimate_for(&estimates, symbol) else {
                continue;
            };
            let Some(offset) = header_end(&data.text, symbol) else {
                continue;
            };
            let label = match (symbol.kind, cost.parse::<u64>()) {
                (SymbolKind::Constructor, Ok(gas)) => format!("deploy ~{} gas", thousands(gas)),
                (SymbolKind::Constructor, Err(_)) => "deploy: unbounded gas".to_string(),
                (_, Ok(gas)) => format!("~{} gas", thousands(gas)),
                (_, Err(_)) => "unbounded gas".to_string(),
            };
            hints.push(GasHint {
                offset,
                label,
                tooltip: format!(
                    "solc's gas estimate from the last build ({}); \"unbounded\" is solc's \"infinite\": the cost depends on the input or state",
                    artifact.strip_prefix(&project.root).unwrap_or(&artifact).display()
                ),
            });
        }
        hints
    }

    /// The `gasEstimates` of an artifact built from `source`.
    fn load(&mut self, artifact: &Path, root: &Path, source: &Path) -> Option<Arc<Value>> {
        let modified = std::fs::metadata(artifact)
            .and_then(|m| m.modified())
            .ok()?;
        if let Some((seen, estimates)) = self.by_artifact.get(artifact)
            && *seen == modified
        {
            return estimates.clone();
        }
        let estimates = std::fs::read(artifact)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<ArtifactFile>(&bytes).ok())
            .filter(|file| {
                // Two files of one name: the artifact must come from this one.
                file.source_path
                    .as_deref()
                    .is_some_and(|path| same_file(&root.join(path), source))
            })
            .and_then(|file| file.gas_estimates)
            .filter(|estimates| !estimates.is_null())
            .map(Arc::new);
        self.by_artifact
            .insert(artifact.to_path_buf(), (modified, estimates.clone()));
        estimates
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// The estimate solc gave for `symbol`, as solc wrote it (a number or "infinite").
fn estimate_for(estimates: &Value, symbol: &Symbol) -> Option<String> {
    if symbol.kind == SymbolKind::Constructor {
        return estimates["creation"]["totalCost"]
            .as_str()
            .map(str::to_string);
    }
    let declared: Vec<Option<String>> = symbol
        .param_labels
        .iter()
        .map(|label| elementary_type(label))
        .collect();
    let mut candidates = Vec::new();
    for table in ["external", "internal"] {
        let Some(entries) = estimates[table].as_object() else {
            continue;
        };
        for (signature, cost) in entries {
            let Some((name, types)) = split_signature(signature) else {
                continue;
            };
            if name == symbol.name && types.len() == declared.len() {
                candidates.push((types, cost));
            }
        }
    }
    let chosen = if candidates.len() == 1 {
        candidates.pop()
    } else {
        // Overloads of one arity: the declared elementary types must agree.
        let mut matching = candidates.into_iter().filter(|(types, _)| {
            types
                .iter()
                .zip(&declared)
                .all(|(solc, ours)| ours.as_deref().is_some_and(|ours| ours == solc))
        });
        let first = matching.next();
        first.filter(|_| matching.next().is_none())
    };
    chosen.and_then(|(_, cost)| cost.as_str().map(str::to_string))
}

/// `name(t1,t2)` → (`name`, [`t1`, `t2`]), splitting only top-level commas.
fn split_signature(signature: &str) -> Option<(&str, Vec<String>)> {
    let open = signature.find('(')?;
    let inner = signature.get(open + 1..signature.len().checked_sub(1)?)?;
    let mut types = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                types.push(inner[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner.trim().is_empty() {
        types.push(inner[start..].trim().to_string());
    }
    Some((&signature[..open], types))
}

/// The canonical type of a parameter declaration when it is elementary
/// (`uint amount` → `uint256`); `None` for user-defined types.
fn elementary_type(label: &str) -> Option<String> {
    let ty = label.split_whitespace().next()?;
    let (base, array) = match ty.find('[') {
        Some(i) => (&ty[..i], &ty[i..]),
        None => (ty, ""),
    };
    let base = match base {
        "uint" => "uint256",
        "int" => "int256",
        "byte" => "bytes1",
        other => other,
    };
    let elementary = base == "address"
        || base == "bool"
        || base == "string"
        || base == "bytes"
        || ["uint", "int", "bytes"].iter().any(|prefix| {
            base.strip_prefix(prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    elementary.then(|| format!("{base}{array}"))
}

/// Where the hint goes: right before the body's `{` (or the `;` of a
/// declaration without a body).
fn header_end(text: &str, symbol: &Symbol) -> Option<usize> {
    let header = text.get(symbol.name_range.end..symbol.full_range.end)?;
    let at = header.find(['{', ';'])?;
    // Before the whitespace that precedes the brace.
    let trimmed = header[..at].trim_end().len();
    Some(symbol.name_range.end + trimmed)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_split_on_top_level_commas() {
        let (name, types) = split_signature("f((uint256,address)[],bytes32)").unwrap();
        assert_eq!(name, "f");
        assert_eq!(types, ["(uint256,address)[]", "bytes32"]);
        assert_eq!(split_signature("g()").unwrap().1, Vec::<String>::new());
    }

    #[test]
    fn declared_types_are_canonicalised_and_user_types_are_not_guessed() {
        assert_eq!(elementary_type("uint amount").as_deref(), Some("uint256"));
        assert_eq!(
            elementary_type("bytes32[] calldata ids").as_deref(),
            Some("bytes32[]")
        );
        assert_eq!(elementary_type("address"), Some("address".into()));
        assert_eq!(elementary_type("Position memory p"), None);
        assert_eq!(elementary_type("IERC20 token"), None);
    }

    #[test]
    fn figures_get_thousands_separators() {
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(21_000), "21,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
