//! Every validation rule refuses with its own error, and the pool is bounded.

use crate::common::*;
use alloy::{
    consensus::{Signed, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Address, Signature, U256},
    signers::local::PrivateKeySigner,
};
use forja_runtime::{Network, StorageMode, TxError, pool::PoolLimits};

fn start(config: forja_runtime::NetworkConfig) -> Network {
    Network::start(config, StorageMode::InMemory).unwrap()
}

#[test]
fn each_validation_rule_refuses_with_its_own_error() {
    let network = start(config(4));
    let node = network.node(1);
    let (alice, key) = dev_account(&network, 0);
    let chain_id = network.chain_id();
    let to = Address::repeat_byte(3);

    // Bad signature: r = 0 recovers no key.
    let unsigned = transfer(chain_id, 0, to, 1);
    let forged = Signed::new_unhashed(
        unsigned.clone(),
        Signature::new(U256::ZERO, U256::from(1), false),
    );
    let raw = TxEnvelope::from(forged).encoded_2718();
    assert!(
        matches!(
            node.pool().submit_raw_transaction(&raw),
            Err(TxError::InvalidSignature(_))
        ),
        "{:?}",
        node.pool().submit_raw_transaction(&raw)
    );
    // Garbage bytes.
    assert!(matches!(
        node.pool().submit_raw_transaction(&[0x02, 0xc0, 0x01]),
        Err(TxError::Decode(_))
    ));

    let wrong_chain = sign_1559(&key, transfer(chain_id + 1, 0, to, 1));
    assert_eq!(
        node.pool().submit_transaction(wrong_chain),
        Err(TxError::WrongChainId {
            expected: chain_id,
            got: chain_id + 1
        })
    );

    let gas_too_low = sign_1559(
        &key,
        TxEip1559 {
            gas_limit: 20_999,
            ..transfer(chain_id, 0, to, 1)
        },
    );
    assert_eq!(
        node.pool().submit_transaction(gas_too_low),
        Err(TxError::GasTooLow {
            gas_limit: 20_999,
            intrinsic: 21_000
        })
    );

    let block_gas_limit = node.read().chain_spec().block_gas_limit;
    let too_big = sign_1559(
        &key,
        TxEip1559 {
            gas_limit: block_gas_limit + 1,
            ..transfer(chain_id, 0, to, 1)
        },
    );
    assert_eq!(
        node.pool().submit_transaction(too_big),
        Err(TxError::GasLimitAboveBlockLimit {
            gas_limit: block_gas_limit + 1,
            block_gas_limit
        })
    );

    let pauper = PrivateKeySigner::random();
    let broke = sign_1559(&pauper, transfer(chain_id, 0, to, 1));
    assert!(matches!(
        node.pool().submit_transaction(broke),
        Err(TxError::InsufficientBalance { sender, balance, .. }) if sender == pauper.address() && balance.is_zero()
    ));

    // Nonce too low, after a committed transaction.
    let first = node
        .pool()
        .submit_transaction(sign_1559(&key, transfer(chain_id, 0, to, 1)))
        .unwrap();
    wait_for_receipt(&node, first);
    assert_eq!(
        node.pool()
            .submit_transaction(sign_1559(&key, transfer(chain_id, 0, to, 2))),
        Err(TxError::NonceTooLow {
            sender: alice,
            state_nonce: 1,
            tx_nonce: 0
        })
    );

    // A gap is queued, not refused, and fills in when the nonce arrives.
    let queued = node
        .pool()
        .submit_transaction(sign_1559(&key, transfer(chain_id, 2, to, 3)))
        .unwrap();
    assert_eq!(node.pool().status().queued, 1);
    assert_eq!(node.pool().status().pending, 0);
    let gap_max = PoolLimits::default().max_nonce_gap;
    assert_eq!(
        node.pool()
            .submit_transaction(sign_1559(&key, transfer(chain_id, 2 + gap_max, to, 3))),
        Err(TxError::NonceGap {
            sender: alice,
            expected: 1,
            tx_nonce: 2 + gap_max,
            max_gap: gap_max
        })
    );
    node.pool()
        .submit_transaction(sign_1559(&key, transfer(chain_id, 1, to, 4)))
        .unwrap();
    let receipt = wait_for_receipt(&node, queued);
    assert!(receipt.status());
    network.shutdown();
}

#[test]
fn a_fee_below_the_minimum_gas_price_is_refused() {
    let mut config = config(4);
    config.min_gas_price = 1_000;
    let network = start(config);
    let (_, key) = dev_account(&network, 0);
    let chain_id = network.chain_id();
    let free = sign_1559(&key, transfer(chain_id, 0, Address::repeat_byte(1), 1));
    assert_eq!(
        network.node(0).pool().submit_transaction(free),
        Err(TxError::FeeTooLow {
            price: 0,
            min: 1_000
        })
    );
    let paid = TxEip1559 {
        max_fee_per_gas: 1_000,
        ..transfer(chain_id, 0, Address::repeat_byte(1), 1)
    };
    let hash = network
        .node(0)
        .pool()
        .submit_transaction(sign_1559(&key, paid))
        .unwrap();
    assert!(wait_for_receipt(&network.node(0), hash).status());
    network.shutdown();
}

#[test]
fn the_pool_is_bounded_in_total_and_per_sender_and_says_so() {
    let mut config = config(4);
    config.pool.0 = PoolLimits {
        max_transactions: 4,
        max_per_sender: 3,
        max_nonce_gap: 100,
        ..PoolLimits::default()
    };
    let network = start(config);
    let node = network.node(0);
    let chain_id = network.chain_id();
    let to = Address::repeat_byte(9);
    let (alice, a) = dev_account(&network, 0);
    let (_, b) = dev_account(&network, 1);
    // Queued behind a gap (nonce 0 never sent), so they stay in the pool.
    for nonce in 1..=3 {
        node.pool()
            .submit_transaction(sign_1559(&a, transfer(chain_id, nonce, to, 1)))
            .unwrap();
    }
    assert_eq!(
        node.pool()
            .submit_transaction(sign_1559(&a, transfer(chain_id, 4, to, 1))),
        Err(TxError::SenderPoolFull {
            sender: alice,
            limit: 3
        })
    );
    node.pool()
        .submit_transaction(sign_1559(&b, transfer(chain_id, 1, to, 1)))
        .unwrap();
    let err = node
        .pool()
        .submit_transaction(sign_1559(&b, transfer(chain_id, 2, to, 1)))
        .unwrap_err();
    assert_eq!(err, TxError::PoolFull { limit: 4 });
    assert!(err.to_string().contains("pool is full"), "{err}");
    assert_eq!(node.pool().status().queued, 4);
    network.shutdown();
}

#[test]
fn oversized_unprotected_and_underpriced_replacements_are_refused_as_geth_does() {
    let mut config = config(1);
    // Blocks every 60 s: what is submitted stays pending for the test.
    config.consensus.block_period_seconds = 60;
    config.consensus.request_timeout_seconds = 120;
    let network = start(config);
    let node = network.node(0);
    let chain_id = network.chain_id();
    let to = Address::repeat_byte(4);
    let (alice, key) = dev_account(&network, 0);
    // 128 KiB encoded at most: the input alone is bigger here.
    let mut big = transfer(chain_id, 0, to, 1);
    big.input = vec![1u8; 128 * 1024].into();
    big.gas_limit = 10_000_000;
    assert!(matches!(
        node.pool().submit_transaction(sign_1559(&key, big)),
        Err(TxError::Oversized { limit: 131_072, .. })
    ));
    // No chain id: replayable on any chain.
    let unprotected = alloy::consensus::TxLegacy {
        chain_id: None,
        nonce: 0,
        gas_price: 10,
        gas_limit: 21_000,
        to: alloy::primitives::TxKind::Call(to),
        value: U256::from(1),
        input: Default::default(),
    };
    assert!(matches!(
        node.pool()
            .submit_transaction(sign_legacy(&key, unprotected.clone())),
        Err(TxError::Unprotected)
    ));
    // Replacing needs 10% more in max fee and in priority fee.
    let mut first = transfer(chain_id, 0, to, 1);
    first.max_fee_per_gas = 100;
    first.max_priority_fee_per_gas = 100;
    node.pool()
        .submit_transaction(sign_1559(&key, first.clone()))
        .unwrap();
    let mut by_5_percent = first.clone();
    by_5_percent.max_fee_per_gas = 105;
    by_5_percent.max_priority_fee_per_gas = 105;
    assert!(matches!(
        node.pool().submit_transaction(sign_1559(&key, by_5_percent)),
        Err(TxError::ReplacementUnderpriced { sender, nonce: 0, bump: 10 }) if sender == alice
    ));
    let mut by_10_percent = first;
    by_10_percent.max_fee_per_gas = 110;
    by_10_percent.max_priority_fee_per_gas = 110;
    let replaced = node
        .pool()
        .submit_transaction(sign_1559(&key, by_10_percent))
        .unwrap();
    assert_eq!(node.pool().pending_transactions().len(), 1);
    assert_eq!(node.pool().pending_transactions()[0].hash, replaced);
    network.shutdown();
    // A node started to allow them takes unprotected transactions.
    let mut allowing = config_allowing_unprotected();
    allowing.consensus.block_period_seconds = 60;
    allowing.consensus.request_timeout_seconds = 120;
    let network = start(allowing);
    let (_, key) = dev_account(&network, 0);
    network
        .node(0)
        .pool()
        .submit_transaction(sign_legacy(&key, unprotected))
        .unwrap();
    network.shutdown();
}

fn config_allowing_unprotected() -> forja_runtime::NetworkConfig {
    let mut config = config(1);
    config.pool.0.allow_unprotected = true;
    config
}
