//! Times the wasm solc on a standard-JSON input file, three compiles in one
//! instance: `cargo run -p forja-compiler --example solc_timing -- <input.json> [version]`
//! (the input of a project's build comes from `forja_compiler::standard_json_inputs`).
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input_path = args
        .next()
        .ok_or("usage: solc_timing <input.json> [solc-version]")?;
    let version: semver::Version = args.next().as_deref().unwrap_or("0.8.30").parse()?;
    let input = std::fs::read_to_string(&input_path)?;
    let manager = forja_compiler::solc::SolcManager::from_env()?;
    let started = Instant::now();
    let solc = manager.load(&version, &|_| {})?;
    println!("load: {:?}", started.elapsed());
    for _ in 0..3 {
        let started = Instant::now();
        let output = solc.compile_standard_json(&input)?;
        println!(
            "compile: {:?} ({} bytes of output)",
            started.elapsed(),
            output.len()
        );
    }
    Ok(())
}
