//! Besu's `genesis.json`: one typed struct, read as Besu reads it and
//! written with Besu's key names.
//!
//! Reading follows Besu's `GenesisConfig`: keys are matched in any case
//! (Besu lowercases every key before looking at it), numbers are JSON
//! numbers, `0x` hex strings or decimal strings, and hex data may come
//! without its `0x`. The genesis block is built as Besu's
//! `GenesisState::buildHeader` builds it, so its hash is Besu's.

use std::{collections::BTreeMap, path::Path, str::FromStr};

use alloy::{
    consensus::Header,
    eips::eip7685::EMPTY_REQUESTS_HASH,
    primitives::{Address, B64, B256, Bytes, U256},
};
use alloy_trie::EMPTY_ROOT_HASH;
use forja_consensus::{BftExtraData, BftMode, bft_block_hash};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{
    config::{
        ConsensusConfig, ConsensusMode, DevAccountsConfig, GenesisAccountConfig, NetworkConfig,
        TransitionConfig,
    },
    error::ConfigError,
    spec::Hardfork,
};

/// Besu's base fee of a genesis with London at block 0 and no
/// `baseFeePerGas` (`GenesisConfig.BASEFEE_AT_GENESIS_DEFAULT_VALUE`).
pub const BASE_FEE_AT_GENESIS_DEFAULT: u64 = 1_000_000_000;

/// Besu's defaults for a `qbft`/`ibft2` object's missing keys
/// (`JsonBftConfigOptions`).
pub const DEFAULT_BLOCK_PERIOD_SECONDS: u64 = 1;
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 1;
pub const DEFAULT_EPOCH_LENGTH: u64 = 30_000;

/// A Besu `genesis.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BesuGenesis {
    pub config: BesuChainConfig,
    #[serde(with = "number")]
    pub nonce: u64,
    #[serde(with = "number")]
    pub timestamp: u64,
    #[serde(rename = "gasLimit", alias = "gaslimit", with = "number")]
    pub gas_limit: u64,
    #[serde(with = "number")]
    pub difficulty: U256,
    #[serde(rename = "mixHash", alias = "mixhash", with = "word")]
    pub mix_hash: B256,
    pub coinbase: Address,
    #[serde(rename = "extraData", alias = "extradata", with = "data")]
    pub extra_data: Bytes,
    #[serde(
        rename = "baseFeePerGas",
        alias = "basefeepergas",
        with = "opt_quantity",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_fee_per_gas: Option<u64>,
    #[serde(
        rename = "parentHash",
        alias = "parenthash",
        with = "word",
        skip_serializing_if = "is_zero"
    )]
    pub parent_hash: B256,
    #[serde(
        rename = "excessBlobGas",
        alias = "excessblobgas",
        with = "number",
        skip_serializing_if = "is_zero_u64"
    )]
    pub excess_blob_gas: u64,
    #[serde(
        rename = "blobGasUsed",
        alias = "blobgasused",
        with = "number",
        skip_serializing_if = "is_zero_u64"
    )]
    pub blob_gas_used: u64,
    #[serde(
        rename = "parentBeaconBlockRoot",
        alias = "parentbeaconblockroot",
        with = "word",
        skip_serializing_if = "is_zero"
    )]
    pub parent_beacon_block_root: B256,
    pub alloc: BTreeMap<Address, BesuAccount>,
}

fn is_zero(word: &B256) -> bool {
    word.is_zero()
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// The `config` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BesuChainConfig {
    #[serde(rename = "chainId", alias = "chainid", with = "json_number")]
    pub chain_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qbft: Option<BftOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ibft2: Option<BftOptions>,
    #[serde(skip_serializing_if = "BesuTransitions::is_empty")]
    pub transitions: BesuTransitions,
    /// Free gas: every block's base fee is 0 (from London on).
    #[serde(
        rename = "zeroBaseFee",
        alias = "zerobasefee",
        skip_serializing_if = "Option::is_none"
    )]
    pub zero_base_fee: Option<bool>,
    #[serde(
        rename = "contractSizeLimit",
        alias = "contractsizelimit",
        with = "opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub contract_size_limit: Option<u64>,
    /// Everything else, kept as written: the milestones (`londonBlock`,
    /// `shanghaiTime`, …, see [`MILESTONES`]), `ethash`, `clique`, ….
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Besu's milestone keys, oldest first, with the forja hardfork each
/// completes, if any. The `…Time` ones are timestamps, the others block
/// numbers.
pub const MILESTONES: [(&str, Option<Hardfork>); 15] = [
    ("homesteadBlock", None),
    ("eip150Block", None),
    ("eip155Block", None),
    ("eip158Block", None),
    ("byzantiumBlock", Some(Hardfork::Byzantium)),
    ("constantinopleBlock", None),
    ("petersburgBlock", Some(Hardfork::Petersburg)),
    // Besu's other name for petersburg.
    ("constantinopleFixBlock", Some(Hardfork::Petersburg)),
    ("istanbulBlock", Some(Hardfork::Istanbul)),
    ("muirGlacierBlock", None),
    ("berlinBlock", Some(Hardfork::Berlin)),
    ("londonBlock", Some(Hardfork::London)),
    ("shanghaiTime", Some(Hardfork::Shanghai)),
    ("cancunTime", Some(Hardfork::Cancun)),
    ("pragueTime", Some(Hardfork::Prague)),
];

/// A `qbft` or `ibft2` object (Besu's `BftConfigOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BftOptions {
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub blockperiodseconds: Option<u64>,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub epochlength: Option<u64>,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub requesttimeoutseconds: Option<u64>,
    /// Besu's empty-block period (experimental in Besu, hence the `x`).
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub xemptyblockperiodseconds: Option<u64>,
    /// Besu's consensus message limits (network.toml's `[consensus]` keys
    /// of the same names).
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub futuremessageslimit: Option<u64>,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub futuremessagesmaxdistance: Option<u64>,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub messagequeuelimit: Option<u64>,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub duplicatemessagelimit: Option<u64>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `config.transitions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BesuTransitions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub qbft: Vec<BftTransition>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ibft2: Vec<BftTransition>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl BesuTransitions {
    pub fn is_empty(&self) -> bool {
        self.qbft.is_empty() && self.ibft2.is_empty() && self.other.is_empty()
    }
}

/// One entry of `transitions.qbft` / `transitions.ibft2` (Besu's `BftFork`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BftTransition {
    #[serde(with = "json_number")]
    pub block: u64,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub blockperiodseconds: Option<u64>,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub requesttimeoutseconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validators: Option<Vec<Address>>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// An `alloc` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BesuAccount {
    #[serde(with = "number")]
    pub balance: U256,
    #[serde(with = "opt_data", skip_serializing_if = "Option::is_none")]
    pub code: Option<Bytes>,
    #[serde(with = "storage", skip_serializing_if = "BTreeMap::is_empty")]
    pub storage: BTreeMap<U256, U256>,
    #[serde(with = "opt_number", skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// `comment`, `privateKey` and the like, kept as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// What a genesis.json fixes of its block beyond the network definition:
/// the header fields forja would otherwise choose. `network::genesis`
/// builds the block from it when a definition came from a genesis.json.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisHeader {
    pub mode: ConsensusMode,
    pub parent_hash: B256,
    pub coinbase: Address,
    pub difficulty: U256,
    pub extra_data: Bytes,
    pub mix_hash: B256,
    pub nonce: u64,
    pub base_fee_per_gas: Option<u64>,
    pub shanghai: bool,
    /// Cancun at genesis: (blob gas used, excess blob gas, parent beacon root).
    pub cancun: Option<(u64, u64, B256)>,
    pub prague: bool,
}

impl GenesisHeader {
    /// The genesis header over `state_root` (Besu's `GenesisState::buildHeader`).
    pub fn header(&self, state_root: B256, gas_limit: u64, timestamp: u64) -> Header {
        Header {
            parent_hash: self.parent_hash,
            ommers_hash: alloy::consensus::EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.coinbase,
            state_root,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Default::default(),
            difficulty: self.difficulty,
            number: 0,
            gas_limit,
            gas_used: 0,
            timestamp,
            extra_data: self.extra_data.clone(),
            mix_hash: self.mix_hash,
            nonce: B64::from(self.nonce),
            base_fee_per_gas: self.base_fee_per_gas,
            withdrawals_root: self.shanghai.then_some(EMPTY_ROOT_HASH),
            blob_gas_used: self.cancun.map(|(used, _, _)| used),
            excess_blob_gas: self.cancun.map(|(_, excess, _)| excess),
            parent_beacon_block_root: self.cancun.map(|(_, _, root)| root),
            requests_hash: self.prague.then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }

    /// The validators the extraData names.
    pub fn validators(&self) -> Result<Vec<Address>, ConfigError> {
        let extra = BftExtraData::decode(bft_mode(self.mode), &self.extra_data)
            .map_err(|e| ConfigError::Invalid(format!("genesis extraData: {e}")))?;
        Ok(extra.validators)
    }
}

pub(crate) fn bft_mode(mode: ConsensusMode) -> BftMode {
    match mode {
        ConsensusMode::Qbft => BftMode::Qbft,
        ConsensusMode::Ibft2 => BftMode::Ibft2,
    }
}

impl BesuGenesis {
    /// Parses a genesis.json as Besu does; `path` names it in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let mut value: Value =
            serde_json::from_str(text).map_err(|e| parse(format!("not valid JSON: {e}")))?;
        lowercase_keys(&mut value);
        if !value.get("config").is_some_and(Value::is_object) {
            return Err(parse("no `config` object: not a genesis.json".into()));
        }
        if value.get("gaslimit").is_none() {
            return Err(parse("no `gasLimit` (Besu requires it)".into()));
        }
        serde_json::from_value(value).map_err(|e| parse(e.to_string()))
    }

    /// Reads a genesis.json.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// The file's text, with Besu's key names.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a genesis always serializes") + "\n"
    }

    /// A milestone's block or time, its key matched in any case.
    pub fn milestone(&self, name: &str) -> Result<Option<u64>, ConfigError> {
        let Some(value) = self
            .config
            .other
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
        else {
            return Ok(None);
        };
        parse_number(value)
            .and_then(|n| u64::try_from(n).map_err(|_| FieldError::TooLarge(n)))
            .map(Some)
            .map_err(|e| ConfigError::Invalid(format!("genesis config.{name}: {e}")))
    }

    /// Every milestone, checked (see [`MILESTONES`]).
    fn milestones(&self) -> Result<Vec<(Option<Hardfork>, bool, u64)>, ConfigError> {
        let mut found = Vec::new();
        for (name, fork) in MILESTONES {
            if let Some(at) = self.milestone(name)? {
                found.push((fork, name.ends_with("Time"), at));
            }
        }
        Ok(found)
    }

    /// Whether `fork`'s milestone is at the genesis block (or a timestamp
    /// the genesis has reached). Later forks imply earlier ones, as in
    /// Besu's `isShanghaiAtGenesis` (Cancun at genesis is Shanghai too).
    fn at_genesis(&self, fork: Hardfork) -> Result<bool, ConfigError> {
        Ok(self
            .milestones()?
            .into_iter()
            .any(|(completes, is_time, at)| {
                completes.is_some_and(|f| f >= fork)
                    && if is_time {
                        at <= self.timestamp
                    } else {
                        at == 0
                    }
            }))
    }

    /// The newest hardfork the file names: forja runs one for the chain's
    /// life, so a chain that forked later runs the later rules throughout.
    pub fn hardfork(&self) -> Result<Hardfork, ConfigError> {
        Ok(self
            .milestones()?
            .into_iter()
            .filter_map(|(fork, _, _)| fork)
            .max()
            .unwrap_or(Hardfork::Byzantium))
    }

    /// The BFT protocol and its options, `None` for another consensus.
    pub fn consensus(&self) -> Option<(ConsensusMode, &BftOptions)> {
        match (&self.config.qbft, &self.config.ibft2) {
            (Some(options), _) => Some((ConsensusMode::Qbft, options)),
            (None, Some(options)) => Some((ConsensusMode::Ibft2, options)),
            (None, None) => None,
        }
    }

    /// The genesis block's base fee, as Besu chooses it.
    pub fn genesis_base_fee(&self) -> Result<Option<u64>, ConfigError> {
        if self.base_fee_per_gas.is_some() {
            return Ok(self.base_fee_per_gas);
        }
        Ok((self.milestone("londonBlock")? == Some(0)).then_some(BASE_FEE_AT_GENESIS_DEFAULT))
    }

    /// What the file fixes of its genesis block, for a chain run as `mode`.
    pub fn genesis_header(&self, mode: ConsensusMode) -> Result<GenesisHeader, ConfigError> {
        Ok(GenesisHeader {
            mode,
            parent_hash: self.parent_hash,
            coinbase: self.coinbase,
            difficulty: self.difficulty,
            extra_data: self.extra_data.clone(),
            mix_hash: self.mix_hash,
            nonce: self.nonce,
            base_fee_per_gas: self.genesis_base_fee()?,
            shanghai: self.at_genesis(Hardfork::Shanghai)?,
            cancun: self.at_genesis(Hardfork::Cancun)?.then_some((
                self.blob_gas_used,
                self.excess_blob_gas,
                self.parent_beacon_block_root,
            )),
            prague: self.at_genesis(Hardfork::Prague)?,
        })
    }

    /// The genesis header over `state_root`, as Besu builds it.
    pub fn header(&self, state_root: B256) -> Result<Header, ConfigError> {
        let mode = self
            .consensus()
            .map_or(ConsensusMode::Qbft, |(mode, _)| mode);
        Ok(self
            .genesis_header(mode)?
            .header(state_root, self.gas_limit, self.timestamp))
    }

    /// The hash Besu gives the genesis block over `state_root`: the BFT
    /// on-chain hash (no seals, no round) for QBFT and IBFT 2.0, the plain
    /// header hash for other consensus.
    pub fn block_hash(&self, state_root: B256) -> Result<B256, ConfigError> {
        let header = self.header(state_root)?;
        match self.consensus() {
            Some((mode, _)) => bft_block_hash(bft_mode(mode), &header)
                .map_err(|e| ConfigError::Invalid(format!("genesis extraData: {e}"))),
            None => Ok(header.hash_slow()),
        }
    }

    /// The network definition this genesis describes: its chain id, gas
    /// limit, timestamp, hardfork, BFT settings (Besu's defaults for those
    /// it leaves out), transitions and allocations, no dev accounts (they
    /// would change the state root), and its genesis block's header fields,
    /// so the network's genesis block is the one Besu builds. Its nodes are
    /// as many validators as the extraData names (their keys are forja's;
    /// see `network::bft_config` for when they take over).
    pub fn network_config(&self) -> Result<NetworkConfig, ConfigError> {
        let Some((mode, options)) = self.consensus() else {
            let other = ["clique", "ethash"]
                .into_iter()
                .find(|k| self.config.other.contains_key(*k))
                .unwrap_or("no qbft or ibft2 object");
            return Err(ConfigError::Invalid(format!(
                "forja runs QBFT or IBFT 2.0; this genesis configures another consensus ({other})"
            )));
        };
        let header = self.genesis_header(mode)?;
        let validators = header.validators()?;
        if validators.is_empty() {
            return Err(ConfigError::Invalid(
                "the genesis extraData names no validators".into(),
            ));
        }
        let transitions = match mode {
            ConsensusMode::Qbft => &self.config.transitions.qbft,
            ConsensusMode::Ibft2 => &self.config.transitions.ibft2,
        };
        let defaults = ConsensusConfig::default();
        let limit = |value: Option<u64>, default: usize| {
            value.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
        };
        let mut config = NetworkConfig {
            chain_id: self.config.chain_id,
            hardfork: self.hardfork()?,
            genesis_timestamp: self.timestamp,
            consensus: ConsensusConfig {
                future_messages_limit: limit(
                    options.futuremessageslimit,
                    defaults.future_messages_limit,
                ),
                future_messages_max_distance: options
                    .futuremessagesmaxdistance
                    .unwrap_or(defaults.future_messages_max_distance),
                message_queue_limit: limit(options.messagequeuelimit, defaults.message_queue_limit),
                duplicate_message_limit: limit(
                    options.duplicatemessagelimit,
                    defaults.duplicate_message_limit,
                ),
                early_round_change: false,
                mode,
                block_period_seconds: options
                    .blockperiodseconds
                    .unwrap_or(DEFAULT_BLOCK_PERIOD_SECONDS),
                request_timeout_seconds: options
                    .requesttimeoutseconds
                    .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECONDS),
                epoch_length: options.epochlength.unwrap_or(DEFAULT_EPOCH_LENGTH),
                transitions: transitions
                    .iter()
                    .map(|t| TransitionConfig {
                        block: t.block,
                        block_period_seconds: t.blockperiodseconds,
                        request_timeout_seconds: t.requesttimeoutseconds,
                        validators: t.validators.clone(),
                    })
                    .collect(),
            },
            dev_accounts: DevAccountsConfig {
                count: 0,
                ..Default::default()
            },
            genesis_header: Some(header),
            ..Default::default()
        };
        config.nodes.validators = validators.len();
        if self.gas_limit != 0 {
            config.block_gas_limit = self.gas_limit;
        }
        config.accounts = self.accounts();
        config.validate()?;
        Ok(config)
    }

    /// The `alloc` accounts as a network definition holds them.
    pub fn accounts(&self) -> Vec<GenesisAccountConfig> {
        self.alloc
            .iter()
            .map(|(address, account)| GenesisAccountConfig {
                address: *address,
                balance: account.balance,
                code: account.code.clone().filter(|code| !code.is_empty()),
                storage: account.storage.clone(),
                nonce: account.nonce.unwrap_or_default(),
            })
            .collect()
    }
}

/// Besu's `JsonUtil.normalizeKeys`: every object key lowercased.
fn lowercase_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut inner) in entries {
                lowercase_keys(&mut inner);
                map.insert(key.to_ascii_lowercase(), inner);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(lowercase_keys),
        _ => {}
    }
}

/// Why a genesis field's value is not what Besu reads there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum FieldError {
    #[error("{0} is not a non-negative integer")]
    NotNonNegative(serde_json::Number),
    #[error("`{text}`: {why}")]
    BadNumber { text: String, why: String },
    #[error("expected a number, got {0}")]
    NotANumber(Value),
    #[error("{0} is too large")]
    TooLarge(U256),
    #[error("`{text}` is not hex: {why}")]
    NotHex { text: String, why: String },
    #[error("`{0}` is longer than 32 bytes")]
    TooLong(String),
}

/// A number as Besu reads one: a JSON number, or a hex (`0x`) or decimal string.
fn parse_number(value: &Value) -> Result<U256, FieldError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| FieldError::NotNonNegative(n.clone())),
        Value::String(s) => U256::from_str(s.trim()).map_err(|e| FieldError::BadNumber {
            text: s.clone(),
            why: e.to_string(),
        }),
        other => Err(FieldError::NotANumber(other.clone())),
    }
}

/// Hex data with or without `0x` (Besu accepts both in `code` and storage).
fn parse_hex(text: &str) -> Result<Vec<u8>, FieldError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let padded;
    let digits = if digits.len() % 2 == 1 {
        padded = format!("0{digits}");
        padded.as_str()
    } else {
        digits
    };
    alloy::hex::decode(digits).map_err(|e| FieldError::NotHex {
        text: text.to_owned(),
        why: e.to_string(),
    })
}

/// A 32-byte word, left-padded when shorter (Besu's `fromHexStringLenient`).
fn parse_word(text: &str) -> Result<B256, FieldError> {
    let bytes = parse_hex(text)?;
    if bytes.len() > 32 {
        return Err(FieldError::TooLong(text.to_owned()));
    }
    Ok(B256::left_padding_from(&bytes))
}

/// The number types genesis fields hold.
trait Quantity: Sized {
    fn to_u256(&self) -> U256;
    fn from_u256(n: U256) -> Option<Self>;
}

impl Quantity for u64 {
    fn to_u256(&self) -> U256 {
        U256::from(*self)
    }
    fn from_u256(n: U256) -> Option<Self> {
        u64::try_from(n).ok()
    }
}

impl Quantity for U256 {
    fn to_u256(&self) -> U256 {
        *self
    }
    fn from_u256(n: U256) -> Option<Self> {
        Some(n)
    }
}

mod number {
    use super::*;

    pub(super) fn serialize<T: Quantity, S: Serializer>(n: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", n.to_u256()))
    }

    pub(super) fn deserialize<'de, T: Quantity, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let value = Value::deserialize(d)?;
        let n = parse_number(&value).map_err(serde::de::Error::custom)?;
        T::from_u256(n).ok_or_else(|| serde::de::Error::custom(format!("{n} is too large")))
    }
}

/// A number Besu's own files write as a JSON number (`chainId`, a
/// transition's `block`); read in any of Besu's forms.
mod json_number {
    use super::*;

    pub(super) fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*n)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        super::number::deserialize(d)
    }
}

mod opt_number {
    use super::*;

    pub(super) fn serialize<S: Serializer>(n: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match n {
            Some(n) => s.serialize_u64(*n),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let n = parse_number(&value).map_err(serde::de::Error::custom)?;
                u64::try_from(n)
                    .map(Some)
                    .map_err(|_| serde::de::Error::custom(format!("{n} is too large")))
            }
        }
    }
}

/// An optional number Besu reads as a string (`baseFeePerGas`): written as hex.
mod opt_quantity {
    use super::*;

    pub(super) fn serialize<S: Serializer>(n: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match n {
            Some(n) => s.serialize_str(&format!("{n:#x}")),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        super::opt_number::deserialize(d)
    }
}

mod word {
    use super::*;

    pub(super) fn serialize<S: Serializer>(w: &B256, s: S) -> Result<S::Ok, S::Error> {
        w.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<B256, D::Error> {
        parse_word(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

mod data {
    use super::*;

    pub(super) fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        b.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        parse_hex(&String::deserialize(d)?)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

mod opt_data {
    use super::*;

    pub(super) fn serialize<S: Serializer>(b: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
        b.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| parse_hex(&text).map(Bytes::from))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

mod storage {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<U256, U256>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let words: BTreeMap<B256, B256> = map
            .iter()
            .map(|(k, v)| (B256::from(*k), B256::from(*v)))
            .collect();
        words.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<U256, U256>, D::Error> {
        BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| Ok((parse_word(&k)?.into(), parse_word(&v)?.into())))
            .collect::<Result<_, FieldError>>()
            .map_err(serde::de::Error::custom)
    }
}
