//! `forja coverage`'s measurement on a fixture whose coverage is known by
//! construction, compared with what forge 1.7.1 writes for it.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use std::{path::Path, sync::Arc};

use forja_compiler::{BuildOptions, Project, Remapping, solc::SolcManager};
use forja_tester::{
    ArtifactSet,
    config::TestConfig,
    coverage::{CoverageAnalysis, CoverageCollector, SourceFilter},
    runner::run_tests,
};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn lcov_of_the_fixture_is_forges() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixtures_dir().join("coverage"), dir.path());
    let project = Project::load(dir.path()).unwrap();
    // As `forja coverage` does: forja-std under the cache directory.
    let std_dir = forja_tester::materialize_forja_std(&project.cache_dir()).unwrap();
    let options = BuildOptions {
        extra_remappings: vec![Remapping {
            prefix: "forja-std/".into(),
            target: format!(
                "{}/",
                std_dir.strip_prefix(&project.root).unwrap().display()
            ),
        }],
        coverage: true,
        ..Default::default()
    };
    let solc = SolcManager::with_home(common::solc_home());
    let output = forja_compiler::build(&project, &options, &solc, &|_| {}).unwrap();
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    let out = project
        .root
        .join(forja_compiler::build::coverage_out_dir(&project));
    // The normal build's output is left alone.
    assert!(!project.out_dir().exists());

    let artifacts = Arc::new(ArtifactSet::load_foundry_out(&out).unwrap());
    let collector = Arc::new(CoverageCollector::default());
    let config = TestConfig {
        fuzz_seed: Some(1),
        coverage: Some(collector.clone()),
        ..Default::default()
    };
    let report = run_tests(artifacts, &config, &|_| {});
    assert_eq!((report.passed(), report.failed()), (3, 0));

    let filter = SourceFilter {
        libs: vec!["lib".into(), project.config.cache.clone()],
        include_libs: false,
        test_dir: "test".into(),
        exclude_tests: false,
    };
    let analysis = CoverageAnalysis::load(&project.root, &out, &filter).unwrap();
    let coverage = analysis.report(&collector.hits());
    let summaries = coverage.summaries();
    let files: Vec<&str> = summaries.iter().map(|(p, _)| p.as_str()).collect();
    // Not the test contract, not forja-std.
    assert_eq!(files, ["src/Bank.sol"]);
    let bank = summaries[0].1;
    assert_eq!(bank.lines, (15, 17));
    assert_eq!(bank.statements, (16, 17));
    assert_eq!(bank.branches, (3, 4));
    assert_eq!(bank.functions, (3, 4));
    // Byte for byte what forge 1.7.1 wrote for this project.
    insta::assert_snapshot!(coverage.lcov());
}
