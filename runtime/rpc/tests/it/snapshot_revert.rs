//! `evm_snapshot`/`evm_revert` rolling a running multi-validator QBFT
//! network back, and calls seeing the dev clock, driven by alloy's provider.

use std::sync::Arc;

use crate::common::{TestNet, assert_nodes_agree, mined, request};
use alloy::{
    eips::BlockId,
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::{Filter, TransactionRequest},
    sol,
    sol_types::SolEvent,
};
use forja_rpc::{NetworkNode, RpcConfig, RpcServer};
use forja_runtime::{Network, StorageMode};
use serde_json::json;

sol!(
    #[sol(rpc)]
    Token,
    "tests/fixtures/Token.json"
);

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What a revert must bring back, read from every node.
#[derive(Debug, PartialEq)]
struct Observed {
    head: u64,
    head_hash: B256,
    balances: Vec<U256>,
    nonces: Vec<u64>,
    code: Vec<Bytes>,
    state_root: B256,
}

fn observe(net: &TestNet, accounts: &[Address]) -> Vec<Observed> {
    let latest = BlockId::latest();
    net.network
        .nodes()
        .iter()
        .map(|node| {
            let head = node.read().block(latest).unwrap();
            Observed {
                head: head.number(),
                head_hash: head.hash,
                balances: accounts
                    .iter()
                    .map(|a| node.read().balance(*a, latest).unwrap())
                    .collect(),
                nonces: accounts
                    .iter()
                    .map(|a| node.read().nonce(*a, latest).unwrap())
                    .collect(),
                code: accounts
                    .iter()
                    .map(|a| node.read().code(*a, latest).unwrap())
                    .collect(),
                state_root: head.header.state_root,
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_rolls_every_node_back_and_the_chain_goes_on_from_there() {
    let net = TestNet::dev().await;
    let url = net.http_url().to_string();
    let owner = net.accounts[0].clone();
    let recipient = net.accounts[1].address();
    // Nonces read from the node on every send: a cached one would be ahead
    // of the chain after a revert (as with any node).
    let provider = ProviderBuilder::new()
        .with_simple_nonce_management()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.http_url());

    // Before the snapshot: a token, a transfer, and a state patch (kept).
    let token = Token::deploy(&provider, "Forja".into(), "FJA".into(), U256::from(1000))
        .await
        .unwrap();
    mined(token.transfer(recipient, U256::from(100))).await;
    let patched = Address::repeat_byte(0x42);
    request(&url, "anvil_setBalance", json!([patched, "0x1234"]))
        .await
        .unwrap();
    assert_nodes_agree(&net).await;

    let snapshot = request(&url, "evm_snapshot", json!([])).await.unwrap();
    assert_eq!(
        snapshot, "0x1",
        "ids are hex quantities from 1, as Hardhat's"
    );
    let watched = [owner.address(), recipient, *token.address(), patched];
    let before = observe(&net, &watched);
    let at_snapshot = before[0].head;
    let logs_before = provider
        .get_logs(&Filter::new().address(*token.address()).from_block(0))
        .await
        .unwrap();

    // After it: another contract, token and ether transfers, a patch, a
    // clock jump, a later snapshot and a transaction left waiting in the
    // pool (its nonce has a gap).
    let second = Token::deploy(&provider, "Gone".into(), "GONE".into(), U256::from(5))
        .await
        .unwrap();
    let undone = mined(token.transfer(recipient, U256::from(250))).await;
    provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(recipient)
                .with_value(ether(1)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    request(&url, "anvil_setBalance", json!([patched, "0x99"]))
        .await
        .unwrap();
    request(&url, "evm_increaseTime", json!([86_400]))
        .await
        .unwrap();
    let later = request(&url, "evm_snapshot", json!([])).await.unwrap();
    assert_eq!(later, "0x2");
    let gap_nonce = provider
        .get_transaction_count(owner.address())
        .await
        .unwrap()
        + 5;
    let queued = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(recipient)
                .with_value(U256::from(1))
                .with_nonce(gap_nonce),
        )
        .await
        .unwrap();
    assert!(
        net.network
            .node(0)
            .pool()
            .pending_transaction(*queued.tx_hash())
            .is_some()
    );
    let abandoned_head = assert_nodes_agree(&net).await;
    assert!(abandoned_head >= at_snapshot + 3);
    let abandoned_block = net
        .network
        .node(0)
        .read()
        .block_by_number(at_snapshot + 1)
        .unwrap()
        .hash;

    assert_eq!(
        request(&url, "evm_revert", json!([snapshot]))
            .await
            .unwrap(),
        true
    );
    // Every node: head, balances, nonces, code and state as at the snapshot.
    assert_eq!(observe(&net, &watched), before);
    for node in net.network.nodes() {
        assert!(
            node.read()
                .code(*second.address(), BlockId::latest())
                .unwrap()
                .is_empty()
        );
        assert!(
            node.pool().pending_transactions().is_empty(),
            "pools are emptied"
        );
        assert!(node.read().receipt(undone.transaction_hash).is_none());
    }
    assert_eq!(provider.get_block_number().await.unwrap(), at_snapshot);
    let status = request(&url, "txpool_status", json!([])).await.unwrap();
    assert_eq!(status, json!({"pending": "0x0", "queued": "0x0"}));
    assert!(
        provider
            .get_transaction_receipt(undone.transaction_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        provider
            .get_logs(&Filter::new().address(*token.address()).from_block(0))
            .await
            .unwrap(),
        logs_before
    );
    // The snapshot and every later one are used up; unknown ids are false.
    for id in [&snapshot, &later, &json!("0x99")] {
        assert_eq!(
            request(&url, "evm_revert", json!([id])).await.unwrap(),
            false,
            "{id}"
        );
    }
    assert_eq!(
        request(&url, "anvil_revert", json!(["0x1"])).await.unwrap(),
        false
    );

    // The next transaction commits at the snapshot's height + 1, and that
    // number now names the new block everywhere.
    let receipt = mined(token.transfer(recipient, U256::from(7))).await;
    assert!(receipt.status());
    assert_eq!(receipt.block_number, Some(at_snapshot + 1));
    let reused = provider
        .get_block_by_number((at_snapshot + 1).into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Some(reused.header.hash), receipt.block_hash);
    assert_ne!(reused.header.hash, abandoned_block);
    assert!(
        reused.header.timestamp < wall_clock() + 3_600,
        "the clock offset at the snapshot is restored"
    );
    let block_receipts = provider
        .get_block_receipts((at_snapshot + 1).into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block_receipts.len(), 1);
    assert_eq!(block_receipts[0].transaction_hash, receipt.transaction_hash);
    let new_logs = provider
        .get_logs(
            &Filter::new()
                .address(*token.address())
                .from_block(at_snapshot + 1)
                .to_block(at_snapshot + 1),
        )
        .await
        .unwrap();
    assert_eq!(new_logs.len(), 1);
    let transfer = Token::Transfer::decode_log_data(new_logs[0].data()).unwrap();
    assert_eq!(transfer.value, U256::from(7));
    assert_eq!(new_logs[0].block_hash, receipt.block_hash);
    assert_eq!(
        token.balanceOf(recipient).call().await.unwrap(),
        U256::from(107)
    );
    // The owner's nonce continues from the snapshot's.
    assert_eq!(
        provider
            .get_transaction_count(owner.address())
            .await
            .unwrap(),
        before[0].nonces[0] + 1
    );
    assert_eq!(assert_nodes_agree(&net).await, at_snapshot + 1);

    // Ids never repeat.
    assert_eq!(
        request(&url, "anvil_snapshot", json!([])).await.unwrap(),
        "0x3"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_keeps_going_through_many_reverts() {
    let net = TestNet::dev().await;
    let url = net.http_url().to_string();
    let owner = net.accounts[0].clone();
    let recipient = Address::repeat_byte(0x55);
    let provider = ProviderBuilder::new()
        .with_simple_nonce_management()
        .wallet(EthereumWallet::from(owner))
        .connect_http(net.http_url());
    let start = provider.get_block_number().await.unwrap();
    for round in 0..8u64 {
        let id = request(&url, "evm_snapshot", json!([])).await.unwrap();
        // Values differ between every transaction sent: one with the nonce
        // and value of a reverted one would have its hash, which alloy's
        // receipt watcher already saw in a block.
        for i in 0..=round % 3 {
            provider
                .send_transaction(
                    TransactionRequest::default()
                        .with_to(recipient)
                        .with_value(U256::from(1 + round * 10 + i)),
                )
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
        }
        request(&url, "evm_mine", json!([])).await.unwrap();
        assert_eq!(
            request(&url, "evm_revert", json!([id])).await.unwrap(),
            true
        );
        assert_eq!(provider.get_block_number().await.unwrap(), start + round);
        // One transaction kept per round: the chain grows by one each time.
        let receipt = provider
            .send_transaction(
                TransactionRequest::default()
                    .with_to(recipient)
                    .with_value(U256::from(1000)),
            )
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert_eq!(receipt.block_number, Some(start + round + 1));
        assert_eq!(assert_nodes_agree(&net).await, start + round + 1);
    }
    assert_eq!(
        provider.get_balance(recipient).await.unwrap(),
        U256::from(8 * 1000)
    );
    net.stop().await;
}

/// Creation code that returns `block.timestamp`.
const RETURN_TIMESTAMP: &str = "0x425f5260205ff3";

/// Creation code that reverts unless `block.timestamp >= at`.
fn require_time_at_least(at: u64) -> Bytes {
    let mut code = vec![0x63];
    code.extend_from_slice(&(at as u32).to_be_bytes());
    // TIMESTAMP LT PUSH1 0x0b JUMPI STOP JUMPDEST PUSH0 PUSH0 REVERT
    code.extend_from_slice(&[0x42, 0x10, 0x60, 0x0b, 0x57, 0x00, 0x5b, 0x5f, 0x5f, 0xfd]);
    code.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_estimates_see_the_time_the_next_block_would_have() {
    let net = TestNet::dev().await;
    let url = net.http_url().to_string();
    let provider = ProviderBuilder::new().connect_http(net.http_url());
    let timestamp = |tag: &'static str| {
        let url = url.clone();
        async move {
            let word = request(&url, "eth_call", json!([{"data": RETURN_TIMESTAMP}, tag]))
                .await
                .unwrap();
            U256::from_str_radix(word.as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
                .to::<u64>()
        }
    };
    let now = wall_clock();
    assert!((now..now + 5).contains(&timestamp("latest").await));

    let day = 86_400;
    let late = require_time_at_least(now + day / 2);
    let late_call = TransactionRequest::default().with_deploy_code(late.clone());
    assert!(provider.call(late_call.clone()).await.is_err());
    assert!(provider.estimate_gas(late_call.clone()).await.is_err());

    request(&url, "evm_increaseTime", json!([day]))
        .await
        .unwrap();
    for tag in ["latest", "pending"] {
        let seen = timestamp(tag).await;
        assert!(
            (now + day..now + day + 5).contains(&seen),
            "{tag}: {seen}, wall clock {now}"
        );
    }
    provider.call(late_call.clone()).await.unwrap();
    let gas = provider.estimate_gas(late_call).await.unwrap();
    assert!(gas > 21_000, "{gas}");

    // evm_setNextBlockTimestamp: exactly that time, and the block agrees.
    let target = now + 10 * day;
    request(&url, "evm_setNextBlockTimestamp", json!([target]))
        .await
        .unwrap();
    assert_eq!(timestamp("pending").await, target);
    request(&url, "evm_mine", json!([])).await.unwrap();
    let mined = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mined.header.timestamp, target);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_refused_with_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = StorageMode::Dir(dir.path().to_owned());
    let network = tokio::task::spawn_blocking(move || {
        Network::start(crate::common::dev_config(), storage).expect("network starts")
    })
    .await
    .unwrap();
    let node = Arc::new(NetworkNode::new(
        network.node(0),
        forja_runtime::config::ConsensusMode::Qbft,
    ));
    let config = RpcConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        dev_methods: true,
        ..Default::default()
    };
    let server = RpcServer::start(config, node).await.unwrap();
    let url = server.http_url();
    for (method, params) in [("evm_snapshot", json!([])), ("evm_revert", json!(["0x1"]))] {
        let refused = request(&url, method, params).await.unwrap_err();
        assert!(
            refused.contains("not supported on this network") && refused.contains("data directory"),
            "{method}: {refused}"
        );
    }
    // The controls that leave no trace outside blocks still work.
    request(&url, "evm_mine", json!([])).await.unwrap();
    assert_eq!(network.node(0).read().block_number(), 1);
    server.stop().await;
    tokio::task::spawn_blocking(move || network.shutdown())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_waiting_for_a_nonce_gap_starts_no_blocks() {
    let net = TestNet::dev().await;
    let owner = net.accounts[0].clone();
    let provider = ProviderBuilder::new()
        .with_simple_nonce_management()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.http_url());
    let recipient = Address::repeat_byte(0x66);
    let transfer = TransactionRequest::default()
        .with_to(recipient)
        .with_value(U256::from(1));
    let head = provider.get_block_number().await.unwrap();
    let queued = provider
        .send_transaction(transfer.clone().with_nonce(3))
        .await
        .unwrap();
    // Every node holds it, waiting (it was gossiped like any other).
    for node in net.network.nodes() {
        for _ in 0..500 {
            if node.pool().pending_transaction(*queued.tx_hash()).is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(node.pool().status().queued, 1, "node {}", node.index());
    }
    // Rounds started for it would each have committed an empty block: the
    // next executable transaction lands right after the old head.
    let receipt = provider
        .send_transaction(transfer)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(receipt.block_number, Some(head + 1));
    assert_eq!(assert_nodes_agree(&net).await, head + 1);
    net.stop().await;
}
