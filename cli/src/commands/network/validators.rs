//! `forja network propose-validator` / `remove-validator`: Besu's validator
//! votes. Each validator given casts the vote (`qbft_proposeValidatorVote`,
//! or `ibft_` on an IBFT 2.0 network) in the blocks it proposes; the vote
//! passes when more than half of the validators have cast it.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use alloy::primitives::Address;
use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};

use super::endpoint::{AuthArgs, Endpoint};

#[derive(Debug, clap::Args)]
pub(crate) struct VoteArgs {
    /// The validator's address
    pub address: Address,
    /// A validator's JSON-RPC endpoint that casts the vote (repeat for each;
    /// a vote is one node's, as on Besu, so for `forja node` start it with
    /// `--rpc-every-node` and give each validator's endpoint)
    #[arg(long = "rpc", value_name = "URL", required = true)]
    pub rpc: Vec<String>,
    /// Seconds to wait for the vote to take effect
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    #[command(flatten)]
    pub auth: AuthArgs,
}

pub(crate) fn run(args: VoteArgs, add: bool) -> anyhow::Result<ExitCode> {
    super::super::block_on(vote(args, add))?
}

async fn vote(args: VoteArgs, add: bool) -> anyhow::Result<ExitCode> {
    let mut endpoints = Vec::new();
    for url in &args.rpc {
        endpoints.push(Endpoint::connect(url, &args.auth).await?);
    }
    let first = &endpoints[0];
    let prefix = consensus_prefix(first).await?;
    let address = args.address;
    let done = |validators: &[Address]| validators.contains(&address) == add;
    let validators = validators_at_latest(first, prefix).await?;
    if done(&validators) {
        println!(
            "{address} {} ({} validators); no vote needed",
            if add {
                "is already a validator"
            } else {
                "is not a validator"
            },
            validators.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let method = format!("{prefix}_proposeValidatorVote");
    for endpoint in &endpoints {
        endpoint
            .expect(&method, json!([address, add]))
            .await
            .with_context(|| {
                if endpoint.authenticated() {
                    "the user needs the permission for it (e.g. qbft:*) and, with forja node, an admin account".to_owned()
                } else {
                    format!("is the {} API group enabled there (--rpc-http-api)?", prefix.to_uppercase())
                }
            })?;
        println!(
            "{}: vote to {} {address} cast",
            endpoint.url,
            if add { "add" } else { "remove" }
        );
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut last_tally = String::new();
    loop {
        let validators = validators_at_latest(first, prefix).await?;
        if done(&validators) {
            println!(
                "{address} {} ({} validators)",
                if add {
                    "is now a validator"
                } else {
                    "is no longer a validator"
                },
                validators.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let tally = tally(&endpoints, prefix, address, add, validators.len()).await?;
        if tally != last_tally {
            println!("{tally}");
            last_tally = tally;
        }
        if Instant::now() >= deadline {
            bail!(
                "the vote did not take effect within {} s: {last_tally}. A vote passes once more than half of the validators have put it in blocks they proposed: cast it on more validators, and check that blocks are being made",
                args.timeout
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `qbft` or `ibft`, by which validator methods the endpoint answers.
async fn consensus_prefix(endpoint: &Endpoint) -> anyhow::Result<&'static str> {
    let mut refusals = Vec::new();
    for prefix in ["qbft", "ibft"] {
        match endpoint
            .call(
                &format!("{prefix}_getValidatorsByBlockNumber"),
                json!(["latest"]),
            )
            .await?
        {
            Ok(_) => return Ok(prefix),
            // Not this mode (-32601), or its API group is off (-32604).
            Err(error) => refusals.push(format!("{prefix}_: {error}")),
        }
    }
    Err(anyhow!(
        "{} answers neither qbft_ nor ibft_ validator methods ({}); enable the QBFT or IBFT API group there (--rpc-http-api)",
        endpoint.url,
        refusals.join("; ")
    ))
}

async fn validators_at_latest(endpoint: &Endpoint, prefix: &str) -> anyhow::Result<Vec<Address>> {
    let method = format!("{prefix}_getValidatorsByBlockNumber");
    let answer = endpoint.expect(&method, json!(["latest"])).await?;
    serde_json::from_value(answer.clone()).map_err(|_| {
        anyhow!(
            "{}: {method} answered {answer}, not a list of addresses",
            endpoint.url
        )
    })
}

/// The head, the validator count and majority, and how many of the given
/// endpoints still hold the vote (`*_getPendingVotes`).
async fn tally(
    endpoints: &[Endpoint],
    prefix: &str,
    address: Address,
    add: bool,
    validators: usize,
) -> anyhow::Result<String> {
    let head = endpoints[0].expect("eth_blockNumber", json!([])).await?;
    let head = head
        .as_str()
        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
        .unwrap_or_default();
    let mut pending = 0;
    for endpoint in endpoints {
        let votes = endpoint
            .expect(&format!("{prefix}_getPendingVotes"), json!([]))
            .await?;
        let holds = votes.as_object().is_some_and(|votes| {
            votes.iter().any(|(voted, value)| {
                voted.parse::<Address>().ok() == Some(address) && value == &Value::Bool(add)
            })
        });
        pending += usize::from(holds);
    }
    Ok(format!(
        "block {head}: {validators} validators, the vote needs {} of them; pending on {pending} of {} endpoints",
        validators / 2 + 1,
        endpoints.len()
    ))
}
