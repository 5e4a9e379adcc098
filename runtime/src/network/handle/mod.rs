//! The API of one node of a running network, by role: [`ChainReader`]
//! (blocks, receipts, state, calls), [`TransactionPool`] (submitting
//! transactions, what is pending), [`NodeAdmin`] (validators,
//! permissioning, peers, adding nodes, backups) and [`DevControls`] (the
//! dev network's mining, clock, state patches, snapshots, impersonation).
//! A caller takes the role it needs: the RPC's ETH methods read, its
//! `eth_sendRawTransaction` submits, its PERM/ADMIN/QBFT methods
//! administer, its `evm_`/`anvil_` methods use the dev controls.

use std::sync::Arc;

use alloy::primitives::{Address, B512};

mod admin;
mod dev;
mod pool;
mod read;

pub use admin::{MetricsSnapshot, NewNode, NodeAdmin, PeerInfo, SignerMetric};
pub use dev::DevControls;
pub use pool::TransactionPool;
pub use read::ChainReader;

use super::members::{Member, NetworkInner};
use crate::{config::enode, node::NodeShared};

/// The API of one node. Cloneable (one shared allocation), `Send + Sync`.
#[derive(Clone)]
pub struct NodeHandle(Arc<Roles>);

struct Roles {
    read: ChainReader,
    pool: TransactionPool,
    admin: NodeAdmin,
    dev: DevControls,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("index", &self.index())
            .finish()
    }
}

impl NodeHandle {
    /// The handle of `member` of `network`. Handles reach their network
    /// (admin and dev controls act on every node) without keeping it alive.
    pub(crate) fn new(member: &Member, network: &Arc<NetworkInner>) -> Self {
        let read = ChainReader::new(member.shared.clone(), network.clock.clone());
        let pool = TransactionPool::new(member.shared.clone(), member.sender.clone());
        let admin = NodeAdmin::new(
            read.clone(),
            pool.clone(),
            member.sender.clone(),
            network.transport.clone(),
            Arc::downgrade(network),
        );
        let dev = DevControls::new(read.clone(), pool.clone(), Arc::downgrade(network));
        Self(Arc::new(Roles {
            read,
            pool,
            admin,
            dev,
        }))
    }

    /// Reading the chain: blocks, receipts, transactions, state, calls.
    pub fn read(&self) -> &ChainReader {
        &self.0.read
    }

    /// The transaction pool: submitting, and what is pending.
    pub fn pool(&self) -> &TransactionPool {
        &self.0.pool
    }

    /// Administering the node and its network: validators, permissioning,
    /// peers, counters, adding nodes, backups.
    pub fn admin(&self) -> &NodeAdmin {
        &self.0.admin
    }

    /// The dev network's controls (refused where they cannot apply).
    pub fn dev(&self) -> &DevControls {
        &self.0.dev
    }

    fn shared(&self) -> &Arc<NodeShared> {
        self.0.read.shared()
    }

    pub fn index(&self) -> usize {
        self.shared().index
    }

    /// The node's id: its 64-byte public key.
    pub fn node_id(&self) -> B512 {
        self.shared().node_id
    }

    pub fn enode(&self) -> String {
        enode(&self.shared().node_id, 30303 + self.shared().index as u16)
    }

    /// The node's address (validators sign blocks with it).
    pub fn address(&self) -> Address {
        self.shared().key.address()
    }

    /// Whether the node is among the validators deciding the next block.
    pub fn is_validator(&self) -> bool {
        self.shared()
            .consensus
            .read()
            .expect("consensus lock")
            .validators
            .contains(&self.address())
    }
}
