//! Development controls of the dev network (anvil/hardhat's `evm_*`,
//! `anvil_*`): mining on demand, moving the clock, patching state and
//! sending transactions as any account.
//!
//! Every node of the in-process network validates every block, so each
//! control keeps them in agreement:
//! - mining asks every node's engine for a block and waits until every node
//!   has committed it: blocks still go through consensus;
//! - the clock offset is one value the whole network's engines read, so the
//!   proposer's timestamp and the validators' checks use the same clock;
//! - state patches are applied to every node's head state at the same point,
//!   between blocks, while every chain is write-locked and no transaction is
//!   pending anywhere (so no block is being built or validated on the old
//!   state), and the next block's state root includes them on every node;
//! - an impersonated transaction carries a fixed fake signature and enters
//!   the pools with its sender already known; pools gossip transactions with
//!   their senders, and block import takes senders from the pool, so every
//!   node accepts it.
//!
//! - a revert parks every node's thread between events, winds every chain
//!   back (blocks, receipts, state, state patches) and empties every pool;
//!   then each node drops what was in flight for the abandoned heights
//!   (consensus messages, gossip, synced blocks, timers) and resets its
//!   consensus engine to the rolled-back head; only once every node has
//!   done so does consensus resume, so no node hears a message from before
//!   the revert (such a message, or a block synced from a peer still on the
//!   old chain, is what stalls or undoes a naive rollback).
//!
//! State patches and reverts change state outside blocks, so they are only
//! offered on in-memory networks: a node's store could not reload them.
//! Controls that wait for or stop the network run one at a time.

use std::{
    sync::{Arc, Weak, atomic::Ordering},
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718},
    primitives::{Address, B256, Bytes, KECCAK256_EMPTY, Signature, TxKind, U256, keccak256},
    rpc::types::TransactionRequest,
};

use super::{pool::TransactionPool, read::ChainReader};
use crate::{
    block::SignedTx,
    chain::Chain,
    error::{Error, Result, TxError},
    execution::{CallLimits, CallRequest},
    network::{
        clock::{NetworkClock, wall_clock_ms},
        dev_state::{DevState, Snapshot},
        members::{Member, NetworkInner},
        pause::Pause,
        transport::Envelope,
    },
    node::{CoreEvent, LocalEvent, NodeShared},
    state::{AccountChange, AccountFields, StateChanges},
};

/// How long a control waits for the network (a block to commit everywhere,
/// pending transactions to be mined) before giving up.
const NETWORK_WAIT: Duration = Duration::from_secs(30);

/// The signature impersonated transactions carry: r = s = 1 cannot come
/// from a real key, so it never stands for anyone's consent.
fn impersonation_signature() -> Signature {
    Signature::new(U256::from(1), U256::from(1), false)
}

fn refuse_with_store(nodes: &[Member], method: &str) -> Result<()> {
    if nodes.iter().any(|n| n.shared.store.is_some()) {
        return Err(Error::InvalidRequest(format!(
            "not supported on this network: {method} changes state outside blocks, which a network with a data directory could not reload (start it without a data directory)"
        )));
    }
    Ok(())
}

/// Write-locks every node's chain. Lock order: chains by node index, then
/// pools (as block building does); while they are held nothing can build,
/// validate or commit a block.
fn lock_chains(shared: &[Arc<NodeShared>]) -> Vec<std::sync::RwLockWriteGuard<'_, Chain>> {
    shared
        .iter()
        .map(|s| s.chain.write().expect("chain lock"))
        .collect()
}

/// Every node at the same head and no transaction pending anywhere: no
/// block is being built, validated or committed.
fn is_idle(shared: &[Arc<NodeShared>], chains: &[std::sync::RwLockWriteGuard<'_, Chain>]) -> bool {
    let head = chains[0].head().hash;
    chains.iter().all(|c| c.head().hash == head)
        && shared
            .iter()
            .all(|s| s.pool.lock().expect("pool lock").is_empty())
}

fn wait_for_idle(method: &str, deadline: Instant) -> Result<()> {
    if Instant::now() > deadline {
        return Err(Error::InvalidRequest(format!(
            "{method}: the network still had pending transactions after {}s; it acts between blocks, once they are mined",
            NETWORK_WAIT.as_secs()
        )));
    }
    std::thread::sleep(Duration::from_millis(5));
    Ok(())
}

fn latest() -> BlockId {
    BlockId::Number(BlockNumberOrTag::Latest)
}

/// The dev network's controls (anvil's and Hardhat's `evm_*`/`anvil_*`),
/// applied to every node of the network this node belongs to.
#[derive(Clone)]
pub struct DevControls {
    read: ChainReader,
    pool: TransactionPool,
    network: Weak<NetworkInner>,
}

impl DevControls {
    pub(crate) fn new(
        read: ChainReader,
        pool: TransactionPool,
        network: Weak<NetworkInner>,
    ) -> Self {
        Self {
            read,
            pool,
            network,
        }
    }

    /// Every node of the network, the dev controls' state and the clock.
    fn network(&self) -> Result<(Vec<Member>, Arc<DevState>, Arc<NetworkClock>)> {
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        Ok((
            network.members(),
            network.dev.clone(),
            network.clock.clone(),
        ))
    }

    /// Commits `blocks` blocks through consensus, empty ones when no
    /// transaction is pending, and returns once every node has them.
    pub fn mine(&self, blocks: u64) -> Result<()> {
        let (nodes, dev, _) = self.network()?;
        let _one_at_a_time = dev.control();
        for _ in 0..blocks {
            let target = self.read.block_number() + 1;
            for node in &nodes {
                node.send(Envelope::Event(CoreEvent::Local(
                    LocalEvent::BlockRequested { height: target },
                )));
            }
            let deadline = Instant::now() + NETWORK_WAIT;
            while nodes.iter().any(|n| n.block_number() < target) {
                if Instant::now() > deadline {
                    return Err(Error::InvalidRequest(format!(
                        "block {target} was not committed by every node within {}s",
                        NETWORK_WAIT.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(())
    }

    /// Moves the network's clock forward; returns the total offset in seconds.
    pub fn increase_time(&self, seconds: u64) -> Result<u64> {
        let (_, _, clock) = self.network()?;
        let delta = i64::try_from(seconds.saturating_mul(1000))
            .map_err(|_| Error::InvalidRequest(format!("cannot move the clock by {seconds}s")))?;
        let total = clock.advance_ms(delta);
        Ok((total.max(0) / 1000) as u64)
    }

    /// Sets the network's clock so the next block is stamped `timestamp`
    /// (when it is mined within the same second); later blocks follow on.
    pub fn set_next_block_timestamp(&self, timestamp: u64) -> Result<()> {
        let (_, _, clock) = self.network()?;
        let head = self.read.block(latest())?.header.timestamp;
        if timestamp <= head {
            return Err(Error::InvalidRequest(format!(
                "timestamp {timestamp} is not after the latest block's ({head})"
            )));
        }
        let target_ms = i64::try_from(timestamp.saturating_mul(1000))
            .map_err(|_| Error::InvalidRequest(format!("timestamp {timestamp} is out of range")))?;
        clock.set_offset_ms(target_ms - wall_clock_ms() as i64);
        Ok(())
    }

    pub fn set_balance(&self, address: Address, balance: U256) -> Result<()> {
        self.patch_account("anvil_setBalance", address, |fields, _| {
            fields.balance = balance;
        })
    }

    pub fn set_code(&self, address: Address, code: Bytes) -> Result<()> {
        let code_hash = if code.is_empty() {
            KECCAK256_EMPTY
        } else {
            keccak256(&code)
        };
        self.patch_account("anvil_setCode", address, move |fields, changes| {
            fields.code_hash = code_hash;
            if !code.is_empty() {
                changes.codes.insert(code_hash, code.clone());
            }
        })
    }

    pub fn set_storage_at(&self, address: Address, slot: U256, value: U256) -> Result<()> {
        self.patch_account("anvil_setStorageAt", address, |_, changes| {
            changes
                .accounts
                .get_mut(&address)
                .expect("patch_account inserts the account")
                .storage
                .insert(slot, value);
        })
    }

    /// Applies one account patch to every node's head state between blocks.
    fn patch_account(
        &self,
        method: &str,
        address: Address,
        edit: impl Fn(&mut AccountFields, &mut StateChanges),
    ) -> Result<()> {
        let (nodes, dev, _) = self.network()?;
        refuse_with_store(&nodes, method)?;
        let _one_at_a_time = dev.control();
        let deadline = Instant::now() + NETWORK_WAIT;
        loop {
            let shared: Vec<_> = nodes.iter().map(|n| n.shared.clone()).collect();
            let mut chains = lock_chains(&shared);
            if is_idle(&shared, &chains) {
                let state = chains[0].latest_state();
                let mut fields = state.fields(address).unwrap_or(AccountFields {
                    nonce: 0,
                    balance: U256::ZERO,
                    code_hash: KECCAK256_EMPTY,
                });
                let mut changes = StateChanges::default();
                changes.accounts.insert(
                    address,
                    AccountChange {
                        fields: None,
                        storage_cleared: false,
                        storage: Default::default(),
                    },
                );
                edit(&mut fields, &mut changes);
                changes
                    .accounts
                    .get_mut(&address)
                    .expect("inserted above")
                    .fields = Some(fields);
                for chain in &mut chains {
                    chain.apply_patch(&changes);
                }
                tracing::debug!(%address, method, "dev state patch applied on every node");
                return Ok(());
            }
            drop(chains);
            wait_for_idle(method, deadline)?;
        }
    }

    /// Records the network's current state; returns the snapshot's id.
    pub fn snapshot(&self) -> Result<u64> {
        let (nodes, dev, clock) = self.network()?;
        refuse_with_store(&nodes, "evm_snapshot")?;
        let _one_at_a_time = dev.control();
        // Another node may still be committing this head; revert waits for it.
        let point = self.read.chain().point();
        let id = dev.last_snapshot_id.fetch_add(1, Ordering::SeqCst) + 1;
        dev.snapshots.lock().expect("snapshots lock").insert(
            id,
            Snapshot {
                point,
                clock_offset_ms: clock.offset_ms(),
            },
        );
        tracing::debug!(id, block = point.number, "dev snapshot taken");
        Ok(id)
    }

    /// Rolls the whole network back to snapshot `id`: every node's chain,
    /// state and receipts, the clock offset; pools are emptied. `id` and
    /// every later snapshot are used up. False when `id` is not live.
    pub fn revert(&self, id: u64) -> Result<bool> {
        let (nodes, dev, clock) = self.network()?;
        refuse_with_store(&nodes, "evm_revert")?;
        let _one_at_a_time = dev.control();
        let Some(snapshot) = dev
            .snapshots
            .lock()
            .expect("snapshots lock")
            .get(&id)
            .copied()
        else {
            return Ok(false);
        };
        let target = snapshot.point;
        let deadline = Instant::now() + NETWORK_WAIT;
        while let Some(behind) = nodes.iter().find(|n| n.block_number() < target.number) {
            if Instant::now() > deadline {
                return Err(Error::InvalidRequest(format!(
                    "evm_revert: node {} did not reach the snapshot's block {} within {}s",
                    behind.shared.index,
                    target.number,
                    NETWORK_WAIT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let pause = Arc::new(Pause::new(nodes.len()));
        for node in &nodes {
            node.send(Envelope::Pause(pause.clone()));
        }
        if !pause.wait_parked(deadline) {
            pause.abandon();
            return Err(Error::InvalidRequest(format!(
                "evm_revert: not every node paused within {}s; nothing was changed",
                NETWORK_WAIT.as_secs()
            )));
        }
        // Every node's thread is parked: nothing builds, validates or commits.
        let shared: Vec<_> = nodes.iter().map(|n| n.shared.clone()).collect();
        let mut chains = lock_chains(&shared);
        let unreachable = chains
            .iter()
            .enumerate()
            .find_map(|(index, chain)| chain.check_rewind(target).err().map(|e| (index, e)));
        if let Some((index, reason)) = unreachable {
            drop(chains);
            pause.abandon();
            return Err(Error::InvalidRequest(format!(
                "evm_revert: node {index} cannot go back to snapshot {id}: {reason}; nothing was changed"
            )));
        }
        for (chain, node) in chains.iter_mut().zip(&shared) {
            chain.rewind(target).expect("checked on every node above");
            node.pool.lock().expect("pool lock").clear();
        }
        drop(chains);
        clock.set_offset_ms(snapshot.clock_offset_ms);
        dev.snapshots
            .lock()
            .expect("snapshots lock")
            .retain(|live, _| *live < id);
        pause.rewound();
        if !pause.wait_restarted(Instant::now() + NETWORK_WAIT) {
            tracing::warn!(
                id,
                "a node did not report its consensus restarted after the revert"
            );
        }
        pause.resume();
        tracing::debug!(
            id,
            block = target.number,
            "dev revert applied on every node"
        );
        Ok(true)
    }

    pub fn impersonate(&self, address: Address) -> Result<()> {
        let (_, dev, _) = self.network()?;
        dev.impersonated
            .lock()
            .expect("impersonation lock")
            .insert(address);
        Ok(())
    }

    pub fn stop_impersonating(&self, address: Address) -> Result<()> {
        let (_, dev, _) = self.network()?;
        dev.impersonated
            .lock()
            .expect("impersonation lock")
            .remove(&address);
        Ok(())
    }

    pub fn is_impersonated(&self, address: Address) -> bool {
        self.network().is_ok_and(|(_, dev, _)| {
            dev.impersonated
                .lock()
                .expect("impersonation lock")
                .contains(&address)
        })
    }

    /// Submits `request` as a transaction from impersonated `from`, filling
    /// nonce, gas and fees as `eth_sendTransaction` does.
    pub fn submit_impersonated(
        &self,
        from: Address,
        request: TransactionRequest,
    ) -> Result<B256, TxError> {
        if !self.is_impersonated(from) {
            return Err(TxError::InvalidSignature(format!(
                "{from} is not impersonated (anvil_impersonateAccount first)"
            )));
        }
        let spec = self.read.chain_spec();
        let nonce = request.nonce.unwrap_or_else(|| self.pool.next_nonce(from));
        let to = request.to.unwrap_or(TxKind::Create);
        let value = request.value.unwrap_or_default();
        let input = request.input.input().cloned().unwrap_or_default();
        let gas_limit = match request.gas {
            Some(gas) => gas,
            None => {
                let call = CallRequest {
                    from: Some(from),
                    to: to.to().copied(),
                    gas: None,
                    gas_price: None,
                    value: Some(value),
                    input: input.clone(),
                    nonce: Some(nonce),
                    access_list: None,
                };
                self.read
                    .estimate_gas(&call, latest(), &CallLimits::default())
                    .map_err(|e| TxError::Evm(format!("gas estimation failed: {e}")))?
            }
        };
        let signature = impersonation_signature();
        let envelope: TxEnvelope = match request.max_fee_per_gas {
            Some(max_fee) => TxEip1559 {
                chain_id: spec.chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: request.max_priority_fee_per_gas.unwrap_or(max_fee),
                to,
                value,
                input,
                access_list: request.access_list.clone().unwrap_or_default(),
            }
            .into_signed(signature)
            .into(),
            None => TxLegacy {
                chain_id: Some(spec.chain_id),
                nonce,
                gas_price: request.gas_price.unwrap_or(spec.min_gas_price),
                gas_limit,
                to,
                value,
                input,
            }
            .into_signed(signature)
            .into(),
        };
        let tx = SignedTx {
            hash: *envelope.tx_hash(),
            encoded_len: envelope.encode_2718_len(),
            sender: from,
            envelope,
        };
        self.pool.submit_signed(Arc::new(tx))
    }
}
