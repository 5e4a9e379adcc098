//! The methods beyond deploy-and-transfer, each read with the result shape a
//! client expects: fee history, access lists, call traces,
//! the transaction pool, block receipts, block tags, Besu's consortium
//! methods.

use std::sync::Arc;

use crate::common::{TestNet, mined};
use alloy::{
    eips::BlockNumberOrTag,
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, U256, keccak256},
    providers::{Provider, ProviderBuilder},
    rpc::types::{
        AccessListResult, FeeHistory, TransactionReceipt, TransactionRequest,
        trace::geth::CallFrame, txpool::TxpoolContent,
    },
    sol,
    sol_types::SolCall,
};
use serde_json::{Value, json};

sol!(
    #[sol(rpc)]
    Token,
    "tests/fixtures/Token.json"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_history_access_lists_traces_and_block_receipts() {
    let net = TestNet::dev().await;
    let owner = net.accounts[0].clone();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.http_url());
    let token = Token::deploy(&provider, "T".into(), "T".into(), U256::from(1000))
        .await
        .unwrap();
    let recipient = Address::repeat_byte(9);
    let receipt = mined(token.transfer(recipient, U256::from(5))).await;
    let block = receipt.block_number.unwrap();

    // eth_feeHistory: one base fee more than blocks (the next block's), ratios per block.
    let history: FeeHistory = provider
        .raw_request(
            "eth_feeHistory".into(),
            (U256::from(2), "latest", [25.0, 75.0]),
        )
        .await
        .unwrap();
    assert_eq!(history.oldest_block, block - 1);
    assert_eq!(history.base_fee_per_gas.len(), 3);
    assert_eq!(history.gas_used_ratio.len(), 2);
    assert!(history.gas_used_ratio[1] > 0.0, "{history:?}");
    let rewards = history.reward.expect("rewards for the asked percentiles");
    assert_eq!(rewards.len(), 2);
    assert!(rewards.iter().all(|r| r.len() == 2));

    // eth_createAccessList names the token's storage slots a transfer touches.
    let transfer = TransactionRequest::default()
        .with_from(owner.address())
        .with_to(*token.address())
        .with_input(
            Token::transferCall {
                to: recipient,
                value: U256::from(1),
            }
            .abi_encode(),
        );
    let access: AccessListResult = provider
        .raw_request("eth_createAccessList".into(), (&transfer, "latest"))
        .await
        .unwrap();
    assert!(access.error.is_none(), "{access:?}");
    let item = access
        .access_list
        .0
        .iter()
        .find(|item| item.address == *token.address())
        .expect("the token is in the access list");
    assert_eq!(
        item.storage_keys.len(),
        2,
        "sender's and recipient's balance slots"
    );
    assert!(access.gas_used > U256::from(21_000));

    // debug_traceCall with callTracer: Geth's call frame with the Transfer log.
    let frame: CallFrame = provider
        .raw_request(
            "debug_traceCall".into(),
            (
                &transfer,
                "latest",
                json!({"tracer": "callTracer", "tracerConfig": {"withLog": true}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(frame.typ, "CALL");
    assert_eq!(frame.from, owner.address());
    assert_eq!(frame.to, Some(*token.address()));
    assert!(frame.error.is_none(), "{frame:?}");
    assert_eq!(frame.logs.len(), 1);
    assert_eq!(
        frame.logs[0].topics.as_ref().unwrap()[0],
        keccak256("Transfer(address,address,uint256)")
    );
    // The default struct logger on a mined transaction.
    let trace: Value = provider
        .raw_request("debug_traceTransaction".into(), (receipt.transaction_hash,))
        .await
        .unwrap();
    assert_eq!(trace["failed"], false);
    assert_eq!(trace["gas"], json!(receipt.gas_used));
    assert!(
        trace["structLogs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["op"] == "LOG3"),
        "the Transfer event's LOG3 is in the trace"
    );

    // eth_getBlockReceipts by number and by tag.
    let receipts: Vec<TransactionReceipt> = provider
        .raw_request("eth_getBlockReceipts".into(), (U256::from(block),))
        .await
        .unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].transaction_hash, receipt.transaction_hash);
    let latest: Vec<TransactionReceipt> = provider
        .raw_request("eth_getBlockReceipts".into(), ("latest",))
        .await
        .unwrap();
    assert_eq!(latest, receipts);
    let beyond: Option<Vec<TransactionReceipt>> = provider
        .raw_request("eth_getBlockReceipts".into(), (U256::from(block + 100),))
        .await
        .unwrap();
    assert!(beyond.is_none());

    // BFT blocks are final when committed: safe and finalized are the head.
    for tag in [
        BlockNumberOrTag::Safe,
        BlockNumberOrTag::Finalized,
        BlockNumberOrTag::Latest,
    ] {
        let header = provider
            .get_block_by_number(tag)
            .await
            .unwrap()
            .expect("block");
        assert_eq!(header.header.number, block, "{tag}");
    }
    let genesis = provider
        .get_block_by_number(BlockNumberOrTag::Earliest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(genesis.header.number, 0);

    let hash: B256 = provider
        .raw_request("web3_sha3".into(), ("0x68656c6c6f",))
        .await
        .unwrap();
    assert_eq!(hash, keccak256("hello"));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txpool_reports_pending_and_queued_transactions_by_sender_and_nonce() {
    // A block every 60 s keeps sent transactions in the pool while we look.
    let mut config = crate::common::dev_config();
    config.consensus.block_period_seconds = 60;
    let net = TestNet::start(config, 1, Default::default()).await;
    let sender = net.accounts[2].clone();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(sender.clone()))
        .connect_http(net.http_url());
    let send = |nonce: u64| {
        TransactionRequest::default()
            .with_to(Address::repeat_byte(1))
            .with_value(U256::from(1))
            .with_nonce(nonce)
            .with_gas_limit(21_000)
    };
    let pending = *provider.send_transaction(send(0)).await.unwrap().tx_hash();
    // Nonce 2 leaves a gap at 1: queued until 1 arrives.
    let queued = *provider.send_transaction(send(2)).await.unwrap().tx_hash();

    let status: Value = provider
        .raw_request("txpool_status".into(), ())
        .await
        .unwrap();
    assert_eq!(status, json!({"pending": "0x1", "queued": "0x1"}));
    let content: Value = provider
        .raw_request("txpool_content".into(), ())
        .await
        .unwrap();
    // Geth keys senders by checksummed address and transactions by decimal nonce.
    let from = sender.address().to_checksum(None);
    assert_eq!(
        content["pending"][&from]["0"]["hash"],
        json!(pending),
        "{content}"
    );
    assert_eq!(
        content["queued"][&from]["2"]["hash"],
        json!(queued),
        "{content}"
    );
    let typed: TxpoolContent = serde_json::from_value(content).expect("alloy reads txpool_content");
    assert_eq!(typed.pending_transactions().count(), 1);
    assert_eq!(typed.queued_transactions().count(), 1);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn besu_consortium_and_admin_methods_answer_in_besu_shapes() {
    let net = TestNet::dev().await;
    let provider = ProviderBuilder::new().connect_http(net.http_url());
    let validators: Vec<Address> = provider
        .raw_request("qbft_getValidatorsByBlockNumber".into(), ("latest",))
        .await
        .unwrap();
    assert_eq!(validators.len(), 4);
    let genesis_hash = provider
        .get_block_by_number(BlockNumberOrTag::Earliest)
        .await
        .unwrap()
        .unwrap()
        .header
        .hash;
    let by_hash: Vec<Address> = provider
        .raw_request("qbft_getValidatorsByBlockHash".into(), (genesis_hash,))
        .await
        .unwrap();
    assert_eq!(by_hash, validators);
    let votes: Value = provider
        .raw_request("qbft_getPendingVotes".into(), ())
        .await
        .unwrap();
    assert_eq!(votes, json!({}));

    let info: Value = provider
        .raw_request("admin_nodeInfo".into(), ())
        .await
        .unwrap();
    assert!(
        info["enode"].as_str().unwrap().starts_with("enode://"),
        "{info}"
    );
    let peers: Vec<Value> = provider
        .raw_request("admin_peers".into(), ())
        .await
        .unwrap();
    assert_eq!(peers.len(), 3, "the other three validators");
    let count: U256 = provider
        .raw_request("net_peerCount".into(), ())
        .await
        .unwrap();
    assert_eq!(count, U256::from(3));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_answer_with_geths_codes_and_messages() {
    let net = TestNet::dev().await;
    // Init code run by eth_call without `to`: each reverts or halts differently.
    let error_string = "0x7f08c379a000000000000000000000000000000000000000000000000000000000600052602060045260036024527f626164000000000000000000000000000000000000000000000000000000000060445260646000fd";
    let panic_assert = format!("0x7f4e487b71{}600052600160045260246000fd", "00".repeat(28));
    // mstore(0, 0xdeadbeef); revert(28, 4): a custom error's bare selector.
    let custom_error = "0x63deadbeef6000526004601cfd".to_owned();
    let cases = [
        (error_string.to_owned(), 3, "execution reverted: bad"),
        (panic_assert, 3, "execution reverted: assert(false)"),
        (custom_error, 3, "execution reverted"),
        ("0x60006000fd".to_owned(), 3, "execution reverted"),
    ];
    for (code, expected_code, expected_message) in cases {
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{"data": code}, "latest"],
        });
        let answer = crate::common::rpc(net.addr(), &body.to_string()).json();
        let error = &answer["error"];
        assert_eq!(error["code"], expected_code, "{code}: {answer}");
        assert_eq!(error["message"], expected_message, "{code}: {answer}");
        assert!(
            error["data"].is_string(),
            "revert data is returned: {answer}"
        );
    }
    let custom = crate::common::rpc(
        net.addr(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                "params": [{"data": "0x63deadbeef6000526004601cfd"}]})
        .to_string(),
    )
    .json();
    assert_eq!(custom["error"]["data"], "0xdeadbeef", "{custom}");

    // An exceptional halt is not a revert: a server error without data.
    let invalid = crate::common::rpc(
        net.addr(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"data": "0xfe"}]})
            .to_string(),
    )
    .json();
    assert_eq!(invalid["error"]["code"], -32000, "{invalid}");
    net.stop().await;
}

/// `admin_backup` backs up every node's store into the data directory's
/// `backups/<name>/`, named by the caller (never a path); a network in
/// memory has nothing to back up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_backup_writes_a_named_backup_into_the_data_dir() {
    let in_memory = TestNet::dev().await;
    let provider = ProviderBuilder::new().connect_http(in_memory.http_url());
    let error = provider
        .raw_request::<_, Value>("admin_backup".into(), ("first",))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("data directory"), "{error}");
    in_memory.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let network = tokio::task::spawn_blocking(move || {
        forja_runtime::Network::start(
            crate::common::dev_config(),
            forja_runtime::StorageMode::Dir(data),
        )
        .unwrap()
    })
    .await
    .unwrap();
    let node = Arc::new(forja_rpc::NetworkNode::new(
        network.node(0),
        forja_runtime::config::ConsensusMode::Qbft,
    ));
    let server = forja_rpc::RpcServer::start(
        forja_rpc::RpcConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        },
        node,
    )
    .await
    .unwrap();
    let provider = ProviderBuilder::new().connect_http(server.http_url().parse().unwrap());
    let result: Value = provider
        .raw_request("admin_backup".into(), ("nightly",))
        .await
        .unwrap();
    assert_eq!(result["name"], "nightly");
    assert_eq!(result["nodes"].as_array().unwrap().len(), 4);
    assert!(dir.path().join("backups/nightly/backup.json").is_file());
    let error = provider
        .raw_request::<_, Value>("admin_backup".into(), ("../outside",))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid backup name"), "{error}");
    server.stop().await;
    tokio::task::spawn_blocking(move || network.shutdown())
        .await
        .unwrap();
}
