//! What a run drives: the embedded network (nodes in this process) or
//! JSON-RPC endpoints. `Chain` is the handful of operations the setup needs
//! (nonces, gas, sending and waiting for receipts, the allowlist); the timed
//! phase has its own, leaner paths in `run`.

use std::time::{Duration, Instant};

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, Bytes, U256, keccak256},
};
use anyhow::{Context as _, bail};
use forja_runtime::{
    Network,
    execution::{CallLimits, CallRequest},
    permissions::AccessLevel,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::rpc::{Connection, Endpoint};

/// What `forja bench` sends its workload to.
pub enum Target {
    /// The project's network, in this process; the run submits to its
    /// nodes directly (no HTTP), spread over them.
    Embedded {
        network: Network,
        description: String,
    },
    /// One or more JSON-RPC endpoints (the load is spread over them).
    Rpc(Vec<Endpoint>),
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Embedded { description, .. } => format!("embedded: {description}"),
            Target::Rpc(endpoints) => format!(
                "rpc: {}",
                endpoints
                    .iter()
                    .map(|e| e.url.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A mined transaction, as the setup needs it.
#[derive(Debug, Clone)]
pub struct MinedReceipt {
    pub success: bool,
    pub contract_address: Option<Address>,
}

/// The setup's view of a target.
pub enum Chain<'a> {
    Embedded(&'a Network),
    Rpc(Box<Mutex<Connection>>),
}

impl<'a> Chain<'a> {
    pub async fn connect(target: &'a Target) -> anyhow::Result<Chain<'a>> {
        Ok(match target {
            Target::Embedded { network, .. } => Chain::Embedded(network),
            Target::Rpc(endpoints) => {
                Chain::Rpc(Box::new(Mutex::new(Connection::open(&endpoints[0]).await?)))
            }
        })
    }

    async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        match self {
            Chain::Rpc(connection) => connection.lock().await.call(method, params).await,
            Chain::Embedded(_) => unreachable!("the embedded chain is called directly"),
        }
    }

    pub async fn chain_id(&self) -> anyhow::Result<u64> {
        match self {
            Chain::Embedded(network) => Ok(network.chain_id()),
            Chain::Rpc(_) => quantity(&self.call("eth_chainId", json!([])).await?),
        }
    }

    /// The price the workload's legacy transactions offer: the network's
    /// minimum on forja, `eth_gasPrice` (×2, so a rising base fee does not
    /// strand them) elsewhere.
    pub async fn gas_price(&self) -> anyhow::Result<u128> {
        match self {
            Chain::Embedded(network) => Ok(network.node(0).read().chain_spec().min_gas_price),
            Chain::Rpc(_) => {
                Ok(quantity(&self.call("eth_gasPrice", json!([])).await?)? as u128 * 2)
            }
        }
    }

    pub async fn block_gas_limit(&self) -> anyhow::Result<u64> {
        match self {
            Chain::Embedded(network) => Ok(network.node(0).read().chain_spec().block_gas_limit),
            Chain::Rpc(_) => {
                let block = self
                    .call("eth_getBlockByNumber", json!(["latest", false]))
                    .await?;
                quantity(&block["gasLimit"])
            }
        }
    }

    pub async fn head(&self) -> anyhow::Result<u64> {
        match self {
            Chain::Embedded(network) => Ok(network.node(0).read().block_number()),
            Chain::Rpc(_) => quantity(&self.call("eth_blockNumber", json!([])).await?),
        }
    }

    pub async fn next_nonce(&self, address: Address) -> anyhow::Result<u64> {
        match self {
            Chain::Embedded(network) => Ok(network.node(0).pool().next_nonce(address)),
            Chain::Rpc(_) => quantity(
                &self
                    .call("eth_getTransactionCount", json!([address, "pending"]))
                    .await?,
            ),
        }
    }

    pub async fn send_raw(&self, raw: &[u8]) -> anyhow::Result<B256> {
        match self {
            Chain::Embedded(network) => network
                .node(0)
                .pool()
                .submit_raw_transaction(raw)
                .map_err(|e| anyhow::anyhow!("{e}")),
            Chain::Rpc(_) => {
                self.call(
                    "eth_sendRawTransaction",
                    json!([format!("0x{}", alloy::hex::encode(raw))]),
                )
                .await?;
                Ok(keccak256(raw))
            }
        }
    }

    /// Waits for every hash's receipt, in order.
    pub async fn wait_receipts(
        &self,
        hashes: &[B256],
        timeout: Duration,
    ) -> anyhow::Result<Vec<MinedReceipt>> {
        let deadline = Instant::now() + timeout;
        let mut receipts = Vec::with_capacity(hashes.len());
        for hash in hashes {
            loop {
                if let Some(receipt) = self.receipt(*hash).await? {
                    receipts.push(receipt);
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "setup transaction {hash} was not mined within {} s",
                        timeout.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(receipts)
    }

    async fn receipt(&self, hash: B256) -> anyhow::Result<Option<MinedReceipt>> {
        match self {
            Chain::Embedded(network) => {
                Ok(network.node(0).read().receipt(hash).map(|r| MinedReceipt {
                    success: r.receipt.status(),
                    contract_address: r.contract_address,
                }))
            }
            Chain::Rpc(_) => {
                let receipt = self
                    .call("eth_getTransactionReceipt", json!([hash]))
                    .await?;
                if receipt.is_null() {
                    return Ok(None);
                }
                Ok(Some(MinedReceipt {
                    success: receipt["status"].as_str() == Some("0x1"),
                    contract_address: receipt["contractAddress"]
                        .as_str()
                        .and_then(|a| a.parse().ok()),
                }))
            }
        }
    }

    /// Gas a call needs, from a dry run; the error carries the revert reason.
    pub async fn estimate_gas(
        &self,
        from: Address,
        to: Address,
        input: &Bytes,
        value: U256,
    ) -> anyhow::Result<u64> {
        match self {
            Chain::Embedded(network) => {
                let request = CallRequest {
                    from: Some(from),
                    to: Some(to),
                    input: input.clone(),
                    value: Some(value),
                    ..Default::default()
                };
                network
                    .node(0)
                    .read()
                    .estimate_gas(&request, BlockId::latest(), &CallLimits::default())
                    .map_err(|e| anyhow::anyhow!("{e}"))
            }
            Chain::Rpc(_) => quantity(
                &self
                    .call(
                        "eth_estimateGas",
                        json!([{"from": from, "to": to, "input": input, "value": value}]),
                    )
                    .await?,
            ),
        }
    }

    /// Puts `accounts` on the account allowlist when the target has one
    /// switched on; returns whether it did. On the embedded network `admin`
    /// must be a network admin; an endpoint takes Besu's
    /// `perm_addAccountsToAllowlist` (guarded by its own authentication).
    pub async fn allowlist(&self, admin: Address, accounts: &[Address]) -> anyhow::Result<bool> {
        match self {
            Chain::Embedded(network) => {
                let node = network.node(0);
                let permissions = node.admin().permissions();
                if !permissions.enabled {
                    return Ok(false);
                }
                if !permissions.is_admin(admin) {
                    bail!(
                        "the network has an account allowlist and the admin key ({admin}) is not a network admin (access level `full`); give one with --admin-key"
                    );
                }
                let listed: Vec<_> = accounts
                    .iter()
                    .filter(|a| !permissions.accounts.contains_key(*a))
                    .map(|a| (*a, AccessLevel::Transact))
                    .collect();
                if !listed.is_empty() {
                    node.admin()
                        .add_accounts_to_allowlist(admin, listed)
                        .map_err(|e| anyhow::anyhow!("adding the senders to the allowlist: {e}"))?;
                }
                Ok(true)
            }
            Chain::Rpc(_) => {
                let list = match self.call("perm_getAccountsAllowlist", json!([])).await {
                    Ok(list) => list,
                    // No permissioning API (anvil, Hardhat, Besu without
                    // --permissions-accounts-config-file): nothing to do.
                    Err(_) => return Ok(false),
                };
                if list.as_array().is_none_or(Vec::is_empty) {
                    return Ok(false);
                }
                self.call("perm_addAccountsToAllowlist", json!([accounts]))
                    .await
                    .context("adding the senders to the endpoint's account allowlist")?;
                Ok(true)
            }
        }
    }
}

/// A JSON-RPC quantity (`"0x…"`) as a number.
pub fn quantity(value: &Value) -> anyhow::Result<u64> {
    let text = value
        .as_str()
        .with_context(|| format!("expected a hex quantity, got {value}"))?;
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .with_context(|| format!("`{text}` is not a hex quantity"))
}
