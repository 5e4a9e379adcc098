//! A network of in-process nodes, driven in real time: one thread per
//! node, in-process channels between them, wall-clock timers.
//!
//! - `genesis`: a definition's BFT parameters, genesis state and block;
//! - `stores`: opening every node's store (or memory) for a definition;
//! - `transport`, `driver`: the channels and the thread that runs a node's core;
//! - `clock`: the network's clock (the wall clock, moved by dev controls);
//! - `pause`: the rendezvous a dev revert holds with every node's thread;
//! - `dev_state`: the dev controls' network-wide state;
//! - `members`: the running nodes, adding one, stopping them, backups;
//! - `handle`: [`NodeHandle`], one node's API, by role.

use std::sync::{Arc, Mutex, RwLock, mpsc};

use alloy::{
    primitives::{Address, B512},
    signers::local::PrivateKeySigner,
};

mod clock;
mod dev_state;
mod driver;
mod genesis;
mod handle;
mod members;
mod pause;
mod stores;
mod transport;

pub use genesis::{bft_config, genesis, genesis_world};
pub use handle::{
    ChainReader, DevControls, MetricsSnapshot, NewNode, NodeAdmin, NodeHandle, PeerInfo,
    SignerMetric, TransactionPool,
};
pub use members::StartOptions;
pub use stores::StorageMode;
pub(crate) use stores::open_nodes;

use self::{
    clock::NetworkClock,
    dev_state::DevState,
    driver::spawn_driver,
    members::{Member, NetworkInner},
    transport::{Link, Transport},
};
use crate::{config::NetworkConfig, error::Result, node::NodeCore};

/// A running network. Cloning shares it.
#[derive(Clone)]
pub struct Network {
    inner: Arc<NetworkInner>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("chain_id", &self.inner.chain_id)
            .field("nodes", &self.inner.members().len())
            .finish()
    }
}

impl Network {
    /// Starts the network with the real-time driver: one thread per node.
    pub fn start(config: NetworkConfig, storage: StorageMode) -> Result<Network> {
        Self::start_with(config, storage, StartOptions::default())
    }

    /// [`Network::start`] with options.
    pub fn start_with(
        config: NetworkConfig,
        storage: StorageMode,
        options: StartOptions,
    ) -> Result<Network> {
        let shared = open_nodes(&config, &storage)?;
        let dev_accounts = config.dev_accounts()?;
        let bft = bft_config(&config);
        let added = match &storage {
            StorageMode::Dir(dir) => crate::admission::read(dir, config.node_keys()?.len())?
                .into_iter()
                .map(|(node, _)| node)
                .collect(),
            StorageMode::InMemory => Vec::new(),
        };
        let peers: Vec<B512> = shared.iter().map(|n| n.node_id).collect();
        let mut links = Vec::new();
        let mut receivers = Vec::new();
        for node in &shared {
            let (sender, receiver) = mpsc::channel();
            links.push(Arc::new(Link::new(sender, node.node_id)));
            receivers.push(receiver);
        }
        let transport = Arc::new(Transport::new(links, bft.message_queue_limit));
        let dev = Arc::new(DevState::default());
        let clock = Arc::new(NetworkClock::default());
        let mut cores = Vec::new();
        for node in &shared {
            cores.push(
                NodeCore::new(node.clone(), bft.clone(), peers.clone())?
                    .with_execution_hook(options.execution_hook.clone())
                    .with_selection_budget(bft.clone()),
            );
        }
        let mut threads = Vec::new();
        for (core, receiver) in cores.into_iter().zip(receivers) {
            threads.push(spawn_driver(core, receiver, &transport, &clock, false)?);
        }
        let links = transport.links();
        let members = shared
            .into_iter()
            .zip(links.iter())
            .map(|(shared, link)| Member {
                shared,
                sender: link.sender.clone(),
            })
            .collect();
        let inner = Arc::new(NetworkInner {
            nodes: RwLock::new(members),
            threads: Mutex::new(threads),
            transport,
            chain_id: config.chain_id,
            config,
            options,
            added: Mutex::new(added),
            dev_accounts,
            dev,
            clock,
            data_dir: match storage {
                StorageMode::Dir(dir) => Some(dir),
                StorageMode::InMemory => None,
            },
        });
        Ok(Network { inner })
    }

    /// Stops every node (each committed block is already durable). What a
    /// node or an API call is executing is interrupted, so this returns
    /// promptly whatever the transactions do.
    pub fn shutdown(&self) {
        self.inner.stop_nodes();
    }

    /// Every node, in index order (validators of the definition first, then
    /// its regular nodes, then nodes added since the start).
    pub fn nodes(&self) -> Vec<NodeHandle> {
        self.inner
            .members()
            .iter()
            .map(|member| NodeHandle::new(member, &self.inner))
            .collect()
    }

    /// Node `index` (validators first, then regular nodes). Panics when out of range.
    pub fn node(&self, index: usize) -> NodeHandle {
        let member = self.inner.nodes.read().expect("nodes lock")[index].clone();
        NodeHandle::new(&member, &self.inner)
    }

    /// handle: Besu's "add a new node". It starts from genesis with a copy
    /// of the network's permission lists and syncs from its peers; while
    /// node permissioning is on and its enode is not on the node
    /// allowlists, peers refuse it and it syncs nothing, and once
    /// `perm_addNodesToAllowlist` lists it ([`NodeAdmin::change_permissions`])
    /// it syncs and follows. It validates once a validator vote adds its
    /// address. With a data directory its key (`node-<i>.key`) and store
    /// are kept there and `added-nodes.json` records it, so the next start
    /// with that directory includes it. A key another node of the network
    /// holds is refused.
    pub fn add_node(&self, key: PrivateKeySigner) -> Result<NodeHandle> {
        let member = self.inner.add_node(key)?;
        Ok(NodeHandle::new(&member, &self.inner))
    }

    /// Backs up every node's store into `<data-dir>/backups/<name>/` while
    /// the network keeps running (see [`crate::backup`]); `name` defaults
    /// to the UTC time.
    pub fn backup(&self, name: Option<&str>) -> Result<crate::backup::Backup> {
        self.inner.backup(name)
    }

    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// The funded dev accounts with their keys.
    pub fn dev_accounts(&self) -> Vec<(Address, PrivateKeySigner)> {
        self.inner
            .dev_accounts
            .iter()
            .map(|s| (s.address(), s.clone()))
            .collect()
    }
}
