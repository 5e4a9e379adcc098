//! The false-positive check: every OpenZeppelin Contracts 5.x file opened in
//! the server gets zero error diagnostics; navigation works inside it.

mod common;

use common::TestClient;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_openzeppelin_file_opens_without_errors() {
    let Some(oz) = common::openzeppelin() else {
        return;
    };
    let c = TestClient::start(&oz).await;
    let mut files: Vec<String> = Vec::new();
    let mut stack = vec![oz.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "sol") {
                files.push(p.strip_prefix(&oz).unwrap().display().to_string());
            }
        }
    }
    files.sort();
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
