//! Full build of OpenZeppelin Contracts with forja against solc-js under
//! Node, same solc version, settings and standard-JSON input, in one run;
//! then a no-op rebuild and a one-file-change rebuild.
//!
//! ```text
//! FORJA_HOME=… cargo run -p forja-compiler --example openzeppelin_bench [-- <oz-version> <solc-version>]
//! ```
//!
//! Defaults: OpenZeppelin 5.7.0, solc 0.8.30, optimizer on (200 runs). The
//! OpenZeppelin tarball and solc-js are fetched with npm once into
//! `$TMPDIR/forja-bench` (or `FORJA_BENCH_CACHE`). Full builds alternate
//! forja and Node `FORJA_BENCH_RUNS` times (default 3) and the best of each
//! is compared. Prints figures; fails only when the two compilers' bytecode
//! differs.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use forja_compiler::solc::SolcManager;
use forja_compiler::{BuildOptions, Project, build, standard_json_inputs};
use serde_json::Value;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let oz_version = args.next().unwrap_or_else(|| "5.7.0".into());
    let solc_version: semver::Version = args.next().as_deref().unwrap_or("0.8.30").parse()?;
    let cache = std::env::var_os("FORJA_BENCH_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("forja-bench"));
    std::fs::create_dir_all(&cache)?;

    let contracts = fetch_openzeppelin(&cache, &oz_version)?;
    let work = tempfile::tempdir()?;
    let root = work.path();
    copy_sol_files(&contracts, &root.join("src"))?;
    std::fs::write(
        root.join("forja.toml"),
        format!(
            "[project]\nname = \"oz-bench\"\n\n[compiler]\nversion = \"{solc_version}\"\noptimizer = true\noptimizer_runs = 200\n"
        ),
    )?;
    let project = Project::load(root)?;
    let manager = SolcManager::from_env()?;
    // Installs (and precompiles) solc outside the timed region.
    manager.load(&solc_version, &|_| {})?;

    let inputs = standard_json_inputs(&project, &BuildOptions::default(), &manager)?;
    let [(_, input)] = inputs.as_slice() else {
        return Err(format!("expected one compilation unit, got {}", inputs.len()).into());
    };
    let input_path = root.join("input.json");
    std::fs::write(&input_path, input)?;
    let source_files = serde_json::from_str::<Value>(input)?["sources"]
        .as_object()
        .map_or(0, |s| s.len());
    println!(
        "OpenZeppelin Contracts {oz_version}: {source_files} files, solc {solc_version}, optimizer on (200 runs)"
    );

    // Alternating runs, best of each: the figure is the compilers', not
    // the noise of a machine shared with other work.
    let runs: usize = std::env::var("FORJA_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    let force = BuildOptions {
        force: true,
        ..BuildOptions::default()
    };
    let mut forja_times = vec![];
    let mut node_times = vec![];
    let mut node_output = None;
    let mut node_skipped = None;
    let mut artifacts = 0;
    for _ in 0..runs {
        // A fresh manager, as a `forja build` process has (the first run
        // also loads the precompiled module; later ones reuse it).
        let started = Instant::now();
        let fresh = SolcManager::from_env()?;
        let output = build(&project, &force, &fresh, &|_| {})?;
        forja_times.push(started.elapsed());
        if output.has_errors() {
            return Err(format!("forja build failed: {:?}", output.diagnostics).into());
        }
        artifacts = output.artifacts.len();
        if node_skipped.is_none() {
            match solcjs_compile(&cache, &solc_version, &input_path, root) {
                Ok(run) => {
                    node_times.push((run.wall, run.load, run.compile));
                    node_output = Some(run.output);
                }
                Err(reason) => node_skipped = Some(reason),
            }
        }
    }
    let forja_best = *forja_times.iter().min().expect("at least one run");
    println!(
        "forja full build:        {:>9} best of {runs} (all: {}; {artifacts} artifacts)",
        ms(forja_best),
        list(&forja_times)
    );
    match (&node_skipped, node_times.iter().min()) {
        (Some(reason), _) => println!("solc-js under Node:      skipped ({reason})"),
        (None, Some(&(wall, load, compile))) => {
            let walls: Vec<Duration> = node_times.iter().map(|t| t.0).collect();
            println!(
                "solc-js under Node:      {:>9} best of {runs} (all: {}; require('solc') {}, compile {})",
                ms(wall),
                list(&walls),
                ms(load),
                ms(compile)
            );
            println!(
                "ratio forja / Node:      {:.2}× (goal ≤ 0.70×)",
                forja_best.as_secs_f64() / wall.as_secs_f64()
            );
            let compared = compare_bytecode(&project, node_output.as_ref().expect("a run"))?;
            println!("bytecode:                identical for {compared} contracts");
        }
        (None, None) => unreachable!("a run either produced times or a reason"),
    }

    let fresh = SolcManager::from_env()?;
    let started = Instant::now();
    let noop = build(&project, &BuildOptions::default(), &fresh, &|_| {})?;
    let noop_time = started.elapsed();
    println!(
        "no-op rebuild:           {:>9} ({} units compiled; goal < 100 ms)",
        ms(noop_time),
        noop.compiled.len()
    );

    let touched = root.join("src/token/ERC20/ERC20.sol");
    let mut text = std::fs::read_to_string(&touched)?;
    text.push_str("\n// touched by the benchmark\n");
    std::fs::write(&touched, text)?;
    let started = Instant::now();
    let changed = build(&project, &BuildOptions::default(), &fresh, &|_| {})?;
    println!(
        "one-file-change rebuild: {:>9} ({} units compiled, {} files)",
        ms(started.elapsed()),
        changed.compiled.len(),
        changed.compiled.iter().map(|u| u.files).sum::<usize>()
    );
    Ok(())
}

fn list(times: &[Duration]) -> String {
    times.iter().map(|t| ms(*t)).collect::<Vec<_>>().join(", ")
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

/// `contracts/` of the npm package, unpacked once into the cache.
fn fetch_openzeppelin(cache: &Path, version: &str) -> Result<PathBuf, Error> {
    let unpacked = cache.join(format!("openzeppelin-contracts-{version}"));
    if !unpacked.join("package/package.json").is_file() {
        let spec = format!("@openzeppelin/contracts@{version}");
        let status = Command::new("npm")
            .args(["pack", &spec, "--silent", "--pack-destination"])
            .arg(cache)
            .status()
            .map_err(|e| format!("running npm pack {spec}: {e}"))?;
        if !status.success() {
            return Err(format!("npm pack {spec} failed ({status})").into());
        }
        let tarball = cache.join(format!("openzeppelin-contracts-{version}.tgz"));
        let file = std::fs::File::open(&tarball)
            .map_err(|e| format!("opening {}: {e}", tarball.display()))?;
        tar::Archive::new(flate2::read::GzDecoder::new(file)).unpack(&unpacked)?;
    }
    Ok(unpacked.join("package"))
}

fn copy_sol_files(from: &Path, to: &Path) -> Result<(), Error> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == "sol") {
            let target = to.join(entry.path().strip_prefix(from)?);
            std::fs::create_dir_all(target.parent().expect("a file has a parent"))?;
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

struct NodeRun {
    wall: Duration,
    load: Duration,
    compile: Duration,
    output: Value,
}

const NODE_SCRIPT: &str = r#"
const start = process.hrtime.bigint();
const solc = require(process.argv[2]);
const loaded = process.hrtime.bigint();
const fs = require('fs');
const output = solc.compile(fs.readFileSync(process.argv[3], 'utf8'));
const compiled = process.hrtime.bigint();
fs.writeFileSync(process.argv[4], output);
console.log(JSON.stringify({ load_ns: Number(loaded - start), compile_ns: Number(compiled - loaded) }));
"#;

/// solc-js in a Node process on the same input: the whole process is timed,
/// as a user running a Node-based build would wait for it.
fn solcjs_compile(
    cache: &Path,
    version: &semver::Version,
    input: &Path,
    work: &Path,
) -> Result<NodeRun, String> {
    let node_dir = cache.join(format!("solcjs-{version}"));
    let package = node_dir.join("node_modules/solc");
    if !package.join("package.json").is_file() {
        std::fs::create_dir_all(&node_dir).map_err(|e| e.to_string())?;
        let status = Command::new("npm")
            .args(["install", "--silent", "--no-save", "--prefix"])
            .arg(&node_dir)
            .arg(format!("solc@{version}"))
            .status()
            .map_err(|e| format!("npm is not usable: {e}"))?;
        if !status.success() {
            return Err(format!("npm install solc@{version} failed ({status})"));
        }
    }
    let script = work.join("solcjs.js");
    let output_path = work.join("solcjs-output.json");
    std::fs::write(&script, NODE_SCRIPT).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let run = Command::new("node")
        .arg(&script)
        .arg(&package)
        .arg(input)
        .arg(&output_path)
        .output()
        .map_err(|e| format!("node is not usable: {e}"))?;
    let wall = started.elapsed();
    if !run.status.success() {
        return Err(format!(
            "node failed: {}",
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    let times: Value = serde_json::from_slice(&run.stdout).map_err(|e| e.to_string())?;
    let nanos = |key: &str| Duration::from_nanos(times[key].as_u64().unwrap_or(0));
    let text = std::fs::read_to_string(&output_path).map_err(|e| e.to_string())?;
    Ok(NodeRun {
        wall,
        load: nanos("load_ns"),
        compile: nanos("compile_ns"),
        output: serde_json::from_str(&text).map_err(|e| e.to_string())?,
    })
}

/// Every contract's creation and runtime bytecode in forja's artifacts must
/// equal solc-js's; returns how many contracts were compared.
fn compare_bytecode(project: &Project, node: &Value) -> Result<usize, Error> {
    let mut forja: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(project.out_dir()) {
        let entry = entry?;
        if entry.path().extension().is_none_or(|e| e != "json") {
            continue;
        }
        let artifact: Value = serde_json::from_slice(&std::fs::read(entry.path())?)?;
        let name = entry
            .path()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source = artifact["sourcePath"].as_str().unwrap_or("").to_string();
        let object = |v: &Value| {
            v.as_str()
                .unwrap_or("")
                .trim_start_matches("0x")
                .to_string()
        };
        forja.insert(
            (source, name),
            (
                object(&artifact["bytecode"]["object"]),
                object(&artifact["deployedBytecode"]["object"]),
            ),
        );
    }
    let mut compared = 0;
    let contracts = node["contracts"]
        .as_object()
        .ok_or("solc-js output has no contracts")?;
    for (source, by_name) in contracts {
        for (name, contract) in by_name.as_object().into_iter().flatten() {
            let evm = &contract["evm"];
            let expected = (
                evm["bytecode"]["object"].as_str().unwrap_or("").to_string(),
                evm["deployedBytecode"]["object"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
            let key = (source.clone(), name.clone());
            match forja.get(&key) {
                Some(actual) if *actual == expected => compared += 1,
                Some(_) => {
                    return Err(format!("{source}:{name}: bytecode differs from solc-js").into());
                }
                None => return Err(format!("{source}:{name}: no forja artifact").into()),
            }
        }
    }
    Ok(compared)
}
