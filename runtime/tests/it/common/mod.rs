//! Helpers shared by the runtime's integration tests: signing, waiting for
//! receipts with a bound, and small network definitions.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
};
use forja_runtime::{Network, NetworkConfig, NodeHandle, TxReceipt};

/// How long a test waits for something the network should do; past it the
/// test fails with a message instead of hanging.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// The dev network definition with `validators` validators.
pub(crate) fn config(validators: usize) -> NetworkConfig {
    let mut config = NetworkConfig {
        chain_id: 1337,
        ..Default::default()
    };
    config.nodes.validators = validators;
    config
}

/// Signs an EIP-1559 transaction.
pub(crate) fn sign_1559(signer: &PrivateKeySigner, mut tx: TxEip1559) -> TxEnvelope {
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .expect("signing works");
    tx.into_signed(signature).into()
}

/// Signs a legacy transaction.
pub(crate) fn sign_legacy(signer: &PrivateKeySigner, mut tx: TxLegacy) -> TxEnvelope {
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .expect("signing works");
    tx.into_signed(signature).into()
}

/// A zero-fee EIP-1559 ether transfer.
pub(crate) fn transfer(chain_id: u64, nonce: u64, to: Address, value: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    }
}

/// A zero-fee EIP-1559 contract creation.
pub(crate) fn create(chain_id: u64, nonce: u64, init_code: Bytes) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 3_000_000,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to: TxKind::Create,
        value: U256::ZERO,
        access_list: Default::default(),
        input: init_code,
    }
}

/// Waits for `condition` to hold, failing the test with `what` after [`WAIT`].
pub(crate) fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until `node` holds the receipt of `hash`.
pub(crate) fn wait_for_receipt(node: &NodeHandle, hash: B256) -> TxReceipt {
    let mut receipt = None;
    wait_until(&format!("the receipt of {hash}"), || {
        receipt = node.read().receipt(hash);
        receipt.is_some()
    });
    receipt.expect("waited for it")
}

/// Waits until every node of `network` reached block `number`.
pub(crate) fn wait_for_height(network: &Network, number: u64) {
    wait_until(&format!("every node to reach block {number}"), || {
        network
            .nodes()
            .iter()
            .all(|n| n.read().block_number() >= number)
    });
}

/// The dev account `index`.
pub(crate) fn dev_account(network: &Network, index: usize) -> (Address, PrivateKeySigner) {
    network.dev_accounts()[index].clone()
}
