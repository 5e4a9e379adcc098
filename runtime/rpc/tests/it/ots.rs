//! Otterscan's API (`ots_*`, `erigon_getHeaderByNumber`) on a running
//! in-process QBFT network, through alloy's provider, against fixtures
//! with known results (`tests/fixtures/ots/Factory.sol`).

use std::sync::Arc;

use crate::common::{TestNet, dev_config, mined, request};
use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256, address},
    providers::{Provider, ProviderBuilder},
    rpc::types::{
        TransactionRequest,
        trace::otterscan::{
            BlockDetails, ContractCreator, InternalOperation, OperationType, TraceEntry,
            TransactionsWithReceipts,
        },
    },
    sol,
    sol_types::{SolCall, SolError, SolValue},
};
use forja_rpc::{ApiGroups, NetworkNode, OtsIndex, RpcConfig, RpcServer};
use forja_runtime::{Network, StorageMode};
use serde_json::{Value, json};

sol!(
    #[sol(rpc)]
    Factory,
    "tests/fixtures/ots/Factory.json"
);

const GAS_PRICE: u128 = 2_000_000_000;

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("not the expected shape ({e}): {value}"))
}

/// Sends `count` transfers of 1 wei from `from` to `to`, one block each.
async fn transfers(net: &TestNet, from: usize, to: Address, count: usize) -> Vec<B256> {
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(net.accounts[from].clone()))
        .connect_http(net.http_url());
    let mut hashes = Vec::new();
    for _ in 0..count {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_value(U256::from(1))
            .with_gas_price(GAS_PRICE);
        let receipt = provider
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        hashes.push(receipt.transaction_hash);
    }
    hashes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_operations_traces_errors_and_creators() {
    let net = TestNet::dev().await;
    let owner = net.accounts[0].clone();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.http_url());
    assert_eq!(
        request(&net, "ots_getApiLevel", json!([])).await,
        Ok(json!(8))
    );

    let factory = Factory::deploy(&provider).await.expect("Factory deploys");
    let deployed_at = provider.get_block_number().await.unwrap();
    let payee = address!("00000000000000000000000000000000000000bb");
    let salt = B256::repeat_byte(7);
    let make = mined(factory.make(payee, salt).value(U256::from(6))).await;
    assert!(make.status());
    let one = factory.address().create(1);
    let two = factory
        .address()
        .create2_from_code(salt, child_creation_code());

    // Internal operations: below the call itself, in order, Erigon's codes.
    let operations: Vec<InternalOperation> = parse(
        request(
            &net,
            "ots_getInternalOperations",
            json!([make.transaction_hash]),
        )
        .await
        .unwrap(),
    );
    let expected = [
        (OperationType::OpCreate, *factory.address(), one, 1),
        (OperationType::OpCreate2, *factory.address(), two, 2),
        (OperationType::OpTransfer, *factory.address(), payee, 3),
    ]
    .map(|(r#type, from, to, value)| InternalOperation {
        r#type,
        from,
        to,
        value: U256::from(value),
    });
    assert_eq!(operations, expected);

    // The call tree: the call, two creations and the transfer below it.
    let entries: Vec<TraceEntry> = parse(
        request(&net, "ots_traceTransaction", json!([make.transaction_hash]))
            .await
            .unwrap(),
    );
    let shape: Vec<(&str, u32, Address, Address, Option<U256>)> = entries
        .iter()
        .map(|e| (e.r#type.as_str(), e.depth, e.from, e.to, e.value))
        .collect();
    assert_eq!(
        shape,
        [
            (
                "CALL",
                0,
                owner.address(),
                *factory.address(),
                Some(U256::from(6))
            ),
            ("CREATE", 1, *factory.address(), one, Some(U256::from(1))),
            ("CREATE2", 1, *factory.address(), two, Some(U256::from(2))),
            ("CALL", 1, *factory.address(), payee, Some(U256::from(3))),
        ]
    );
    assert_eq!(
        entries[0].input,
        Bytes::from(Factory::makeCall { payee, salt }.abi_encode())
    );
    assert_eq!(entries[0].output, Bytes::from((one, two).abi_encode()));

    // A self-destruct is an internal operation too (value: the balance).
    let destroy = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(one)
                .with_input(destroyCall { to: payee }.abi_encode()),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(destroy.status());
    let operations: Vec<InternalOperation> = parse(
        request(
            &net,
            "ots_getInternalOperations",
            json!([destroy.transaction_hash]),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        operations,
        [InternalOperation {
            r#type: OperationType::OpSelfDestruct,
            from: one,
            to: payee,
            value: U256::from(1),
        }]
    );

    // Reverted transactions: their revert data; a success: 0x.
    let failed = mined(factory.fail("no way".into()).gas(100_000)).await;
    assert!(!failed.status());
    let error = request(
        &net,
        "ots_getTransactionError",
        json!([failed.transaction_hash]),
    )
    .await
    .unwrap();
    let reason = alloy::sol_types::Revert::abi_decode(&parse::<Bytes>(error)).unwrap();
    assert_eq!(reason.reason, "no way");
    let refused = mined(factory.refuse(U256::from(7)).gas(100_000)).await;
    let error = request(
        &net,
        "ots_getTransactionError",
        json!([refused.transaction_hash]),
    )
    .await
    .unwrap();
    assert_eq!(
        parse::<Bytes>(error),
        Bytes::from(
            Factory::Refused {
                code: U256::from(7)
            }
            .abi_encode()
        )
    );
    assert_eq!(
        request(
            &net,
            "ots_getTransactionError",
            json!([make.transaction_hash])
        )
        .await,
        Ok(json!("0x"))
    );
    let missing = request(
        &net,
        "ots_getTransactionError",
        json!([B256::repeat_byte(1)]),
    )
    .await
    .unwrap_err();
    assert!(missing.contains("not found"), "{missing}");

    // ots_hasCode: a contract, an EOA, the contract before its deployment.
    let has_code = |address: Address, block: Value| {
        let net = &net;
        async move {
            request(net, "ots_hasCode", json!([address, block]))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        has_code(*factory.address(), json!("latest")).await,
        json!(true)
    );
    assert_eq!(
        has_code(owner.address(), json!("latest")).await,
        json!(false)
    );
    assert_eq!(
        has_code(*factory.address(), json!(deployed_at - 1)).await,
        json!(false)
    );

    // Creators: the factory for its children, the sender for the factory,
    // none for an account.
    let creator = |address: Address| {
        let net = &net;
        async move {
            request(net, "ots_getContractCreator", json!([address]))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        parse::<Option<ContractCreator>>(creator(two).await),
        Some(ContractCreator {
            hash: make.transaction_hash,
            creator: *factory.address(),
        })
    );
    let factory_creator: ContractCreator = parse(creator(*factory.address()).await);
    assert_eq!(factory_creator.creator, owner.address());
    let receipt = provider
        .get_transaction_receipt(factory_creator.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.contract_address, Some(*factory.address()));
    assert_eq!(creator(owner.address()).await, Value::Null);

    // Erigon's header method, as Otterscan's probe and block poller call it.
    let header = request(&net, "erigon_getHeaderByNumber", json!(["latest"]))
        .await
        .unwrap();
    assert_eq!(
        header["number"],
        json!(format!("{:#x}", provider.get_block_number().await.unwrap()))
    );
    let header = request(&net, "erigon_getHeaderByNumber", json!([1]))
        .await
        .unwrap();
    assert_eq!(header["number"], json!("0x1"));
    assert_eq!(
        request(&net, "erigon_getHeaderByNumber", json!([1_000_000])).await,
        Ok(Value::Null)
    );
    net.stop().await;
}

/// `Child`'s creation code, for the CREATE2 address.
fn child_creation_code() -> Bytes {
    let artifact: Value = serde_json::from_str(include_str!("../fixtures/ots/Child.json")).unwrap();
    parse::<Bytes>(artifact["bytecode"]["object"].clone())
}

sol! {
    function destroy(address to);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_details_transactions_and_searches_across_pages() {
    let net = TestNet::dev().await;
    let sender = net.accounts[1].address();
    let target = address!("000000000000000000000000000000000000cafe");
    let hashes = transfers(&net, 1, target, 7).await;
    let provider = ProviderBuilder::new().connect_http(net.http_url());
    let mut blocks = Vec::new();
    for hash in &hashes {
        let receipt = provider
            .get_transaction_receipt(*hash)
            .await
            .unwrap()
            .unwrap();
        blocks.push(receipt.block_number.unwrap());
    }

    // Block details: alloy's shape, fees = gas × price, no issuance.
    let details: BlockDetails = parse(
        request(&net, "ots_getBlockDetails", json!([blocks[0]]))
            .await
            .unwrap(),
    );
    assert_eq!(details.block.transaction_count, 1);
    assert_eq!(details.block.header.number, blocks[0]);
    assert_eq!(details.total_fees, U256::from(21_000u128 * GAS_PRICE));
    assert_eq!(details.issuance.issuance, U256::ZERO);
    let by_hash: BlockDetails = parse(
        request(
            &net,
            "ots_getBlockDetailsByHash",
            json!([details.block.header.hash]),
        )
        .await
        .unwrap(),
    );
    assert_eq!(by_hash, details);
    assert_eq!(
        request(&net, "ots_getBlockDetails", json!(["0xffffff"])).await,
        Ok(Value::Null)
    );

    // The block's transactions with receipts (logs left out).
    let page = request(&net, "ots_getBlockTransactions", json!([blocks[0], 0, 25]))
        .await
        .unwrap();
    assert_eq!(page["fullblock"]["transactionCount"], json!(1));
    assert_eq!(
        page["fullblock"]["transactions"][0]["hash"],
        json!(hashes[0])
    );
    assert_eq!(page["receipts"][0]["logs"], Value::Null);
    assert_eq!(page["receipts"][0]["status"], json!("0x1"));

    // Searches, 2 a page over 7 one-transaction blocks: 4 pages each way.
    let search = |method: &'static str, block: u64| {
        let net = &net;
        async move {
            let page: TransactionsWithReceipts = parse(
                request(net, method, json!([target, block, 2]))
                    .await
                    .unwrap(),
            );
            assert_eq!(page.txs.len(), page.receipts.len());
            let found: Vec<B256> = page.txs.iter().map(|tx| *tx.inner.tx_hash()).collect();
            (found, page.first_page, page.last_page)
        }
    };
    let h = |i: usize| hashes[i];
    assert_eq!(
        search("ots_searchTransactionsBefore", 0).await,
        (vec![h(6), h(5)], true, false)
    );
    assert_eq!(
        search("ots_searchTransactionsBefore", blocks[5]).await,
        (vec![h(4), h(3)], false, false)
    );
    assert_eq!(
        search("ots_searchTransactionsBefore", blocks[3]).await,
        (vec![h(2), h(1)], false, false)
    );
    assert_eq!(
        search("ots_searchTransactionsBefore", blocks[1]).await,
        (vec![h(0)], false, true)
    );
    assert_eq!(
        search("ots_searchTransactionsAfter", 0).await,
        (vec![h(1), h(0)], false, true)
    );
    assert_eq!(
        search("ots_searchTransactionsAfter", blocks[1]).await,
        (vec![h(3), h(2)], false, false)
    );
    assert_eq!(
        search("ots_searchTransactionsAfter", blocks[3]).await,
        (vec![h(5), h(4)], false, false)
    );
    assert_eq!(
        search("ots_searchTransactionsAfter", blocks[5]).await,
        (vec![h(6)], true, false)
    );
    // The sender's history holds the same transactions.
    let (found, first, last) = search_all(&net, sender).await;
    assert_eq!(
        (found, first, last),
        (hashes.iter().rev().copied().collect(), true, true)
    );

    // By sender and nonce.
    for (nonce, hash) in hashes.iter().enumerate() {
        assert_eq!(
            request(
                &net,
                "ots_getTransactionBySenderAndNonce",
                json!([sender, nonce])
            )
            .await,
            Ok(json!(hash))
        );
    }
    assert_eq!(
        request(
            &net,
            "ots_getTransactionBySenderAndNonce",
            json!([sender, 7])
        )
        .await,
        Ok(Value::Null)
    );
    let bad = request(&net, "ots_searchTransactionsBefore", json!([target, 0, 0]))
        .await
        .unwrap_err();
    assert!(bad.contains("page size"), "{bad}");
    net.stop().await;
}

/// Every transaction of `address`, in one page.
async fn search_all(net: &TestNet, address: Address) -> (Vec<B256>, bool, bool) {
    let page: TransactionsWithReceipts = parse(
        request(
            net,
            "ots_searchTransactionsBefore",
            json!([address, 0, 1000]),
        )
        .await
        .unwrap(),
    );
    let found = page.txs.iter().map(|tx| *tx.inner.tx_hash()).collect();
    (found, page.first_page, page.last_page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_from_a_file_serves_ots_only_when_enabled() {
    let mut rpc = RpcConfig::default();
    rpc.access.api_groups = ApiGroups::besu_default();
    rpc.access.ws_api_groups = ApiGroups::besu_default();
    let net = TestNet::start(dev_config(), 1, rpc).await;
    for method in ["ots_getApiLevel", "erigon_getHeaderByNumber"] {
        let refused = request(&net, method, json!(["latest"])).await.unwrap_err();
        assert!(
            refused.contains("-32604") && refused.contains("Method not enabled"),
            "{method}: {refused}"
        );
    }
    net.stop().await;

    let mut rpc = RpcConfig::default();
    rpc.access.api_groups = "ETH,NET,WEB3,OTS".parse().unwrap();
    let net = TestNet::start(dev_config(), 1, rpc).await;
    assert_eq!(
        request(&net, "ots_getApiLevel", json!([])).await,
        Ok(json!(8))
    );
    net.stop().await;
}

/// The index is kept in the data directory and found again after a
/// restart, at the head it had reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let index_file = dir.path().join("ots-index.redb");
    let target = address!("000000000000000000000000000000000000beef");
    let start = || {
        let dir = dir.path().to_owned();
        let index_file = index_file.clone();
        async move {
            let config = dev_config();
            let mode = config.consensus.mode;
            let network = tokio::task::spawn_blocking(move || {
                Network::start(config, StorageMode::Dir(dir)).expect("network starts")
            })
            .await
            .unwrap();
            let accounts = network.dev_accounts().into_iter().map(|(_, s)| s).collect();
            let node = Arc::new(NetworkNode::new(network.node(0), mode));
            let rpc = RpcConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                ots_index_file: Some(index_file),
                ..Default::default()
            };
            let server = RpcServer::start(rpc, node).await.expect("server starts");
            TestNet {
                network,
                servers: vec![server],
                accounts,
            }
        }
    };
    let net = start().await;
    let hashes = transfers(&net, 2, target, 3).await;
    let before = search_all(&net, target).await;
    assert_eq!(before.0, hashes.iter().rev().copied().collect::<Vec<_>>());
    let head = net.network.node(0).read().block_number();
    net.stop().await;

    // Written to disk up to the head, with the chain's genesis.
    let genesis = {
        let network = Network::start(dev_config(), StorageMode::Dir(dir.path().to_owned()))
            .expect("network restarts");
        let genesis = network.node(0).read().block_by_number(0).unwrap().hash;
        network.shutdown();
        genesis
    };
    let index = OtsIndex::open(Some(index_file.clone()), genesis).unwrap();
    assert_eq!(index.last_indexed().unwrap().map(|(n, _)| n), Some(head));
    drop(index);

    let net = start().await;
    assert_eq!(search_all(&net, target).await, before);
    net.stop().await;
}

/// Blocks the dev network's `evm_revert` winds back leave the index with
/// everything they added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverted_blocks_leave_the_index() {
    let net = TestNet::dev().await;
    let target = address!("000000000000000000000000000000000000d00d");
    let kept = transfers(&net, 3, target, 1).await;
    let snapshot = request(&net, "evm_snapshot", json!([])).await.unwrap();
    let undone = transfers(&net, 3, target, 2).await;
    let (found, _, _) = search_all(&net, target).await;
    assert_eq!(found, [undone[1], undone[0], kept[0]]);
    assert_eq!(
        request(&net, "evm_revert", json!([snapshot])).await,
        Ok(json!(true))
    );
    assert_eq!(search_all(&net, target).await.0, kept);
    let sender = net.accounts[3].address();
    assert_eq!(
        request(
            &net,
            "ots_getTransactionBySenderAndNonce",
            json!([sender, 1])
        )
        .await,
        Ok(Value::Null)
    );
    // New blocks at the same heights are indexed in their place.
    let again = transfers(&net, 3, target, 1).await;
    assert_eq!(search_all(&net, target).await.0, [again[0], kept[0]]);
    net.stop().await;
}
