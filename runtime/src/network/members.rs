//! The running network's membership: its nodes, their threads and
//! links, and what changes them (adding a node, stopping), plus backups
//! of their stores.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, RwLock, atomic::Ordering, mpsc},
    thread::JoinHandle,
};

use alloy::{primitives::B512, signers::local::PrivateKeySigner};

use super::{
    clock::NetworkClock,
    dev_state::DevState,
    driver::spawn_driver,
    genesis::{bft_config, genesis},
    stores::node_shared,
    transport::{Envelope, Link, Transport},
};
use crate::{
    chain::Chain,
    config::{NetworkConfig, NodeKey},
    data_dir::node_path,
    error::{Error, Result, StorageError},
    execution::ExecutionHook,
    node::{NodeCore, NodeShared},
    storage::Store,
};

/// Options of `Network::start_with`.
#[derive(Clone, Default)]
pub struct StartOptions {
    /// Inspects every block every node executes (see [`ExecutionHook`]).
    pub execution_hook: Option<Arc<dyn ExecutionHook>>,
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field("execution_hook", &self.execution_hook.is_some())
            .finish()
    }
}

/// One running node as its network holds it: its state and its channel.
#[derive(Clone)]
pub(crate) struct Member {
    pub(crate) shared: Arc<NodeShared>,
    pub(crate) sender: mpsc::Sender<Envelope>,
}

impl Member {
    /// Puts `envelope` on the node's channel (nothing happens once its
    /// thread has stopped).
    pub(crate) fn send(&self, envelope: Envelope) {
        let _ = self.sender.send(envelope);
    }

    pub(crate) fn block_number(&self) -> u64 {
        self.shared.chain.read().expect("chain lock").head_number()
    }
}

/// What a running network shares with its nodes' handles (which hold it
/// weakly: a handle does not keep its network alive).
pub(crate) struct NetworkInner {
    /// Grows with [`NetworkInner::add_node`], which holds the write lock for the
    /// whole addition, so a permission change reaches the new node too.
    pub(crate) nodes: RwLock<Vec<Member>>,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) transport: Arc<Transport>,
    /// The definition the network started from, and its options (a node
    /// added later is made as the defined ones were).
    pub(crate) config: NetworkConfig,
    pub(crate) options: StartOptions,
    /// Nodes added to a network with a data directory, as recorded there.
    pub(crate) added: Mutex<Vec<crate::admission::AddedNode>>,
    pub(crate) chain_id: u64,
    pub(crate) dev_accounts: Vec<PrivateKeySigner>,
    /// Dev controls' network-wide state (impersonations, snapshots).
    pub(crate) dev: Arc<DevState>,
    /// The clock every node's engine reads.
    pub(crate) clock: Arc<NetworkClock>,
    /// Where the nodes' stores are (`None`: in memory).
    pub(crate) data_dir: Option<PathBuf>,
}

impl NetworkInner {
    /// Starts a new node with `key` in the running network (see
    /// `Network::add_node`).
    pub(crate) fn add_node(&self, key: PrivateKeySigner) -> Result<Member> {
        let inner = self;
        // One change of the network's membership at a time, never during a
        // dev control (a revert counts the nodes it parks).
        let _no_dev_control = inner.dev.control();
        let mut nodes = inner.nodes.write().expect("nodes lock");
        let node_id = crate::config::node_id(&key);
        if let Some(holder) = nodes.iter().find(|n| n.shared.node_id == node_id) {
            return Err(Error::InvalidRequest(format!(
                "node {} already runs with this key (enode {}): every node needs a key of its own",
                holder.shared.index,
                crate::config::enode(&node_id, 30303 + holder.shared.index as u16)
            )));
        }
        if nodes
            .first()
            .is_some_and(|n| n.shared.stop.load(Ordering::Relaxed))
        {
            return Err(Error::ShutDown);
        }
        let index = nodes.len();
        let config = &inner.config;
        let (genesis_block, genesis_world) = genesis(config, &config.node_keys()?)?;
        // The network's lists as they are now: every change applies to
        // every node, and the nodes lock keeps changes out until it is in.
        let permissions = nodes[0]
            .shared
            .permissions
            .read()
            .expect("permissions lock")
            .clone();
        let node_key = NodeKey {
            signer: key,
            is_validator: false,
        };
        let (chain, permissions, store) = match &inner.data_dir {
            None => (Chain::new(genesis_block, genesis_world), permissions, None),
            Some(dir) => {
                let path = node_path(dir, index);
                if path.exists() {
                    return Err(StorageError::Open {
                        path,
                        message: "a store for this node index exists but no record names it (left by an interrupted add-node?); move it away to add a node".into(),
                    }
                    .into());
                }
                crate::admission::write_key(dir, index, &node_key.signer)?;
                let store = Arc::new(
                    Store::open(&path)?.with_historical_block_limit(config.historical_block_limit),
                );
                store.write_genesis(&genesis_block, &genesis_world, &permissions)?;
                store.write_chain_id(config.chain_id)?;
                let loaded = store.load(bft_config(config).mode)?;
                let mut added = inner.added.lock().expect("added nodes lock");
                let mut recorded = added.clone();
                recorded.push(crate::admission::AddedNode {
                    index,
                    key_file: crate::admission::key_file_name(index),
                });
                crate::admission::write(dir, &recorded)?;
                *added = recorded;
                (loaded.chain, loaded.permissions, Some(store))
            }
        };
        let shared = node_shared(config, index, node_key, chain, permissions, store);
        let bft = bft_config(config);
        let mut peers: Vec<B512> = nodes.iter().map(|n| n.shared.node_id).collect();
        peers.push(node_id);
        let core = NodeCore::new(shared.clone(), bft.clone(), peers)?
            .with_execution_hook(inner.options.execution_hook.clone())
            .with_selection_budget(bft);
        let (sender, receiver) = mpsc::channel();
        // Reachable first, then known to its peers (each hears of it before
        // any message from it), then running.
        inner
            .transport
            .push(Arc::new(Link::new(sender.clone(), node_id)));
        for node in nodes.iter() {
            node.send(Envelope::PeerJoined(node_id));
        }
        let thread = spawn_driver(core, receiver, &inner.transport, &inner.clock, true)?;
        inner.threads.lock().expect("threads lock").push(thread);
        let member = Member { shared, sender };
        nodes.push(member.clone());
        tracing::info!(
            node = index,
            enode = %crate::config::enode(&node_id, 30303 + index as u16),
            address = %member.shared.key.address(),
            "node added"
        );
        Ok(member)
    }

    /// Backs up every node's store (see `Network::backup`).
    pub(crate) fn backup(&self, name: Option<&str>) -> Result<crate::backup::Backup> {
        let dir = self.data_dir.as_ref().ok_or_else(|| {
            Error::InvalidRequest(
                "this network keeps its chain in memory: only a network started with a data directory can be backed up".to_owned(),
            )
        })?;
        // Under the nodes lock, the node list and the record agree.
        let nodes = self.nodes.read().expect("nodes lock");
        let added = self.added.lock().expect("added nodes lock").clone();
        let shared: Vec<Arc<NodeShared>> = nodes.iter().map(|n| n.shared.clone()).collect();
        crate::backup::backup(dir, &shared, &added, name)
    }

    /// Every node, in index order.
    pub(crate) fn members(&self) -> Vec<Member> {
        self.nodes.read().expect("nodes lock").clone()
    }

    pub(crate) fn stop_nodes(&self) {
        for node in self.members() {
            node.shared.stop.store(true, Ordering::Relaxed);
            node.send(Envelope::Shutdown);
        }
        let threads = std::mem::take(&mut *self.threads.lock().expect("threads lock"));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for NetworkInner {
    fn drop(&mut self) {
        self.stop_nodes();
    }
}
