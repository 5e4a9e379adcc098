//! Times the wasm solc on a project's files: `cargo run -p forja-compiler --example solc_timing -- <file.sol>...`
use std::time::Instant;
fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let manager = forja_compiler::solc::SolcManager::from_env().unwrap();
    let t = Instant::now();
    let solc = manager
        .load(&semver::Version::new(0, 8, 30), &|e| eprintln!("{e:?}"))
        .unwrap();
    eprintln!("load: {:?}", t.elapsed());
    let sources: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|f| {
            (
                f.clone(),
                serde_json::json!({"content": std::fs::read_to_string(f).unwrap()}),
            )
        })
        .collect();
    let input = serde_json::json!({"language":"Solidity","sources":sources,"settings":{"remappings":["forja-std/=cache/forja-std-0.1.0/"],"optimizer":{"enabled":true},"outputSelection":{"*":{"*":["abi","evm.bytecode.object"]}}}}).to_string();
    for _ in 0..3 {
        let t = Instant::now();
        let out = solc.compile_standard_json(&input).unwrap();
        eprintln!("compile: {:?} ({} bytes)", t.elapsed(), out.len());
    }
}
