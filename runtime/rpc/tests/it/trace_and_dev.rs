//! `debug_trace*`, `eth_createAccessList` and the dev network's controls on
//! a running in-process QBFT network, driven by alloy's provider.

use crate::common::{TestNet, assert_nodes_agree, mined, request};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
};
use serde_json::{Value, json};

sol!(
    #[sol(rpc)]
    Counter,
    "tests/fixtures/trace/Counter.json"
);
sol!(
    #[sol(rpc)]
    Relay,
    "tests/fixtures/trace/Relay.json"
);

/// A dev network with a Counter and a Relay deployed, and one committed
/// `relay(counter, 5)` transaction.
struct Relayed {
    net: TestNet,
    sender: Address,
    counter: Address,
    relay: Address,
    tx: B256,
    gas_used: u64,
}

async fn relayed() -> Relayed {
    let net = TestNet::dev().await;
    let owner = net.accounts[0].clone();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.http_url());
    let counter = Counter::deploy(&provider).await.expect("Counter deploys");
    let relay = Relay::deploy(&provider).await.expect("Relay deploys");
    let receipt = mined(relay.relay(*counter.address(), U256::from(5))).await;
    assert!(receipt.status());
    Relayed {
        sender: owner.address(),
        counter: *counter.address(),
        relay: *relay.address(),
        tx: receipt.transaction_hash,
        gas_used: receipt.gas_used,
        net,
    }
}

fn address_field(value: &Value) -> Address {
    value
        .as_str()
        .expect("an address string")
        .parse()
        .expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_a_transaction_with_the_struct_logger() {
    let r = relayed().await;
    let trace = request(&r.net, "debug_traceTransaction", json!([r.tx]))
        .await
        .unwrap();
    assert_eq!(trace["failed"], false);
    assert_eq!(trace["gas"], r.gas_used);
    // relay() returns the counter's new total, 5.
    assert_eq!(
        trace["returnValue"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        format!("{:064x}", 5)
    );
    let logs = trace["structLogs"].as_array().unwrap();
    assert_eq!(logs[0]["pc"], 0);
    assert_eq!(logs[0]["op"], "PUSH1");
    assert_eq!(logs[0]["depth"], 1);
    let ops: Vec<(&str, u64)> = logs
        .iter()
        .map(|l| (l["op"].as_str().unwrap(), l["depth"].as_u64().unwrap()))
        .collect();
    // The outer frame emits and calls; the inner one stores and emits.
    assert!(ops.contains(&("LOG2", 1)), "Relayed is emitted at depth 1");
    assert!(
        ops.contains(&("CALL", 1)),
        "the counter is called from depth 1"
    );
    assert!(
        ops.contains(&("SSTORE", 2)),
        "the counter stores at depth 2"
    );
    assert!(ops.contains(&("LOG2", 2)), "Stored is emitted at depth 2");
    assert!(logs[0]["stack"].is_array(), "stacks are on by default");
    // SSTORE of the counter's `total` (slot 0) shows the value written.
    let sstore = logs
        .iter()
        .find(|l| l["op"] == "SSTORE" && l["depth"] == 2)
        .unwrap();
    let slot_zero = format!("{:#066x}", 0);
    assert_eq!(
        sstore["storage"][&slot_zero]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        format!("{:064x}", 5)
    );

    // disableStack and disableStorage are honoured; enableMemory adds memory.
    let trimmed = request(
        &r.net,
        "debug_traceTransaction",
        json!([r.tx, {"disableStack": true, "disableStorage": true, "enableMemory": true}]),
    )
    .await
    .unwrap();
    let trimmed_logs = trimmed["structLogs"].as_array().unwrap();
    assert_eq!(trimmed_logs.len(), logs.len(), "the same execution");
    assert!(trimmed_logs.iter().all(|l| l.get("stack").is_none()));
    assert!(trimmed_logs.iter().all(|l| l.get("storage").is_none()));
    assert!(
        trimmed_logs
            .iter()
            .any(|l| l["memory"].as_array().is_some_and(|m| !m.is_empty()))
    );
    r.net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_calls_prestate_and_refuses_unknown_tracers() {
    let r = relayed().await;
    let frame = request(
        &r.net,
        "debug_traceTransaction",
        json!([r.tx, {"tracer": "callTracer", "tracerConfig": {"withLog": true}}]),
    )
    .await
    .unwrap();
    assert_eq!(frame["type"], "CALL");
    assert_eq!(address_field(&frame["from"]), r.sender);
    assert_eq!(address_field(&frame["to"]), r.relay);
    assert_eq!(
        frame["gasUsed"].as_str().unwrap(),
        format!("{:#x}", r.gas_used)
    );
    assert_eq!(
        &frame["input"].as_str().unwrap()[..10],
        format!("0x{}", alloy::hex::encode(Relay::relayCall::SELECTOR))
    );
    assert_eq!(frame["logs"].as_array().unwrap().len(), 1, "Relayed");
    let calls = frame["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["type"], "CALL");
    assert_eq!(address_field(&calls[0]["from"]), r.relay);
    assert_eq!(address_field(&calls[0]["to"]), r.counter);
    assert_eq!(calls[0]["logs"].as_array().unwrap().len(), 1, "Stored");
    assert!(calls[0].get("calls").is_none());

    let top = request(
        &r.net,
        "debug_traceTransaction",
        json!([r.tx, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}}]),
    )
    .await
    .unwrap();
    assert!(top.get("calls").is_none());
    assert!(top.get("logs").is_none(), "logs only with withLog");

    let prestate = request(
        &r.net,
        "debug_traceTransaction",
        json!([r.tx, {"tracer": "prestateTracer"}]),
    )
    .await
    .unwrap();
    let accounts: Vec<Address> = prestate
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    for account in [r.sender, r.relay, r.counter] {
        assert!(accounts.contains(&account), "{account} in the prestate");
    }
    // Before the transaction the counter's total was still zero.
    let counter_storage = &prestate[format!("{:#x}", r.counter)]["storage"];
    assert!(
        counter_storage
            .as_object()
            .is_none_or(|s| s.values().all(|v| v
                .as_str()
                .unwrap()
                .trim_start_matches("0x")
                .trim_start_matches('0')
                .is_empty())),
        "{counter_storage}"
    );

    let noop = request(
        &r.net,
        "debug_traceTransaction",
        json!([r.tx, {"tracer": "noopTracer"}]),
    )
    .await
    .unwrap();
    assert_eq!(noop, json!({}));

    let refused = request(
        &r.net,
        "debug_traceTransaction",
        json!([r.tx, {"tracer": "4byteTracer"}]),
    )
    .await
    .unwrap_err();
    assert!(refused.contains("4byteTracer"), "{refused}");
    assert!(refused.contains("not supported"), "{refused}");

    let missing = request(
        &r.net,
        "debug_traceTransaction",
        json!([B256::repeat_byte(7)]),
    )
    .await
    .unwrap_err();
    assert!(missing.contains("not found"), "{missing}");
    r.net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_a_transaction_after_earlier_ones_in_its_block() {
    // Two transactions in one block: the second one's trace must start
    // from the state the first one left.
    let net = TestNet::dev().await;
    let owner = net.accounts[0].clone();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.http_url());
    let counter = Counter::deploy(&provider).await.expect("Counter deploys");
    // Submit both with explicit nonces before the network can seal the first.
    let nonce = provider
        .get_transaction_count(owner.address())
        .await
        .unwrap();
    let mut pending = Vec::new();
    for (i, value) in [3u64, 4].into_iter().enumerate() {
        let request = TransactionRequest::default()
            .to(*counter.address())
            .input(
                Counter::addCall {
                    value: U256::from(value),
                }
                .abi_encode()
                .into(),
            )
            .nonce(nonce + i as u64)
            .gas_limit(200_000);
        pending.push(provider.send_transaction(request).await.unwrap());
    }
    let mut receipts = Vec::new();
    for tx in pending {
        receipts.push(tx.get_receipt().await.unwrap());
    }
    for receipt in &receipts {
        let trace = request(
            &net,
            "debug_traceTransaction",
            json!([receipt.transaction_hash]),
        )
        .await
        .unwrap();
        assert_eq!(trace["gas"], receipt.gas_used);
    }
    // Whatever blocks they landed in, the second add returns 3 + 4.
    let second = request(
        &net,
        "debug_traceTransaction",
        json!([receipts[1].transaction_hash]),
    )
    .await
    .unwrap();
    assert_eq!(
        second["returnValue"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        format!("{:064x}", 7)
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_calls_and_creates_access_lists() {
    let r = relayed().await;
    let input = Relay::relayCall {
        counter: r.counter,
        value: U256::from(10),
    }
    .abi_encode();
    let call =
        json!({"from": r.sender, "to": r.relay, "data": alloy::hex::encode_prefixed(&input)});

    let frame = request(
        &r.net,
        "debug_traceCall",
        json!([call, "latest", {"tracer": "callTracer"}]),
    )
    .await
    .unwrap();
    assert_eq!(frame["type"], "CALL");
    assert_eq!(address_field(&frame["calls"][0]["to"]), r.counter);
    // On the latest state the total is 5 already: the call returns 15.
    assert_eq!(
        frame["output"].as_str().unwrap().trim_start_matches("0x"),
        format!("{:064x}", 15)
    );
    // At block 0 neither contract exists: a plain transfer, no inner calls.
    let at_genesis = request(
        &r.net,
        "debug_traceCall",
        json!([call, "0x0", {"tracer": "callTracer"}]),
    )
    .await
    .unwrap();
    assert!(at_genesis.get("calls").is_none());
    let struct_logs = request(&r.net, "debug_traceCall", json!([call, "latest"]))
        .await
        .unwrap();
    assert_eq!(struct_logs["failed"], false);
    assert!(!struct_logs["structLogs"].as_array().unwrap().is_empty());
    // The call changed nothing.
    let provider = ProviderBuilder::new().connect_http(r.net.http_url());
    let total = provider
        .get_storage_at(r.counter, U256::ZERO)
        .await
        .unwrap();
    assert_eq!(total, U256::from(5));

    let result = request(&r.net, "eth_createAccessList", json!([call, "latest"]))
        .await
        .unwrap();
    let list = result["accessList"].as_array().unwrap();
    let slot_zero = format!("{:#066x}", 0);
    let entry = |address: Address| {
        list.iter()
            .find(|e| address_field(&e["address"]) == address)
            .unwrap_or_else(|| panic!("{address} in {result}"))
    };
    // The callee's slot is listed; the sender is excluded, and the called
    // contract only appears for the slot it reads and writes.
    assert_eq!(entry(r.counter)["storageKeys"], json!([slot_zero]));
    assert_eq!(entry(r.relay)["storageKeys"], json!([slot_zero]));
    assert!(
        list.iter()
            .all(|e| address_field(&e["address"]) != r.sender)
    );
    let gas_used = u64::from_str_radix(
        result["gasUsed"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    // With the list the call pays for it up front; without it, it pays the
    // cold access inside: both are real executions of the same call.
    let plain: u64 = {
        let request = TransactionRequest::default()
            .from(r.sender)
            .to(r.relay)
            .input(input.clone().into());
        provider.estimate_gas(request).await.unwrap()
    };
    assert!(
        gas_used > 21_000 && gas_used < plain + 5_000,
        "{gas_used} vs {plain}"
    );
    r.net.stop().await;
}

fn quantity(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mines_empty_blocks_on_every_node_and_moves_the_clock() {
    let net = TestNet::dev().await;
    let provider = ProviderBuilder::new().connect_http(net.http_url());
    let start = provider.get_block_number().await.unwrap();
    assert_eq!(request(&net, "evm_mine", json!([])).await.unwrap(), "0x0");
    assert_eq!(assert_nodes_agree(&net).await, start + 1);
    let block = net
        .network
        .node(0)
        .read()
        .block_by_number(start + 1)
        .unwrap();
    assert!(block.transactions.is_empty());
    request(&net, "anvil_mine", json!(["0x3"])).await.unwrap();
    assert_eq!(assert_nodes_agree(&net).await, start + 4);
    request(&net, "hardhat_mine", json!([2])).await.unwrap();
    assert_eq!(assert_nodes_agree(&net).await, start + 6);

    // evm_increaseTime: the next block is stamped at least that much later.
    let before = net
        .network
        .node(0)
        .read()
        .block_by_number(start + 6)
        .unwrap()
        .header
        .timestamp;
    let total = request(&net, "evm_increaseTime", json!([3600]))
        .await
        .unwrap();
    assert!(quantity(&total) >= 3600, "{total}");
    request(&net, "evm_mine", json!([])).await.unwrap();
    let after = net
        .network
        .node(0)
        .read()
        .block_by_number(start + 7)
        .unwrap()
        .header
        .timestamp;
    assert!(after >= before + 3600, "{before} -> {after}");
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(after >= wall + 3599, "the clock moved, not just one block");

    // evm_setNextBlockTimestamp, and evm_mine with a timestamp.
    let target = after + 100_000;
    request(&net, "evm_setNextBlockTimestamp", json!([target]))
        .await
        .unwrap();
    request(&net, "evm_mine", json!([])).await.unwrap();
    let stamped = net
        .network
        .node(1)
        .read()
        .block_by_number(start + 8)
        .unwrap()
        .header
        .timestamp;
    // Exactly `target` when mined within the same second as the call.
    assert!(
        (target..target + 5).contains(&stamped),
        "{target} vs {stamped}"
    );
    request(&net, "evm_mine", json!([format!("{:#x}", target + 50)]))
        .await
        .unwrap();
    let stamped = net
        .network
        .node(2)
        .read()
        .block_by_number(start + 9)
        .unwrap()
        .header
        .timestamp;
    assert!((target + 50..target + 55).contains(&stamped), "{stamped}");
    let past = request(&net, "evm_setNextBlockTimestamp", json!([1]))
        .await
        .unwrap_err();
    assert!(past.contains("not after the latest block"), "{past}");

    assert_nodes_agree(&net).await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_state_on_every_node_and_keeps_building_blocks() {
    let r = relayed().await;
    let net = &r.net;
    let target = Address::repeat_byte(0x42);
    let balance = U256::from(123_456_789u64);
    request(net, "anvil_setBalance", json!([target, balance]))
        .await
        .unwrap();
    let slot = U256::from(0);
    let value = B256::with_last_byte(99);
    request(net, "hardhat_setStorageAt", json!([r.counter, slot, value]))
        .await
        .unwrap();
    // The Counter's code at a fresh address, with a total already stored.
    let counter_code = ProviderBuilder::new()
        .connect_http(net.http_url())
        .get_code_at(r.counter)
        .await
        .unwrap();
    let copy = Address::repeat_byte(0x77);
    request(net, "anvil_setCode", json!([copy, counter_code]))
        .await
        .unwrap();
    request(
        net,
        "anvil_setStorageAt",
        json!([copy, slot, B256::with_last_byte(1)]),
    )
    .await
    .unwrap();
    let latest = alloy::eips::BlockId::latest();
    for node in net.network.nodes() {
        assert_eq!(
            node.read().balance(target, latest).unwrap(),
            balance,
            "node {}",
            node.index()
        );
        assert_eq!(
            node.read().storage(r.counter, slot, latest).unwrap(),
            U256::from(99)
        );
        assert_eq!(node.read().code(copy, latest).unwrap(), counter_code);
    }

    // Blocks built on the patched state pass every node's validation.
    let owner = net.accounts[0].clone();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner))
        .connect_http(net.http_url());
    let copied = Counter::new(copy, &provider);
    let receipt = mined(copied.add(U256::from(2))).await;
    assert!(receipt.status());
    assert_eq!(copied.total().call().await.unwrap(), U256::from(3));
    let relay = Relay::new(r.relay, &provider);
    mined(relay.relay(r.counter, U256::from(1))).await;
    assert_eq!(
        Counter::new(r.counter, &provider)
            .total()
            .call()
            .await
            .unwrap(),
        U256::from(100)
    );
    let head = assert_nodes_agree(net).await;
    for node in net.network.nodes() {
        assert_eq!(
            node.read().storage(copy, slot, latest).unwrap(),
            U256::from(3)
        );
        assert_eq!(
            node.read().block_by_number(head).unwrap().header.state_root,
            net.network
                .node(0)
                .read()
                .block_by_number(head)
                .unwrap()
                .header
                .state_root
        );
    }
    r.net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_transactions_as_an_impersonated_account() {
    let net = TestNet::dev().await;
    let whale = Address::repeat_byte(0xab);
    let recipient = Address::repeat_byte(0xcd);
    let ether = U256::from(10u64).pow(U256::from(18));
    request(
        &net,
        "anvil_setBalance",
        json!([whale, ether * U256::from(10)]),
    )
    .await
    .unwrap();
    let send = json!([{"from": whale, "to": recipient, "value": format!("{:#x}", ether)}]);
    let refused = request(&net, "eth_sendTransaction", send.clone())
        .await
        .unwrap_err();
    assert!(refused.contains("unknown account"), "{refused}");

    request(&net, "anvil_impersonateAccount", json!([whale]))
        .await
        .unwrap();
    let hash: B256 = serde_json::from_value(
        request(&net, "eth_sendTransaction", send.clone())
            .await
            .unwrap(),
    )
    .unwrap();
    let provider = ProviderBuilder::new().connect_http(net.http_url());
    let receipt = alloy::providers::PendingTransactionBuilder::new(provider.root().clone(), hash)
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.from, whale);
    assert_nodes_agree(&net).await;
    let latest = alloy::eips::BlockId::latest();
    for node in net.network.nodes() {
        assert_eq!(
            node.read().balance(recipient, latest).unwrap(),
            ether,
            "node {}",
            node.index()
        );
        assert_eq!(node.read().nonce(whale, latest).unwrap(), 1);
    }
    // Traces see the impersonated sender too.
    let frame = request(
        &net,
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer"}]),
    )
    .await
    .unwrap();
    assert_eq!(address_field(&frame["from"]), whale);

    request(&net, "hardhat_stopImpersonatingAccount", json!([whale]))
        .await
        .unwrap();
    let refused = request(&net, "eth_sendTransaction", send)
        .await
        .unwrap_err();
    assert!(refused.contains("unknown account"), "{refused}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_methods_off_do_not_exist_but_traces_do() {
    let admin = Address::from_slice(
        &alloy::hex::decode("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266").unwrap(),
    );
    // dev_methods is off by default.
    let net = TestNet::start(
        crate::common::dev_config(),
        1,
        forja_rpc::RpcConfig::default(),
    )
    .await;
    for (method, params) in [
        ("evm_mine", json!([])),
        ("evm_snapshot", json!([])),
        ("evm_revert", json!(["0x1"])),
        ("evm_increaseTime", json!([60])),
        ("anvil_setBalance", json!([admin, "0x1"])),
        ("anvil_impersonateAccount", json!([admin])),
        ("hardhat_mine", json!([])),
    ] {
        let refused = request(&net, method, params).await.unwrap_err();
        // Not registered at all: method not found, as Besu answers.
        assert!(refused.contains("-32601"), "{method}: {refused}");
    }
    // Impersonation cannot be reached through eth_sendTransaction either.
    let send = json!([{"from": Address::repeat_byte(0xab), "to": admin, "value": "0x1"}]);
    let refused = request(&net, "eth_sendTransaction", send)
        .await
        .unwrap_err();
    assert!(refused.contains("unknown account"), "{refused}");
    let call = json!({"from": admin, "to": Address::repeat_byte(1), "value": "0x1"});
    let frame = request(
        &net,
        "debug_traceCall",
        json!([call, "latest", {"tracer": "callTracer"}]),
    )
    .await
    .unwrap();
    assert_eq!(frame["type"], "CALL");
    assert_eq!(frame["value"], "0x1");
    net.stop().await;
}
