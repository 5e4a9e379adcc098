//! `forja network export --besu`'s files, checked as Besu and docker
//! compose would read them, and re-imported as forja reads a genesis.json.

use std::{collections::BTreeSet, path::Path};

use alloy::{
    primitives::{Address, B256},
    signers::local::PrivateKeySigner,
};
use forja_consensus::{BftExtraData, BftMode};
use forja_runtime::{
    NetworkConfig,
    besu::{BESU_IMAGE, BesuGenesis, export},
    config::{ConsensusMode, node_id, parse_node_id},
    network::{bft_config, genesis},
    permissions::Permissions,
};

/// Besu 26.2.0's option names (fixtures/besu/README.md).
fn besu_options() -> BTreeSet<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/besu/besu-26.2.0-options.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn genesis_hash(config: &NetworkConfig) -> B256 {
    genesis(config, &config.node_keys().unwrap())
        .unwrap()
        .0
        .hash
}

/// A consortium's definition: IBFT 2.0, 3 validators and a member's
/// regular node, permissioning on, authentication from a credentials file.
fn consortium(dir: &Path) -> NetworkConfig {
    std::fs::write(
        dir.join("auth.toml"),
        "[Users.alice]\npassword = \"$2b$12$abc\"\npermissions = [\"*:*\"]\n",
    )
    .unwrap();
    let text = r#"
chain_id = 2020
hardfork = "london"
[consensus]
mode = "ibft2"
block_period_seconds = 2
request_timeout_seconds = 6
[[consensus.transitions]]
block = 100
block_period_seconds = 0
[nodes]
validators = 3
regular = 1
[permissioning]
enabled = true
admins = ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"]
[rpc]
rpc-http-api = ["ETH", "NET", "WEB3", "PERM", "IBFT", "DEV"]
rpc-http-authentication-enabled = true
rpc-http-authentication-credentials-file = "auth.toml"
"#;
    NetworkConfig::from_toml(text, &dir.join("network.toml")).unwrap()
}

#[test]
fn exported_files_are_what_besu_and_compose_read() {
    let project = tempfile::tempdir().unwrap();
    let config = consortium(project.path());
    let exported = export(&config, project.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("besu");
    exported.write_to(&dir).unwrap();
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();

    // genesis.json: Besu's keys, the validators sorted in IBFT 2.0 extraData.
    let text = read("genesis.json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["config"]["chainId"], 2020);
    assert_eq!(json["config"]["ibft2"]["blockperiodseconds"], 2);
    assert_eq!(json["config"]["ibft2"]["requesttimeoutseconds"], 6);
    assert_eq!(json["config"]["ibft2"]["epochlength"], 30000);
    assert_eq!(json["config"]["transitions"]["ibft2"][0]["block"], 100);
    assert_eq!(json["config"]["zeroBaseFee"], true);
    assert_eq!(json["config"]["londonBlock"], 0);
    assert_eq!(json["difficulty"], "0x1");
    assert_eq!(json["nonce"], "0x0");
    assert_eq!(json["baseFeePerGas"], "0x0");
    assert_eq!(
        json["mixHash"],
        "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
    );
    assert!(exported.notes.iter().any(|n| n.contains("block 100")));
    assert!(exported.notes.iter().any(|n| n.contains("DEV")));
    let extra: alloy::primitives::Bytes = json["extraData"].as_str().unwrap().parse().unwrap();
    let listed = BftExtraData::decode(BftMode::Ibft2, &extra)
        .unwrap()
        .validators;
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "Besu requires ascending validators");
    let validators: BTreeSet<Address> = exported
        .nodes
        .iter()
        .filter(|n| n.is_validator)
        .map(|n| n.address)
        .collect();
    assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), validators);

    // static-nodes.json: every node's enode.
    let static_nodes: Vec<String> =
        serde_json::from_str(&read("node-0/static-nodes.json")).unwrap();
    assert_eq!(static_nodes.len(), 4);

    let options = besu_options();
    for (index, node) in exported.nodes.iter().enumerate() {
        // key: 0x-prefixed hex, as Besu's KeyPairUtil writes it; it is the
        // node's enode and its address.
        let key = read(&format!("node-{index}/key"));
        assert!(key.starts_with("0x") && key.len() == 66, "{key}");
        let signer: PrivateKeySigner = key.parse().unwrap();
        assert_eq!(signer.address(), node.address);
        assert_eq!(parse_node_id(&node.enode).unwrap(), node_id(&signer));
        assert!(static_nodes.contains(&node.enode));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(format!("node-{index}/key")))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "a key file is its owner's only");
        }

        // config.toml: only options Besu 26.2.0 has.
        let config_toml: toml::Table = read(&format!("node-{index}/config.toml")).parse().unwrap();
        for key in config_toml.keys() {
            assert!(options.contains(key), "Besu 26.2.0 has no option `{key}`");
        }
        assert_eq!(config_toml["min-gas-price"].as_integer(), Some(0));
        assert_eq!(
            config_toml["rpc-http-api"].as_array().unwrap().len(),
            5,
            "DEV left out"
        );
        assert_eq!(
            config_toml["rpc-http-authentication-credentials-file"].as_str(),
            Some("/opt/besu/auth/auth.toml")
        );
        assert_eq!(
            config_toml["permissions-accounts-config-file-enabled"].as_bool(),
            Some(true)
        );

        // permissions_config.toml: Besu's format, every node's enode.
        let change = Permissions::from_besu_toml(
            &read(&format!("node-{index}/permissions_config.toml")),
            "permissions_config.toml",
        )
        .unwrap();
        let allowed = format!("{change:?}");
        assert!(
            allowed.contains(&alloy::hex::encode(parse_node_id(&node.enode).unwrap())[..16]),
            "{allowed}"
        );
    }
    assert!(dir.join("auth/auth.toml").is_file());

    // docker-compose.yml: YAML, the pinned image, RPC on loopback only.
    let compose = &yaml_rust2::YamlLoader::load_from_str(&read("docker-compose.yml")).unwrap()[0];
    let services = compose["services"].as_hash().unwrap();
    assert_eq!(services.len(), 4);
    for (index, (_, service)) in services.iter().enumerate() {
        assert_eq!(service["image"].as_str(), Some(BESU_IMAGE));
        let ports = service["ports"].as_vec().unwrap();
        assert_eq!(
            ports[0].as_str(),
            Some(format!("127.0.0.1:{}:8545", 8545 + index).as_str())
        );
    }

    // An export never overwrites another.
    let err = exported.write_to(&dir).unwrap_err().to_string();
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn an_exported_genesis_reimports_with_the_same_genesis_hash() {
    let project = tempfile::tempdir().unwrap();
    let mut qbft_prague = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    qbft_prague.nodes.validators = 4;
    let ibft2_london = consortium(project.path());
    let mut byzantium = NetworkConfig::from_toml(
        "chain_id = 2019\nhardfork = \"byzantium\"\n[nodes]\nvalidators = 2\n",
        Path::new("network.toml"),
    )
    .unwrap();
    byzantium.consensus.mode = ConsensusMode::Qbft;
    for config in [qbft_prague, ibft2_london, byzantium] {
        let exported = export(&config, project.path()).unwrap();
        let text = exported.genesis.to_json_pretty();
        let reimported = BesuGenesis::from_json(&text, Path::new("genesis.json"))
            .unwrap()
            .network_config()
            .unwrap();
        assert_eq!(
            genesis_hash(&reimported),
            genesis_hash(&config),
            "{}",
            config.hardfork
        );
        assert_eq!(reimported.chain_id, config.chain_id);
        assert_eq!(reimported.consensus.mode, config.consensus.mode);
        // The same derived keys: the validators are the network's own, no takeover.
        assert!(bft_config(&reimported).validator_overrides.is_empty());
    }
}
