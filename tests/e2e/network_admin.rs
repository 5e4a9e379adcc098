//! `forja network add-node`, `propose-validator` and `remove-validator`
//! against `forja node --rpc-every-node`: one endpoint per node, as a Besu
//! network has, so a vote is cast per validator.

use std::time::{Duration, Instant};

use alloy::primitives::Address;
use serde_json::{Value, json};

use crate::clients::ForjaNode;
use crate::{assert_success, forja, text};

/// A JSON-RPC call's result (panics on an error answer).
fn call(url: &str, method: &str, params: Value) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value = runtime.block_on(async {
        let response = alloy::transports::http::reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    });
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

#[test]
fn a_node_voted_in_proposes_blocks_and_a_new_node_is_allowlisted() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("network.toml"),
        "chain_id = 1337\n[consensus]\nblock_period_seconds = 1\n[nodes]\nvalidators = 4\nregular = 1\n",
    )
    .unwrap();
    let node = ForjaNode::start_with(
        tmp.path(),
        &tmp.path().join("chain"),
        &[
            "--network",
            "network.toml",
            "--rpc-http-api",
            "ETH,NET,WEB3,QBFT,PERM",
            "--rpc-every-node",
            "--quiet",
        ],
    );
    // "Node 1 (validator 0x…) on 127.0.0.1:PORT"
    let mut validator_urls = vec![node.url()];
    let mut regular = None;
    for line in node.banner().lines().filter(|l| l.starts_with("Node ")) {
        let address: Address = line
            .split_whitespace()
            .find(|word| word.starts_with("0x"))
            .unwrap()
            .trim_end_matches(')')
            .parse()
            .unwrap();
        let url = format!("http://{}", line.rsplit(' ').next().unwrap());
        if line.contains("(validator ") {
            validator_urls.push(url);
        } else {
            regular = Some(address);
        }
    }
    assert_eq!(validator_urls.len(), 4, "{}", node.banner());
    let newcomer = regular.expect("the regular node's endpoint is listed");
    let rpc_flags: Vec<String> = validator_urls
        .iter()
        .flat_map(|url| ["--rpc".to_owned(), url.clone()])
        .collect();
    let vote = |verb: &str| {
        let mut args = vec![
            "network".to_owned(),
            verb.to_owned(),
            newcomer.to_string(),
            "--timeout".to_owned(),
            "60".to_owned(),
        ];
        args.extend(rpc_flags.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        forja(tmp.path(), &args)
    };

    let voted_in = vote("propose-validator");
    assert_success(&voted_in);
    assert!(
        text(&voted_in).contains("is now a validator (5 validators)"),
        "{}",
        text(&voted_in)
    );
    // It takes its turn as proposer (its blocks carry its seal too).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = call(&node.url(), "qbft_getSignerMetrics", json!([]));
        let proposed = metrics
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["address"].as_str().unwrap().parse::<Address>().unwrap() == newcomer);
        if proposed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{newcomer} never proposed a block: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let voted_out = vote("remove-validator");
    assert_success(&voted_out);
    assert!(
        text(&voted_out).contains("is no longer a validator (4 validators)"),
        "{}",
        text(&voted_out)
    );

    // add-node: a Besu key file, its enode on the allowlist.
    let added = forja(
        tmp.path(),
        &[
            "network",
            "add-node",
            "--key-file",
            "key",
            "--rpc",
            &node.url(),
            "--apply",
        ],
    );
    assert_success(&added);
    let key = std::fs::read_to_string(tmp.path().join("key")).unwrap();
    assert!(key.starts_with("0x") && key.len() == 66, "{key}");
    let enode = text(&added)
        .lines()
        .find_map(|l| l.strip_prefix("Enode: "))
        .unwrap()
        .to_owned();
    let allowlist = call(&node.url(), "perm_getNodesAllowlist", json!([]));
    assert!(
        allowlist
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == &json!(enode)),
        "{enode} not in {allowlist}"
    );
    // A key is never overwritten.
    let again = forja(tmp.path(), &["network", "add-node", "--key-file", "key"]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("never overwritten"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("key")).unwrap(),
        key
    );
}
