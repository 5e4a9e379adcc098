//! Diagnostics latency as the editor sees it: drives a language server over
//! stdio (by default `forja lsp`), opens a 40-line contract, then sends
//! edits one at a time and times each from writing `didChange` to reading
//! the `publishDiagnostics` for that file. Prints p50/p95/max.
//!
//! ```sh
//! cargo build -p forja && cargo run -p forja-lsp --example edit_latency -- target/debug/forja lsp
//! ```
//!
//! Edits alternate between a body change that introduces a type error, one
//! that fixes it, and a comment change, so every kind of keystroke is timed.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const EDITS: usize = 60;

fn contract(body_value: &str, comment: usize) -> String {
    let mut text = String::from(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\n/// A counter with an owner.\ncontract Counter {\n    address public owner;\n    uint256 public count;\n    mapping(address => uint256) public perUser;\n\n    event Bumped(address indexed by, uint256 count);\n    error NotOwner(address caller);\n\n    constructor() {\n        owner = msg.sender;\n    }\n\n    modifier onlyOwner() {\n        if (msg.sender != owner) revert NotOwner(msg.sender);\n        _;\n    }\n\n",
    );
    text.push_str(&format!(
        "    // edit {comment}\n    /// Counts one more bump.\n"
    ));
    text.push_str("    function bump() external returns (uint256) {\n        count += 1;\n        perUser[msg.sender] += 1;\n        emit Bumped(msg.sender, count);\n");
    text.push_str(&format!("        return {body_value};\n    }}\n\n"));
    text.push_str("    /// Starts over.\n    function reset() external onlyOwner {\n        count = 0;\n    }\n\n    /// How often `user` bumped.\n    function countOf(address user) external view returns (uint256) {\n        return perUser[user];\n    }\n}\n");
    text
}

fn send(stdin: &mut impl Write, msg: &Value) {
    let body = msg.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    stdin.flush().unwrap();
}

fn read_messages(stdout: impl Read, tx: mpsc::Sender<(Instant, Value)>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let Ok(msg) = serde_json::from_slice(&body) else {
            continue;
        };
        if tx.send((Instant::now(), msg)).is_err() {
            return;
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        args = vec!["forja".into(), "lsp".into()];
    }
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    std::fs::write(root.join("forja.toml"), "[project]\nname = \"latency\"\n").unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    let file = root.join("src/Counter.sol");
    let text = contract("count", 0);
    std::fs::write(&file, &text).unwrap();
    println!("{} lines, server: {}", text.lines().count(), args.join(" "));

    let mut server = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", args[0]));
    let mut stdin = server.stdin.take().unwrap();
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || read_messages(stdout, tx));
    let uri = format!("file://{}", file.display());
    let wait_for = |pred: &dyn Fn(&Value) -> bool| -> (Instant, Value) {
        loop {
            let (at, msg) = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the server answers within 60 s");
            if pred(&msg) {
                return (at, msg);
            }
        }
    };
    let is_diagnostics = |msg: &Value| {
        msg["method"] == "textDocument/publishDiagnostics" && msg["params"]["uri"] == uri.as_str()
    };

    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": null, "rootUri": format!("file://{}", root.display()), "capabilities": {}}}),
    );
    wait_for(&|m| m["id"] == 1);
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    );
    let opened = Instant::now();
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "solidity", "version": 1, "text": text}}}),
    );
    let (at, _) = wait_for(&is_diagnostics);
    println!(
        "didOpen -> publishDiagnostics: {:.2} ms",
        (at - opened).as_secs_f64() * 1e3
    );

    let mut samples = Vec::new();
    let mut wrong_answers = 0;
    for i in 0..EDITS {
        let (value, has_error) = match i % 3 {
            0 => ("msg.sender", true),
            1 => ("count", false),
            _ => ("count + 0", false),
        };
        let edited = contract(value, i + 1);
        let sent = Instant::now();
        send(
            &mut stdin,
            &json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": i + 2},
                "contentChanges": [{"text": edited}]}}),
        );
        let (at, msg) = wait_for(&is_diagnostics);
        samples.push(at - sent);
        let errors = msg["params"]["diagnostics"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|d| d["severity"] == 1).count());
        if (errors > 0) != has_error {
            wrong_answers += 1;
        }
        // A pause between keystrokes, as a typist leaves.
        std::thread::sleep(Duration::from_millis(20));
    }
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}),
    );
    wait_for(&|m| m["id"] == 2);
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "exit", "params": null}),
    );
    let _ = server.wait();

    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "didChange -> publishDiagnostics over stdio: p50 {:.2} ms  p95 {:.2} ms  max {:.2} ms  (n={})",
        ms(at(0.5)),
        ms(at(0.95)),
        ms(at(1.0)),
        samples.len()
    );
    println!("diagnostics that did not match the edit: {wrong_answers}");
}
