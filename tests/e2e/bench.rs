//! `forja bench` from the binary: the embedded network and `forja node`
//! through `--rpc` give the same counts, a fixed rate holds, failures are
//! counted by reason, the reports hold their documented fields and plots
//! (the HTML page is rendered by headless Chromium), and `--compare` fails
//! on a regression.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::clients::ForjaNode;
use super::{assert_success, forja, forja_home, text};

fn project(dir: &Path, template: &str) -> PathBuf {
    assert_success(&forja(dir, &["new", "p", "--template", template]));
    dir.join("p")
}

fn report(project: &Path) -> Value {
    let path = project.join("bench-report/bench-report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn count(report: &Value, pointer: &str) -> u64 {
    report
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} is not a count in {report:#}"))
}

/// 300 transactions at 100 tx/s from 4 senders, no warm-up: three seconds.
const WORKLOAD: &[&str] = &[
    "--rate",
    "100",
    "--duration",
    "3s",
    "--warmup",
    "0s",
    "--senders",
    "4",
];

/// Every field crate docs promise in bench-report.json.
const DOCUMENTED: &[&str] = &[
    "/forja_version",
    "/target",
    "/started_at_unix",
    "/workload/shape/kind",
    "/workload/senders",
    "/workload/calls",
    "/workload/planned_transactions",
    "/workload/duration_seconds",
    "/workload/warmup_seconds",
    "/workload/connections",
    "/workload/batch",
    "/workload/seed",
    "/transactions/submitted",
    "/transactions/accepted",
    "/transactions/committed",
    "/transactions/reverted",
    "/transactions/failed",
    "/transactions/failures",
    "/transactions/warmup",
    "/throughput/committed_tps",
    "/throughput/submitted_tps",
    "/throughput/measured_seconds",
    "/throughput/per_second/0/submitted",
    "/throughput/per_second/0/committed",
    "/latency_ms/samples",
    "/latency_ms/mean",
    "/latency_ms/p50",
    "/latency_ms/p90",
    "/latency_ms/p99",
    "/latency_ms/max",
    "/latency_ms/histogram/0/upper_ms",
    "/blocks/count",
    "/blocks/transactions_mean",
    "/blocks/transactions_max",
    "/blocks/interval_ms_mean",
    "/blocks/interval_ms_p50",
    "/blocks/interval_ms_max",
    "/blocks/round_changes",
    "/blocks/round_timeouts",
    "/blocks/per_block/0/number",
    "/blocks/per_block/0/at_ms",
    "/blocks/per_block/0/transactions",
    "/process/role",
    "/process/cpu_cores_mean",
    "/process/cpu_cores_max",
    "/process/rss_mib_max",
    "/process/per_second",
    "/generator/presign_seconds",
    "/generator/presign_tps",
    "/generator/ceiling_tps",
    "/generator/ceiling_method",
    "/generator/max_lag_ms",
];

#[track_caller]
fn assert_all_committed(report: &Value, expected: u64) {
    for field in ["submitted", "accepted", "committed"] {
        assert_eq!(
            count(report, &format!("/transactions/{field}")),
            expected,
            "{field} in {report:#}"
        );
    }
    assert_eq!(count(report, "/transactions/failed"), 0, "{report:#}");
    assert_eq!(count(report, "/latency_ms/samples"), expected);
}

/// Sent at 100 tx/s for three seconds: the run offered 100 tx/s ± 10%.
/// Not each second apart: on a loaded machine (CI's two cores running other
/// tests) the generator can stall for part of a second and catch up in the
/// next (seen: 100, 61, 139), which is its schedule working, not a fault.
#[track_caller]
fn assert_rate_held(report: &Value) {
    let seconds = report["throughput"]["per_second"].as_array().unwrap();
    let sent: u64 = seconds
        .iter()
        .map(|second| second["submitted"].as_u64().unwrap())
        .sum();
    assert_eq!(sent, 300, "{seconds:?}");
    let offered = report["throughput"]["submitted_tps"].as_f64().unwrap();
    assert!((90.0..=110.0).contains(&offered), "offered {offered} tx/s");
}

#[test]
fn bench_on_the_embedded_network_commits_every_transaction_and_writes_its_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path(), "basic");
    let mut args = vec!["bench", "--embedded"];
    args.extend_from_slice(WORKLOAD);
    let output = forja(&project, &args);
    assert_success(&output);
    let printed = text(&output);
    assert!(printed.contains("throughput"), "{printed}");
    assert!(printed.contains("bench-report.json"), "{printed}");

    let report = report(&project);
    for field in DOCUMENTED {
        assert!(
            report.pointer(field).is_some(),
            "{field} missing from {report:#}"
        );
    }
    assert_all_committed(&report, 300);
    assert_rate_held(&report);
    assert!(report["target"].as_str().unwrap().starts_with("embedded:"));
    assert!(report["process"]["rss_mib_max"].as_f64().unwrap() > 1.0);
    assert!(count(&report, "/blocks/count") > 0);

    let out = project.join("bench-report");
    for svg in [
        "bench-throughput.svg",
        "bench-latency.svg",
        "bench-block-time.svg",
    ] {
        let svg = std::fs::read_to_string(out.join(svg)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<text"), "{svg}");
    }
    check_html_in_chromium(&out.join("bench-report.html"));

    // --compare: the same report passes; one whose throughput was double fails.
    let new = out.join("bench-report.json");
    let same = forja(
        &project,
        &[
            "bench",
            "--compare",
            new.to_str().unwrap(),
            "--against",
            new.to_str().unwrap(),
        ],
    );
    assert_success(&same);
    let mut faster = report.clone();
    faster["throughput"]["committed_tps"] =
        json!(report["throughput"]["committed_tps"].as_f64().unwrap() * 2.0);
    let old = tmp.path().join("old.json");
    std::fs::write(&old, faster.to_string()).unwrap();
    let compared = forja(
        &project,
        &[
            "bench",
            "--compare",
            old.to_str().unwrap(),
            "--against",
            new.to_str().unwrap(),
            "--tolerance",
            "10",
        ],
    );
    assert_eq!(compared.status.code(), Some(1), "{}", text(&compared));
    assert!(text(&compared).contains("throughput") && text(&compared).contains("REGRESSION"));
}

#[test]
fn bench_through_rpc_on_forja_node_gives_the_same_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path(), "basic");
    let node = ForjaNode::start(&project, &tmp.path().join("chain"));
    let url = node.url();
    let mut args = vec!["bench", "--rpc", &url];
    args.extend_from_slice(WORKLOAD);
    let output = forja(&project, &args);
    assert_success(&output);
    let report = report(&project);
    assert_all_committed(&report, 300);
    assert_rate_held(&report);
    assert_eq!(report["target"], format!("rpc: {url}"));
    assert!(report["blocks"]["round_timeouts"].is_null());
    assert!(report["generator"]["ceiling_tps"].as_f64().unwrap() > 100.0);
}

#[test]
fn failures_are_counted_by_reason_when_a_sender_leaves_the_allowlist() {
    let tmp = tempfile::tempdir().unwrap();
    // The network template: an account allowlist, dev account 0 its admin.
    // A network from a file serves ETH,NET,WEB3 only, as Besu does: the
    // bench allowlists its senders and the test removes one through PERM.
    let project = project(tmp.path(), "network");
    let node = ForjaNode::start_with(
        &project,
        &tmp.path().join("chain"),
        &["--rpc-http-api", "ETH,NET,WEB3,PERM"],
    );
    let url = node.url();
    let removed = forja_bench::sender_keys(1, 4)[0].address();
    let mut bench = Command::new(env!("CARGO_BIN_EXE_forja"))
        .args(["bench", "--rpc", &url, "--drain-timeout", "3s"])
        .args(WORKLOAD)
        .current_dir(&project)
        .env("FORJA_HOME", forja_home())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the sender's first transactions are in, an admin takes it off.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let nonce = rpc(&url, "eth_getTransactionCount", json!([removed, "latest"]));
        if u64::from_str_radix(nonce.as_str().unwrap().trim_start_matches("0x"), 16).unwrap() >= 10
        {
            break;
        }
        assert!(Instant::now() < deadline, "sender {removed} never sent");
        assert!(
            bench.try_wait().unwrap().is_none(),
            "forja bench ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        rpc(&url, "perm_removeAccountsFromAllowlist", json!([[removed]])),
        "Success"
    );
    let output = bench.wait_with_output().unwrap();
    assert_success(&output);

    let report = report(&project);
    let t = &report["transactions"];
    assert_eq!(count(&report, "/transactions/submitted"), 300);
    let refused: u64 = t["failures"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(reason, _)| reason.contains("allowlist"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    // Sender 0 had 75 to send and was removed after 10 or so.
    assert!((30..=65).contains(&refused), "{t:#}");
    assert_eq!(
        count(&report, "/transactions/committed") + count(&report, "/transactions/failed"),
        300,
        "{t:#}"
    );
    assert!(count(&report, "/transactions/committed") >= 225, "{t:#}");
}

/// One JSON-RPC call over a fresh HTTP/1.1 connection.
fn rpc(url: &str, method: &str, params: Value) -> Value {
    let address = url.strip_prefix("http://").unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"));
    assert!(value["error"].is_null(), "{method}: {value}");
    value["result"].clone()
}

/// Renders the page in headless Chromium: it must load from disk with no
/// console errors and hold the three plots. Without Chromium the check is
/// skipped, except under CI=true, where it fails.
fn check_html_in_chromium(page: &Path) {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed (apt-get install -y chromium); CI needs it to check the HTML report"
        );
        eprintln!("SKIPPED the HTML check: chromium is not installed");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        text(&output)
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    for id in ["plot-throughput", "plot-latency", "plot-block-time"] {
        let at = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} missing from the rendered page"));
        assert!(dom[at..].contains("<svg"), "{id} holds no SVG");
    }
    assert!(dom.contains("id=\"summary\""));
}
