//! A network of in-process nodes: genesis, stores, the real-time driver (a
//! thread per node, channels, wall-clock timers) and the API handles.

use std::{
    collections::BinaryHeap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicUsize, Ordering},
        mpsc::{self, RecvTimeoutError, Sender},
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy::{
    consensus::{Header, TxEnvelope},
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, B512, Bytes, KECCAK256_EMPTY, U256},
    rpc::types::{Filter, FilterBlockOption, Log as RpcLog},
    signers::local::PrivateKeySigner,
};
use forja_consensus::{BftConfig, BftExtraData, BftMode, TimerId, Transition, bft_block_hash};
use tokio::sync::broadcast;

use crate::{
    block::{SealedBlock, SignedTx, TxLocation, TxReceipt, TxRef},
    chain::Chain,
    config::{ConsensusMode, NetworkConfig, NodeKey, enode},
    error::{ConfigError, Error, Result, StorageError, TxError},
    execution::{
        BlockContext, CallLimits, CallRequest, ExecutedBlock, ExecutionHook, ExecutionOutcome,
        call, estimate_gas, seal_header,
    },
    interrupt::{Interrupted, Limits},
    node::{
        ConsensusView, CoreEvent, Effect, LocalEvent, NetMessage, NodeCore, NodeShared,
        header_validators,
    },
    permissions::{AccessLevel, PermissionChange, Permissions},
    pool::{PoolStatus, TxPool, decode_transaction, recover},
    spec::ChainSpec,
    state::{AccountChange, AccountFields, StateAt, StateChanges, WorldState},
    storage::Store,
};

/// Where nodes keep their data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageMode {
    /// Nothing on disk (tests, the ephemeral dev node).
    InMemory,
    /// One redb file per node in this directory (`node-<i>.redb`).
    Dir(PathBuf),
}

/// The BFT parameters of a network definition.
pub fn bft_config(config: &NetworkConfig) -> BftConfig {
    let mode = match config.consensus.mode {
        ConsensusMode::Qbft => BftMode::Qbft,
        ConsensusMode::Ibft2 => BftMode::Ibft2,
    };
    let mut bft = BftConfig::new(mode);
    bft.epoch_length = config.consensus.epoch_length;
    bft.block_period_seconds = config.consensus.block_period_seconds;
    bft.request_timeout_ms = config
        .consensus
        .request_timeout_seconds
        .saturating_mul(1000)
        .max(1);
    bft.transitions = config
        .consensus
        .transitions
        .iter()
        .map(|t| Transition {
            block: t.block,
            block_period_seconds: t.block_period_seconds,
            request_timeout_ms: t.request_timeout_seconds.map(|s| s.saturating_mul(1000)),
        })
        .collect();
    bft.validator_overrides = config
        .consensus
        .transitions
        .iter()
        .filter_map(|t| t.validators.clone().map(|v| (t.block, v)))
        .collect();
    if let Some(validators) = dev_twin_takeover(config) {
        bft.validator_overrides.push((1, validators));
    }
    bft.future_messages_limit = config.consensus.future_messages_limit;
    bft.future_messages_max_distance = config.consensus.future_messages_max_distance;
    bft.message_queue_limit = config.consensus.message_queue_limit;
    bft.duplicate_message_limit = config.consensus.duplicate_message_limit;
    bft.early_round_change = config.consensus.early_round_change;
    bft
}

/// The validators that take over from block 1 when a definition from a
/// Besu genesis.json names validators whose keys this process does not
/// hold (a real network's, e.g. Alastria's): the genesis block stays the
/// one Besu builds (same hash), and the network's own validators seal
/// every block after it, as a Besu `validators` transition at block 1
/// would have them. `None` when the genesis validators are the network's
/// own, or the definition sets block 1's validators itself.
fn dev_twin_takeover(config: &NetworkConfig) -> Option<Vec<Address>> {
    let header = config.genesis_header.as_ref()?;
    let named = header.validators().ok()?;
    let mut own: Vec<Address> = config
        .node_keys()
        .ok()?
        .iter()
        .filter(|k| k.is_validator)
        .map(NodeKey::address)
        .collect();
    own.sort();
    let set_at_block_1 = config
        .consensus
        .transitions
        .iter()
        .any(|t| t.block == 1 && t.validators.is_some());
    (own != named && !set_at_block_1).then_some(own)
}

/// The genesis state of a definition: its dev accounts and its accounts.
pub fn genesis_world(config: &NetworkConfig) -> Result<WorldState> {
    let mut world = WorldState::default();
    let mut changes = StateChanges::default();
    let ether = U256::from(10u64).pow(U256::from(18));
    for signer in config.dev_accounts()? {
        changes.accounts.insert(
            signer.address(),
            AccountChange {
                fields: Some(AccountFields {
                    nonce: 0,
                    balance: U256::from(config.dev_accounts.balance_ether) * ether,
                    code_hash: KECCAK256_EMPTY,
                }),
                storage_cleared: false,
                storage: Default::default(),
            },
        );
    }
    for account in &config.accounts {
        let code_hash = match &account.code {
            Some(code) => world.insert_code(code.clone()),
            None => KECCAK256_EMPTY,
        };
        changes.accounts.insert(
            account.address,
            AccountChange {
                fields: Some(AccountFields {
                    nonce: account.nonce,
                    balance: account.balance,
                    code_hash,
                }),
                storage_cleared: false,
                storage: account.storage.iter().map(|(k, v)| (*k, *v)).collect(),
            },
        );
    }
    world.apply(&changes);
    Ok(world)
}

/// Genesis block and state of a network definition.
pub fn genesis(config: &NetworkConfig, keys: &[NodeKey]) -> Result<(Arc<SealedBlock>, WorldState)> {
    let spec = config.spec();
    let bft = bft_config(config);
    let world = genesis_world(config)?;
    let validators: Vec<Address> = keys
        .iter()
        .filter(|k| k.is_validator)
        .map(NodeKey::address)
        .collect();
    let header = match &config.genesis_header {
        Some(besu) => besu.header(
            world.state_root(),
            spec.block_gas_limit,
            config.genesis_timestamp,
        ),
        None => {
            let extra_data = BftExtraData::genesis(validators).encode(bft.mode);
            let context = BlockContext {
                number: 0,
                timestamp: config.genesis_timestamp,
                beneficiary: Address::ZERO,
                gas_limit: spec.block_gas_limit,
                parent_hash: B256::ZERO,
            };
            seal_header(
                &spec,
                &context,
                &ExecutedBlock::default(),
                world.state_root(),
                extra_data,
            )
        }
    };
    let hash = bft_block_hash(bft.mode, &header)
        .map_err(|e| ConfigError::Invalid(format!("genesis extraData: {e}")))?;
    Ok((
        Arc::new(SealedBlock::with_hash(header, hash, Vec::new())),
        world,
    ))
}

#[allow(clippy::large_enum_variant)] // see NetMessage
enum Envelope {
    Event(CoreEvent),
    Shutdown,
    /// A dev `revert` asks the node to stop between events (see [`hold_for_revert`]).
    Pause(Arc<crate::dev::Pause>),
    /// A node joined the network ([`Network::add_node`]): its id, at the
    /// next index.
    PeerJoined(B512),
    /// The node allowlists grew: a peer that was refused may be heard now,
    /// so ask the peers for blocks (as a Besu node syncs once a connection
    /// it was refused comes up).
    Resync,
}

type Timers = BinaryHeap<std::cmp::Reverse<(Instant, TimerId)>>;

struct NetworkInner {
    /// Grows with [`Network::add_node`], which holds the write lock for the
    /// whole addition, so a permission change reaches the new node too.
    nodes: RwLock<Vec<NodeHandle>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    transport: Arc<Transport>,
    /// The definition the network started from, and its options (a node
    /// added later is made as the defined ones were).
    config: NetworkConfig,
    options: StartOptions,
    /// Nodes added to a network with a data directory, as recorded there.
    added: Mutex<Vec<crate::admission::AddedNode>>,
    chain_id: u64,
    dev_accounts: Vec<PrivateKeySigner>,
    /// Dev controls' network-wide state (clock offset, impersonations).
    dev: Arc<crate::dev::DevState>,
    /// Where the nodes' stores are (`None`: in memory).
    data_dir: Option<PathBuf>,
}

/// A running network. Cloning shares it.
#[derive(Clone)]
pub struct Network {
    inner: Arc<NetworkInner>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("chain_id", &self.inner.chain_id)
            .field("nodes", &self.inner.nodes().len())
            .finish()
    }
}

/// Opens or creates every node's chain for `config` in `storage`.
pub(crate) fn open_nodes(
    config: &NetworkConfig,
    storage: &StorageMode,
) -> Result<Vec<Arc<NodeShared>>> {
    config.validate()?;
    let mut keys = config.node_keys()?;
    let (genesis_block, genesis_world) = genesis(config, &keys)?;
    let initial_permissions = config.permissions(&keys)?;
    let spec = config.spec();
    let mode = bft_config(config).mode;
    let defined = keys.len();
    // Nodes added while the network ran (`Network::add_node`) follow the
    // defined ones; their stores must all be there.
    let added = match storage {
        StorageMode::Dir(dir) => crate::admission::read(dir, defined)?,
        StorageMode::InMemory => Vec::new(),
    };
    let mut paths: Vec<Option<PathBuf>> = match storage {
        StorageMode::InMemory => vec![None; keys.len()],
        StorageMode::Dir(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Open {
                path: dir.clone(),
                message: format!("cannot create the data directory: {e}"),
            })?;
            let paths: Vec<PathBuf> = (0..defined).map(|i| node_path(dir, i)).collect();
            let present: Vec<bool> = paths.iter().map(|p| p.exists()).collect();
            if present.iter().any(|p| *p) && !present.iter().all(|p| *p) {
                let missing: Vec<String> = paths
                    .iter()
                    .zip(&present)
                    .filter(|(_, p)| !**p)
                    .map(|(path, _)| path.display().to_string())
                    .collect();
                return Err(StorageError::Incomplete {
                    dir: dir.clone(),
                    message: format!(
                        "it holds stores for some nodes but not for {} ({} nodes defined)",
                        missing.join(", "),
                        keys.len()
                    ),
                }
                .into());
            }
            paths.into_iter().map(Some).collect()
        }
    };
    if let StorageMode::Dir(dir) = storage {
        for (node, signer) in added {
            let path = node_path(dir, node.index);
            if !path.is_file() {
                return Err(StorageError::Incomplete {
                    dir: dir.clone(),
                    message: format!(
                        "{} lists node {} but its store {} is missing",
                        crate::admission::RECORD,
                        node.index,
                        path.display()
                    ),
                }
                .into());
            }
            paths.push(Some(path));
            keys.push(NodeKey {
                signer,
                is_validator: false,
            });
        }
    }
    // Every store is checked read-only, then opened (the ones to repair
    // first) and loaded, before any is written: a store that fails leaves
    // the others as they were.
    let mut needs_repair = vec![false; paths.len()];
    for (index, path) in paths.iter().enumerate() {
        if let Some(path) = path
            && path.exists()
        {
            needs_repair[index] = Store::inspect(path)?;
        }
    }
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by_key(|i| !needs_repair[*i]);
    let mut opened: Vec<_> = paths.iter().map(|_| None).collect();
    for index in order {
        let Some(path) = &paths[index] else {
            continue;
        };
        let store =
            Arc::new(Store::open(path)?.with_historical_block_limit(config.historical_block_limit));
        let loaded = match store.genesis_hash()? {
            Some(stored) if stored != genesis_block.hash => {
                return Err(StorageError::GenesisMismatch {
                    path: path.clone(),
                    stored,
                    configured: genesis_block.hash,
                }
                .into());
            }
            Some(_) => {
                if let Some(stored) = store.chain_id()?
                    && stored != spec.chain_id
                {
                    return Err(StorageError::ChainIdMismatch {
                        path: path.clone(),
                        stored,
                        configured: spec.chain_id,
                    }
                    .into());
                }
                Some(store.load(mode)?)
            }
            None => None,
        };
        opened[index] = Some((store, loaded));
    }
    let mut nodes = Vec::with_capacity(keys.len());
    for (index, (key, opened)) in keys.into_iter().zip(opened).enumerate() {
        let (chain, permissions, store) = match opened {
            None => (
                Chain::new(genesis_block.clone(), genesis_world.clone()),
                initial_permissions.clone(),
                None,
            ),
            Some((store, Some(loaded))) => {
                if store.chain_id()?.is_none() {
                    store.write_chain_id(spec.chain_id)?;
                }
                (loaded.chain, loaded.permissions, Some(store))
            }
            Some((store, None)) => {
                store.write_genesis(&genesis_block, &genesis_world, &initial_permissions)?;
                store.write_chain_id(spec.chain_id)?;
                let loaded = store.load(mode)?;
                (loaded.chain, loaded.permissions, Some(store))
            }
        };
        nodes.push(node_shared(config, index, key, chain, permissions, store));
    }
    Ok(nodes)
}

/// A node's state shared by its core and its API handles.
fn node_shared(
    config: &NetworkConfig,
    index: usize,
    key: NodeKey,
    chain: Chain,
    permissions: Permissions,
    store: Option<Arc<Store>>,
) -> Arc<NodeShared> {
    Arc::new(NodeShared {
        index,
        node_id: key.node_id(),
        key,
        spec: config.spec(),
        mode: bft_config(config).mode,
        chain: RwLock::new(chain),
        pool: Mutex::new(TxPool::new(config.pool.0)),
        permissions: RwLock::new(permissions),
        store,
        new_blocks: broadcast::channel(1024).0,
        new_transactions: broadcast::channel(16_384).0,
        metrics: Default::default(),
        consensus: RwLock::new(ConsensusView::default()),
        stop: Default::default(),
        block_txs_selection_max_time: config.block_txs_selection_max_time,
    })
}

pub(crate) fn node_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("node-{index}.redb"))
}

/// Wall-clock milliseconds since the Unix epoch (the engine's clock).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Options of [`Network::start_with`].
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
        let transport = Arc::new(Transport {
            links: RwLock::new(Arc::new(links)),
            consensus_queue_limit: bft.message_queue_limit,
        });
        let dev = Arc::new(crate::dev::DevState::default());
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
            threads.push(spawn_driver(core, receiver, &transport, &dev, false)?);
        }
        let links = transport.links();
        // Handles reach their network (dev controls act on every node)
        // without keeping it alive.
        let inner = Arc::new_cyclic(|network| NetworkInner {
            nodes: RwLock::new(
                shared
                    .into_iter()
                    .enumerate()
                    .map(|(index, shared)| NodeHandle {
                        shared,
                        sender: links[index].sender.clone(),
                        transport: transport.clone(),
                        network: network.clone(),
                    })
                    .collect(),
            ),
            threads: Mutex::new(threads),
            transport,
            chain_id: config.chain_id,
            config,
            options,
            added: Mutex::new(added),
            dev_accounts,
            dev,
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
        self.inner.nodes()
    }

    /// Node `index` (validators first, then regular nodes). Panics when out of range.
    pub fn node(&self, index: usize) -> NodeHandle {
        self.inner.nodes.read().expect("nodes lock")[index].clone()
    }

    /// Starts a new node with `key` in the running network and returns its
    /// handle: Besu's "add a new node". It starts from genesis with a copy
    /// of the network's permission lists and syncs from its peers; while
    /// node permissioning is on and its enode is not on the node
    /// allowlists, peers refuse it and it syncs nothing, and once
    /// `perm_addNodesToAllowlist` lists it ([`NodeHandle::change_permissions`])
    /// it syncs and follows. It validates once a validator vote adds its
    /// address. With a data directory its key (`node-<i>.key`) and store
    /// are kept there and `added-nodes.json` records it, so the next start
    /// with that directory includes it. A key another node of the network
    /// holds is refused.
    pub fn add_node(&self, key: PrivateKeySigner) -> Result<NodeHandle> {
        let inner = &self.inner;
        // One change of the network's membership at a time, never during a
        // dev control (a revert counts the nodes it parks).
        let _no_dev_control = inner.dev.control();
        let mut nodes = inner.nodes.write().expect("nodes lock");
        let node_id = crate::config::node_id(&key);
        if let Some(holder) = nodes.iter().find(|n| n.node_id() == node_id) {
            return Err(Error::InvalidRequest(format!(
                "node {} already runs with this key (enode {}): every node needs a key of its own",
                holder.index(),
                holder.enode()
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
        let permissions = nodes[0].permissions();
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
        let mut peers: Vec<B512> = nodes.iter().map(|n| n.node_id()).collect();
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
            let _ = node.sender.send(Envelope::PeerJoined(node_id));
        }
        let thread = spawn_driver(core, receiver, &inner.transport, &inner.dev, true)?;
        inner.threads.lock().expect("threads lock").push(thread);
        let handle = NodeHandle {
            shared,
            sender,
            transport: inner.transport.clone(),
            network: Arc::downgrade(inner),
        };
        nodes.push(handle.clone());
        tracing::info!(node = index, enode = %handle.enode(), address = %handle.address(), "node added");
        Ok(handle)
    }

    /// Backs up every node's store into `<data-dir>/backups/<name>/` while
    /// the network keeps running (see [`crate::backup`]); `name` defaults
    /// to the UTC time.
    pub fn backup(&self, name: Option<&str>) -> Result<crate::backup::Backup> {
        let dir = self.inner.data_dir.as_ref().ok_or_else(|| {
            Error::InvalidRequest(
                "this network keeps its chain in memory: only a network started with a data directory can be backed up".to_owned(),
            )
        })?;
        // Under the nodes lock, the node list and the record agree.
        let nodes = self.inner.nodes.read().expect("nodes lock");
        let added = self.inner.added.lock().expect("added nodes lock").clone();
        crate::backup::backup(dir, &nodes, &added, name)
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

impl NetworkInner {
    fn nodes(&self) -> Vec<NodeHandle> {
        self.nodes.read().expect("nodes lock").clone()
    }

    fn stop_nodes(&self) {
        for node in self.nodes() {
            node.shared.stop.store(true, Ordering::Relaxed);
            let _ = node.sender.send(Envelope::Shutdown);
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

/// The in-process links between nodes: one per node, by index. The list
/// only grows ([`Network::add_node`]); a sender takes a snapshot (one
/// `Arc` clone under a read lock) per batch of effects, so sending stays
/// cheap and a node joining never waits for a sender.
struct Transport {
    links: RwLock<Arc<Vec<Arc<Link>>>>,
    /// Besu's `messagequeuelimit` (see [`Link`]).
    consensus_queue_limit: usize,
}

/// One node's inbound channel. How many consensus messages wait in it is
/// counted against Besu's `messagequeuelimit`: past it a message is
/// dropped, not queued, so a node that falls behind cannot be buried
/// (Besu's `BftEventQueue` drops events the same way). Other traffic is not
/// counted: timers and local events must never be lost, and blocks come
/// again through sync.
struct Link {
    sender: Sender<Envelope>,
    node_id: B512,
    queued_consensus: AtomicUsize,
}

impl Link {
    fn new(sender: Sender<Envelope>, node_id: B512) -> Self {
        Self {
            sender,
            node_id,
            queued_consensus: AtomicUsize::new(0),
        }
    }

    /// `envelope` left this link's channel.
    fn taken(&self, envelope: &Envelope) {
        if let Envelope::Event(CoreEvent::Net {
            message: NetMessage::Consensus(_),
            ..
        }) = envelope
        {
            self.queued_consensus.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Transport {
    fn links(&self) -> Arc<Vec<Arc<Link>>> {
        self.links.read().expect("links lock").clone()
    }

    fn push(&self, link: Arc<Link>) {
        let mut links = self.links.write().expect("links lock");
        let mut grown = Vec::clone(&links);
        grown.push(link);
        *links = Arc::new(grown);
    }

    /// Sends `message` to `peer` unless its queue of consensus messages is full.
    fn send(&self, peer: usize, link: &Link, from: usize, message: NetMessage) {
        if matches!(message, NetMessage::Consensus(_)) {
            let queued = &link.queued_consensus;
            if queued.fetch_add(1, Ordering::Relaxed) >= self.consensus_queue_limit {
                queued.fetch_sub(1, Ordering::Relaxed);
                tracing::debug!(
                    node = peer,
                    from,
                    limit = self.consensus_queue_limit,
                    "consensus message queue full (messagequeuelimit); message dropped"
                );
                return;
            }
        }
        let _ = link
            .sender
            .send(Envelope::Event(CoreEvent::Net { from, message }));
    }
}

/// Starts the thread that drives `core`; `joining`: the node joins a
/// running network and asks its peers for the chain at once.
fn spawn_driver(
    core: NodeCore,
    receiver: mpsc::Receiver<Envelope>,
    transport: &Arc<Transport>,
    dev: &Arc<crate::dev::DevState>,
    joining: bool,
) -> Result<JoinHandle<()>> {
    let index = core.shared().index;
    let transport = transport.clone();
    let dev = dev.clone();
    std::thread::Builder::new()
        .name(format!("forja-node-{index}"))
        .spawn(move || drive_node(index, core, receiver, transport, dev, joining))
        .map_err(|e| Error::InvalidRequest(format!("cannot start node thread: {e}")))
}

/// The real-time driver of one node.
fn drive_node(
    index: usize,
    mut core: NodeCore,
    receiver: mpsc::Receiver<Envelope>,
    transport: Arc<Transport>,
    dev: Arc<crate::dev::DevState>,
    joining: bool,
) {
    // The engine's clock, shifted by the dev network's time controls.
    let now_ms = || now_ms().saturating_add_signed(dev.clock_offset_ms());
    let own_link = transport.links()[index].clone();
    let mut timers: BinaryHeap<std::cmp::Reverse<(Instant, TimerId)>> = BinaryHeap::new();
    let deliver =
        |effects: Vec<Effect>, timers: &mut BinaryHeap<std::cmp::Reverse<(Instant, TimerId)>>| {
            let mut links = None;
            for effect in effects {
                match effect {
                    Effect::SetTimer { id, after_ms } => {
                        timers.push(std::cmp::Reverse((
                            Instant::now() + Duration::from_millis(after_ms),
                            id,
                        )));
                    }
                    Effect::Send {
                        to: Some(peer),
                        message,
                    } => {
                        let links = links.get_or_insert_with(|| transport.links());
                        if let Some(link) = links.get(peer) {
                            transport.send(peer, link, index, message);
                        }
                    }
                    Effect::Send { to: None, message } => {
                        let links = links.get_or_insert_with(|| transport.links());
                        for (peer, link) in links.iter().enumerate() {
                            if peer != index {
                                transport.send(peer, link, index, message.clone());
                            }
                        }
                    }
                }
            }
        };
    let mut effects = core.start(now_ms());
    if joining {
        effects.push(core.ask_for_blocks());
    }
    deliver(effects, &mut timers);
    loop {
        let timeout = timers
            .peek()
            .map(|std::cmp::Reverse((at, _))| at.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        let received = receiver.recv_timeout(timeout);
        if let Ok(envelope) = &received {
            own_link.taken(envelope);
        }
        match received {
            Ok(Envelope::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Envelope::Event(event)) => {
                let effects = core.handle(now_ms(), event);
                deliver(effects, &mut timers);
            }
            Ok(Envelope::PeerJoined(node_id)) => core.add_peer(node_id),
            Ok(Envelope::Resync) => deliver(vec![core.ask_for_blocks()], &mut timers),
            Ok(Envelope::Pause(pause)) => {
                match hold_for_revert(&mut core, &receiver, &own_link, &pause, &mut timers) {
                    AfterPause::Shutdown => break,
                    AfterPause::Unchanged => {}
                    AfterPause::Restarted(replay) => {
                        deliver(core.start(now_ms()), &mut timers);
                        for event in replay {
                            let effects = core.handle(now_ms(), event);
                            deliver(effects, &mut timers);
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        while let Some(std::cmp::Reverse((at, id))) = timers.peek().copied() {
            if at > Instant::now() {
                break;
            }
            timers.pop();
            let effects = core.handle(now_ms(), CoreEvent::Timer(id));
            deliver(effects, &mut timers);
        }
    }
}

enum AfterPause {
    /// Nothing was rolled back: carry on.
    Unchanged,
    /// The chain was wound back and the engine reset: start it, then
    /// handle these local events that came in meanwhile.
    Restarted(Vec<CoreEvent>),
    Shutdown,
}

/// A dev `revert`: parks the node's thread while every node's chain is wound
/// back. If it was, drops everything addressed to the abandoned heights
/// (consensus messages, gossip, blocks, timers), resets the engine to the
/// new head, and waits until every node has done the same, so no node can
/// hear a message sent before the revert once consensus resumes.
fn hold_for_revert(
    core: &mut NodeCore,
    receiver: &mpsc::Receiver<Envelope>,
    own_link: &Link,
    pause: &crate::dev::Pause,
    timers: &mut Timers,
) -> AfterPause {
    if !pause.park() {
        return AfterPause::Unchanged;
    }
    let mut replay = Vec::new();
    let mut shutdown = false;
    while let Ok(envelope) = receiver.try_recv() {
        own_link.taken(&envelope);
        match envelope {
            Envelope::Shutdown => shutdown = true,
            // Membership outlives the revert; a resync is asked for below anyway.
            Envelope::PeerJoined(node_id) => core.add_peer(node_id),
            Envelope::Resync => {}
            Envelope::Event(CoreEvent::Net { .. } | CoreEvent::Timer(_)) => {}
            Envelope::Event(CoreEvent::Local(LocalEvent::TransactionsAdded(txs))) => {
                // Only transactions submitted since the rewind are still pooled.
                let pool = core.shared().pool.lock().expect("pool lock");
                let txs: Vec<TxRef> = txs.into_iter().filter(|t| pool.contains(&t.hash)).collect();
                if !txs.is_empty() {
                    replay.push(CoreEvent::Local(LocalEvent::TransactionsAdded(txs)));
                }
            }
            // A dev `mine` finished before the revert began (dev controls
            // run one at a time); its request names a height of the old chain.
            Envelope::Event(CoreEvent::Local(LocalEvent::BlockRequested { .. })) => {}
            Envelope::Event(event @ CoreEvent::Local(_)) => replay.push(event),
            // Dev controls run one at a time, so this cannot happen; if it
            // did, failing that revert is safe, waiting for it would not be.
            Envelope::Pause(other) => other.abandon(),
        }
    }
    timers.clear();
    if let Err(error) = core.reset_to_head() {
        tracing::error!(node = core.shared().index, %error, "consensus could not restart after a revert");
    }
    pause.restarted();
    if shutdown {
        AfterPause::Shutdown
    } else {
        AfterPause::Restarted(replay)
    }
}

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

/// The API of one node. Cloneable, `Send + Sync`.
#[derive(Clone)]
pub struct NodeHandle {
    shared: Arc<NodeShared>,
    sender: Sender<Envelope>,
    transport: Arc<Transport>,
    network: std::sync::Weak<NetworkInner>,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("index", &self.shared.index)
            .finish()
    }
}

impl NodeHandle {
    pub fn index(&self) -> usize {
        self.shared.index
    }

    /// The node's id: its 64-byte public key.
    pub fn node_id(&self) -> B512 {
        self.shared.node_id
    }

    pub fn enode(&self) -> String {
        enode(&self.shared.node_id, 30303 + self.shared.index as u16)
    }

    /// The node's address (validators sign blocks with it).
    pub fn address(&self) -> Address {
        self.shared.key.address()
    }

    pub fn is_validator(&self) -> bool {
        self.shared
            .consensus
            .read()
            .expect("consensus lock")
            .validators
            .contains(&self.address())
    }

    pub fn chain_spec(&self) -> &ChainSpec {
        &self.shared.spec
    }

    fn chain(&self) -> std::sync::RwLockReadGuard<'_, Chain> {
        self.shared.chain.read().expect("chain lock")
    }

    pub fn block_number(&self) -> u64 {
        self.chain().head_number()
    }

    /// Where this node's key file is, for a node added to a network with a
    /// data directory ([`Network::add_node`]); the defined nodes' keys come
    /// from the network definition.
    pub fn key_file(&self) -> Option<PathBuf> {
        let network = self.network.upgrade()?;
        let dir = network.data_dir.as_ref()?;
        let added = network.added.lock().expect("added nodes lock");
        added
            .iter()
            .find(|node| node.index == self.index())
            .map(|node| dir.join(&node.key_file))
    }

    /// Starts a new node in the network this node belongs to ([`Network::add_node`]).
    pub fn add_node(&self, key: PrivateKeySigner) -> Result<NodeHandle> {
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        Network { inner: network }.add_node(key)
    }

    /// Backs up the whole network this node belongs to ([`Network::backup`]).
    pub fn backup(&self, name: Option<&str>) -> Result<crate::backup::Backup> {
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        Network { inner: network }.backup(name)
    }

    /// Block bodies, receipt lists and reverse diffs this node decoded from
    /// its store since it opened (`None` without a data directory): how much history
    /// it has had to read, which opening a store keeps to the head.
    pub fn store_reads(&self) -> Option<u64> {
        self.shared.store.as_ref().map(|s| s.decoded_count())
    }

    pub fn genesis_hash(&self) -> B256 {
        self.chain().genesis_hash()
    }

    pub fn block_by_number(&self, number: u64) -> Option<Arc<SealedBlock>> {
        self.chain().block(number)
    }

    pub fn block_by_hash(&self, hash: B256) -> Option<Arc<SealedBlock>> {
        let chain = self.chain();
        chain.number_of(&hash).and_then(|n| chain.block(n))
    }

    /// Resolves a block id to a number. `pending`, `safe` and `finalized`
    /// are the head (BFT finality: a committed block is final).
    pub fn resolve_block(&self, block: BlockId) -> Result<u64> {
        let chain = self.chain();
        resolve(&chain, block)
    }

    pub fn block(&self, block: BlockId) -> Result<Arc<SealedBlock>> {
        let chain = self.chain();
        let number = resolve(&chain, block)?;
        chain
            .block(number)
            .ok_or_else(|| Error::BlockNotFound(number.to_string()))
    }

    pub fn receipts_by_block(&self, hash: B256) -> Option<Arc<Vec<TxReceipt>>> {
        let chain = self.chain();
        chain.number_of(&hash).and_then(|n| chain.receipts(n))
    }

    pub fn transaction_by_hash(&self, hash: B256) -> Option<TxLocation> {
        self.chain().transaction(&hash)
    }

    /// A transaction still in this node's pool.
    pub fn pending_transaction(&self, hash: B256) -> Option<TxRef> {
        self.shared
            .pool
            .lock()
            .expect("pool lock")
            .get(&hash)
            .cloned()
    }

    pub fn receipt(&self, hash: B256) -> Option<TxReceipt> {
        self.chain().receipt(&hash)
    }

    fn with_state<T>(&self, block: BlockId, f: impl FnOnce(StateAt<'_>) -> T) -> Result<T> {
        let chain = self.chain();
        let number = resolve(&chain, block)?;
        let state = state_of(&chain, number)?;
        Ok(f(state))
    }

    pub fn balance(&self, address: Address, block: BlockId) -> Result<U256> {
        self.with_state(block, |s| s.balance(address))
    }

    pub fn nonce(&self, address: Address, block: BlockId) -> Result<u64> {
        self.with_state(block, |s| s.nonce(address))
    }

    /// The nonce the next transaction of `address` should use, counting
    /// the ones waiting in this node's pool.
    pub fn next_nonce(&self, address: Address) -> u64 {
        let chain = self.chain();
        let state = chain.latest_state();
        let mut nonce = state.nonce(address);
        let pool = self.shared.pool.lock().expect("pool lock");
        while pool
            .transactions()
            .iter()
            .any(|t| t.sender == address && t.nonce() == nonce)
        {
            nonce += 1;
        }
        nonce
    }

    pub fn code(&self, address: Address, block: BlockId) -> Result<Bytes> {
        self.with_state(block, |s| s.code(address))
    }

    pub fn storage(&self, address: Address, slot: U256, block: BlockId) -> Result<U256> {
        self.with_state(block, |s| s.storage(address, slot))
    }

    /// The block a call on the state after block `number` runs in: the
    /// next one, stamped by the clock the engines read (dev time controls
    /// included), as the next block would be.
    fn call_context(&self, chain: &Chain, number: u64) -> Result<BlockContext> {
        let parent = chain
            .block(number)
            .ok_or_else(|| Error::BlockNotFound(number.to_string()))?;
        let now_ms = now_ms().saturating_add_signed(self.dev_clock_offset_ms());
        Ok(BlockContext {
            number: number + 1,
            timestamp: parent.header.timestamp.max(now_ms / 1000),
            beneficiary: Address::ZERO,
            gas_limit: self.shared.spec.block_gas_limit,
            parent_hash: parent.hash,
        })
    }

    /// Executes a call on the state after `block` without committing it,
    /// within `limits`.
    pub fn call(
        &self,
        request: &CallRequest,
        block: BlockId,
        limits: &CallLimits,
    ) -> Result<ExecutionOutcome> {
        let chain = self.chain();
        let number = resolve(&chain, block)?;
        let context = self.call_context(&chain, number)?;
        let state = state_of(&chain, number)?;
        let mut request = request.clone();
        request.gas = Some(limits.gas(request.gas, context.gas_limit));
        self.within(limits.timeout, || {
            call(&self.shared.spec, state, &context, &request).map_err(Error::InvalidRequest)
        })
    }

    /// The gas limit `request` needs to succeed, searched within `limits`
    /// (the time limit covers the whole search).
    pub fn estimate_gas(
        &self,
        request: &CallRequest,
        block: BlockId,
        limits: &CallLimits,
    ) -> Result<u64> {
        let chain = self.chain();
        let number = resolve(&chain, block)?;
        let context = self.call_context(&chain, number)?;
        let state = state_of(&chain, number)?;
        let mut request = request.clone();
        request.gas = Some(limits.gas(request.gas, context.gas_limit));
        self.within(limits.timeout, || {
            estimate_gas(&self.shared.spec, state, &context, &request)
                .map_err(Error::InvalidRequest)
        })
    }

    /// Runs `execute` (EVM work on this thread) so that it stops after
    /// `timeout` or when the node shuts down, whichever comes first, and
    /// says which instead of the result it was cut short with.
    pub(crate) fn within<T>(
        &self,
        timeout: Option<Duration>,
        execute: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let scope = Limits::new(timeout, Some(self.shared.stop.clone())).enter();
        let result = execute();
        match scope.interrupted() {
            Some(Interrupted::Deadline) => {
                Err(Error::ExecutionTimeout(timeout.unwrap_or_default()))
            }
            Some(Interrupted::Stopped) => Err(Error::ShutDown),
            None => result,
        }
    }

    /// Submits an EIP-2718 encoded signed transaction.
    pub fn submit_raw_transaction(&self, raw: &[u8]) -> Result<B256, TxError> {
        let tx = decode_transaction(raw)?;
        self.submit_signed(Arc::new(tx))
    }

    /// Submits a signed transaction.
    pub fn submit_transaction(&self, envelope: TxEnvelope) -> Result<B256, TxError> {
        self.submit_signed(Arc::new(recover(envelope)?))
    }

    /// Submits a transaction whose sender is already recovered.
    pub fn submit_signed(&self, tx: TxRef) -> Result<B256, TxError> {
        let hash = tx.hash;
        self.shared.add_transaction(tx.clone())?;
        crate::pool::remember_recovered([&tx]);
        let _ = self.sender.send(Envelope::Event(CoreEvent::Local(
            LocalEvent::TransactionsAdded(vec![tx]),
        )));
        Ok(hash)
    }

    /// Submits many transactions; returns each one's result, in order.
    pub fn submit_batch(&self, txs: Vec<SignedTx>) -> Vec<Result<B256, TxError>> {
        let txs: Vec<TxRef> = txs.into_iter().map(Arc::new).collect();
        let added = self.shared.add_transactions(&txs);
        let mut accepted = Vec::with_capacity(txs.len());
        let results = txs
            .into_iter()
            .zip(added)
            .map(|(tx, added)| {
                added?;
                let hash = tx.hash;
                accepted.push(tx);
                Ok(hash)
            })
            .collect();
        crate::pool::remember_recovered(&accepted);
        if !accepted.is_empty() {
            let _ = self.sender.send(Envelope::Event(CoreEvent::Local(
                LocalEvent::TransactionsAdded(accepted),
            )));
        }
        results
    }

    pub fn pending_transactions(&self) -> Vec<TxRef> {
        self.shared.pool.lock().expect("pool lock").transactions()
    }

    pub fn pool_status(&self) -> PoolStatus {
        let chain = self.chain();
        let state = chain.latest_state();
        self.shared
            .pool
            .lock()
            .expect("pool lock")
            .status(|a| state.nonce(a))
    }

    /// Logs matching `filter` (block range, addresses, topics).
    pub fn logs(&self, filter: &Filter) -> Result<Vec<RpcLog>> {
        let chain = self.chain();
        let (from, to) = match &filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = chain
                    .number_of(hash)
                    .ok_or_else(|| Error::BlockNotFound(hash.to_string()))?;
                (n, n)
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let tag = |t: &Option<BlockNumberOrTag>| {
                    resolve(
                        &chain,
                        BlockId::Number(t.unwrap_or(BlockNumberOrTag::Latest)),
                    )
                };
                (tag(from_block)?, tag(to_block)?)
            }
        };
        let mut logs = Vec::new();
        for number in from..=to {
            let missing = || Error::BlockNotFound(number.to_string());
            let header = chain.header(number).ok_or_else(missing)?;
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            let receipts = chain.receipts(number).ok_or_else(missing)?;
            for receipt in receipts.iter() {
                for (offset, log) in receipt.logs().iter().enumerate() {
                    if filter.matches(log) {
                        logs.push(RpcLog {
                            inner: log.clone(),
                            block_hash: Some(receipt.block_hash),
                            block_number: Some(number),
                            block_timestamp: Some(header.timestamp),
                            transaction_hash: Some(receipt.transaction_hash),
                            transaction_index: Some(receipt.transaction_index),
                            log_index: Some(receipt.first_log_index + offset as u64),
                            removed: false,
                        });
                    }
                }
            }
        }
        Ok(logs)
    }

    /// New committed blocks, as this node imports them.
    pub fn subscribe_new_blocks(&self) -> broadcast::Receiver<Arc<SealedBlock>> {
        self.shared.new_blocks.subscribe()
    }

    /// Hashes of transactions entering this node's pool.
    pub fn subscribe_pending_transactions(&self) -> broadcast::Receiver<B256> {
        self.shared.new_transactions.subscribe()
    }

    /// Validators of `block` (from its header's extraData).
    pub fn validators_at(&self, block: BlockId) -> Result<Vec<Address>> {
        let block = self.block(block)?;
        Ok(header_validators(self.shared.mode, &block.header))
    }

    /// Validators that will decide the next block.
    pub fn current_validators(&self) -> Vec<Address> {
        self.shared
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
        let mut view = self.shared.consensus.write().expect("consensus lock");
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
        self.shared
            .consensus
            .read()
            .expect("consensus lock")
            .pending_votes
            .clone()
    }

    /// Current consensus height and round.
    pub fn consensus_status(&self) -> ConsensusView {
        self.shared
            .consensus
            .read()
            .expect("consensus lock")
            .clone()
    }

    /// Blocks proposed per validator between two blocks (inclusive).
    pub fn signer_metrics(&self, from: BlockId, to: BlockId) -> Result<Vec<SignerMetric>> {
        let chain = self.chain();
        let from = resolve(&chain, from)?.max(1);
        let to = resolve(&chain, to)?;
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
        self.shared
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
                let _ = node.sender.send(Envelope::Resync);
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
        if !permissions.node_allowed(&self.shared.node_id) {
            return Vec::new();
        }
        self.transport
            .links()
            .iter()
            .map(|link| &link.node_id)
            .enumerate()
            .filter(|(i, id)| *i != self.shared.index && permissions.node_allowed(id))
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
        let m = &self.shared.metrics;
        MetricsSnapshot {
            block_number: self.block_number(),
            blocks_committed: m.blocks_committed.load(Ordering::Relaxed),
            transactions_committed: m.transactions_committed.load(Ordering::Relaxed),
            rounds_started: m.rounds_started.load(Ordering::Relaxed),
            round_changes: m.round_changes.load(Ordering::Relaxed),
            blocks_rejected: m.blocks_rejected.load(Ordering::Relaxed),
            pool: self.pool_status(),
        }
    }
}

/// The state after block `number`, or why it cannot be read.
fn state_of(chain: &Chain, number: u64) -> Result<StateAt<'_>> {
    chain.state_at(number).ok_or_else(|| {
        Error::InvalidRequest(format!(
            "the state of block {number} is no longer available: this node keeps the state of blocks {} to {} (--bonsai-historical-block-limit)",
            chain.oldest_state(),
            chain.head_number()
        ))
    })
}

fn resolve(chain: &Chain, block: BlockId) -> Result<u64> {
    let head = chain.head_number();
    match block {
        BlockId::Hash(hash) => chain
            .number_of(&hash.block_hash)
            .ok_or_else(|| Error::BlockNotFound(hash.block_hash.to_string())),
        BlockId::Number(tag) => match tag {
            BlockNumberOrTag::Earliest => Ok(0),
            BlockNumberOrTag::Number(n) if n <= head => Ok(n),
            BlockNumberOrTag::Number(n) => {
                Err(Error::BlockNotFound(format!("{n} (head is {head})")))
            }
            _ => Ok(head),
        },
    }
}

impl NodeHandle {
    /// The node's shared state, for the crate's tracing and dev controls.
    pub(crate) fn shared(&self) -> &Arc<NodeShared> {
        &self.shared
    }

    /// Every node of this handle's network and the dev controls' state.
    pub(crate) fn dev_network(&self) -> Result<(Vec<NodeHandle>, Arc<crate::dev::DevState>)> {
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        Ok((network.nodes(), network.dev.clone()))
    }

    /// Makes the node's engine start a round for block `height` even with
    /// an empty pool (dev `mine`).
    pub(crate) fn request_block(&self, height: u64) {
        let _ = self.sender.send(Envelope::Event(CoreEvent::Local(
            LocalEvent::BlockRequested { height },
        )));
    }

    /// Asks the node's thread to stop at `pause` (dev `revert`).
    pub(crate) fn pause(&self, pause: Arc<crate::dev::Pause>) {
        let _ = self.sender.send(Envelope::Pause(pause));
    }

    /// The dev clock offset the engines read, in milliseconds (0 once the
    /// network is gone).
    fn dev_clock_offset_ms(&self) -> i64 {
        self.network
            .upgrade()
            .map_or(0, |network| network.dev.clock_offset_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consensus_messages_past_messagequeuelimit_are_dropped_other_traffic_is_not() {
        let (sender, receiver) = mpsc::channel();
        let transport = Transport {
            links: RwLock::new(Arc::new(Vec::new())),
            consensus_queue_limit: 3,
        };
        transport.push(Arc::new(Link::new(mpsc::channel().0, B512::ZERO)));
        transport.push(Arc::new(Link::new(sender, B512::repeat_byte(1))));
        let link = transport.links()[1].clone();
        for _ in 0..10 {
            transport.send(1, &link, 0, NetMessage::Consensus(Bytes::from_static(b"m")));
            transport.send(1, &link, 0, NetMessage::GetBlocks { from: 1 });
        }
        let queued: Vec<Envelope> = receiver.try_iter().collect();
        let consensus = |e: &Envelope| {
            matches!(
                e,
                Envelope::Event(CoreEvent::Net {
                    message: NetMessage::Consensus(_),
                    ..
                })
            )
        };
        assert_eq!(queued.iter().filter(|e| consensus(e)).count(), 3);
        assert_eq!(queued.len(), 13);
        // Taking them off the channel makes room again.
        for envelope in &queued {
            link.taken(envelope);
        }
        transport.send(1, &link, 0, NetMessage::Consensus(Bytes::from_static(b"m")));
        assert_eq!(receiver.try_iter().count(), 1);
    }
}
