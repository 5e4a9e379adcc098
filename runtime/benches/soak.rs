//! Soak: a 4-validator QBFT network with a data directory driven with
//! ERC-20 transfers towards 1,000,000, printing at each checkpoint the
//! throughput of the last window, the process's resident memory, and the
//! time a restart takes to its first answer (stop, reopen every store,
//! read the head). Memory must grow with state, not history; restart must
//! not grow with the chain (issue 20's goals: RSS < 300 MB and restart
//! < 1 s at 1,000,000 transfers; throughput at 1,000,000 within 10% of
//! the throughput at 10,000).
//!
//! `cargo bench -p forja-runtime --bench soak` (release profile; not run by
//! `cargo test`). `FORJA_SOAK_CHECKPOINTS` (default
//! `10000,100000,300000,1000000`) sets the checkpoints, `FORJA_SOAK_WINDOW`
//! (default 10000) the transfers each throughput figure is measured over.
//! `FORJA_SOAK_HISTORICAL_BLOCK_LIMIT` overrides `--bonsai-historical-block-limit`
//! (512). Prints a CSV line per checkpoint after the table.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolValue},
};
use forja_runtime::{Network, NetworkConfig, SignedTx, StorageMode, pool::recover};

sol! {
    function transfer(address to, uint256 value) returns (bool);
}

const TOKEN_BIN: &str = include_str!("fixtures/Token.bin");
const SENDERS: usize = 16;
/// Transfers signed and submitted at a time (per sender: CHUNK / SENDERS).
const CHUNK: usize = 8_000;

fn signed(signer: &PrivateKeySigner, mut tx: TxEip1559) -> SignedTx {
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .expect("signing works");
    recover(TxEnvelope::from(tx.into_signed(signature))).expect("a valid signature")
}

fn call(chain_id: u64, nonce: u64, to: Address, input: Bytes) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 3_000_000,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Waits until every node holds the receipt of every hash in `last`.
fn wait_committed(network: &Network, last: &[B256]) {
    let deadline = Instant::now() + Duration::from_secs(600);
    for node in network.nodes() {
        for hash in last {
            while node.receipt(*hash).is_none() {
                assert!(Instant::now() < deadline, "not committed after 600 s");
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

fn main() {
    let checkpoints: Vec<u64> = std::env::var("FORJA_SOAK_CHECKPOINTS")
        .unwrap_or_else(|_| "10000,100000,300000,1000000".into())
        .split(',')
        .map(|c| c.trim().parse().expect("checkpoints are numbers"))
        .collect();
    let window: u64 = std::env::var("FORJA_SOAK_WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let storage = StorageMode::Dir(dir.path().to_owned());
    let mut config = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    config.dev_accounts.count = SENDERS as u32 + 1;
    if let Some(limit) = std::env::var("FORJA_SOAK_HISTORICAL_BLOCK_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.historical_block_limit = limit;
    }
    println!(
        "forja-runtime soak: 4 QBFT validators in-process, data dir {}, block period 0, {} profile, {} cores, load average {}",
        dir.path().display(),
        if cfg!(debug_assertions) {
            "dev (unoptimised)"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let mut network = Network::start(config.clone(), storage.clone()).expect("network starts");
    let chain_id = network.chain_id();
    let accounts = network.dev_accounts();
    let (_, deployer) = &accounts[0];

    // The token, and a balance for every sender.
    let supply = U256::from(10u64).pow(U256::from(30));
    let mut init = alloy::hex::decode(TOKEN_BIN.trim()).expect("fixture is hex");
    init.extend(("Soak".to_string(), "SOK".to_string(), supply).abi_encode_params());
    let mut create = call(chain_id, 0, Address::ZERO, init.into());
    create.to = TxKind::Create;
    let created = network
        .node(0)
        .submit_signed(Arc::new(signed(deployer, create)))
        .unwrap();
    wait_committed(&network, &[created]);
    let token = network
        .node(0)
        .receipt(created)
        .and_then(|r| r.contract_address)
        .expect("token deployed");
    let funding: Vec<SignedTx> = accounts[1..]
        .iter()
        .enumerate()
        .map(|(i, (address, _))| {
            let input = transferCall {
                to: *address,
                value: supply / U256::from(SENDERS * 2),
            }
            .abi_encode();
            signed(deployer, call(chain_id, 1 + i as u64, token, input.into()))
        })
        .collect();
    let last = funding.last().map(|t| t.hash).expect("senders");
    for result in network.node(0).submit_batch(funding) {
        result.expect("accepted");
    }
    wait_committed(&network, &[last]);

    let recipients: Vec<Address> = (0..1024u32)
        .map(|i| Address::left_padding_from(&(i + 1).to_be_bytes()))
        .collect();
    println!(
        "{:>10} {:>8} {:>10} {:>9} {:>12} {:>11}",
        "transfers", "blocks", "tx/s", "RSS MiB", "restart ms", "RSS after"
    );
    let mut sent: u64 = 0;
    let mut rows = Vec::new();
    for &checkpoint in &checkpoints {
        let mut window_started = None;
        let mut window_count = 0u64;
        while sent < checkpoint {
            // The last `window` transfers before the checkpoint are timed:
            // chunks stop at the window's start.
            let left = checkpoint - sent;
            let chunk = if left > window {
                (CHUNK as u64).min(left - window)
            } else {
                (CHUNK as u64).min(left)
            } as usize;
            let per_sender = chunk.div_ceil(SENDERS);
            let first_nonce = sent / SENDERS as u64;
            // Signing is the clients' work: done before the clock runs.
            let batches: Vec<Vec<SignedTx>> = std::thread::scope(|scope| {
                let handles: Vec<_> = accounts[1..]
                    .iter()
                    .enumerate()
                    .map(|(s, (_, key))| {
                        let recipients = &recipients;
                        scope.spawn(move || {
                            (0..per_sender as u64)
                                .map(|n| {
                                    let nonce = first_nonce + n;
                                    let input = transferCall {
                                        to: recipients
                                            [(s * 31 + nonce as usize) % recipients.len()],
                                        value: U256::from(1),
                                    }
                                    .abi_encode();
                                    signed(key, call(chain_id, 1 + nonce, token, input.into()))
                                })
                                .collect()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            // Nonce 0 of each sender is unused (its first transfer is nonce 1).
            if sent == 0 {
                for (s, (_, key)) in accounts[1..].iter().enumerate() {
                    let input = transferCall {
                        to: recipients[s],
                        value: U256::from(1),
                    }
                    .abi_encode();
                    network
                        .node(0)
                        .submit_signed(Arc::new(signed(
                            key,
                            call(chain_id, 0, token, input.into()),
                        )))
                        .unwrap();
                }
            }
            let in_window = checkpoint - sent <= window;
            if in_window && window_started.is_none() {
                window_started = Some(Instant::now());
            }
            let last: Vec<B256> = batches
                .iter()
                .filter_map(|b| b.last().map(|t| t.hash))
                .collect();
            let count: u64 = batches.iter().map(|b| b.len() as u64).sum();
            for (s, batch) in batches.into_iter().enumerate() {
                for result in network.node(s % 4).submit_batch(batch) {
                    result.expect("accepted");
                }
            }
            wait_committed(&network, &last);
            sent += count;
            if window_started.is_some() {
                window_count += count;
            }
        }
        let elapsed = window_started.map_or(Duration::ZERO, |s| s.elapsed());
        let throughput = window_count as f64 / elapsed.as_secs_f64().max(1e-9);
        let rss = rss_mib();
        let blocks = network.node(0).block_number();
        network.shutdown();
        drop(network);
        let restarting = Instant::now();
        network = Network::start(config.clone(), storage.clone()).expect("restarts");
        let head = network.node(0).block_number();
        let restart = restarting.elapsed();
        assert_eq!(head, blocks, "the restarted network is at its head");
        let rss_after = rss_mib();
        println!(
            "{sent:>10} {blocks:>8} {throughput:>10.0} {rss:>9.1} {:>12.1} {rss_after:>11.1}",
            restart.as_secs_f64() * 1e3
        );
        rows.push(format!(
            "{sent},{blocks},{throughput:.0},{rss:.1},{:.1},{rss_after:.1}",
            restart.as_secs_f64() * 1e3
        ));
    }
    network.shutdown();
    println!("\ntransfers,blocks,tx_per_s,rss_mib,restart_ms,rss_after_restart_mib");
    for row in rows {
        println!("{row}");
    }
}
