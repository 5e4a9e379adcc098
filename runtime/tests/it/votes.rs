//! Validator votes through the runtime's API: the queue a node reports holds
//! a vote as soon as the call casting it returns, and the engine gets the
//! same votes, so blocks carry them until the validator set changes.

use crate::common::*;
use alloy::primitives::Address;
use forja_runtime::{Network, StorageMode};

#[test]
fn a_cast_vote_is_queued_when_the_call_returns_and_blocks_carry_it() {
    let network = Network::start(config(4), StorageMode::InMemory).unwrap();
    let node = network.node(0);
    let subjects: Vec<Address> = (1..=3u8).map(Address::repeat_byte).collect();

    // Read straight after each call, with no time for the node's thread to
    // catch up: the queue must already show the change.
    for round in 0..50 {
        let subject = subjects[round % subjects.len()];
        node.admin().propose_validator_vote(subject, round % 2 == 0);
        assert!(
            node.admin()
                .pending_votes()
                .contains(&(subject, round % 2 == 0)),
            "round {round}: {:?}",
            node.admin().pending_votes()
        );
        if round % 5 == 4 {
            node.admin().discard_validator_vote(subject);
            assert!(
                node.admin()
                    .pending_votes()
                    .iter()
                    .all(|(a, _)| *a != subject),
                "round {round}: {:?}",
                node.admin().pending_votes()
            );
        }
    }
    for subject in &subjects {
        node.admin().discard_validator_vote(*subject);
    }
    assert_eq!(node.admin().pending_votes(), []);

    // Three of four validators vote the last one out; transactions make the
    // blocks that carry the votes.
    let leaving = network.node(3).address();
    for index in 0..3 {
        network
            .node(index)
            .admin()
            .propose_validator_vote(leaving, false);
    }
    let (_, sender) = dev_account(&network, 0);
    let chain_id = network.chain_id();
    for nonce in 0..24 {
        if !node.admin().current_validators().contains(&leaving) {
            break;
        }
        let tx = sign_1559(
            &sender,
            transfer(chain_id, nonce, Address::repeat_byte(9), 1),
        );
        let hash = node.pool().submit_transaction(tx).unwrap();
        wait_for_receipt(&node, hash);
    }
    assert_eq!(node.admin().current_validators().len(), 3);
    assert!(!node.admin().current_validators().contains(&leaving));
    network.shutdown();
}
