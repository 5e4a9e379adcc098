//! Language-server figures on OpenZeppelin Contracts 5.x (downloaded with npm
//! into a cache dir): initial index, diagnostics after an edit, hover,
//! definition, completion (through the JSON-RPC conversation), memory.
//! Run: `cargo bench -p forja-lsp --bench lsp`.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

#[path = "../tests/common/mod.rs"]
mod common;

use forja_lsp::{
    analysis::{Extract, Overlays, analyze},
    project::Workspace,
};
use serde_json::json;
use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (p(0.5), p(0.95))
}

fn report(name: &str, samples: Vec<Duration>) {
    let n = samples.len();
    let (p50, p95) = percentiles(samples);
    println!(
        "{name:<34} p50 {:>9.2} ms   p95 {:>9.2} ms   (n={n})",
        p50.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3
    );
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(oz) = common::openzeppelin("lsp bench") else {
        // `openzeppelin` printed why.
        return;
    };
    let config = Workspace::for_root(&oz, None);
    let files = config.source_files();
    println!("OpenZeppelin: {} files at {}", files.len(), oz.display());

    let mut index_samples = Vec::new();
    let mut known = HashSet::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = analyze(&config, &Overlays::new(), &files, &Extract::All);
        index_samples.push(t.elapsed());
        assert!(out.panic.is_none());
        known = out.files.iter().map(|f| f.path.clone()).collect();
    }
    report("initial workspace index (all)", index_samples);

    // Diagnostics after an edit to ERC20.sol: the file is re-analysed from its
    // unsaved buffer together with its project importers.
    let erc20 = oz.join("token/ERC20/ERC20.sol");
    let text = std::fs::read_to_string(&erc20).unwrap();
    let mut diag_samples = Vec::new();
    for i in 0..30 {
        let edited = text.replace("return _name;", &format!("return _name; // edit {i}"));
        let overlays: Overlays = [(erc20.clone(), Arc::from(edited))].into_iter().collect();
        let t = Instant::now();
        let out = analyze(
            &config,
            &overlays,
            std::slice::from_ref(&erc20),
            &Extract::Except(known.clone()),
        );
        diag_samples.push(t.elapsed());
        assert!(out.diagnostics.contains_key(&erc20));
    }
    report("diagnostics after edit (ERC20)", diag_samples);

    // Requests over JSON-RPC through the real server (debounce 0: the figure
    // is the work, not the editor-friendly delay of 120 ms).
    let c = common::TestClient::start(&oz).await;
    let all = config.source_files();
    let t = Instant::now();
    for path in &all {
        c.open(path.strip_prefix(&oz).unwrap().to_str().unwrap())
            .await;
    }
    println!(
        "open every file (didOpen -> diagnostics) {:>8.0} ms total for {} files",
        t.elapsed().as_secs_f64() * 1e3,
        all.len()
    );
    println!("memory (RSS, all of OZ open)       {:.1} MB", rss_mb());

    // didChange -> publishDiagnostics for ERC20.sol, which 30+ open files import.
    let rel = "token/ERC20/ERC20.sol";
    let uri = c.uri(rel);
    let mut e2e = Vec::new();
    for i in 0..30 {
        let edited = text.replace("return _name;", &format!("return _name; // edit {i}"));
        let t = Instant::now();
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [{"text": edited}]}),
        )
        .await;
        c.diagnostics_for(&uri).await;
        e2e.push(t.elapsed());
    }
    report("didChange -> diagnostics (ERC20)", e2e);

    let f = "token/ERC20/extensions/ERC4626.sol";
    let mut hover = Vec::new();
    let mut definition = Vec::new();
    let mut completion = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let h = c.at("textDocument/hover", f, "address(_asset)", 0, 9).await;
        hover.push(t.elapsed());
        assert!(h["result"].is_object());
        let t = Instant::now();
        let d = c
            .at(
                "textDocument/definition",
                f,
                "SafeERC20.safeTransfer(",
                0,
                12,
            )
            .await;
        definition.push(t.elapsed());
        assert!(d["result"].is_object());
        let t = Instant::now();
        let r = c.at("textDocument/completion", f, "_asset);", 0, 0).await;
        completion.push(t.elapsed());
        assert!(r["result"].as_array().is_some_and(|a| !a.is_empty()));
    }
    report("hover (JSON-RPC round trip)", hover);
    report("definition (JSON-RPC round trip)", definition);
    report("completion (JSON-RPC round trip)", completion);
    println!("memory (RSS at the end)            {:.1} MB", rss_mb());
}
