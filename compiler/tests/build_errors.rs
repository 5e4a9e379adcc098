//! Every way a build can fail says what and where, and leaves `out/` as the
//! last good build left it (or absent): nothing half-written.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use std::path::{Path, PathBuf};

use forja_compiler::solc::SolcManager;
use forja_compiler::{BuildError, BuildOptions, BuildOutput, Project, Severity, build};

fn test_home() -> PathBuf {
    std::env::var_os("FORJA_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/forja-home")))
}

const GOOD: &str = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\ncontract Good { uint256 public x; function set(uint256 v) external { x = v; } }\n";

/// A project pinned to solc 0.8.30 with `files` under `src/`.
fn project(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("forja.toml"),
        "[project]\nname = \"errors\"\n\n[compiler]\nversion = \"0.8.30\"\n",
    )
    .unwrap();
    write_sources(dir.path(), files);
    let project = Project::load(dir.path()).unwrap();
    (dir, project)
}

fn write_sources(root: &Path, files: &[(&str, &[u8])]) {
    for (name, content) in files {
        let path = root.join("src").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

fn run(project: &Project) -> Result<BuildOutput, BuildError> {
    build(
        project,
        &BuildOptions::default(),
        &SolcManager::with_home(test_home()),
        &|_| {},
    )
}

fn first_error(output: &BuildOutput) -> &forja_compiler::Diagnostic {
    output
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("an error diagnostic: {:?}", output.diagnostics))
}

/// Every file under `out/`, with its content.
fn snapshot_out(project: &Project) -> Vec<(PathBuf, Vec<u8>)> {
    let out = project.out_dir();
    if !out.exists() {
        return vec![];
    }
    let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(&out)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn solc_errors_are_located_and_keep_the_last_good_build() {
    let (dir, project) = project(&[("Good.sol", GOOD.as_bytes())]);
    let first = run(&project).unwrap();
    assert!(!first.has_errors(), "{:?}", first.diagnostics);
    let good_out = snapshot_out(&project);
    assert!(
        good_out
            .iter()
            .any(|(p, _)| p.ends_with("Good.sol/Good.json")),
        "{good_out:?}"
    );

    // A syntax error: solc's ParserError, with file, line and column.
    write_sources(
        dir.path(),
        &[(
            "Broken.sol",
            b"pragma solidity ^0.8.20;\ncontract Broken {\n    function f( public {}\n}\n",
        )],
    );
    let output = run(&project).unwrap();
    let error = first_error(&output);
    assert_eq!(error.kind.as_deref(), Some("ParserError"), "{error:?}");
    let location = error.location.as_ref().expect("located");
    assert_eq!(
        (location.file.as_str(), location.line),
        ("src/Broken.sol", 3)
    );
    assert_eq!(snapshot_out(&project), good_out, "out/ untouched");

    // A type error.
    write_sources(
        dir.path(),
        &[(
            "Broken.sol",
            b"pragma solidity ^0.8.20;\ncontract Broken {\n    function f() public pure returns (uint256) { return true; }\n}\n",
        )],
    );
    let output = run(&project).unwrap();
    let error = first_error(&output);
    assert_eq!(error.kind.as_deref(), Some("TypeError"), "{error:?}");
    assert!(error.message.contains("bool"), "{}", error.message);
    assert_eq!(error.location.as_ref().map(|l| l.line), Some(3));
    assert_eq!(snapshot_out(&project), good_out, "out/ untouched");

    // A missing import: found before solc runs, at the import line.
    write_sources(
        dir.path(),
        &[(
            "Broken.sol",
            b"pragma solidity ^0.8.20;\nimport \"./Nowhere.sol\";\ncontract Broken {}\n",
        )],
    );
    let output = run(&project).unwrap();
    let error = first_error(&output);
    assert!(
        error.message.contains("`./Nowhere.sol` not found"),
        "{}",
        error.message
    );
    assert_eq!(error.location.as_ref().map(|l| l.line), Some(2));
    assert_eq!(snapshot_out(&project), good_out, "out/ untouched");
}

#[test]
fn unsatisfiable_pragmas_name_each_file() {
    let (_dir, project) = project(&[
        (
            "A.sol",
            b"pragma solidity ^0.8.20;\nimport \"./B.sol\";\ncontract A {}\n",
        ),
        ("B.sol", b"pragma solidity 0.8.25;\ncontract B {}\n"),
    ]);
    let err = run(&project).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, BuildError::Unsatisfiable(_)), "{message}");
    assert!(
        message.contains("src/B.sol: pragma solidity 0.8.25;"),
        "{message}"
    );
    assert!(message.contains("pins solc 0.8.30"), "{message}");
    assert!(!project.out_dir().exists());
}

#[test]
fn an_unknown_solc_version_is_a_clear_error() {
    let (dir, _) = project(&[("Good.sol", GOOD.as_bytes())]);
    std::fs::write(
        dir.path().join("forja.toml"),
        "[compiler]\nversion = \"0.8.99\"\n",
    )
    .unwrap();
    write_sources(
        dir.path(),
        &[("Good.sol", GOOD.replace("^0.8.20", ">=0.8.20").as_bytes())],
    );
    let project = Project::load(dir.path()).unwrap();
    // Its own home: a failed install must not leave anything behind in it.
    let home = tempfile::tempdir().unwrap();
    let err = build(
        &project,
        &BuildOptions::default(),
        &SolcManager::with_home(home.path().to_path_buf()),
        &|_| {},
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("solc 0.8.99"), "{message}");
    assert!(!project.out_dir().exists());
    assert!(!home.path().join("solc/0.8.99").exists(), "no half install");
}

#[test]
fn a_corrupt_cache_is_discarded_with_a_warning() {
    let (_dir, project) = project(&[("Good.sol", GOOD.as_bytes())]);
    assert!(!run(&project).unwrap().has_errors());
    let cache_file = project.cache_dir().join("forja-cache.json");
    std::fs::write(&cache_file, "{ this is not json").unwrap();
    let output = run(&project).unwrap();
    let warning = output
        .diagnostics
        .iter()
        .find(|d| {
            d.severity == Severity::Warning && d.message.contains("discarded the build cache")
        })
        .unwrap_or_else(|| panic!("a warning: {:?}", output.diagnostics));
    assert!(
        warning.message.contains("forja-cache.json"),
        "{}",
        warning.message
    );
    assert_eq!(output.compiled.len(), 1, "rebuilt, not trusted");
    // The rewritten cache is good again: the next build does nothing.
    let again = run(&project).unwrap();
    assert!(again.diagnostics.is_empty(), "{:?}", again.diagnostics);
    assert!(again.compiled.is_empty());
}

#[test]
fn an_unreadable_source_names_the_file() {
    let (_dir, project) = project(&[
        ("Good.sol", GOOD.as_bytes()),
        ("Binary.sol", &[0x70, 0x72, 0xff, 0xfe, 0x00, 0x01]),
    ]);
    let err = run(&project).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("Binary.sol"), "{message}");
    assert!(message.contains("UTF-8"), "{message}");
    assert!(!project.out_dir().exists());
}
