//! Shared helpers of the integration tests: compiling fixture projects.

#![allow(dead_code)]

use std::{path::Path, sync::Arc};

use forja_tester::ArtifactSet;

/// Directory of the fixture projects.
pub fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Compiles `src/` and `test/` of a fixture project (with forja-std
/// remapped) and returns its artifacts.
pub fn compile(project: &Path) -> Arc<ArtifactSet> {
    let std_dir = forja_tester::materialize_forja_std(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("forja-std"),
    )
    .expect("forja-std materialises");
    compile_with(project, &["src", "test"], &[("forja-std/", &std_dir)])
}

/// Compiles the `.sol` files under `dirs` of `project` with `remappings`.
pub fn compile_with(
    project: &Path,
    dirs: &[&str],
    remappings: &[(&str, &Path)],
) -> Arc<ArtifactSet> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut command = std::process::Command::new("node");
    command
        .env("NODE_PATH", solcjs_modules())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/compile.js"))
        .arg(project)
        .arg(out.path());
    for (prefix, target) in remappings {
        command.arg(format!("{prefix}={}/", target.display()));
    }
    command.arg(format!("--dirs={}", dirs.join(",")));
    let status = command.status().expect("node runs");
    assert!(status.success(), "fixture compiles");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path()).unwrap()).unwrap();
    Arc::new(ArtifactSet::from_solc_output(&json).unwrap())
}

/// `node_modules` holding npm `solc@0.8.30`, installed once into the target dir
/// (from the local tarball `/tmp/npm/solc-0.8.30.tgz` when present).
fn solcjs_modules() -> std::path::PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("solcjs");
    let modules = prefix.join("node_modules");
    if !modules.join("solc/package.json").exists() {
        std::fs::create_dir_all(&prefix).unwrap();
        let tarball = Path::new("/tmp/npm/solc-0.8.30.tgz");
        let spec = if tarball.exists() {
            tarball.display().to_string()
        } else {
            "solc@0.8.30".to_string()
        };
        let status = std::process::Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(spec)
            .status()
            .expect("npm runs");
        assert!(status.success(), "installing solc-js with npm failed");
    }
    modules
}
