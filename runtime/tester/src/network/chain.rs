//! The runner's side of a `--network` run: signing, nonces, and waiting for
//! what node 0 reports of each transaction.

use std::time::{Duration, Instant};

use alloy::{
    consensus::{SignableTransaction, TxEnvelope, TxLegacy},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
};
use forja_runtime::{NodeHandle, TxError};

use super::{
    INCLUSION_TIMEOUT,
    hook::{NetworkHook, TxOutcome},
};
use crate::error::TesterError;

/// Why the network did not take a transaction (which then takes no nonce).
#[derive(Debug, thiserror::Error)]
pub(super) enum SubmitError {
    /// The dev account's key could not sign it.
    #[error("signing failed: {0}")]
    Signing(#[source] alloy::signers::Error),
    /// The node refused it: the network's permissioning, above all.
    #[error(transparent)]
    Refused(TxError),
}

/// The network refused one of a test's transactions: the test contract's
/// suite fails with this as its reason.
#[derive(Debug, thiserror::Error)]
#[error("the network refused {what} from {sender}: {source}")]
pub(super) struct Refusal {
    /// The transaction, in words (`the deployment of CounterTest`).
    pub(super) what: String,
    /// The account that sent it.
    pub(super) sender: Address,
    /// Why (boxed: the node's error is large, and this travels up as an `Err`).
    #[source]
    pub(super) source: Box<SubmitError>,
}

/// The runner's side of the network: signing, nonces, waiting for results.
pub(super) struct Chain {
    pub(super) signer: PrivateKeySigner,
    pub(super) sender: Address,
    pub(super) nonce: u64,
    pub(super) node: NodeHandle,
    pub(super) hook: NetworkHook,
    pub(super) chain_id: u64,
    pub(super) gas_price: u128,
    pub(super) gas_limit: u64,
    pub(super) transactions: Vec<B256>,
}

impl Chain {
    /// Signs and submits a transaction; the network's refusal (its
    /// permissioning, above all) comes back as the error, and takes no nonce.
    pub(super) fn submit(&mut self, to: TxKind, input: Bytes) -> Result<B256, SubmitError> {
        let mut tx = TxLegacy {
            chain_id: Some(self.chain_id),
            nonce: self.nonce,
            gas_price: self.gas_price,
            gas_limit: self.gas_limit,
            to,
            value: U256::ZERO,
            input,
        };
        let signature = self
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(SubmitError::Signing)?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let hash = self
            .node
            .pool()
            .submit_transaction(envelope)
            .map_err(SubmitError::Refused)?;
        self.nonce += 1;
        self.transactions.push(hash);
        Ok(hash)
    }

    /// Waits until `hash` is committed, then returns what it did.
    pub(super) fn outcome(&self, hash: B256, what: &str) -> Result<TxOutcome, TesterError> {
        let deadline = Instant::now() + INCLUSION_TIMEOUT;
        while self.node.read().receipt(hash).is_none() {
            if Instant::now() > deadline {
                return Err(TesterError::Network(format!(
                    "{what} (transaction {hash}) was not committed within {} s; the network's head \
                     is block {}",
                    INCLUSION_TIMEOUT.as_secs(),
                    self.node.read().block_number()
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.hook.take_outcome(&hash).ok_or_else(|| {
            TesterError::Network(format!(
                "{what} (transaction {hash}) was committed but node 0 reported no execution"
            ))
        })
    }

    /// Waits for an instance's transactions and drops their results.
    pub(super) fn discard(&self, instance: &Instance) -> Result<(), TesterError> {
        for hash in [instance.deploy]
            .into_iter()
            .chain(instance.setup)
            .chain([instance.call])
        {
            self.outcome(hash, "a transaction of an abandoned test")?;
        }
        Ok(())
    }
}

/// A test contract deployed for one test: its transactions.
pub(super) struct Instance {
    pub(super) deploy: B256,
    pub(super) setup: Option<B256>,
    pub(super) call: B256,
}
