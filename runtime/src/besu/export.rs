//! A network definition as the files a Besu operator runs it from
//! (`forja network export --besu DIR`): `genesis.json`, one directory per
//! node (`key`, `config.toml`, `permissions_config.toml`,
//! `static-nodes.json`) and a `docker-compose.yml` that starts the same
//! network with the official `hyperledger/besu` image.
//!
//! Targets Besu [`BESU_RELEASE`]: `config.toml` holds only options of that
//! release (an unknown key stops Besu at start-up; the test checks every key
//! against the release's option list).

use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

use alloy::primitives::{Address, B256, U256};
use forja_consensus::{BFT_MIX_HASH, BftExtraData};
use serde_json::Value;

use super::genesis::{
    BesuAccount, BesuChainConfig, BesuGenesis, BesuTransitions, BftOptions, BftTransition,
    MILESTONES, bft_mode,
};
use crate::{
    config::{ConsensusMode, NetworkConfig, NodeKey},
    error::ConfigError,
    spec::Hardfork,
};

/// The Besu release the export targets.
pub const BESU_RELEASE: &str = "26.2.0";

/// The pinned image the compose file runs.
pub const BESU_IMAGE: &str = "hyperledger/besu:26.2.0";

/// Ports inside each container (Besu's defaults).
pub const P2P_PORT: u16 = 30303;
pub const RPC_PORT: u16 = 8545;

/// The loopback port the compose file publishes node 0's RPC on; node i's
/// is this plus i.
pub const FIRST_HOST_RPC_PORT: u16 = 8545;

/// Where a node's directory is mounted in its container, and the genesis.
const NODE_MOUNT: &str = "/opt/besu/node";
const GENESIS_MOUNT: &str = "/opt/besu/genesis.json";
const AUTH_MOUNT: &str = "/opt/besu/auth";

/// One node of the export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedNode {
    /// Its directory under the export (`node-0`, …).
    pub dir: String,
    pub address: Address,
    pub is_validator: bool,
    /// Its enode URL on the compose network.
    pub enode: String,
    /// Its JSON-RPC endpoint on the host (loopback).
    pub rpc_url: String,
}

/// A file of the export, relative to its directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// A private key: written readable by its owner only.
    pub secret: bool,
}

/// Everything an export writes, and what it could not carry over.
#[derive(Clone, Debug)]
pub struct BesuExport {
    pub genesis: BesuGenesis,
    pub nodes: Vec<ExportedNode>,
    pub files: Vec<ExportFile>,
    /// What differs on Besu, for the user to read.
    pub notes: Vec<String>,
}

/// The compose network's address of node `index`.
fn node_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(172, 16, 239, 11 + index as u8)
}

const SUBNET: &str = "172.16.239.0/24";

impl BesuGenesis {
    /// The genesis.json Besu builds `config`'s genesis block from, with
    /// `validators` in its extraData (sorted ascending, as Besu requires).
    /// Returns notes on what Besu cannot do as forja does.
    pub fn from_network(
        config: &NetworkConfig,
        validators: &[Address],
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut notes = Vec::new();
        let mut other = BTreeMap::new();
        for (name, completes) in MILESTONES {
            let active = match completes {
                // Forks before byzantium, and the ones inside a forja
                // hardfork (constantinople, muir glacier), come with it.
                None if name == "constantinopleBlock" => config.hardfork >= Hardfork::Petersburg,
                None if name == "muirGlacierBlock" => config.hardfork >= Hardfork::Istanbul,
                None => true,
                // Besu's two names for petersburg: write the usual one.
                Some(_) if name == "constantinopleFixBlock" => false,
                Some(fork) => config.hardfork >= fork,
            };
            if active {
                other.insert(name.to_owned(), Value::from(0u64));
            }
        }
        let london = config.hardfork >= Hardfork::London;
        let period = |seconds: u64, at: &str, notes: &mut Vec<String>| {
            if seconds == 0 {
                notes.push(format!(
                    "{at}: block period 0 (a block as soon as a transaction is pending) has no Besu equivalent; exported as blockperiodseconds 1"
                ));
                1
            } else {
                seconds
            }
        };
        let consensus = &config.consensus;
        let options = BftOptions {
            blockperiodseconds: Some(period(
                consensus.block_period_seconds,
                "consensus",
                &mut notes,
            )),
            epochlength: Some(consensus.epoch_length),
            requesttimeoutseconds: Some(consensus.request_timeout_seconds.max(1)),
            futuremessageslimit: Some(consensus.future_messages_limit as u64),
            futuremessagesmaxdistance: Some(consensus.future_messages_max_distance),
            messagequeuelimit: Some(consensus.message_queue_limit as u64),
            duplicatemessagelimit: Some(consensus.duplicate_message_limit as u64),
            ..Default::default()
        };
        let transitions: Vec<BftTransition> = consensus
            .transitions
            .iter()
            .map(|t| BftTransition {
                block: t.block,
                blockperiodseconds: t
                    .block_period_seconds
                    .map(|s| period(s, &format!("transition at block {}", t.block), &mut notes)),
                requesttimeoutseconds: t.request_timeout_seconds,
                validators: t.validators.clone(),
                other: BTreeMap::new(),
            })
            .collect();
        let (qbft, ibft2, transitions) = match consensus.mode {
            ConsensusMode::Qbft => (
                Some(options),
                None,
                BesuTransitions {
                    qbft: transitions,
                    ..Default::default()
                },
            ),
            ConsensusMode::Ibft2 => (
                None,
                Some(options),
                BesuTransitions {
                    ibft2: transitions,
                    ..Default::default()
                },
            ),
        };
        let mut alloc = BTreeMap::new();
        let ether = U256::from(10u64).pow(U256::from(18));
        for signer in config.dev_accounts()? {
            alloc.insert(
                signer.address(),
                BesuAccount {
                    balance: U256::from(config.dev_accounts.balance_ether) * ether,
                    ..Default::default()
                },
            );
        }
        for account in &config.accounts {
            alloc.insert(
                account.address,
                BesuAccount {
                    balance: account.balance,
                    code: account.code.clone(),
                    storage: account.storage.clone(),
                    nonce: (account.nonce != 0).then_some(account.nonce),
                    other: BTreeMap::new(),
                },
            );
        }
        let mut genesis = BesuGenesis {
            config: BesuChainConfig {
                chain_id: config.chain_id,
                qbft,
                ibft2,
                transitions,
                // Free gas as Besu does it: every base fee 0 from London on.
                zero_base_fee: london.then_some(true),
                contract_size_limit: None,
                other,
            },
            nonce: 0,
            timestamp: config.genesis_timestamp,
            gas_limit: config.block_gas_limit,
            difficulty: U256::from(1),
            mix_hash: BFT_MIX_HASH,
            coinbase: Address::ZERO,
            extra_data: BftExtraData::genesis(validators.to_vec()).encode(bft_mode(consensus.mode)),
            // forja's genesis base fee is 0; Besu's default would be 1 gwei.
            base_fee_per_gas: london.then_some(0),
            parent_hash: B256::ZERO,
            excess_blob_gas: 0,
            blob_gas_used: 0,
            parent_beacon_block_root: B256::ZERO,
            alloc,
        };
        // A definition read from a genesis.json keeps its genesis block.
        if let Some(header) = &config.genesis_header {
            genesis.extra_data = header.extra_data.clone();
            genesis.coinbase = header.coinbase;
            genesis.difficulty = header.difficulty;
            genesis.mix_hash = header.mix_hash;
            genesis.nonce = header.nonce;
            genesis.parent_hash = header.parent_hash;
            genesis.base_fee_per_gas = header.base_fee_per_gas;
        }
        if config.hardfork >= Hardfork::Prague {
            notes.push(
                "prague: check that the targeted Besu release runs Prague under QBFT/IBFT 2.0 for your network (system contracts in alloc)".into(),
            );
        }
        Ok((genesis, notes))
    }
}

/// The export of `config`. `base_dir` is where relative paths of its
/// `[rpc]` table (credentials and JWT key files) start.
pub fn export(config: &NetworkConfig, base_dir: &Path) -> Result<BesuExport, ConfigError> {
    config.validate()?;
    let keys = config.node_keys()?;
    let validators: Vec<Address> = keys
        .iter()
        .filter(|k| k.is_validator)
        .map(NodeKey::address)
        .collect();
    let (genesis, mut notes) = BesuGenesis::from_network(config, &validators)?;
    if config.genesis_header.is_some() {
        let named = BftExtraData::decode(bft_mode(config.consensus.mode), &genesis.extra_data)
            .map(|e| e.validators)
            .unwrap_or_default();
        let mut own = validators.clone();
        own.sort();
        if named != own {
            notes.push(
                "the genesis names validators whose keys are not in this export; the exported nodes are forja's own and validate only from a `validators` transition".into(),
            );
        }
    }
    let mut files = vec![ExportFile {
        path: "genesis.json".into(),
        contents: genesis.to_json_pretty().into_bytes(),
        secret: false,
    }];

    let nodes: Vec<ExportedNode> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| ExportedNode {
            dir: format!("node-{index}"),
            address: key.address(),
            is_validator: key.is_validator,
            enode: format!(
                "enode://{}@{}:{P2P_PORT}",
                alloy::hex::encode(key.node_id()),
                node_ip(index)
            ),
            rpc_url: format!("http://127.0.0.1:{}", FIRST_HOST_RPC_PORT as usize + index),
        })
        .collect();

    // Every node allows every node of the definition unless it names its
    // own list; a listed node outside the definition keeps loopback.
    let permissions = config.permissions(&keys)?;
    let enodes: BTreeMap<_, _> = keys
        .iter()
        .zip(&nodes)
        .map(|(key, node)| (key.node_id(), node.enode.clone()))
        .collect();
    let permissions_toml = permissions.to_besu_toml_with(|id| {
        enodes
            .get(id)
            .cloned()
            .unwrap_or_else(|| crate::config::enode(id, P2P_PORT))
    });
    let static_nodes =
        serde_json::to_string_pretty(&nodes.iter().map(|n| n.enode.as_str()).collect::<Vec<_>>())
            .expect("strings serialise")
            + "\n";

    let rpc = rpc_options(config, base_dir, &mut files, &mut notes)?;
    for (index, (node, key)) in nodes.iter().zip(&keys).enumerate() {
        let dir = PathBuf::from(&node.dir);
        files.push(ExportFile {
            path: dir.join("key"),
            // Besu's key file: the private key as 0x-prefixed hex, one line
            // (KeyPairUtil.storeKeyPair writes Bytes.toString()).
            contents: format!("{}", key.signer.to_bytes()).into_bytes(),
            secret: true,
        });
        files.push(ExportFile {
            path: dir.join("config.toml"),
            contents: node_config_toml(config, index, &rpc).into_bytes(),
            secret: false,
        });
        files.push(ExportFile {
            path: dir.join("permissions_config.toml"),
            contents: permissions_toml.clone().into_bytes(),
            secret: false,
        });
        files.push(ExportFile {
            path: dir.join("static-nodes.json"),
            contents: static_nodes.clone().into_bytes(),
            secret: false,
        });
    }
    files.push(ExportFile {
        path: "docker-compose.yml".into(),
        contents: docker_compose(&nodes).into_bytes(),
        secret: false,
    });
    Ok(BesuExport {
        genesis,
        nodes,
        files,
        notes,
    })
}

/// The network definition's `[rpc]` table as Besu options (they are
/// Besu's config-file keys); files it names are copied into `auth/`.
fn rpc_options(
    config: &NetworkConfig,
    base_dir: &Path,
    files: &mut Vec<ExportFile>,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<String, toml::Value>, ConfigError> {
    let mut options = BTreeMap::new();
    for (key, value) in &config.rpc.0 {
        let value = match key.as_str() {
            "rpc-http-api" | "rpc-ws-api" => {
                let groups: Vec<toml::Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|group| {
                        let dev = group.as_str().is_some_and(|g| g.eq_ignore_ascii_case("DEV"));
                        if dev {
                            notes.push(format!(
                                "[rpc] {key}: DEV (evm_*, anvil_*, hardhat_*) is forja's; Besu has no such group, left out"
                            ));
                        }
                        !dev
                    })
                    .cloned()
                    .collect();
                toml::Value::Array(groups)
            }
            "rpc-http-authentication-credentials-file"
            | "rpc-http-authentication-jwt-public-key-file" => {
                let name = value.as_str().ok_or_else(|| {
                    ConfigError::Invalid(format!("[rpc] {key} must be a file name"))
                })?;
                let source = base_dir.join(name);
                let contents = std::fs::read(&source).map_err(|source_err| ConfigError::Read {
                    path: source.clone(),
                    source: source_err,
                })?;
                let file_name = Path::new(name)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| key.clone());
                files.push(ExportFile {
                    path: Path::new("auth").join(&file_name),
                    contents,
                    secret: false,
                });
                toml::Value::String(format!("{AUTH_MOUNT}/{file_name}"))
            }
            _ => value.clone(),
        };
        options.insert(key.clone(), value);
    }
    Ok(options)
}

/// A node's config.toml: Besu options only (see [`BESU_RELEASE`]).
fn node_config_toml(
    config: &NetworkConfig,
    index: usize,
    rpc: &BTreeMap<String, toml::Value>,
) -> String {
    let mut table = toml::Table::new();
    let mut set = |key: &str, value: toml::Value| {
        table.insert(key.to_owned(), value);
    };
    let path = |name: &str| toml::Value::String(format!("{NODE_MOUNT}/{name}"));
    set("genesis-file", toml::Value::String(GENESIS_MOUNT.into()));
    set("data-path", path("data"));
    set("node-private-key-file", path("key"));
    set("static-nodes-file", path("static-nodes.json"));
    set("discovery-enabled", toml::Value::Boolean(false));
    set("sync-mode", toml::Value::String("FULL".into()));
    // The address other nodes reach it at (Besu advertises p2p-host).
    set("p2p-host", toml::Value::String(node_ip(index).to_string()));
    set("p2p-port", toml::Value::Integer(P2P_PORT.into()));
    set(
        "min-gas-price",
        toml::Value::Integer(config.min_gas_price as i64),
    );
    set("rpc-http-enabled", toml::Value::Boolean(true));
    // Inside the container; the compose file publishes it on 127.0.0.1 only.
    set("rpc-http-host", toml::Value::String("0.0.0.0".into()));
    set("rpc-http-port", toml::Value::Integer(RPC_PORT.into()));
    set("permissions-nodes-config-file-enabled", true.into());
    set(
        "permissions-nodes-config-file",
        path("permissions_config.toml"),
    );
    if config.permissioning.enabled {
        set("permissions-accounts-config-file-enabled", true.into());
        set(
            "permissions-accounts-config-file",
            path("permissions_config.toml"),
        );
    }
    for (key, value) in rpc {
        set(key, value.clone());
    }
    toml::to_string(&table).expect("a config always serialises")
}

/// The compose file: one service per node on a fixed subnet (enode URLs
/// need addresses), RPC published on 127.0.0.1 only.
fn docker_compose(nodes: &[ExportedNode]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Generated by forja for Besu {BESU_RELEASE}. Start: docker compose up -d\n"
    ));
    out.push_str("services:\n");
    for (index, node) in nodes.iter().enumerate() {
        let host_port = FIRST_HOST_RPC_PORT as usize + index;
        out.push_str(&format!(
            "  {dir}:\n    image: \"{BESU_IMAGE}\"\n    command: [\"--config-file={NODE_MOUNT}/config.toml\"]\n    volumes:\n      - \"./genesis.json:{GENESIS_MOUNT}:ro\"\n      - \"./{dir}:{NODE_MOUNT}\"\n",
            dir = node.dir
        ));
        out.push_str(&format!("      - \"./auth:{AUTH_MOUNT}:ro\"\n"));
        out.push_str(&format!(
            "    ports:\n      - \"127.0.0.1:{host_port}:{RPC_PORT}\"\n    networks:\n      besu:\n        ipv4_address: \"{}\"\n",
            node_ip(index)
        ));
    }
    out.push_str(&format!(
        "networks:\n  besu:\n    driver: bridge\n    ipam:\n      config:\n        - subnet: \"{SUBNET}\"\n"
    ));
    out
}

impl BesuExport {
    /// Writes the files under `dir`, which must not exist or be empty (an
    /// export holds keys; it never overwrites another). Errors name the path.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        let at = |path: &Path, e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        };
        if dir.exists()
            && std::fs::read_dir(dir)
                .map_err(|e| at(dir, e))?
                .next()
                .is_some()
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} is not empty; export into a new directory",
                    dir.display()
                ),
            ));
        }
        std::fs::create_dir_all(dir.join("auth")).map_err(|e| at(dir, e))?;
        for file in &self.files {
            let path = dir.join(&file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| at(parent, e))?;
            }
            write_file(&path, &file.contents, file.secret).map_err(|e| at(&path, e))?;
        }
        Ok(())
    }
}

fn write_file(path: &Path, contents: &[u8], secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let _ = secret;
    options.open(path)?.write_all(contents)
}
