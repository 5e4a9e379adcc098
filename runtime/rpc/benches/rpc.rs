//! JSON-RPC figures from a loopback client: `eth_sendRawTransaction`
//! throughput with pre-signed ERC-20 transfers, `eth_call` latency, and
//! network start → first answered request. The same load runs against
//! Hardhat's node in the same run when it is installed, and the ratio is
//! printed.
//!
//!   cargo bench -p forja-rpc --bench rpc --profile dev
//!
//! Hardhat: `npm install hardhat@2` in a directory and point
//! `FORJA_BENCH_HARDHAT_DIR` at it (default /tmp/peers); without it the
//! comparison is skipped with the reason printed. `FORJA_BENCH_TRANSFERS`
//! sets the number of transfers (default 2000).
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    eips::eip2718::Encodable2718,
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolCall,
};
use forja_rpc::{NetworkNode, RpcConfig, RpcServer};
use forja_runtime::{Network, NetworkConfig, StorageMode};

sol!(
    #[sol(rpc)]
    Token,
    "tests/fixtures/Token.json"
);

/// Senders sending at once: each sends its own transfers in nonce order,
/// so this many requests are in flight.
const SENDERS: usize = 8;
const CALLS: usize = 2000;
const STARTS: usize = 5;
/// Transactions per JSON-RPC batch in the batched half of the load.
const BATCH: usize = 50;

#[derive(Debug)]
struct LoadFigures {
    transfers: usize,
    /// All `eth_sendRawTransaction`s answered.
    accepted: Duration,
    /// Every transfer in a block (the last receipt of each sender seen).
    committed: Duration,
    batched_transfers: usize,
    accepted_batched: Duration,
    committed_batched: Duration,
    call_p50: Duration,
    call_p99: Duration,
    /// The same `eth_call`s over a WebSocket.
    ws_call_p50: Duration,
    ws_call_p99: Duration,
}

impl LoadFigures {
    fn accepted_per_second(&self) -> f64 {
        self.transfers as f64 / self.accepted.as_secs_f64()
    }
    fn committed_per_second(&self) -> f64 {
        self.transfers as f64 / self.committed.as_secs_f64()
    }
    fn batched_committed_per_second(&self) -> f64 {
        self.batched_transfers as f64 / self.committed_batched.as_secs_f64()
    }
    fn print(&self, name: &str) {
        println!(
            "{name:>8}: {} transfers, {SENDERS} senders, one per request: accepted in {:.0} ms ({:.0} tx/s), all committed in {:.0} ms ({:.0} tx/s)",
            self.transfers,
            self.accepted.as_secs_f64() * 1e3,
            self.accepted_per_second(),
            self.committed.as_secs_f64() * 1e3,
            self.committed_per_second(),
        );
        if self.batched_transfers == 0 {
            println!(
                "{name:>8}: batches not measured (its automine refuses out-of-order nonces in a batch)"
            );
        } else {
            println!(
                "{name:>8}: {} transfers, {SENDERS} senders, batches of {BATCH}: accepted in {:.0} ms ({:.0} tx/s), all committed in {:.0} ms ({:.0} tx/s)",
                self.batched_transfers,
                self.accepted_batched.as_secs_f64() * 1e3,
                self.batched_transfers as f64 / self.accepted_batched.as_secs_f64(),
                self.committed_batched.as_secs_f64() * 1e3,
                self.batched_committed_per_second(),
            );
        }
        println!(
            "{name:>8}: eth_call (balanceOf) p50 {:.0} µs, p99 {:.0} µs",
            self.call_p50.as_secs_f64() * 1e6,
            self.call_p99.as_secs_f64() * 1e6,
        );
        println!(
            "{name:>8}: eth_call (balanceOf) over a WebSocket p50 {:.0} µs, p99 {:.0} µs",
            self.ws_call_p50.as_secs_f64() * 1e6,
            self.ws_call_p99.as_secs_f64() * 1e6,
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let transfers: usize = std::env::var("FORJA_BENCH_TRANSFERS")
        .ok()
        .map(|n| n.parse().expect("FORJA_BENCH_TRANSFERS is a number"))
        .unwrap_or(2000);
    let profile = if cfg!(debug_assertions) {
        "debug assertions on"
    } else {
        "debug assertions off"
    };
    println!("forja-rpc benchmark ({profile}; see the header for the profile to use)");

    let mut starts = Vec::new();
    for _ in 0..STARTS {
        let (elapsed, forja) = start_forja().await;
        starts.push(elapsed);
        forja.stop().await;
    }
    starts.sort();
    println!(
        "   forja: start → first answered request: median {:.0} ms, best {:.0} ms ({STARTS} starts; 4 QBFT validators, in memory; goal < 250 ms)",
        starts[STARTS / 2].as_secs_f64() * 1e3,
        starts[0].as_secs_f64() * 1e3
    );

    let (_, forja) = start_forja().await;
    let forja_figures = load(&forja.url, transfers, true).await;
    forja_figures.print("forja");
    forja.stop().await;

    match Hardhat::start().await {
        Err(reason) => println!(" hardhat: SKIPPED: {reason}"),
        Ok((hardhat, started_in)) => {
            println!(
                " hardhat: start → first answered request: {:.0} ms",
                started_in.as_secs_f64() * 1e3
            );
            let hardhat_figures = load(&hardhat.url, transfers, false).await;
            hardhat_figures.print("hardhat");
            println!(
                "   ratio: committed eth_sendRawTransaction throughput, forja/hardhat, one per request: {:.1}×; forja batched / hardhat one per request: {:.1}× (goal ≥ 3×); eth_call p50 {:.1}× faster",
                forja_figures.committed_per_second() / hardhat_figures.committed_per_second(),
                forja_figures.batched_committed_per_second()
                    / hardhat_figures.committed_per_second(),
                hardhat_figures.call_p50.as_secs_f64() / forja_figures.call_p50.as_secs_f64(),
            );
        }
    }
}

struct Forja {
    network: Network,
    server: RpcServer,
    url: String,
}

impl Forja {
    async fn stop(self) {
        self.server.stop().await;
        let network = self.network;
        tokio::task::spawn_blocking(move || network.shutdown())
            .await
            .unwrap();
    }
}

/// What `forja node` does on start (4 QBFT validators, dev accounts, a
/// server on a free port), timed until a client's first request is answered.
async fn start_forja() -> (Duration, Forja) {
    let started = Instant::now();
    let config = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    let mode = config.consensus.mode;
    let network = tokio::task::spawn_blocking(move || {
        Network::start(config, StorageMode::InMemory).expect("network starts")
    })
    .await
    .unwrap();
    let dev_accounts = network.dev_accounts().into_iter().map(|(_, s)| s).collect();
    let node = Arc::new(NetworkNode::new(network.node(0), mode));
    let rpc = RpcConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        dev_accounts,
        ..Default::default()
    };
    let server = RpcServer::start(rpc, node).await.expect("server starts");
    let url = server.http_url();
    let provider = ProviderBuilder::new().connect_http(url.parse().unwrap());
    provider.get_block_number().await.expect("first request");
    (
        started.elapsed(),
        Forja {
            network,
            server,
            url,
        },
    )
}

/// The dev mnemonic's accounts, which both forja and Hardhat fund.
fn dev_signers(count: usize) -> Vec<PrivateKeySigner> {
    (0..count as u32)
        .map(|index| {
            alloy::signers::local::MnemonicBuilder::<alloy::signers::local::coins_bip39::English>::default()
                .phrase("test test test test test test test test test test test junk")
                .index(index)
                .unwrap()
                .build()
                .unwrap()
        })
        .collect()
}

/// Deploys the token, gives each sender tokens, pre-signs `transfers`
/// transfers, sends them from `SENDERS` concurrent senders and waits until
/// all are in blocks; then times `CALLS` sequential `balanceOf` calls.
async fn load(url: &str, transfers: usize, batches: bool) -> LoadFigures {
    let signers = dev_signers(SENDERS + 1);
    let owner = signers[0].clone();
    let senders = &signers[1..];
    let url: alloy::transports::http::reqwest::Url = url.parse().unwrap();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(url.clone())
        .erased();
    let token = Token::deploy(
        &provider,
        "Bench".into(),
        "BNC".into(),
        U256::from(u64::MAX),
    )
    .await
    .expect("token deploys");
    let token_address = *token.address();
    for sender in senders {
        token
            .transfer(sender.address(), U256::from(u32::MAX))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }

    let chain_id = provider.get_chain_id().await.unwrap();
    let gas_price = provider.get_gas_price().await.unwrap();
    let max_fee = gas_price * 2 + 1_000_000_000;
    let per_sender = transfers.div_ceil(SENDERS);
    let mut signed: Vec<Vec<Bytes>> = Vec::new();
    for (index, sender) in senders.iter().enumerate() {
        let wallet = EthereumWallet::from(sender.clone());
        let first_nonce = provider
            .get_transaction_count(sender.address())
            .await
            .unwrap();
        let mut batch = Vec::with_capacity(per_sender);
        for offset in 0..per_sender as u64 {
            let to = Address::with_last_byte(index as u8 + 1);
            let call = Token::transferCall {
                to,
                value: U256::from(offset + 1),
            };
            let envelope = TransactionRequest::default()
                .with_to(token_address)
                .with_input(call.abi_encode())
                .with_nonce(first_nonce + offset)
                .with_chain_id(chain_id)
                .with_gas_limit(100_000)
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(1_000_000_000.min(max_fee))
                .build(&wallet)
                .await
                .unwrap();
            batch.push(envelope.encoded_2718().into());
        }
        signed.push(batch);
    }

    // The first half of each sender's transfers one request each, the
    // second half in JSON-RPC batches: clients do both.
    let (single, batched): (Vec<_>, Vec<_>) = signed
        .into_iter()
        .map(|mut batch| {
            let rest = batch.split_off(batch.len() / 2);
            (batch, rest)
        })
        .unzip();
    let (accepted, committed) = send_all(&provider, single, None).await;
    // Hardhat runs a batch's calls concurrently, and its automine refuses a
    // nonce that arrives before the one it expects: it gets no batches.
    let (accepted_batched, committed_batched) = if batches {
        send_all(&provider, batched, Some(BATCH)).await
    } else {
        (Duration::ZERO, Duration::ZERO)
    };

    let call = Token::balanceOfCall(senders[0].address());
    let request = TransactionRequest::default()
        .with_to(token_address)
        .with_input(call.abi_encode());
    let mut latencies = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        provider.call(request.clone()).await.expect("eth_call");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let ws = ProviderBuilder::new()
        .connect_ws(alloy::providers::WsConnect::new(
            url.as_str().replacen("http", "ws", 1),
        ))
        .await
        .expect("a WebSocket connection");
    let mut ws_latencies = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        ws.call(request.clone())
            .await
            .expect("eth_call over a WebSocket");
        ws_latencies.push(started.elapsed());
    }
    ws_latencies.sort();
    LoadFigures {
        transfers: per_sender / 2 * SENDERS,
        accepted,
        committed,
        batched_transfers: if batches {
            (per_sender - per_sender / 2) * SENDERS
        } else {
            0
        },
        accepted_batched,
        committed_batched,
        call_p50: latencies[CALLS / 2],
        call_p99: latencies[CALLS * 99 / 100],
        ws_call_p50: ws_latencies[CALLS / 2],
        ws_call_p99: ws_latencies[CALLS * 99 / 100],
    }
}

/// Sends each sender's transactions in order, all senders at once, one
/// request per transaction or `batch` per request; returns when all were
/// accepted and when all were in blocks.
async fn send_all(
    provider: &DynProvider,
    per_sender: Vec<Vec<Bytes>>,
    batch: Option<usize>,
) -> (Duration, Duration) {
    let started = Instant::now();
    let sending: Vec<_> = per_sender
        .into_iter()
        .map(|raws| {
            let provider = provider.clone();
            tokio::spawn(async move {
                let mut last = None;
                for chunk in raws.chunks(batch.unwrap_or(1)) {
                    if batch.is_none() {
                        let pending = provider
                            .send_raw_transaction(&chunk[0])
                            .await
                            .expect("accepted");
                        last = Some(*pending.tx_hash());
                        continue;
                    }
                    let client = provider.client();
                    let mut request = alloy::rpc::client::BatchRequest::new(client);
                    let waiters: Vec<_> = chunk
                        .iter()
                        .map(|raw| {
                            request
                                .add_call::<_, alloy::primitives::B256>(
                                    "eth_sendRawTransaction",
                                    &(raw,),
                                )
                                .unwrap()
                        })
                        .collect();
                    request.send().await.expect("batch sent");
                    for waiter in waiters {
                        last = Some(waiter.await.expect("accepted"));
                    }
                }
                last.expect("a transaction per sender")
            })
        })
        .collect();
    let mut last_hashes = Vec::new();
    for task in sending {
        last_hashes.push(task.await.unwrap());
    }
    let accepted = started.elapsed();
    for hash in last_hashes {
        wait_for_receipt(provider, hash).await;
    }
    (accepted, started.elapsed())
}

async fn wait_for_receipt(provider: &DynProvider, hash: alloy::primitives::B256) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await.unwrap() {
            assert!(receipt.status(), "transfer {hash} succeeded");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "transfer {hash} not committed in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `hardhat node` (Hardhat 2, automining) on a free loopback port.
struct Hardhat {
    child: Child,
    url: String,
}

impl Hardhat {
    async fn start() -> Result<(Hardhat, Duration), String> {
        let dir = std::env::var_os("FORJA_BENCH_HARDHAT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/peers"));
        let bin = dir.join("node_modules/.bin/hardhat");
        if !bin.is_file() {
            return Err(format!(
                "{} not found (npm install hardhat@2 in FORJA_BENCH_HARDHAT_DIR)",
                bin.display()
            ));
        }
        ensure_hardhat_config(&dir)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let started = Instant::now();
        let child = Command::new(&bin)
            .args([
                "node",
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let hardhat = Hardhat {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let provider = ProviderBuilder::new().connect_http(hardhat.url.parse().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        while provider.get_chain_id().await.is_err() {
            if Instant::now() > deadline {
                return Err("hardhat node did not answer within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok((hardhat, started.elapsed()))
    }
}

/// `hardhat node` refuses to run outside a Hardhat project.
fn ensure_hardhat_config(dir: &Path) -> Result<(), String> {
    let existing = [
        "hardhat.config.js",
        "hardhat.config.cjs",
        "hardhat.config.ts",
    ];
    if existing.iter().any(|name| dir.join(name).is_file()) {
        return Ok(());
    }
    std::fs::write(dir.join("hardhat.config.cjs"), "module.exports = {};\n")
        .map_err(|e| format!("cannot write a hardhat config in {}: {e}", dir.display()))
}

impl Drop for Hardhat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
