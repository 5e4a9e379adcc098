//! A deterministic, seeded simulation of a network: the same [`NodeCore`]s
//! the real-time driver runs, fed by a virtual clock and a transport that
//! loses, delays, duplicates and reorders messages, partitions nodes, and
//! crashes and restarts them. A run with the same seed and the same calls is
//! the same run, so a failing seed replays exactly.
//!
//! Crashed nodes lose their pool, timers and consensus state; what survives
//! is what a real node keeps on disk: with [`StorageMode::Dir`] a restarted
//! node reloads its chain from its redb file, in memory it keeps its chain.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{Arc, Mutex, RwLock},
};

use alloy::{
    consensus::{Header, TxEnvelope},
    primitives::{B256, B512},
};
use forja_consensus::{
    BftBlock, BftConfig, Message, Payload, Proposal, SignedPayload, TimerId, bft_block_hash,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::broadcast;

use crate::{
    block::TxRef,
    config::NetworkConfig,
    data_dir::node_path,
    error::{Error, Result, TxError},
    network::{StorageMode, bft_config, open_nodes},
    node::{ConsensusView, CoreEvent, Effect, LocalEvent, NetMessage, NodeCore, NodeShared},
    permissions::PermissionChange,
    pool::{TxPool, recover},
    storage::Store,
};

/// What the simulated transport does to messages.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Probability that a message is lost.
    pub drop_rate: f64,
    /// Probability that a delivered message is delivered twice.
    pub duplicate_rate: f64,
    /// Delivery delay bounds in milliseconds (random in between, so
    /// messages overtake each other).
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            min_delay_ms: 1,
            max_delay_ms: 10,
        }
    }
}

/// Changes a block a byzantine proposer sends (its header only; the body
/// stays what its executed block holds).
pub type BlockTamper = Box<dyn FnMut(&mut Header) + Send>;

#[allow(clippy::large_enum_variant)] // see NetMessage
#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        message: NetMessage,
    },
    Timer {
        node: usize,
        incarnation: u64,
        id: TimerId,
    },
}

struct Scheduled {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A simulated network of every node of a definition.
pub struct Simulation {
    config: NetworkConfig,
    bft: BftConfig,
    storage: StorageMode,
    shared: Vec<Arc<NodeShared>>,
    cores: Vec<Option<NodeCore>>,
    peers: Vec<B512>,
    /// Bumped at each crash, so timers of a previous life never fire.
    incarnations: Vec<u64>,
    tampers: Vec<Option<BlockTamper>>,
    /// Byzantine proposers that send half their peers a second, equally
    /// valid block for the same round.
    equivocators: Vec<bool>,
    /// Twin proposals sent, per node.
    twins_sent: Vec<u64>,
    /// Partition group of each node; messages only flow within a group.
    groups: Option<Vec<usize>>,
    faults: Faults,
    queue: BinaryHeap<Reverse<Scheduled>>,
    rng: StdRng,
    now: u64,
    seq: u64,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("nodes", &self.shared.len())
            .field("now", &self.now)
            .finish()
    }
}

impl Simulation {
    /// Opens every node of `config` in `storage` and starts their cores one
    /// second after the genesis timestamp, in virtual time (block timestamps
    /// derive from it).
    pub fn new(
        config: NetworkConfig,
        storage: StorageMode,
        seed: u64,
        faults: Faults,
    ) -> Result<Self> {
        let shared = open_nodes(&config, &storage)?;
        let bft = bft_config(&config);
        let peers: Vec<B512> = shared.iter().map(|n| n.node_id).collect();
        let start_ms = config.genesis_timestamp.saturating_mul(1000) + 1000;
        let count = shared.len();
        let mut sim = Self {
            config,
            bft,
            storage,
            shared,
            cores: (0..count).map(|_| None).collect(),
            peers,
            incarnations: vec![0; count],
            tampers: (0..count).map(|_| None).collect(),
            equivocators: vec![false; count],
            twins_sent: vec![0; count],
            groups: None,
            faults,
            queue: BinaryHeap::new(),
            rng: StdRng::seed_from_u64(seed),
            now: start_ms,
            seq: 0,
        };
        for node in 0..count {
            sim.boot(node)?;
        }
        Ok(sim)
    }

    fn boot(&mut self, node: usize) -> Result<()> {
        // Links here lose messages, so nodes relay them as Besu's do.
        let mut core = NodeCore::new(
            self.shared[node].clone(),
            self.bft.clone(),
            self.peers.clone(),
        )?
        .with_consensus_relay();
        let effects = core.start(self.now);
        self.cores[node] = Some(core);
        self.apply(node, effects);
        Ok(())
    }

    /// Virtual milliseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn len(&self) -> usize {
        self.shared.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.is_empty()
    }

    /// Node `index`'s state (chain, pool, permissions, metrics).
    pub fn node(&self, index: usize) -> &Arc<NodeShared> {
        &self.shared[index]
    }

    pub fn is_running(&self, node: usize) -> bool {
        self.cores[node].is_some()
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Splits the nodes into groups that cannot reach each other. Nodes
    /// not listed form one more group.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let mut of = vec![groups.len(); self.len()];
        for (group, members) in groups.iter().enumerate() {
            for member in *members {
                of[*member] = group;
            }
        }
        self.groups = Some(of);
    }

    /// Ends the partition (messages already lost stay lost).
    pub fn heal(&mut self) {
        self.groups = None;
    }

    /// Makes `node` a byzantine proposer whose proposals carry a header
    /// changed by `tamper` (re-signed, so only validation can catch it).
    pub fn tamper_proposals(&mut self, node: usize, tamper: BlockTamper) {
        self.tampers[node] = Some(tamper);
    }

    /// Makes `node` an equivocating proposer: each of its proposals goes to
    /// the even-numbered peers as built and to the odd-numbered ones as a
    /// twin block one second later (re-signed, so both are valid and
    /// properly signed): two blocks for one height and round.
    pub fn equivocate(&mut self, node: usize) {
        self.equivocators[node] = true;
    }

    /// How many proposals `node` sent a twin of (see [`Self::equivocate`]).
    pub fn twins_sent(&self, node: usize) -> u64 {
        self.twins_sent[node]
    }

    /// Stops `node`: its pool, timers and in-flight messages to it are lost.
    pub fn crash(&mut self, node: usize) {
        self.cores[node] = None;
        self.incarnations[node] += 1;
    }

    /// Restarts a crashed node from what it persisted.
    pub fn restart(&mut self, node: usize) -> Result<()> {
        if self.cores[node].is_some() {
            return Err(Error::InvalidRequest(format!("node {node} is running")));
        }
        let (chain, permissions, store) = match self.storage.clone() {
            StorageMode::InMemory => {
                let old = &self.shared[node];
                (
                    old.chain.read().expect("chain lock").clone(),
                    old.permissions.read().expect("permissions lock").clone(),
                    None,
                )
            }
            StorageMode::Dir(dir) => {
                // The old store must close before its file can reopen.
                let stand_in = Arc::new(stub(&self.shared[node]));
                let old = std::mem::replace(&mut self.shared[node], stand_in);
                drop(Arc::try_unwrap(old).map_err(|_| {
                    Error::InvalidRequest(format!(
                        "node {node} is still referenced and cannot restart"
                    ))
                })?);
                let store = Arc::new(
                    Store::open(&node_path(&dir, node))?
                        .with_historical_block_limit(self.config.historical_block_limit),
                );
                let loaded = store.load(self.bft.mode)?;
                (loaded.chain, loaded.permissions, Some(store))
            }
        };
        let old = &self.shared[node];
        let shared = NodeShared {
            index: old.index,
            key: old.key.clone(),
            node_id: old.node_id,
            spec: old.spec.clone(),
            mode: old.mode,
            chain: RwLock::new(chain),
            pool: Mutex::new(TxPool::new(self.config.pool.0)),
            permissions: RwLock::new(permissions),
            store,
            new_blocks: broadcast::channel(1024).0,
            new_transactions: broadcast::channel(1024).0,
            metrics: Default::default(),
            consensus: RwLock::new(ConsensusView::default()),
            stop: Default::default(),
            block_txs_selection_max_time: old.block_txs_selection_max_time,
        };
        self.shared[node] = Arc::new(shared);
        self.boot(node)
    }

    /// Validates a signed transaction at `node` and gossips it from there.
    pub fn submit(&mut self, node: usize, envelope: TxEnvelope) -> Result<B256, TxError> {
        let tx: TxRef = Arc::new(recover(envelope)?);
        let hash = tx.hash;
        self.shared[node].add_transaction(tx.clone())?;
        self.event(
            node,
            CoreEvent::Local(LocalEvent::TransactionsAdded(vec![tx])),
        );
        Ok(hash)
    }

    /// Changes every node's lists directly, running or crashed, reachable
    /// or not, as `NodeAdmin::change_permissions` does for a real-time
    /// network: a crashed node finds the change in its store on restart.
    pub fn change_permissions(&self, change: &PermissionChange) -> Result<()> {
        self.shared[0]
            .permissions
            .read()
            .expect("permissions lock")
            .changed_by(change)?;
        for node in &self.shared {
            node.apply_permissions(change)?;
        }
        Ok(())
    }

    /// Hands `node` a local event (a transaction, a vote).
    pub fn local(&mut self, node: usize, event: LocalEvent) {
        self.event(node, CoreEvent::Local(event));
    }

    /// Delivers `message` to `to` as if `from` had sent it, now.
    pub fn deliver(&mut self, from: usize, to: usize, message: NetMessage) {
        self.event(to, CoreEvent::Net { from, message });
    }

    fn event(&mut self, node: usize, event: CoreEvent) {
        let Some(core) = self.cores[node].as_mut() else {
            return;
        };
        let effects = core.handle(self.now, event);
        self.apply(node, effects);
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            event,
        }));
    }

    fn delay(&mut self) -> u64 {
        let Faults {
            min_delay_ms,
            max_delay_ms,
            ..
        } = self.faults;
        self.rng
            .random_range(min_delay_ms..=max_delay_ms.max(min_delay_ms))
    }

    fn apply(&mut self, node: usize, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::SetTimer { id, after_ms } => {
                    let incarnation = self.incarnations[node];
                    self.schedule(
                        self.now + after_ms,
                        Event::Timer {
                            node,
                            incarnation,
                            id,
                        },
                    );
                }
                Effect::Send { to, message } => {
                    let message = self.tamper(node, message);
                    // Its own proposals are broadcast; relays go peer by peer.
                    let twin = (self.equivocators[node] && to.is_none())
                        .then(|| self.resign_proposal(node, &message, &mut |h| h.timestamp += 1))
                        .flatten();
                    if twin.is_some() {
                        self.twins_sent[node] += 1;
                    }
                    let targets: Vec<usize> = match to {
                        Some(peer) => vec![peer],
                        None => (0..self.len()).filter(|p| *p != node).collect(),
                    };
                    for peer in targets {
                        let message = match &twin {
                            Some(twin) if peer % 2 == 1 => twin.clone(),
                            _ => message.clone(),
                        };
                        self.send(node, peer, message);
                    }
                }
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, message: NetMessage) {
        if let Some(groups) = &self.groups
            && groups[from] != groups[to]
        {
            return;
        }
        if self.rng.random_bool(self.faults.drop_rate.clamp(0.0, 1.0)) {
            return;
        }
        let copies = if self
            .rng
            .random_bool(self.faults.duplicate_rate.clamp(0.0, 1.0))
        {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now + self.delay();
            self.schedule(
                at,
                Event::Deliver {
                    to,
                    from,
                    message: message.clone(),
                },
            );
        }
    }

    /// A byzantine node's proposal with its header changed and re-signed.
    fn tamper(&mut self, node: usize, message: NetMessage) -> NetMessage {
        let Some(mut tamper) = self.tampers[node].take() else {
            return message;
        };
        let tampered = self.resign_proposal(node, &message, &mut tamper);
        self.tampers[node] = Some(tamper);
        tampered.unwrap_or(message)
    }

    /// `message` (if it is a proposal) with its header changed by `change`
    /// and signed again with `node`'s key.
    fn resign_proposal(
        &self,
        node: usize,
        message: &NetMessage,
        change: &mut dyn FnMut(&mut Header),
    ) -> Option<NetMessage> {
        let NetMessage::Consensus(bytes) = message else {
            return None;
        };
        let Ok(Message::Proposal(proposal)) = Message::decode(bytes) else {
            return None;
        };
        let mut header = proposal.block.header.clone();
        change(&mut header);
        let digest = bft_block_hash(self.bft.mode, &header).ok()?;
        let payload = Payload::Proposal {
            id: proposal.signed.id(),
            digest,
        };
        let resigned = Message::Proposal(Proposal {
            signed: SignedPayload::sign(payload, &self.shared[node].key.signer),
            block: BftBlock::new(header, proposal.block.body.clone()),
            round_changes: proposal.round_changes,
            prepared: proposal.prepared,
        });
        Some(NetMessage::Consensus(resigned.encode()))
    }

    /// Runs every event due up to virtual time `until_ms`.
    pub fn run_until(&mut self, until_ms: u64) {
        while let Some(Reverse(next)) = self.queue.peek() {
            if next.at > until_ms {
                break;
            }
            let Reverse(Scheduled { at, event, .. }) = self.queue.pop().expect("peeked");
            self.now = self.now.max(at);
            match event {
                Event::Deliver { to, from, message } => {
                    self.event(to, CoreEvent::Net { from, message });
                }
                Event::Timer {
                    node,
                    incarnation,
                    id,
                } => {
                    if self.incarnations[node] == incarnation {
                        self.event(node, CoreEvent::Timer(id));
                    }
                }
            }
        }
        self.now = self.now.max(until_ms);
    }

    /// Runs for `ms` more virtual milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    /// Runs until every node in `nodes` reached `height` or `within_ms`
    /// passed; says whether they did.
    pub fn run_until_height(&mut self, nodes: &[usize], height: u64, within_ms: u64) -> bool {
        let deadline = self.now + within_ms;
        loop {
            if nodes.iter().all(|n| self.height(*n) >= height) {
                return true;
            }
            if self.now >= deadline {
                return false;
            }
            let next = self.queue.peek().map(|Reverse(s)| s.at).unwrap_or(deadline);
            self.run_until(next.min(deadline));
        }
    }

    /// Node `index`'s head number.
    pub fn height(&self, node: usize) -> u64 {
        self.shared[node]
            .chain
            .read()
            .expect("chain lock")
            .head_number()
    }

    /// Block hashes of node `index`, by number.
    pub fn hashes(&self, node: usize) -> Vec<B256> {
        let chain = self.shared[node].chain.read().expect("chain lock");
        (0..=chain.head_number())
            .map(|n| chain.hash(n).unwrap_or_default())
            .collect()
    }

    /// Heights at which two nodes hold different blocks, described.
    pub fn forks(&self) -> Vec<String> {
        let chains: Vec<Vec<B256>> = (0..self.len()).map(|n| self.hashes(n)).collect();
        let mut forks = Vec::new();
        let longest = chains.iter().map(Vec::len).max().unwrap_or(0);
        for height in 0..longest {
            let mut seen: Option<(usize, B256)> = None;
            for (node, chain) in chains.iter().enumerate() {
                let Some(hash) = chain.get(height) else {
                    continue;
                };
                match seen {
                    None => seen = Some((node, *hash)),
                    Some((first, other)) if other != *hash => forks.push(format!(
                        "height {height}: node {first} has {other}, node {node} has {hash}"
                    )),
                    Some(_) => {}
                }
            }
        }
        forks
    }
}

/// A stand-in for a node whose store is being reopened: same identity, no
/// store, empty chain view (never served: the slot is replaced right away).
fn stub(old: &NodeShared) -> NodeShared {
    // Holds no reference to the old store, which must close.
    let genesis = old
        .chain
        .read()
        .expect("chain lock")
        .block(0)
        .expect("genesis is readable");
    NodeShared {
        index: old.index,
        key: old.key.clone(),
        node_id: old.node_id,
        spec: old.spec.clone(),
        mode: old.mode,
        chain: RwLock::new(crate::chain::Chain::new(genesis, Default::default())),
        pool: Mutex::new(TxPool::default()),
        permissions: RwLock::new(old.permissions.read().expect("permissions lock").clone()),
        store: None,
        new_blocks: broadcast::channel(1).0,
        new_transactions: broadcast::channel(1).0,
        metrics: Default::default(),
        consensus: RwLock::new(ConsensusView::default()),
        stop: Default::default(),
        block_txs_selection_max_time: old.block_txs_selection_max_time,
    }
}
