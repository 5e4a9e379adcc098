//! Shared helpers of the integration tests: compiling fixture projects with
//! forja-compiler's wasm solc, in-process (no Node).

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use forja_compiler::solc::SolcManager;
use forja_compiler::sources::{resolve_import, scan};
use forja_tester::{
    ArtifactSet,
    report::{TestResult, TestRunReport},
};

/// The solc the fixtures are written for.
const SOLC_VERSION: forja_compiler::semver::Version =
    forja_compiler::semver::Version::new(0, 8, 30);

/// The test `signature` of `report`, in whichever suite it is.
pub(crate) fn find_test<'a>(report: &'a TestRunReport, signature: &str) -> &'a TestResult {
    report
        .suites
        .iter()
        .flat_map(|s| &s.tests)
        .find(|t| t.signature == signature)
        .unwrap_or_else(|| panic!("no test {signature} in the report"))
}

/// A trace with its gas figures (`[21000]`), which depend on the compiler
/// build, replaced by `[gas]`.
pub(crate) fn without_gas(trace: &str) -> String {
    regex::Regex::new(r"\[\d+\]")
        .unwrap()
        .replace_all(trace, "[gas]")
        .into_owned()
}

/// Directory of the fixture projects.
pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Compiles `src/` and `test/` of a fixture project (with forja-std
/// remapped) and returns its artifacts.
pub(crate) fn compile(project: &Path) -> Arc<ArtifactSet> {
    let std_dir = forja_tester::materialize_forja_std(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("forja-std"),
    )
    .expect("forja-std materialises");
    compile_with(project, &["src", "test"], &[("forja-std/", &std_dir)])
}

/// Compiles the `.sol` files under `dirs` of `project`; an import starting
/// with a remapping's prefix is read from its target directory. Unit names
/// are the import paths as written (what solc-js's import callback sees), so
/// artifacts name `forja-std/Test.sol`, not a path on this machine.
pub(crate) fn compile_with(
    project: &Path,
    dirs: &[&str],
    remappings: &[(&str, &Path)],
) -> Arc<ArtifactSet> {
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    for dir in dirs {
        let mut found: Vec<PathBuf> = walk_sol_files(&project.join(dir));
        found.sort();
        for path in found {
            let unit = path
                .strip_prefix(project)
                .expect("found under the project")
                .to_string_lossy()
                .replace('\\', "/");
            queue.push_back(unit);
        }
    }
    while let Some(unit) = queue.pop_front() {
        if sources.contains_key(&unit) {
            continue;
        }
        let on_disk = remappings
            .iter()
            .find_map(|(prefix, target)| unit.strip_prefix(prefix).map(|rest| target.join(rest)))
            .unwrap_or_else(|| project.join(&unit));
        let content = std::fs::read_to_string(&on_disk)
            .unwrap_or_else(|e| panic!("{unit}: reading {}: {e}", on_disk.display()));
        for (import, _) in scan(&content).imports {
            queue.push_back(resolve_import(&unit, &import, &[]));
        }
        sources.insert(unit, content);
    }
    let input = serde_json::json!({
        "language": "Solidity",
        "sources": sources
            .iter()
            .map(|(unit, content)| (unit.clone(), serde_json::json!({ "content": content })))
            .collect::<serde_json::Map<_, _>>(),
        "settings": {
            "optimizer": { "enabled": false },
            "evmVersion": "prague",
            "outputSelection": { "*": { "*": [
                "abi", "evm.bytecode.object", "evm.bytecode.linkReferences", "evm.deployedBytecode.object",
                "evm.deployedBytecode.linkReferences"
            ] } }
        }
    });
    let solc = SolcManager::with_home(solc_home())
        .load(&SOLC_VERSION, &|_| {})
        .expect("solc 0.8.30 loads (installed with npm on first use)");
    let output = solc
        .compile_standard_json(&input.to_string())
        .expect("solc runs");
    let json: serde_json::Value = serde_json::from_str(&output).expect("solc output is JSON");
    let errors: Vec<&str> = json["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .filter_map(|e| e["formattedMessage"].as_str())
        .collect();
    assert!(
        errors.is_empty(),
        "fixture compiles:\n{}",
        errors.join("\n")
    );
    Arc::new(ArtifactSet::from_solc_output(&output).unwrap())
}

/// The forja home shared by the workspace's tests (`FORJA_TEST_HOME`, else
/// the target dir's), so solc is fetched and precompiled once.
pub(crate) fn solc_home() -> PathBuf {
    std::env::var_os("FORJA_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("forja-home"))
}

fn walk_sol_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files = vec![];
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk_sol_files(&path));
        } else if path.extension().is_some_and(|e| e == "sol") {
            files.push(path);
        }
    }
    files
}
