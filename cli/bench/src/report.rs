//! `bench-report.json`: what a run measured (the fields are documented in
//! the crate docs), and the comparison of two reports.

use std::{collections::BTreeMap, path::Path};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::config::LoadShape;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub forja_version: String,
    /// `embedded: …` or `rpc: URL, …`.
    pub target: String,
    pub started_at_unix: u64,
    pub workload: WorkloadSummary,
    pub transactions: Counts,
    pub throughput: Throughput,
    pub latency_ms: Latency,
    pub blocks: Blocks,
    pub process: ProcessUsage,
    pub generator: GeneratorFigures,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadSummary {
    pub shape: serde_json::Value,
    pub senders: usize,
    pub calls: Vec<String>,
    pub planned_transactions: u64,
    pub duration_seconds: Option<f64>,
    pub warmup_seconds: f64,
    pub connections: usize,
    pub batch: usize,
    pub seed: u64,
}

impl WorkloadSummary {
    pub fn shape_value(shape: LoadShape) -> serde_json::Value {
        serde_json::to_value(shape).expect("a shape serialises")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Sent to the target (requests that went out).
    pub submitted: u64,
    /// Taken into a pool (the submission answered with a hash).
    pub accepted: u64,
    /// In a block, status success.
    pub committed: u64,
    /// In a block, status failure (also counted in `failed`).
    pub reverted: u64,
    /// Refused at submission, reverted, or not in a block by the end.
    pub failed: u64,
    /// `failed` by reason (numbers and addresses in messages become `…`).
    pub failures: BTreeMap<String, u64>,
    /// Sent during the warm-up (included in the counts above).
    pub warmup: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Throughput {
    /// Committed transactions per second over the measured window.
    pub committed_tps: f64,
    /// Transactions sent per second over the measured window (the offered load).
    pub submitted_tps: f64,
    /// From the end of the warm-up to the last measured commit.
    pub measured_seconds: f64,
    pub per_second: Vec<SecondSample>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SecondSample {
    /// Seconds from the start of the run.
    pub second: u64,
    pub submitted: u64,
    pub committed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Committed transactions of the measured window.
    pub samples: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    /// Counts by latency, bins of equal width up to `max`.
    pub histogram: Vec<Bin>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bin {
    pub upper_ms: f64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Blocks {
    /// Blocks committed during the run.
    pub count: u64,
    pub transactions_mean: f64,
    pub transactions_max: u64,
    /// Time between consecutive blocks as the bench saw them arrive.
    pub interval_ms_mean: f64,
    pub interval_ms_p50: f64,
    pub interval_ms_max: f64,
    /// Rounds that failed before a block was decided: the sum of the
    /// rounds written in the QBFT/IBFT headers of the run's blocks.
    pub round_changes: u64,
    /// Round timer expiries of node 0 during the run (the embedded
    /// network's consensus metric `round_changes`); absent on an endpoint.
    pub round_timeouts: Option<u64>,
    pub per_block: Vec<BlockSample>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BlockSample {
    pub number: u64,
    /// When the bench saw it, ms from the start of the run.
    pub at_ms: f64,
    pub interval_ms: f64,
    pub transactions: u64,
    /// The round it was decided in, when the header says.
    pub round: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// Whose usage: "network and load generator" (embedded) or "load generator" (rpc).
    pub role: String,
    pub cpu_cores_mean: f64,
    pub cpu_cores_max: f64,
    pub rss_mib_max: f64,
    pub per_second: Vec<ProcessSample>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessSample {
    pub second: u64,
    pub cpu_cores: f64,
    pub rss_mib: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeneratorFigures {
    /// Time spent signing every transaction before the timed phase.
    pub presign_seconds: f64,
    pub presign_tps: f64,
    /// Transactions per second the generator sends into a no-op sink with
    /// the same connections and batching: above this, the figures measure
    /// the generator, not the target.
    pub ceiling_tps: Option<f64>,
    pub ceiling_method: String,
    /// Most a transaction left behind its scheduled time (open-loop shapes).
    pub max_lag_ms: f64,
}

impl Report {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a forja bench report", path.display()))
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }

    /// Share of submitted transactions that failed, in percent.
    pub fn failed_percent(&self) -> f64 {
        let t = &self.transactions;
        if t.submitted == 0 {
            0.0
        } else {
            t.failed as f64 * 100.0 / t.submitted as f64
        }
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Latency figures from unsorted samples in ms.
pub fn latency(mut samples: Vec<f64>) -> Latency {
    samples.sort_by(f64::total_cmp);
    let max = samples.last().copied().unwrap_or(0.0);
    const BINS: usize = 40;
    let width = (max / BINS as f64).max(1e-3);
    let mut histogram: Vec<Bin> = (1..=BINS)
        .map(|i| Bin {
            upper_ms: width * i as f64,
            count: 0,
        })
        .collect();
    if !samples.is_empty() {
        for &s in &samples {
            let bin = ((s / width) as usize).min(BINS - 1);
            histogram[bin].count += 1;
        }
    }
    Latency {
        samples: samples.len() as u64,
        mean: if samples.is_empty() {
            0.0
        } else {
            samples.iter().sum::<f64>() / samples.len() as f64
        },
        p50: percentile(&samples, 50.0),
        p90: percentile(&samples, 90.0),
        p99: percentile(&samples, 99.0),
        max,
        histogram: if samples.is_empty() {
            Vec::new()
        } else {
            histogram
        },
    }
}

/// Reduces an error message to its kind: numbers, hashes and addresses
/// become `…`, so failures count by reason, not by transaction.
pub fn reason_key(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            // A number, or a 0x-hex word.
            let hex = c == '0' && chars.peek() == Some(&'x');
            if hex {
                chars.next();
            }
            while chars.peek().is_some_and(|n| {
                if hex {
                    n.is_ascii_hexdigit()
                } else {
                    n.is_ascii_digit()
                }
            }) {
                chars.next();
            }
            if !out.ends_with('…') {
                out.push('…');
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// One figure of two reports side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub figure: &'static str,
    pub unit: &'static str,
    pub old: f64,
    pub new: f64,
    /// Relative change in percent (percentage points for `failed`).
    pub change: f64,
    pub higher_is_better: bool,
    /// Worse than the old by more than the tolerance.
    pub regression: bool,
}

/// Compares the headline figures; `tolerance` in percent (percentage
/// points for the failure share).
pub fn compare(old: &Report, new: &Report, tolerance: f64) -> Vec<Change> {
    let relative = |figure, unit, old: f64, new: f64, higher_is_better: bool| {
        let change = if old == 0.0 {
            if new == 0.0 { 0.0 } else { 100.0 }
        } else {
            (new - old) / old * 100.0
        };
        let worse = if higher_is_better { -change } else { change };
        Change {
            figure,
            unit,
            old,
            new,
            change,
            higher_is_better,
            regression: worse > tolerance,
        }
    };
    let failed_old = old.failed_percent();
    let failed_new = new.failed_percent();
    vec![
        relative(
            "throughput",
            "tx/s",
            old.throughput.committed_tps,
            new.throughput.committed_tps,
            true,
        ),
        relative(
            "latency p50",
            "ms",
            old.latency_ms.p50,
            new.latency_ms.p50,
            false,
        ),
        relative(
            "latency p90",
            "ms",
            old.latency_ms.p90,
            new.latency_ms.p90,
            false,
        ),
        relative(
            "latency p99",
            "ms",
            old.latency_ms.p99,
            new.latency_ms.p99,
            false,
        ),
        relative(
            "latency max",
            "ms",
            old.latency_ms.max,
            new.latency_ms.max,
            false,
        ),
        relative(
            "block interval",
            "ms",
            old.blocks.interval_ms_mean,
            new.blocks.interval_ms_mean,
            false,
        ),
        Change {
            figure: "failed",
            unit: "%",
            old: failed_old,
            new: failed_new,
            change: failed_new - failed_old,
            higher_is_better: false,
            regression: failed_new - failed_old > tolerance,
        },
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let l = latency(samples);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(l.histogram.iter().map(|b| b.count).sum::<u64>(), 100);
        assert_eq!(latency(Vec::new()).p99, 0.0);
    }

    #[test]
    fn reasons_drop_numbers_and_addresses() {
        assert_eq!(
            reason_key(
                "permission denied by the account allowlist: sender 0xAbC0000000000000000000000000000000000001 is not on it (code -32003)"
            ),
            "permission denied by the account allowlist: sender … is not on it (code -…)"
        );
        assert_eq!(
            reason_key("nonce too low: sender 0x12 has nonce 5, transaction has 3"),
            "nonce too low: sender … has nonce …, transaction has …"
        );
    }

    #[test]
    fn a_slower_run_is_a_regression_beyond_the_tolerance() {
        let mut old = sample();
        old.throughput.committed_tps = 1000.0;
        old.latency_ms.p99 = 100.0;
        let mut new = old.clone();
        new.throughput.committed_tps = 950.0;
        new.latency_ms.p99 = 130.0;
        let changes = compare(&old, &new, 10.0);
        let by = |f: &str| changes.iter().find(|c| c.figure == f).unwrap().clone();
        assert!(!by("throughput").regression);
        assert!((by("throughput").change + 5.0).abs() < 1e-9);
        assert!(by("latency p99").regression);
        assert!(!compare(&old, &new, 40.0).iter().any(|c| c.regression));
    }

    pub(crate) fn sample() -> Report {
        Report {
            forja_version: "0".into(),
            target: "t".into(),
            started_at_unix: 0,
            workload: WorkloadSummary {
                shape: serde_json::json!({"kind": "rate", "tps": 1.0}),
                senders: 1,
                calls: vec![],
                planned_transactions: 1,
                duration_seconds: None,
                warmup_seconds: 0.0,
                connections: 1,
                batch: 1,
                seed: 1,
            },
            transactions: Counts::default(),
            throughput: Throughput::default(),
            latency_ms: Latency::default(),
            blocks: Blocks::default(),
            process: ProcessUsage::default(),
            generator: GeneratorFigures::default(),
        }
    }
}
