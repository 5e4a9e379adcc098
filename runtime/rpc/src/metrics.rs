//! Prometheus metrics in the text exposition format, named like Besu's
//! (`besu_`-style prefixes become `forja_`): chain height, consensus rounds,
//! pool size and per-method RPC latency histograms.

use std::{collections::BTreeMap, fmt::Write, sync::Mutex, time::Duration};

use crate::backend::NodeApi;

/// Upper bounds of the RPC latency histogram buckets, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [
    0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct MethodStats {
    count: u64,
    errors: u64,
    sum_seconds: f64,
    /// Cumulative counts per bucket of `LATENCY_BUCKETS`.
    buckets: [u64; LATENCY_BUCKETS.len()],
}

/// RPC request statistics, shared by every connection of one server.
#[derive(Default)]
pub struct RpcMetrics {
    methods: Mutex<BTreeMap<&'static str, MethodStats>>,
}

impl RpcMetrics {
    pub fn record(&self, method: &'static str, elapsed: Duration, failed: bool) {
        let seconds = elapsed.as_secs_f64();
        let mut methods = self.methods.lock().expect("metrics lock poisoned");
        let stats = methods.entry(method).or_default();
        stats.count += 1;
        stats.errors += u64::from(failed);
        stats.sum_seconds += seconds;
        for (bucket, bound) in stats.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// Number of calls of `method` answered so far.
    pub fn calls(&self, method: &str) -> u64 {
        let methods = self.methods.lock().expect("metrics lock poisoned");
        methods.get(method).map_or(0, |stats| stats.count)
    }

    /// Renders every metric for `/metrics`.
    pub fn render(&self, node: &dyn NodeApi) -> String {
        let mut out = String::new();
        let counters = node.consensus_counters();
        let pool = node.pool_status();
        gauge(
            &mut out,
            "forja_blockchain_height",
            "Number of the latest committed block",
            node.block_number() as f64,
        );
        counter(
            &mut out,
            "forja_consensus_rounds_total",
            "Consensus rounds started",
            counters.rounds,
        );
        counter(
            &mut out,
            "forja_consensus_round_changes_total",
            "Rounds a node moved to after round 0 of a height (timer expiry or a quorum of round changes)",
            counters.round_changes,
        );
        let _ = writeln!(
            out,
            "# HELP forja_transaction_pool_transactions Transactions in the pool\n# TYPE forja_transaction_pool_transactions gauge"
        );
        let _ = writeln!(
            out,
            "forja_transaction_pool_transactions{{state=\"pending\"}} {}",
            pool.pending
        );
        let _ = writeln!(
            out,
            "forja_transaction_pool_transactions{{state=\"queued\"}} {}",
            pool.queued
        );

        let methods = self.methods.lock().expect("metrics lock poisoned");
        let _ = writeln!(
            out,
            "# HELP forja_rpc_request_duration_seconds Time to answer a JSON-RPC call\n# TYPE forja_rpc_request_duration_seconds histogram"
        );
        for (method, stats) in methods.iter() {
            for (bound, count) in LATENCY_BUCKETS.iter().zip(stats.buckets) {
                let _ = writeln!(
                    out,
                    "forja_rpc_request_duration_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "forja_rpc_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "forja_rpc_request_duration_seconds_sum{{method=\"{method}\"}} {}",
                stats.sum_seconds
            );
            let _ = writeln!(
                out,
                "forja_rpc_request_duration_seconds_count{{method=\"{method}\"}} {}",
                stats.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP forja_rpc_errors_total JSON-RPC calls answered with an error\n# TYPE forja_rpc_errors_total counter"
        );
        for (method, stats) in methods.iter() {
            let _ = writeln!(
                out,
                "forja_rpc_errors_total{{method=\"{method}\"}} {}",
                stats.errors
            );
        }
        out
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}
