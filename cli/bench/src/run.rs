//! A run: setup (allowlist, deployments, per-sender calls, funding), signing
//! every transaction, the generator's ceiling against a no-op sink, the
//! timed phase, and the report.
//!
//! The timed phase sends from `connections` lanes. Each sender belongs to
//! one lane, so its transactions leave in nonce order; a lane keeps one
//! request in flight on its own kept-alive connection (or, on the embedded
//! network, submits to its own node). A tracker watches blocks and stamps
//! each of the run's transactions when it sees it committed.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use alloy::{
    consensus::TxLegacy,
    primitives::{Address, B256, Bytes, TxKind, U256},
    rlp::Header as RlpHeader,
    signers::local::PrivateKeySigner,
};
use anyhow::{Context as _, bail};
use forja_runtime::{ChainReader, TransactionPool};
use hyper::body::Bytes as HttpBytes;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::{
    config::{BenchConfig, LoadShape, Plan},
    process,
    report::{
        self, BlockSample, Blocks, Counts, GeneratorFigures, ProcessSample, ProcessUsage, Report,
        SecondSample, Throughput, WorkloadSummary,
    },
    rpc::{Connection, Endpoint, Response, send_raw_body, start_sink},
    target::{Chain, Target, quantity},
    workload::{Contracts, Scope, Workload, compile_call, sender_keys, sign_legacy},
};

/// How to run, beyond the workload itself.
pub struct RunOptions {
    pub plan: Plan,
    /// Lanes sending in parallel (connections on an endpoint).
    pub connections: usize,
    /// Transactions per JSON-RPC batch request (1: no batching).
    pub batch: usize,
    /// Deploys, funds and allowlists; on the embedded network, a network admin.
    pub admin: PrivateKeySigner,
    /// How long to wait for the last transactions to commit.
    pub drain_timeout: Duration,
    /// Measure the generator's ceiling against a no-op sink first.
    pub measure_ceiling: bool,
}

/// What the run reports while it works.
#[derive(Debug, Clone)]
pub enum Event {
    /// A setup step started or finished.
    Step(String),
    /// The timed phase started.
    Started {
        planned: u64,
    },
    Progress(Progress),
}

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub planned: u64,
    pub submitted: u64,
    pub accepted: u64,
    pub committed: u64,
    pub failed: u64,
    /// Commits over the last second.
    pub committed_tps: f64,
}

const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `config` against `target` and returns its report.
pub async fn run(
    target: &Target,
    config: &BenchConfig,
    contracts: Contracts,
    options: RunOptions,
    on_event: &(dyn Fn(Event) + Send + Sync),
) -> anyhow::Result<Report> {
    let started_at_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let plan = &options.plan;
    let chain = Chain::connect(target).await?;
    let chain_id = chain.chain_id().await?;
    let gas_price = chain.gas_price().await?;
    let block_gas_limit = chain.block_gas_limit().await?;
    let admin = options.admin.address();
    let senders = sender_keys(config.seed, plan.senders);
    let sender_addresses: Vec<Address> = senders.iter().map(|s| s.address()).collect();

    if chain.allowlist(admin, &sender_addresses).await? {
        on_event(Event::Step(format!(
            "added {} senders to the account allowlist",
            senders.len()
        )));
    }

    // Deployments, one at a time: each may take the addresses before it.
    let setup_gas = block_gas_limit.min(10_000_000);
    let mut addresses = BTreeMap::new();
    let mut abis = BTreeMap::new();
    for deployment in &contracts.deployments {
        let input = (deployment.init_code)(&Scope {
            addresses: &addresses,
            deployer: admin,
        })
        .with_context(|| format!("deploying {}", deployment.name))?;
        let nonce = chain.next_nonce(admin).await?;
        let raw = sign_legacy(
            &options.admin,
            TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price,
                gas_limit: setup_gas,
                to: TxKind::Create,
                value: U256::ZERO,
                input,
            },
        )?;
        let hash = chain
            .send_raw(&raw)
            .await
            .with_context(|| format!("deploying {} from {admin}", deployment.name))?;
        let receipt = &chain.wait_receipts(&[hash], SETUP_TIMEOUT).await?[0];
        let address = match (receipt.success, receipt.contract_address) {
            (true, Some(address)) => address,
            _ => bail!(
                "deploying {} failed (transaction {hash} reverted)",
                deployment.name
            ),
        };
        on_event(Event::Step(format!(
            "deployed {} at {address}",
            deployment.name
        )));
        addresses.insert(deployment.name.clone(), address);
        abis.insert(deployment.name.clone(), (address, deployment.abi.clone()));
    }

    // The workload's calls, then deploy.toml's calls, per-sender calls and funding.
    let calls = config
        .calls
        .iter()
        .enumerate()
        .map(|(i, call)| compile_call(call, &format!("calls[{i}]"), &abis, admin))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let per_sender = config
        .setup
        .per_sender
        .iter()
        .enumerate()
        .map(|(i, call)| compile_call(call, &format!("setup.per_sender[{i}]"), &abis, admin))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut setup = SetupTxs {
        signer: &options.admin,
        chain_id,
        gas_price,
        nonce: chain.next_nonce(admin).await?,
        txs: Vec::new(),
    };
    for call in &contracts.calls {
        let (to, _) = abis
            .get(&call.contract)
            .with_context(|| format!("{}: no contract `{}` deployed", call.what, call.contract))?;
        let input = (call.input)(&Scope {
            addresses: &addresses,
            deployer: admin,
        })?;
        setup.add(call.what.clone(), *to, U256::ZERO, input, setup_gas)?;
    }
    let setup_workload = Workload {
        calls: &per_sender,
        senders: &senders,
        first_nonces: &vec![0; senders.len()],
        chain_id,
        gas_price,
        gas_limits: &vec![setup_gas; per_sender.len()],
        seed: config.seed,
    };
    for (index, call) in per_sender.iter().enumerate() {
        for sender in 0..senders.len() as u64 {
            let input = setup_workload.input(sender, index, sender)?;
            setup.add(
                format!(
                    "{} for sender {}",
                    call.label, sender_addresses[sender as usize]
                ),
                call.to,
                call.value,
                input,
                setup_gas,
            )?;
        }
    }
    // Run the per-sender setup before estimating: a transfer only passes
    // once the sender holds tokens.
    send_and_wait(
        &chain,
        std::mem::take(&mut setup.txs),
        on_event,
        "setup calls",
    )
    .await?;

    let mut gas_limits = Vec::with_capacity(calls.len());
    let first_nonces_zero = vec![0; senders.len()];
    let estimate_workload = Workload {
        calls: &calls,
        senders: &senders,
        first_nonces: &first_nonces_zero,
        chain_id,
        gas_price,
        gas_limits: &vec![0; calls.len()],
        seed: config.seed,
    };
    for (index, call) in calls.iter().enumerate() {
        let gas = match call.gas {
            Some(gas) => gas,
            None => {
                let input = estimate_workload.input(0, index, 0)?;
                let estimate = chain
                    .estimate_gas(sender_addresses[0], call.to, &input, call.value)
                    .await
                    .with_context(|| {
                        format!(
                            "calls[{index}] ({}) fails in a dry run from sender {}",
                            call.label, sender_addresses[0]
                        )
                    })?;
                // Headroom: other arguments may cost more (a new recipient's slot).
                (estimate * 2).min(block_gas_limit)
            }
        };
        gas_limits.push(gas);
    }

    // Funding, when the network prices gas or the workload moves value.
    let per_sender_txs = plan.transactions.div_ceil(senders.len() as u64);
    let most_per_tx = calls
        .iter()
        .zip(&gas_limits)
        .map(|(call, gas)| U256::from(*gas) * U256::from(gas_price) + call.value)
        .max()
        .unwrap_or_default();
    let extra: U256 = match &config.setup.fund_wei {
        Some(text) => text
            .parse()
            .with_context(|| format!("[setup] fund_wei `{text}` is not a number of wei"))?,
        None => U256::ZERO,
    };
    let funding = most_per_tx * U256::from(per_sender_txs) + extra;
    if !funding.is_zero() {
        for address in &sender_addresses {
            setup.add(
                format!("funding {address}"),
                *address,
                funding,
                Bytes::new(),
                21_000,
            )?;
        }
        send_and_wait(&chain, std::mem::take(&mut setup.txs), on_event, "funding").await?;
    }

    let mut first_nonces = Vec::with_capacity(senders.len());
    for address in &sender_addresses {
        first_nonces.push(chain.next_nonce(*address).await?);
    }

    // Every transaction, signed before the clock starts.
    on_event(Event::Step(format!(
        "signing {} transactions from {} senders",
        plan.transactions,
        senders.len()
    )));
    let signing_started = Instant::now();
    let signed = {
        let workload = Workload {
            calls: &calls,
            senders: &senders,
            first_nonces: &first_nonces,
            chain_id,
            gas_price,
            gas_limits: &gas_limits,
            seed: config.seed,
        };
        workload.sign_all(plan.transactions)?
    };
    let presign_seconds = signing_started.elapsed().as_secs_f64();

    let lanes = options.connections.clamp(1, senders.len());
    let batch = options.batch.max(1);
    let payloads: Vec<HttpBytes> = match target {
        Target::Embedded { .. } => signed
            .iter()
            .map(|tx| HttpBytes::from(tx.raw.clone()))
            .collect(),
        Target::Rpc(_) => signed
            .iter()
            .enumerate()
            .map(|(k, tx)| HttpBytes::from(send_raw_body(k as u64, &tx.raw)))
            .collect(),
    };
    let hashes: HashMap<B256, u32> = signed
        .iter()
        .enumerate()
        .map(|(k, tx)| (tx.hash, k as u32))
        .collect();
    drop(signed);
    let payloads = Arc::new(payloads);

    let (ceiling_tps, ceiling_method) = if options.measure_ceiling {
        on_event(Event::Step("measuring the load generator's ceiling".into()));
        measure_ceiling(target, &payloads, plan.senders, lanes, batch).await?
    } else {
        (None, "not measured (--no-ceiling)".to_owned())
    };

    let sampler_before = (process::cpu_seconds(), Instant::now());
    let rounds_before = match target {
        Target::Embedded { network, .. } => Some(network.node(0).admin().metrics().round_changes),
        Target::Rpc(_) => None,
    };
    let head_before = chain.head().await?;
    drop(chain);

    // The timed phase.
    let shared = Arc::new(Shared::new(payloads.len(), plan));
    on_event(Event::Started {
        planned: plan.transactions,
    });
    let tracker = {
        let shared = shared.clone();
        let hashes = Arc::new(hashes);
        match target {
            Target::Embedded { network, .. } => tokio::spawn(track_embedded(
                network.node(0).read().clone(),
                head_before,
                hashes,
                shared,
            )),
            Target::Rpc(endpoints) => {
                let endpoint = endpoints[0].clone();
                tokio::spawn(track_rpc(endpoint, head_before, hashes, shared))
            }
        }
    };
    let mut lane_tasks = Vec::with_capacity(lanes);
    for lane in 0..lanes {
        let sender = match target {
            Target::Embedded { network, .. } => {
                Lane::Embedded(network.node(lane % network.nodes().len()).pool().clone())
            }
            Target::Rpc(endpoints) => {
                Lane::Rpc(Connection::open(&endpoints[lane % endpoints.len()]).await?)
            }
        };
        let indices: Vec<u32> = (0..payloads.len() as u32)
            .filter(|k| (*k as usize % plan.senders) % lanes == lane)
            .collect();
        lane_tasks.push(tokio::spawn(send_lane(
            sender,
            indices,
            payloads.clone(),
            shared.clone(),
            plan.clone(),
            batch,
        )));
    }
    let mut samples = Vec::new();
    let mut last = (sampler_before.0, Instant::now(), 0u64);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let mut lanes_done = false;
    let mut drained_at: Option<Instant> = None;
    let mut last_change = (Instant::now(), 0u64);
    loop {
        ticker.tick().await;
        // A closed loop whose transactions stop committing would wait for
        // permits forever: after the drain timeout without any change, stop.
        let moved = {
            let c = shared.counts();
            c.submitted + c.committed + c.reverted + c.rejected
        };
        if moved != last_change.1 {
            last_change = (Instant::now(), moved);
        } else if !lanes_done && last_change.0.elapsed() >= options.drain_timeout {
            shared.stop.store(true, Ordering::Relaxed);
            if let Some(permits) = &shared.permits {
                permits.close();
            }
        }
        if !lanes_done && lane_tasks.iter().all(|t| t.is_finished()) {
            lanes_done = true;
            drained_at = Some(Instant::now() + options.drain_timeout);
            for task in lane_tasks.drain(..) {
                task.await.context("a sending lane failed")?;
            }
        }
        if let Some(duration) = plan.duration
            && matches!(plan.shape, LoadShape::Concurrency { .. })
            && shared.start.elapsed() >= duration
        {
            shared.stop.store(true, Ordering::Relaxed);
        }
        let counts = shared.counts();
        let now = Instant::now();
        if now.duration_since(last.1) >= Duration::from_millis(990) {
            let cpu = process::cpu_seconds();
            let elapsed = now.duration_since(last.1).as_secs_f64();
            samples.push(ProcessSample {
                second: shared.start.elapsed().as_secs(),
                cpu_cores: match (cpu, last.0) {
                    (Some(now), Some(before)) => (now - before) / elapsed,
                    _ => 0.0,
                },
                rss_mib: process::rss_mib().unwrap_or(0.0),
            });
            let committed = counts.committed + counts.reverted;
            on_event(Event::Progress(Progress {
                elapsed: shared.start.elapsed(),
                planned: plan.transactions,
                submitted: counts.submitted,
                accepted: counts.accepted,
                committed: counts.committed,
                failed: counts.rejected + counts.reverted,
                committed_tps: (committed - last.2) as f64 / elapsed,
            }));
            last = (cpu, now, committed);
        }
        if lanes_done {
            let settled = counts.committed + counts.reverted >= counts.accepted;
            if settled || drained_at.is_some_and(|d| now >= d) {
                break;
            }
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    shared.tracker_done.store(true, Ordering::Relaxed);
    tracker.await.context("the block tracker failed")??;
    let rounds_after = match target {
        Target::Embedded { network, .. } => Some(network.node(0).admin().metrics().round_changes),
        Target::Rpc(_) => None,
    };

    let round_timeouts = match (rounds_before, rounds_after) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let process_role = match target {
        Target::Embedded { .. } => "network and load generator (one process)",
        Target::Rpc(_) => "load generator",
    };
    Ok(build_report(
        &shared,
        &BuildInput {
            target: target.describe(),
            started_at_unix,
            plan,
            calls: calls.iter().map(|c| c.label.clone()).collect(),
            lanes,
            batch,
            seed: config.seed,
            drain_timeout: options.drain_timeout,
            presign_seconds,
            ceiling_tps,
            ceiling_method,
            round_timeouts,
            process_role,
        },
        samples,
    ))
}

/// Setup transactions from the admin, signed with consecutive nonces.
struct SetupTxs<'a> {
    signer: &'a PrivateKeySigner,
    chain_id: u64,
    gas_price: u128,
    nonce: u64,
    txs: Vec<(String, Vec<u8>)>,
}

impl SetupTxs<'_> {
    fn add(
        &mut self,
        what: String,
        to: Address,
        value: U256,
        input: Bytes,
        gas: u64,
    ) -> anyhow::Result<()> {
        let raw = sign_legacy(
            self.signer,
            TxLegacy {
                chain_id: Some(self.chain_id),
                nonce: self.nonce,
                gas_price: self.gas_price,
                gas_limit: gas,
                to: TxKind::Call(to),
                value,
                input,
            },
        )?;
        self.nonce += 1;
        self.txs.push((what, raw));
        Ok(())
    }
}

/// Sends setup transactions (in nonce order) and waits for all of them;
/// a failure names the step.
async fn send_and_wait(
    chain: &Chain<'_>,
    txs: Vec<(String, Vec<u8>)>,
    on_event: &(dyn Fn(Event) + Send + Sync),
    what: &str,
) -> anyhow::Result<()> {
    if txs.is_empty() {
        return Ok(());
    }
    let mut hashes = Vec::with_capacity(txs.len());
    for (label, raw) in &txs {
        hashes.push(chain.send_raw(raw).await.with_context(|| label.clone())?);
    }
    let receipts = chain.wait_receipts(&hashes, SETUP_TIMEOUT).await?;
    for ((label, _), receipt) in txs.iter().zip(receipts) {
        if !receipt.success {
            bail!("setup: {label} reverted");
        }
    }
    on_event(Event::Step(format!(
        "{what}: {} transactions mined",
        txs.len()
    )));
    Ok(())
}

/// Per-transaction state of the timed phase, written by lanes and the tracker.
struct Shared {
    start: Instant,
    /// µs from start + 1 when sent; 0 before.
    sent_at: Vec<AtomicU64>,
    /// 1 accepted, 2 refused.
    submit: Vec<AtomicU8>,
    /// µs from start + 1 when seen in a block; 0 before.
    committed_at: Vec<AtomicU64>,
    reverted: Vec<AtomicBool>,
    reasons: Mutex<BTreeMap<String, u64>>,
    submitted: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    committed: AtomicU64,
    reverted_count: AtomicU64,
    /// Closed loop: one permit per transaction allowed in flight.
    permits: Option<Semaphore>,
    stop: AtomicBool,
    tracker_done: AtomicBool,
    max_lag_us: AtomicU64,
    blocks: Mutex<Vec<BlockSample>>,
}

struct CountsNow {
    submitted: u64,
    accepted: u64,
    rejected: u64,
    committed: u64,
    reverted: u64,
}

impl Shared {
    fn new(count: usize, plan: &Plan) -> Self {
        let atomics = |n| (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Self {
            start: Instant::now(),
            sent_at: atomics(count),
            submit: (0..count).map(|_| AtomicU8::new(0)).collect(),
            committed_at: atomics(count),
            reverted: (0..count).map(|_| AtomicBool::new(false)).collect(),
            reasons: Mutex::new(BTreeMap::new()),
            submitted: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            reverted_count: AtomicU64::new(0),
            permits: match plan.shape {
                LoadShape::Concurrency { in_flight } => Some(Semaphore::new(in_flight)),
                _ => None,
            },
            stop: AtomicBool::new(false),
            tracker_done: AtomicBool::new(false),
            max_lag_us: AtomicU64::new(0),
            blocks: Mutex::new(Vec::new()),
        }
    }

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64 + 1
    }

    fn counts(&self) -> CountsNow {
        CountsNow {
            submitted: self.submitted.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            committed: self.committed.load(Ordering::Relaxed),
            reverted: self.reverted_count.load(Ordering::Relaxed),
        }
    }

    fn refused(&self, k: u32, reason: &SendFailed) {
        self.submit[k as usize].store(2, Ordering::Relaxed);
        self.rejected.fetch_add(1, Ordering::Relaxed);
        *self
            .reasons
            .lock()
            .expect("reasons lock")
            .entry(report::reason_key(&reason.to_string()))
            .or_default() += 1;
        if let Some(permits) = &self.permits {
            permits.add_permits(1);
        }
    }

    fn accepted(&self, k: u32) {
        self.submit[k as usize].store(1, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// The tracker saw `k` in a block.
    fn committed(&self, k: u32, success: bool, at_us: u64) {
        if self.committed_at[k as usize].swap(at_us, Ordering::Relaxed) != 0 {
            return;
        }
        if success {
            self.committed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.reverted[k as usize].store(true, Ordering::Relaxed);
            self.reverted_count.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(permits) = &self.permits {
            permits.add_permits(1);
        }
    }
}

/// Where a lane sends.
enum Lane {
    /// A node's pool: a lane only submits.
    Embedded(TransactionPool),
    Rpc(Connection),
    /// Takes everything and does nothing (the embedded ceiling).
    Sink,
}

impl Lane {
    /// Sends `ks` (one request); each transaction's result.
    async fn send(
        &mut self,
        ks: &[u32],
        payloads: &[HttpBytes],
        out: &mut Vec<Result<(), SendFailed>>,
    ) {
        out.clear();
        match self {
            Lane::Sink => out.extend(ks.iter().map(|_| Ok(()))),
            Lane::Embedded(pool) => {
                if ks.len() == 1 {
                    out.push(
                        pool.submit_raw_transaction(&payloads[ks[0] as usize])
                            .map(|_| ())
                            .map_err(|e| SendFailed::Refused(e.to_string())),
                    );
                    return;
                }
                let mut decoded = Vec::with_capacity(ks.len());
                let mut positions = Vec::with_capacity(ks.len());
                out.extend(ks.iter().map(|_| Ok(())));
                for (i, k) in ks.iter().enumerate() {
                    match forja_runtime::pool::decode_transaction(&payloads[*k as usize]) {
                        Ok(tx) => {
                            decoded.push(tx);
                            positions.push(i);
                        }
                        Err(e) => out[i] = Err(SendFailed::Refused(e.to_string())),
                    }
                }
                for (i, result) in positions.into_iter().zip(pool.submit_batch(decoded)) {
                    out[i] = result
                        .map(|_| ())
                        .map_err(|e| SendFailed::Refused(e.to_string()));
                }
            }
            Lane::Rpc(connection) => {
                let body = if ks.len() == 1 {
                    payloads[ks[0] as usize].clone()
                } else {
                    let mut body = Vec::with_capacity(
                        ks.iter()
                            .map(|k| payloads[*k as usize].len() + 1)
                            .sum::<usize>()
                            + 2,
                    );
                    body.push(b'[');
                    for (i, k) in ks.iter().enumerate() {
                        if i > 0 {
                            body.push(b',');
                        }
                        body.extend_from_slice(&payloads[*k as usize]);
                    }
                    body.push(b']');
                    body.into()
                };
                match connection.post(body).await {
                    Err(error) => {
                        let reason = SendFailed::Transport(format!("{error:#}"));
                        out.extend(ks.iter().map(|_| Err(reason.clone())));
                    }
                    Ok(response) => parse_send_response(&response, ks, out),
                }
            }
        }
    }
}

fn parse_send_response(response: &[u8], ks: &[u32], out: &mut Vec<Result<(), SendFailed>>) {
    let outcome = |r: &Response<'_>| match (&r.error, r.result) {
        (Some(error), _) => Err(SendFailed::Rpc {
            code: error.code,
            message: error.message.clone(),
        }),
        (None, Some(_)) => Ok(()),
        (None, None) => Err(SendFailed::EmptyResponse),
    };
    if ks.len() == 1 {
        out.push(match serde_json::from_slice::<Response<'_>>(response) {
            Ok(r) => outcome(&r),
            Err(e) => Err(SendFailed::Unreadable(e.to_string())),
        });
        return;
    }
    match serde_json::from_slice::<Vec<Response<'_>>>(response) {
        Ok(responses) => {
            let by_id: HashMap<u64, &Response<'_>> = responses
                .iter()
                .filter_map(|r| r.id.map(|id| (id, r)))
                .collect();
            out.extend(ks.iter().map(|k| match by_id.get(&(*k as u64)) {
                Some(r) => outcome(r),
                None => Err(SendFailed::MissingFromBatch),
            }));
        }
        Err(_) => {
            // A single error for the whole batch (e.g. batches refused).
            let reason = match serde_json::from_slice::<Response<'_>>(response) {
                Ok(r) => outcome(&r).err().unwrap_or(SendFailed::UnexpectedSingle),
                Err(e) => SendFailed::UnreadableBatch(e.to_string()),
            };
            out.extend(ks.iter().map(|_| Err(reason.clone())));
        }
    }
}

/// Why one transaction was not taken; its text is what failures are
/// counted by in the report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum SendFailed {
    /// The embedded node refused it (its pool's reason).
    #[error("{0}")]
    Refused(String),
    #[error("{message} (code {code})")]
    Rpc { code: i64, message: String },
    #[error("{0}")]
    Transport(String),
    #[error("the response has neither result nor error")]
    EmptyResponse,
    #[error("unreadable response: {0}")]
    Unreadable(String),
    #[error("the batch response lacks this request")]
    MissingFromBatch,
    #[error("unexpected single response")]
    UnexpectedSingle,
    #[error("unreadable batch response: {0}")]
    UnreadableBatch(String),
}

/// One lane of the timed phase: sends its transactions in order, on
/// schedule (open loop) or as permits free up (closed loop).
async fn send_lane(
    mut lane: Lane,
    indices: Vec<u32>,
    payloads: Arc<Vec<HttpBytes>>,
    shared: Arc<Shared>,
    plan: Plan,
    batch: usize,
) {
    let mut results = Vec::with_capacity(batch);
    let mut chunk = Vec::with_capacity(batch);
    let mut position = 0;
    while position < indices.len() {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        chunk.clear();
        let first = indices[position];
        if let Some(due) = plan.due(u64::from(first)) {
            let due_at = shared.start + due;
            let now = Instant::now();
            if due_at > now {
                tokio::time::sleep_until(due_at.into()).await;
            } else {
                shared
                    .max_lag_us
                    .fetch_max((now - due_at).as_micros() as u64, Ordering::Relaxed);
            }
            // Take whatever else of this lane is already due, up to a batch.
            let now = Instant::now();
            while chunk.len() < batch
                && position < indices.len()
                && plan
                    .due(u64::from(indices[position]))
                    .is_some_and(|d| shared.start + d <= now)
            {
                chunk.push(indices[position]);
                position += 1;
            }
            if chunk.is_empty() {
                chunk.push(first);
                position += 1;
            }
        } else {
            let take = batch.min(indices.len() - position);
            if let Some(permits) = &shared.permits {
                match permits.acquire_many(take as u32).await {
                    Ok(permit) => permit.forget(),
                    Err(_) => break,
                }
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            chunk.extend_from_slice(&indices[position..position + take]);
            position += take;
        }
        let at = shared.now_us();
        for k in &chunk {
            shared.sent_at[*k as usize].store(at, Ordering::Relaxed);
        }
        shared
            .submitted
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        lane.send(&chunk, &payloads, &mut results).await;
        for (k, result) in chunk.iter().zip(&results) {
            match result {
                Ok(()) => shared.accepted(*k),
                Err(reason) => shared.refused(*k, reason),
            }
        }
    }
}

/// Stamps the run's transactions as the embedded network commits them.
async fn track_embedded(
    node: ChainReader,
    head_before: u64,
    hashes: Arc<HashMap<B256, u32>>,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let mut blocks = node.subscribe_new_blocks();
    let mut next = head_before + 1;
    let mut last_at: Option<u64> = None;
    loop {
        while let Some(block) = node.block_by_number(next) {
            let at = shared.now_us();
            let receipts = node.receipts_by_block(block.hash);
            for (i, tx) in block.transactions.iter().enumerate() {
                if let Some(k) = hashes.get(&tx.hash) {
                    let success = receipts
                        .as_ref()
                        .and_then(|r| r.get(i))
                        .is_none_or(|r| r.receipt.status());
                    shared.committed(*k, success, at);
                }
            }
            record_block(
                &shared,
                &mut last_at,
                at,
                next,
                block.transactions.len() as u64,
                round_of(&block.header.extra_data),
            );
            next += 1;
        }
        if shared.tracker_done.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Woken by a new block, or every 50 ms to look at the done flag.
        let _ = tokio::time::timeout(Duration::from_millis(50), blocks.recv()).await;
    }
}

/// Stamps the run's transactions as an endpoint's blocks show them committed
/// (polled every 10 ms). New blocks and their receipts are fetched in
/// JSON-RPC batches, so an endpoint that makes a block per transaction
/// (anvil, Hardhat) does not leave the tracker behind.
async fn track_rpc(
    endpoint: Endpoint,
    head_before: u64,
    hashes: Arc<HashMap<B256, u32>>,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    const BLOCKS_PER_BATCH: u64 = 25;
    let mut connection = Connection::open(&endpoint).await?;
    let mut next = head_before + 1;
    let mut last_at: Option<u64> = None;
    let mut block_receipts = true;
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let done = shared.tracker_done.load(Ordering::Relaxed);
        let head = quantity(&connection.call("eth_blockNumber", json!([])).await?)?;
        while next <= head {
            let last = head.min(next + BLOCKS_PER_BATCH - 1);
            let mut calls = Vec::new();
            for number in next..=last {
                let number = format!("{number:#x}");
                calls.push(("eth_getBlockByNumber", json!([number, false])));
                if block_receipts {
                    calls.push(("eth_getBlockReceipts", json!([number])));
                }
            }
            let results = connection.batch(&calls).await?;
            let at = shared.now_us();
            let per_block = if block_receipts { 2 } else { 1 };
            let mut missing: Vec<(B256, u32)> = Vec::new();
            for (offset, number) in (next..=last).enumerate() {
                let block = results[offset * per_block]
                    .as_ref()
                    .map_err(|e| anyhow::anyhow!("eth_getBlockByNumber({number}): {e}"))?;
                let txs: Vec<B256> = serde_json::from_value(block["transactions"].clone())
                    .context("eth_getBlockByNumber: unreadable transaction hashes")?;
                let receipts = block_receipts
                    .then(|| results[offset * per_block + 1].as_ref().ok())
                    .flatten()
                    .and_then(|r| r.as_array())
                    .filter(|r| r.len() == txs.len());
                if block_receipts && receipts.is_none() && !txs.is_empty() {
                    // No eth_getBlockReceipts (Hardhat 2): receipts one by one from now on.
                    block_receipts = false;
                }
                for (i, hash) in txs.iter().enumerate() {
                    let Some(k) = hashes.get(hash) else { continue };
                    match receipts {
                        Some(receipts) => shared.committed(*k, success(&receipts[i]), at),
                        None => missing.push((*hash, *k)),
                    }
                }
                let extra: Bytes = block["extraData"]
                    .as_str()
                    .and_then(|e| e.parse().ok())
                    .unwrap_or_default();
                record_block(
                    &shared,
                    &mut last_at,
                    at,
                    number,
                    txs.len() as u64,
                    round_of(&extra),
                );
            }
            for chunk in missing.chunks(100) {
                let calls: Vec<_> = chunk
                    .iter()
                    .map(|(hash, _)| ("eth_getTransactionReceipt", json!([hash])))
                    .collect();
                let receipts = connection.batch(&calls).await?;
                for ((_, k), receipt) in chunk.iter().zip(receipts) {
                    let receipt =
                        receipt.map_err(|e| anyhow::anyhow!("eth_getTransactionReceipt: {e}"))?;
                    shared.committed(*k, success(&receipt), at);
                }
            }
            next = last + 1;
        }
        if done {
            return Ok(());
        }
        interval.tick().await;
    }
}

/// A receipt's status: anything but an explicit failure is success
/// (receipts before Byzantium carry a root instead).
fn success(receipt: &serde_json::Value) -> bool {
    receipt["status"].as_str() != Some("0x0")
}

fn record_block(
    shared: &Shared,
    last_at: &mut Option<u64>,
    at: u64,
    number: u64,
    transactions: u64,
    round: Option<u32>,
) {
    let interval_ms = last_at.map_or(0.0, |last| (at - last) as f64 / 1000.0);
    *last_at = Some(at);
    shared
        .blocks
        .lock()
        .expect("blocks lock")
        .push(BlockSample {
            number,
            at_ms: at as f64 / 1000.0,
            interval_ms,
            transactions,
            round,
        });
}

/// The round a QBFT or IBFT 2.0 block was decided in, from its extra data
/// (RLP `[vanity, validators, vote, round, seals…]`); `None` for other
/// headers (anvil, Hardhat).
pub fn round_of(extra_data: &[u8]) -> Option<u32> {
    let mut buf = extra_data;
    let list = RlpHeader::decode(&mut buf).ok()?;
    if !list.list {
        return None;
    }
    let mut items = &buf[..list.payload_length.min(buf.len())];
    for index in 0..4 {
        let item = RlpHeader::decode(&mut items).ok()?;
        let payload = items.get(..item.payload_length)?;
        if index == 3 {
            if item.list || payload.len() > 4 {
                return None;
            }
            return Some(payload.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)));
        }
        items = &items[item.payload_length..];
    }
    None
}

/// Sends the first transactions' payloads into a no-op sink as fast as
/// the lanes go: the generator's ceiling with this many lanes and this
/// batch size.
async fn measure_ceiling(
    target: &Target,
    payloads: &Arc<Vec<HttpBytes>>,
    senders: usize,
    lanes: usize,
    batch: usize,
) -> anyhow::Result<(Option<f64>, String)> {
    let count = payloads.len().min(30_000);
    let plan = Plan {
        shape: LoadShape::Concurrency {
            in_flight: usize::MAX >> 4,
        },
        senders,
        duration: None,
        transactions: count as u64,
        warmup: Duration::ZERO,
    };
    let shared = Arc::new(Shared::new(count, &plan));
    let (sink, method) = match target {
        Target::Embedded { .. } => (
            None,
            "the same lanes handing transactions to a no-op instead of the nodes".to_owned(),
        ),
        Target::Rpc(endpoints) => {
            let (addr, task) = start_sink().await?;
            let sink = Endpoint {
                url: format!("http://{addr}/"),
                token: endpoints[0].token.clone(),
            };
            (
                Some((sink, task)),
                format!(
                    "the same {lanes} connections (batch {batch}) into an in-process HTTP sink that answers without work; the sink shares the cores, so this is a lower bound"
                ),
            )
        }
    };
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(lanes);
    for lane in 0..lanes {
        let sender = match &sink {
            None => Lane::Sink,
            Some((endpoint, _)) => Lane::Rpc(Connection::open(endpoint).await?),
        };
        let indices: Vec<u32> = (0..count as u32)
            .filter(|k| (*k as usize % senders) % lanes == lane)
            .collect();
        tasks.push(tokio::spawn(send_lane(
            sender,
            indices,
            payloads.clone(),
            shared.clone(),
            plan.clone(),
            batch,
        )));
    }
    for task in tasks {
        task.await.context("a ceiling lane failed")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some((_, task)) = sink {
        task.abort();
    }
    let sent = shared.accepted.load(Ordering::Relaxed);
    if sent < count as u64 {
        bail!(
            "the generator could not drive its own sink ({sent} of {count} accepted): {:?}",
            shared.reasons.lock().expect("reasons lock")
        );
    }
    Ok((Some(count as f64 / seconds.max(1e-9)), method))
}

struct BuildInput<'a> {
    target: String,
    started_at_unix: u64,
    plan: &'a Plan,
    calls: Vec<String>,
    lanes: usize,
    batch: usize,
    seed: u64,
    drain_timeout: Duration,
    presign_seconds: f64,
    ceiling_tps: Option<f64>,
    ceiling_method: String,
    round_timeouts: Option<u64>,
    process_role: &'static str,
}

fn build_report(shared: &Shared, input: &BuildInput<'_>, samples: Vec<ProcessSample>) -> Report {
    let plan = input.plan;
    let warmup_us = plan.warmup.as_micros() as u64;
    let mut counts = Counts::default();
    let mut failures = shared.reasons.lock().expect("reasons lock").clone();
    let mut latencies = Vec::new();
    let mut per_second: Vec<SecondSample> = Vec::new();
    let bump = |per_second: &mut Vec<SecondSample>, at_us: u64, committed: bool| {
        let second = (at_us - 1) / 1_000_000;
        while per_second.len() <= second as usize {
            per_second.push(SecondSample {
                second: per_second.len() as u64,
                ..Default::default()
            });
        }
        let sample = &mut per_second[second as usize];
        if committed {
            sample.committed += 1;
        } else {
            sample.submitted += 1;
        }
    };
    let (mut first_measured_sent, mut last_measured_sent, mut last_measured_commit) =
        (u64::MAX, 0u64, 0u64);
    let mut measured_sent = 0u64;
    let mut measured_committed = 0u64;
    for k in 0..shared.sent_at.len() {
        let sent = shared.sent_at[k].load(Ordering::Relaxed);
        if sent == 0 {
            continue;
        }
        counts.submitted += 1;
        let measured = sent > warmup_us;
        if !measured {
            counts.warmup += 1;
        }
        bump(&mut per_second, sent, false);
        let committed = shared.committed_at[k].load(Ordering::Relaxed);
        let reverted = shared.reverted[k].load(Ordering::Relaxed);
        let submit = shared.submit[k].load(Ordering::Relaxed);
        if submit == 1 || committed != 0 {
            counts.accepted += 1;
        }
        if measured {
            measured_sent += 1;
            first_measured_sent = first_measured_sent.min(sent);
            last_measured_sent = last_measured_sent.max(sent);
        }
        match (committed, reverted) {
            (0, _) => {
                if submit == 1 {
                    *failures
                        .entry(format!(
                            "not committed within {} s after the last submission",
                            input.drain_timeout.as_secs()
                        ))
                        .or_default() += 1;
                }
            }
            (at, true) => {
                counts.reverted += 1;
                *failures.entry("reverted".to_owned()).or_default() += 1;
                bump(&mut per_second, at, true);
            }
            (at, false) => {
                counts.committed += 1;
                bump(&mut per_second, at, true);
                if measured {
                    measured_committed += 1;
                    last_measured_commit = last_measured_commit.max(at);
                    latencies.push(at.saturating_sub(sent) as f64 / 1000.0);
                }
            }
        }
    }
    counts.failed = failures.values().sum();
    counts.failures = failures;
    let window_start = warmup_us.min(first_measured_sent);
    let measured_seconds = last_measured_commit.saturating_sub(window_start) as f64 / 1_000_000.0;
    let sent_seconds = last_measured_sent.saturating_sub(window_start) as f64 / 1_000_000.0;
    let throughput = Throughput {
        committed_tps: if measured_seconds > 0.0 {
            measured_committed as f64 / measured_seconds
        } else {
            0.0
        },
        submitted_tps: if sent_seconds > 0.0 {
            measured_sent as f64 / sent_seconds
        } else {
            0.0
        },
        measured_seconds,
        per_second,
    };

    let per_block = shared.blocks.lock().expect("blocks lock").clone();
    let mut intervals: Vec<f64> = per_block.iter().skip(1).map(|b| b.interval_ms).collect();
    intervals.sort_by(f64::total_cmp);
    let blocks = Blocks {
        count: per_block.len() as u64,
        transactions_mean: if per_block.is_empty() {
            0.0
        } else {
            per_block.iter().map(|b| b.transactions).sum::<u64>() as f64 / per_block.len() as f64
        },
        transactions_max: per_block.iter().map(|b| b.transactions).max().unwrap_or(0),
        interval_ms_mean: if intervals.is_empty() {
            0.0
        } else {
            intervals.iter().sum::<f64>() / intervals.len() as f64
        },
        interval_ms_p50: report::percentile(&intervals, 50.0),
        interval_ms_max: intervals.last().copied().unwrap_or(0.0),
        round_changes: per_block
            .iter()
            .map(|b| u64::from(b.round.unwrap_or(0)))
            .sum(),
        round_timeouts: input.round_timeouts,
        per_block,
    };
    let cpu: Vec<f64> = samples.iter().map(|s| s.cpu_cores).collect();
    let process = ProcessUsage {
        role: input.process_role.to_owned(),
        cpu_cores_mean: if cpu.is_empty() {
            0.0
        } else {
            cpu.iter().sum::<f64>() / cpu.len() as f64
        },
        cpu_cores_max: cpu.iter().copied().fold(0.0, f64::max),
        rss_mib_max: samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max),
        per_second: samples,
    };
    Report {
        forja_version: env!("CARGO_PKG_VERSION").to_owned(),
        target: input.target.clone(),
        started_at_unix: input.started_at_unix,
        workload: WorkloadSummary {
            shape: WorkloadSummary::shape_value(plan.shape),
            senders: plan.senders,
            calls: input.calls.clone(),
            planned_transactions: plan.transactions,
            duration_seconds: plan.duration.map(|d| d.as_secs_f64()),
            warmup_seconds: plan.warmup.as_secs_f64(),
            connections: input.lanes,
            batch: input.batch,
            seed: input.seed,
        },
        transactions: counts,
        throughput,
        latency_ms: report::latency(latencies),
        blocks,
        process,
        generator: GeneratorFigures {
            presign_seconds: input.presign_seconds,
            presign_tps: plan.transactions as f64 / input.presign_seconds.max(1e-9),
            ceiling_tps: input.ceiling_tps,
            ceiling_method: input.ceiling_method.clone(),
            max_lag_ms: shared.max_lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_round_from_qbft_extra_data() {
        use alloy::rlp::Encodable;
        // [vanity, [validator], [] (no vote), round 3 as a 4-byte string, [seal]]
        let mut payload = Vec::new();
        [0u8; 32].as_slice().encode(&mut payload);
        vec![Address::repeat_byte(1)].encode(&mut payload);
        Vec::<Bytes>::new().encode(&mut payload);
        [0u8, 0, 0, 3].as_slice().encode(&mut payload);
        vec![Bytes::from(vec![7u8; 65])].encode(&mut payload);
        let mut extra = Vec::new();
        RlpHeader {
            list: true,
            payload_length: payload.len(),
        }
        .encode(&mut extra);
        extra.extend_from_slice(&payload);
        assert_eq!(round_of(&extra), Some(3));
        assert_eq!(round_of(&[]), None);
        assert_eq!(round_of(b"anvil"), None);
    }

    #[test]
    fn batch_responses_match_requests_by_id() {
        let mut out = Vec::new();
        let response = br#"[{"jsonrpc":"2.0","id":8,"error":{"code":-32000,"message":"nonce too low"}},{"jsonrpc":"2.0","id":7,"result":"0x01"}]"#;
        parse_send_response(response, &[7, 8], &mut out);
        assert_eq!(out[0], Ok(()));
        assert_eq!(
            out[1],
            Err(SendFailed::Rpc {
                code: -32000,
                message: "nonce too low".to_owned()
            })
        );
        out.clear();
        parse_send_response(
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batches are off"}}"#,
            &[1, 2],
            &mut out,
        );
        assert!(out.iter().all(|r| {
            r.as_ref()
                .unwrap_err()
                .to_string()
                .contains("batches are off")
        }));
    }
}
