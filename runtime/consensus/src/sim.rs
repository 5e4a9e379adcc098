//! A deterministic network simulator for [`Engine`]s.
//!
//! Virtual time, one seeded RNG (`StdRng::seed_from_u64`), and an event
//! queue ordered by (time, sequence number): the same [`SimConfig`] and the
//! same calls give the same run, event for event ([`Simulation::trace_hash`]).
//! The network drops, delays (which also reorders) and duplicates messages,
//! and can be partitioned; nodes can crash (losing everything but their
//! committed chain) and restart (a new engine from the chain they kept).
//! Lagging nodes catch up by a periodic sync that copies committed blocks
//! from a reachable peer, checking their seals, as a real chain's block sync
//! would.
//!
//! Blocks are trivial: a header (transactions root = keccak of the body) and
//! a body of made-up transaction bytes. A node with
//! [`Behaviour::InvalidBlocks`] builds bodies every honest node rejects; one
//! with [`Behaviour::Equivocate`] sends two different proposals to two halves
//! of the network.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use alloy::consensus::Header;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{
    BFT_MIX_HASH, BftBlock, BftConfig, BftExtraData, BuildRequest, Engine, Input, Message, Output,
    Payload, Proposal, SignedPayload, TimerId, ValidatorHistory, bft_block_hash,
    verify_committed_seals,
};

/// Body prefix of blocks that fail validation.
const INVALID_BODY: &[u8] = b"INVALID";

/// How a simulated node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Builds blocks that fail execution on every other node.
    InvalidBlocks,
    /// As proposer, sends one block to half the validators and another to
    /// the rest.
    Equivocate,
}

/// Simulation parameters.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of validators.
    pub validators: usize,
    /// Consensus parameters of every node.
    pub bft: BftConfig,
    /// Probability that a message is lost.
    pub drop_rate: f64,
    /// Probability that a delivered message is delivered twice.
    pub duplicate_rate: f64,
    /// Delivery delay range in milliseconds (uniform, inclusive).
    pub delay_ms: (u64, u64),
    /// Period of the catch-up sync in milliseconds.
    pub sync_interval_ms: u64,
    /// Feed `TransactionsPending` after every block (needed with block period 0).
    pub always_pending: bool,
    /// Relay every message a node receives for the first time to the nodes
    /// it can reach, as Besu's gossiper does. Without it a lost message is
    /// lost for good and loss rates above a few percent stall rounds.
    pub gossip: bool,
    /// Send messages as encoded bytes (decoded, signatures recovered, by
    /// each receiver) rather than as typed values. Typed delivery skips one
    /// signature recovery per message and receiver, which is most of a
    /// simulation's cost; the engine sees the same messages either way.
    pub wire_encoding: bool,
}

impl SimConfig {
    /// A reliable network of `validators` with the given consensus parameters.
    pub fn new(seed: u64, validators: usize, bft: BftConfig) -> Self {
        Self {
            seed,
            validators,
            bft,
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            delay_ms: (1, 50),
            sync_interval_ms: 2_000,
            always_pending: false,
            wire_encoding: true,
            gossip: true,
        }
    }
}

// Answers carry whole blocks; events are short-lived.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum EventKind {
    Deliver {
        from: usize,
        to: usize,
        message: Box<Message>,
        bytes: Option<Bytes>,
    },
    Timer {
        node: usize,
        id: TimerId,
        generation: u64,
    },
    Answer {
        node: usize,
        input: Input,
    },
    Sync {
        node: usize,
    },
}

#[derive(Debug)]
struct Event {
    at: u64,
    seq: u64,
    incarnation: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Node {
    signer: PrivateKeySigner,
    engine: Option<Engine>,
    /// Committed chain, genesis first.
    chain: Vec<BftBlock>,
    timers: HashMap<TimerId, u64>,
    /// Messages already received (or sent), by signed payload and signature.
    seen: HashSet<(B256, U256)>,
    incarnation: u64,
    behaviour: Behaviour,
    built: u64,
}

/// Decides whether a message from one node reaches another (`true` =
/// deliver). Runs before loss and partitions are applied.
pub type MessageFilter = Box<dyn FnMut(usize, usize, &Message) -> bool>;

/// A deterministic network of simulated validators.
pub struct Simulation {
    filter: Option<MessageFilter>,
    config: SimConfig,
    rng: StdRng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Event>>,
    nodes: Vec<Node>,
    /// Partition group of each node; nodes in different groups cannot talk.
    groups: Vec<usize>,
    decided: BTreeMap<u64, B256>,
    violations: Vec<String>,
    trace: DefaultHasher,
    trace_events: u64,
}

impl Simulation {
    /// Builds the network: keys derived from the seed, a genesis block
    /// listing every validator, every engine started at time 0.
    pub fn new(config: SimConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let signers: Vec<PrivateKeySigner> = (0..config.validators)
            .map(|_| {
                loop {
                    let key: [u8; 32] = rng.random();
                    if let Ok(signer) = PrivateKeySigner::from_slice(&key) {
                        break signer;
                    }
                }
            })
            .collect();
        let extra = BftExtraData::genesis(signers.iter().map(|s| s.address()).collect());
        let genesis = Header {
            number: 0,
            timestamp: 0,
            extra_data: extra.encode(config.bft.mode),
            mix_hash: BFT_MIX_HASH,
            difficulty: U256::from(1),
            gas_limit: 30_000_000,
            ..Header::default()
        };
        let genesis = BftBlock::new(genesis, Bytes::new());
        let nodes = signers
            .into_iter()
            .map(|signer| Node {
                signer,
                engine: None,
                chain: vec![genesis.clone()],
                timers: HashMap::new(),
                seen: HashSet::new(),
                incarnation: 0,
                behaviour: Behaviour::Honest,
                built: 0,
            })
            .collect();
        let groups = vec![0; config.validators];
        let mut sim = Self {
            filter: None,
            config,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            groups,
            decided: BTreeMap::new(),
            violations: Vec::new(),
            trace: DefaultHasher::new(),
            trace_events: 0,
        };
        for node in 0..sim.nodes.len() {
            sim.boot(node);
        }
        sim
    }

    /// Current virtual time in milliseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the simulation has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Address of node `node`.
    pub fn address(&self, node: usize) -> Address {
        self.nodes[node].signer.address()
    }

    /// Key of node `node` (to forge messages in tests).
    pub fn signer(&self, node: usize) -> &PrivateKeySigner {
        &self.nodes[node].signer
    }

    /// The engine of a running node.
    pub fn engine(&self, node: usize) -> Option<&Engine> {
        self.nodes[node].engine.as_ref()
    }

    /// The engine of a running node, to queue votes.
    pub fn engine_mut(&mut self, node: usize) -> Option<&mut Engine> {
        self.nodes[node].engine.as_mut()
    }

    /// Committed chain of `node`, genesis first.
    pub fn chain(&self, node: usize) -> &[BftBlock] {
        &self.nodes[node].chain
    }

    /// Last committed block number of `node`.
    pub fn height(&self, node: usize) -> u64 {
        self.nodes[node].chain.len() as u64 - 1
    }

    /// Highest block committed by any node.
    pub fn max_height(&self) -> u64 {
        (0..self.nodes.len())
            .map(|n| self.height(n))
            .max()
            .unwrap_or(0)
    }

    /// Lowest block height among running nodes.
    pub fn min_running_height(&self) -> u64 {
        (0..self.nodes.len())
            .filter(|n| self.nodes[*n].engine.is_some())
            .map(|n| self.height(n))
            .min()
            .unwrap_or(0)
    }

    /// Safety or validity violations seen so far (two hashes at one height,
    /// an invalid block committed, a block with bad seals).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// Digest of every event processed so far: equal runs give equal digests.
    pub fn trace_hash(&self) -> (u64, u64) {
        (self.trace.finish(), self.trace_events)
    }

    /// Sets how `node` behaves from now on.
    pub fn set_behaviour(&mut self, node: usize, behaviour: Behaviour) {
        self.nodes[node].behaviour = behaviour;
    }

    /// Splits the network: nodes in different groups cannot exchange
    /// messages or blocks. Nodes not listed form one more group.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        self.groups = vec![groups.len(); self.nodes.len()];
        for (index, group) in groups.iter().enumerate() {
            for node in *group {
                self.groups[*node] = index;
            }
        }
        self.record(format_args!("partition {groups:?}"));
    }

    /// Installs (or removes) a filter on every message sent from now on.
    pub fn set_filter(&mut self, filter: Option<MessageFilter>) {
        self.filter = filter;
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.groups = vec![0; self.nodes.len()];
        self.record(format_args!("heal"));
    }

    /// Changes message loss from now on.
    pub fn set_drop_rate(&mut self, drop_rate: f64) {
        self.config.drop_rate = drop_rate;
    }

    /// Stops `node`: its engine state, timers and in-flight messages to it
    /// are lost; its committed chain is kept (it is on disk).
    pub fn crash(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.engine = None;
        n.timers.clear();
        n.seen.clear();
        n.incarnation += 1;
        self.record(format_args!("crash {node}"));
    }

    /// Restarts a crashed node from its committed chain.
    pub fn restart(&mut self, node: usize) {
        if self.nodes[node].engine.is_none() {
            self.record(format_args!("restart {node}"));
            self.boot(node);
        }
    }

    /// Whether `node` is running.
    pub fn is_running(&self, node: usize) -> bool {
        self.nodes[node].engine.is_some()
    }

    /// Feeds `input` to a running node now (tests use it to inject forged
    /// messages).
    pub fn inject(&mut self, node: usize, input: Input) {
        self.feed(node, input);
    }

    /// Runs events until virtual time `until_ms`.
    pub fn run_until(&mut self, until_ms: u64) {
        while let Some(Reverse(event)) = self.queue.peek() {
            if event.at > until_ms {
                break;
            }
            let Reverse(event) = self.queue.pop().expect("peeked");
            self.now = event.at;
            self.dispatch(event);
        }
        self.now = self.now.max(until_ms);
    }

    /// Runs until every running node has committed `height`, or until
    /// `deadline_ms`. Returns whether the height was reached.
    pub fn run_until_height(&mut self, height: u64, deadline_ms: u64) -> bool {
        while self.min_running_height() < height {
            let Some(Reverse(event)) = self.queue.pop() else {
                return false;
            };
            if event.at > deadline_ms {
                self.queue.push(Reverse(event));
                self.now = deadline_ms;
                return false;
            }
            self.now = event.at;
            self.dispatch(event);
        }
        true
    }

    // ---- internals ----

    fn record(&mut self, what: std::fmt::Arguments<'_>) {
        self.now.hash(&mut self.trace);
        what.to_string().hash(&mut self.trace);
        self.trace_events += 1;
    }

    fn schedule(&mut self, after_ms: u64, incarnation: u64, kind: EventKind) {
        self.seq += 1;
        self.queue.push(Reverse(Event {
            at: self.now + after_ms,
            seq: self.seq,
            incarnation,
            kind,
        }));
    }

    fn boot(&mut self, node: usize) {
        let mode = self.config.bft.mode;
        let chain = &self.nodes[node].chain;
        let mut history =
            ValidatorHistory::from_genesis(mode, &chain[0].header, self.config.bft.epoch_length)
                .expect("genesis")
                .with_overrides(&self.config.bft.validator_overrides);
        for block in &chain[1..] {
            history
                .import(&block.header)
                .expect("a committed chain imports");
        }
        let head = chain.last().expect("genesis").header.clone();
        let signer = self.nodes[node].signer.clone();
        let mut engine =
            Engine::new(self.config.bft.clone(), signer, history, head).expect("engine");
        let outputs = engine.start(self.now);
        self.nodes[node].engine = Some(engine);
        let incarnation = self.nodes[node].incarnation;
        let jitter = self
            .rng
            .random_range(0..self.config.sync_interval_ms.max(1));
        self.schedule(jitter, incarnation, EventKind::Sync { node });
        self.apply(node, outputs);
        if self.config.always_pending {
            self.feed(node, Input::TransactionsPending);
        }
    }

    fn dispatch(&mut self, event: Event) {
        let node = match &event.kind {
            EventKind::Deliver { to, .. } => *to,
            EventKind::Timer { node, .. }
            | EventKind::Answer { node, .. }
            | EventKind::Sync { node } => *node,
        };
        if self.nodes[node].engine.is_none() || self.nodes[node].incarnation != event.incarnation {
            return;
        }
        match event.kind {
            EventKind::Deliver {
                from,
                to,
                message,
                bytes,
            } => {
                if !self.nodes[to].seen.insert(message_key(&message)) {
                    return;
                }
                self.record(format_args!(
                    "deliver {to} {}",
                    message.signed().payload().signing_hash()
                ));
                let relay = self.config.gossip.then(|| (message.clone(), bytes.clone()));
                match bytes {
                    Some(bytes) => self.feed(to, Input::Message(bytes)),
                    None => {
                        let now = self.now;
                        let Some(engine) = self.nodes[to].engine.as_mut() else {
                            return;
                        };
                        let outputs = engine.handle_message(now, *message);
                        self.apply(to, outputs);
                    }
                }
                if let Some((message, bytes)) = relay {
                    for next in 0..self.nodes.len() {
                        if next != from && next != to && self.allowed(to, next, &message) {
                            self.send(to, next, &message, bytes.as_ref());
                        }
                    }
                }
            }
            EventKind::Timer {
                node,
                id,
                generation,
            } => {
                if self.nodes[node].timers.get(&id) == Some(&generation) {
                    self.nodes[node].timers.remove(&id);
                    self.record(format_args!("timer {node} {id:?}"));
                    self.feed(node, Input::Timer(id));
                }
            }
            EventKind::Answer { node, input } => {
                self.record(format_args!("answer {node}"));
                self.feed(node, input);
            }
            EventKind::Sync { node } => {
                self.sync(node);
                let incarnation = self.nodes[node].incarnation;
                self.schedule(
                    self.config.sync_interval_ms,
                    incarnation,
                    EventKind::Sync { node },
                );
            }
        }
    }

    fn feed(&mut self, node: usize, input: Input) {
        let now = self.now;
        let Some(engine) = self.nodes[node].engine.as_mut() else {
            return;
        };
        let outputs = engine.handle(now, input);
        self.apply(node, outputs);
    }

    fn apply(&mut self, node: usize, outputs: Vec<Output>) {
        let incarnation = self.nodes[node].incarnation;
        for output in outputs {
            if self.nodes[node].engine.is_none() {
                return;
            }
            match output {
                Output::Broadcast(message) => self.broadcast(node, message),
                Output::SetTimer { id, after_ms } => {
                    let generation = self.seq + 1;
                    self.nodes[node].timers.insert(id, generation);
                    self.schedule(
                        after_ms,
                        incarnation,
                        EventKind::Timer {
                            node,
                            id,
                            generation,
                        },
                    );
                    // `schedule` used `generation` as its sequence number.
                }
                Output::CancelTimer(id) => {
                    self.nodes[node].timers.remove(&id);
                }
                Output::BuildBlock(request) => {
                    let block = self.build(node, &request, None);
                    self.schedule(
                        1,
                        incarnation,
                        EventKind::Answer {
                            node,
                            input: Input::BlockBuilt(block),
                        },
                    );
                }
                Output::ValidateBlock(block) => {
                    let mode = self.config.bft.mode;
                    let head = self.nodes[node].chain.last().expect("genesis");
                    let parent_ok =
                        bft_block_hash(mode, &head.header).ok() == Some(block.header.parent_hash);
                    let valid = parent_ok && !block.body.starts_with(INVALID_BODY);
                    let hash = block.hash(mode).unwrap_or_default();
                    self.schedule(
                        1,
                        incarnation,
                        EventKind::Answer {
                            node,
                            input: Input::BlockValidated { hash, valid },
                        },
                    );
                }
                Output::CommitBlock(block) => self.import(node, block, false),
            }
        }
    }

    fn build(&mut self, node: usize, request: &BuildRequest, salt: Option<u64>) -> BftBlock {
        let n = &mut self.nodes[node];
        n.built += 1;
        let mut body = Vec::new();
        if n.behaviour == Behaviour::InvalidBlocks {
            body.extend_from_slice(INVALID_BODY);
        }
        body.extend_from_slice(
            format!(
                "txs of node {node} block {} #{} {salt:?}",
                request.height, n.built
            )
            .as_bytes(),
        );
        build_block(request, body.into())
    }

    fn reachable(&self, from: usize, to: usize) -> bool {
        self.groups[from] == self.groups[to]
    }

    fn broadcast(&mut self, from: usize, message: Message) {
        if self.nodes[from].behaviour == Behaviour::Equivocate
            && let Message::Proposal(proposal) = &message
        {
            return self.equivocate(from, proposal.clone());
        }
        self.nodes[from].seen.insert(message_key(&message));
        let bytes = self.config.wire_encoding.then(|| message.encode());
        for to in 0..self.nodes.len() {
            if to != from && self.allowed(from, to, &message) {
                self.send(from, to, &message, bytes.as_ref());
            }
        }
    }

    fn allowed(&mut self, from: usize, to: usize, message: &Message) -> bool {
        match self.filter.as_mut() {
            Some(filter) => filter(from, to, message),
            None => true,
        }
    }

    fn send(&mut self, from: usize, to: usize, message: &Message, bytes: Option<&Bytes>) {
        if !self.reachable(from, to) || self.rng.random_bool(self.config.drop_rate) {
            return;
        }
        let copies = if self.rng.random_bool(self.config.duplicate_rate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let (lo, hi) = self.config.delay_ms;
            let delay = self.rng.random_range(lo..=hi.max(lo));
            let incarnation = self.nodes[to].incarnation;
            let kind = EventKind::Deliver {
                from,
                to,
                message: Box::new(message.clone()),
                bytes: bytes.cloned(),
            };
            self.schedule(delay, incarnation, kind);
        }
    }

    /// Sends the honest proposal to the first half of the other nodes and a
    /// different block, equally well signed, to the second half.
    fn equivocate(&mut self, from: usize, proposal: Proposal) {
        let mode = self.config.bft.mode;
        let id = proposal.signed.id();
        let header = &proposal.block.header;
        let request = BuildRequest {
            height: id.height,
            round: id.round,
            parent_hash: header.parent_hash,
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            extra_data: header.extra_data.clone(),
        };
        let other = self.build(from, &request, Some(id.round as u64));
        let digest = other.hash(mode).expect("own extraData");
        let signed =
            SignedPayload::sign(Payload::Proposal { id, digest }, &self.nodes[from].signer);
        let twin = Message::Proposal(Proposal {
            signed,
            block: other,
            ..proposal.clone()
        });
        let honest = Message::Proposal(proposal);
        self.nodes[from].seen.insert(message_key(&honest));
        self.nodes[from].seen.insert(message_key(&twin));
        let wire = self.config.wire_encoding;
        let (twin_bytes, honest_bytes) =
            (wire.then(|| twin.encode()), wire.then(|| honest.encode()));
        let others: Vec<usize> = (0..self.nodes.len()).filter(|n| *n != from).collect();
        let half = others.len() / 2;
        for (index, to) in others.into_iter().enumerate() {
            if index < half {
                self.send(from, to, &honest, honest_bytes.as_ref());
            } else {
                self.send(from, to, &twin, twin_bytes.as_ref());
            }
        }
    }

    /// Appends a block to `node`'s chain. Blocks from a peer (`synced`) have
    /// their seals checked, as block sync does; blocks the node's own engine
    /// decided were checked seal by seal as the commits came in, and are
    /// re-checked here only on wire-encoded runs (it costs a signature
    /// recovery per seal).
    fn import(&mut self, node: usize, block: BftBlock, synced: bool) {
        let mode = self.config.bft.mode;
        let number = block.number();
        if number != self.nodes[node].chain.len() as u64 {
            return;
        }
        if synced || self.config.wire_encoding {
            let engine = self.nodes[node].engine.as_ref().expect("running");
            let validators = engine
                .history()
                .validators_at(number)
                .unwrap_or_default()
                .to_vec();
            if let Err(e) = verify_committed_seals(mode, &block.header, &validators) {
                self.violations.push(format!(
                    "node {node} got block {number} with bad seals: {e}"
                ));
                return;
            }
        }
        if block.body.starts_with(INVALID_BODY) {
            self.violations
                .push(format!("node {node} committed invalid block {number}"));
        }
        let hash = block.hash(mode).expect("sealed block has extraData");
        match self.decided.get(&number) {
            Some(existing) if *existing != hash => {
                self.violations.push(format!(
                    "fork at block {number}: {existing} and {hash} (node {node})"
                ));
            }
            Some(_) => {}
            None => {
                self.decided.insert(number, hash);
            }
        }
        self.record(format_args!("commit {node} {number} {hash}"));
        let header = block.header.clone();
        self.nodes[node].chain.push(block);
        self.feed(node, Input::NewChainHead(header));
        if self.config.always_pending {
            self.feed(node, Input::TransactionsPending);
        }
    }

    /// Copies committed blocks this node lacks from one reachable, running
    /// peer with a longer chain.
    fn sync(&mut self, node: usize) {
        let mine = self.nodes[node].chain.len();
        let peers: Vec<usize> = (0..self.nodes.len())
            .filter(|p| *p != node && self.reachable(node, *p) && self.nodes[*p].engine.is_some())
            .filter(|p| self.nodes[*p].chain.len() > mine)
            .collect();
        if peers.is_empty() {
            return;
        }
        let peer = peers[self.rng.random_range(0..peers.len())];
        let missing: Vec<BftBlock> = self.nodes[peer].chain[mine..].to_vec();
        self.record(format_args!("sync {node} from {peer} {}", missing.len()));
        for block in missing {
            if self.nodes[node].engine.is_none() {
                return;
            }
            self.import(node, block, true);
        }
    }
}

/// Identity of a message for de-duplication: its signed payload and signature.
fn message_key(message: &Message) -> (B256, U256) {
    let signed = message.signed();
    (signed.payload().signing_hash(), signed.signature().r())
}

/// The simulator's block for `request`: the requested header fields, BFT
/// constants, and a transactions root that commits to `body`.
pub fn build_block(request: &BuildRequest, body: Bytes) -> BftBlock {
    let header = Header {
        parent_hash: request.parent_hash,
        beneficiary: request.beneficiary,
        number: request.height,
        timestamp: request.timestamp,
        extra_data: request.extra_data.clone(),
        mix_hash: BFT_MIX_HASH,
        difficulty: U256::from(1),
        gas_limit: 30_000_000,
        transactions_root: keccak256(&body),
        ..Header::default()
    };
    BftBlock::new(header, body)
}
