//! `bench.toml`: the workload `forja bench` runs.
//!
//! ```toml
//! [setup]
//! deploy = true              # deploy deploy.toml's contracts and make its calls first
//! # contracts = ["Counter"]  # or deploy these artifacts (no constructor arguments)
//!
//! # Calls the admin makes once per generated sender before the run
//! # (`${sender}` is the sender's address).
//! [[setup.per_sender]]
//! contract = "PermissionedToken"
//! function = "setAllowlisted(address,bool)"
//! args = ["${sender}", true]
//!
//! [load]
//! senders = 16               # generated accounts that sign the workload
//! rate = 200                 # tx/s; or concurrency = 64; or ramp = [50, 500]
//! duration = "10s"           # or transactions = 2000 (a count)
//! warmup = "1s"              # sent, but left out of latency and throughput
//!
//! [[calls]]
//! contract = "PermissionedToken"
//! function = "transfer(address,uint256)"
//! args = [{ account = "senders" }, { random = [1, 1000] }]
//! weight = 1                 # share of the transactions among calls
//! ```
//!
//! Argument generators: a literal (number, boolean, string; strings may hold
//! `${sender}`, `${deployer}`, `${Name.address}`), `{ seq = START }` (START,
//! START+1, … one per transaction of this call), `{ random = [LO, HI] }`
//! (uniform, inclusive, from the run's seed), `{ account = "senders" }` (a
//! generated sender other than the signer, in turn) or
//! `{ account = ["0x…", …] }` (from a list, in turn).

use std::{path::Path, time::Duration};

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// The parsed `bench.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    #[serde(default)]
    pub setup: Setup,
    #[serde(default)]
    pub load: Load,
    #[serde(default)]
    pub calls: Vec<CallConfig>,
    /// Seed of the random argument generators and of the senders' keys.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Deploy `deploy.toml`'s contracts (and make its calls) first.
    #[serde(default)]
    pub deploy: bool,
    /// Artifacts to deploy by name, with no constructor arguments.
    #[serde(default)]
    pub contracts: Vec<String>,
    /// Calls the admin makes once for every sender.
    #[serde(default)]
    pub per_sender: Vec<CallConfig>,
    /// Wei each sender receives at start (for workloads that move value);
    /// gas is added when the network prices it.
    #[serde(default)]
    pub fund_wei: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub senders: Option<usize>,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
    /// `[FROM, TO]` tx/s, linear over the duration.
    pub ramp: Option<[f64; 2]>,
    #[serde(default, with = "duration_text::option")]
    pub duration: Option<Duration>,
    pub transactions: Option<u64>,
    #[serde(default, with = "duration_text::option")]
    pub warmup: Option<Duration>,
}

/// One call of the workload (or of the per-sender setup).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallConfig {
    /// A contract deployed by the setup (its deploy.toml name or artifact name).
    pub contract: String,
    /// `name` or `name(type,…)`.
    pub function: String,
    #[serde(default)]
    pub args: Vec<ArgConfig>,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Wei sent with each call.
    #[serde(default)]
    pub value: Option<String>,
    /// Gas limit; estimated (×2) when absent.
    #[serde(default)]
    pub gas: Option<u64>,
}

fn default_weight() -> u32 {
    1
}

/// An argument: a literal or a generator.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ArgConfig {
    Generator(Generator),
    Literal(toml::Value),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    Seq(u64),
    Random([u64; 2]),
    Account(AccountSource),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AccountSource {
    /// `"senders"`: the generated senders.
    Named(String),
    List(Vec<String>),
}

/// How load is offered over time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LoadShape {
    /// Open loop: transaction k leaves at k / rate.
    Rate { tps: f64 },
    /// Linear from `from` to `to` tx/s over the duration.
    Ramp { from: f64, to: f64 },
    /// Closed loop: at most `in_flight` transactions submitted and not yet
    /// committed (Caliper's fixed-load).
    Concurrency { in_flight: usize },
}

/// The workload after flags are applied and checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub shape: LoadShape,
    pub senders: usize,
    pub duration: Option<Duration>,
    pub transactions: u64,
    pub warmup: Duration,
}

/// Most transactions signed ahead for a closed-loop run bounded only by time.
pub const MAX_PRESIGNED: u64 = 200_000;

/// Command-line settings that override `[load]`.
#[derive(Debug, Clone, Default)]
pub struct LoadOverrides {
    pub senders: Option<usize>,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
    pub ramp: Option<[f64; 2]>,
    pub duration: Option<Duration>,
    pub transactions: Option<u64>,
    pub warmup: Option<Duration>,
}

impl BenchConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading {} (the bench workload)", path.display()))?;
        Self::parse(&text).with_context(|| path.display().to_string())
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: BenchConfig =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        if config.calls.is_empty() {
            bail!("no [[calls]]: the workload needs at least one call");
        }
        for (index, call) in config.calls.iter().enumerate() {
            if call.weight == 0 {
                bail!(
                    "calls[{index}] ({}.{}): weight must be at least 1",
                    call.contract,
                    call.function
                );
            }
        }
        Ok(config)
    }

    /// Applies `overrides` to `[load]` and checks the result.
    pub fn plan(&self, overrides: &LoadOverrides) -> anyhow::Result<Plan> {
        let load = &self.load;
        let rate = overrides.rate.or(
            if overrides.concurrency.is_some() || overrides.ramp.is_some() {
                None
            } else {
                load.rate
            },
        );
        let concurrency =
            overrides
                .concurrency
                .or(if overrides.rate.is_some() || overrides.ramp.is_some() {
                    None
                } else {
                    load.concurrency
                });
        let ramp = overrides.ramp.or(
            if overrides.rate.is_some() || overrides.concurrency.is_some() {
                None
            } else {
                load.ramp
            },
        );
        let shape = match (rate, concurrency, ramp) {
            (Some(tps), None, None) if tps > 0.0 => LoadShape::Rate { tps },
            (None, Some(n), None) if n > 0 => LoadShape::Concurrency { in_flight: n },
            (None, None, Some([from, to])) if from > 0.0 && to > 0.0 => {
                LoadShape::Ramp { from, to }
            }
            (None, None, None) => bail!(
                "[load] says neither `rate`, `concurrency` nor `ramp`: give one (or --rate, --concurrency, --ramp)"
            ),
            (Some(_), None, None) | (None, Some(_), None) | (None, None, Some(_)) => {
                bail!("[load]: rates and concurrency must be above zero")
            }
            _ => bail!("[load]: give only one of `rate`, `concurrency` and `ramp`"),
        };
        let duration = overrides.duration.or(if overrides.transactions.is_some() {
            None
        } else {
            load.duration
        });
        let count = overrides.transactions.or(if overrides.duration.is_some() {
            None
        } else {
            load.transactions
        });
        let transactions = match (shape, duration, count) {
            (_, Some(_), Some(_)) => {
                bail!("[load]: give `duration` or `transactions`, not both")
            }
            (_, None, Some(n)) => n,
            (_, None, None) => {
                bail!(
                    "[load] needs a `duration` or a `transactions` count (or --duration, --transactions)"
                )
            }
            (LoadShape::Rate { tps }, Some(d), None) => (tps * d.as_secs_f64()).round() as u64,
            (LoadShape::Ramp { from, to }, Some(d), None) => {
                ((from + to) / 2.0 * d.as_secs_f64()).round() as u64
            }
            (LoadShape::Concurrency { .. }, Some(_), None) => MAX_PRESIGNED,
        };
        if matches!(shape, LoadShape::Ramp { .. }) && duration.is_none() {
            bail!("[load]: a ramp needs a `duration`");
        }
        if transactions == 0 {
            bail!("[load]: the run would send no transactions");
        }
        let senders = overrides.senders.or(load.senders).unwrap_or(16);
        if senders == 0 {
            bail!("[load]: senders must be at least 1");
        }
        Ok(Plan {
            shape,
            senders,
            duration,
            transactions,
            warmup: overrides.warmup.or(load.warmup).unwrap_or_default(),
        })
    }
}

impl Plan {
    /// When transaction `k` (0-based) is due, from the start of the run;
    /// `None` for a closed loop.
    pub fn due(&self, k: u64) -> Option<Duration> {
        match self.shape {
            LoadShape::Rate { tps } => Some(Duration::from_secs_f64(k as f64 / tps)),
            LoadShape::Ramp { from, to } => {
                // k = from·t + (to − from)·t² / 2D, solved for t.
                let d = self.duration.expect("checked").as_secs_f64();
                let a = (to - from) / (2.0 * d);
                let k = k as f64;
                let t = if a.abs() < 1e-12 {
                    k / from
                } else {
                    (-from + (from * from + 4.0 * a * k).sqrt()) / (2.0 * a)
                };
                Some(Duration::from_secs_f64(t.max(0.0)))
            }
            LoadShape::Concurrency { .. } => None,
        }
    }
}

/// Parses `"10s"`, `"500ms"`, `"2m"` or a bare number of seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("`{text}` is not a duration (e.g. 10s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => bail!("`{text}`: unknown unit `{unit}` (ms, s or m)"),
    };
    if !(seconds.is_finite() && seconds >= 0.0) {
        bail!("`{text}` is not a duration");
    }
    Ok(Duration::from_secs_f64(seconds))
}

mod duration_text {
    pub(super) mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer};

        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            Seconds(f64),
            Text(String),
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            let text = Option::<Text>::deserialize(deserializer)?;
            text.map(|text| match text {
                Text::Seconds(s) => super::super::parse_duration(&s.to_string()),
                Text::Text(t) => super::super::parse_duration(&t),
            })
            .transpose()
            .map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = r#"
        [setup]
        deploy = true
        [[setup.per_sender]]
        contract = "T"
        function = "setAllowlisted(address,bool)"
        args = ["${sender}", true]
        [load]
        senders = 4
        rate = 100
        duration = "2s"
        warmup = "500ms"
        [[calls]]
        contract = "T"
        function = "transfer"
        args = [{ account = "senders" }, { random = [1, 10] }]
    "#;

    #[test]
    fn parses_a_workload_and_plans_it() {
        let config = BenchConfig::parse(TOKEN).unwrap();
        assert!(matches!(
            config.calls[0].args[0],
            ArgConfig::Generator(Generator::Account(AccountSource::Named(_)))
        ));
        assert!(matches!(
            config.calls[0].args[1],
            ArgConfig::Generator(Generator::Random([1, 10]))
        ));
        let plan = config.plan(&LoadOverrides::default()).unwrap();
        assert_eq!(plan.transactions, 200);
        assert_eq!(plan.warmup, Duration::from_millis(500));
        assert_eq!(plan.due(50), Some(Duration::from_millis(500)));

        let flags = LoadOverrides {
            concurrency: Some(8),
            transactions: Some(30),
            ..Default::default()
        };
        let plan = config.plan(&flags).unwrap();
        assert_eq!(plan.shape, LoadShape::Concurrency { in_flight: 8 });
        assert_eq!(plan.transactions, 30);
        assert_eq!(plan.due(3), None);
    }

    #[test]
    fn a_ramp_spreads_its_transactions_over_the_duration() {
        let mut config = BenchConfig::parse(TOKEN).unwrap();
        config.load.rate = None;
        config.load.ramp = Some([10.0, 30.0]);
        config.load.duration = Some(Duration::from_secs(10));
        let plan = config.plan(&LoadOverrides::default()).unwrap();
        assert_eq!(plan.transactions, 200);
        let last = plan.due(199).unwrap().as_secs_f64();
        assert!((9.9..=10.0).contains(&last), "{last}");
        // The first half of the time carries fewer than half the transactions.
        assert!(plan.due(100).unwrap().as_secs_f64() > 5.0);
    }

    #[test]
    fn bad_workloads_say_what_is_wrong() {
        let err = BenchConfig::parse("[load]\nrate = 1\n").unwrap_err();
        assert!(err.to_string().contains("no [[calls]]"), "{err}");
        let mut config = BenchConfig::parse(TOKEN).unwrap();
        config.load.concurrency = Some(3);
        let err = config.plan(&LoadOverrides::default()).unwrap_err();
        assert!(err.to_string().contains("only one of"), "{err}");
        assert!(parse_duration("3 weeks").is_err());
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    }
}
