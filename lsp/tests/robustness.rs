//! Never a crash: truncated and garbled buffers go through the real protocol
//! and every request still gets an answer (a result or a clean error).
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use common::{TestClient, fixture_project};
use serde_json::{Value, json};
use tower_lsp::lsp_types::Url;

/// Every request an editor sends for a buffer, at `positions`.
async fn exercise(c: &TestClient, uri: &Url, positions: &[Value]) {
    let doc = json!({"uri": uri});
    let whole =
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 10_000, "character": 0}});
    for (method, params) in [
        ("textDocument/documentSymbol", json!({"textDocument": doc})),
        (
            "textDocument/semanticTokens/full",
            json!({"textDocument": doc}),
        ),
        ("textDocument/codeLens", json!({"textDocument": doc})),
        (
            "textDocument/inlayHint",
            json!({"textDocument": doc, "range": whole}),
        ),
        (
            "textDocument/codeAction",
            json!({"textDocument": doc, "range": whole, "context": {"diagnostics": []}}),
        ),
        (
            "textDocument/formatting",
            json!({"textDocument": doc, "options": {"tabSize": 4, "insertSpaces": true}}),
        ),
    ] {
        assert_answered(c.request(method, params).await, method);
    }
    for position in positions {
        let at = json!({"textDocument": doc, "position": position});
        for method in [
            "textDocument/hover",
            "textDocument/definition",
            "textDocument/declaration",
            "textDocument/typeDefinition",
            "textDocument/implementation",
            "textDocument/completion",
            "textDocument/signatureHelp",
            "textDocument/prepareRename",
        ] {
            assert_answered(c.request(method, at.clone()).await, method);
        }
        let refs = json!({"textDocument": doc, "position": position, "context": {"includeDeclaration": true}});
        assert_answered(
            c.request("textDocument/references", refs).await,
            "references",
        );
        let rename = json!({"textDocument": doc, "position": position, "newName": "renamed"});
        assert_answered(c.request("textDocument/rename", rename).await, "rename");
    }
}

fn assert_answered(response: Value, method: &str) {
    // A JSON-RPC internal error is what tower-lsp sends when a handler panics.
    assert!(
        response.get("result").is_some() || response["error"]["code"] != -32603,
        "{method} failed: {response}"
    );
}

/// Positions spread over the text, including past its end.
fn positions(text: &str) -> Vec<Value> {
    let lines = text.lines().count().max(1);
    (0..6)
        .map(|i| {
            let line = i * lines / 5;
            let character = if i % 2 == 0 { 3 } else { 200 };
            json!({"line": line, "character": character})
        })
        .collect()
}

/// Garbles `text` at `cut` in one of a few ways an editor session produces.
fn garble(text: &str, cut: usize, how: usize) -> String {
    let cut = (0..=cut)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (head, tail) = text.split_at(cut);
    match how % 5 {
        0 => head.to_string(),                             // truncated
        1 => format!("{head}\u{0}\u{feff}é€😀\"/*{tail}"), // binary and an open comment
        2 => format!("{head}}}}}){{{{(({tail}"),           // unbalanced delimiters
        3 => format!("{tail}{head}"),                      // halves swapped
        _ => format!("{head}\n.\n. .member(\n{tail}"),     // half-typed member access
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_garbled_buffers_never_crash_the_server() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    let f = "src/Vault.sol";
    let uri = c.uri(f);
    let original = c.text(f);
    c.open(f).await;
    c.open("test/Vault.t.sol").await;

    let mut version = 1;
    let step = original.len() / 12;
    for (i, cut) in (0..original.len()).step_by(step).enumerate() {
        let text = garble(&original, cut, i);
        version += 1;
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        )
        .await;
        // Diagnostics arrive for each buffer (the analysis did not die).
        c.diagnostics_for(&uri).await;
        exercise(&c, &uri, &positions(&text)).await;
    }

    // Incremental edits with ranges past the end are clamped, not fatal.
    version += 1;
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [
            {"range": {"start": {"line": 999, "character": 0}, "end": {"line": 1000, "character": 5}}, "text": "x"},
            {"range": {"start": {"line": 3, "character": 80}, "end": {"line": 1, "character": 0}}, "text": ""}
        ]}),
    )
    .await;
    c.diagnostics_for(&uri).await;

    // After all that, the restored file is fully served again.
    version += 1;
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": original}]}),
    )
    .await;
    let diags = c.diagnostics_for(&uri).await;
    assert!(
        diags.as_array().unwrap().iter().all(|d| d["severity"] != 1),
        "{diags}"
    );
    let hover = c.at("textDocument/hover", f, "totalDeposits;", 0, 1).await;
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .is_some_and(|v| v.contains("uint256 public totalDeposits")),
        "{hover}"
    );

    // Requests about files the server never saw, or that are not files.
    for uri in ["file:///nonexistent/X.sol", "untitled:Untitled-1"] {
        let r = c
            .request(
                "textDocument/hover",
                json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
            )
            .await;
        assert_answered(r, "hover on an unknown document");
    }
}
