//! End-to-end tests: the `forja` binary driven as a user drives it, in
//! temporary directories. solc is installed and precompiled once into a
//! shared forja home (`FORJA_TEST_HOME`, or one under the target dir).
#![allow(unused_crate_dependencies)] // a test binary links all of the package's dependencies

mod bench;
mod clients;
mod coverage;
mod deploy;
mod explorer;
mod network_admin;
mod network_export;
mod snapshot;
mod templates;
mod test_network;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn forja_home() -> PathBuf {
    std::env::var_os("FORJA_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/forja-home")))
}

fn forja(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forja"))
        .args(args)
        .current_dir(dir)
        .env("FORJA_HOME", forja_home())
        .env("NO_COLOR", "1")
        .output()
        .expect("forja runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[track_caller]
fn assert_success(output: &Output) {
    assert!(output.status.success(), "forja failed:\n{}", text(output));
}

#[test]
fn new_build_test_on_the_basic_template() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "hello"]));
    let project = tmp.path().join("hello");
    for file in [
        "forja.toml",
        "src/Counter.sol",
        "test/Counter.t.sol",
        "deploy.toml",
        ".gitignore",
        "README.md",
        ".git",
    ] {
        assert!(project.join(file).exists(), "{file} was generated");
    }

    let build = forja(&project, &["build"]);
    assert_success(&build);
    assert!(
        text(&build).contains("Compiler run successful"),
        "{}",
        text(&build)
    );
    let artifact: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("out/Counter.sol/Counter.json")).unwrap(),
    )
    .unwrap();
    assert!(
        artifact["bytecode"]["object"]
            .as_str()
            .unwrap()
            .starts_with("0x60")
    );
    assert!(
        artifact["abi"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "increment")
    );

    // Nothing changed: no compiler work.
    let again = forja(&project, &["build"]);
    assert_success(&again);
    assert!(
        text(&again).contains("No files changed, compilation skipped"),
        "{}",
        text(&again)
    );

    // An edit to the test file recompiles it alone: src/Counter.sol, which
    // it imports, keeps its artifact.
    let counter_artifact = std::fs::read(project.join("out/Counter.sol/Counter.json")).unwrap();
    let test_file = project.join("test/Counter.t.sol");
    let mut edited = std::fs::read_to_string(&test_file).unwrap();
    edited.push_str("\n// edited\n");
    std::fs::write(&test_file, edited).unwrap();
    let incremental = forja(&project, &["build"]);
    assert_success(&incremental);
    assert!(
        text(&incremental).contains("Compiled 1 files with solc"),
        "{}",
        text(&incremental)
    );
    assert_eq!(
        std::fs::read(project.join("out/Counter.sol/Counter.json")).unwrap(),
        counter_artifact
    );

    let test = forja(&project, &["test"]);
    assert_success(&test);
    let report = text(&test);
    assert!(report.contains("[PASS] test_Increment()"), "{report}");
    assert!(
        report.contains("[PASS] testFuzz_SetNumber(uint256) (runs: 256"),
        "{report}"
    );
    assert!(report.contains("4 tests passed, 0 failed"), "{report}");
}

#[test]
fn a_failing_test_fails_the_run_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "broken", "--no-git"]));
    let project = tmp.path().join("broken");
    let test_file = project.join("test/Counter.t.sol");
    let source = std::fs::read_to_string(&test_file).unwrap();
    std::fs::write(
        &test_file,
        source.replace(
            "assertEq(counter.number(), 1);",
            "assertEq(counter.number(), 2, \"off by one\");",
        ),
    )
    .unwrap();
    let test = forja(&project, &["test"]);
    assert!(!test.status.success());
    let report = text(&test);
    assert!(
        report.contains("test_Increment()") && report.contains("off by one"),
        "{report}"
    );
}

#[test]
fn compile_errors_are_rendered_with_their_place_and_keep_the_last_good_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "typo", "--no-git"]));
    let project = tmp.path().join("typo");
    assert_success(&forja(&project, &["build"]));
    let artifact = project.join("out/Counter.sol/Counter.json");
    let good = std::fs::read(&artifact).unwrap();

    let counter = project.join("src/Counter.sol");
    let source = std::fs::read_to_string(&counter).unwrap();
    std::fs::write(&counter, source.replace("number++;", "number++")).unwrap();
    let build = forja(&project, &["build"]);
    assert_eq!(build.status.code(), Some(1));
    let report = text(&build);
    assert!(
        report.contains("error[") && report.contains("--> src/Counter.sol:"),
        "{report}"
    );
    assert!(report.contains('^'), "the span is underlined: {report}");
    assert_eq!(
        std::fs::read(&artifact).unwrap(),
        good,
        "out/ keeps the last good build"
    );

    std::fs::write(
        &counter,
        source.replace(
            "pragma solidity ^0.8.20;",
            "pragma solidity ^0.8.20;\nimport \"./Missing.sol\";",
        ),
    )
    .unwrap();
    let missing = forja(&project, &["build"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing).contains("`./Missing.sol` not found"),
        "{}",
        text(&missing)
    );
}

#[test]
fn a_corrupt_cache_is_discarded_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "cached", "--no-git"]));
    let project = tmp.path().join("cached");
    assert_success(&forja(&project, &["build"]));
    std::fs::write(project.join("cache/forja-cache.json"), "{ not json").unwrap();
    let build = forja(&project, &["build"]);
    assert_success(&build);
    assert!(
        text(&build).contains("discarded the build cache"),
        "{}",
        text(&build)
    );

    // An artifact edited or deleted behind the cache's back is rebuilt.
    let artifact = project.join("out/Counter.sol/Counter.json");
    let good = std::fs::read(&artifact).unwrap();
    std::fs::write(
        &artifact,
        String::from_utf8_lossy(&good).replacen("0x60", "0x61", 1),
    )
    .unwrap();
    let rebuilt = forja(&project, &["build"]);
    assert_success(&rebuilt);
    assert!(
        !text(&rebuilt).contains("No files changed"),
        "{}",
        text(&rebuilt)
    );
    assert_eq!(
        std::fs::read(&artifact).unwrap(),
        good,
        "the tampered artifact was rebuilt"
    );
    std::fs::remove_file(&artifact).unwrap();
    assert_success(&forja(&project, &["build"]));
    assert_eq!(
        std::fs::read(&artifact).unwrap(),
        good,
        "the deleted artifact was rebuilt"
    );
}

#[test]
fn new_refuses_bad_input_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_name = forja(tmp.path(), &["new", "9lives"]);
    assert!(!bad_name.status.success());
    assert!(text(&bad_name).contains("invalid project name `9lives`"));
    assert!(!tmp.path().join("9lives").exists());

    let unknown = forja(tmp.path(), &["new", "x", "--template", "nope"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown)
            .contains("unknown template `nope`; available: basic, network, notary, token"),
        "{}",
        text(&unknown)
    );
    assert!(!tmp.path().join("x").exists());

    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    std::fs::write(tmp.path().join("taken/notes.txt"), "mine").unwrap();
    let taken = forja(tmp.path(), &["new", "taken"]);
    assert!(!taken.status.success());
    assert!(text(&taken).contains("is not empty"));
    assert_eq!(
        std::fs::read_dir(tmp.path().join("taken")).unwrap().count(),
        1
    );
}

#[test]
fn unsatisfiable_pragmas_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "old", "--no-git"]));
    let project = tmp.path().join("old");
    let counter = project.join("src/Counter.sol");
    let source = std::fs::read_to_string(&counter).unwrap();
    std::fs::write(
        &counter,
        source.replace("pragma solidity ^0.8.20;", "pragma solidity ^0.7.0;"),
    )
    .unwrap();
    let build = forja(&project, &["build"]);
    assert!(!build.status.success());
    let report = text(&build);
    assert!(
        report.contains("no solc version satisfies")
            && report.contains("src/Counter.sol: pragma solidity ^0.7.0;"),
        "{report}"
    );
}

#[test]
fn solc_list_and_which_show_the_installed_compiler() {
    let tmp = tempfile::tempdir().unwrap();
    // Make sure 0.8.30 is installed (the basic template pins it).
    assert_success(&forja(tmp.path(), &["solc", "install", "0.8.30"]));
    let list = forja(tmp.path(), &["solc", "list"]);
    assert_success(&list);
    assert!(
        text(&list)
            .lines()
            .any(|l| l.starts_with("0.8.30") && l.contains("wasm")),
        "{}",
        text(&list)
    );
    let which = forja(tmp.path(), &["solc", "which", "0.8.30"]);
    assert_success(&which);
    assert!(text(&which).trim_end().ends_with("soljson.js"));
    let missing = forja(tmp.path(), &["solc", "which", "0.8.7"]);
    assert!(!missing.status.success());
    assert!(text(&missing).contains("solc 0.8.7 is not installed"));
}
