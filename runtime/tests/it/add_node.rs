//! Besu's "add a new node" on a running in-process network: the node starts
//! from genesis, is refused by its peers until its enode is on the node
//! allowlists, then syncs and follows; after a validator vote it proposes
//! and seals blocks. With a data directory it is part of the next start.

use std::time::Duration;

use crate::common::*;
use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use forja_consensus::{BftMode, recover_committers};
use forja_runtime::{Network, NetworkConfig, NodeHandle, StorageMode, config::PermissioningConfig};

/// `config(4)` with node and account permissioning on; dev account 0 is the admin.
fn permissioned() -> NetworkConfig {
    let mut config = config(4);
    let admin = config.dev_accounts().unwrap()[0].address();
    config.permissioning = PermissioningConfig {
        enabled: true,
        accounts: Default::default(),
        admins: vec![admin],
        nodes: None,
    };
    config
}

/// Commits one block with a transfer from dev account 0, through `node`.
fn one_block(network: &Network, node: &NodeHandle) {
    let (sender, signer) = dev_account(network, 0);
    let nonce = node.pool().next_nonce(sender);
    let tx = sign_1559(
        &signer,
        transfer(network.chain_id(), nonce, Address::repeat_byte(9), 1),
    );
    let hash = node.pool().submit_transaction(tx).unwrap();
    wait_for_receipt(node, hash);
}

#[test]
fn a_node_added_to_a_running_network_syncs_and_follows() {
    let config = permissioned();
    let network = Network::start(config.clone(), StorageMode::InMemory).unwrap();
    let node = network.node(0);
    let admin = network.dev_accounts()[0].0;
    for _ in 0..3 {
        one_block(&network, &node);
    }

    let added = network.add_node(PrivateKeySigner::random()).unwrap();
    assert_eq!(added.index(), 4);
    assert_eq!(network.nodes().len(), 5);
    assert!(!added.is_validator());
    assert_eq!(added.read().genesis_hash(), node.read().genesis_hash());

    // Not on the node allowlist: the peers refuse it, it syncs nothing,
    // even as blocks keep coming.
    one_block(&network, &node);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(added.read().block_number(), 0);
    assert!(added.admin().peers().is_empty());
    assert!(
        node.admin()
            .peers()
            .iter()
            .all(|p| p.node_id != added.node_id())
    );

    // Allowlisted (perm_addNodesToAllowlist): it syncs from genesis...
    node.admin()
        .add_nodes_to_allowlist(admin, vec![added.node_id()])
        .unwrap();
    assert!(added.admin().nodes_allowlist().contains(&added.node_id()));
    let head = node.read().block_number();
    wait_until("the added node to sync", || {
        added.read().block_number() >= head
    });
    assert_eq!(
        added.read().block_by_number(head).unwrap().hash,
        node.read().block_by_number(head).unwrap().hash
    );
    assert!(
        node.admin()
            .peers()
            .iter()
            .any(|p| p.node_id == added.node_id())
    );
    assert_eq!(added.admin().peers().len(), 4);

    // ...and follows: a transaction sent through it is committed, and it
    // has the blocks that come after.
    let (sender, signer) = dev_account(&network, 0);
    let tx = sign_1559(
        &signer,
        transfer(
            network.chain_id(),
            added.pool().next_nonce(sender),
            Address::repeat_byte(7),
            1,
        ),
    );
    let hash = added.pool().submit_transaction(tx).unwrap();
    wait_for_receipt(&node, hash);
    wait_for_receipt(&added, hash);
    one_block(&network, &node);
    let head = node.read().block_number();
    wait_until("the added node to follow", || {
        added.read().block_number() >= head
    });

    // A key another node holds is refused, and the network is unchanged.
    let taken = config.node_keys().unwrap()[1].signer.clone();
    let error = network.add_node(taken).unwrap_err().to_string();
    assert!(
        error.contains("node 1 already runs with this key"),
        "{error}"
    );
    let again = network
        .add_node(PrivateKeySigner::from_bytes(&alloy::primitives::B256::repeat_byte(1)).unwrap())
        .unwrap();
    let error = network
        .add_node(PrivateKeySigner::from_bytes(&alloy::primitives::B256::repeat_byte(1)).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("node {} already runs", again.index())),
        "{error}"
    );
    assert_eq!(network.nodes().len(), 6);
    network.shutdown();
}

#[test]
fn after_the_vote_the_new_validator_proposes_and_seals() {
    let network = Network::start(config(4), StorageMode::InMemory).unwrap();
    let node = network.node(0);
    let added = network.add_node(PrivateKeySigner::random()).unwrap();
    let address = added.address();
    one_block(&network, &node);
    wait_until("the added node to sync", || {
        added.read().block_number() >= 1
    });

    // Three of four validators (more than half) vote it in.
    for index in 0..3 {
        network
            .node(index)
            .admin()
            .propose_validator_vote(address, true);
    }
    for _ in 0..24 {
        if node.admin().current_validators().contains(&address) {
            break;
        }
        one_block(&network, &node);
    }
    assert!(node.admin().current_validators().contains(&address));
    assert_eq!(node.admin().current_validators().len(), 5);
    let joined_at = node.read().block_number();
    wait_until("the added node to see itself as a validator", || {
        added.is_validator()
    });

    // Round-robin over five validators: within a few rotations it proposes
    // a block, and its seal is among the commit seals of the blocks after
    // the vote (four of five seal each one).
    let mut proposed = false;
    let mut sealed = false;
    for _ in 0..15 {
        one_block(&network, &node);
        let block = node
            .read()
            .block_by_number(node.read().block_number())
            .unwrap();
        proposed |= block.header.beneficiary == address;
        sealed |= recover_committers(BftMode::Qbft, &block.header)
            .unwrap()
            .contains(&address);
        if proposed && sealed {
            break;
        }
    }
    assert!(
        proposed,
        "the new validator proposed none of the blocks after {joined_at}"
    );
    assert!(
        sealed,
        "the new validator sealed none of the blocks after {joined_at}"
    );
    let head = node.read().block_number();
    wait_until("every node to reach the head", || {
        network
            .nodes()
            .iter()
            .all(|n| n.read().block_number() >= head)
    });
    network.shutdown();
}

#[test]
fn an_added_node_is_part_of_the_next_start_with_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = StorageMode::Dir(dir.path().to_owned());
    let config = permissioned();
    let admin = config.dev_accounts().unwrap()[0].address();
    let network = Network::start(config.clone(), storage.clone()).unwrap();
    let node = network.node(0);
    one_block(&network, &node);
    let added = network.add_node(PrivateKeySigner::random()).unwrap();
    let (address, node_id) = (added.address(), added.node_id());
    assert!(dir.path().join("node-4.key").is_file());
    assert!(dir.path().join("node-4.redb").is_file());
    node.admin()
        .add_nodes_to_allowlist(admin, vec![node_id])
        .unwrap();
    let head = node.read().block_number();
    wait_until("the added node to sync", || {
        added.read().block_number() >= head
    });
    network.shutdown();
    drop((network, node, added));

    let network = Network::start(config.clone(), storage.clone()).unwrap();
    assert_eq!(network.nodes().len(), 5);
    let added = network.node(4);
    assert_eq!((added.address(), added.node_id()), (address, node_id));
    assert!(added.read().block_number() >= head);
    assert!(added.admin().nodes_allowlist().contains(&node_id));
    let node = network.node(0);
    one_block(&network, &node);
    let head = node.read().block_number();
    wait_until("the restarted added node to follow", || {
        added.read().block_number() >= head
    });
    // A backup holds it too, and a restored network runs it.
    let backup = network.backup(Some("with-added")).unwrap();
    network.shutdown();
    drop((network, node, added));
    let restored = tempfile::tempdir().unwrap();
    forja_runtime::backup::restore(&backup.path, restored.path()).unwrap();
    let network =
        Network::start(config.clone(), StorageMode::Dir(restored.path().to_owned())).unwrap();
    assert_eq!(network.nodes().len(), 5);
    assert_eq!(network.node(4).address(), address);
    network.shutdown();
    drop(network);

    // A damaged record stops the start with its file named.
    std::fs::write(dir.path().join("added-nodes.json"), "{\"nodes\": 4").unwrap();
    let error = Network::start(config, storage).unwrap_err().to_string();
    assert!(error.contains("added-nodes.json"), "{error}");
}
