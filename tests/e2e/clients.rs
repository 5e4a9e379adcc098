//! Clients we did not write, in other languages, against `forja node`.
//!
//! ethers 6 (npm): tests/clients/ethers deploys the ERC-20 that `forja build`
//! compiles from tests/clients/ethers/project, transfers, and checks
//! balances, Transfer events, receipts and `eth_getLogs`. Its packages are
//! installed with `npm ci` from the committed package-lock.json (npm's cache
//! makes that work offline once fetched). Without node and npm the test says
//! SKIPPED and why. The node runs with a data directory and is stopped with
//! Ctrl-C (SIGINT) in between, so the test also checks the block log, the
//! clean shutdown and the resume.
//!
//! viem (npm) and web3.py (PyPI) subscribe to new heads over a WebSocket.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{assert_success, forja, forja_home, text};

/// `tests/clients/<name>` with its npm packages installed (`npm ci`), or
/// `None` (SKIPPED) when node or npm is missing; under `CI=true` a missing
/// tool fails the test instead.
pub(crate) fn npm_client(name: &str) -> Option<PathBuf> {
    if let Err(reason) = require("node").and_then(|()| require("npm")) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and the {name} client test cannot run: {reason}"
        );
        eprintln!("SKIPPED {name} client test: {reason}");
        return None;
    }
    let client = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/clients")
        .join(name);
    // `npm ci` deletes node_modules first: two tests of one client running
    // it at once broke each other's install (a test read a half-written
    // playwright-core). The first test of a client installs it; the others
    // wait and reuse the install.
    static INSTALLED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut installed = INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if installed.iter().any(|done| done == name) {
        return Some(client);
    }
    let install = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
        .current_dir(&client)
        .output()
        .expect("npm runs");
    assert!(
        install.status.success(),
        "npm ci in {} failed:\n{}",
        client.display(),
        text(&install)
    );
    installed.push(name.to_string());
    Some(client)
}

/// `Err(reason)` when a program the client needs is not installed.
pub(crate) fn require(program: &str) -> Result<(), String> {
    match Command::new(program).arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!("`{program} --version` failed: {}", text(&output))),
        Err(err) => Err(format!("`{program}` is not installed ({err})")),
    }
}

/// A `forja node --port 0` child; asked to stop with SIGINT (as Ctrl-C
/// would) when dropped, killed if it does not.
pub(crate) struct ForjaNode {
    child: Child,
    port: u16,
    /// What the node printed up to and including the listening line.
    banner: String,
    /// What the node printed after the listening line, until it exited.
    rest_of_output: mpsc::Receiver<String>,
}

impl ForjaNode {
    pub(crate) fn start(dir: &Path, data_dir: &Path) -> ForjaNode {
        Self::start_with(dir, data_dir, &[])
    }

    /// `forja node` in `dir` with more flags (API groups, limits).
    pub(crate) fn start_with(dir: &Path, data_dir: &Path, flags: &[&str]) -> ForjaNode {
        let mut child = Command::new(env!("CARGO_BIN_EXE_forja"))
            .args(["node", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(flags)
            .current_dir(dir)
            .env("FORJA_HOME", forja_home())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("forja node starts");
        let stdout = child.stdout.take().unwrap();
        let (port_tx, port_rx) = mpsc::channel();
        let (rest_tx, rest_of_output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let mut seen = String::new();
            for line in lines.by_ref() {
                seen.push_str(&line);
                seen.push('\n');
                if let Some(port) = listening_port(&line) {
                    let _ = port_tx.send(Ok((port, seen.clone())));
                    break;
                }
            }
            let _ = port_tx.send(Err(seen));
            let rest: String = lines.map(|line| line + "\n").collect();
            let _ = rest_tx.send(rest);
        });
        let (port, banner) = match port_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(found)) => found,
            Ok(Err(printed)) => {
                let _ = child.kill();
                panic!("forja node exited before listening:\n{printed}");
            }
            Err(_) => {
                let _ = child.kill();
                panic!("forja node printed no listening address within 60 s");
            }
        };
        ForjaNode {
            child,
            port,
            banner,
            rest_of_output,
        }
    }

    /// What the node printed up to and including the listening line.
    pub(crate) fn banner(&self) -> &str {
        &self.banner
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ctrl-C, then what the node printed while running and shutting down.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
        let status = self.child.wait().expect("forja node exits");
        let output = self
            .rest_of_output
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default();
        (status, output)
    }
}

impl Drop for ForjaNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in forja node's "Listening on 127.0.0.1:PORT (HTTP and WebSocket)".
fn listening_port(line: &str) -> Option<u16> {
    let address = line
        .strip_prefix("Listening on ")?
        .split_whitespace()
        .next()?;
    address.rsplit_once(':')?.1.parse().ok()
}

#[test]
fn ethers_deploys_transfers_and_reads_logs_of_a_forja_built_erc20() {
    let Some(client) = npm_client("ethers") else {
        return;
    };

    // Build a copy, so the test writes nothing into the source tree.
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    for file in ["forja.toml", "src/Token.sol"] {
        std::fs::copy(client.join("project").join(file), project.join(file)).unwrap();
    }
    assert_success(&forja(&project, &["build"]));
    let artifact = project.join("out/Token.sol/Token.json");
    assert!(
        artifact.is_file(),
        "forja build wrote {}",
        artifact.display()
    );

    let chain = tmp.path().join("chain");
    let node = ForjaNode::start(tmp.path(), &chain);
    let script = Command::new("node")
        .arg("erc20.mjs")
        .current_dir(&client)
        .env("FORJA_RPC_URL", node.url())
        .env("TOKEN_ARTIFACT", &artifact)
        .output()
        .expect("node runs");
    let script_output = text(&script);
    assert!(
        script.status.success(),
        "the ethers script failed:\n{script_output}"
    );
    assert!(script_output.contains(": OK"), "{script_output}");
    println!("{}", script_output.trim());

    let (status, node_output) = node.interrupt();
    assert!(
        status.success(),
        "forja node exits cleanly on Ctrl-C: {status}\n{node_output}"
    );
    // deploy, transfer, transfer back: one block each on the on-demand dev network.
    let committed: Vec<&str> = node_output
        .lines()
        .filter(|line| line.starts_with("block "))
        .collect();
    assert_eq!(committed.len(), 3, "{node_output}");
    for line in &committed {
        assert!(
            line.contains(" 1 tx ") && line.contains("proposer 0x"),
            "{line}"
        );
    }
    assert!(node_output.contains("Stopped at block 3;"), "{node_output}");

    // Everything committed is on disk: started again, the node resumes there.
    let again = ForjaNode::start(tmp.path(), &chain);
    assert!(
        again.banner.contains("(resumed at block 3)"),
        "{}",
        again.banner
    );
    let (status, output) = again.interrupt();
    assert!(status.success(), "{status}\n{output}");
}

/// viem (npm): tests/clients/viem watches blocks over a WebSocket with
/// `watchBlocks` (eth_subscribe newHeads) while it sends transfers. viem
/// drops notifications whose subscription id is not a hex string, so this
/// checks forja's ids are what Geth sends. Under `CI=true` a missing node or
/// npm fails the test; elsewhere it says SKIPPED and why.
#[test]
fn viem_watch_blocks_receives_the_blocks_transfers_make() {
    let Some(client) = npm_client("viem") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let node = ForjaNode::start(tmp.path(), &tmp.path().join("chain"));
    let script = Command::new("node")
        .arg("watch_blocks.mjs")
        .current_dir(&client)
        .env("FORJA_RPC_URL", node.url())
        .output()
        .expect("node runs");
    let script_output = text(&script);
    assert!(
        script.status.success(),
        "the viem script failed:\n{script_output}"
    );
    assert!(script_output.contains(": OK"), "{script_output}");
    println!("{}", script_output.trim());
    let (status, output) = node.interrupt();
    assert!(status.success(), "{status}\n{output}");
}

/// web3.py (PyPI): tests/clients/web3py subscribes to `newHeads` over a
/// WebSocket, with web3.py's POA middleware as Besu needs it (QBFT extraData
/// is longer than 32 bytes), and reads the blocks its transfers make. Its
/// packages go into a venv under the target directory. Under `CI=true` a
/// missing python3 (with venv) fails the test; elsewhere it says SKIPPED.
#[test]
fn web3py_subscribe_new_heads_receives_the_blocks_transfers_make() {
    let venv_works = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !venv_works {
        let reason = "python3 with venv and ensurepip is not installed";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the web3.py client test needs {reason}"
        );
        eprintln!("SKIPPED web3.py client test: {reason}");
        return;
    }
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/web3py");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web3py-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let created = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .expect("python3 runs");
        assert!(created.status.success(), "{}", text(&created));
    }
    let install = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "-r"])
        .arg(client.join("requirements.txt"))
        .output()
        .expect("pip runs");
    assert!(
        install.status.success(),
        "pip install -r requirements.txt failed:\n{}",
        text(&install)
    );
    let tmp = tempfile::tempdir().unwrap();
    let node = ForjaNode::start(tmp.path(), &tmp.path().join("chain"));
    let script = Command::new(&python)
        .arg(client.join("new_heads.py"))
        .env("FORJA_RPC_URL", node.url())
        .output()
        .expect("python runs");
    let script_output = text(&script);
    assert!(
        script.status.success(),
        "the web3.py script failed:\n{script_output}"
    );
    assert!(script_output.contains(": OK"), "{script_output}");
    println!("{}", script_output.trim());
    let (status, output) = node.interrupt();
    assert!(status.success(), "{status}\n{output}");
}
