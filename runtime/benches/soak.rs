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
//! `10000,100000,250000,500000,1000000`) sets the checkpoints, `FORJA_SOAK_WINDOW`
//! (default 10000) the transfers each throughput figure is measured over.
//! `FORJA_SOAK_HISTORICAL_BLOCK_LIMIT` overrides `--bonsai-historical-block-limit`
//! (512). Prints a CSV line per checkpoint after the table, and writes the
//! CSV and a plot of RSS and tx/s against transfers (SVG) to
//! `target/tmp/soak/`.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

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
use forja_runtime::{
    Network, NetworkConfig, SignedTx, StorageMode, phases::phase_times, pool::recover,
};

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

/// Bytes the allocator has handed out and not taken back (glibc's
/// `mallinfo2`: arena and mmapped chunks in use). RSS far above it is
/// fragmentation or freed memory not returned to the system, not live data.
fn heap_in_use_mib() -> f64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let info = unsafe { libc::mallinfo2() };
        (info.uordblks + info.hblkhd) as f64 / (1024.0 * 1024.0)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        f64::NAN
    }
}

/// Bytes this process has caused to be written to storage (`write_bytes`
/// of `/proc/self/io`: what reached the page cache for writing, fsync'd or
/// not); 0 where the file is not there.
fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find(|l| l.starts_with("write_bytes:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The process's user and system CPU time so far (`getrusage`): unlike
/// wall time, barely moved by other processes sharing the cores.
fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (time(usage.ru_utime), time(usage.ru_stime))
}

/// The size of the files in `dir` (the nodes' stores).
fn dir_mib(dir: &std::path::Path) -> f64 {
    fn walk(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
    }
    walk(dir) as f64 / (1024.0 * 1024.0)
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
            while node.read().receipt(*hash).is_none() {
                assert!(Instant::now() < deadline, "not committed after 600 s");
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

fn main() {
    let checkpoints: Vec<u64> = std::env::var("FORJA_SOAK_CHECKPOINTS")
        .unwrap_or_else(|_| "10000,100000,250000,500000,1000000".into())
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
        .pool()
        .submit_signed(Arc::new(signed(deployer, create)))
        .unwrap();
    wait_committed(&network, &[created]);
    let token = network
        .node(0)
        .read()
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
    for result in network.node(0).pool().submit_batch(funding) {
        result.expect("accepted");
    }
    wait_committed(&network, &[last]);

    let recipients: Vec<Address> = (0..1024u32)
        .map(|i| Address::left_padding_from(&(i + 1).to_be_bytes()))
        .collect();
    println!(
        "{:>10} {:>8} {:>10} {:>9} {:>9} {:>10} {:>12} {:>11}",
        "transfers",
        "blocks",
        "tx/s",
        "RSS MiB",
        "heap MiB",
        "recovered",
        "restart ms",
        "RSS after"
    );
    let mut sent: u64 = 0;
    let mut rows = Vec::new();
    for &checkpoint in &checkpoints {
        let mut window_started = None;
        let mut window_count = 0u64;
        let mut window_phases = phase_times();
        let mut window_written = 0;
        let mut window_cpu = (Duration::ZERO, Duration::ZERO);
        let mut window_blocks = 0;
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
                        .pool()
                        .submit_signed(Arc::new(signed(
                            key,
                            call(chain_id, 0, token, input.into()),
                        )))
                        .unwrap();
                }
            }
            let in_window = checkpoint - sent <= window;
            if in_window && window_started.is_none() {
                window_phases = phase_times();
                window_written = written_bytes();
                window_cpu = cpu_times();
                window_blocks = network.node(0).read().block_number();
                window_started = Some(Instant::now());
            }
            let last: Vec<B256> = batches
                .iter()
                .filter_map(|b| b.last().map(|t| t.hash))
                .collect();
            let count: u64 = batches.iter().map(|b| b.len() as u64).sum();
            for (s, batch) in batches.into_iter().enumerate() {
                for result in network.node(s % 4).pool().submit_batch(batch) {
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
        let phases = phase_times().since(&window_phases);
        let written_mib = written_bytes().saturating_sub(window_written) as f64 / (1024.0 * 1024.0);
        let (user, system) = cpu_times();
        let per_transfer = |d: Duration| d.as_secs_f64() * 1e6 / (window_count.max(1) as f64);
        let user_us = per_transfer(user.saturating_sub(window_cpu.0));
        let system_us = per_transfer(system.saturating_sub(window_cpu.1));
        let blocks_in_window = network.node(0).read().block_number() - window_blocks;
        let rss = rss_mib();
        let heap = heap_in_use_mib();
        let recovered = forja_runtime::pool::recovered_senders_len();
        let blocks = network.node(0).read().block_number();
        network.shutdown();
        drop(network);
        let restarting = Instant::now();
        network = Network::start(config.clone(), storage.clone()).expect("restarts");
        let head = network.node(0).read().block_number();
        let restart = restarting.elapsed();
        assert_eq!(head, blocks, "the restarted network is at its head");
        let rss_after = rss_mib();
        println!(
            "{sent:>10} {blocks:>8} {throughput:>10.0} {rss:>9.1} {heap:>9.1} {recovered:>10} {:>12.1} {rss_after:>11.1}",
            restart.as_secs_f64() * 1e3
        );
        // Per block of the window, summed over the four nodes (each node
        // executes, roots, applies and stores every block once).
        let per_block = |d: Duration| d.as_secs_f64() * 1e3 / (blocks_in_window.max(1) as f64);
        println!(
            "{:>10} window of {elapsed:.2?}: {blocks_in_window} blocks, per block (4 nodes): execution {:.1} ms, state root {:.1} ms, apply {:.1} ms, store write {:.1} ms (index {:.1}, history {:.1}, state {:.1}), store commit {:.1} ms; written {written_mib:.0} MiB ({:.1} KiB/transfer); CPU {user_us:.0} µs user + {system_us:.0} µs system per transfer; stores {:.0} MiB",
            "",
            per_block(phases.execution),
            per_block(phases.state_root),
            per_block(phases.apply),
            per_block(phases.store_write),
            per_block(phases.store_index),
            per_block(phases.store_history),
            per_block(phases.store_state),
            per_block(phases.store_commit),
            written_mib * 1024.0 / (window_count.max(1) as f64),
            dir_mib(dir.path()),
        );
        rows.push(Row {
            transfers: sent,
            blocks,
            throughput,
            rss,
            heap,
            restart_ms: restart.as_secs_f64() * 1e3,
            rss_after,
        });
    }
    network.shutdown();
    let mut csv = String::from(
        "transfers,blocks,tx_per_s,rss_mib,heap_mib,restart_ms,rss_after_restart_mib\n",
    );
    for r in &rows {
        csv += &format!(
            "{},{},{:.0},{:.1},{:.1},{:.1},{:.1}\n",
            r.transfers, r.blocks, r.throughput, r.rss, r.heap, r.restart_ms, r.rss_after
        );
    }
    println!("\n{csv}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak");
    let written = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::write(out.join("soak.csv"), &csv))
        .map_err(|e| e.to_string())
        .and_then(|()| plot(&rows).map_err(|e| e.to_string()))
        .and_then(|svg| std::fs::write(out.join("soak.svg"), svg).map_err(|e| e.to_string()));
    match written {
        Ok(()) => println!("wrote {0}/soak.csv and {0}/soak.svg", out.display()),
        Err(e) => eprintln!("writing the CSV and plot to {}: {e}", out.display()),
    }
}

struct Row {
    transfers: u64,
    blocks: u64,
    throughput: f64,
    rss: f64,
    heap: f64,
    restart_ms: f64,
    rss_after: f64,
}

/// RSS (left axis) and tx/s (right axis) against transfers, as SVG.
fn plot(rows: &[Row]) -> Result<String, Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = rows.last().map_or(1, |r| r.transfers).max(1) as f64;
        let rss_max = rows.iter().map(|r| r.rss).fold(300.0, f64::max) * 1.1;
        let tps_max = rows.iter().map(|r| r.throughput).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "forja soak: 4 validators, ERC-20 transfers",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..rss_max)?
            .set_secondary_coord(0f64..x_max, 0f64..tps_max);
        chart
            .configure_mesh()
            .x_desc("transfers")
            .y_desc("MiB")
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("transfers per second")
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                rows.iter().map(|r| (r.transfers as f64, r.rss)),
                RED.stroke_width(2),
            ))?
            .label("RSS (MiB)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                rows.iter().map(|r| (r.transfers as f64, r.heap)),
                MAGENTA.stroke_width(1),
            ))?
            .label("heap in use (MiB)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], MAGENTA.stroke_width(1)));
        chart
            .draw_series(LineSeries::new(
                [(0.0, 300.0), (x_max, 300.0)],
                BLACK.mix(0.4).stroke_width(1),
            ))?
            .label("RSS goal (300 MB)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
        chart
            .draw_secondary_series(LineSeries::new(
                rows.iter().map(|r| (r.transfers as f64, r.throughput)),
                BLUE.stroke_width(2),
            ))?
            .label("tx/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}
