//! Source discovery and the import graph.
//!
//! Files are named by their *source unit name*, the name solc knows them by:
//! the path relative to the project root (`src/Counter.sol`), or an absolute
//! path for files outside it (forja-std's materialised copy). Imports are
//! resolved to unit names exactly as solc does (relative to the importing
//! unit, else through the longest matching remapping, else as written), so
//! the sources forja hands solc are the ones it will ask for.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use crate::diagnostics::Diagnostic;
use crate::project::Remapping;

/// One Solidity file read from disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub unit_name: String,
    pub path: PathBuf,
    pub content: String,
    /// The `pragma solidity` requirement, as written.
    pub pragma: Option<String>,
    /// Resolved imports (unit names) with the line each import is on.
    pub imports: Vec<(String, usize)>,
}

/// A source file that could not be read (or is not UTF-8).
#[derive(Debug, thiserror::Error)]
#[error("reading {}: {source}", path.display())]
pub struct SourceReadError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Every file a build needs, keyed by unit name.
#[derive(Debug, Default, Clone)]
pub struct SourceGraph {
    pub files: BTreeMap<String, SourceFile>,
    /// The files found in the project's own directories (not only imported).
    pub roots: BTreeSet<String>,
}

impl SourceGraph {
    /// Reads the `.sol` files under `dirs` and, transitively, all they import.
    /// Imports that cannot be found are returned as error diagnostics.
    pub fn load(
        root: &Path,
        dirs: &[PathBuf],
        remappings: &[Remapping],
    ) -> Result<(Self, Vec<Diagnostic>), SourceReadError> {
        let mut graph = SourceGraph::default();
        let mut problems = vec![];
        let mut queue = VecDeque::new();
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(dir)
                .follow_links(true)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "sol")
                })
                .map(|e| e.into_path())
                .collect();
            found.sort();
            for path in found {
                let unit = unit_name_of(root, &path);
                graph.roots.insert(unit.clone());
                queue.push_back(unit);
            }
        }
        while let Some(unit) = queue.pop_front() {
            if graph.files.contains_key(&unit) {
                continue;
            }
            let path = path_of(root, &unit);
            let content = std::fs::read_to_string(&path).map_err(|source| SourceReadError {
                path: path.clone(),
                source,
            })?;
            let scan = scan(&content);
            let mut imports = vec![];
            for (import, offset) in scan.imports {
                let resolved = resolve_import(&unit, &import, remappings);
                let line = content[..offset].matches('\n').count() + 1;
                if path_of(root, &resolved).is_file() {
                    queue.push_back(resolved.clone());
                    imports.push((resolved, line));
                } else {
                    let mut problem = Diagnostic::error(format!(
                        "file import failed: `{import}` not found (looked for {})",
                        path_of(root, &resolved).display()
                    ))
                    .with_location(
                        &unit,
                        &content,
                        offset,
                        offset + import.len() + 2,
                    );
                    if let Some(hint) = missing_library_hint(&import) {
                        problem.notes.push((hint.to_string(), None));
                    }
                    problems.push(problem);
                }
            }
            graph.files.insert(
                unit.clone(),
                SourceFile {
                    unit_name: unit,
                    path,
                    content,
                    pragma: scan.pragma,
                    imports,
                },
            );
        }
        Ok((graph, problems))
    }

    /// `unit` and everything it imports, transitively.
    pub fn closure(&self, unit: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![unit.to_string()];
        while let Some(next) = stack.pop() {
            if seen.insert(next.clone())
                && let Some(file) = self.files.get(&next)
            {
                stack.extend(file.imports.iter().map(|(u, _)| u.clone()));
            }
        }
        seen
    }

    /// `changed` and every file that imports one of them, transitively:
    /// the files whose compilation a change to `changed` can affect.
    pub fn importers(&self, changed: &BTreeSet<String>) -> BTreeSet<String> {
        let mut imported_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for file in self.files.values() {
            for (import, _) in &file.imports {
                imported_by
                    .entry(import.as_str())
                    .or_default()
                    .push(file.unit_name.as_str());
            }
        }
        let mut seen = changed.clone();
        let mut stack: Vec<&str> = changed.iter().map(String::as_str).collect();
        while let Some(next) = stack.pop() {
            for importer in imported_by.get(next).into_iter().flatten() {
                if seen.insert(importer.to_string()) {
                    stack.push(importer);
                }
            }
        }
        seen
    }
}

/// Unit name for a file: relative to the root when inside it.
pub fn unit_name_of(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(relative) => relative.to_string_lossy().replace('\\', "/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

fn path_of(root: &Path, unit: &str) -> PathBuf {
    let path = Path::new(unit);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// solc's import resolution: `./` and `../` relative to the importing unit;
/// otherwise the longest matching remapping prefix; otherwise as written.
pub fn resolve_import(importer: &str, import: &str, remappings: &[Remapping]) -> String {
    if import.starts_with("./") || import.starts_with("../") {
        let base = Path::new(importer).parent().unwrap_or(Path::new(""));
        return normalize(&base.join(import));
    }
    let best = remappings
        .iter()
        .filter(|r| {
            let (context, prefix) = split_context(&r.prefix);
            import.starts_with(prefix) && context.is_none_or(|c| importer.starts_with(c))
        })
        .max_by_key(|r| split_context(&r.prefix).1.len());
    match best {
        Some(remapping) => {
            let (_, prefix) = split_context(&remapping.prefix);
            normalize(Path::new(&format!(
                "{}{}",
                remapping.target,
                &import[prefix.len()..]
            )))
        }
        None => normalize(Path::new(import)),
    }
}

fn split_context(prefix: &str) -> (Option<&str>, &str) {
    match prefix.split_once(':') {
        Some((context, rest)) => (Some(context), rest),
        None => (None, prefix),
    }
}

/// Removes `.` and `..` components without touching the file system.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<String> = vec![];
    let absolute = path.is_absolute();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// What a quick scan of a file finds.
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// Import paths with the byte offset of their opening quote.
    pub imports: Vec<(String, usize)>,
    pub pragma: Option<String>,
}

/// Finds `import` directives and the `pragma solidity` line, ignoring
/// comments and string contents elsewhere.
pub fn scan(content: &str) -> Scan {
    static IMPORT: OnceLock<Regex> = OnceLock::new();
    static PRAGMA: OnceLock<Regex> = OnceLock::new();
    let import = IMPORT.get_or_init(|| {
        Regex::new(r#"(?s)^import\s+(?:[^;"']*?\bfrom\s+)?(["'])([^"']+)["']"#)
            .expect("valid regex")
    });
    let pragma =
        PRAGMA.get_or_init(|| Regex::new(r"^pragma\s+solidity\s+([^;]+);").expect("valid regex"));
    let code = blank_comments(content);
    let mut result = Scan::default();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if at_word_start
            && bytes[i] == b'i'
            && let Some(caps) = import.captures(&code[i..])
        {
            let quote = caps.get(1).expect("group");
            result
                .imports
                .push((caps[2].to_string(), i + quote.start()));
            i += caps.get(0).expect("match").end();
            continue;
        }
        if at_word_start
            && bytes[i] == b'p'
            && result.pragma.is_none()
            && let Some(caps) = pragma.captures(&code[i..])
        {
            result.pragma = Some(caps[1].trim().to_string());
        }
        i += 1;
    }
    result
}

/// Replaces comments with spaces (keeping offsets) so that scanning does not
/// see imports inside them.
fn blank_comments(content: &str) -> String {
    let mut out = content.as_bytes().to_vec();
    let bytes = content.as_bytes();
    let mut i = 0;
    let mut in_string: Option<u8> = None;
    while i < bytes.len() {
        match in_string {
            Some(q) => {
                if bytes[i] == b'\\' {
                    i += 1;
                } else if bytes[i] == q {
                    in_string = None;
                }
                i += 1;
            }
            None if bytes[i] == b'"' || bytes[i] == b'\'' => {
                in_string = Some(bytes[i]);
                i += 1;
            }
            None if bytes[i..].starts_with(b"//") => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            None if bytes[i..].starts_with(b"/*") => {
                while i < bytes.len() && !bytes[i..].starts_with(b"*/") {
                    if bytes[i] != b'\n' {
                        out[i] = b' ';
                    }
                    i += 1;
                }
                for _ in 0..2 {
                    if i < bytes.len() {
                        out[i] = b' ';
                        i += 1;
                    }
                }
            }
            None => i += 1,
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces inside comments; a
    // multi-byte character in a comment becomes several spaces.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A `pragma solidity` requirement in Solidity's syntax (`^0.8.0`,
/// `>=0.8.0 <0.9.0`, `0.8.30`, `a || b`) as semver requirements, any of
/// which may match.
pub fn parse_pragma(text: &str) -> Option<Vec<semver::VersionReq>> {
    text.split("||")
        .map(|alternative| {
            let mut comparators: Vec<String> = vec![];
            let mut pending_op = String::new();
            for token in alternative.split_whitespace() {
                if token.chars().all(|c| "<>=^~".contains(c)) {
                    pending_op.push_str(token);
                    continue;
                }
                let token = format!("{pending_op}{token}");
                pending_op.clear();
                // A bare version is exact in Solidity (semver would read `^`).
                let token = if token.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("={token}")
                } else {
                    token
                };
                comparators.push(token);
            }
            semver::VersionReq::parse(&comparators.join(", ")).ok()
        })
        .collect()
}

pub fn pragma_allows(requirements: &[semver::VersionReq], version: &semver::Version) -> bool {
    requirements.iter().any(|req| req.matches(version))
}

/// How to get a well-known library whose import failed. (npm's `forge-std`
/// is an old unofficial copy that needs ds-test, so it is not suggested.)
fn missing_library_hint(import: &str) -> Option<&'static str> {
    import.starts_with("forge-std/").then_some(
        "forge-std is not installed: run `forge install foundry-rs/forge-std` or \
         `git submodule add https://github.com/foundry-rs/forge-std lib/forge-std`, \
         or import forja's built-in `forja-std/Test.sol` instead",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_every_import_form_and_skips_comments() {
        let src = r#"// SPDX-License-Identifier: MIT
pragma solidity >=0.8.0 <0.9.0;
import "./A.sol";
import {B, C as D} from "lib/B.sol";
import * as E from './E.sol';
import "x/F.sol" as F;
// import "commented.sol";
/* import "block.sol"; */
contract X { string s = "import \"no.sol\";"; }
"#;
        let scan = scan(src);
        let names: Vec<&str> = scan.imports.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["./A.sol", "lib/B.sol", "./E.sol", "x/F.sol"]);
        assert_eq!(scan.pragma.as_deref(), Some(">=0.8.0 <0.9.0"));
        assert_eq!(
            &src[scan.imports[0].1..scan.imports[0].1 + 9],
            "\"./A.sol\""
        );
    }

    #[test]
    fn a_missing_forge_std_says_how_to_get_it() {
        let tmp = tempfile::tempdir().unwrap();
        let test = tmp.path().join("test");
        std::fs::create_dir_all(&test).unwrap();
        std::fs::write(
            test.join("A.t.sol"),
            "import {Test} from \"forge-std/Test.sol\";\ncontract A is Test {}\n",
        )
        .unwrap();
        let (_, problems) = SourceGraph::load(tmp.path(), &[test], &[]).unwrap();
        assert_eq!(problems.len(), 1);
        let notes: Vec<&str> = problems[0].notes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("forge install foundry-rs/forge-std")
                && notes[0].contains("lib/forge-std")
                && notes[0].contains("forja-std/Test.sol"),
            "{notes:?}"
        );
    }

    #[test]
    fn pragmas_in_solidity_syntax() {
        let v = |s| semver::Version::parse(s).unwrap();
        let caret = parse_pragma("^0.8.20").unwrap();
        assert!(
            pragma_allows(&caret, &v("0.8.30"))
                && !pragma_allows(&caret, &v("0.9.0"))
                && !pragma_allows(&caret, &v("0.8.19"))
        );
        let range = parse_pragma(">= 0.8.0 < 0.8.25").unwrap();
        assert!(pragma_allows(&range, &v("0.8.24")) && !pragma_allows(&range, &v("0.8.25")));
        let exact = parse_pragma("0.8.15").unwrap();
        assert!(pragma_allows(&exact, &v("0.8.15")) && !pragma_allows(&exact, &v("0.8.16")));
        let either = parse_pragma("0.7.6 || ^0.8.1").unwrap();
        assert!(pragma_allows(&either, &v("0.8.30")));
        assert!(parse_pragma("banana").is_none());
    }

    #[test]
    fn imports_resolve_as_solc_resolves_them() {
        let remappings = vec![
            Remapping::parse("@oz/=node_modules/@openzeppelin/contracts/").unwrap(),
            Remapping::parse("@oz/token/=custom/token/").unwrap(),
        ];
        assert_eq!(
            resolve_import("src/a/A.sol", "../B.sol", &remappings),
            "src/B.sol"
        );
        assert_eq!(
            resolve_import("src/A.sol", "./x/C.sol", &remappings),
            "src/x/C.sol"
        );
        assert_eq!(
            resolve_import("src/A.sol", "@oz/access/Ownable.sol", &remappings),
            "node_modules/@openzeppelin/contracts/access/Ownable.sol"
        );
        assert_eq!(
            resolve_import("src/A.sol", "@oz/token/T.sol", &remappings),
            "custom/token/T.sol"
        );
        assert_eq!(
            resolve_import("src/A.sol", "src/Other.sol", &remappings),
            "src/Other.sol"
        );
    }
}
