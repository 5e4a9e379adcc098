//! Throughput and latency of a 4-validator QBFT network in one process:
//! signed ERC-20 transfers per second, ether transfers per second, and
//! submit → committed latency with block period 0. Prints figures; asserts
//! only that every transaction committed.
//!
//! Run it with `cargo bench -p forja-runtime --bench throughput` (release
//! profile). `FORJA_BENCH_TXS` (default 40 000) sets the transfers per kind,
//! `FORJA_BENCH_LATENCY_SAMPLES` (default 300) the latency samples.
//!
//! The ERC-20 is `fixtures/Token.sol`; `fixtures/Token.bin` is its creation
//! bytecode (solc 0.8, copied from forja-rpc's test fixture).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolValue},
};
use forja_runtime::{Network, NetworkConfig, StorageMode, pool::decode_transaction};

sol! {
    function transfer(address to, uint256 value) returns (bool);
}

const TOKEN_BIN: &str = include_str!("fixtures/Token.bin");
const SENDERS: usize = 16;

fn sign(signer: &PrivateKeySigner, mut tx: TxEip1559) -> Vec<u8> {
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .expect("signing works");
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

fn tx(
    chain_id: u64,
    nonce: u64,
    to: Address,
    gas_limit: u64,
    value: U256,
    input: Bytes,
) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input,
    }
}

fn wait_committed(network: &Network, total: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let committed = network
            .nodes()
            .iter()
            .map(|n| n.metrics().transactions_committed)
            .min()
            .unwrap_or(0);
        if committed >= total {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: only {committed} of {total} committed after 600 s"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Submits pre-signed raw transactions (decoding and signature recovery
/// count: that is what a node does with `eth_sendRawTransaction`), spread
/// over the nodes, and waits until every node committed them.
fn run(network: &Network, label: &str, batches: Vec<Vec<Vec<u8>>>, already: u64) {
    let count: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    for (index, batch) in batches.into_iter().enumerate() {
        let node = network.node(index % network.nodes().len());
        let decoded = batch
            .iter()
            .map(|raw| decode_transaction(raw).expect("valid transaction"))
            .collect();
        for result in node.submit_batch(decoded) {
            result.expect("accepted");
        }
    }
    wait_committed(network, already + count as u64, label);
    let elapsed = started.elapsed();
    let blocks = network.node(0).block_number();
    println!(
        "{label}: {count} transactions in {:.3} s = {:.0} tx/s (chain at block {blocks})",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let total: usize = std::env::var("FORJA_BENCH_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000);
    let samples: usize = std::env::var("FORJA_BENCH_LATENCY_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut config = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    config.dev_accounts.count = SENDERS as u32 + 1;
    let network = Network::start(config, StorageMode::InMemory).expect("network starts");
    let chain_id = network.chain_id();
    let accounts = network.dev_accounts();
    let (_, deployer) = &accounts[0];
    println!(
        "forja-runtime throughput: 4 QBFT validators in-process, block period 0, {} profile",
        if cfg!(debug_assertions) {
            "dev (unoptimised)"
        } else {
            "release"
        }
    );

    // Deploy the token and give every sender a balance.
    let supply = U256::from(10u64).pow(U256::from(30));
    let mut init = alloy::hex::decode(TOKEN_BIN.trim()).expect("fixture is hex");
    init.extend(("Bench".to_string(), "BEN".to_string(), supply).abi_encode_params());
    let mut create = tx(
        chain_id,
        0,
        Address::ZERO,
        3_000_000,
        U256::ZERO,
        init.into(),
    );
    create.to = TxKind::Create;
    let node = network.node(0);
    let hash = node
        .submit_raw_transaction(&sign(deployer, create))
        .unwrap();
    let token = loop {
        if let Some(receipt) = node.receipt(hash) {
            break receipt.contract_address.expect("token deployed");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut funding = Vec::new();
    for (i, (address, _)) in accounts[1..].iter().enumerate() {
        let call = transferCall {
            to: *address,
            value: supply / U256::from(SENDERS * 2),
        };
        funding.push(sign(
            deployer,
            tx(
                chain_id,
                1 + i as u64,
                token,
                100_000,
                U256::ZERO,
                call.abi_encode().into(),
            ),
        ));
    }
    let mut committed = 1u64;
    run(&network, "setup (token funding)", vec![funding], committed);
    committed += SENDERS as u64;

    // Pre-sign everything: signing is the client's work, not the network's.
    let per_sender = total / SENDERS;
    let sign_batches = |make: &(dyn Fn(usize, u64) -> TxEip1559 + Sync)| -> Vec<Vec<Vec<u8>>> {
        let signed: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = accounts[1..]
                .iter()
                .enumerate()
                .map(|(s, (_, key))| {
                    scope.spawn(move || {
                        (0..per_sender as u64)
                            .map(|n| sign(key, make(s, n)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Batches of 500 per sender in nonce order, round-robin over senders.
        let mut batches = Vec::new();
        for chunk in 0..per_sender.div_ceil(500) {
            for sender in &signed {
                let range = chunk * 500..((chunk + 1) * 500).min(sender.len());
                batches.push(sender[range].to_vec());
            }
        }
        batches
    };
    let recipients: Arc<Vec<Address>> =
        Arc::new((0..64u8).map(|i| Address::repeat_byte(i + 1)).collect());
    let erc20 = sign_batches(&|s, n| {
        let call = transferCall {
            to: recipients[(s + n as usize) % recipients.len()],
            value: U256::from(1),
        };
        tx(
            chain_id,
            n,
            token,
            60_000,
            U256::ZERO,
            call.abi_encode().into(),
        )
    });
    let count = (per_sender * SENDERS) as u64;
    run(&network, "ERC-20 transfers", erc20, committed);
    committed += count;

    let ether = sign_batches(&|s, n| {
        tx(
            chain_id,
            per_sender as u64 + n,
            recipients[(s * 7 + n as usize) % recipients.len()],
            21_000,
            U256::from(1),
            Bytes::new(),
        )
    });
    run(&network, "ether transfers", ether, committed);

    // Latency: one transaction at a time, submit → receipt on the node it
    // was submitted to.
    let (_, key) = &accounts[1];
    let mut latencies = Vec::with_capacity(samples);
    for (i, nonce) in (0..samples).zip(2 * per_sender as u64..) {
        let raw = sign(
            key,
            tx(
                chain_id,
                nonce,
                recipients[i % 64],
                21_000,
                U256::from(1),
                Bytes::new(),
            ),
        );
        let node = network.node(i % 4);
        let started = Instant::now();
        let hash = node.submit_raw_transaction(&raw).unwrap();
        while node.receipt(hash).is_none() {
            std::hint::spin_loop();
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "submit → committed latency over {samples} transactions: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    network.shutdown();
}
