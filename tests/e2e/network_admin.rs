//! `forja network add-node`, `propose-validator` and `remove-validator`
//! against `forja node --rpc-every-node`: one endpoint per node, as a Besu
//! network has, so a vote is cast per validator. `add-node --apply` has the
//! forja node start the new node in-process (`admin_addNode`).

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
            "ETH,NET,WEB3,QBFT,PERM,ADMIN",
            "--rpc-every-node",
            "--quiet",
        ],
    );
    let (mut validator_urls, regular) = endpoints(node.banner());
    validator_urls.insert(0, node.url());
    assert_eq!(validator_urls.len(), 4, "{}", node.banner());
    let newcomer = *regular
        .first()
        .expect("the regular node's endpoint is listed");
    let rpc_flags: Vec<String> = validator_urls
        .iter()
        .flat_map(|url| ["--rpc".to_owned(), url.clone()])
        .collect();
    let vote = |verb: &str, newcomer: Address| {
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

    let voted_in = vote("propose-validator", newcomer);
    assert_success(&voted_in);
    assert!(
        text(&voted_in).contains("is now a validator (5 validators)"),
        "{}",
        text(&voted_in)
    );
    // It takes its turn as proposer (its blocks carry its seal too).
    wait_until_it_proposes(&node.url(), newcomer);
    let voted_out = vote("remove-validator", newcomer);
    assert_success(&voted_out);
    assert!(
        text(&voted_out).contains("is no longer a validator (4 validators)"),
        "{}",
        text(&voted_out)
    );

    // add-node for a node the operator starts (Besu's procedure): a Besu
    // key file, and the allowlist calls to send.
    let added = forja(
        tmp.path(),
        &[
            "network",
            "add-node",
            "--key-file",
            "key",
            "--rpc",
            &node.url(),
        ],
    );
    assert_success(&added);
    let key = std::fs::read_to_string(tmp.path().join("key")).unwrap();
    assert!(key.starts_with("0x") && key.len() == 66, "{key}");
    assert!(
        text(&added).contains("perm_addNodesToAllowlist"),
        "{}",
        text(&added)
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

    // add-node --apply against forja node: the network starts the node (key
    // in its data directory), its enode goes on the allowlists, it syncs;
    // voted in, it is the fifth validator and proposes.
    let started = forja(
        tmp.path(),
        &[
            "network",
            "add-node",
            "--key-file",
            "unused-key",
            "--rpc",
            &node.url(),
            "--apply",
        ],
    );
    assert_success(&started);
    let output = text(&started);
    assert!(output.contains("Node 5 started in the network"), "{output}");
    assert!(!tmp.path().join("unused-key").exists());
    assert!(tmp.path().join("chain/node-5.key").is_file(), "{output}");
    let field = |name: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {output}"))
            .to_owned()
    };
    let (enode, joined) = (field("Enode: "), field("Node address: "));
    let joined: Address = joined.parse().unwrap();
    // The node id is what the allowlist holds (its URLs carry port 30303).
    let node_id = enode.split('@').next().unwrap();
    let allowlist = call(&node.url(), "perm_getNodesAllowlist", json!([]));
    assert!(
        allowlist
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with(node_id)),
        "{enode} not in {allowlist}"
    );
    let voted_in = vote("propose-validator", joined);
    assert_success(&voted_in);
    assert!(
        text(&voted_in).contains("is now a validator (5 validators)"),
        "{}",
        text(&voted_in)
    );
    wait_until_it_proposes(&node.url(), joined);

    // The next start with the data directory runs it, as a validator.
    drop(node);
    let node = ForjaNode::start_with(
        tmp.path(),
        &tmp.path().join("chain"),
        &["--network", "network.toml", "--rpc-every-node", "--quiet"],
    );
    let (validators, _) = endpoints(node.banner());
    assert_eq!(validators.len(), 4, "{}", node.banner());
    assert!(
        node.banner()
            .contains(&format!("Node 5 (validator {joined})")),
        "{}",
        node.banner()
    );

    // A forja node that does not serve the ADMIN group starts nothing, and
    // says why; no key file is written in its place.
    let closed = forja(
        tmp.path(),
        &[
            "network",
            "add-node",
            "--key-file",
            "key2",
            "--rpc",
            &node.url(),
            "--apply",
        ],
    );
    assert!(!closed.status.success());
    assert!(
        text(&closed).contains("admin_addNode refused") && text(&closed).contains("ADMIN"),
        "{}",
        text(&closed)
    );
    assert!(!tmp.path().join("key2").exists());
}

/// The endpoints `forja node --rpc-every-node` lists after node 0's ("Node
/// 1 (validator 0x…) on 127.0.0.1:PORT"): the validators' URLs, and the
/// addresses of the regular nodes.
fn endpoints(banner: &str) -> (Vec<String>, Vec<Address>) {
    let mut validator_urls = Vec::new();
    let mut regular = Vec::new();
    for line in banner.lines().filter(|l| l.starts_with("Node ")) {
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
            regular.push(address);
        }
    }
    (validator_urls, regular)
}

/// Waits (30 s at most) until `validator` proposed a block, by `qbft_getSignerMetrics`.
fn wait_until_it_proposes(url: &str, validator: Address) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = call(url, "qbft_getSignerMetrics", json!([]));
        let proposed = metrics
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["address"].as_str().unwrap().parse::<Address>().unwrap() == validator);
        if proposed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{validator} never proposed a block: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
