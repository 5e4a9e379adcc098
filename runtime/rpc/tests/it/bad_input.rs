//! Requests real clients never send: each gets the spec's error code and
//! the server keeps serving. Plus the operations endpoints, CORS and the
//! host allowlist, which answer at the HTTP level.

use crate::common::{TestNet, dev_config, http, rpc};
use forja_rpc::RpcConfig;
use serde_json::{Value, json};

fn still_serving(net: &TestNet) {
    let response = rpc(
        net.addr(),
        r#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}"#,
    )
    .json();
    assert_eq!(response["result"], "0x539", "{response}");
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {response}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_spec_codes_and_the_server_keeps_serving() {
    let net = TestNet::start(
        dev_config(),
        1,
        RpcConfig {
            max_request_body_size: 4096,
            max_batch_size: 5,
            ..Default::default()
        },
    )
    .await;
    let addr = net.addr();

    let malformed = rpc(addr, r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId""#);
    assert_eq!(error_code(&malformed.json()), -32700);
    still_serving(&net);

    let no_method = rpc(addr, r#"{"jsonrpc":"2.0","id":1}"#).json();
    assert_eq!(error_code(&no_method), -32600);
    still_serving(&net);

    let unknown = rpc(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}"#,
    )
    .json();
    assert_eq!(error_code(&unknown), -32601);

    for params in [
        json!(["not-an-address", "latest"]),
        json!([42]),
        json!([]),
        json!(["0x0000000000000000000000000000000000000001", "not-a-block"]),
    ] {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":params});
        let response = rpc(addr, &body.to_string()).json();
        assert_eq!(error_code(&response), -32602, "params {params}: {response}");
    }
    let bad_raw = rpc(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x1234"]}"#,
    )
    .json();
    assert_eq!(error_code(&bad_raw), -32602, "{bad_raw}");
    let future_block = rpc(addr, r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x0000000000000000000000000000000000000001","0xffff"]}"#).json();
    assert_eq!(error_code(&future_block), -32001, "{future_block}");
    still_serving(&net);

    // Body over the limit: HTTP 413 with -32600, not -32007 (Besu's code for
    // permission refusals, which jsonrpsee reuses for "too big").
    let padding = "x".repeat(8192);
    let huge =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["0x{padding}"]}}"#);
    let response = rpc(addr, &huge);
    assert_eq!(response.status, 413);
    assert_eq!(error_code(&response.json()), -32600);
    still_serving(&net);

    // A batch within the limit is answered call by call...
    let batch: Vec<Value> = (0..5)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_blockNumber","params":[]}))
        .collect();
    let answers = rpc(addr, &Value::Array(batch.clone()).to_string()).json();
    assert_eq!(answers.as_array().unwrap().len(), 5);
    // ...one over it is refused whole (jsonrpsee's -32010).
    let mut too_many = batch;
    too_many.push(json!({"jsonrpc":"2.0","id":5,"method":"eth_blockNumber","params":[]}));
    let refused = rpc(addr, &Value::Array(too_many).to_string()).json();
    assert_eq!(error_code(&refused), -32010, "{refused}");
    // A batch mixing good and bad calls answers each.
    let mixed = rpc(
        addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"nope","params":[]}]"#,
    )
    .json();
    let mixed = mixed.as_array().unwrap();
    assert!(mixed.iter().any(|r| r["result"] == "0x539"));
    assert!(mixed.iter().any(|r| r["error"]["code"] == -32601));
    still_serving(&net);

    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_cors_and_host_allowlist() {
    let net = TestNet::start(
        dev_config(),
        1,
        RpcConfig {
            cors_origins: vec!["https://app.example".into()],
            ..Default::default()
        },
    )
    .await;
    let addr = net.addr();
    still_serving(&net);

    let liveness = http(addr, "GET", "/liveness", &[], b"");
    assert_eq!(
        (liveness.status, liveness.body.as_str()),
        (200, r#"{"status":"UP"}"#)
    );
    let readiness = http(addr, "GET", "/readiness", &[], b"");
    assert_eq!(readiness.status, 200);
    let metrics = http(addr, "GET", "/metrics", &[], b"");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("forja_blockchain_height 0"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("forja_transaction_pool_transactions{state=\"pending\"} 0")
    );
    assert!(metrics.body.contains("forja_consensus_rounds_total"));
    assert!(
        metrics
            .body
            .contains("forja_rpc_request_duration_seconds_count{method=\"eth_chainId\"} 1"),
        "{}",
        metrics.body
    );

    let preflight = http(
        addr,
        "OPTIONS",
        "/",
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let other_origin = http(
        addr,
        "OPTIONS",
        "/",
        &[("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(other_origin.status, 403);
    let call = http(
        addr,
        "POST",
        "/",
        &[("Origin", "https://app.example")],
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#,
    );
    assert_eq!(
        call.header("access-control-allow-origin"),
        Some("https://app.example")
    );

    // DNS rebinding: a name not on the host allowlist is refused.
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: attacker.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    still_serving(&net);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_refuses_extra_connections_and_recovers() {
    let net = TestNet::start(
        dev_config(),
        1,
        RpcConfig {
            max_connections: 2,
            ..Default::default()
        },
    )
    .await;
    let addr = net.addr();
    // Each WebSocket connection holds a slot for its lifetime.
    let connect = || async {
        alloy::providers::ProviderBuilder::new()
            .connect_ws(alloy::providers::WsConnect::new(net.servers[0].ws_url()))
            .await
            .expect("ws connects")
    };
    let first = connect().await;
    let second = connect().await;
    let refused = rpc(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#,
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    drop((first, second));
    // The slots free up once the server sees the connections close.
    let mut served = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if rpc(
            addr,
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#,
        )
        .status
            == 200
        {
            served = true;
            break;
        }
    }
    assert!(
        served,
        "connections are served again after the WebSockets close"
    );
    still_serving(&net);
    net.stop().await;
}

/// Another crate's pages (the explorer) on the RPC port, through `HttpPages`.
#[derive(Debug)]
struct OnePage;

impl forja_rpc::HttpPages for OnePage {
    fn page(&self, path: &str) -> Option<forja_rpc::HttpPage> {
        (path == "/page").then(|| forja_rpc::HttpPage {
            status: 200,
            content_type: "text/html; charset=utf-8",
            headers: vec![("content-security-policy", "default-src 'self'")],
            body: b"<p>hello</p>".to_vec(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_served_over_get_beside_the_api() {
    let net = TestNet::start(
        dev_config(),
        1,
        RpcConfig {
            pages: Some(std::sync::Arc::new(OnePage)),
            ..Default::default()
        },
    )
    .await;
    let addr = net.addr();
    let page = http(addr, "GET", "/page", &[], b"");
    assert_eq!((page.status, page.body.as_str()), (200, "<p>hello</p>"));
    assert!(
        page.headers
            .iter()
            .any(|(name, value)| name == "content-security-policy" && value == "default-src 'self'"),
        "{:?}",
        page.headers
    );
    // Other paths are still the API's and the operations endpoints'.
    assert_eq!(http(addr, "GET", "/liveness", &[], b"").status, 200);
    assert_ne!(http(addr, "GET", "/other", &[], b"").status, 200);
    still_serving(&net);
    net.stop().await;
}
