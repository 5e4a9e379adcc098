//! JSON-RPC details as Geth and Besu answer them: hex-string subscription
//! ids, a cap on installed filters.

use crate::common::*;
use forja_rpc::RpcConfig;
use jsonrpsee::{
    core::client::SubscriptionClientT, rpc_params, types::SubscriptionId,
    ws_client::WsClientBuilder,
};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_ids_are_hex_strings_as_geth_sends_them() {
    let net = TestNet::dev().await;
    let client = WsClientBuilder::default()
        .build(net.servers[0].ws_url())
        .await
        .unwrap();
    let heads = client
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await
        .unwrap();
    let jsonrpsee::core::client::SubscriptionKind::Subscription(id) = heads.kind() else {
        panic!("a subscription has an id");
    };
    let SubscriptionId::Str(id) = id else {
        panic!("the id is a JSON number: {id:?}");
    };
    assert!(
        id.starts_with("0x") && id.len() == 34 && id[2..].chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    heads.unsubscribe().await.unwrap();
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_filters_are_capped() {
    let config = RpcConfig {
        max_filters: 3,
        ..Default::default()
    };
    let net = TestNet::start(dev_config(), 1, config).await;
    let addr = net.addr();
    let install = r#"{"jsonrpc":"2.0","id":1,"method":"eth_newBlockFilter","params":[]}"#;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let answer = rpc(addr, install).json();
        ids.push(answer["result"].as_str().expect("installed").to_owned());
    }
    let refused = rpc(addr, install).json();
    assert_eq!(refused["error"]["code"], -32005, "{refused}");
    // Uninstalling one makes room.
    let uninstall = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_uninstallFilter","params":["{}"]}}"#,
        ids[0]
    );
    assert_eq!(rpc(addr, &uninstall).json()["result"], true);
    assert!(rpc(addr, install).json()["result"].is_string());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_over_http_says_to_use_a_websocket() {
    let net = TestNet::dev().await;
    let answer = rpc(
        net.addr(),
        r#"{"jsonrpc":"2.0","id":7,"method":"eth_subscribe","params":["newHeads"]}"#,
    )
    .json();
    assert_eq!(answer["id"], 7, "{answer}");
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("notifications not supported"),
        "{answer}"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_envelope_over_http_gets_an_invalid_request_answer() {
    let config = RpcConfig {
        max_request_body_size: 1024,
        ..Default::default()
    };
    let net = TestNet::start(dev_config(), 1, config).await;
    let addr = net.addr();
    for id in ["-1", "1.5", "18446744073709551616", "true", "[]", "{}"] {
        let body =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_blockNumber","params":[]}}"#);
        let answer = rpc(addr, &body).json();
        assert_eq!(answer["error"]["code"], -32600, "id {id}: {answer}");
        assert_eq!(answer["id"], Value::Null, "id {id}: {answer}");
    }
    let answer = rpc(addr, "{}").json();
    assert_eq!(answer["error"]["code"], -32600, "{{}}: {answer}");
    // Too big is not a permission refusal (-32007).
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"data":"0x{}"}}]}}"#,
        "00".repeat(1024)
    );
    let response = rpc(addr, &big);
    assert_eq!(response.status, 413);
    assert_eq!(
        response.json()["error"]["code"],
        -32600,
        "{}",
        response.body
    );
    // Valid ones are untouched: a string id, a notification, a batch.
    let answer = rpc(
        addr,
        r#"{"jsonrpc":"2.0","id":"a","method":"eth_blockNumber","params":[]}"#,
    )
    .json();
    assert_eq!(answer["id"], "a");
    assert_eq!(answer["result"], "0x0");
    let batch = rpc(
        addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber"}]"#,
    )
    .json();
    assert_eq!(batch.as_array().map(Vec::len), Some(2), "{batch}");
    // A batch entry with an unreadable id is answered, not dropped.
    let batch = rpc(
        addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":-1,"method":"eth_blockNumber"}]"#,
    )
    .json();
    assert_eq!(batch.as_array().map(Vec::len), Some(2), "{batch}");
    assert_eq!(batch[1]["error"]["code"], -32600, "{batch}");
    net.stop().await;
}

/// A raw WebSocket client: what the server sends for each message, as is.
struct RawWebSocket {
    sender: soketto::connection::Sender<tokio_util::compat::Compat<tokio::net::TcpStream>>,
    receiver: soketto::connection::Receiver<tokio_util::compat::Compat<tokio::net::TcpStream>>,
}

impl RawWebSocket {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        use tokio_util::compat::TokioAsyncReadCompatExt;
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let host = addr.to_string();
        let mut client = soketto::handshake::Client::new(stream.compat(), &host, "/");
        let accepted = client.handshake().await.unwrap();
        assert!(
            matches!(
                accepted,
                soketto::handshake::ServerResponse::Accepted { .. }
            ),
            "the upgrade is accepted"
        );
        let (sender, receiver) = client.into_builder().finish();
        Self { sender, receiver }
    }

    async fn send(&mut self, text: &str) {
        self.sender.send_text(text).await.unwrap();
        self.sender.flush().await.unwrap();
    }

    /// The next message within two seconds, if any.
    async fn next(&mut self) -> Option<Value> {
        let mut message = Vec::new();
        let received = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            self.receiver.receive_data(&mut message),
        )
        .await
        .ok()?;
        received.unwrap();
        Some(serde_json::from_slice(&message).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_envelope_over_a_websocket_gets_an_invalid_request_answer() {
    let config = RpcConfig {
        max_request_body_size: 1024,
        ..Default::default()
    };
    let net = TestNet::start(dev_config(), 1, config).await;
    let mut socket = RawWebSocket::connect(net.addr()).await;
    for id in ["-1", "1.5", "18446744073709551616", "true", "[]", "{}"] {
        socket
            .send(&format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_blockNumber","params":[]}}"#
            ))
            .await;
        let answer = socket.next().await.expect("an answer, not silence");
        assert_eq!(answer["error"]["code"], -32600, "id {id}: {answer}");
        assert_eq!(answer["id"], Value::Null, "id {id}: {answer}");
    }
    socket.send("{}").await;
    let answer = socket.next().await.expect("an answer to {}");
    assert_eq!(answer["error"]["code"], -32600, "{{}}: {answer}");
    // Too big is not a permission refusal (-32007), and the connection
    // goes on.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"data":"0x{}"}}]}}"#,
        "00".repeat(1024)
    );
    socket.send(&big).await;
    let answer = socket.next().await.expect("an answer to a message too big");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    // A notification (no id) gets no answer; valid requests are untouched.
    socket
        .send(r#"{"jsonrpc":"2.0","method":"eth_blockNumber","params":[]}"#)
        .await;
    socket
        .send(r#"{"jsonrpc":"2.0","id":"a","method":"eth_blockNumber","params":[]}"#)
        .await;
    let answer = socket.next().await.unwrap();
    assert_eq!(
        answer["id"], "a",
        "the notification was not answered: {answer}"
    );
    assert_eq!(answer["result"], "0x0");
    socket
        .send(r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":-1,"method":"eth_blockNumber"}]"#)
        .await;
    let batch = socket.next().await.unwrap();
    assert_eq!(batch.as_array().map(Vec::len), Some(2), "{batch}");
    assert_eq!(batch[1]["error"]["code"], -32600, "{batch}");
    net.stop().await;
}

/// Each call with one bad QUANTITY or DATA, the field its error must name.
const BAD_HEX: &[(&str, &str, &str)] = &[
    ("eth_getBlockByNumber", r#"["", false]"#, "empty hex string"),
    (
        "eth_getBlockByNumber",
        r#"["0x", false]"#,
        r#"hex string \"0x\""#,
    ),
    (
        "eth_getBlockByNumber",
        r#"["0X1", false]"#,
        "without 0x prefix",
    ),
    ("eth_getBlockByNumber", r#"["0x01", false]"#, "leading zero"),
    (
        "eth_getBlockByNumber",
        r#"["0xg", false]"#,
        "invalid hex string",
    ),
    (
        "eth_getBlockByNumber",
        r#"[1, false]"#,
        "expected a block number",
    ),
    (
        "eth_getBalance",
        r#"["0x0000000000000000000000000000000000000001", "0x01"]"#,
        "block",
    ),
    (
        "eth_getBalance",
        r#"["0000000000000000000000000000000000000001", "latest"]"#,
        "address",
    ),
    (
        "eth_getBalance",
        r#"["0x0000000000000000000000000000000000000001", {"blockNumber": "0X0"}]"#,
        "`blockNumber`",
    ),
    (
        "eth_getTransactionByBlockNumberAndIndex",
        r#"["0x0", "0x00"]"#,
        "quantity",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "gas": "0x01"}, "latest"]"#,
        "`gas`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "gasPrice": "0x"}]"#,
        "`gasPrice`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "maxFeePerGas": ""}]"#,
        "`maxFeePerGas`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "maxPriorityFeePerGas": "0X1"}]"#,
        "`maxPriorityFeePerGas`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "value": "1"}]"#,
        "`value`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "nonce": "0x00"}]"#,
        "`nonce`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "chainId": "0x0539x"}]"#,
        "`chainId`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "type": "0x02"}]"#,
        "`type`",
    ),
    (
        "eth_call",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "data": "0x0"}]"#,
        "`data`",
    ),
    (
        "eth_estimateGas",
        r#"[{"to": "0x0000000000000000000000000000000000000001", "value": "0x01"}]"#,
        "`value`",
    ),
    ("eth_getLogs", r#"[{"fromBlock": "0x01"}]"#, "`fromBlock`"),
    ("eth_sendRawTransaction", r#"["f86c"]"#, "data"),
    (
        "eth_getBlockByHash",
        r#"["0X0000000000000000000000000000000000000000000000000000000000000000", false]"#,
        "hash",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_quantities_and_data_are_refused_naming_the_field() {
    let net = TestNet::dev().await;
    let addr = net.addr();
    for (method, params, named) in BAD_HEX {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let answer = rpc(addr, &body).json();
        assert_eq!(
            answer["error"]["code"], -32602,
            "{method} {params}: {answer}"
        );
        let said = answer["error"].to_string();
        assert!(
            said.contains(named),
            "{method} {params}: {answer} does not say {named}"
        );
    }
    let good: &[(&str, &str)] = &[
        ("eth_getBlockByNumber", r#"["0x0", false]"#),
        ("eth_getBlockByNumber", r#"["latest", false]"#),
        ("eth_getBlockByNumber", r#"["earliest", false]"#),
        ("eth_getBlockByNumber", r#"["pending", false]"#),
        ("eth_getBlockByNumber", r#"["safe", false]"#),
        ("eth_getBlockByNumber", r#"["finalized", false]"#),
        (
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", {"blockNumber": "0x0"}]"#,
        ),
        (
            "eth_getBalance",
            r#"["0x000000000000000000000000000000000000000A", "0x0"]"#,
        ),
        (
            "eth_call",
            r#"[{"to": "0x0000000000000000000000000000000000000001", "gas": "0x7530", "value": "0x0", "data": "0xAb", "type": "0x2", "maxFeePerGas": "0x0"}, "latest"]"#,
        ),
        (
            "eth_getLogs",
            r#"[{"fromBlock": "0x0", "toBlock": "latest", "topics": [null, ["0x0000000000000000000000000000000000000000000000000000000000000000"]]}]"#,
        ),
    ];
    for (method, params) in good {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let answer = rpc(addr, &body).json();
        assert!(answer.get("error").is_none(), "{method} {params}: {answer}");
    }
    net.stop().await;
}
