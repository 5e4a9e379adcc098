//! The explorer page `forja node` serves at /explorer, in a real headless
//! Chromium (Debian's `chromium`) driven by playwright-core
//! (tests/clients/explorer): after a deploy, a deposit and a withdrawal
//! that reverts with a reason, the latest transactions name the calls (and
//! one mined after the page loaded shows up live), the transaction page
//! shows the decoded call, the revert reason and the call trace, the
//! address page names the contract, the validators panel lists 4
//! validators, and the console stays free of errors.
//!
//! Screenshots are kept in `target/tmp/explorer-screenshots/` (CI keeps
//! them as artifacts). Without node, npm or chromium the test says
//! SKIPPED; under `CI=true` it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

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

#[test]
fn explorer_page_shows_decoded_calls_reverts_and_validators_in_chromium() {
    if let Err(reason) = require(CHROMIUM) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and the explorer page test cannot run: {reason}"
        );
        eprintln!("SKIPPED explorer page test: {reason}");
        return;
    }
    let Some(client) = npm_client("explorer") else {
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
