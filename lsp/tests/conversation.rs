//! LSP conversations over framed JSON-RPC with the in-process server.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use common::{TestClient, fixture_project};
use serde_json::{Value, json};

fn errors(diags: &Value) -> Vec<&Value> {
    diags
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == 1)
        .collect()
}

fn target_of(resp: &Value) -> (String, u64) {
    let r = &resp["result"];
    let loc = if r.is_array() { &r[0] } else { r };
    (
        loc["uri"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string(),
        loc["range"]["start"]["line"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_follow_edits_and_navigation_survives_syntax_errors() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    let diags = c.open("src/Vault.sol").await;
    assert!(
        errors(&diags).is_empty(),
        "valid file has no errors: {diags}"
    );

    // Incremental edit: `totalDeposits = ...` becomes a type error.
    let uri = c.uri("src/Vault.sol");
    let pos = c.pos("src/Vault.sol", "uint64(block.timestamp)", 0, 0);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": pos, "end": {"line": pos["line"], "character": pos["character"].as_u64().unwrap() + 6}}, "text": "string"}
        ]}),
    )
    .await;
    let diags = c.diagnostics_for(&uri).await;
    let errs = errors(&diags);
    assert!(!errs.is_empty(), "type error reported: {diags}");
    assert_eq!(errs[0]["source"], "forja");
    assert_eq!(errs[0]["range"]["start"]["line"], pos["line"]);

    // A syntax error inside `largest` keeps navigation working in `deposit`.
    let text = c
        .text("src/Vault.sol")
        .replace("return Math.max(x, y);", "return Math.max(x, y) +;");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": text}]}),
    )
    .await;
    let diags = c.diagnostics_for(&uri).await;
    assert!(!errors(&diags).is_empty(), "syntax error reported");
    let def = c
        .at(
            "textDocument/definition",
            "src/Vault.sol",
            "positions[msg.sender]",
            0,
            2,
        )
        .await;
    assert_eq!(
        target_of(&def),
        ("Vault.sol".into(), 22),
        "state variable still navigable: {def}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importers_are_rechecked_when_what_they_see_changes() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    let vault = c.uri("src/Vault.sol");
    let test = c.uri("test/Vault.t.sol");
    c.open("src/Vault.sol").await;
    let diags = c.open("test/Vault.t.sol").await;
    assert!(errors(&diags).is_empty(), "{diags}");
    let original = c.text("src/Vault.sol");

    // Renaming the contract breaks the test's `import {Vault}`.
    let renamed = original.replace("contract Vault is", "contract Treasury is");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": vault, "version": 2}, "contentChanges": [{"text": renamed}]}),
    )
    .await;
    let broken = c.diagnostics_until(&test, |d| !errors(d).is_empty()).await;
    let line = c.pos("test/Vault.t.sol", "import {Vault}", 0, 0)["line"].clone();
    assert!(
        errors(&broken)
            .iter()
            .any(|d| d["range"]["start"]["line"] == line),
        "{broken}"
    );

    // Restoring it clears the importer again.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": vault, "version": 3}, "contentChanges": [{"text": original}]}),
    )
    .await;
    c.diagnostics_until(&test, |d| errors(d).is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigation_and_hover_across_imports_remappings_and_using_for() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    c.open("src/Vault.sol").await;
    let f = "src/Vault.sol";

    // Base contract from lib/ through the automatic `mylib/` remapping.
    let def = c.at("textDocument/definition", f, "Owned {", 0, 1).await;
    assert_eq!(target_of(&def), ("Owned.sol".into(), 4));
    // Library function reached through `using Math for uint256`.
    let def = c
        .at("textDocument/definition", f, ".max(position", 0, 2)
        .await;
    assert_eq!(target_of(&def), ("Math.sol".into(), 8));
    // Import path.
    let def = c.at("textDocument/definition", f, "./Math.sol", 0, 3).await;
    assert_eq!(target_of(&def).0, "Math.sol");
    // Declaration = definition; type definition of a local goes to its struct.
    let decl = c
        .at("textDocument/declaration", f, "onlyOwner returns", 0, 2)
        .await;
    assert_eq!(target_of(&decl), ("Owned.sol".into(), 15));
    let tdef = c
        .at("textDocument/typeDefinition", f, "position.amount +=", 0, 1)
        .await;
    assert_eq!(target_of(&tdef), ("Vault.sol".into(), 14));
    // Implementations of the interface function.
    let imp = c
        .at(
            "textDocument/implementation",
            f,
            "deposit(uint256 amount) external;",
            0,
            1,
        )
        .await;
    assert_eq!(target_of(&imp), ("Vault.sol".into(), 27));

    let mut hovers = String::new();
    for (needle, shift) in [
        ("emit Deposited", 6),
        (".max(position", 2),
        ("positions[msg", 1),
        ("onlyOwner returns", 1),
        ("msg.sender];", 5),
        ("Owned {", 1),
        ("position.since", 10),
    ] {
        let h = c.at("textDocument/hover", f, needle, 0, shift).await;
        hovers.push_str(&format!(
            "## {needle}\n{}\n\n",
            h["result"]["contents"]["value"]
                .as_str()
                .unwrap_or("<none>")
        ));
    }
    insta::assert_snapshot!("hovers", hovers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_and_rename_are_workspace_wide_and_refuse_what_they_must() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    c.open("src/Vault.sol").await;
    c.open("test/Vault.t.sol").await;
    let f = "src/Vault.sol";

    let refs = c
        .request(
            "textDocument/references",
            json!({"textDocument": {"uri": c.uri(f)}, "position": c.pos(f, "totalDeposits;", 0, 1), "context": {"includeDeclaration": true}}),
        )
        .await;
    assert_eq!(refs["result"].as_array().unwrap().len(), 3, "{refs}");

    // `Vault` is used from the test file: rename edits both files.
    let prep = c
        .at("textDocument/prepareRename", f, "Vault is", 0, 1)
        .await;
    assert_eq!(prep["result"]["placeholder"], "Vault");
    let edit = c
        .request(
            "textDocument/rename",
            json!({"textDocument": {"uri": c.uri(f)}, "position": c.pos(f, "Vault is", 0, 1), "newName": "Safe"}),
        )
        .await;
    // Edits come per file in path order (`documentChanges`, which the client
    // announced, is ordered; `changes` is a map serialised in hash order).
    let edited: Vec<(String, u64)> = edit["result"]["documentChanges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|doc| {
            let uri = doc["textDocument"]["uri"].as_str().unwrap().to_string();
            doc["edits"].as_array().unwrap().iter().map(move |e| {
                let file = uri.rsplit_once("ROOT").map_or(uri.clone(), |x| x.1.into());
                (file, e["range"]["start"]["line"].as_u64().unwrap())
            })
        })
        .collect();
    let edited_files: Vec<&str> = edited
        .iter()
        .map(|(f, _)| f.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        edited_files,
        ["Vault.sol", "Vault.t.sol", "Vault.t.sol", "Vault.t.sol"],
        "the declaration first, then every use: {edited:?}"
    );
    assert_eq!(edited[0].1, 11, "declaration line: {edited:?}");
    insta::assert_snapshot!("rename_vault", c.redact(&edit["result"]));

    for (needle, why) in [
        ("Owned {", "dependency"),
        ("msg.sender]", "builtins"),
        ("    constructor", "constructor"),
    ] {
        let shift = if needle.starts_with(' ') { 6 } else { 1 };
        let r = c
            .at("textDocument/prepareRename", f, needle, 0, shift)
            .await;
        assert!(
            r["error"]["message"].as_str().unwrap_or("").contains(why) || r["result"].is_null(),
            "{needle}: {r}"
        );
    }
    let bad = c
        .request(
            "textDocument/rename",
            json!({"textDocument": {"uri": c.uri(f)}, "position": c.pos(f, "totalDeposits;", 0, 1), "newName": "uint256"}),
        )
        .await;
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_signature_help_symbols_and_editor_extras() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    c.open("src/Vault.sol").await;
    let f = "src/Vault.sol";
    let labels = |v: &Value| -> Vec<String> {
        v["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };

    let members = labels(
        &c.at("textDocument/completion", f, "position.amount +=", 0, 9)
            .await,
    );
    assert!(
        members.contains(&"amount".into()) && members.contains(&"since".into()),
        "{members:?}"
    );
    let attached = labels(
        &c.at("textDocument/completion", f, "totalDeposits.max", 0, 14)
            .await,
    );
    assert!(
        attached.contains(&"max".into()),
        "using-for member offered: {attached:?}"
    );
    let general = labels(
        &c.at("textDocument/completion", f, "emit Deposited", 0, 0)
            .await,
    );
    for expected in [
        "deposit",
        "positions",
        "function",
        "msg",
        "Position",
        "owner",
        "Math",
    ] {
        assert!(
            general.contains(&expected.to_string()),
            "{expected} missing from {general:?}"
        );
    }
    let imports = labels(&c.at("textDocument/completion", f, "Math.sol\"", 0, 0).await);
    assert!(
        imports.contains(&"Math.sol".into()) && imports.contains(&"Vault.sol".into()),
        "{imports:?}"
    );

    let sig = c
        .at("textDocument/signatureHelp", f, "Math.max(x, y)", 0, 12)
        .await;
    assert_eq!(
        sig["result"]["signatures"][0]["label"],
        "function max(uint256 a, uint256 b) internal pure returns (uint256)"
    );
    assert_eq!(sig["result"]["activeParameter"], 1);

    let syms = c
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": c.uri(f)}}),
        )
        .await;
    let outline: Vec<String> = syms["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let kids: Vec<&str> = s["children"]
                .as_array()
                .map(|k| k.iter().map(|c| c["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            format!("{} [{}]", s["name"].as_str().unwrap(), kids.join(", "))
        })
        .collect();
    insta::assert_snapshot!("outline", outline.join("\n"));
    let ws = c
        .request("workspace/symbol", json!({"query": "deposit"}))
        .await;
    let names: Vec<&str> = ws["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"deposit")
            && names.contains(&"Deposited")
            && names.contains(&"totalDeposits"),
        "{names:?}"
    );

    let tokens = c
        .request(
            "textDocument/semanticTokens/full",
            json!({"textDocument": {"uri": c.uri(f)}}),
        )
        .await;
    assert!(
        tokens["result"]["data"].as_array().unwrap().len() > 5 * 20,
        "{tokens}"
    );

    let hints = c
        .request("textDocument/inlayHint", json!({"textDocument": {"uri": c.uri(f)}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 100, "character": 0}}}))
        .await;
    let hint_labels: Vec<&str> = hints["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["label"].as_str().unwrap())
        .collect();
    assert!(
        hint_labels.contains(&"a:") && hint_labels.contains(&"b:"),
        "{hint_labels:?}"
    );

    c.open("test/Vault.t.sol").await;
    let lenses = c
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": c.uri("test/Vault.t.sol")}}),
        )
        .await;
    let lenses = lenses["result"].as_array().unwrap();
    assert_eq!(
        lenses.len(),
        1,
        "only test_ functions get a lens: {lenses:?}"
    );
    assert_eq!(lenses[0]["command"]["command"], "forja.runTest");
    assert_eq!(lenses[0]["command"]["arguments"][0], "test_deposit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_actions_and_formatting() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    let f = "src/Vault.sol";
    // No SPDX line, and `largest`'s body formatted badly; `deposit` lost `override`.
    let text = c
        .text(f)
        .replace("// SPDX-License-Identifier: MIT\n", "")
        .replace("external override {", "external {")
        .replace(
            "        return Math.max(x, y);",
            "\t\treturn Math.max(x, y);   \n\n\n",
        );
    std::fs::write(dir.path().join(f), &text).unwrap();
    c.open(f).await;
    let range = json!({"start": c.pos(f, "function deposit", 1, 10), "end": c.pos(f, "function deposit", 1, 10)});
    let actions = c
        .request("textDocument/codeAction", json!({"textDocument": {"uri": c.uri(f)}, "range": range, "context": {"diagnostics": []}}))
        .await;
    let titles: Vec<&str> = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Add SPDX license identifier"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Add `override` to `deposit`"),
        "{titles:?}"
    );

    let fmt = c
        .request("textDocument/formatting", json!({"textDocument": {"uri": c.uri(f)}, "options": {"tabSize": 4, "insertSpaces": true}}))
        .await;
    let new_text = fmt["result"][0]["newText"].as_str().unwrap();
    assert!(
        new_text.contains("        return Math.max(x, y);\n\n    }"),
        "{new_text}"
    );
}

/// Whether a solc build is installed for the save check; prints why not.
fn solc_installed(test: &str) -> bool {
    let installed = forja_compiler::solc::SolcManager::from_env()
        .map(|m| m.installed_versions())
        .unwrap_or_default();
    if installed.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and {test} has no solc installed"
        );
        common::announce(&format!(
            "SKIPPED {test}: no solc installed (run `forja solc install 0.8.30`)"
        ));
    }
    !installed.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_runs_solc_and_merges_its_diagnostics_without_duplicates() {
    if !solc_installed("saving_runs_solc_and_merges_its_diagnostics_without_duplicates") {
        return;
    }
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    let f = "src/Vault.sol";
    let uri = c.uri(f);
    c.open(f).await;

    // A type error both engines see, and an unused local only solc warns about.
    let text = c
        .text(f)
        .replace(
            "position.since = uint64(block.timestamp);",
            "position.since = string(block.timestamp);",
        )
        .replace(
            "return Math.max(x, y);",
            "uint256 unused = 1;\n        return Math.max(x, y);",
        );
    std::fs::write(dir.path().join(f), &text).unwrap();
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]}),
    )
    .await;
    let fast = c.diagnostics_until(&uri, |d| !errors(d).is_empty()).await;
    assert!(
        errors(&fast).iter().all(|d| d["source"] == "forja"),
        "{fast}"
    );
    c.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    )
    .await;
    let merged = c
        .diagnostics_until(&uri, |d| {
            d.as_array().unwrap().iter().any(|x| x["source"] == "solc")
        })
        .await;
    let type_error_line = c.pos(f, "string(block.timestamp)", 0, 0)["line"].clone();
    let at_error: Vec<&Value> = errors(&merged)
        .into_iter()
        .filter(|d| d["range"]["start"]["line"] == type_error_line)
        .collect();
    assert!(!at_error.is_empty(), "{merged}");
    assert!(
        at_error
            .iter()
            .all(|d| d["source"] == "solc" && d["code"].is_string()),
        "solc's errors with their codes replace the fast engine's: {merged}"
    );
    // Editing again drops solc's now misplaced results until the next save.
    let fixed = c
        .text(f)
        .replace("string(block.timestamp)", "uint64(block.timestamp)");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": fixed}]}),
    )
    .await;
    let after_edit = c.diagnostics_for(&uri).await;
    assert!(errors(&after_edit).is_empty(), "{after_edit}");
    assert!(
        after_edit
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["source"] == "forja"),
        "{after_edit}"
    );

    // Saved without the type error, solc gets to its warnings: the unused
    // local is reported by solc alone, and its earlier errors are gone.
    std::fs::write(dir.path().join(f), &fixed).unwrap();
    c.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    )
    .await;
    let warned = c
        .diagnostics_until(&uri, |d| {
            d.as_array().unwrap().iter().any(|x| x["source"] == "solc")
        })
        .await;
    assert!(errors(&warned).is_empty(), "{warned}");
    let unused_line = c.pos(f, "uint256 unused", 0, 0)["line"].clone();
    assert!(
        warned.as_array().unwrap().iter().any(|d| d["severity"] == 2
            && d["source"] == "solc"
            && d["range"]["start"]["line"] == unused_line),
        "solc's unused-variable warning: {warned}"
    );

    // The successful build left artifacts with solc's gas estimates: each
    // function gets a gas hint at the end of its header, the constructor
    // its deployment cost.
    let hints = c
        .request(
            "textDocument/inlayHint",
            json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 200, "character": 0}}}),
        )
        .await;
    let gas_hint_on = |needle: &str| {
        let line = c.pos(f, needle, 0, 0)["line"].clone();
        hints["result"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["position"]["line"] == line && h["label"].as_str().unwrap().contains("gas"))
            .map(|h| h["label"].as_str().unwrap().to_string())
    };
    let deposit = gas_hint_on("function deposit(uint256 amount) external override")
        .unwrap_or_else(|| panic!("a gas hint on deposit: {hints}"));
    assert!(
        deposit.starts_with('~') || deposit == "unbounded gas",
        "{deposit}"
    );
    let constructor = gas_hint_on("constructor()")
        .unwrap_or_else(|| panic!("a gas hint on the constructor: {hints}"));
    assert!(constructor.starts_with("deploy"), "{constructor}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_data_location_gets_a_quick_fix_from_its_diagnostic() {
    let dir = fixture_project();
    let c = TestClient::start(dir.path()).await;
    let f = "src/Vault.sol";
    let uri = c.uri(f);
    c.open(f).await;
    let text = c.text(f).replace(
        "function largest(uint256 x, uint256 y)",
        "function largest(uint256 x, uint256 y, string label)",
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]}),
    )
    .await;
    let diags = c.diagnostics_until(&uri, |d| !errors(d).is_empty()).await;
    let location_error = errors(&diags)
        .into_iter()
        .find(|d| d["message"].as_str().unwrap().contains("data location"))
        .unwrap_or_else(|| panic!("no data location error: {diags}"))
        .clone();
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": location_error["range"], "context": {"diagnostics": [location_error]}}),
        )
        .await;
    let memory = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Add data location `memory`")
        .unwrap_or_else(|| panic!("{actions}"));
    let edit = &memory["edit"]["changes"][uri.as_str()][0];
    // Applying the edit yields `string memory label`.
    let line = edit["range"]["start"]["line"].as_u64().unwrap() as usize;
    let col = edit["range"]["start"]["character"].as_u64().unwrap() as usize;
    let mut fixed_line = text.lines().nth(line).unwrap().to_string();
    fixed_line.insert_str(col, edit["newText"].as_str().unwrap());
    assert!(fixed_line.contains("string memory label)"), "{fixed_line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_end_remappings_resolve_imports_for_the_fast_engine() {
    let dir = fixture_project();
    // What `forja lsp` does for `forja-std/`: a remapping into the project's cache.
    std::fs::create_dir_all(dir.path().join("cache/std")).unwrap();
    std::fs::write(
        dir.path().join("cache/std/Test.sol"),
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\nabstract contract Test {\n    function assertTrue(bool c) internal pure {\n        require(c);\n    }\n}\n",
    )
    .unwrap();
    let f = "test/Std.t.sol";
    std::fs::write(
        dir.path().join(f),
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\nimport {Test} from \"forja-std/Test.sol\";\n\ncontract StdTest is Test {\n    function test_truth() public pure {\n        assertTrue(true);\n    }\n}\n",
    )
    .unwrap();
    let extra: forja_lsp::solc_check::ExtraRemappings =
        std::sync::Arc::new(|_project: &forja_compiler::Project| {
            vec![forja_compiler::Remapping {
                prefix: "forja-std/".into(),
                target: "cache/std/".into(),
            }]
        });
    let c = TestClient::start_with(
        dir.path(),
        forja_lsp::ServerOptions {
            extra_remappings: Some(extra),
        },
    )
    .await;
    let diags = c.open(f).await;
    assert!(errors(&diags).is_empty(), "{diags}");
    let def = c
        .at("textDocument/definition", f, "assertTrue(true)", 0, 1)
        .await;
    assert_eq!(target_of(&def), ("Test.sol".into(), 4));

    // Without the front end's remapping the import is unresolved.
    let plain = TestClient::start(dir.path()).await;
    let diags = plain.open(f).await;
    assert!(!errors(&diags).is_empty(), "{diags}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_at_exit_while_the_client_keeps_its_pipe_open() {
    use tokio::io::AsyncWriteExt;
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let (server_read, server_write) = tokio::io::split(server);
    let serving = tokio::spawn(forja_lsp::serve(
        server_read,
        server_write,
        forja_lsp::ServerOptions::default(),
    ));
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
        json!({"jsonrpc": "2.0", "method": "exit"}),
    ] {
        let body = message.to_string();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        client.write_all(frame.as_bytes()).await.unwrap();
    }
    // `client` stays open: only `exit` can end the server.
    tokio::time::timeout(std::time::Duration::from_secs(60), serving)
        .await
        .expect("the server returned after `exit`")
        .unwrap();
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_errors_show_on_open_and_while_typing_without_a_save() {
    let dir = fixture_project();
    let rel = "src/Sender.sol";
    let source = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\ncontract Sender {\n    function who() external view returns (uint256) {\n        return msg.sender;\n    }\n\n    function pair() external pure returns (uint8, bool) {\n        return (1, true);\n    }\n}\n";
    std::fs::write(dir.path().join(rel), source).unwrap();
    let c = TestClient::start(dir.path()).await;
    let uri = c.uri(rel);

    // On open, before any save: solc has not run, solar reports it.
    let diags = c.open(rel).await;
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "one type error on open: {diags}");
    assert_eq!(errs[0]["source"], "forja");
    assert_eq!(
        errs[0]["range"]["start"],
        c.pos(rel, "msg.sender;", 0, 0),
        "{diags}"
    );
    let message = errs[0]["message"].as_str().unwrap();
    assert!(
        message.contains("uint256") && message.contains("address"),
        "{message}"
    );

    // Fixing it while typing clears it; breaking the tuple return reports it.
    let fixed = source
        .replace("return msg.sender;", "return uint256(uint160(msg.sender));")
        .replace("return (1, true);", "return (1, 2);");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    )
    .await;
    let diags = c.diagnostics_for(&uri).await;
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "only the tuple's second value: {diags}");
    let second = fixed.find("2);").unwrap();
    let line = fixed[..second].matches('\n').count();
    assert_eq!(errs[0]["range"]["start"]["line"], line, "{diags}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_edits_ends_with_the_newest_texts_diagnostics() {
    let dir = fixture_project();
    let rel = "src/Burst.sol";
    let valid = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\ncontract Burst {\n    function f() external pure returns (uint256) {\n        return 1;\n    }\n}\n";
    std::fs::write(dir.path().join(rel), valid).unwrap();
    // The server's defaults: no debounce option.
    let c = TestClient::start(dir.path()).await;
    let uri = c.uri(rel);
    assert!(errors(&c.open(rel).await).is_empty());
    // Edits faster than analysis: the ones that arrive while an analysis
    // runs are coalesced, and the last publish is for the last text.
    for version in 2..12 {
        let text = if version == 11 {
            valid.replace("return 1;", "return true;")
        } else {
            valid.replace("return 1;", &format!("return {version};"))
        };
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        )
        .await;
    }
    let diags = c.diagnostics_until(&uri, |d| !errors(d).is_empty()).await;
    assert!(
        errors(&diags)[0]["message"]
            .as_str()
            .unwrap()
            .contains("bool"),
        "{diags}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_resolve_through_the_libs_that_forja_toml_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // `vendor/` is a libs directory only because forja.toml says so.
    std::fs::write(
        root.join("forja.toml"),
        "[project]\nname = \"libs\"\nlibs = [\"vendor\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("vendor/mathlib/src")).unwrap();
    std::fs::write(
        root.join("vendor/mathlib/src/Math.sol"),
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\nlibrary Math {\n    function twice(uint256 x) internal pure returns (uint256) {\n        return 2 * x;\n    }\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("src/Uses.sol"),
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\nimport {Math} from \"mathlib/Math.sol\";\n\ncontract Uses {\n    function f() external pure returns (uint256) {\n        return Math.twice(2);\n    }\n}\n",
    )
    .unwrap();
    let c = TestClient::start(root).await;
    let diags = c.open("src/Uses.sol").await;
    assert!(errors(&diags).is_empty(), "the import resolves: {diags}");
    let def = c
        .at("textDocument/definition", "src/Uses.sol", "twice(2)", 0, 1)
        .await;
    assert_eq!(target_of(&def), ("Math.sol".into(), 4), "{def}");
    // Declared in a libs directory: a dependency, not renameable.
    let rename = c
        .at(
            "textDocument/prepareRename",
            "src/Uses.sol",
            "twice(2)",
            0,
            1,
        )
        .await;
    assert!(
        rename["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("dependency")),
        "{rename}"
    );
}
