//! Deterministic simulations of whole networks (the runtime's node cores:
//! execution, pools, block import, storage and the QBFT engine) over a
//! lossy, reordering, partitionable transport, with crashes and byzantine
//! proposers. Every run is seeded; a failure names its seed.

use crate::common::*;
use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256},
    signers::local::PrivateKeySigner,
};
use forja_consensus::max_faulty;
use forja_runtime::{
    StorageMode,
    sim::{Faults, Simulation},
};

fn dev_keys(config: &forja_runtime::NetworkConfig) -> Vec<PrivateKeySigner> {
    config.dev_accounts().expect("dev accounts derive")
}

/// Submits a transfer from `sender` with the nonce the most advanced node
/// expects (a transaction lost with a crashed pool is simply sent again).
fn submit_transfer(
    sim: &mut Simulation,
    node: usize,
    sender: &PrivateKeySigner,
    value: u64,
) -> Option<B256> {
    let chain_id = sim.node(node).spec.chain_id;
    let nonce = (0..sim.len())
        .map(|n| {
            sim.node(n)
                .chain
                .read()
                .unwrap()
                .latest_state()
                .nonce(sender.address())
        })
        .max()
        .unwrap_or(0);
    let tx: TxEnvelope = sign_1559(
        sender,
        transfer(chain_id, nonce, Address::repeat_byte(0x77), value),
    );
    sim.submit(node, tx).ok()
}

/// Height, round and pool size of every node, for failure messages.
fn describe(sim: &Simulation) -> String {
    (0..sim.len())
        .map(|n| {
            let node = sim.node(n);
            let view = node.consensus.read().unwrap().clone();
            format!(
                "node {n}{}: head {} round {}/{} pool {}",
                if sim.is_running(n) { "" } else { " (down)" },
                sim.height(n),
                view.height,
                view.round,
                node.pool.lock().unwrap().len()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn assert_no_fork(sim: &Simulation, seed: u64) {
    let forks = sim.forks();
    assert!(
        forks.is_empty(),
        "seed {seed}: nodes committed different blocks: {forks:?}"
    );
}

#[test]
fn no_two_nodes_ever_commit_different_blocks_and_blocks_keep_coming_with_f_faulty() {
    for validators in 4..=7usize {
        for seed in 0..3u64 {
            let seed = seed * 100 + validators as u64;
            let config = config(validators);
            let keys = dev_keys(&config);
            let faults = Faults {
                drop_rate: 0.05,
                duplicate_rate: 0.1,
                min_delay_ms: 1,
                max_delay_ms: 40,
            };
            let mut sim =
                Simulation::new(config, StorageMode::InMemory, seed, faults.clone()).unwrap();
            let f = max_faulty(validators);
            // Up to f validators crash at once, chosen by the seed's turn.
            let crashed: Vec<usize> = (0..f)
                .map(|i| (seed as usize + i * 2 + 1) % validators)
                .collect();
            let all: Vec<usize> = (0..validators).collect();
            let live: Vec<usize> = all
                .iter()
                .copied()
                .filter(|n| !crashed.contains(n))
                .collect();
            for round in 0..12u64 {
                // Links keep losing messages while f validators are down:
                // the survivors' relays and block requests make up for it.
                if round == 3 {
                    for node in &crashed {
                        sim.crash(*node);
                    }
                }
                if round == 8 {
                    for node in &crashed {
                        sim.restart(*node).unwrap();
                    }
                }
                let node = live[round as usize % live.len()];
                let sender = &keys[round as usize % keys.len()];
                let before = sim.height(node);
                submit_transfer(&mut sim, node, sender, round + 1);
                assert!(
                    sim.run_until_height(&live, before + 1, 3_600_000),
                    "seed {seed}, {validators} validators, round {round}: no block with {} of them down ({})",
                    if (3..8).contains(&round) {
                        crashed.len()
                    } else {
                        0
                    },
                    describe(&sim)
                );
                assert_no_fork(&sim, seed);
            }
            // The restarted nodes catch up with the others.
            let target = live.iter().map(|n| sim.height(*n)).max().unwrap();
            submit_transfer(&mut sim, live[0], &keys[0], 99);
            assert!(
                sim.run_until_height(&all, target + 1, 3_600_000),
                "seed {seed}: restarted validators did not catch up (heights {:?})",
                all.iter().map(|n| sim.height(*n)).collect::<Vec<_>>()
            );
            assert_no_fork(&sim, seed);
        }
    }
}

#[test]
fn same_seed_same_run() {
    let run = |seed: u64| {
        let config = config(4);
        let keys = dev_keys(&config);
        let faults = Faults {
            drop_rate: 0.1,
            duplicate_rate: 0.2,
            min_delay_ms: 1,
            max_delay_ms: 80,
        };
        let mut sim = Simulation::new(config, StorageMode::InMemory, seed, faults).unwrap();
        for round in 0..5u64 {
            submit_transfer(
                &mut sim,
                round as usize % 4,
                &keys[round as usize],
                round + 1,
            );
            sim.run_for(5_000);
        }
        (sim.hashes(0), sim.now())
    };
    let (first, _) = run(7);
    assert!(first.len() > 3, "the run made blocks");
    assert_eq!(run(7), run(7));
}

#[test]
fn with_more_than_f_partitioned_away_the_network_halts_then_resumes_without_fork() {
    for seed in 0..4u64 {
        let config = config(4);
        let keys = dev_keys(&config);
        let mut sim =
            Simulation::new(config, StorageMode::InMemory, seed, Faults::default()).unwrap();
        let all = [0, 1, 2, 3];
        submit_transfer(&mut sim, 0, &keys[0], 1);
        assert!(
            sim.run_until_height(&all, 1, 60_000),
            "seed {seed}: first block"
        );
        // Two against two: neither side has a quorum of 3.
        sim.partition(&[&[0, 1], &[2, 3]]);
        submit_transfer(&mut sim, 0, &keys[1], 2);
        submit_transfer(&mut sim, 2, &keys[2], 3);
        sim.run_for(60_000);
        assert!(
            all.iter().all(|n| sim.height(*n) == 1),
            "seed {seed}: a block was committed without a quorum: heights {:?}",
            all.map(|n| sim.height(n))
        );
        sim.heal();
        submit_transfer(&mut sim, 1, &keys[3], 4);
        assert!(
            sim.run_until_height(&all, 2, 300_000),
            "seed {seed}: the healed network did not resume: heights {:?}",
            all.map(|n| sim.height(n))
        );
        assert_no_fork(&sim, seed);
    }
}

#[test]
fn a_validator_restarted_from_its_data_dir_rejoins_without_fork() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(4);
    let keys = dev_keys(&config);
    let mut sim = Simulation::new(
        config,
        StorageMode::Dir(dir.path().to_owned()),
        3,
        Faults::default(),
    )
    .unwrap();
    let all = [0, 1, 2, 3];
    for round in 0..3u64 {
        submit_transfer(&mut sim, 0, &keys[0], round + 1);
        assert!(sim.run_until_height(&all, round + 1, 60_000));
    }
    sim.crash(2);
    for round in 3..6u64 {
        submit_transfer(&mut sim, 0, &keys[0], round + 1);
        assert!(
            sim.run_until_height(&[0, 1, 3], round + 1, 60_000),
            "3 of 4 keep going"
        );
    }
    assert_eq!(sim.height(2), 3);
    sim.restart(2).expect("node 2 reopens its store");
    assert_eq!(sim.height(2), 3, "node 2 reloaded what it had committed");
    submit_transfer(&mut sim, 2, &keys[1], 9);
    assert!(
        sim.run_until_height(&all, 7, 60_000),
        "node 2 caught up and the chain grew"
    );
    assert_no_fork(&sim, 3);
}
