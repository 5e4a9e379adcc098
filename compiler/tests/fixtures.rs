//! The fixture projects in `tests/fixtures` (an external and an internal
//! library, immutables, via-IR; optimizer on and off) built through the build
//! API with the wasm solc, and that solc's output compared with solc-js's
//! under Node on the identical standard-JSON input.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use std::path::{Path, PathBuf};
use std::process::Command;

use forja_compiler::solc::SolcManager;
use forja_compiler::{BuildOptions, Project, build, standard_json_inputs};
use semver::Version;
use serde_json::Value;

const FIXTURES: [&str; 3] = ["libraries", "immutables", "via-ir"];

fn test_home() -> PathBuf {
    std::env::var_os("FORJA_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/forja-home")))
}

/// A copy of a fixture project, so builds never write into the source tree.
fn fixture(name: &str) -> (tempfile::TempDir, Project) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.unwrap();
        let target = dir.path().join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let project = Project::load(dir.path()).unwrap();
    (dir, project)
}

fn artifact(project: &Project, file: &str, contract: &str) -> Value {
    let path = project
        .out_dir()
        .join(file)
        .join(format!("{contract}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn fixtures_build_with_the_wasm_solc() {
    let manager = SolcManager::with_home(test_home());

    let (_dir, project) = fixture("libraries");
    let output = build(&project, &BuildOptions::default(), &manager, &|_| {}).unwrap();
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    let vault = artifact(&project, "Vault.sol", "Vault");
    let links = &vault["bytecode"]["linkReferences"]["src/MathLib.sol"]["MathLib"];
    assert!(
        links.as_array().is_some_and(|l| !l.is_empty()),
        "Vault links MathLib: {}",
        vault["bytecode"]["linkReferences"]
    );
    assert!(
        vault["bytecode"]["object"]
            .as_str()
            .unwrap()
            .contains("__$")
    );
    assert!(vault["metadata"]["settings"]["optimizer"]["enabled"] == true);
    let math = artifact(&project, "MathLib.sol", "MathLib");
    assert!(math["deployedBytecode"]["object"].as_str().unwrap().len() > 2);

    let (_dir, project) = fixture("immutables");
    let output = build(&project, &BuildOptions::default(), &manager, &|_| {}).unwrap();
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    let token = artifact(&project, "Token.sol", "Token");
    let immutables = token["deployedBytecode"]["immutableReferences"]
        .as_object()
        .expect("immutable references");
    assert_eq!(immutables.len(), 3, "owner, decimals, salt: {immutables:?}");
    assert!(token["metadata"]["settings"]["optimizer"]["enabled"] == false);
    assert_eq!(
        token["compiler"]["version"]
            .as_str()
            .unwrap()
            .split('+')
            .next(),
        Some("0.8.30")
    );

    let (_dir, project) = fixture("via-ir");
    let output = build(&project, &BuildOptions::default(), &manager, &|_| {}).unwrap();
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    let registry = artifact(&project, "Registry.sol", "Registry");
    assert!(registry["metadata"]["settings"]["viaIR"] == true);
    assert!(
        registry["methodIdentifiers"]["register(string)"].is_string(),
        "{}",
        registry["methodIdentifiers"]
    );
}

#[test]
fn wasm_output_equals_solcjs_under_node() {
    let solcjs = match solcjs(&Version::new(0, 8, 30)) {
        Ok(solcjs) => solcjs,
        Err(reason) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true and solc-js cannot run under Node: {reason}"
            );
            eprintln!("skipped: cannot run solc-js under Node ({reason})");
            return;
        }
    };
    let manager = SolcManager::with_home(test_home());
    for name in FIXTURES {
        let (dir, project) = fixture(name);
        let inputs = standard_json_inputs(&project, &BuildOptions::default(), &manager).unwrap();
        assert_eq!(inputs.len(), 1, "{name}: one unit");
        let (version, input) = &inputs[0];
        let forja: Value = serde_json::from_str(
            &manager
                .load(version, &|_| {})
                .unwrap()
                .compile_standard_json(input)
                .unwrap(),
        )
        .unwrap();
        let node = solcjs.compile(dir.path(), input);
        assert!(
            forja["contracts"]
                .as_object()
                .is_some_and(|c| !c.is_empty()),
            "{name}: {forja}"
        );
        assert_eq!(forja, node, "{name}: forja's output differs from solc-js");
    }
}

struct SolcJs {
    package: PathBuf,
}

impl SolcJs {
    fn compile(&self, work: &Path, input: &str) -> Value {
        let input_path = work.join("solcjs-input.json");
        std::fs::write(&input_path, input).unwrap();
        let output = Command::new("node")
            .arg("-e")
            .arg(
                "const solc = require(process.argv[1]); const fs = require('fs');\
                 process.stdout.write(solc.compile(fs.readFileSync(process.argv[2], 'utf8')));",
            )
            .arg(&self.package)
            .arg(&input_path)
            .output()
            .expect("node runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// npm's `solc` package of `version`, installed once into the target dir.
fn solcjs(version: &Version) -> Result<SolcJs, String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/solcjs-"))
        .with_file_name(format!("solcjs-{version}"));
    let package = prefix.join("node_modules/solc");
    if !package.join("package.json").is_file() {
        std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
        let status = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("solc@{version}"))
            .status()
            .map_err(|e| format!("npm is not usable: {e}"))?;
        if !status.success() {
            return Err(format!("npm install solc@{version} failed ({status})"));
        }
    }
    Ok(SolcJs { package })
}
