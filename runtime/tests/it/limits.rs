//! Execution limits keep the chain alive: a transaction that loops until
//! the block gas limit is left out of the block and dropped, calls stop at
//! their time limit, and shutdown interrupts whatever is executing.

use std::{
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::common::*;
use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes, TxKind, U256, address, bytes},
};
use forja_runtime::{
    CallRequest, Error, NetworkConfig, StorageMode, config::GenesisAccountConfig,
    execution::CallLimits,
};

/// JUMPDEST PUSH1 0 JUMP: loops until it runs out of gas.
const LOOP_CODE: Bytes = bytes!("5b600056");
const LOOP: Address = address!("00000000000000000000000000000000000100ff");
/// Free-gas networks set the block gas limit this high, so gas bounds nothing.
const HUGE_GAS: u64 = 0x1f_ffff_ffff_ffff;

fn looping_network(validators: usize) -> NetworkConfig {
    let mut config = config(validators);
    config.block_gas_limit = HUGE_GAS;
    config.consensus.request_timeout_seconds = 2;
    // 25% of the 2 s request timeout (blocks on demand): 500 ms per block.
    config.block_txs_selection_max_time = 25;
    config.accounts.push(GenesisAccountConfig {
        address: LOOP,
        balance: U256::ZERO,
        code: Some(LOOP_CODE),
        storage: Default::default(),
        nonce: 0,
    });
    config
}

fn loop_call() -> CallRequest {
    CallRequest {
        to: Some(LOOP),
        gas: Some(HUGE_GAS),
        ..Default::default()
    }
}

#[test]
fn a_transaction_that_loops_is_left_out_and_dropped_and_blocks_keep_coming() {
    let network = forja_runtime::Network::start(looping_network(4), StorageMode::InMemory).unwrap();
    let node = network.node(0);
    let chain_id = network.chain_id();
    let (_, looper) = dev_account(&network, 0);
    let (_, payer) = dev_account(&network, 1);
    let mut endless = transfer(chain_id, 0, LOOP, 0);
    endless.gas_limit = HUGE_GAS;
    endless.to = TxKind::Call(LOOP);
    let endless = node
        .pool()
        .submit_transaction(sign_1559(&looper, endless))
        .unwrap();
    let started = Instant::now();
    let paid = node
        .pool()
        .submit_transaction(sign_1559(
            &payer,
            transfer(chain_id, 0, Address::repeat_byte(7), 1),
        ))
        .unwrap();
    let receipt = wait_for_receipt(&node, paid);
    println!(
        "the transfer behind the loop was mined in block {} after {:?}",
        receipt.block_number,
        started.elapsed()
    );
    // Each proposer drops it from its own pool when it fails to finish in
    // time there; with blocks on demand, keep the chain busy until every
    // validator has proposed once.
    let mut nonce = 1;
    wait_until("every pool to drop the looping transaction", || {
        let next = node
            .pool()
            .submit_transaction(sign_1559(
                &payer,
                transfer(chain_id, nonce, Address::repeat_byte(7), 1),
            ))
            .unwrap();
        nonce += 1;
        wait_for_receipt(&node, next);
        network
            .nodes()
            .iter()
            .all(|n| n.pool().pending_transaction(endless).is_none())
    });
    assert!(
        node.read().receipt(endless).is_none(),
        "the loop was never mined"
    );
    let head = node.read().block_number();
    wait_for_height(&network, head);
    let hashes: Vec<_> = network
        .nodes()
        .iter()
        .map(|n| n.read().block_by_number(head).unwrap().hash)
        .collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "nodes agree");
    network.shutdown();
}

#[test]
fn a_call_stops_at_its_time_limit_and_its_gas_cap() {
    let network = forja_runtime::Network::start(looping_network(1), StorageMode::InMemory).unwrap();
    let node = network.node(0);
    let limits = CallLimits {
        gas_cap: 0,
        timeout: Some(Duration::from_millis(300)),
    };
    let started = Instant::now();
    let result = node.read().call(&loop_call(), BlockId::latest(), &limits);
    println!("the looping call was stopped after {:?}", started.elapsed());
    assert!(
        matches!(result, Err(Error::ExecutionTimeout(t)) if t == Duration::from_millis(300)),
        "{result:?}"
    );
    assert!(matches!(
        node.read()
            .estimate_gas(&loop_call(), BlockId::latest(), &limits),
        Err(Error::ExecutionTimeout(_))
    ));
    // Under a gas cap the same loop runs out of gas long before the limit.
    let capped = CallLimits {
        gas_cap: 1_000_000,
        timeout: Some(Duration::from_secs(60)),
    };
    let outcome = node
        .read()
        .call(&loop_call(), BlockId::latest(), &capped)
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.gas_used, 1_000_000);
    // A call that finishes is not affected.
    let transfer = CallRequest {
        to: Some(Address::repeat_byte(3)),
        ..Default::default()
    };
    assert!(
        node.read()
            .call(&transfer, BlockId::latest(), &limits)
            .unwrap()
            .success
    );
    network.shutdown();
}

#[test]
fn shutdown_interrupts_a_call_without_a_time_limit() {
    let network = forja_runtime::Network::start(looping_network(1), StorageMode::InMemory).unwrap();
    let node = network.node(0);
    let (done, finished) = mpsc::channel();
    let caller = std::thread::spawn(move || {
        let unlimited = CallLimits {
            gas_cap: 0,
            timeout: None,
        };
        let _ = done.send(
            node.read()
                .call(&loop_call(), BlockId::latest(), &unlimited),
        );
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        finished.try_recv().is_err(),
        "the call loops until something stops it"
    );
    let stopping = Instant::now();
    network.shutdown();
    let result = finished
        .recv_timeout(WAIT)
        .expect("shutdown stops the call");
    println!("shutdown stopped the call in {:?}", stopping.elapsed());
    assert!(matches!(result, Err(Error::ShutDown)), "{result:?}");
    caller.join().unwrap();
}
