//! `[environments.<name>]` in `forja.toml`: where and how a deployment goes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use alloy::primitives::Address;
use anyhow::{Context as _, bail};
use serde::Deserialize;

/// One deployment target.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: String,
    pub rpc_url: String,
    /// The chain id the RPC must report; a mismatch stops everything.
    pub chain_id: u64,
    pub signer: SignerConfig,
    /// Blocks on top of a transaction's block before it counts as done.
    pub confirmations: u64,
    pub gas: GasConfig,
    /// How long to wait for a transaction to be mined.
    pub timeout_secs: u64,
    /// The environment this one takes releases from (`forja promote`).
    pub promote_from: Option<String>,
    pub approvals: Approvals,
}

impl Environment {
    /// A dev environment: nothing is promoted to it and its deployments may
    /// be thrown away (a reset chain is simply deployed again).
    pub fn is_dev(&self) -> bool {
        self.promote_from.is_none()
            && (self.name == "dev" || matches!(self.signer, SignerConfig::DevAccount(_)))
    }
}

/// Who signs the environment's transactions. Keys never live in forja.toml.
#[derive(Debug, Clone, PartialEq)]
pub enum SignerConfig {
    /// An account derived from the public dev mnemonic (dev networks only).
    DevAccount(u32),
    /// An encrypted JSON keystore; the password comes from `password_env`,
    /// `FORJA_KEYSTORE_PASSWORD`, or a terminal prompt.
    Keystore {
        path: PathBuf,
        password_env: Option<String>,
    },
    /// A hex private key in the named environment variable.
    PrivateKeyEnv(String),
}

/// Gas pricing. `price = 0` is valid (free-gas permissioned networks).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GasConfig {
    pub pricing: GasPricing,
    /// A fixed gas limit per transaction instead of an estimate.
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum GasPricing {
    /// EIP-1559 when the chain has a base fee, legacy otherwise, with prices
    /// asked from the node.
    #[default]
    Auto,
    Legacy {
        price: Option<u128>,
    },
    Eip1559 {
        max_fee: Option<u128>,
        max_priority_fee: Option<u128>,
    },
}

/// Signatures a release needs before it may be promoted here.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Approvals {
    pub required: usize,
    pub approvers: Vec<Address>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    rpc_url: Option<String>,
    chain_id: Option<u64>,
    signer: Option<RawSigner>,
    confirmations: Option<u64>,
    gas: Option<RawGas>,
    timeout_secs: Option<u64>,
    promote_from: Option<String>,
    approvals: Option<RawApprovals>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigner {
    dev_account: Option<u32>,
    keystore: Option<PathBuf>,
    password_env: Option<String>,
    private_key_env: Option<String>,
    /// Only here to refuse it with a clear message.
    private_key: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGas {
    #[serde(rename = "type")]
    kind: Option<String>,
    price: Option<WeiAmount>,
    max_fee: Option<WeiAmount>,
    max_priority_fee: Option<WeiAmount>,
    limit: Option<u64>,
}

/// Wei as a TOML integer or a decimal string (for values above i64).
#[derive(Deserialize)]
#[serde(untagged)]
enum WeiAmount {
    Int(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovals {
    required: usize,
    #[serde(default)]
    approvers: Vec<String>,
}

/// The dev network's default endpoint (`forja node`'s default port).
pub const DEFAULT_DEV_RPC: &str = "http://127.0.0.1:8545";

/// Parses every environment of `[environments]`.
pub fn parse_environments(table: &toml::Table) -> anyhow::Result<BTreeMap<String, Environment>> {
    let mut environments = BTreeMap::new();
    for (name, value) in table {
        let env = parse_environment(name, value.clone())
            .with_context(|| format!("forja.toml: [environments.{name}]"))?;
        environments.insert(name.clone(), env);
    }
    for env in environments.values() {
        if let Some(from) = &env.promote_from {
            if from == &env.name {
                bail!(
                    "forja.toml: [environments.{}] promotes from itself",
                    env.name
                );
            }
            if !environments.contains_key(from) {
                bail!(
                    "forja.toml: [environments.{}] promote_from = \"{from}\" names no environment",
                    env.name
                );
            }
        }
    }
    Ok(environments)
}

/// Parses one environment (the others may be incomplete), listing the
/// configured ones when it is missing.
pub fn environment(table: &toml::Table, name: &str) -> anyhow::Result<Environment> {
    let Some(value) = table.get(name) else {
        if table.is_empty() {
            bail!("no environment `{name}`: forja.toml has no [environments.*] sections");
        }
        bail!(
            "no environment `{name}` in forja.toml (configured: {})",
            table
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let env = parse_environment(name, value.clone())
        .with_context(|| format!("forja.toml: [environments.{name}]"))?;
    if let Some(from) = &env.promote_from
        && !table.contains_key(from)
    {
        bail!("forja.toml: [environments.{name}] promote_from = \"{from}\" names no environment");
    }
    Ok(env)
}

fn parse_environment(name: &str, value: toml::Value) -> anyhow::Result<Environment> {
    let raw: RawEnvironment = value
        .try_into()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{}", e.message()))?;
    let is_dev = name == "dev";
    let rpc_url = match raw.rpc_url {
        Some(url) => url,
        None if is_dev => DEFAULT_DEV_RPC.to_string(),
        None => bail!("`rpc_url` is required"),
    };
    url_check(&rpc_url)?;
    let chain_id = raw
        .chain_id
        .context("`chain_id` is required (the id the RPC must report)")?;
    let signer = match raw.signer {
        Some(signer) => parse_signer(signer)?,
        None if is_dev => SignerConfig::DevAccount(0),
        None => bail!(
            "`signer` is required: `signer = {{ keystore = \"path/to/key.json\" }}` or `signer = {{ private_key_env = \"VAR\" }}`"
        ),
    };
    let gas = raw.gas.map(parse_gas).transpose()?.unwrap_or_default();
    let approvals = match raw.approvals {
        None => Approvals::default(),
        Some(raw) => {
            let mut approvers = Vec::new();
            for text in &raw.approvers {
                let address: Address = text
                    .parse()
                    .with_context(|| format!("approver `{text}` is not an address"))?;
                if approvers.contains(&address) {
                    bail!("approver {address} is listed twice");
                }
                approvers.push(address);
            }
            if raw.required > approvers.len() {
                bail!(
                    "approvals.required = {} but only {} approver(s) are listed",
                    raw.required,
                    approvers.len()
                );
            }
            Approvals {
                required: raw.required,
                approvers,
            }
        }
    };
    if approvals.required > 0 && raw.promote_from.is_none() {
        bail!("`approvals` only apply to promotions: set `promote_from` too");
    }
    Ok(Environment {
        name: name.to_string(),
        rpc_url,
        chain_id,
        signer,
        confirmations: raw.confirmations.unwrap_or(1).max(1),
        gas,
        timeout_secs: raw.timeout_secs.unwrap_or(120),
        promote_from: raw.promote_from,
        approvals,
    })
}

fn url_check(url: &str) -> anyhow::Result<()> {
    let parsed: alloy::transports::http::reqwest::Url = url
        .parse()
        .with_context(|| format!("rpc_url `{url}` is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("rpc_url `{url}`: only http:// and https:// endpoints are supported");
    }
    Ok(())
}

fn parse_signer(raw: RawSigner) -> anyhow::Result<SignerConfig> {
    if raw.private_key.is_some() {
        bail!(
            "`signer.private_key`: keys never go in forja.toml; put it in an environment variable and set `private_key_env = \"VAR\"`, or use a keystore (`forja keys import`)"
        );
    }
    match (raw.dev_account, raw.keystore, raw.private_key_env) {
        (Some(index), None, None) => Ok(SignerConfig::DevAccount(index)),
        (None, Some(path), None) => Ok(SignerConfig::Keystore {
            path,
            password_env: raw.password_env,
        }),
        (None, None, Some(var)) => Ok(SignerConfig::PrivateKeyEnv(var)),
        _ => bail!("`signer` needs exactly one of `keystore`, `private_key_env` or `dev_account`"),
    }
}

fn wei(amount: WeiAmount, field: &str) -> anyhow::Result<u128> {
    match amount {
        WeiAmount::Int(v) => Ok(v.into()),
        WeiAmount::Text(text) => text
            .trim()
            .replace('_', "")
            .parse()
            .with_context(|| format!("gas.{field} = \"{text}\" is not an amount of wei")),
    }
}

fn parse_gas(raw: RawGas) -> anyhow::Result<GasConfig> {
    let price = raw.price.map(|v| wei(v, "price")).transpose()?;
    let max_fee = raw.max_fee.map(|v| wei(v, "max_fee")).transpose()?;
    let max_priority_fee = raw
        .max_priority_fee
        .map(|v| wei(v, "max_priority_fee"))
        .transpose()?;
    let eip1559_fields = max_fee.is_some() || max_priority_fee.is_some();
    let pricing = match raw.kind.as_deref() {
        Some("legacy") | None if price.is_some() => {
            if eip1559_fields {
                bail!(
                    "gas: `price` is legacy pricing; `max_fee`/`max_priority_fee` are EIP-1559: pick one"
                );
            }
            GasPricing::Legacy { price }
        }
        Some("legacy") => {
            if eip1559_fields {
                bail!("gas: type = \"legacy\" takes `price`, not `max_fee`/`max_priority_fee`");
            }
            GasPricing::Legacy { price: None }
        }
        Some("eip1559") => {
            if price.is_some() {
                bail!("gas: type = \"eip1559\" takes `max_fee`/`max_priority_fee`, not `price`");
            }
            GasPricing::Eip1559 {
                max_fee,
                max_priority_fee,
            }
        }
        None if eip1559_fields => GasPricing::Eip1559 {
            max_fee,
            max_priority_fee,
        },
        None => GasPricing::Auto,
        Some(other) => bail!("gas.type = \"{other}\": expected \"legacy\" or \"eip1559\""),
    };
    if let GasPricing::Eip1559 {
        max_fee: Some(max),
        max_priority_fee: Some(tip),
    } = &pricing
        && tip > max
    {
        bail!("gas.max_priority_fee ({tip}) is above gas.max_fee ({max})");
    }
    Ok(GasConfig {
        pricing,
        limit: raw.limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<BTreeMap<String, Environment>> {
        let table: toml::Table = toml::from_str(text).unwrap();
        parse_environments(table["environments"].as_table().unwrap())
    }

    #[test]
    fn parses_the_template_environments() {
        let text = include_str!("../../../templates/basic/forja.toml.hbs")
            .replace("{{name}}", "demo")
            .replace("{{solc_version}}", "0.8.30")
            .replace("{{chain_id}}", "1337");
        let table: toml::Table = toml::from_str(&text).unwrap();
        let envs = parse_environments(table["environments"].as_table().unwrap()).unwrap();
        let dev = &envs["dev"];
        assert_eq!(dev.chain_id, 1337);
        assert_eq!(dev.signer, SignerConfig::DevAccount(0));
        assert_eq!(envs["prod"].promote_from.as_deref(), Some("preprod"));
    }

    #[test]
    fn parses_signers_gas_and_approvals() {
        let envs = parse(
            r#"
            [environments.dev]
            chain_id = 1337
            [environments.prod]
            rpc_url = "https://rpc.example.org"
            chain_id = 2020
            signer = { keystore = "keys/deployer.json", password_env = "PROD_PW" }
            confirmations = 3
            gas = { price = 0 }
            promote_from = "dev"
            approvals = { required = 1, approvers = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"] }
            "#,
        )
        .unwrap();
        assert_eq!(envs["dev"].rpc_url, DEFAULT_DEV_RPC);
        let prod = &envs["prod"];
        assert_eq!(prod.gas.pricing, GasPricing::Legacy { price: Some(0) });
        assert_eq!(prod.confirmations, 3);
        assert_eq!(prod.approvals.required, 1);
        assert!(matches!(prod.signer, SignerConfig::Keystore { .. }));
    }

    #[test]
    fn refuses_bad_configuration_with_the_place() {
        let cases = [
            (
                r#"rpc_url = "http://x"
                chain_id = 1
                signer = { private_key = "0x01" }"#,
                "never go in forja.toml",
            ),
            (
                r#"rpc_url = "http://x"
                chain_id = 1"#,
                "`signer` is required",
            ),
            (
                r#"rpc_url = "http://x"
                signer = { private_key_env = "K" }"#,
                "`chain_id` is required",
            ),
            (
                r#"rpc_url = "ws://x"
                chain_id = 1
                signer = { private_key_env = "K" }"#,
                "only http",
            ),
            (
                r#"rpc_url = "http://x"
                chain_id = 1
                signer = { private_key_env = "K" }
                gas = { price = 1, max_fee = 2 }"#,
                "pick one",
            ),
            (
                r#"rpc_url = "http://x"
                chain_id = 1
                signer = { private_key_env = "K" }
                promote_from = "dev"
                approvals = { required = 2, approvers = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"] }"#,
                "only 1 approver",
            ),
            (
                r#"rpc_url = "http://x"
                chain_id = 1
                signer = { private_key_env = "K" }
                promote_from = "nowhere""#,
                "names no environment",
            ),
        ];
        for (body, expected) in cases {
            let text = format!("[environments.dev]\nchain_id = 1\n[environments.prod]\n{body}\n");
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.contains(expected), "{body}\n→ {err}");
            assert!(err.contains("prod"), "{err}");
        }
    }
}
