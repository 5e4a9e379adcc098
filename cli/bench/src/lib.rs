//! `forja bench`: load tests of a forja network (in this process) or of any
//! JSON-RPC endpoint, with a report a person reads at a glance.
//!
//! A run deploys the workload's contracts, makes per-sender setup calls,
//! funds and allowlists generated senders, signs every transaction of the
//! workload before the clock starts, states the generator's own ceiling
//! (the same lanes into a no-op sink), then offers the load at a fixed rate,
//! a ramp or a fixed number in flight, and follows blocks to stamp each
//! transaction when it commits. The cli renders the events and the report.
//!
//! # `bench-report.json`
//!
//! | field | meaning |
//! |---|---|
//! | `forja_version`, `target`, `started_at_unix` | what ran, against what (`embedded: …` or `rpc: URL, …`), when |
//! | `workload.shape` | `{"kind":"rate","tps":…}`, `{"kind":"ramp","from":…,"to":…}` or `{"kind":"concurrency","in_flight":…}` |
//! | `workload.senders`, `calls`, `planned_transactions`, `duration_seconds`, `warmup_seconds`, `connections`, `batch`, `seed` | the workload as run |
//! | `transactions.submitted` | requests that went out |
//! | `transactions.accepted` | taken into a pool (the submission returned a hash) |
//! | `transactions.committed` | in a block with status success |
//! | `transactions.reverted` | in a block with status failure |
//! | `transactions.failed`, `failures` | refused at submission, reverted or not committed by the end; `failures` counts them by reason (numbers and addresses in messages become `…`) |
//! | `transactions.warmup` | sent during the warm-up (included in the counts) |
//! | `throughput.committed_tps` | committed transactions sent after the warm-up, per second, from the end of the warm-up to the last of their commits (`measured_seconds`) |
//! | `throughput.submitted_tps` | the load offered over the same window |
//! | `throughput.per_second[]` | `{second, submitted, committed}` from the start of the run |
//! | `latency_ms.{samples,mean,p50,p90,p99,max}` | submit → commit seen, of committed transactions sent after the warm-up (nearest-rank percentiles) |
//! | `latency_ms.histogram[]` | `{upper_ms, count}`, 40 bins of equal width |
//! | `blocks.{count,transactions_mean,transactions_max}` | blocks committed during the run and their size |
//! | `blocks.{interval_ms_mean,interval_ms_p50,interval_ms_max}` | time between consecutive blocks as the bench saw them |
//! | `blocks.round_changes` | rounds that failed before a block was decided: the sum of the rounds in the run's QBFT/IBFT headers |
//! | `blocks.round_timeouts` | round timer expiries of node 0 (the embedded network's consensus metric); `null` on an endpoint |
//! | `blocks.per_block[]` | `{number, at_ms, interval_ms, transactions, round}` |
//! | `process.{role,cpu_cores_mean,cpu_cores_max,rss_mib_max,per_second[]}` | this process's CPU (cores busy) and resident memory each second: the network and the generator on `--embedded`, the generator alone on `--rpc` |
//! | `generator.{presign_seconds,presign_tps}` | signing before the run |
//! | `generator.ceiling_tps`, `ceiling_method` | the generator's own ceiling: what it sends into a no-op sink with the same lanes and batching |
//! | `generator.max_lag_ms` | most a transaction left behind its schedule (open-loop shapes) |
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod config;
pub mod plot;
pub mod process;
pub mod report;
pub mod rpc;
pub mod run;
pub mod setup;
pub mod target;
pub mod workload;

pub use config::{BenchConfig, LoadOverrides, LoadShape, Plan, parse_duration};
pub use report::{Change, Report, compare};
pub use rpc::Endpoint;
pub use run::{Event, Progress, RunOptions, run};
pub use target::Target;
pub use workload::{Contracts, Deployment, Scope, SetupCall, sender_keys};
