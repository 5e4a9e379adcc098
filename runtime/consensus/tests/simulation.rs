//! Seeded simulations: safety and liveness under loss, delay, duplication,
//! partitions, crashes and byzantine validators, in both modes.
//!
//! Every assertion names its seed; to replay one, change the seed range of
//! the failing test to that single seed (`for seed in [1234]`).
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use alloy::primitives::Address;
use forja_consensus::sim::{Behaviour, SimConfig, Simulation};
use forja_consensus::{BftConfig, BftMode, Transition, max_faulty, quorum};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Seeds per configuration in the default run.
const SEEDS: u64 = 200;

fn bft(mode: BftMode) -> BftConfig {
    let mut config = BftConfig::new(mode);
    config.block_period_seconds = 1;
    config.request_timeout_ms = 2_000;
    config
}

/// A simulation config; every 25th seed sends messages through the wire
/// encoding, the rest skip the per-receiver signature recovery to keep the
/// suite fast (the engine sees the same messages either way).
fn sim_config(seed: u64, n: usize, mode: BftMode) -> SimConfig {
    let mut config = SimConfig::new(seed, n, bft(mode));
    config.wire_encoding = seed.is_multiple_of(25);
    config
}

fn assert_safe(sim: &Simulation, seed: u64, what: &str) {
    assert!(
        sim.violations().is_empty(),
        "{what} seed {seed}: {:?}",
        sim.violations()
    );
    // Every pair of chains agrees on every height both have.
    let mode = sim.engine(0).map(|e| e.config().mode);
    for a in 0..sim.len() {
        for b in a + 1..sim.len() {
            for (x, y) in sim.chain(a).iter().zip(sim.chain(b)) {
                if let Some(mode) = mode {
                    assert_eq!(
                        x.hash(mode).unwrap(),
                        y.hash(mode).unwrap(),
                        "{what} seed {seed}: nodes {a} and {b} differ at {}",
                        x.number()
                    );
                }
            }
        }
    }
}

/// Lossy, delaying, duplicating network; then up to f crashed; then
/// restarts and a partition of up to f nodes; then healing. Blocks must keep
/// coming in every phase and every node must end up on the same chain.
fn chaos(mode: BftMode, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let n = 4 + (seed % 4) as usize;
    let f = max_faulty(n);
    let mut config = sim_config(seed, n, mode);
    config.drop_rate = rng.random_range(0.0..0.15);
    config.duplicate_rate = rng.random_range(0.0..0.2);
    config.delay_ms = (1, rng.random_range(10..400));
    let mut sim = Simulation::new(config);
    let what = format!("{mode:?} n={n}");

    assert!(
        sim.run_until_height(1, 600_000),
        "{what} seed {seed}: no progress on a lossy network"
    );

    // Up to f validators crash: the rest still decide.
    let mut nodes: Vec<usize> = (0..n).collect();
    nodes.shuffle(&mut rng);
    let faulty: Vec<usize> = nodes[..rng.random_range(1..=f)].to_vec();
    for node in &faulty {
        sim.crash(*node);
    }
    let target = sim.max_height() + 2;
    assert!(
        sim.run_until_height(target, sim.now() + 900_000),
        "{what} seed {seed}: stalled with {faulty:?} crashed"
    );

    // They come back; another f are cut off for a while.
    for node in &faulty {
        sim.restart(*node);
    }
    nodes.shuffle(&mut rng);
    let cut: Vec<usize> = nodes[..f].to_vec();
    let rest: Vec<usize> = nodes[f..].to_vec();
    sim.partition(&[&cut, &rest]);
    let target = sim.max_height() + 1;
    let deadline = sim.now() + 900_000;
    // Long enough for the cut-off nodes to time out a few rounds.
    sim.run_until(sim.now() + 3_500);
    sim.heal();
    assert!(
        sim.run_until_height(target, deadline),
        "{what} seed {seed}: stalled after partition {cut:?} healed"
    );
    assert_safe(&sim, seed, &what);
}

#[test]
fn qbft_safety_and_liveness_under_faults() {
    for seed in 0..SEEDS {
        chaos(BftMode::Qbft, seed);
    }
}

#[test]
fn ibft2_safety_and_liveness_under_faults() {
    for seed in 0..SEEDS {
        chaos(BftMode::Ibft2, seed);
    }
}

/// More than f faulty — a split with no quorum on either side (even seeds)
/// or enough validators crashed that the rest are not a quorum (odd seeds):
/// no block, no fork; after healing or restarting, blocks come again.
fn halt_and_resume(mode: BftMode, seed: u64) {
    let n = 4 + (seed % 4) as usize;
    let mut config = sim_config(seed, n, mode);
    config.drop_rate = 0.05;
    let mut sim = Simulation::new(config);
    let what = format!("{mode:?} n={n}");
    assert!(
        sim.run_until_height(1, 300_000),
        "{what} seed {seed}: no first block"
    );
    let crashed: Vec<usize> = (0..n - quorum(n) + 1).collect();
    if seed.is_multiple_of(2) {
        let half: Vec<usize> = (0..n / 2).collect();
        let other: Vec<usize> = (n / 2..n).collect();
        sim.partition(&[&half, &other]);
    } else {
        for node in &crashed {
            sim.crash(*node);
        }
    }
    // Decisions already under way may finish; after that nothing moves.
    sim.run_until(sim.now() + 10_000);
    let frozen = sim.max_height();
    sim.run_until(sim.now() + 120_000);
    assert_eq!(
        sim.max_height(),
        frozen,
        "{what} seed {seed}: decided a block without a quorum"
    );
    sim.heal();
    for node in &crashed {
        sim.restart(*node);
    }
    assert!(
        sim.run_until_height(frozen + 2, sim.now() + 2_000_000),
        "{what} seed {seed}: no recovery"
    );
    assert_safe(&sim, seed, &what);
}

#[test]
fn halts_without_quorum_and_resumes_after_healing() {
    for seed in 0..20 {
        halt_and_resume(BftMode::Qbft, seed);
        halt_and_resume(BftMode::Ibft2, seed);
    }
}

#[test]
fn equivocating_proposer_cannot_fork_the_chain() {
    for mode in [BftMode::Qbft, BftMode::Ibft2] {
        for seed in 0..20 {
            let n = 4 + (seed % 4) as usize;
            let mut config = sim_config(seed, n, mode);
            config.delay_ms = (1, 100);
            let mut sim = Simulation::new(config);
            let byzantine = (seed as usize) % n;
            sim.set_behaviour(byzantine, Behaviour::Equivocate);
            assert!(
                sim.run_until_height(n as u64 + 1, 3_000_000),
                "{mode:?} seed {seed}: stalled"
            );
            assert_safe(&sim, seed, "equivocation");
        }
    }
}

#[test]
fn invalid_blocks_are_never_committed() {
    for mode in [BftMode::Qbft, BftMode::Ibft2] {
        for seed in 0..20 {
            let n = 4 + (seed % 4) as usize;
            let mut sim = Simulation::new(sim_config(seed, n, mode));
            let byzantine = (seed as usize) % n;
            sim.set_behaviour(byzantine, Behaviour::InvalidBlocks);
            assert!(
                sim.run_until_height(n as u64 + 1, 3_000_000),
                "{mode:?} seed {seed}: stalled"
            );
            assert_safe(&sim, seed, "invalid blocks");
            let proposers: Vec<Address> = sim.chain(0)[1..]
                .iter()
                .map(|b| b.header.beneficiary)
                .collect();
            assert!(
                !proposers.contains(&sim.address(byzantine)),
                "{mode:?} seed {seed}: byzantine block committed"
            );
        }
    }
}

#[test]
fn same_seed_same_run() {
    let run = |seed: u64| {
        let mut config = SimConfig::new(seed, 5, bft(BftMode::Qbft));
        config.drop_rate = 0.1;
        config.duplicate_rate = 0.1;
        config.delay_ms = (1, 300);
        let mut sim = Simulation::new(config);
        sim.run_until(6_000);
        sim.crash(1);
        sim.run_until(10_000);
        sim.restart(1);
        sim.run_until(16_000);
        (sim.trace_hash(), sim.max_height())
    };
    let a = run(42);
    assert_eq!(a, run(42));
    assert!(a.1 > 3, "the run made progress: {a:?}");
    assert_ne!(a.0, run(43).0, "different seeds differ");
}

#[test]
fn block_period_zero_builds_only_when_transactions_are_pending() {
    let mut config = BftConfig::new(BftMode::Qbft);
    config.block_period_seconds = 0;
    config.request_timeout_ms = 2_000;
    let idle = SimConfig::new(1, 4, config.clone());
    let mut sim = Simulation::new(idle);
    sim.run_until(600_000);
    assert_eq!(sim.max_height(), 0, "no block without transactions");

    let mut busy = SimConfig::new(1, 4, config);
    busy.always_pending = true;
    busy.delay_ms = (1, 5);
    let mut sim = Simulation::new(busy);
    assert!(sim.run_until_height(20, 10_000));
    // Back to back: 20 blocks in well under one second of virtual time.
    assert!(sim.now() < 1_000, "took {} ms", sim.now());
}

#[test]
fn transitions_change_the_block_period() {
    let mut config = bft(BftMode::Qbft);
    config.transitions = vec![Transition {
        block: 5,
        block_period_seconds: Some(4),
        request_timeout_ms: None,
    }];
    let mut sim = Simulation::new(SimConfig::new(3, 4, config));
    assert!(sim.run_until_height(9, 600_000));
    let chain = sim.chain(0);
    for pair in chain.windows(2) {
        let gap = pair[1].header.timestamp - pair[0].header.timestamp;
        let expected = if pair[1].number() >= 5 { 4 } else { 1 };
        assert!(
            gap >= expected,
            "block {}: {gap}s after its parent, period {expected}",
            pair[1].number()
        );
    }
    assert!(chain[8].header.timestamp - chain[5].header.timestamp >= 12);
}

#[test]
fn votes_add_and_remove_validators_through_blocks() {
    for mode in [BftMode::Qbft, BftMode::Ibft2] {
        let mut sim = Simulation::new(SimConfig::new(9, 4, bft(mode)));
        let newcomer = Address::repeat_byte(0x77);
        // Two votes of four do not pass.
        for node in 0..2 {
            sim.engine_mut(node).unwrap().propose_vote(newcomer, true);
        }
        assert!(sim.run_until_height(8, 600_000));
        assert!(
            !sim.engine(0)
                .unwrap()
                .history()
                .next_validators()
                .contains(&newcomer)
        );
        // A third does: the set grows to five (the newcomer never shows up, f = 1 covers it).
        sim.engine_mut(2).unwrap().propose_vote(newcomer, true);
        assert!(sim.run_until_height(16, 1_200_000));
        let engine = sim.engine(3).unwrap();
        assert!(
            engine.history().next_validators().contains(&newcomer),
            "{mode:?}"
        );
        let added_at = sim.chain(3).iter().position(|b| {
            forja_consensus::BftExtraData::from_header(mode, &b.header)
                .unwrap()
                .validators
                .contains(&newcomer)
        });
        let added_at = added_at.expect("a header lists the newcomer") as u64;
        assert_eq!(engine.history().validators_at(added_at).unwrap().len(), 5);
        assert_eq!(
            engine.history().validators_at(added_at - 1).unwrap().len(),
            4
        );
        // Removing it needs three of five.
        for node in 0..4 {
            sim.engine_mut(node).unwrap().propose_vote(newcomer, false);
        }
        let target = sim.max_height() + 12;
        assert!(sim.run_until_height(target, sim.now() + 1_200_000));
        assert!(
            !sim.engine(0)
                .unwrap()
                .history()
                .next_validators()
                .contains(&newcomer),
            "{mode:?}"
        );
        assert_safe(&sim, 9, "votes");
    }
}
