//! Throughput and latency of a 4-validator QBFT network in one process:
//! signed ERC-20 transfers per second, ether transfers per second, and
//! submit → committed latency with block period 0. Prints figures (and the
//! load average they were measured under); asserts only that every
//! transaction committed on every node.
//!
//! Run it with `cargo bench -p forja-runtime --bench throughput` (release
//! profile). `FORJA_BENCH_TXS` (default 40 000) sets the transfers per kind,
//! `FORJA_BENCH_LATENCY_SAMPLES` (default 300) the latency samples.
//!
//! The ERC-20 is `fixtures/Token.sol`; `fixtures/Token.bin` is its creation
//! bytecode (solc 0.8, copied from forja-rpc's test fixture).
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

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
use forja_runtime::{Network, NetworkConfig, SealedBlock, StorageMode, pool::decode_transaction};
use tokio::sync::broadcast;

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

/// Waits until every node committed `count` transactions in blocks after
/// `from[node]` (its head when the run started). Woken by each node's new-block
/// subscription, so waiting costs the nodes nothing.
fn wait_committed(
    network: &Network,
    runtime: &tokio::runtime::Runtime,
    subscriptions: &mut [broadcast::Receiver<Arc<SealedBlock>>],
    from: &[u64],
    count: u64,
    what: &str,
) {
    for ((node, subscription), from) in network.nodes().iter().zip(subscriptions).zip(from) {
        let (mut next, mut committed) = (from + 1, 0u64);
        loop {
            // Count from the chain itself: a lagging subscription only wakes us.
            while let Some(block) = node.read().block_by_number(next) {
                committed += block.transactions.len() as u64;
                next += 1;
            }
            if committed >= count {
                break;
            }
            let woken = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(600), subscription.recv()).await
            });
            match woken {
                Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    panic!("{what}: node {} stopped", node.index())
                }
                Err(_) => panic!(
                    "{what}: node {} committed only {committed} of {count} after 600 s",
                    node.index()
                ),
            }
        }
    }
}

/// Submits pre-signed raw transactions (decoding and signature recovery
/// count: that is what a node does with `eth_sendRawTransaction`), spread
/// over the nodes, and waits until every node committed them. The clock
/// runs from the first submission to the last commit on the last node.
fn run(
    network: &Network,
    runtime: &tokio::runtime::Runtime,
    label: &str,
    batches: Vec<Vec<Vec<u8>>>,
) {
    let count: usize = batches.iter().map(Vec::len).sum();
    let mut subscriptions: Vec<_> = network
        .nodes()
        .iter()
        .map(|n| n.read().subscribe_new_blocks())
        .collect();
    let from: Vec<u64> = network
        .nodes()
        .iter()
        .map(|n| n.read().block_number())
        .collect();
    let cpu_before = process_cpu_seconds();
    let nodes_cpu_before = nodes_cpu_seconds();
    let started = Instant::now();
    // Clients submit concurrently, one thread per core, as RPC clients
    // would through `eth_sendRawTransaction`: batch `i` belongs to sender
    // `i % SENDERS`, and each sender's batches go through one thread, in
    // nonce order.
    let submitters = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for submitter in 0..submitters {
            let batches = &batches;
            scope.spawn(move || {
                for (index, batch) in batches.iter().enumerate() {
                    if index % SENDERS % submitters != submitter {
                        continue;
                    }
                    let node = network.node(index % network.nodes().len());
                    let decoded = batch
                        .iter()
                        .map(|raw| decode_transaction(raw).expect("valid transaction"))
                        .collect();
                    for result in node.pool().submit_batch(decoded) {
                        result.expect("accepted");
                    }
                }
            });
        }
    });
    wait_committed(
        network,
        runtime,
        &mut subscriptions,
        &from,
        count as u64,
        label,
    );
    let elapsed = started.elapsed();
    let cpu = process_cpu_seconds() - cpu_before;
    let nodes_cpu = nodes_cpu_seconds() - nodes_cpu_before;
    let blocks = network.node(0).read().block_number() - from[0];
    println!(
        "{label}: {count} transactions in {:.3} s = {:.0} tx/s ({blocks} blocks, {:.0} tx/block; CPU {:.1} µs/tx, of which the 4 nodes {:.1})",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        count as f64 / blocks.max(1) as f64,
        cpu * 1e6 / count as f64,
        nodes_cpu * 1e6 / count as f64
    );
}

/// CPU time (user + system) this process used so far, in seconds, exited
/// threads included (`/proc/self/stat`, 10 ms ticks). With other work on the
/// machine, CPU per transaction is steadier than wall time.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at "state".
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 10 ms.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time the node threads (`forja-node-*`) used so far, in seconds.
fn nodes_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            name.starts_with("forja-node")
                .then(|| std::fs::read_to_string(path.join("schedstat")).ok())
                .flatten()
        })
        .map(|stat| cpu_field_seconds(&stat))
        .sum()
}

/// CPU time the calling thread used so far, in seconds (nanosecond clock).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .map(|stat| cpu_field_seconds(&stat))
        .unwrap_or(0.0)
}

fn cpu_field_seconds(schedstat: &str) -> f64 {
    schedstat
        .split_whitespace()
        .next()
        .and_then(|ns| ns.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e9
}

/// The 1, 5 and 15 minute load averages, so a reader can judge the figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
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
        "forja-runtime throughput: 4 QBFT validators in-process, block period 0, {} profile, {} cores, load average {}",
        if cfg!(debug_assertions) {
            "dev (unoptimised)"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a timer runtime for waiting");

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
        .pool()
        .submit_raw_transaction(&sign(deployer, create))
        .unwrap();
    let token = loop {
        if let Some(receipt) = node.read().receipt(hash) {
            break receipt.contract_address.expect("token deployed");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    // Every node holds the token before the runs count blocks from their heads.
    let deployed = node.read().block_number();
    while network
        .nodes()
        .iter()
        .any(|n| n.read().block_number() < deployed)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
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
    run(&network, &runtime, "setup (token funding)", vec![funding]);

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
    // The one cost per transaction no node can share: decoding and
    // recovering its sender where it enters, on one core.
    let sample: Vec<&Vec<u8>> = erc20.iter().flatten().take(2_000).collect();
    let cpu_before = thread_cpu_seconds();
    for raw in &sample {
        std::hint::black_box(decode_transaction(raw).expect("valid transaction"));
    }
    println!(
        "decode + sender recovery: {:.1} µs CPU per transaction",
        (thread_cpu_seconds() - cpu_before) * 1e6 / sample.len() as f64
    );
    run(&network, &runtime, "ERC-20 transfers", erc20);

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
    run(&network, &runtime, "ether transfers", ether);

    // Latency: one transaction at a time, submit → committed on the node it
    // was submitted to, seen through that node's new-block subscription (as
    // a client following `newHeads` would).
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
        let mut blocks = node.read().subscribe_new_blocks();
        let started = Instant::now();
        let hash = node.pool().submit_raw_transaction(&raw).unwrap();
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    match blocks.recv().await {
                        Ok(block) if block.transactions.iter().any(|t| t.hash == hash) => break,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if node.read().receipt(hash).is_some() {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => panic!("node stopped"),
                    }
                }
            })
            .await
            .expect("a lone transaction commits within 60 s")
        });
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
