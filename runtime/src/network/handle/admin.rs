//! Administering the node and its network: validators, permissioning,
//! peers, counters, adding nodes, backups.

use std::{
    path::PathBuf,
    sync::{Arc, Weak, atomic::Ordering, mpsc::Sender},
};

use alloy::{
    consensus::Header,
    eips::BlockId,
    primitives::{Address, B512},
    signers::local::PrivateKeySigner,
};

use super::{pool::TransactionPool, read::ChainReader};
use crate::{
    config::enode,
    error::{Error, Result},
    network::{
        members::NetworkInner,
        transport::{Envelope, Transport},
    },
    node::{ConsensusView, CoreEvent, LocalEvent, NodeShared, header_validators},
    permissions::{AccessLevel, PermissionChange, Permissions},
    pool::PoolStatus,
};

/// A peer as a node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub index: usize,
    pub node_id: B512,
    pub enode: String,
    pub address: Address,
}

/// Blocks a validator proposed in a range (Besu's `qbft_getSignerMetrics`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerMetric {
    pub address: Address,
    pub proposed_block_count: u64,
    pub last_proposed_block_number: u64,
}

/// A snapshot of a node's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub block_number: u64,
    pub blocks_committed: u64,
    pub transactions_committed: u64,
    pub rounds_started: u64,
    pub round_changes: u64,
    pub blocks_rejected: u64,
    pub pool: PoolStatus,
}

/// A node [`NodeAdmin::add_node`] started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNode {
    pub index: usize,
    pub node_id: B512,
    pub enode: String,
    pub address: Address,
    /// Where its key is kept (`None`: in memory only).
    pub key_file: Option<PathBuf>,
}

/// Administering one node and, through it, its network (Besu's ADMIN,
/// PERM and QBFT/IBFT groups): validator votes, permissioning, peers,
/// counters, adding nodes, backups.
#[derive(Clone)]
pub struct NodeAdmin {
    read: ChainReader,
    pool: TransactionPool,
    /// The node's channel: votes reach its engine through it.
    sender: Sender<Envelope>,
    transport: Arc<Transport>,
    network: Weak<NetworkInner>,
}

impl NodeAdmin {
    pub(crate) fn new(
        read: ChainReader,
        pool: TransactionPool,
        sender: Sender<Envelope>,
        transport: Arc<Transport>,
        network: Weak<NetworkInner>,
    ) -> Self {
        Self {
            read,
            pool,
            sender,
            transport,
            network,
        }
    }

    fn shared(&self) -> &Arc<NodeShared> {
        self.read.shared()
    }

    /// Where this node's key file is, for a node added to a network with a
    /// data directory ([`crate::Network::add_node`]); the defined nodes' keys come
    /// from the network definition.
    pub fn key_file(&self) -> Option<PathBuf> {
        let network = self.network.upgrade()?;
        let dir = network.data_dir.as_ref()?;
        let added = network.added.lock().expect("added nodes lock");
        added
            .iter()
            .find(|node| node.index == self.shared().index)
            .map(|node| dir.join(&node.key_file))
    }

    /// Starts a new node in the network this node belongs to
    /// ([`crate::Network::add_node`]).
    pub fn add_node(&self, key: PrivateKeySigner) -> Result<NewNode> {
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        let member = network.add_node(key)?;
        let shared = &member.shared;
        let key_file = network
            .data_dir
            .as_ref()
            .map(|dir| dir.join(crate::admission::key_file_name(shared.index)));
        Ok(NewNode {
            index: shared.index,
            node_id: shared.node_id,
            enode: enode(&shared.node_id, 30303 + shared.index as u16),
            address: shared.key.address(),
            key_file,
        })
    }

    /// Backs up the whole network this node belongs to ([`crate::Network::backup`]).
    pub fn backup(&self, name: Option<&str>) -> Result<crate::backup::Backup> {
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        network.backup(name)
    }

    /// Block bodies, receipt lists and reverse diffs this node decoded from
    /// its store since it opened (`None` without a data directory): how much history
    /// it has had to read, which opening a store keeps to the head.
    pub fn store_reads(&self) -> Option<u64> {
        self.shared().store.as_ref().map(|s| s.decoded_count())
    }

    /// Validators of `block` (from its header's extraData).
    pub fn validators_at(&self, block: BlockId) -> Result<Vec<Address>> {
        let block = self.read.block(block)?;
        Ok(header_validators(self.shared().mode, &block.header))
    }

    /// Validators that will decide the next block.
    pub fn current_validators(&self) -> Vec<Address> {
        self.shared()
            .consensus
            .read()
            .expect("consensus lock")
            .validators
            .clone()
    }

    /// Queues a vote to add (`true`) or remove a validator; this node's
    /// blocks carry it until it passes.
    pub fn propose_validator_vote(&self, address: Address, add: bool) {
        self.queue_vote(address, Some(add));
    }

    /// Drops this node's queued vote on `address`.
    pub fn discard_validator_vote(&self, address: Address) {
        self.queue_vote(address, None);
    }

    /// The published queue changes here, before the call returns, so a
    /// `getPendingVotes` right after it sees the vote (as on Besu); the
    /// engine gets the same changes in the same order through its events.
    /// The lock is held while sending so two calls reach both in one order.
    fn queue_vote(&self, address: Address, add: Option<bool>) {
        let mut view = self.shared().consensus.write().expect("consensus lock");
        let votes = &mut view.pending_votes;
        let at = votes.binary_search_by_key(&address, |(subject, _)| *subject);
        match (at, add) {
            (Ok(i), Some(add)) => votes[i].1 = add,
            (Err(i), Some(add)) => votes.insert(i, (address, add)),
            (Ok(i), None) => {
                votes.remove(i);
            }
            (Err(_), None) => {}
        }
        let _ = self
            .sender
            .send(Envelope::Event(CoreEvent::Local(LocalEvent::Vote {
                address,
                add,
            })));
    }

    /// This node's queued votes.
    pub fn pending_votes(&self) -> Vec<(Address, bool)> {
        self.shared()
            .consensus
            .read()
            .expect("consensus lock")
            .pending_votes
            .clone()
    }

    /// Current consensus height and round.
    pub fn consensus_status(&self) -> ConsensusView {
        self.shared()
            .consensus
            .read()
            .expect("consensus lock")
            .clone()
    }

    /// Blocks proposed per validator between two blocks (inclusive).
    pub fn signer_metrics(&self, from: BlockId, to: BlockId) -> Result<Vec<SignerMetric>> {
        let from = self.read.resolve_block(from)?.max(1);
        let to = self.read.resolve_block(to)?;
        let chain = self.read.chain();
        let mut metrics: Vec<SignerMetric> = Vec::new();
        for number in from..=to {
            let header: Header = chain
                .header(number)
                .ok_or_else(|| Error::BlockNotFound(number.to_string()))?;
            match metrics.iter_mut().find(|m| m.address == header.beneficiary) {
                Some(metric) => {
                    metric.proposed_block_count += 1;
                    metric.last_proposed_block_number = number;
                }
                None => metrics.push(SignerMetric {
                    address: header.beneficiary,
                    proposed_block_count: 1,
                    last_proposed_block_number: number,
                }),
            }
        }
        metrics.sort_by_key(|m| m.address);
        Ok(metrics)
    }

    pub fn permissions(&self) -> Permissions {
        self.shared()
            .permissions
            .read()
            .expect("permissions lock")
            .clone()
    }

    pub fn accounts_allowlist(&self) -> Vec<(Address, AccessLevel)> {
        self.permissions().accounts.into_iter().collect()
    }

    pub fn nodes_allowlist(&self) -> Vec<B512> {
        self.permissions().nodes.into_iter().collect()
    }

    /// Changes the lists of every node of this network, each in its own
    /// store, directly: nothing travels as a message that could be lost, so
    /// a node that is stopped, partitioned or off the node allowlist holds
    /// the change as well and no two nodes disagree. `by` is the account
    /// acting, which must be an admin (access level `full`); `None` is the
    /// network's operator (an API caller authorised by other means). A
    /// change that would leave no admin is refused and changes nothing.
    pub fn change_permissions(&self, by: Option<Address>, change: PermissionChange) -> Result<()> {
        let permissions = self.permissions();
        if let Some(admin) = by
            && !permissions.is_admin(admin)
        {
            return Err(Error::PermissionDenied(format!(
                "{admin} is not an admin account (access level `full`) and may not change the allowlists"
            )));
        }
        permissions.changed_by(&change)?;
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        let nodes = network.nodes.read().expect("nodes lock");
        for node in nodes.iter() {
            node.shared.apply_permissions(&change)?;
        }
        if matches!(change, PermissionChange::AddNodes(_)) {
            for node in nodes.iter() {
                node.send(Envelope::Resync);
            }
        }
        Ok(())
    }

    /// Adds accounts (or changes their level). `admin` must have `full` access.
    pub fn add_accounts_to_allowlist(
        &self,
        admin: Address,
        accounts: Vec<(Address, AccessLevel)>,
    ) -> Result<()> {
        self.change_permissions(Some(admin), PermissionChange::SetAccounts(accounts))
    }

    pub fn remove_accounts_from_allowlist(
        &self,
        admin: Address,
        accounts: Vec<Address>,
    ) -> Result<()> {
        self.change_permissions(Some(admin), PermissionChange::RemoveAccounts(accounts))
    }

    pub fn add_nodes_to_allowlist(&self, admin: Address, nodes: Vec<B512>) -> Result<()> {
        self.change_permissions(Some(admin), PermissionChange::AddNodes(nodes))
    }

    pub fn remove_nodes_from_allowlist(&self, admin: Address, nodes: Vec<B512>) -> Result<()> {
        self.change_permissions(Some(admin), PermissionChange::RemoveNodes(nodes))
    }

    /// The other nodes this node exchanges messages with (both on its node allowlist).
    pub fn peers(&self) -> Vec<PeerInfo> {
        let permissions = self.permissions();
        if !permissions.node_allowed(&self.shared().node_id) {
            return Vec::new();
        }
        self.transport
            .links()
            .iter()
            .map(|link| &link.node_id)
            .enumerate()
            .filter(|(i, id)| *i != self.shared().index && permissions.node_allowed(id))
            .map(|(index, id)| PeerInfo {
                index,
                node_id: *id,
                enode: enode(id, 30303 + index as u16),
                address: alloy::primitives::keccak256(id.as_slice()).as_slice()[12..]
                    .try_into()
                    .map(Address::new)
                    .expect("20 bytes"),
            })
            .collect()
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        let m = &self.shared().metrics;
        MetricsSnapshot {
            block_number: self.read.block_number(),
            blocks_committed: m.blocks_committed.load(Ordering::Relaxed),
            transactions_committed: m.transactions_committed.load(Ordering::Relaxed),
            rounds_started: m.rounds_started.load(Ordering::Relaxed),
            round_changes: m.round_changes.load(Ordering::Relaxed),
            blocks_rejected: m.blocks_rejected.load(Ordering::Relaxed),
            pool: self.pool.status(),
        }
    }
}
