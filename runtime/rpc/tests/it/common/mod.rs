//! A network plus JSON-RPC servers on 127.0.0.1:0, and a raw HTTP client
//! for the requests real clients never send (malformed JSON, huge bodies).

#![allow(dead_code)]

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::Arc,
    time::Duration,
};

use alloy::{
    contract::{CallBuilder, CallDecoder},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use forja_rpc::{NetworkNode, RpcConfig, RpcServer};
use forja_runtime::{Network, NetworkConfig, StorageMode};
use serde_json::Value;

/// Sends a contract call as a transaction and waits for its receipt.
pub(crate) async fn mined<P: Provider, D: CallDecoder>(
    call: CallBuilder<P, D>,
) -> TransactionReceipt {
    call.send()
        .await
        .expect("the call is sent")
        .get_receipt()
        .await
        .expect("the call is mined")
}

pub(crate) struct TestNet {
    pub network: Network,
    /// One server per node asked for, in node order.
    pub servers: Vec<RpcServer>,
    pub accounts: Vec<PrivateKeySigner>,
}

/// The dev network: 4 QBFT validators, a block per pending transaction.
pub(crate) fn dev_config() -> NetworkConfig {
    NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    }
}

impl TestNet {
    /// Starts `config` in memory and serves nodes `0..served`.
    pub(crate) async fn start(config: NetworkConfig, served: usize, rpc: RpcConfig) -> TestNet {
        let mode = config.consensus.mode;
        let network = tokio::task::spawn_blocking(move || {
            Network::start(config, StorageMode::InMemory).expect("network starts")
        })
        .await
        .unwrap();
        let accounts: Vec<PrivateKeySigner> =
            network.dev_accounts().into_iter().map(|(_, s)| s).collect();
        let mut servers = Vec::new();
        for index in 0..served {
            let node = Arc::new(NetworkNode::new(network.node(index), mode));
            let config = RpcConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                dev_accounts: accounts.clone(),
                ..rpc.clone()
            };
            servers.push(RpcServer::start(config, node).await.expect("server starts"));
        }
        TestNet {
            network,
            servers,
            accounts,
        }
    }

    /// The dev network with the dev methods on, as `forja node` serves it.
    pub(crate) async fn dev() -> TestNet {
        let rpc = RpcConfig {
            dev_methods: true,
            ..Default::default()
        };
        Self::start(dev_config(), 1, rpc).await
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.servers[0].local_addr()
    }

    pub(crate) fn http_url(&self) -> Url {
        self.servers[0].http_url().parse().unwrap()
    }

    pub(crate) async fn stop(self) {
        for server in self.servers {
            server.stop().await;
        }
        let network = self.network;
        tokio::task::spawn_blocking(move || network.shutdown())
            .await
            .unwrap();
    }
}

/// A raw HTTP exchange: status, lower-cased headers, body.
pub(crate) struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.body))
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the answer.
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        addr.port(),
        body.len()
    );
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        && method == "POST"
    {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The server may answer (413) before reading a huge body; a reset
    // while writing the rest is expected then.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("HTTP response head");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    body
}

/// POSTs a JSON-RPC body.
pub(crate) fn rpc(addr: SocketAddr, body: &str) -> RawResponse {
    http(addr, "POST", "/", &[], body.as_bytes())
}

/// Where [`request`] sends a call: a test network's first server, or a URL.
pub(crate) trait RpcEndpoint {
    fn endpoint(&self) -> Url;
}

impl RpcEndpoint for TestNet {
    fn endpoint(&self) -> Url {
        self.http_url()
    }
}

impl RpcEndpoint for str {
    fn endpoint(&self) -> Url {
        self.parse().unwrap()
    }
}

impl RpcEndpoint for String {
    fn endpoint(&self) -> Url {
        self.as_str().endpoint()
    }
}

/// One JSON-RPC call through alloy's provider (a real client); an error
/// comes back as its text, code and message included.
pub(crate) async fn request(
    at: &(impl RpcEndpoint + ?Sized),
    method: &'static str,
    params: Value,
) -> Result<Value, String> {
    ProviderBuilder::new()
        .connect_http(at.endpoint())
        .raw_request::<_, Value>(method.into(), params)
        .await
        .map_err(|e| e.to_string())
}

/// Waits until every node has node 0's head, then checks they all hold the
/// same block there (a block commits on the nodes one after another);
/// returns the head.
pub(crate) async fn assert_nodes_agree(net: &TestNet) -> u64 {
    let nodes = net.network.nodes();
    let head = nodes[0].read().block_number();
    for _ in 0..1000 {
        if nodes.iter().all(|n| n.read().block_number() >= head) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let hash = nodes[0].read().block_by_number(head).unwrap().hash;
    for node in nodes {
        assert_eq!(node.read().block_number(), head, "node {}", node.index());
        assert_eq!(
            node.read().block_by_number(head).unwrap().hash,
            hash,
            "node {}",
            node.index()
        );
    }
    head
}
