//! Transaction validation and the pool of pending transactions.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, LazyLock, Mutex, Weak},
};

use alloy::{
    consensus::{Transaction, TxEnvelope, TxType, crypto::SECP256K1N_HALF},
    eips::eip2718::Decodable2718,
    primitives::{Address, B256, B512, U256, map::B256HashMap},
};
use revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx;

use crate::{
    block::{SignedTx, TxRef},
    error::TxError,
    execution::tx_env,
    permissions::Permissions,
    spec::ChainSpec,
    state::StateAt,
};

/// Bounds of a node's pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// Most transactions held in total.
    pub max_transactions: usize,
    /// Most transactions held per sender.
    pub max_per_sender: usize,
    /// How far ahead of the sender's nonce a transaction may be queued.
    pub max_nonce_gap: u64,
    /// Largest transaction accepted, encoded, in bytes (Geth's pool: 128 KiB).
    pub max_transaction_size: usize,
    /// How much more (percent) a replacement of a pending transaction
    /// (same sender and nonce) must pay, in max fee and in priority fee
    /// (Besu's `--tx-pool-price-bump`, default 10).
    pub price_bump_percent: u64,
    /// Accept transactions signed without a chain id (pre-EIP-155), which
    /// can be replayed on any chain (Geth's `--rpc.allow-unprotected-txs`).
    pub allow_unprotected: bool,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            max_transactions: 200_000,
            max_per_sender: 50_000,
            max_nonce_gap: 1_000,
            max_transaction_size: 128 * 1024,
            price_bump_percent: 10,
            allow_unprotected: false,
        }
    }
}

/// Decodes an EIP-2718 encoded transaction and recovers its sender.
pub fn decode_transaction(raw: &[u8]) -> Result<SignedTx, TxError> {
    let mut buf = raw;
    let envelope = TxEnvelope::decode_2718(&mut buf).map_err(|e| TxError::Decode(e.to_string()))?;
    if !buf.is_empty() {
        return Err(TxError::Decode(format!(
            "{} trailing bytes after the transaction",
            buf.len()
        )));
    }
    recover(envelope)
}

/// Recovers the sender of a signed transaction.
pub fn recover(envelope: TxEnvelope) -> Result<SignedTx, TxError> {
    match envelope.tx_type() {
        TxType::Legacy | TxType::Eip2930 | TxType::Eip1559 => {}
        other => return Err(TxError::UnsupportedType(other as u8)),
    }
    let signature = envelope.signature();
    // EIP-2: a high s is the malleable twin of a valid signature.
    if signature.s() > SECP256K1N_HALF {
        return Err(TxError::InvalidSignature(
            "s is above secp256k1n/2 (EIP-2 malleability rule)".into(),
        ));
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    // revm's ecrecover runs on libsecp256k1, about three times faster than
    // the pure-Rust k256 that alloy's `recover_signer` uses without its
    // `secp256k1` feature; recovery is most of a transaction's cost at
    // submission.
    let recovered = revm::precompile::secp256k1::ecrecover(
        &B512::from(compact),
        signature.v() as u8,
        &envelope.signature_hash(),
    )
    .map_err(|e| TxError::InvalidSignature(e.to_string()))?;
    Ok(SignedTx::new(
        envelope,
        Address::from_slice(&recovered[12..]),
    ))
}

/// Transactions whose sender was recovered in this process, by hash, so a
/// transaction's signature is recovered once per process however many of
/// its nodes see it (a block body can reach a node before the gossip of its
/// transactions does). The hash covers the signature, so a transaction with
/// the same hash has the same sender. Entries are weak: they live as long as
/// some pool or chain holds the transaction. A dead entry still pins its
/// transaction's allocation (a `Weak` keeps the `Arc`'s block), so dead
/// entries are swept whenever the map has doubled since the last sweep: the
/// map stays within twice what the pools and block caches hold alive.
struct RecoveredSenders {
    by_hash: B256HashMap<Weak<SignedTx>>,
    /// Insertion order, to forget the oldest entries first.
    order: VecDeque<B256>,
    /// Entries at which dead ones are swept next.
    sweep_at: usize,
}

impl RecoveredSenders {
    /// At most this many entries, alive or not.
    const CAPACITY: usize = 1 << 17;
    /// The smallest map that is swept (a block's worth of gossip).
    const MIN_SWEEP: usize = 1 << 12;

    fn new() -> Self {
        Self {
            by_hash: B256HashMap::default(),
            order: VecDeque::new(),
            sweep_at: Self::MIN_SWEEP,
        }
    }

    fn remember<'a>(&mut self, txs: impl IntoIterator<Item = &'a TxRef>) {
        for tx in txs {
            if self.by_hash.insert(tx.hash, Arc::downgrade(tx)).is_none() {
                self.order.push_back(tx.hash);
            }
        }
        if self.order.len() >= self.sweep_at {
            self.by_hash.retain(|_, tx| tx.strong_count() > 0);
            let by_hash = &self.by_hash;
            self.order.retain(|hash| by_hash.contains_key(hash));
            self.by_hash.shrink_to(self.by_hash.len() * 2);
            self.order.shrink_to(self.order.len() * 2);
            self.sweep_at = (self.order.len() * 2).max(Self::MIN_SWEEP);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.by_hash.remove(&oldest);
            }
        }
    }

    fn get(&self, hash: &B256) -> Option<TxRef> {
        self.by_hash.get(hash)?.upgrade()
    }

    fn len(&self) -> usize {
        self.by_hash.len()
    }
}

static RECOVERED: LazyLock<Mutex<RecoveredSenders>> =
    LazyLock::new(|| Mutex::new(RecoveredSenders::new()));

fn recovered_senders() -> std::sync::MutexGuard<'static, RecoveredSenders> {
    // Entries are inserted whole: a panic elsewhere cannot leave one half-written.
    RECOVERED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records transactions that entered the process with their senders recovered.
pub(crate) fn remember_recovered<'a>(txs: impl IntoIterator<Item = &'a TxRef>) {
    recovered_senders().remember(txs);
}

/// A transaction with this hash whose sender this process already recovered.
pub(crate) fn already_recovered(hash: &B256) -> Option<TxRef> {
    recovered_senders().get(hash)
}

/// Transactions this process remembers as recovered (alive or not yet swept).
#[doc(hidden)]
pub fn recovered_senders_len() -> usize {
    recovered_senders().len()
}

/// Stateless and state checks a transaction must pass to enter the pool.
/// Nonce gaps are checked by the pool, which knows what is queued.
pub fn validate(
    spec: &ChainSpec,
    state: &StateAt<'_>,
    permissions: &Permissions,
    tx: &SignedTx,
) -> Result<(), TxError> {
    let envelope = &tx.envelope;
    match envelope.chain_id() {
        Some(id) if id != spec.chain_id => {
            return Err(TxError::WrongChainId {
                expected: spec.chain_id,
                got: id,
            });
        }
        _ => {}
    }
    permissions.check_transaction(tx.sender, tx.kind().is_create())?;
    let gas_limit = envelope.gas_limit();
    if gas_limit > spec.block_gas_limit {
        return Err(TxError::GasLimitAboveBlockLimit {
            gas_limit,
            block_gas_limit: spec.block_gas_limit,
        });
    }
    let max_fee = envelope.max_fee_per_gas();
    if max_fee < spec.min_gas_price {
        return Err(TxError::FeeTooLow {
            price: max_fee,
            min: spec.min_gas_price,
        });
    }
    if let Some(priority) = envelope.max_priority_fee_per_gas()
        && priority > max_fee
    {
        return Err(TxError::PriorityFeeAboveMaxFee { priority, max_fee });
    }
    let initial = calculate_initial_tx_gas_for_tx(tx_env(tx), spec.spec_id(), None);
    let intrinsic =
        (initial.initial_regular_gas + initial.initial_state_gas).max(initial.floor_gas);
    if gas_limit < intrinsic {
        return Err(TxError::GasTooLow {
            gas_limit,
            intrinsic,
        });
    }
    let state_nonce = state.nonce(tx.sender);
    if tx.nonce() < state_nonce {
        return Err(TxError::NonceTooLow {
            sender: tx.sender,
            state_nonce,
            tx_nonce: tx.nonce(),
        });
    }
    let cost = U256::from(gas_limit) * U256::from(max_fee) + envelope.value();
    let balance = state.balance(tx.sender);
    if balance < cost {
        return Err(TxError::InsufficientBalance {
            sender: tx.sender,
            balance,
            cost,
        });
    }
    Ok(())
}

/// Pending (next nonce onwards, contiguous) and queued (after a gap)
/// transactions, by sender and nonce.
#[derive(Debug, Default)]
pub struct TxPool {
    limits: PoolLimits,
    by_sender: BTreeMap<Address, BTreeMap<u64, TxRef>>,
    /// Transaction hashes are random, so a fast hasher is as good as SipHash.
    by_hash: B256HashMap<TxRef>,
}

/// Counts the pool reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Transactions executable now (contiguous from the sender's nonce).
    pub pending: usize,
    /// Transactions waiting for a nonce gap to close.
    pub queued: usize,
}

impl TxPool {
    pub fn new(limits: PoolLimits) -> Self {
        Self {
            limits,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub fn get(&self, hash: &B256) -> Option<&TxRef> {
        self.by_hash.get(hash)
    }

    /// Adds a validated transaction. `state_nonce` is the sender's nonce in
    /// the latest state.
    pub fn insert(&mut self, tx: TxRef, state_nonce: u64) -> Result<(), TxError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(TxError::AlreadyKnown(tx.hash));
        }
        let size = tx.envelope.eip2718_encoded_length();
        if size > self.limits.max_transaction_size {
            return Err(TxError::Oversized {
                size,
                limit: self.limits.max_transaction_size,
            });
        }
        if !self.limits.allow_unprotected && tx.envelope.chain_id().is_none() {
            return Err(TxError::Unprotected);
        }
        let sender = tx.sender;
        let nonce = tx.nonce();
        let queue = self.by_sender.get(&sender);
        // The next nonce the pool can accept without a gap.
        let mut expected = state_nonce;
        if let Some(queue) = queue {
            for n in queue.range(state_nonce..).map(|(n, _)| *n) {
                if n != expected {
                    break;
                }
                expected += 1;
            }
        }
        if nonce > expected + self.limits.max_nonce_gap {
            return Err(TxError::NonceGap {
                sender,
                expected,
                tx_nonce: nonce,
                max_gap: self.limits.max_nonce_gap,
            });
        }
        let replaced = queue.and_then(|q| q.get(&nonce)).cloned();
        if let Some(existing) = &replaced {
            let bumped = |old: u128| {
                old.saturating_mul(100 + u128::from(self.limits.price_bump_percent)) / 100
            };
            let (old, new) = (&existing.envelope, &tx.envelope);
            let old_tip = old
                .max_priority_fee_per_gas()
                .unwrap_or(old.max_fee_per_gas());
            let new_tip = new
                .max_priority_fee_per_gas()
                .unwrap_or(new.max_fee_per_gas());
            // Strictly more than before (as Geth checks), so that at price 0
            // or a 0% bump a transaction cannot be replaced by its twin.
            let (old_fee, new_fee) = (old.max_fee_per_gas(), new.max_fee_per_gas());
            if new_fee <= old_fee
                || new_tip <= old_tip
                || new_fee < bumped(old_fee)
                || new_tip < bumped(old_tip)
            {
                return Err(TxError::ReplacementUnderpriced {
                    sender,
                    nonce,
                    bump: self.limits.price_bump_percent,
                });
            }
        } else {
            if self.by_hash.len() >= self.limits.max_transactions {
                return Err(TxError::PoolFull {
                    limit: self.limits.max_transactions,
                });
            }
            if queue.map_or(0, BTreeMap::len) >= self.limits.max_per_sender {
                return Err(TxError::SenderPoolFull {
                    sender,
                    limit: self.limits.max_per_sender,
                });
            }
        }
        if let Some(existing) = replaced {
            self.by_hash.remove(&existing.hash);
        }
        self.by_hash.insert(tx.hash, tx.clone());
        self.by_sender.entry(sender).or_default().insert(nonce, tx);
        Ok(())
    }

    /// Executable transactions in block order: each sender's contiguous run
    /// from its state nonce. `nonce_of` reads the latest state.
    pub fn ready(&self, mut nonce_of: impl FnMut(Address) -> u64, limit: usize) -> Vec<TxRef> {
        let mut out = Vec::new();
        for (sender, queue) in &self.by_sender {
            let first = nonce_of(*sender);
            for (next, (nonce, tx)) in (first..).zip(queue.range(first..)) {
                if *nonce != next || out.len() >= limit {
                    break;
                }
                out.push(tx.clone());
            }
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    /// Pending and queued counts.
    pub fn status(&self, mut nonce_of: impl FnMut(Address) -> u64) -> PoolStatus {
        let mut status = PoolStatus::default();
        for (sender, queue) in &self.by_sender {
            let mut next = nonce_of(*sender);
            for nonce in queue.keys() {
                if *nonce == next {
                    status.pending += 1;
                    next += 1;
                } else {
                    status.queued += 1;
                }
            }
        }
        status
    }

    /// Every transaction held, by sender then nonce.
    pub fn transactions(&self) -> Vec<TxRef> {
        self.by_sender
            .values()
            .flat_map(|q| q.values().cloned())
            .collect()
    }

    /// Drops transactions a new head made stale (nonce below the sender's
    /// new nonce) for the given senders.
    pub fn prune(
        &mut self,
        senders: impl IntoIterator<Item = Address>,
        mut nonce_of: impl FnMut(Address) -> u64,
    ) {
        for sender in senders {
            let Some(queue) = self.by_sender.get_mut(&sender) else {
                continue;
            };
            let nonce = nonce_of(sender);
            let keep = queue.split_off(&nonce);
            for tx in queue.values() {
                self.by_hash.remove(&tx.hash);
            }
            if keep.is_empty() {
                self.by_sender.remove(&sender);
            } else {
                *queue = keep;
            }
        }
    }

    /// Removes one transaction (refused at block building).
    pub fn remove(&mut self, hash: &B256) -> Option<TxRef> {
        let tx = self.by_hash.remove(hash)?;
        if let Some(queue) = self.by_sender.get_mut(&tx.sender) {
            queue.remove(&tx.nonce());
            if queue.is_empty() {
                self.by_sender.remove(&tx.sender);
            }
        }
        Some(tx)
    }

    /// Empties the pool (dev `revert`).
    pub fn clear(&mut self) {
        self.by_sender.clear();
        self.by_hash.clear();
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{
            SignableTransaction, Signed, TxEip1559, TxEip2930, TxLegacy,
            transaction::SignerRecoverable,
        },
        network::TxSignerSync,
        primitives::{Signature, TxKind},
        signers::local::PrivateKeySigner,
    };

    use super::*;

    fn signed<T: SignableTransaction<Signature>>(key: &PrivateKeySigner, mut tx: T) -> Signed<T> {
        let signature = key.sign_transaction_sync(&mut tx).unwrap();
        tx.into_signed(signature)
    }

    #[test]
    fn recovered_senders_forget_transactions_nothing_holds_any_more() {
        let tx = |nonce: u64| -> TxRef {
            let envelope = TxEnvelope::from(
                TxEip1559 {
                    chain_id: 1,
                    nonce,
                    gas_limit: 21_000,
                    to: TxKind::Call(Address::repeat_byte(1)),
                    ..Default::default()
                }
                .into_signed(Signature::test_signature()),
            );
            Arc::new(SignedTx::new(envelope, Address::repeat_byte(2)))
        };
        let mut recovered = RecoveredSenders::new();
        // Transactions that stay alive (in a pool, say) are all kept.
        let alive: Vec<TxRef> = (0..100).map(tx).collect();
        recovered.remember(&alive);
        // 50,000 more pass through and are dropped, a block at a time.
        for block in 0..50u64 {
            let passing: Vec<TxRef> = (0..1_000).map(|i| tx(1_000 + block * 1_000 + i)).collect();
            recovered.remember(&passing);
        }
        assert!(
            recovered.len() <= 2 * RecoveredSenders::MIN_SWEEP,
            "{} entries kept for 100 live transactions",
            recovered.len()
        );
        for live in &alive {
            let found = recovered
                .get(&live.hash)
                .expect("a live transaction is remembered");
            assert!(Arc::ptr_eq(&found, live));
        }
        // The same bound holds without the sweep's help when everything is alive.
        let held: Vec<TxRef> = (0..RecoveredSenders::CAPACITY as u64 + 10)
            .map(|n| tx(100_000 + n))
            .collect();
        recovered.remember(&held);
        assert_eq!(recovered.len(), RecoveredSenders::CAPACITY);
        assert!(
            recovered.get(&held[0].hash).is_none(),
            "the oldest is forgotten"
        );
    }

    #[test]
    fn recovery_matches_alloy_for_every_supported_type_and_refuses_high_s() {
        let key = PrivateKeySigner::random();
        let to = TxKind::Call(Address::repeat_byte(1));
        let envelopes: Vec<TxEnvelope> = vec![
            signed(
                &key,
                TxLegacy {
                    chain_id: None,
                    to,
                    gas_limit: 21_000,
                    ..Default::default()
                },
            )
            .into(),
            signed(
                &key,
                TxLegacy {
                    chain_id: Some(2020),
                    to,
                    gas_limit: 21_000,
                    ..Default::default()
                },
            )
            .into(),
            signed(
                &key,
                TxEip2930 {
                    chain_id: 2020,
                    to,
                    gas_limit: 21_000,
                    ..Default::default()
                },
            )
            .into(),
            signed(
                &key,
                TxEip1559 {
                    chain_id: 2020,
                    to,
                    gas_limit: 21_000,
                    nonce: 7,
                    ..Default::default()
                },
            )
            .into(),
        ];
        for envelope in envelopes {
            assert_eq!(envelope.recover_signer().unwrap(), key.address());
            assert_eq!(recover(envelope).unwrap().sender, key.address());
        }

        let tx = signed(
            &key,
            TxEip1559 {
                chain_id: 2020,
                to,
                gas_limit: 21_000,
                ..Default::default()
            },
        );
        let order = U256::from_be_slice(&alloy::hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        ));
        let signature = tx.signature();
        let twin = Signature::new(signature.r(), order - signature.s(), !signature.v());
        let malleable: TxEnvelope = Signed::new_unhashed(tx.strip_signature(), twin).into();
        assert!(malleable.recover_signer().is_err());
        let err = recover(malleable).unwrap_err();
        assert!(
            matches!(&err, TxError::InvalidSignature(m) if m.contains("EIP-2")),
            "{err}"
        );
    }
}
