//! The explorer page `forja node` serves at /explorer, in a real headless
//! Chromium (Debian's `chromium`) driven by playwright-core
//! (tests/clients/explorer): after a deploy, a deposit and a withdrawal
//! that reverts with a reason, the latest transactions name the calls (and
//! one mined after the page loaded shows up live), the transaction page
//! shows the decoded call, the revert reason and the call trace, the
//! address page names the contract, the validators panel lists 4
//! validators, and the console stays free of errors. Against a node with
//! authentication the page asks for credentials and logs in at /login,
//! both as `forja node` serves it and through `forja explorer`'s proxy.
//!
//! Screenshots are kept in `target/tmp/explorer-screenshots/` (CI keeps
//! them as artifacts). Without node, npm or chromium the test says
//! SKIPPED; under `CI=true` it fails instead.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::clients::{ForjaNode, npm_client, require};
use super::{assert_success, forja, text};

const CHROMIUM: &str = "/usr/bin/chromium";

const VAULT: &str = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Vault {
    event Deposited(address indexed who, uint256 amount, string note);

    uint256 public total;

    function deposit(uint256 amount, string calldata note) external {
        total += amount;
        emit Deposited(msg.sender, amount, note);
    }

    function withdraw(uint256 amount) external {
        require(amount <= total, "Vault: amount exceeds the total");
        total -= amount;
    }
}
"#;

/// Where the run's screenshots go.
pub(crate) fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer-screenshots")
}

/// tests/clients/explorer installed, or `None` (SKIPPED) without chromium,
/// node or npm; under `CI=true` a missing tool fails the test.
fn explorer_client() -> Option<PathBuf> {
    if let Err(reason) = require(CHROMIUM) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and the explorer page test cannot run: {reason}"
        );
        eprintln!("SKIPPED explorer page test: {reason}");
        return None;
    }
    npm_client("explorer")
}

#[test]
fn explorer_page_shows_decoded_calls_reverts_and_validators_in_chromium() {
    let Some(client) = explorer_client() else {
        return;
    };

    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "vault"]));
    let project = tmp.path().join("vault");
    std::fs::write(project.join("src/Vault.sol"), VAULT).unwrap();
    assert_success(&forja(&project, &["build"]));

    // Started in the project: the page decodes with its out/.
    let node = ForjaNode::start(&project, &tmp.path().join("chain"));
    let screenshots = screenshot_dir();
    let run = Command::new("node")
        .arg("explorer.mjs")
        .current_dir(&client)
        .env("FORJA_RPC_URL", node.url())
        .env("VAULT_ARTIFACT", project.join("out/Vault.sol/Vault.json"))
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("node runs");
    let output = text(&run);
    assert!(
        run.status.success(),
        "the explorer page check failed:\n{output}"
    );
    assert!(output.contains("explorer page: OK"), "{output}");
    println!("{}", output.trim());
    assert!(screenshots.join("reverted-transaction.png").is_file());
    println!("screenshots in {}", screenshots.display());
}

#[test]
fn explorer_page_asks_for_credentials_on_a_node_with_authentication() {
    let Some(client) = explorer_client() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let hash = forja(tmp.path(), &["password", "hash", "--password", "s3cret"]);
    assert_success(&hash);
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
    let credentials = tmp.path().join("credentials.toml");
    std::fs::write(
        &credentials,
        format!(
            "[Users.alice]\npassword = \"{hash}\"\npermissions = [\"eth:*\", \"qbft:*\", \"perm:*\", \"debug:*\", \"rpc:*\"]\n"
        ),
    )
    .unwrap();
    let node = ForjaNode::start_with(
        tmp.path(),
        &tmp.path().join("chain"),
        &[
            "--rpc-http-authentication-enabled",
            "--rpc-http-authentication-credentials-file",
            credentials.to_str().unwrap(),
        ],
    );
    // The page as forja node serves it, then as `forja explorer` serves it
    // for that node (its proxy forwards the login and the calls).
    let login = |url: &str| {
        let run = Command::new("node")
            .arg("login.mjs")
            .current_dir(&client)
            .env("FORJA_RPC_URL", url)
            .env("EXPLORER_USER", "alice")
            .env("EXPLORER_PASSWORD", "s3cret")
            .env("SCREENSHOT_DIR", screenshot_dir())
            .env("CHROMIUM", CHROMIUM)
            .output()
            .expect("node runs");
        let output = text(&run);
        assert!(
            run.status.success(),
            "the explorer login check against {url} failed:\n{output}"
        );
        assert!(output.contains("explorer login: OK"), "{output}");
        println!("{}", output.trim());
    };
    login(&node.url());
    let explorer = ExplorerServer::start(&node.url());
    login(&explorer.url);
}

/// A `forja explorer --rpc URL --port 0` child, killed when dropped.
struct ExplorerServer {
    child: std::process::Child,
    url: String,
}

impl ExplorerServer {
    fn start(rpc: &str) -> ExplorerServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_forja"))
            .args(["explorer", "--rpc", rpc, "--port", "0"])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("forja explorer starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Explorer for URL (...): http://127.0.0.1:PORT/explorer"
        let Some(url) = line
            .trim()
            .rsplit_once(": ")
            .and_then(|(_, url)| url.strip_suffix("/explorer"))
        else {
            let _ = child.kill();
            panic!("forja explorer printed no address: {line:?}");
        };
        ExplorerServer {
            url: url.to_owned(),
            child,
        }
    }
}

impl Drop for ExplorerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page's ABI decoder (runtime/explorer/assets/abi.js) in node, on
/// what the Vault scenario does not reach: signed integers, arrays, tuples,
/// indexed strings, panics, custom errors, masked code matching, QBFT
/// extra data.
#[test]
fn explorer_abi_decoder_handles_arrays_tuples_errors_and_extra_data() {
    let Some(client) = npm_client("explorer") else {
        return;
    };
    let run = Command::new("node")
        .arg("abi-decoding.mjs")
        .current_dir(&client)
        .output()
        .expect("node runs");
    let output = text(&run);
    assert!(
        run.status.success(),
        "the ABI decoder check failed:\n{output}"
    );
    assert!(output.contains("abi decoding: OK"), "{output}");
}
