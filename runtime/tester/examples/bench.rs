//! Benchmark of the test executor: per-test overhead and suite wall times.
//!
//! `cargo run -p forja-tester --example bench [-- <solmate project dir>]`
//!
//! Compiles with solc-js through `node` (`tests/support/compile.js`; needs npm
//! `solc` on `NODE_PATH`) until forja-compiler's build API lands. Prints
//! figures; asserts nothing about time.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::Instant,
};

use forja_tester::{
    ArtifactSet,
    report::{TestKind, TestRunReport},
    runner::{TestConfig, run_tests},
};

fn compile(project: &Path, dirs: &str, remappings: &[(String, PathBuf)]) -> Arc<ArtifactSet> {
    let script = std::env::var("FORJA_SOLCJS_COMPILE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/compile.js").into()
    });
    let out = std::env::temp_dir().join(format!("forja-bench-{}.json", std::process::id()));
    let mut command = Command::new("node");
    command.arg(&script).arg(project).arg(&out);
    for (prefix, dir) in remappings {
        command.arg(format!("{prefix}={}/", dir.display()));
    }
    command.arg(format!("--dirs={dirs}"));
    let status = command.status().expect("node runs");
    assert!(
        status.success(),
        "compilation of {} failed",
        project.display()
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(out);
    Arc::new(ArtifactSet::from_solc_output(&json).unwrap())
}

fn total_tests(report: &TestRunReport) -> usize {
    report.suites.iter().map(|s| s.tests.len()).sum()
}

fn main() {
    let tmp = std::env::temp_dir().join(format!("forja-bench-project-{}", std::process::id()));
    let std_dir = forja_tester::materialize_forja_std(&tmp.join("std")).unwrap();
    let remap = vec![("forja-std/".to_string(), std_dir.clone())];

    // 1. Per-test overhead: many trivial tests in several contracts.
    let project = tmp.join("trivial");
    std::fs::create_dir_all(project.join("test")).unwrap();
    for file in 0..4 {
        let mut source = String::from(
            "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\nimport {Test} from \"forja-std/Test.sol\";\n",
        );
        source.push_str(&format!("contract Trivial{file}Test is Test {{\n    uint256 x;\n    function setUp() public {{ x = 1; }}\n"));
        for i in 0..100 {
            source.push_str(&format!(
                "    function test{i}() public {{ x += {i}; assertGt(x, 0); }}\n"
            ));
        }
        source.push_str("}\n");
        std::fs::write(project.join(format!("test/Trivial{file}.t.sol")), source).unwrap();
    }
    let artifacts = compile(&project, "test", &remap);
    for threads in [1, 0] {
        let config = TestConfig {
            threads,
            ..Default::default()
        };
        // Warm-up, then measure.
        run_tests(artifacts.clone(), &config, &|_| {});
        let started = Instant::now();
        let report = run_tests(artifacts.clone(), &config, &|_| {});
        let wall = started.elapsed();
        let n = total_tests(&report);
        let summed: f64 = report
            .suites
            .iter()
            .flat_map(|s| &s.tests)
            .map(|t| t.duration.as_secs_f64())
            .sum();
        println!(
            "trivial: {n} tests, threads={} wall {wall:.2?}, {:.1} µs/test wall, {:.1} µs/test mean test time",
            if threads == 0 {
                "all".to_string()
            } else {
                threads.to_string()
            },
            wall.as_secs_f64() * 1e6 / n as f64,
            summed * 1e6 / n as f64
        );
    }

    // 2. The fixture project (cheatcodes, fuzz, invariants), per suite.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/project");
    let artifacts = compile(&fixtures, "src,test", &remap);
    let config = TestConfig {
        fuzz_seed: Some(1),
        invariant_runs: 64,
        invariant_depth: 64,
        ..Default::default()
    };
    let started = Instant::now();
    let report = run_tests(artifacts, &config, &|_| {});
    println!(
        "fixtures: {} tests in {:.2?} (fuzz runs 256, invariant 64x64)",
        total_tests(&report),
        started.elapsed()
    );
    for suite in &report.suites {
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

    // 3. solmate, when a prepared project directory is given.
    if let Some(dir) = std::env::args().nth(1) {
        let ds_test = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ds-test");
        let artifacts = compile(Path::new(&dir), "src", &[("ds-test/".to_string(), ds_test)]);
        let config = TestConfig {
            fuzz_seed: Some(42),
            test_dir: "src/test".into(),
            invariant_runs: 32,
            invariant_depth: 32,
            ..Default::default()
        };
        let started = Instant::now();
        let report = run_tests(artifacts, &config, &|_| {});
        println!(
            "solmate: {} suites, {} tests ({} passed, {} failed) in {:.2?}",
            report.suites.len(),
            total_tests(&report),
            report.passed(),
            report.failed(),
            started.elapsed()
        );
    }
    let _ = std::fs::remove_dir_all(tmp);
}
