//! The network definition: `network.toml` ↔ [`NetworkConfig`], node keys,
//! dev accounts and the genesis state.

use std::{collections::BTreeMap, path::Path};

use alloy::{
    primitives::{Address, B256, B512, Bytes, U256, keccak256},
    signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::ConfigError,
    permissions::{AccessLevel, Permissions},
    pool::PoolLimits,
    spec::{ChainSpec, Hardfork},
};

/// Hardhat's and anvil's dev mnemonic.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Which BFT protocol the network runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusMode {
    #[default]
    Qbft,
    Ibft2,
}

/// A parameter change from a block on (Besu's `transitions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionConfig {
    pub block: u64,
    pub block_period_seconds: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
    /// The validators from this block on, whatever the votes said (Besu's
    /// `validators` transition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validators: Option<Vec<Address>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusConfig {
    pub mode: ConsensusMode,
    /// 0: a block as soon as a transaction is pending (the dev default).
    pub block_period_seconds: u64,
    pub request_timeout_seconds: u64,
    pub epoch_length: u64,
    pub transitions: Vec<TransitionConfig>,
    /// Besu's `futuremessageslimit`: most consensus messages a node keeps
    /// for later heights and rounds.
    #[serde(rename = "futuremessageslimit")]
    pub future_messages_limit: usize,
    /// Besu's `futuremessagesmaxdistance`: how many heights ahead messages
    /// are kept for.
    #[serde(rename = "futuremessagesmaxdistance")]
    pub future_messages_max_distance: u64,
    /// Besu's `messagequeuelimit`: most consensus messages waiting in a
    /// node's inbound queue.
    #[serde(rename = "messagequeuelimit")]
    pub message_queue_limit: usize,
    /// Besu's `duplicatemessagelimit`: how many recently seen consensus
    /// messages a node remembers, to drop repeats.
    #[serde(rename = "duplicatemessagelimit")]
    pub duplicate_message_limit: usize,
    /// Besu's `--Xqbft-enable-early-round-change`: follow `f + 1`
    /// validators into a later round (QBFT only).
    pub early_round_change: bool,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        Self {
            mode: ConsensusMode::Qbft,
            block_period_seconds: 0,
            request_timeout_seconds: 4,
            epoch_length: 30_000,
            transitions: Vec::new(),
            future_messages_limit: 1000,
            future_messages_max_distance: 10,
            message_queue_limit: 1000,
            duplicate_message_limit: 100,
            early_round_change: false,
        }
    }
}

/// Nodes of the network. Keys not given are derived from the network's
/// `key_seed` and the node's position, so a definition always yields the
/// same nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodesConfig {
    pub validators: usize,
    pub regular: usize,
    /// Explicit validator private keys (hex), overriding derived ones.
    pub validator_keys: Vec<B256>,
    /// Explicit regular-node private keys (hex).
    pub regular_keys: Vec<B256>,
    pub key_seed: String,
}

impl Default for NodesConfig {
    fn default() -> Self {
        Self {
            validators: 4,
            regular: 0,
            validator_keys: Vec::new(),
            regular_keys: Vec::new(),
            key_seed: "forja".into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PermissioningConfig {
    pub enabled: bool,
    /// Accounts and their access level.
    pub accounts: BTreeMap<Address, AccessLevel>,
    /// Accounts with the `full` level (may change the lists).
    pub admins: Vec<Address>,
    /// Allowed nodes as enode URLs or 64-byte node ids. Absent: every node
    /// of this definition.
    pub nodes: Option<Vec<String>>,
}

/// A prefunded account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccountConfig {
    pub address: Address,
    #[serde(default)]
    pub balance: U256,
    #[serde(default)]
    pub code: Option<Bytes>,
    #[serde(default)]
    pub storage: BTreeMap<U256, U256>,
    #[serde(default)]
    pub nonce: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevAccountsConfig {
    pub mnemonic: String,
    pub count: u32,
    /// Balance of each, in ether.
    pub balance_ether: u64,
}

impl Default for DevAccountsConfig {
    fn default() -> Self {
        Self {
            mnemonic: DEV_MNEMONIC.into(),
            count: 10,
            balance_ether: 10_000,
        }
    }
}

/// A network definition (`network.toml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub chain_id: u64,
    pub hardfork: Hardfork,
    pub block_gas_limit: u64,
    pub min_gas_price: u64,
    pub genesis_timestamp: u64,
    pub consensus: ConsensusConfig,
    pub nodes: NodesConfig,
    pub permissioning: PermissioningConfig,
    pub dev_accounts: DevAccountsConfig,
    pub accounts: Vec<GenesisAccountConfig>,
    /// The `[rpc]` table: how the program serving this network exposes
    /// its API (`forja node` reads Besu's `rpc-http-*` keys there). Kept
    /// as written; the runtime does not read it.
    #[serde(skip_serializing_if = "RpcTable::is_empty")]
    pub rpc: RpcTable,
    #[serde(skip)]
    pub pool: PoolLimitsConfig,
    /// Besu's `--poa-block-txs-selection-max-time` (not part of the file; a
    /// node option): percent of the block period a proposer spends
    /// executing transactions for its block, 1 to 100 (see
    /// `node::selection_budget`).
    #[serde(skip)]
    pub block_txs_selection_max_time: u8,
    /// The genesis block's header fields when the definition came from a
    /// Besu genesis.json (not part of network.toml): the genesis block is
    /// then the one Besu builds, with the validators its extraData names.
    #[serde(skip)]
    pub genesis_header: Option<crate::besu::GenesisHeader>,
    /// Besu's `--bonsai-historical-block-limit` (a node option, not part of
    /// the file): with a data directory, the state of this many newest
    /// blocks stays readable; older blocks' undo data is pruned.
    #[serde(skip)]
    pub historical_block_limit: u64,
}

/// A TOML table carried for the RPC server (see [`NetworkConfig::rpc`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RpcTable(pub toml::Table);

// Only compared as a whole definition; a float in the table is the one
// value that could compare unequal to itself, and nothing relies on that.
impl Eq for RpcTable {}

impl RpcTable {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Besu's default for `--poa-block-txs-selection-max-time`.
pub const DEFAULT_BLOCK_TXS_SELECTION_MAX_TIME: u8 = 75;

/// Pool bounds (not part of the file; set by the embedding program).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolLimitsConfig(pub PoolLimits);

impl Default for NetworkConfig {
    fn default() -> Self {
        let spec = ChainSpec::default();
        Self {
            chain_id: spec.chain_id,
            hardfork: spec.hardfork,
            block_gas_limit: spec.block_gas_limit,
            min_gas_price: 0,
            genesis_timestamp: 0,
            consensus: ConsensusConfig::default(),
            nodes: NodesConfig::default(),
            permissioning: PermissioningConfig::default(),
            dev_accounts: DevAccountsConfig::default(),
            accounts: Vec::new(),
            rpc: RpcTable::default(),
            pool: PoolLimitsConfig::default(),
            block_txs_selection_max_time: DEFAULT_BLOCK_TXS_SELECTION_MAX_TIME,
            genesis_header: None,
            historical_block_limit: crate::storage::DEFAULT_HISTORICAL_BLOCK_LIMIT,
        }
    }
}

/// A node's identity.
#[derive(Clone, Debug)]
pub struct NodeKey {
    pub signer: PrivateKeySigner,
    pub is_validator: bool,
}

impl NodeKey {
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The node id: the uncompressed public key without its 0x04 prefix.
    pub fn node_id(&self) -> B512 {
        node_id(&self.signer)
    }
}

pub fn node_id(signer: &PrivateKeySigner) -> B512 {
    let point = signer.credential().verifying_key().to_encoded_point(false);
    B512::from_slice(&point.as_bytes()[1..])
}

/// `enode://<id>@127.0.0.1:<port>` as Besu prints it.
pub fn enode(id: &B512, port: u16) -> String {
    format!("enode://{}@127.0.0.1:{port}", alloy::hex::encode(id))
}

/// Parses an enode URL or a bare 64-byte hex node id.
pub fn parse_node_id(text: &str) -> Result<B512, ConfigError> {
    let id = text
        .strip_prefix("enode://")
        .map(|rest| rest.split('@').next().unwrap_or(rest))
        .unwrap_or(text);
    id.parse::<B512>().map_err(|e| {
        ConfigError::Invalid(format!(
            "`{text}` is not an enode URL or a 64-byte node id: {e}"
        ))
    })
}

impl NetworkConfig {
    /// Parses a `network.toml`.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a `network.toml`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// The definition a project command runs on: `file` when given, else
    /// the project's `network.toml`, with where it came from; `None` when
    /// there is neither, so each command keeps its own default.
    pub fn for_project(
        file: Option<&Path>,
        root: &Path,
    ) -> Result<Option<(Self, String)>, ConfigError> {
        if let Some(file) = file {
            return Ok(Some((Self::load(file)?, file.display().to_string())));
        }
        let project_network = root.join("network.toml");
        if !project_network.is_file() {
            return Ok(None);
        }
        Ok(Some((Self::load(&project_network)?, "network.toml".into())))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a network definition always serializes")
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.nodes.validators == 0 {
            return invalid("a network needs at least one validator".into());
        }
        if self.nodes.validator_keys.len() > self.nodes.validators {
            return invalid(format!(
                "{} validator keys given for {} validators",
                self.nodes.validator_keys.len(),
                self.nodes.validators
            ));
        }
        if self.nodes.regular_keys.len() > self.nodes.regular {
            return invalid(format!(
                "{} regular-node keys given for {} regular nodes",
                self.nodes.regular_keys.len(),
                self.nodes.regular
            ));
        }
        if self.block_gas_limit < 21_000 {
            return invalid(format!(
                "block_gas_limit {} is below a transfer's 21000 gas",
                self.block_gas_limit
            ));
        }
        if self.block_gas_limit > i64::MAX as u64 {
            return invalid(format!(
                "block_gas_limit {} is above Besu's maximum gas limit {}",
                self.block_gas_limit,
                i64::MAX
            ));
        }
        let consensus = &self.consensus;
        if consensus.early_round_change && consensus.mode == ConsensusMode::Ibft2 {
            return invalid(
                "[consensus] early_round_change is a QBFT option (Besu's --Xqbft-enable-early-round-change); IBFT 2.0 never changes round early"
                    .into(),
            );
        }
        for (name, value) in [
            ("messagequeuelimit", consensus.message_queue_limit),
            ("duplicatemessagelimit", consensus.duplicate_message_limit),
        ] {
            if value == 0 {
                return invalid(format!(
                    "[consensus] {name} is 0: a node would drop every consensus message (Besu's default is {})",
                    if name == "messagequeuelimit" {
                        1000
                    } else {
                        100
                    }
                ));
            }
        }
        if let Some(nodes) = &self.permissioning.nodes {
            for node in nodes {
                parse_node_id(node)?;
            }
        }
        if !(1..=100).contains(&self.block_txs_selection_max_time) {
            return invalid(format!(
                "block transaction selection time {}% is not a percentage from 1 to 100 of the block period",
                self.block_txs_selection_max_time
            ));
        }
        Ok(())
    }

    pub fn spec(&self) -> ChainSpec {
        ChainSpec {
            chain_id: self.chain_id,
            hardfork: self.hardfork,
            block_gas_limit: self.block_gas_limit,
            min_gas_price: self.min_gas_price as u128,
            ..ChainSpec::default()
        }
    }

    /// Validators first, then regular nodes.
    pub fn node_keys(&self) -> Result<Vec<NodeKey>, ConfigError> {
        let derive = |kind: &str, index: usize| {
            let mut secret = keccak256(format!("{}/{kind}/{index}", self.nodes.key_seed));
            // A keccak output is a valid secp256k1 scalar except with
            // negligible probability; rehash until it is.
            loop {
                if let Ok(signer) = PrivateKeySigner::from_bytes(&secret) {
                    return signer;
                }
                secret = keccak256(secret);
            }
        };
        let explicit = |key: &B256, kind: &str, index: usize| {
            PrivateKeySigner::from_bytes(key).map_err(|e| {
                ConfigError::Invalid(format!(
                    "{kind} key {index} is not a valid secp256k1 key: {e}"
                ))
            })
        };
        let mut keys = Vec::new();
        for index in 0..self.nodes.validators {
            let signer = match self.nodes.validator_keys.get(index) {
                Some(key) => explicit(key, "validator", index)?,
                None => derive("validator", index),
            };
            keys.push(NodeKey {
                signer,
                is_validator: true,
            });
        }
        for index in 0..self.nodes.regular {
            let signer = match self.nodes.regular_keys.get(index) {
                Some(key) => explicit(key, "regular-node", index)?,
                None => derive("regular", index),
            };
            keys.push(NodeKey {
                signer,
                is_validator: false,
            });
        }
        Ok(keys)
    }

    /// The dev accounts from the mnemonic.
    pub fn dev_accounts(&self) -> Result<Vec<PrivateKeySigner>, ConfigError> {
        (0..self.dev_accounts.count)
            .map(|index| {
                MnemonicBuilder::<English>::default()
                    .phrase(self.dev_accounts.mnemonic.as_str())
                    .index(index)
                    .and_then(|b| b.build())
                    .map_err(|e| ConfigError::Invalid(format!("dev account {index}: {e}")))
            })
            .collect()
    }

    /// The initial permissions: the configured lists, admins at `full`, and
    /// (when no node list is given) every node of the definition.
    pub fn permissions(&self, keys: &[NodeKey]) -> Result<Permissions, ConfigError> {
        let mut permissions = Permissions {
            enabled: self.permissioning.enabled,
            accounts: self.permissioning.accounts.clone(),
            nodes: Default::default(),
        };
        for admin in &self.permissioning.admins {
            permissions.accounts.insert(*admin, AccessLevel::Full);
        }
        match &self.permissioning.nodes {
            Some(nodes) => {
                for node in nodes {
                    permissions.nodes.insert(parse_node_id(node)?);
                }
            }
            None => permissions.nodes.extend(keys.iter().map(NodeKey::node_id)),
        }
        Ok(permissions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_defaults() {
        let config = NetworkConfig::default();
        let text = config.to_toml();
        let back = NetworkConfig::from_toml(&text, Path::new("network.toml")).unwrap();
        assert_eq!(back, config);
        let minimal = NetworkConfig::from_toml(
            "chain_id = 2020\nhardfork = \"byzantium\"\n[consensus]\nmode = \"ibft2\"\nblock_period_seconds = 5\n[nodes]\nvalidators = 6\n",
            Path::new("network.toml"),
        )
        .unwrap();
        assert_eq!(minimal.chain_id, 2020);
        assert_eq!(minimal.consensus.mode, ConsensusMode::Ibft2);
        assert_eq!(minimal.node_keys().unwrap().len(), 6);
    }

    #[test]
    fn bad_definitions_say_what_is_wrong() {
        let err = NetworkConfig::from_toml("chain_idd = 1\n", Path::new("net/network.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("net/network.toml") && err.contains("chain_idd"),
            "{err}"
        );
        let err = NetworkConfig::from_toml("[nodes]\nvalidators = 0\n", Path::new("n.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least one validator"), "{err}");
    }

    #[test]
    fn consensus_limits_take_besus_names_and_defaults() {
        let defaults = NetworkConfig::from_toml("", Path::new("n.toml")).unwrap();
        let c = &defaults.consensus;
        assert_eq!(
            (
                c.future_messages_limit,
                c.future_messages_max_distance,
                c.message_queue_limit,
                c.duplicate_message_limit,
                c.early_round_change
            ),
            (1000, 10, 1000, 100, false)
        );
        let set = NetworkConfig::from_toml(
            "[consensus]\nfuturemessageslimit = 20\nfuturemessagesmaxdistance = 3\nmessagequeuelimit = 50\nduplicatemessagelimit = 7\nearly_round_change = true\n",
            Path::new("n.toml"),
        )
        .unwrap();
        let c = &set.consensus;
        assert_eq!(
            (
                c.future_messages_limit,
                c.future_messages_max_distance,
                c.message_queue_limit,
                c.duplicate_message_limit,
                c.early_round_change
            ),
            (20, 3, 50, 7, true)
        );
        let err = NetworkConfig::from_toml(
            "[consensus]\nmode = \"ibft2\"\nearly_round_change = true\n",
            Path::new("n.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("early_round_change") && err.contains("IBFT 2.0"),
            "{err}"
        );
        let err =
            NetworkConfig::from_toml("[consensus]\nmessagequeuelimit = 0\n", Path::new("n.toml"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("messagequeuelimit"), "{err}");
    }

    #[test]
    fn dev_accounts_are_hardhats() {
        let config = NetworkConfig {
            dev_accounts: DevAccountsConfig {
                count: 2,
                ..Default::default()
            },
            ..Default::default()
        };
        let accounts = config.dev_accounts().unwrap();
        assert_eq!(
            accounts[0].address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap()
        );
        assert_eq!(
            accounts[1].address(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
                .parse::<Address>()
                .unwrap()
        );
    }
}
