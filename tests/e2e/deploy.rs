//! `forja deploy`, `promote`, `approve`, `audit verify` and `keys` against
//! real chains: `forja node` processes on loopback ports, one per
//! environment, each with its own chain id.
//!
//! Set `FORJA_E2E_ANVIL=/path/to/anvil` to run the same tests against anvil
//! instead. When neither is available the tests say so and skip.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};

use super::{assert_success, forja_home, text};

const MNEMONIC: &str = "test test test test test test test test test test test junk";

#[derive(Clone)]
enum NodeKind {
    Forja,
    Anvil(PathBuf),
}

/// Which chain the tests run against, or why they cannot run.
fn node_kind() -> Result<NodeKind, String> {
    if let Some(anvil) = std::env::var_os("FORJA_E2E_ANVIL") {
        return Ok(NodeKind::Anvil(anvil.into()));
    }
    let help = Command::new(env!("CARGO_BIN_EXE_forja"))
        .args(["node", "--help"])
        .output()
        .map_err(|e| format!("cannot run forja: {e}"))?;
    if help.status.success() {
        Ok(NodeKind::Forja)
    } else {
        Err("`forja node` is not available in this build (set FORJA_E2E_ANVIL=/path/to/anvil to run against anvil)".into())
    }
}

macro_rules! require_node {
    () => {
        match node_kind() {
            Ok(kind) => kind,
            Err(reason) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true and no node to deploy to: {reason}"
                );
                eprintln!("skipped: {reason}");
                return;
            }
        }
    };
}

/// A chain on a loopback port; killed when dropped.
struct Node {
    kind: NodeKind,
    child: Child,
    port: u16,
    chain_id: u64,
    data_dir: PathBuf,
}

impl Node {
    fn start(kind: &NodeKind, chain_id: u64, data_dir: &Path) -> Self {
        Self::start_on(kind, chain_id, data_dir, 0)
    }

    fn start_on(kind: &NodeKind, chain_id: u64, data_dir: &Path, port: u16) -> Self {
        Self::spawn(kind, chain_id, data_dir, port, true, true)
    }

    /// A chain kept in memory only, so that `anvil_setCode` is allowed.
    fn start_in_memory(kind: &NodeKind, chain_id: u64, dir: &Path) -> Self {
        Self::spawn(kind, chain_id, dir, 0, true, false)
    }

    /// A `forja node` that makes blocks only when transactions arrive (its
    /// default).
    fn start_idle(chain_id: u64, data_dir: &Path) -> Self {
        Self::spawn(&NodeKind::Forja, chain_id, data_dir, 0, false, true)
    }

    fn spawn(
        kind: &NodeKind,
        chain_id: u64,
        data_dir: &Path,
        port: u16,
        periodic: bool,
        persist: bool,
    ) -> Self {
        std::fs::create_dir_all(data_dir).unwrap();
        let mut command = match kind {
            NodeKind::Forja => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_forja"));
                c.arg("node");
                // Blocks every second (not only on demand) so that
                // confirmations > 1 complete; run from the data directory
                // so no ./network.toml is picked up.
                if periodic {
                    c.args(["--block-period", "1"]);
                }
                c.current_dir(data_dir).env("FORJA_HOME", forja_home());
                if persist {
                    c.arg("--data-dir").arg(data_dir);
                }
                c
            }
            NodeKind::Anvil(path) => {
                let mut c = Command::new(path);
                // One block a second so that confirmations > 1 complete;
                // the state file survives restarts as a data dir does.
                c.args(["--block-time", "1"])
                    .arg("--state")
                    .arg(data_dir.join("state.json"));
                c
            }
        };
        command
            .args([
                "--port",
                &port.to_string(),
                "--chain-id",
                &chain_id.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the node starts");
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines_tx = lines_tx.clone();
            // Keeps draining the pipe for the node's whole life.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = lines_tx.send(line);
                }
            });
        }
        drop(lines_tx); // the readers hold the only senders: EOF ends the wait
        let mut seen = Vec::new();
        let port = loop {
            match lines_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(port) = listening_port(&line) {
                        break port;
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "the node printed no listening address:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        Self {
            kind: kind.clone(),
            child,
            port,
            chain_id,
            data_dir: data_dir.to_path_buf(),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the node as an operator's Ctrl-C or a supervisor would
    /// (SIGINT), whatever it was doing. anvil writes its --state file only
    /// then; a SIGKILL'd `forja node` currently cannot reopen its data dir
    /// ("node store … is corrupt: block N does not extend block N-1").
    fn kill(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return; // already gone
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts again on the same port and data directory.
    fn restart(&mut self) {
        self.kill();
        let again = Node::start_on(&self.kind, self.chain_id, &self.data_dir, self.port);
        let old = std::mem::replace(self, again);
        std::mem::forget(old); // already dead and reaped
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `127.0.0.1:PORT` (or `localhost:PORT`) in a line the node prints.
fn listening_port(line: &str) -> Option<u16> {
    for host in ["127.0.0.1:", "localhost:", "0.0.0.0:"] {
        if let Some(at) = line.find(host) {
            let digits: String = line[at + host.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(port) = digits.parse::<u16>()
                && port != 0
            {
                return Some(port);
            }
        }
    }
    None
}

fn dev_key(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase(MNEMONIC)
        .index(index)
        .unwrap()
        .build()
        .unwrap()
}

fn key_hex(key: &PrivateKeySigner) -> String {
    format!("0x{}", alloy::hex::encode(key.credential().to_bytes()))
}

/// Runs forja with extra environment variables.
fn forja_with(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_forja"));
    command
        .args(args)
        .current_dir(dir)
        .env("FORJA_HOME", forja_home())
        .env("NO_COLOR", "1");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("forja runs")
}

#[track_caller]
fn assert_refused(output: &Output, expected: &str) {
    assert!(
        !output.status.success(),
        "expected a refusal, forja succeeded:\n{}",
        text(output)
    );
    assert!(
        text(output).contains(expected),
        "expected `{expected}` in:\n{}",
        text(output)
    );
}

fn commit_all(dir: &Path, message: &str) -> String {
    let repo = git2::Repository::open(dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("forja e2e", "e2e@example.org").unwrap();
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[&parent])
        .unwrap()
        .to_string()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

async fn nonce_and_code(url: &str, account: Address, contracts: &[Address]) -> (u64, Vec<usize>) {
    let provider = ProviderBuilder::new().connect_http(url.parse().unwrap());
    let nonce = provider.get_transaction_count(account).await.unwrap();
    let mut sizes = Vec::new();
    for address in contracts {
        sizes.push(provider.get_code_at(*address).await.unwrap().len());
    }
    (nonce, sizes)
}

fn chain_state(url: &str, account: Address, contracts: &[Address]) -> (u64, Vec<usize>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(nonce_and_code(url, account, contracts))
}

/// The release id `forja release` prints (`Created release <id> (…`).
fn release_id(output: &Output) -> String {
    let all = text(output);
    let line = all
        .lines()
        .find(|l| l.starts_with("Created release "))
        .unwrap_or_else(|| panic!("no release line in:\n{all}"));
    line["Created release ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

/// Runs the git CLI, as the team and the CI script do.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=forja e2e",
            "-c",
            "user.email=e2e@example.org",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git is installed (these tests drive it as a team does)");
    assert!(
        output.status.success(),
        "git {args:?} failed:\n{}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A project from the basic template wired to the given environments.
fn project(tmp: &Path, environments: &str) -> PathBuf {
    assert_success(&super::forja(tmp, &["new", "app"]));
    let root = tmp.join("app");
    let config = std::fs::read_to_string(root.join("forja.toml")).unwrap();
    let head = &config[..config.find("[environments.dev]").unwrap()];
    std::fs::write(root.join("forja.toml"), format!("{head}{environments}")).unwrap();
    root
}

/// Replaces the code at `address` through the dev node's `anvil_setCode`.
fn set_code(url: &str, address: Address, code: &[u8]) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let provider = ProviderBuilder::new().connect_http(url.parse().unwrap());
            let _: serde_json::Value = provider
                .raw_request(
                    "anvil_setCode".into(),
                    (address, format!("0x{}", alloy::hex::encode(code))),
                )
                .await
                .unwrap();
        });
}

fn code_at(url: &str, address: Address) -> Vec<u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let provider = ProviderBuilder::new().connect_http(url.parse().unwrap());
            provider.get_code_at(address).await.unwrap().to_vec()
        })
}

/// The flow as a team lives it: deploy to dev, commit the records, make
/// the release, two approvers approve from their own clones and the clones
/// are merged, then a fresh clone (no out/, no cache) runs the template's
/// CI steps to promote to preprod and prod. Every bypass on the way is
/// refused naming its gate.
#[test]
fn a_release_goes_from_dev_to_prod_through_every_gate() {
    let kind = require_node!();
    let tmp = tempfile::tempdir().unwrap();
    let dev = Node::start_in_memory(&kind, 31337, &tmp.path().join("dev-chain"));
    let preprod = Node::start(&kind, 31338, &tmp.path().join("preprod-chain"));
    let prod = Node::start(&kind, 31339, &tmp.path().join("prod-chain"));

    let (preprod_deployer, prod_deployer) = (dev_key(1), dev_key(2));
    let (approver_a, approver_b, outsider) = (dev_key(3), dev_key(4), dev_key(5));
    let environments = format!(
        r#"[environments.dev]
rpc_url = "{dev}"
chain_id = 31337

[environments.preprod]
rpc_url = "{preprod}"
chain_id = 31338
signer = {{ keystore = "keys/preprod-deployer.json", password_env = "FORJA_KEYSTORE_PASSWORD" }}
confirmations = 2
promote_from = "dev"
approvals = {{ required = 1, approvers = ["{a}"] }}

[environments.prod]
rpc_url = "{prod}"
chain_id = 31339
signer = {{ private_key_env = "E2E_PROD_KEY" }}
gas = {{ type = "legacy" }}
promote_from = "preprod"
approvals = {{ required = 2, approvers = ["{a}", "{b}"] }}

[environments.wrongchain]
rpc_url = "{dev}"
chain_id = 4242
signer = {{ dev_account = 0 }}
"#,
        dev = dev.url(),
        preprod = preprod.url(),
        prod = prod.url(),
        a = approver_a.address(),
        b = approver_b.address(),
    );
    let root = project(tmp.path(), &environments);
    std::fs::write(
        root.join("deploy.toml"),
        "[[contracts]]\nname = \"Counter\"\nargs = [5]\n\n[[calls]]\ncontract = \"Counter\"\nfunction = \"setNumber\"\nargs = [7]\n",
    )
    .unwrap();

    // The preprod deployer's key is committed encrypted; CI has its password.
    let password = "correct horse battery staple";
    let preprod_hex = key_hex(&preprod_deployer);
    let keys_dir = root.join("keys");
    let import = forja_with(
        &root,
        &[
            "keys",
            "import",
            "preprod-deployer",
            "--private-key-env",
            "E2E_IMPORT_KEY",
            "--dir",
            keys_dir.to_str().unwrap(),
        ],
        &[
            ("E2E_IMPORT_KEY", &preprod_hex),
            ("FORJA_KEYSTORE_PASSWORD", password),
        ],
    );
    assert_success(&import);
    let listed = forja_with(
        &root,
        &["keys", "list", "--dir", keys_dir.to_str().unwrap()],
        &[],
    );
    assert!(
        text(&listed).contains(&preprod_deployer.address().to_string()),
        "{}",
        text(&listed)
    );
    for output in [&import, &listed] {
        assert!(
            !text(output).contains(&preprod_hex[2..]),
            "a key was printed"
        );
        assert!(!text(output).contains(password), "a password was printed");
    }
    let commit = commit_all(&root, "environments, deployer keystore");
    let prod_hex = key_hex(&prod_deployer);
    let vars = [
        ("FORJA_KEYSTORE_PASSWORD", password),
        ("E2E_PROD_KEY", prod_hex.as_str()),
    ];
    let run = |args: &[&str]| forja_with(&root, args, &vars);

    // A filtered run is recorded as such and is no evidence.
    assert_success(&run(&["test", "--match-test", "test_Increment"]));
    let report = json(&root.join("cache/test-report.json"));
    assert_eq!(report["filters"][0], "--match-test test_Increment");
    assert_refused(&run(&["release"]), "gate `test evidence` refused");
    assert_success(&run(&["test"]));
    assert_eq!(json(&root.join("cache/test-report.json"))["commit"], commit);

    assert_refused(
        &run(&["deploy", "--env", "wrongchain"]),
        "expects chain id 4242, but",
    );
    let deployed = run(&["deploy", "--env", "dev"]);
    assert_success(&deployed);
    assert!(
        text(&deployed).contains("on-chain code matches the artifact"),
        "{}",
        text(&deployed)
    );
    let counter: Address = json(&root.join("deployments/dev.json"))["contracts"][0]["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Prod takes code only through `forja promote`, --redeploy or not.
    for args in [
        &["deploy", "--env", "prod"][..],
        &["deploy", "--env", "prod", "--redeploy", "Counter"],
    ] {
        assert_refused(&run(args), "gate `promote-only` refused");
    }
    assert!(!root.join("deployments/prod.json").exists());

    // Committing the records does not stop the tested commit being released.
    commit_all(&root, "dev records");
    let made = run(&["release"]);
    assert_success(&made);
    let id = release_id(&made);
    let bundle = root.join("releases").join(&id);
    let release = json(&bundle.join("release.json"));
    assert_eq!(release["content"]["commit"], commit);
    assert_eq!(release["content"]["evidence"]["passed"], 4);
    for file in [
        "deploy.toml",
        "test-report.json",
        "artifacts/Counter.sol/Counter.json",
    ] {
        assert!(bundle.join(file).is_file(), "{file} is in the bundle");
    }
    let again = run(&["release"]);
    assert!(
        text(&again).contains(&format!("Already have release {id}")),
        "{}",
        text(&again)
    );
    commit_all(&root, "release");

    // A tampered bundle artifact is refused before anything else is looked at.
    let artifact = bundle.join("artifacts/Counter.sol/Counter.json");
    let saved = std::fs::read(&artifact).unwrap();
    std::fs::write(
        &artifact,
        String::from_utf8_lossy(&saved).replacen("0x60", "0x61", 1),
    )
    .unwrap();
    assert_refused(
        &run(&["promote", "--to", "preprod"]),
        "gate `bundle` refused",
    );
    std::fs::write(&artifact, &saved).unwrap();
    assert_refused(
        &run(&["promote", "--to", "preprod"]),
        "gate `approvals` refused",
    );

    // Two approvers, each in their own clone, approve by commit; an outsider cannot.
    let clones: Vec<PathBuf> = ["alice", "bob"]
        .iter()
        .map(|name| {
            let clone = tmp.path().join(name);
            git(
                tmp.path(),
                &[
                    "clone",
                    "-q",
                    root.to_str().unwrap(),
                    clone.to_str().unwrap(),
                ],
            );
            clone
        })
        .collect();
    let approve = |clone: &Path, key: &PrivateKeySigner, env: &str| {
        forja_with(
            clone,
            &[
                "approve",
                "--release",
                &id,
                "--env",
                env,
                "--private-key-env",
                "K",
            ],
            &[("K", &key_hex(key))],
        )
    };
    assert_refused(
        &approve(&clones[1], &outsider, "prod"),
        "is not an approver of `prod`",
    );
    assert_success(&approve(&clones[0], &approver_a, "preprod"));
    assert_success(&approve(&clones[0], &approver_a, "prod"));
    let first = approve(&clones[1], &approver_b, "prod");
    assert!(
        text(&first).contains("1/2 approval(s) for `prod`"),
        "{}",
        text(&first)
    );
    let duplicate = approve(&clones[1], &approver_b, "prod");
    assert!(
        text(&duplicate).contains("had already approved") && text(&duplicate).contains("still 1/2"),
        "{}",
        text(&duplicate)
    );
    for clone in &clones {
        git(clone, &["add", "releases"]);
        git(clone, &["commit", "-q", "-m", "approval"]);
        git(
            &root,
            &[
                "pull",
                "-q",
                "--no-rebase",
                "--no-edit",
                clone.to_str().unwrap(),
                "HEAD",
            ],
        );
    }
    assert_eq!(
        std::fs::read_dir(bundle.join("approvals")).unwrap().count(),
        3,
        "both clones' approvals are merged"
    );

    // The source chain must run the release's code.
    let original = code_at(&dev.url(), counter);
    let mut altered = original.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0xff;
    set_code(&dev.url(), counter, &altered);
    let refused = run(&["promote", "--to", "preprod"]);
    assert_refused(&refused, "gate `source chain` refused");
    assert!(
        text(&refused).contains("differs from the artifact"),
        "{}",
        text(&refused)
    );
    set_code(&dev.url(), counter, &original);

    // A fresh clone runs the template's CI steps: no out/, no test cache.
    let fresh = tmp.path().join("ci");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            root.to_str().unwrap(),
            fresh.to_str().unwrap(),
        ],
    );
    assert!(!fresh.join("out").exists() && !fresh.join("cache").exists());
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_forja")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ci = |args: &[&str]| {
        let output = Command::new("sh")
            .arg("ci/forja.sh")
            .args(args)
            .current_dir(&fresh)
            .env("PATH", &path)
            .env("FORJA_HOME", forja_home())
            .env("NO_COLOR", "1")
            .envs(vars)
            .output()
            .expect("sh runs");
        assert_success(&output);
        output
    };
    let promoted = ci(&["promote", "preprod"]);
    for gate in [
        "audit log",
        "bundle",
        "test evidence",
        "approvals",
        "source chain",
    ] {
        assert!(
            text(&promoted).contains(&format!("gate `{gate}` passed")),
            "{}",
            text(&promoted)
        );
    }
    assert!(
        !fresh.join("out").exists(),
        "the bundle was deployed, nothing was built"
    );
    let preprod_record = json(&fresh.join("deployments/preprod.json"));
    assert_eq!(preprod_record["release"], id.as_str());
    assert_eq!(
        preprod_record["contracts"][0]["deployer"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        preprod_deployer.address().to_string().to_lowercase()
    );

    // An audit log cut short stops the next promotion.
    let log_path = fresh.join("deployments/audit.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    std::fs::write(
        &log_path,
        format!("{}\n", lines[..lines.len() - 1].join("\n")),
    )
    .unwrap();
    assert_refused(
        &forja_with(&fresh, &["promote", "--to", "prod"], &vars),
        "gate `audit log` refused",
    );
    std::fs::write(&log_path, &log).unwrap();

    ci(&["promote", "prod"]);
    let prod_record = json(&fresh.join("deployments/prod.json"));
    let prod_counter: Address = prod_record["contracts"][0]["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (prod_nonce, code) = chain_state(&prod.url(), prod_deployer.address(), &[prod_counter]);
    assert_eq!(prod_nonce, 2, "one deployment and one call on prod");
    assert!(code[0] > 0);
    let promotion = json(&fresh.join(format!("releases/{id}/promotions/prod.json")));
    assert_eq!(promotion["approvers"].as_array().unwrap().len(), 2);
    let repo = git2::Repository::open(&fresh).unwrap();
    let tag = repo
        .find_reference(&format!("refs/tags/forja/prod/{id}"))
        .unwrap()
        .peel_to_tag()
        .expect("an annotated tag");
    assert_eq!(tag.target_id().to_string(), commit);
    assert!(tag.message().unwrap().unwrap().contains("audit-head: "));
    assert!(
        git(&fresh, &["status", "--porcelain"]).trim().is_empty(),
        "the CI script committed the records"
    );
    let rerun = forja_with(&fresh, &["promote", "--to", "prod"], &vars);
    assert!(
        text(&rerun).contains("Nothing to promote"),
        "{}",
        text(&rerun)
    );

    // The CI test job passes in the same clone.
    ci(&["test"]);

    // The audit log verifies; cut short or rewritten, it does not.
    let verified = forja_with(&fresh, &["audit", "verify"], &[]);
    assert_success(&verified);
    assert!(
        text(&verified).contains("4 entries") && text(&verified).contains("0 exception(s)"),
        "{}",
        text(&verified)
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    std::fs::write(&log_path, format!("{}\n", lines[..2].join("\n"))).unwrap();
    assert_refused(
        &forja_with(&fresh, &["audit", "verify"], &[]),
        "removed from its end",
    );
    std::fs::remove_file(&log_path).unwrap();
    for env in ["dev", "release", "preprod", "prod"] {
        forja_deploy::audit::append(
            &fresh,
            "deploy",
            env,
            None,
            None,
            "0x0".into(),
            serde_json::Value::Null,
        )
        .unwrap();
    }
    assert_refused(
        &forja_with(&fresh, &["audit", "verify"], &[]),
        "the log was rewritten",
    );
}

/// A dev chain that was reset is deployed to again; any other environment
/// says what is wrong instead.
#[test]
fn a_reset_chain_is_redeployed_on_dev_and_reported_elsewhere() {
    let kind = require_node!();
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("chain");
    let mut node = Node::start(&kind, 31343, &data_dir);
    let prod_hex = key_hex(&dev_key(6));
    let root = project(
        tmp.path(),
        &format!(
            "[environments.dev]\nrpc_url = \"{url}\"\nchain_id = 31343\n\n[environments.staging]\nrpc_url = \"{url}\"\nchain_id = 31343\nsigner = {{ private_key_env = \"E2E_KEY\" }}\n",
            url = node.url()
        ),
    );
    let vars = [("E2E_KEY", prod_hex.as_str())];
    assert_success(&forja_with(&root, &["deploy", "--env", "dev"], &vars));
    assert_success(&forja_with(
        &root,
        &["deploy", "--env", "staging", "--no-build"],
        &vars,
    ));

    // The chain is thrown away and started afresh on the same port.
    node.kill();
    std::fs::remove_dir_all(&data_dir).unwrap();
    let port = node.port;
    let _old = std::mem::replace(&mut node, Node::start_on(&kind, 31343, &data_dir, port));

    let again = forja_with(&root, &["deploy", "--env", "dev", "--no-build"], &vars);
    assert_success(&again);
    assert!(
        text(&again).contains("the chain has no code there; deploying it again"),
        "{}",
        text(&again)
    );
    let counter: Address = json(&root.join("deployments/dev.json"))["contracts"][0]["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(!code_at(&node.url(), counter).is_empty());

    let refused = forja_with(&root, &["deploy", "--env", "staging", "--no-build"], &vars);
    assert_refused(&refused, "records contracts that `staging`");
    assert!(
        text(&refused).contains("the chain has no code there"),
        "{}",
        text(&refused)
    );
}

/// On a chain that makes blocks only for transactions, waiting for a second
/// confirmation times out with the reason and the way out.
#[test]
fn a_confirmation_wait_on_an_idle_chain_says_why() {
    let kind = require_node!();
    if !matches!(kind, NodeKind::Forja) {
        return; // anvil's on-demand mode is not what this is about
    }
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start_idle(31344, &tmp.path().join("chain"));
    let root = project(
        tmp.path(),
        &format!(
            "[environments.dev]\nrpc_url = \"{}\"\nchain_id = 31344\nconfirmations = 2\ntimeout_secs = 4\n",
            node.url()
        ),
    );
    let waited = forja_with(&root, &["deploy", "--env", "dev"], &[]);
    assert_refused(&waited, "only 1/2 confirmations after 4s");
    for expected in [
        "still waiting, no new block for",
        "forja node --block-period",
        "confirmations = 1",
    ] {
        assert!(
            text(&waited).contains(expected),
            "{expected}: {}",
            text(&waited)
        );
    }
}

#[derive(Clone, Copy)]
enum Interruption {
    /// The node goes down while a deployment is in flight.
    NodeDown,
    /// The deploy process itself is killed (SIGKILL) while one is in flight.
    DeployKilled,
}

#[test]
fn a_deploy_interrupted_by_the_node_going_down_resumes_without_duplicates() {
    let kind = require_node!();
    interrupted_deploy_resumes(kind, Interruption::NodeDown, 31340);
}

#[test]
fn a_deploy_process_killed_mid_deploy_resumes_without_duplicates() {
    let kind = require_node!();
    interrupted_deploy_resumes(kind, Interruption::DeployKilled, 31342);
}

fn interrupted_deploy_resumes(kind: NodeKind, interruption: Interruption, chain_id: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = Node::start(&kind, chain_id, &tmp.path().join("chain"));
    let root = project(
        tmp.path(),
        &format!(
            "[environments.dev]\nrpc_url = \"{}\"\nchain_id = {chain_id}\nconfirmations = 2\n",
            node.url()
        ),
    );
    std::fs::write(
        root.join("deploy.toml"),
        r#"[[contracts]]
name = "First"
artifact = "Counter"
args = [1]
[[contracts]]
name = "Second"
artifact = "Counter"
args = [2]
[[contracts]]
name = "Third"
artifact = "Counter"
args = [3]
"#,
    )
    .unwrap();
    commit_all(&root, "three counters");
    assert_success(&forja_with(&root, &["build"], &[]));

    // Interrupt once the second deployment is journaled and sent.
    let mut deploy = Command::new(env!("CARGO_BIN_EXE_forja"))
        .args(["deploy", "--env", "dev", "--no-build"])
        .current_dir(&root)
        .env("FORJA_HOME", forja_home())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(deploy.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines().map_while(Result::ok) {
        let sent_second = line.contains("deployment of Second: sent tx");
        seen.push(line);
        if sent_second {
            match interruption {
                Interruption::NodeDown => node.kill(),
                Interruption::DeployKilled => deploy.kill().unwrap(),
            }
            break;
        }
    }
    let interrupted = deploy.wait_with_output().unwrap();
    assert!(
        !interrupted.status.success(),
        "the deploy fails while the node is down:\n{}",
        seen.join("\n")
    );

    if let Interruption::NodeDown = interruption {
        node.restart();
    }
    let resumed = forja_with(&root, &["deploy", "--env", "dev", "--no-build"], &[]);
    assert_success(&resumed);
    assert!(
        text(&resumed).contains("resuming the deployment of Second"),
        "{}",
        text(&resumed)
    );
    assert!(!root.join("deployments/.journal-dev.json").exists());

    let record = json(&root.join("deployments/dev.json"));
    let addresses: BTreeMap<String, Address> = record["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["address"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(addresses.len(), 3);
    let deployer = dev_key(0).address();
    let (nonce, code) = chain_state(
        &node.url(),
        deployer,
        &addresses.values().copied().collect::<Vec<_>>(),
    );
    assert_eq!(
        nonce, 3,
        "exactly three transactions: nothing was deployed twice"
    );
    assert!(
        code.iter().all(|len| *len > 0),
        "every recorded contract has code"
    );

    let again = forja_with(&root, &["deploy", "--env", "dev", "--no-build"], &[]);
    assert!(
        text(&again).contains("Nothing to deploy"),
        "{}",
        text(&again)
    );
}

#[test]
fn a_changed_contract_is_listed_and_needs_redeploy() {
    let kind = require_node!();
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&kind, 31341, &tmp.path().join("chain"));
    let root = project(
        tmp.path(),
        &format!(
            "[environments.dev]\nrpc_url = \"{}\"\nchain_id = 31341\n",
            node.url()
        ),
    );
    assert_success(&forja_with(&root, &["deploy", "--env", "dev"], &[]));
    let first: Address = json(&root.join("deployments/dev.json"))["contracts"][0]["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let source = root.join("src/Counter.sol");
    let changed = std::fs::read_to_string(&source)
        .unwrap()
        .replace("number = initial;", "number = initial + 1;");
    std::fs::write(&source, changed).unwrap();
    let refused = forja_with(&root, &["deploy", "--env", "dev"], &[]);
    assert_refused(&refused, "Counter (deployed at");
    assert!(
        text(&refused).contains("runtime code") && text(&refused).contains("--redeploy"),
        "{}",
        text(&refused)
    );

    assert_success(&forja_with(
        &root,
        &["deploy", "--env", "dev", "--redeploy", "Counter"],
        &[],
    ));
    let second: Address = json(&root.join("deployments/dev.json"))["contracts"][0]["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(first, second);
    assert_refused(
        &forja_with(
            &root,
            &["deploy", "--env", "dev", "--redeploy", "Nope"],
            &[],
        ),
        "no contract named Nope",
    );
}
