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
        std::fs::create_dir_all(data_dir).unwrap();
        let mut command = match kind {
            NodeKind::Forja => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_forja"));
                // Blocks every second (not only on demand) so that
                // confirmations > 1 complete; run from the data directory
                // so no ./network.toml is picked up.
                c.args(["node", "--block-period", "1"])
                    .current_dir(data_dir)
                    .arg("--data-dir")
                    .arg(data_dir)
                    .env("FORJA_HOME", forja_home());
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
    format!("0x{}", hex::encode(key.credential().to_bytes()))
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

/// The release id `forja promote` prints (`Release <id>: …`).
fn release_id(output: &Output) -> String {
    let all = text(output);
    let line = all
        .lines()
        .find(|l| l.starts_with("Release "))
        .unwrap_or_else(|| panic!("no release line in:\n{all}"));
    line["Release ".len()..]
        .split(':')
        .next()
        .unwrap()
        .to_string()
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

#[test]
fn full_flow_from_dev_to_prod_through_every_gate() {
    let kind = require_node!();
    let tmp = tempfile::tempdir().unwrap();
    let dev = Node::start(&kind, 31337, &tmp.path().join("dev-chain"));
    let preprod = Node::start(&kind, 31338, &tmp.path().join("preprod-chain"));
    let prod = Node::start(&kind, 31339, &tmp.path().join("prod-chain"));

    let (preprod_deployer, prod_deployer) = (dev_key(1), dev_key(2));
    let (approver_a, approver_b, outsider) = (dev_key(3), dev_key(4), dev_key(5));
    let keys_dir = tmp.path().join("keys");
    let environments = format!(
        r#"[environments.dev]
rpc_url = "{dev}"
chain_id = 31337

[environments.preprod]
rpc_url = "{preprod}"
chain_id = 31338
signer = {{ keystore = "{keystore}" }}
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
        keystore = keys_dir.join("preprod-deployer.json").display(),
        a = approver_a.address(),
        b = approver_b.address(),
    );
    let root = project(tmp.path(), &environments);
    std::fs::write(
        root.join("deploy.toml"),
        r#"[[contracts]]
name = "Counter"
args = [5]

[[calls]]
contract = "Counter"
function = "setNumber"
args = [7]
"#,
    )
    .unwrap();
    let commit = commit_all(&root, "environments");

    // Keys: the preprod deployer's key goes into an encrypted keystore.
    let password = "correct horse battery staple";
    let preprod_hex = key_hex(&preprod_deployer);
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
    let created = forja_with(
        &root,
        &["keys", "new", "spare", "--dir", keys_dir.to_str().unwrap()],
        &[("FORJA_KEYSTORE_PASSWORD", password)],
    );
    assert_success(&created);
    let spare: serde_json::Value = json(&keys_dir.join("spare.json"));
    assert!(spare["crypto"]["kdf"] == "scrypt", "{spare}");
    let duplicate = forja_with(
        &root,
        &["keys", "new", "spare", "--dir", keys_dir.to_str().unwrap()],
        &[("FORJA_KEYSTORE_PASSWORD", password)],
    );
    assert_refused(&duplicate, "already exists");
    let listed = forja_with(
        &root,
        &["keys", "list", "--dir", keys_dir.to_str().unwrap()],
        &[],
    );
    assert_success(&listed);
    assert!(
        text(&listed).contains(&preprod_deployer.address().to_string()),
        "{}",
        text(&listed)
    );
    assert_eq!(text(&listed).lines().count(), 2, "{}", text(&listed));
    for output in [&import, &created, &listed] {
        assert!(
            !text(output).contains(&preprod_hex[2..]),
            "a key was printed"
        );
        assert!(!text(output).contains(password), "a password was printed");
    }
    let vars = [
        ("FORJA_KEYSTORE_PASSWORD", password),
        ("E2E_PROD_KEY", &key_hex(&prod_deployer) as &str),
    ];
    let run = |args: &[&str]| forja_with(&root, args, &vars);

    assert_success(&run(&["build"]));
    assert_success(&run(&["test"]));
    assert_eq!(json(&root.join("cache/test-report.json"))["commit"], commit);

    // The wrong chain is refused before anything is sent.
    assert_refused(
        &run(&["deploy", "--env", "wrongchain"]),
        "expects chain id 4242, but",
    );

    // Deploy to dev, then again: nothing to do.
    let plan = run(&["deploy", "--env", "dev", "--dry-run"]);
    assert_success(&plan);
    assert!(
        text(&plan).contains("deploy Counter") && text(&plan).contains("nothing was sent"),
        "{}",
        text(&plan)
    );
    assert!(!root.join("deployments/dev.json").exists());
    let deployed = run(&["deploy", "--env", "dev"]);
    assert_success(&deployed);
    assert!(
        text(&deployed).contains("on-chain code matches the artifact"),
        "{}",
        text(&deployed)
    );
    let dev_record = json(&root.join("deployments/dev.json"));
    let counter = &dev_record["contracts"][0];
    assert_eq!(counter["commit"], commit);
    assert_eq!(counter["constructor_args"][0], "5");
    assert_eq!(dev_record["calls"].as_array().unwrap().len(), 1);
    for field in [
        "address",
        "tx_hash",
        "creation_code_hash",
        "runtime_code_hash",
        "deployer",
        "deployed_at",
    ] {
        assert!(counter[field].is_string(), "{field} recorded");
    }
    assert!(
        counter["compiler"]["version"]
            .as_str()
            .unwrap()
            .starts_with("0.8.30")
    );
    let again = run(&["deploy", "--env", "dev"]);
    assert_success(&again);
    assert!(
        text(&again).contains("Nothing to deploy"),
        "{}",
        text(&again)
    );

    // Gate 4 first shows the release id.
    let refused = run(&["promote", "--to", "preprod"]);
    assert_refused(&refused, "gate 4 (approvals) refused");
    let id = release_id(&refused);

    // Gate 1: a dirty tree.
    std::fs::write(
        root.join("src/Extra.sol"),
        "// SPDX-License-Identifier: MIT\n",
    )
    .unwrap();
    assert_refused(
        &run(&["promote", "--to", "preprod"]),
        "gate 1 (clean tree) refused",
    );
    std::fs::remove_file(root.join("src/Extra.sol")).unwrap();

    // Gate 2: no passing test report for the commit.
    let report = root.join("cache/test-report.json");
    let saved_report = std::fs::read(&report).unwrap();
    std::fs::remove_file(&report).unwrap();
    assert_refused(
        &run(&["promote", "--to", "preprod"]),
        "gate 2 (tests) refused",
    );
    std::fs::write(&report, &saved_report).unwrap();

    // Gate 3: an artifact that is not the one deployed in dev.
    let artifact_path = root.join("out/Counter.sol/Counter.json");
    let saved_artifact = std::fs::read_to_string(&artifact_path).unwrap();
    let mut artifact: serde_json::Value = serde_json::from_str(&saved_artifact).unwrap();
    let code = artifact["bytecode"]["object"].as_str().unwrap().to_string();
    artifact["bytecode"]["object"] = format!("{}00", code).into();
    std::fs::write(&artifact_path, artifact.to_string()).unwrap();
    assert_refused(
        &run(&["promote", "--to", "preprod"]),
        "gate 3 (identical artifacts) refused",
    );
    std::fs::write(&artifact_path, saved_artifact).unwrap();

    // Gate 4: an outsider cannot approve; a signature over something else
    // does not count.
    let outsider_hex = key_hex(&outsider);
    assert_refused(
        &forja_with(
            &root,
            &["approve", "--release", &id, "--private-key-env", "K"],
            &[("K", &outsider_hex)],
        ),
        "is not an approver of `preprod`",
    );
    assert_refused(
        &forja_with(
            &root,
            &[
                "approve",
                "--release",
                "000000000000",
                "--private-key-env",
                "K",
            ],
            &[("K", &outsider_hex)],
        ),
        "no release 000000000000",
    );
    let forged = serde_json::json!([{
        "approver": approver_a.address(),
        "signature": format!("0x{}", hex::encode(alloy::signers::SignerSync::sign_message_sync(&approver_a, b"something else").unwrap().as_bytes())),
        "signed_at": "2026-01-01T00:00:00Z",
    }]);
    std::fs::create_dir_all(root.join("releases")).unwrap();
    std::fs::write(
        root.join(format!("releases/{id}.approvals.json")),
        forged.to_string(),
    )
    .unwrap();
    assert_refused(
        &run(&["promote", "--to", "preprod"]),
        "does not sign this release",
    );

    let approve_a = forja_with(
        &root,
        &["approve", "--release", &id, "--private-key-env", "K"],
        &[("K", &key_hex(&approver_a))],
    );
    assert_success(&approve_a);
    assert!(
        text(&approve_a).contains("1/1 approval(s)"),
        "{}",
        text(&approve_a)
    );

    let promoted = run(&["promote", "--to", "preprod"]);
    assert_success(&promoted);
    let preprod_record = json(&root.join("deployments/preprod.json"));
    assert_eq!(preprod_record["release"], id.as_str());
    assert_eq!(
        preprod_record["contracts"][0]["deployer"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        preprod_deployer.address().to_string().to_lowercase()
    );
    assert_eq!(
        preprod_record["contracts"][0]["runtime_code_hash"],
        counter["runtime_code_hash"]
    );
    let release = json(&root.join(format!("releases/{id}.json")));
    assert_eq!(release["manifest"]["from"], "dev");
    assert_eq!(release["approvals"].as_array().unwrap().len(), 1);
    let repo = git2::Repository::open(&root).unwrap();
    let tagged = repo
        .revparse_single(&format!("refs/tags/forja/preprod/{id}"))
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(tagged.id().to_string(), commit);
    let rerun = run(&["promote", "--to", "preprod"]);
    assert_success(&rerun);
    assert!(
        text(&rerun).contains("Nothing to promote"),
        "{}",
        text(&rerun)
    );

    // Prod needs two distinct approvers.
    let refused = run(&["promote", "--to", "prod"]);
    assert_refused(&refused, "needs 2 approval(s)");
    let prod_id = release_id(&refused);
    assert_ne!(prod_id, id);
    for approver in [&approver_a, &approver_a] {
        assert_success(&forja_with(
            &root,
            &["approve", "--release", &prod_id, "--private-key-env", "K"],
            &[("K", &key_hex(approver))],
        ));
    }
    assert_refused(&run(&["promote", "--to", "prod"]), "has 1 valid");
    assert_success(&forja_with(
        &root,
        &["approve", "--release", &prod_id, "--private-key-env", "K"],
        &[("K", &key_hex(&approver_b))],
    ));
    assert_success(&run(&["promote", "--to", "prod"]));
    let prod_record = json(&root.join("deployments/prod.json"));
    let prod_counter: Address = prod_record["contracts"][0]["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (prod_nonce, code) = chain_state(&prod.url(), prod_deployer.address(), &[prod_counter]);
    assert_eq!(prod_nonce, 2, "one deployment and one call on prod");
    assert!(code[0] > 0);

    // The audit log verifies, and tampering is detected.
    let verified = run(&["audit", "verify"]);
    assert_success(&verified);
    assert!(
        text(&verified).contains("3 entries, 2 release(s) anchored"),
        "{}",
        text(&verified)
    );
    let log_path = root.join("deployments/audit.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    std::fs::write(&log_path, log.replacen("\"preprod\"", "\"prod\"", 1)).unwrap();
    assert_refused(&run(&["audit", "verify"]), "line 2");
    let lines: Vec<&str> = log.lines().collect();
    std::fs::write(&log_path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    assert_refused(&run(&["audit", "verify"]), "which the log no longer has");
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
