//! The incremental build: an edit recompiles the edited file and the files
//! that import it (transitively), nothing else; the artifacts of the rest
//! are kept byte for byte; a removed file's artifacts go; other settings
//! recompile everything.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use std::path::{Path, PathBuf};

use forja_compiler::solc::SolcManager;
use forja_compiler::{BuildOptions, BuildOutput, Project, build};

fn test_home() -> PathBuf {
    std::env::var_os("FORJA_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/forja-home")))
}

const TOML: &str = "[project]\nname = \"incremental\"\n\n[compiler]\nversion = \"0.8.30\"\n";

/// A imports B imports C; D stands alone.
fn project() -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("forja.toml"), TOML).unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("lib")).unwrap();
    let header = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n";
    std::fs::write(
        src.join("A.sol"),
        format!(
            "{header}import {{B}} from \"./lib/B.sol\";\ncontract A is B {{ function a() external pure returns (uint256) {{ return 1; }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("lib/B.sol"),
        format!(
            "{header}import \"./C.sol\";\ncontract B {{ function b() external pure returns (uint256) {{ return C.c(); }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("lib/C.sol"),
        format!(
            "{header}library C {{ function c() internal pure returns (uint256) {{ return 3; }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("D.sol"),
        format!("{header}contract D {{ uint256 public d; }}\n"),
    )
    .unwrap();
    let project = Project::load(dir.path()).unwrap();
    (dir, project)
}

fn run(project: &Project) -> BuildOutput {
    let output = build(
        project,
        &BuildOptions::default(),
        &SolcManager::with_home(test_home()),
        &|_| {},
    )
    .unwrap();
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    output
}

/// The files the build compiled, sorted.
fn compiled(output: &BuildOutput) -> Vec<String> {
    let mut files: Vec<String> = output
        .compiled
        .iter()
        .flat_map(|unit| unit.sources.iter().cloned())
        .collect();
    files.sort();
    files
}

fn append(project: &Project, file: &str, text: &str) {
    let path = project.root.join("src").join(file);
    let mut content = std::fs::read_to_string(&path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

fn artifact(project: &Project, path: &str) -> Vec<u8> {
    std::fs::read(project.out_dir().join(path)).unwrap_or_else(|e| panic!("out/{path}: {e}"))
}

#[test]
fn an_edit_recompiles_the_file_and_its_importers_only() {
    let (_dir, project) = project();
    let clean = run(&project);
    assert_eq!(
        compiled(&clean),
        ["src/A.sol", "src/D.sol", "src/lib/B.sol", "src/lib/C.sol"]
    );
    assert_eq!(clean.artifacts.len(), 4, "{:?}", clean.artifacts);

    let noop = run(&project);
    assert!(noop.compiled.is_empty(), "{:?}", noop.compiled);
    assert_eq!(noop.artifacts, clean.artifacts);

    // C changes: C, B (imports C) and A (imports B) are recompiled; D's
    // artifact is not touched.
    let d_before = artifact(&project, "D.sol/D.json");
    let d_modified = std::fs::metadata(project.out_dir().join("D.sol/D.json"))
        .unwrap()
        .modified()
        .unwrap();
    let a_before = artifact(&project, "A.sol/A.json");
    append(
        &project,
        "lib/C.sol",
        "library C2 { function c2() internal pure returns (uint256) { return 4; } }\n",
    );
    let edited = run(&project);
    assert_eq!(
        compiled(&edited),
        ["src/A.sol", "src/lib/B.sol", "src/lib/C.sol"]
    );
    assert_eq!(edited.compiled[0].files, 3);
    assert_eq!(edited.compiled[0].inputs, 4, "solc reads the whole unit");
    assert_eq!(artifact(&project, "D.sol/D.json"), d_before);
    assert_eq!(
        std::fs::metadata(project.out_dir().join("D.sol/D.json"))
            .unwrap()
            .modified()
            .unwrap(),
        d_modified,
        "D's artifact is not rewritten"
    );
    // A's metadata names C's new content, so its artifact changed.
    assert_ne!(artifact(&project, "A.sol/A.json"), a_before);
    assert!(project.out_dir().join("C.sol/C2.json").is_file());

    // D changes: D only.
    append(&project, "D.sol", "// a comment\n");
    assert_eq!(compiled(&run(&project)), ["src/D.sol"]);

    // A changes: A only; solc reads the others but writes no artifact for them.
    let b_before = artifact(&project, "B.sol/B.json");
    append(&project, "A.sol", "contract A2 {}\n");
    let top = run(&project);
    assert_eq!(compiled(&top), ["src/A.sol"]);
    assert_eq!(artifact(&project, "B.sol/B.json"), b_before);
    assert!(project.out_dir().join("A.sol/A2.json").is_file());

    assert!(run(&project).compiled.is_empty());
}

/// Every file under `out/` with its bytes.
fn out_files(project: &Project) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(project.out_dir())
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_incremental_result_is_byte_for_byte_a_clean_build() {
    let (_dir, project) = project();
    run(&project);
    append(&project, "lib/B.sol", "contract B2 is B {}\n");
    let incremental = run(&project);
    assert_eq!(compiled(&incremental), ["src/A.sol", "src/lib/B.sol"]);
    let after_edit = out_files(&project);
    assert_eq!(after_edit.len(), 5, "A, B, B2, C, D");
    let forced = build(
        &project,
        &BuildOptions {
            force: true,
            ..BuildOptions::default()
        },
        &SolcManager::with_home(test_home()),
        &|_| {},
    )
    .unwrap();
    assert_eq!(compiled(&forced).len(), 4);
    // Same code, ABI, metadata, source ids and source maps.
    let from_scratch = out_files(&project);
    for ((path, incremental), (_, clean)) in after_edit.iter().zip(&from_scratch) {
        assert!(
            incremental == clean,
            "{} differs from a clean build",
            path.display()
        );
    }
    assert_eq!(after_edit.len(), from_scratch.len());
}

#[test]
fn a_removed_file_takes_its_artifacts_with_it() {
    let (_dir, project) = project();
    run(&project);
    assert!(project.out_dir().join("D.sol/D.json").is_file());
    std::fs::remove_file(project.root.join("src/D.sol")).unwrap();
    let output = run(&project);
    assert!(output.compiled.is_empty(), "{:?}", output.compiled);
    assert!(!project.out_dir().join("D.sol").exists());
    assert!(!output.artifacts.iter().any(|a| a.ends_with("D.json")));
    assert!(project.out_dir().join("A.sol/A.json").is_file());
}

#[test]
fn a_damaged_artifact_recompiles_its_file_only() {
    let (_dir, project) = project();
    run(&project);
    std::fs::write(project.out_dir().join("B.sol/B.json"), b"{}").unwrap();
    let output = run(&project);
    assert_eq!(compiled(&output), ["src/lib/B.sol"]);
    assert!(artifact(&project, "B.sol/B.json").len() > 100);
}

#[test]
fn other_settings_recompile_everything() {
    let (_dir, project) = project();
    run(&project);
    for changed in [
        "[compiler]\nversion = \"0.8.30\"\noptimizer = true\n",
        "[compiler]\nversion = \"0.8.30\"\noptimizer = true\nevm_version = \"paris\"\n",
        "[compiler]\nversion = \"0.8.30\"\noptimizer = true\nevm_version = \"paris\"\nremappings = [\"x/=src/lib/\"]\n",
    ] {
        std::fs::write(
            project.root.join("forja.toml"),
            format!("[project]\nname = \"incremental\"\n\n{changed}"),
        )
        .unwrap();
        let project = Project::load(&project.root).unwrap();
        assert_eq!(compiled(&run(&project)).len(), 4, "after {changed:?}");
        assert!(
            run(&project).compiled.is_empty(),
            "then cached: {changed:?}"
        );
    }
}

#[test]
fn another_solc_version_recompiles_everything() {
    // Installed by the solc tests already, else from npm now.
    let older = forja_compiler::semver::Version::new(0, 8, 6);
    if let Err(err) = SolcManager::with_home(test_home()).load(&older, &|_| {}) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and solc 0.8.6 cannot be loaded: {err}"
        );
        eprintln!("skipped: solc 0.8.6 cannot be loaded here ({err})");
        return;
    }
    let (_dir, project) = project();
    run(&project);
    let root: &Path = &project.root;
    std::fs::write(root.join("forja.toml"), TOML.replace("0.8.30", "0.8.6")).unwrap();
    for file in ["A.sol", "D.sol", "lib/B.sol", "lib/C.sol"] {
        let path = root.join("src").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("^0.8.20", "^0.8.6")).unwrap();
    }
    // The pragmas changed too; a version change alone must also recompile,
    // so go back to 0.8.30 with these sources cached under 0.8.6.
    let project = Project::load(root).unwrap();
    assert_eq!(compiled(&run(&project)).len(), 4);
    std::fs::write(root.join("forja.toml"), TOML).unwrap();
    let project = Project::load(root).unwrap();
    let back = run(&project);
    assert_eq!(compiled(&back).len(), 4);
    assert_eq!(back.compiled[0].version.to_string(), "0.8.30");
}

#[test]
fn a_coverage_build_is_incremental_with_its_own_cache() {
    let (_dir, project) = project();
    let coverage = BuildOptions {
        coverage: true,
        ..BuildOptions::default()
    };
    let solc = SolcManager::with_home(test_home());
    let first = build(&project, &coverage, &solc, &|_| {}).unwrap();
    assert_eq!(compiled(&first).len(), 4);
    // The normal build has a cache of its own: it compiles everything once.
    assert_eq!(compiled(&run(&project)).len(), 4);
    append(&project, "lib/B.sol", "// edited\n");
    let again = build(&project, &coverage, &solc, &|_| {}).unwrap();
    assert_eq!(compiled(&again), ["src/A.sol", "src/lib/B.sol"]);
    let out = project
        .root
        .join(forja_compiler::build::coverage_out_dir(&project));
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("A.sol/A.json")).unwrap()).unwrap();
    assert!(a["ast"].is_object(), "a recompiled file keeps its AST");
    let d: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("D.sol/D.json")).unwrap()).unwrap();
    assert!(d["ast"].is_object(), "a kept artifact keeps its AST");
}
