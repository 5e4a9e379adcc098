//! The wasm solc engine end to end: fetched with npm, precompiled once into a
//! shared forja home, then run in-process. No Node.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use std::path::PathBuf;

use forja_compiler::solc::{SolcKind, SolcManager};
use semver::Version;

fn test_home() -> PathBuf {
    std::env::var_os("FORJA_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/forja-home")))
}

fn input(source: &str, optimize: bool) -> String {
    serde_json::json!({
        "language": "Solidity",
        "sources": { "A.sol": { "content": source } },
        "settings": {
            "optimizer": { "enabled": optimize, "runs": 200 },
            "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
        }
    })
    .to_string()
}

const COUNTER: &str = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Counter {
    uint256 public number;
    error TooBig(uint256 value);
    function set(uint256 n) external { if (n > 100) revert TooBig(n); number = n; }
    function increment() external { number++; }
}
"#;

#[test]
fn wasm_solc_compiles_reports_errors_and_is_memoised() {
    let manager = SolcManager::with_home(test_home());
    let version = Version::new(0, 8, 30);
    let solc = manager.load(&version, &|_| {}).expect("load solc 0.8.30");
    assert_eq!(solc.version(), &version);
    assert!(
        solc.long_version().starts_with("0.8.30+commit."),
        "{}",
        solc.long_version()
    );

    for optimize in [false, true] {
        let out: serde_json::Value = serde_json::from_str(
            &solc
                .compile_standard_json(&input(COUNTER, optimize))
                .unwrap(),
        )
        .unwrap();
        let contract = &out["contracts"]["A.sol"]["Counter"];
        let bytecode = contract["evm"]["bytecode"]["object"].as_str().unwrap();
        assert!(
            bytecode.starts_with("6080604052"),
            "optimize={optimize}: {out}"
        );
        assert!(
            contract["abi"]
                .as_array()
                .unwrap()
                .iter()
                .any(|item| item["name"] == "increment")
        );
    }

    // A syntax error is solc's answer, not a failure to run solc; and the
    // instance keeps working afterwards (the C++ exception path unwound).
    let broken = solc
        .compile_standard_json(&input("contract X { function f( }", false))
        .unwrap();
    let broken: serde_json::Value = serde_json::from_str(&broken).unwrap();
    let errors = broken["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["type"] == "ParserError"),
        "{broken}"
    );
    let again: serde_json::Value =
        serde_json::from_str(&solc.compile_standard_json(&input(COUNTER, false)).unwrap()).unwrap();
    assert!(again["contracts"]["A.sol"]["Counter"]["abi"].is_array());

    let second = manager
        .load(&version, &|_| {
            panic!("a loaded compiler is not loaded twice")
        })
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&solc, &second));
    let installed = manager.which(&version).expect("installed");
    assert_eq!(installed.kind, SolcKind::Wasm);
}

#[test]
fn unsupported_versions_are_refused_clearly() {
    let manager = SolcManager::with_home(test_home());
    let err = manager.load(&Version::new(0, 7, 6), &|_| {}).unwrap_err();
    assert!(err.to_string().contains("not supported yet"), "{err}");
}

#[test]
fn a_corrupt_soljson_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("soljson.js");
    std::fs::write(&file, "var Module = {}; // not solc").unwrap();
    let manager = SolcManager::with_home(dir.path().join("home"));
    let err = manager.install_from_file(&file, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("no embedded WebAssembly"), "{err}");
}

/// solc 0.8.6–0.8.9 ship a plain base64 data URL, no LZ4, an older glue
/// (different import names, i32 results on some helpers): the oldest
/// supported version must run like the newest.
#[test]
fn oldest_supported_solc_runs() {
    if let Err(reason) = npm_available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and solc 0.8.6 cannot be installed: {reason}"
        );
        eprintln!("skipped: solc 0.8.6 cannot be installed here ({reason})");
        return;
    }
    let manager = SolcManager::with_home(test_home());
    let version = Version::new(0, 8, 6);
    let solc = manager.load(&version, &|_| {}).expect("load solc 0.8.6");
    assert!(
        solc.long_version().starts_with("0.8.6+commit."),
        "{}",
        solc.long_version()
    );
    let source = COUNTER.replace("^0.8.20", "^0.8.4");
    for optimize in [false, true] {
        let out: serde_json::Value = serde_json::from_str(
            &solc
                .compile_standard_json(&input(&source, optimize))
                .unwrap(),
        )
        .unwrap();
        let bytecode = out["contracts"]["A.sol"]["Counter"]["evm"]["deployedBytecode"]["object"]
            .as_str()
            .unwrap_or_else(|| panic!("optimize={optimize}: {out}"));
        assert!(bytecode.starts_with("6080604052"), "{bytecode}");
    }
    // The exception path of the older glue: a type error, then a good compile.
    let broken: serde_json::Value = serde_json::from_str(
        &solc
            .compile_standard_json(&input(
                "pragma solidity ^0.8.4; contract X { function f() public { uint x = true; } }",
                false,
            ))
            .unwrap(),
    )
    .unwrap();
    assert!(
        broken["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["type"] == "TypeError")),
        "{broken}"
    );
    let again: serde_json::Value =
        serde_json::from_str(&solc.compile_standard_json(&input(&source, false)).unwrap()).unwrap();
    assert!(
        again["contracts"]["A.sol"]["Counter"]["abi"].is_array(),
        "{again}"
    );
}

/// Installing needs the npm client and the registry.
fn npm_available() -> Result<(), String> {
    let output = std::process::Command::new("npm")
        .args(["view", "solc@0.8.6", "version"])
        .output()
        .map_err(|e| format!("npm is not usable: {e}"))?;
    match output.status.success() && String::from_utf8_lossy(&output.stdout).contains("0.8.6") {
        true => Ok(()),
        false => Err(format!(
            "npm cannot reach the registry: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}
