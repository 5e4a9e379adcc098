//! On OpenZeppelin Contracts 5.x (see `common::openzeppelin` for where it
//! comes from): every file opened in the server gets zero error diagnostics,
//! navigation works inside it, and formatting is safe on all of it.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use common::TestClient;
use forja_lsp::format::{format, token_stream};
use serde_json::json;
use std::path::Path;

/// Every `.sol` file under `root`, relative, sorted.
fn solidity_files(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "sol") {
                files.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn formatting_openzeppelin_keeps_every_token_and_is_idempotent() {
    let Some(oz) =
        common::openzeppelin("formatting_openzeppelin_keeps_every_token_and_is_idempotent")
    else {
        return;
    };
    let files = solidity_files(&oz);
    assert!(files.len() > 200, "OpenZeppelin has {} files", files.len());
    let mut changed = 0;
    for f in &files {
        let text = std::fs::read_to_string(oz.join(f)).unwrap();
        // Tabs, trailing spaces and blank runs added to a real file.
        let messy = text
            .replace("\n    ", "\n\t")
            .replace(";\n", ";   \n")
            .replace("}\n\n", "}\n\n\n\n");
        for (input, expand_tabs) in [(&text, Some(4)), (&messy, Some(4)), (&messy, None)] {
            let Some(once) = format(input, expand_tabs) else {
                continue;
            };
            changed += 1;
            assert_eq!(format(&once, expand_tabs), None, "{f}: not idempotent");
            assert_eq!(
                token_stream(&once),
                token_stream(input),
                "{f}: formatting changed the tokens"
            );
        }
        assert_eq!(
            format(&messy, Some(4)).as_deref().unwrap_or(&messy),
            format(&text, Some(4)).as_deref().unwrap_or(&text),
            "{f}: the mess is undone"
        );
    }
    assert!(
        changed >= 2 * files.len(),
        "the messy copies were formatted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_openzeppelin_file_opens_without_errors() {
    let Some(oz) = common::openzeppelin("every_openzeppelin_file_opens_without_errors") else {
        return;
    };
    let c = TestClient::start(&oz).await;
    let files = solidity_files(&oz);
    assert!(files.len() > 200, "OpenZeppelin has {} files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let diags = c.open(f).await;
        for d in diags.as_array().unwrap() {
            if d["severity"] == 1 {
                failures.push(format!("{f}: {}", d["message"]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} false errors:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Hover and definition through `using SafeERC20 for IERC20` style calls.
    let f = "token/ERC20/extensions/ERC4626.sol";
    let def = c
        .at(
            "textDocument/definition",
            f,
            "SafeERC20.safeTransfer(",
            0,
            12,
        )
        .await;
    assert!(
        def["result"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("utils/SafeERC20.sol"),
        "{def}"
    );
    let hover = c.at("textDocument/hover", f, "address(_asset)", 0, 9).await;
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("IERC20 private immutable _asset"),
        "{hover}"
    );
    let refs = c
        .request(
            "textDocument/references",
            json!({"textDocument": {"uri": c.uri("token/ERC20/ERC20.sol")}, "position": c.pos("token/ERC20/ERC20.sol", "function _update", 0, 9), "context": {"includeDeclaration": false}}),
        )
        .await;
    assert!(refs["result"].as_array().unwrap().len() >= 4, "{refs}");
}
