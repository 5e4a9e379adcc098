//! Besu's genesis.json, checked against Besu's own data (fixtures/besu/,
//! see its README): genesis block hashes and state roots from Besu's
//! `GenesisStateTest`, the QBFT extraData vector of `QbftExtraDataCodecTest`,
//! and Alastria's Red B genesis run as a dev twin.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use crate::common::WAIT;
use alloy::{
    eips::BlockId,
    primitives::{Address, B256, Bytes, Signature, U256, b256},
};
use forja_consensus::{BftExtraData, BftMode, Vote};
use forja_runtime::{
    Hardfork, Network, NetworkConfig, StorageMode,
    besu::BesuGenesis,
    config::{ConsensusMode, DevAccountsConfig},
    network::genesis_world,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/besu")
        .join(name)
}

/// The state root of a genesis's `alloc`, computed by forja's state.
fn state_root(genesis: &BesuGenesis) -> B256 {
    let config = NetworkConfig {
        dev_accounts: DevAccountsConfig {
            count: 0,
            ..Default::default()
        },
        accounts: genesis.accounts(),
        ..Default::default()
    };
    genesis_world(&config).unwrap().state_root()
}

#[test]
fn genesis_hashes_and_state_roots_are_besus() {
    // (file, Besu's expected state root, Besu's expected block hash), from
    // GenesisStateTest: createFromJsonWithAllocs, createFromJsonWithNonce
    // (custom coinbase, difficulty, mixHash, nonce, extraData) and
    // genesisFromPrague (base fee, withdrawals, blob fields, requests hash).
    let cases = [
        (
            "genesis1.json",
            Some(b256!(
                "92683e6af0f8a932e5fe08c870f2ae9d287e39d4518ec544b0be451f1035fd39"
            )),
            None,
        ),
        (
            "genesisNonce.json",
            None,
            Some(b256!(
                "36750291f1a8429aeb553a790dc2d149d04dbba0ca4cfc7fd5eb12d478117c9f"
            )),
        ),
        (
            "genesis_prague.json",
            Some(b256!(
                "7f5cfe1375a61009a22d24512d18035bc8f855129452fa9c6a6be2ef4e9da7db"
            )),
            Some(b256!(
                "5d2d02fce02d1b7ca635ec91a4fe6f7aa36f9b3997ec4304e8c68d8f6f15d266"
            )),
        ),
    ];
    for (file, expected_root, expected_hash) in cases {
        let genesis = BesuGenesis::load(&fixture(file)).unwrap();
        let root = state_root(&genesis);
        if let Some(expected) = expected_root {
            assert_eq!(root, expected, "{file}: state root");
        }
        if let Some(expected) = expected_hash {
            assert_eq!(
                genesis.block_hash(root).unwrap(),
                expected,
                "{file}: block hash"
            );
        }
    }
}

#[test]
fn besus_qbft_extra_data_vector_decodes_and_reencodes_byte_for_byte() {
    let text = std::fs::read_to_string(fixture("qbft-extra-data-codec.json")).unwrap();
    let vector: serde_json::Value = serde_json::from_str(&text).unwrap();
    let encoded: Bytes = vector["encoded"].as_str().unwrap().parse().unwrap();
    let decoded = BftExtraData::decode(BftMode::Qbft, &encoded).unwrap();
    let address = |v: &serde_json::Value| v.as_str().unwrap().parse::<Address>().unwrap();
    let expected_seals: Vec<Signature> = vector["seals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seal| {
            let word = |key: &str| seal[key].as_str().unwrap().parse::<U256>().unwrap();
            Signature::new(word("r"), word("s"), seal["v"].as_u64().unwrap() == 1)
        })
        .collect();
    let expected = BftExtraData {
        vanity: vector["vanity"].as_str().unwrap().parse().unwrap(),
        validators: vector["validators"]
            .as_array()
            .unwrap()
            .iter()
            .map(address)
            .collect(),
        vote: Some(Vote {
            recipient: address(&vector["vote"]["recipient"]),
            add: vector["vote"]["add"].as_bool().unwrap(),
        }),
        round: vector["round"].as_u64().unwrap() as u32,
        seals: expected_seals,
    };
    assert_eq!(decoded, expected);
    assert_eq!(expected.encode(BftMode::Qbft), encoded);
}

#[test]
fn keys_are_read_in_any_case_and_numbers_in_besus_forms() {
    let text = r#"{
      "config": {"ChainID": "0x7e4", "LondonBlock": 0, "zerobasefee": true,
                 "QBFT": {"blockPeriodSeconds": "2", "EpochLength": 100}},
      "GASLIMIT": "1000000", "Timestamp": 10, "difficulty": "0x1",
      "extraData": "0xf83aa00000000000000000000000000000000000000000000000000000000000000000d594000000000000000000000000000000000000000ac080c0",
      "alloc": {"0000000000000000000000000000000000000001": {"balance": "1000", "code": "6001", "storage": {"0x01": "02"}}}
    }"#;
    let genesis = BesuGenesis::from_json(text, Path::new("g.json")).unwrap();
    assert_eq!(genesis.config.chain_id, 2020);
    assert_eq!(genesis.gas_limit, 1_000_000);
    assert_eq!(genesis.config.zero_base_fee, Some(true));
    let config = genesis.network_config().unwrap();
    assert_eq!(config.consensus.mode, ConsensusMode::Qbft);
    assert_eq!(config.consensus.block_period_seconds, 2);
    assert_eq!(config.consensus.epoch_length, 100);
    // Besu's default for a missing requesttimeoutseconds.
    assert_eq!(config.consensus.request_timeout_seconds, 1);
    assert_eq!(config.hardfork, Hardfork::London);
    assert_eq!(config.nodes.validators, 1);
    let account = &config.accounts[0];
    assert_eq!(account.balance, U256::from(1000));
    assert_eq!(
        account.code.as_ref().map(|c| c.to_vec()),
        Some(vec![0x60, 0x01])
    );
    assert_eq!(account.storage[&U256::from(1)], U256::from(2));
    // London at genesis without baseFeePerGas: Besu's 1 gwei.
    assert_eq!(genesis.genesis_base_fee().unwrap(), Some(1_000_000_000));
}

#[test]
fn bad_genesis_files_say_what_and_where() {
    let cases = [
        ("{", "not valid JSON"),
        (r#"{"gasLimit": "0x1"}"#, "no `config`"),
        (r#"{"config": {"chainId": 1}}"#, "gasLimit"),
        (r#"{"config": {"chainId": 1}, "gasLimit": "0xzz"}"#, "0xzz"),
    ];
    for (text, expected) in cases {
        let err = BesuGenesis::from_json(text, Path::new("net/genesis.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("net/genesis.json") && err.contains(expected),
            "{err}"
        );
    }
    let clique = BesuGenesis::from_json(
        r#"{"config": {"chainId": 1, "clique": {}}, "gasLimit": "0x1000000", "extraData": "0x"}"#,
        Path::new("g.json"),
    )
    .unwrap();
    let err = clique.network_config().unwrap_err().to_string();
    assert!(
        err.contains("QBFT or IBFT 2.0") && err.contains("clique"),
        "{err}"
    );
}

/// Alastria's Red B: IBFT 2.0, chain id 2020, 1 s blocks (3 s from its
/// transition at block 32390905), four validators named in its extraData
/// whose keys only their members hold. The dev twin keeps the genesis
/// block byte for byte and its own validators seal from block 1.
#[test]
fn alastria_red_b_imports_and_runs_as_a_dev_twin() {
    let genesis = BesuGenesis::load(&fixture("alastria-red-b-genesis.json")).unwrap();
    let config = genesis.network_config().unwrap();
    assert_eq!(config.chain_id, 2020);
    assert_eq!(config.consensus.mode, ConsensusMode::Ibft2);
    assert_eq!(config.consensus.block_period_seconds, 1);
    assert_eq!(config.consensus.request_timeout_seconds, 10);
    assert_eq!(config.consensus.transitions[0].block, 32_390_905);
    assert_eq!(
        config.consensus.transitions[0].block_period_seconds,
        Some(3)
    );
    assert_eq!(config.hardfork, Hardfork::Berlin);
    let named = BftExtraData::decode(BftMode::Ibft2, &genesis.extra_data)
        .unwrap()
        .validators;
    assert_eq!(named.len(), 4);
    assert_eq!(
        BftExtraData::decode(BftMode::Ibft2, &genesis.extra_data)
            .unwrap()
            .encode(BftMode::Ibft2),
        genesis.extra_data,
        "Red B's extraData re-encodes byte for byte"
    );
    let expected_hash = genesis.block_hash(state_root(&genesis)).unwrap();

    let network = Network::start(config, StorageMode::InMemory).unwrap();
    let node = network.node(0);
    assert_eq!(network.chain_id(), 2020);
    assert_eq!(node.read().genesis_hash(), expected_hash);
    let block0 = node.read().block_by_number(0).unwrap();
    assert_eq!(block0.header.extra_data, genesis.extra_data);
    assert_eq!(block0.header.timestamp, 0x5E26C3F7);
    assert_eq!(block0.header.gas_limit, 0xa00000);
    assert_eq!(block0.header.base_fee_per_gas, None);
    assert_eq!(
        node.admin().validators_at(BlockId::number(0)).unwrap(),
        named
    );
    let started = Instant::now();
    while node.read().block_number() < 2 {
        assert!(started.elapsed() < WAIT, "the twin made no blocks");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let own = node.admin().validators_at(BlockId::number(2)).unwrap();
    assert_eq!(own.len(), 4);
    assert!(own.iter().all(|v| !named.contains(v)));
    // Blocks on Red B's 1 s period, and Red B's balances are there.
    let b1 = node.read().block_by_number(1).unwrap().header.timestamp;
    let b2 = node.read().block_by_number(2).unwrap().header.timestamp;
    assert!(b2 > b1, "block period: {b1} then {b2}");
    let preprovisioned: Address = "0x94819810eeb5F32d881f50F3AA1Cd35D9cF9DDdc"
        .parse()
        .unwrap();
    assert_eq!(
        node.read()
            .balance(preprovisioned, BlockId::latest())
            .unwrap(),
        "0x115EEC47F6CF7E35000000".parse::<U256>().unwrap()
    );
    network.shutdown();
}

#[test]
fn a_besu_genesis_brings_its_consensus_message_limits() {
    let mut genesis = BesuGenesis::load(&fixture("alastria-red-b-genesis.json")).unwrap();
    let defaults = genesis.network_config().unwrap().consensus;
    assert_eq!(
        (
            defaults.future_messages_limit,
            defaults.future_messages_max_distance,
            defaults.message_queue_limit,
            defaults.duplicate_message_limit
        ),
        (1000, 10, 1000, 100),
        "Besu's defaults when the genesis names none"
    );
    let options = genesis.config.ibft2.as_mut().expect("Red B is IBFT 2.0");
    options.futuremessageslimit = Some(7);
    options.futuremessagesmaxdistance = Some(3);
    options.messagequeuelimit = Some(9);
    options.duplicatemessagelimit = Some(11);
    let consensus = genesis.network_config().unwrap().consensus;
    assert_eq!(
        (
            consensus.future_messages_limit,
            consensus.future_messages_max_distance,
            consensus.message_queue_limit,
            consensus.duplicate_message_limit
        ),
        (7, 3, 9, 11)
    );
}
