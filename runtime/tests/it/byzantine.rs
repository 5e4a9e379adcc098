//! Blocks the runtime itself must refuse, whatever the consensus messages
//! around them say: a proposal whose state root is wrong, a proposal with a
//! transaction the permissioning refuses, a synced block with forged seals.
//! And nodes kept out by the node allowlist.

use crate::common::*;
use alloy::{
    primitives::{Address, B256},
    signers::local::PrivateKeySigner,
};
use forja_consensus::{BftBlock, BftExtraData, BftMode, sign_committed_seal};
use forja_runtime::{
    NetworkConfig, StorageMode,
    config::{PermissioningConfig, enode},
    node::{NetMessage, encode_body},
    permissions::{AccessLevel, PermissionChange},
    sim::{Faults, Simulation},
};
use std::sync::atomic::Ordering;

fn submit(sim: &mut Simulation, node: usize, sender: &PrivateKeySigner, value: u64) -> B256 {
    let chain_id = sim.node(node).spec.chain_id;
    let nonce = sim
        .node(node)
        .chain
        .read()
        .unwrap()
        .latest_state()
        .nonce(sender.address())
        + sim
            .node(node)
            .pool
            .lock()
            .unwrap()
            .transactions()
            .iter()
            .filter(|t| t.sender == sender.address())
            .count() as u64;
    sim.submit(
        node,
        sign_1559(
            sender,
            transfer(chain_id, nonce, Address::repeat_byte(0x42), value),
        ),
    )
    .expect("the transaction is valid")
}

fn rejected(sim: &Simulation, node: usize) -> u64 {
    sim.node(node)
        .metrics
        .blocks_rejected
        .load(Ordering::Relaxed)
}

#[test]
fn a_proposal_with_a_wrong_state_root_is_refused_and_the_chain_goes_on() {
    let config = config(4);
    let keys = config.dev_accounts().unwrap();
    let mut sim = Simulation::new(config, StorageMode::InMemory, 11, Faults::default()).unwrap();
    let bad_root = B256::repeat_byte(0xba);
    sim.tamper_proposals(0, Box::new(move |header| header.state_root = bad_root));
    // Enough heights for node 0 to be the proposer at least once.
    for height in 1..=6u64 {
        submit(&mut sim, 1, &keys[1], height);
        assert!(
            sim.run_until_height(&[1, 2, 3], height, 600_000),
            "height {height}"
        );
    }
    let honest_rejections: u64 = (1..4).map(|n| rejected(&sim, n)).sum();
    assert!(
        honest_rejections > 0,
        "the honest validators never saw node 0's bad block"
    );
    for node in 0..4 {
        let chain = sim.node(node).chain.read().unwrap();
        for number in 1..=chain.head_number() {
            assert_ne!(
                chain.block(number).unwrap().header.state_root,
                bad_root,
                "node {node} committed the bad block"
            );
        }
    }
    assert!(sim.forks().is_empty(), "{:?}", sim.forks());
}

#[test]
fn an_equivocating_proposer_cannot_fork_the_chain() {
    for validators in 4..=7usize {
        for seed in 0..2u64 {
            let seed = seed * 10 + validators as u64;
            let config = config(validators);
            let keys = config.dev_accounts().unwrap();
            let faults = Faults {
                drop_rate: 0.02,
                duplicate_rate: 0.05,
                min_delay_ms: 1,
                max_delay_ms: 30,
            };
            let mut sim = Simulation::new(config, StorageMode::InMemory, seed, faults).unwrap();
            let byzantine = seed as usize % validators;
            sim.equivocate(byzantine);
            let honest: Vec<usize> = (0..validators).filter(|n| *n != byzantine).collect();
            // Two turns of every proposer, so the byzantine one proposes.
            for height in 1..=2 * validators as u64 {
                let node = honest[height as usize % honest.len()];
                submit(&mut sim, node, &keys[height as usize % keys.len()], height);
                assert!(
                    sim.run_until_height(&honest, height, 3_600_000),
                    "seed {seed}, {validators} validators: stalled at height {height}"
                );
                assert!(
                    sim.forks().is_empty(),
                    "seed {seed}, {validators} validators: {:?}",
                    sim.forks()
                );
            }
            assert!(
                sim.twins_sent(byzantine) > 0,
                "seed {seed}: node {byzantine} never proposed, so never equivocated"
            );
        }
    }
}

fn permissioned(validators: usize, allowed: &[Address], admin: Address) -> NetworkConfig {
    let mut config = config(validators);
    config.permissioning = PermissioningConfig {
        enabled: true,
        accounts: allowed
            .iter()
            .map(|a| (*a, AccessLevel::Transact))
            .collect(),
        admins: vec![admin],
        nodes: None,
    };
    config
}

#[test]
fn a_proposal_with_a_transaction_the_allowlist_refuses_is_refused() {
    let keys = NetworkConfig::default().dev_accounts().unwrap();
    let (admin, user, stranger) = (&keys[0], &keys[1], &keys[2]);
    let config = permissioned(4, &[user.address()], admin.address());
    let mut sim = Simulation::new(config, StorageMode::InMemory, 5, Faults::default()).unwrap();
    // Node 0 is byzantine: its own lists let the stranger in, so it builds
    // blocks with the stranger's transaction, correctly executed.
    sim.node(0)
        .permissions
        .write()
        .unwrap()
        .apply(&PermissionChange::SetAccounts(vec![(
            stranger.address(),
            AccessLevel::Transact,
        )]));
    let refused = submit(&mut sim, 0, stranger, 1);
    for height in 1..=6u64 {
        submit(&mut sim, 1, user, height);
        assert!(
            sim.run_until_height(&[1, 2, 3], height, 600_000),
            "height {height}"
        );
    }
    assert!(
        (1..4).map(|n| rejected(&sim, n)).sum::<u64>() > 0,
        "node 0's blocks were never refused"
    );
    for node in 0..4 {
        let chain = sim.node(node).chain.read().unwrap();
        assert!(
            chain.transaction(&refused).is_none(),
            "node {node} committed the stranger's transaction"
        );
    }
    assert!(sim.forks().is_empty(), "{:?}", sim.forks());
}

#[test]
fn a_synced_block_with_forged_seals_is_refused() {
    let config = config(4);
    let keys = config.dev_accounts().unwrap();
    let mut sim = Simulation::new(config, StorageMode::InMemory, 2, Faults::default()).unwrap();
    submit(&mut sim, 0, &keys[0], 1);
    assert!(sim.run_until_height(&[0, 1, 2, 3], 1, 60_000));
    // Node 3 is cut off while the others commit block 2.
    sim.partition(&[&[0, 1, 2], &[3]]);
    submit(&mut sim, 0, &keys[0], 2);
    assert!(sim.run_until_height(&[0, 1, 2], 2, 60_000));
    assert_eq!(sim.height(3), 1);
    let genuine = sim.node(0).chain.read().unwrap().block(2).unwrap().clone();
    let body = encode_body(&genuine.transactions);

    // The same block sealed by three keys that are not validators.
    let mut header = genuine.header.clone();
    let mut extra = BftExtraData::from_header(BftMode::Qbft, &header).unwrap();
    extra.seals = (0..3)
        .map(|_| sign_committed_seal(BftMode::Qbft, &header, &PrivateKeySigner::random()).unwrap())
        .collect();
    header.extra_data = extra.encode(BftMode::Qbft);
    sim.deliver(
        0,
        3,
        NetMessage::NewBlock(BftBlock::new(header, body.clone())),
    );
    assert_eq!(
        sim.height(3),
        1,
        "node 3 imported a block no validator sealed"
    );
    assert_eq!(rejected(&sim, 3), 1);

    sim.deliver(
        0,
        3,
        NetMessage::NewBlock(BftBlock::new(genuine.header.clone(), body)),
    );
    assert_eq!(sim.height(3), 2, "the genuinely sealed block imports");
    assert!(sim.forks().is_empty());
}

#[test]
fn a_node_not_on_the_node_allowlist_exchanges_nothing_until_it_is_added() {
    let keys = NetworkConfig::default().dev_accounts().unwrap();
    let admin = &keys[0];
    let mut config = permissioned(4, &[keys[1].address()], admin.address());
    config.nodes.regular = 1;
    let node_keys = config.node_keys().unwrap();
    config.permissioning.nodes = Some(
        node_keys[..4]
            .iter()
            .map(|k| enode(&k.node_id(), 30303))
            .collect(),
    );
    let mut sim = Simulation::new(config, StorageMode::InMemory, 8, Faults::default()).unwrap();
    let outsider = 4;
    for height in 1..=3u64 {
        submit(&mut sim, 0, &keys[1], height);
        assert!(sim.run_until_height(&[0, 1, 2, 3], height, 60_000));
    }
    sim.run_for(10_000);
    assert_eq!(sim.height(outsider), 0, "the outsider received blocks");
    // A transaction sent to the outsider never reaches the validators.
    let lost = submit(&mut sim, outsider, &keys[1], 100);
    sim.run_for(30_000);
    assert!(sim.node(0).pool.lock().unwrap().get(&lost).is_none());
    assert!(
        sim.node(0)
            .chain
            .read()
            .unwrap()
            .transaction(&lost)
            .is_none()
    );

    // The admin adds it: applied to every node's list directly (the
    // outsider's own list too, which no message could have reached), it
    // syncs on the next block.
    sim.change_permissions(&PermissionChange::AddNodes(vec![
        node_keys[outsider].node_id(),
    ]))
    .unwrap();
    submit(&mut sim, 0, &keys[1], 4);
    assert!(
        sim.run_until_height(&[0, 1, 2, 3, 4], 4, 60_000),
        "the outsider never caught up"
    );
    assert!(sim.forks().is_empty());
}

fn round_changes(sim: &Simulation, node: usize) -> u64 {
    sim.node(node).metrics.round_changes.load(Ordering::Relaxed)
}

#[test]
fn a_proposal_stamped_far_in_the_future_is_refused_and_the_chain_goes_on() {
    let mut config = config(4);
    config.consensus.block_period_seconds = 1;
    let keys = config.dev_accounts().unwrap();
    let mut sim = Simulation::new(config, StorageMode::InMemory, 13, Faults::default()).unwrap();
    // Node 0 stamps its blocks an hour ahead: accepted, it would hold every
    // later block timer back by an hour.
    sim.tamper_proposals(0, Box::new(move |header| header.timestamp += 3600));
    for height in 1..=6u64 {
        submit(&mut sim, 1, &keys[1], height);
        assert!(
            sim.run_until_height(&[1, 2, 3], height, 120_000),
            "height {height}"
        );
    }
    let now_s = sim.now() / 1000;
    for node in 0..4 {
        let chain = sim.node(node).chain.read().unwrap();
        for number in 1..=chain.head_number() {
            let timestamp = chain.block(number).unwrap().header.timestamp;
            assert!(
                timestamp <= now_s + 1,
                "node {node} committed block {number} stamped {timestamp}, the clock reads {now_s}"
            );
        }
    }
    // Node 0's rounds were abandoned for the next proposer's.
    assert!((1..4).all(|n| round_changes(&sim, n) > 0));
    assert!(sim.forks().is_empty(), "{:?}", sim.forks());
}

#[test]
fn a_proposal_with_another_gas_limit_than_the_spec_is_refused() {
    let config = config(4);
    let keys = config.dev_accounts().unwrap();
    let spec_limit = config.spec().block_gas_limit;
    let mut sim = Simulation::new(config, StorageMode::InMemory, 17, Faults::default()).unwrap();
    sim.tamper_proposals(0, Box::new(move |header| header.gas_limit = spec_limit * 2));
    for height in 1..=6u64 {
        submit(&mut sim, 1, &keys[1], height);
        assert!(
            sim.run_until_height(&[1, 2, 3], height, 600_000),
            "height {height}"
        );
    }
    assert!(
        (1..4).map(|n| rejected(&sim, n)).sum::<u64>() > 0,
        "node 0's blocks were never refused"
    );
    for node in 0..4 {
        let chain = sim.node(node).chain.read().unwrap();
        for number in 1..=chain.head_number() {
            assert_eq!(chain.block(number).unwrap().header.gas_limit, spec_limit);
        }
    }
    assert!(sim.forks().is_empty(), "{:?}", sim.forks());
}

#[test]
fn round_changes_count_rounds_that_changed_not_timer_expiries() {
    let config = config(4);
    let keys = config.dev_accounts().unwrap();
    let mut sim = Simulation::new(config, StorageMode::InMemory, 19, Faults::default()).unwrap();
    for height in 1..=6u64 {
        submit(&mut sim, height as usize % 4, &keys[1], height);
        assert!(sim.run_until_height(&[0, 1, 2, 3], height, 60_000));
    }
    // Every round timer set for a decided height still fires (the simulator
    // does not cancel timers); none of them is a round change.
    sim.run_for(120_000);
    for node in 0..4 {
        assert_eq!(round_changes(&sim, node), 0, "node {node}");
    }
    // A crashed proposer's turn is a round change on every other node.
    let proposer_of_7 = {
        let view = sim.node(0).consensus.read().unwrap().clone();
        let chain = sim.node(0).chain.read().unwrap();
        let head = &chain.head().header;
        let next = forja_consensus::select_proposer(&view.validators, head.beneficiary, 0);
        (0..4).find(|n| sim.node(*n).key.address() == next).unwrap()
    };
    sim.crash(proposer_of_7);
    let others: Vec<usize> = (0..4).filter(|n| *n != proposer_of_7).collect();
    submit(&mut sim, others[0], &keys[1], 7);
    assert!(sim.run_until_height(&others, 7, 120_000));
    for node in others {
        assert_eq!(round_changes(&sim, node), 1, "node {node}");
    }
}

#[test]
fn a_node_more_than_a_sync_window_behind_catches_up() {
    let config = config(4);
    let keys = config.dev_accounts().unwrap();
    let mut sim = Simulation::new(config, StorageMode::InMemory, 23, Faults::default()).unwrap();
    sim.partition(&[&[0, 1, 2], &[3]]);
    let behind = forja_runtime::node::SYNC_WINDOW + 6;
    for height in 1..=behind {
        submit(&mut sim, 0, &keys[0], height);
        assert!(
            sim.run_until_height(&[0, 1, 2], height, 60_000),
            "height {height}"
        );
    }
    assert_eq!(sim.height(3), 0);
    sim.heal();
    // The next block's announcement is beyond node 3's window: it is not
    // kept, and node 3 asks for the blocks after its head instead.
    submit(&mut sim, 0, &keys[0], behind + 1);
    assert!(
        sim.run_until_height(&[0, 1, 2, 3], behind + 1, 120_000),
        "node 3 is at {}",
        sim.height(3)
    );
    assert!(sim.forks().is_empty(), "{:?}", sim.forks());
}
