//! JSON-RPC details as Geth and Besu answer them: hex-string subscription
//! ids, a cap on installed filters.

mod common;

use common::*;
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
    net.stop().await;
}
