//! The node's event loop body, free of threads and clocks: network
//! messages, timer expiries and local events in, [`Effect`]s out. It
//! builds, validates and commits blocks, syncs from peers, and keeps its
//! consensus engine at the chain's head.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, atomic::Ordering},
};

use alloy::{
    consensus::{Header, TxEnvelope},
    primitives::{Address, B256, B512, Bytes},
};
use forja_consensus::{
    BftBlock, BftConfig, BftExtraData, BftMode, Engine, Input, Message, Output, TimerId,
    ValidatorHistory, bft_block_hash, verify_committed_seals,
};

use super::{
    decode::{DECODED_BODIES, DECODED_MESSAGES, encode_body},
    messages::{CoreEvent, Effect, LocalEvent, NetMessage},
    seen::SeenMessages,
    shared::NodeShared,
};
use crate::{
    block::{SealedBlock, TxRef},
    error::{BlockError, Error},
    execution::{BlockContext, ExecutedBlock, ExecutionHook, Mode, execute_block, seal_header},
    interrupt::{Interrupted, Limits},
    spec::ChainSpec,
    state::StateAt,
};

/// Whether a block to validate is a proposal (its transactions must pass
/// this node's permissioning now) or was already decided by a quorum (the
/// permissions in force when it was decided applied; a later change to the
/// lists must not stop a node from catching up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proposed {
    Yes,
    No,
}

/// A block that executed correctly on the head, kept until it is committed.
struct Validated {
    transactions: Vec<TxRef>,
    executed: ExecutedBlock,
    storage_roots: HashMap<Address, B256>,
}

/// The node's event loop body.
pub(crate) struct NodeCore {
    shared: Arc<NodeShared>,
    engine: Engine,
    /// Node ids of all nodes, by index.
    peers: Vec<B512>,
    validated: HashMap<B256, Validated>,
    /// Synced blocks ahead of the head, waiting for their parents.
    future_blocks: BTreeMap<u64, BftBlock>,
    /// Inspects every block this node builds or validates (`None`: plain execution).
    execution_hook: Option<Arc<dyn ExecutionHook>>,
    /// Consensus messages seen recently (Besu's `duplicatemessagelimit`):
    /// a repeat is dropped, and not relayed again.
    seen: SeenMessages,
    /// Relays consensus messages, as Besu's gossiper does.
    relay: bool,
    /// The highest block number a peer sent; blocks up to it are asked for
    /// while this node is behind it.
    highest_announced: u64,
    /// The engine's round-change count already added to the metric.
    round_changes_counted: u64,
    /// The wall time a block this node proposes may spend executing
    /// transactions, by height; `None`: unbounded (the simulator, whose
    /// runs must not depend on the machine's speed).
    selection_budget: Option<BftConfig>,
}

/// The wall time a proposer spends executing transactions for the block at
/// `height` (Besu's `--poa-block-txs-selection-max-time`): `percent` of the
/// block period, or of the round's request timeout when blocks are made on
/// demand (period 0), so a proposal always leaves the round time to finish.
pub(crate) fn selection_budget(
    config: &BftConfig,
    height: u64,
    percent: u8,
) -> std::time::Duration {
    let period_ms = match config.block_period_seconds_at(height) {
        0 => config.request_timeout_ms_at(height),
        seconds => seconds.saturating_mul(1000),
    };
    std::time::Duration::from_millis(period_ms.saturating_mul(u64::from(percent)) / 100)
}

impl NodeCore {
    pub(crate) fn new(
        shared: Arc<NodeShared>,
        config: BftConfig,
        peers: Vec<B512>,
    ) -> Result<Self, Error> {
        let seen = SeenMessages::new(config.duplicate_message_limit);
        let engine = engine_at_head(&shared, config)?;
        let core = Self {
            shared,
            engine,
            peers,
            validated: HashMap::new(),
            future_blocks: BTreeMap::new(),
            execution_hook: None,
            seen,
            relay: false,
            round_changes_counted: 0,
            highest_announced: 0,
            selection_budget: None,
        };
        core.publish_consensus_view();
        Ok(core)
    }

    /// Relays consensus messages to the other peers (see [`SeenMessages`]).
    /// The in-process driver's channels reach every node and never lose a
    /// message, so only a lossy transport (the simulator's) needs it.
    pub(crate) fn with_consensus_relay(mut self) -> Self {
        self.relay = true;
        self
    }

    /// Bounds the time spent executing transactions for a proposal (see
    /// [`selection_budget`]); a transaction stopped after running for half of
    /// it or more is dropped from the pool.
    pub(crate) fn with_selection_budget(mut self, config: BftConfig) -> Self {
        self.selection_budget = Some(config);
        self
    }

    /// Executes every block (built or validated) under `hook`'s inspector.
    pub(crate) fn with_execution_hook(mut self, hook: Option<Arc<dyn ExecutionHook>>) -> Self {
        self.execution_hook = hook;
        self
    }

    pub(crate) fn shared(&self) -> &Arc<NodeShared> {
        &self.shared
    }

    /// Starts the engine (first height's timers).
    pub(crate) fn start(&mut self, now_ms: u64) -> Vec<Effect> {
        let outputs = self.engine.start(now_ms);
        let mut effects = Vec::new();
        self.run(now_ms, outputs, &mut effects);
        if self.has_ready_transactions() {
            self.step(now_ms, Input::TransactionsPending, &mut effects);
        }
        effects
    }

    /// Handles one event.
    pub(crate) fn handle(&mut self, now_ms: u64, event: CoreEvent) -> Vec<Effect> {
        let mut effects = Vec::new();
        match event {
            CoreEvent::Timer(id) => {
                let round_timed_out = matches!(id, TimerId::Round(_));
                self.step(now_ms, Input::Timer(id), &mut effects);
                if round_timed_out {
                    self.regossip_pool(&mut effects);
                    self.ask_for_missed_blocks(&mut effects);
                }
            }
            CoreEvent::Local(event) => self.handle_local(now_ms, event, &mut effects),
            CoreEvent::Net { from, message } => {
                if !self.peer_allowed(from) {
                    tracing::debug!(
                        node = self.shared.index,
                        from,
                        "dropping message from a node not on the allowlist"
                    );
                    return effects;
                }
                self.handle_net(now_ms, from, message, &mut effects);
            }
        }
        effects
    }

    /// Sends this node's executable transactions to every peer again. Gossip
    /// is fire-and-forget: with block period 0 a transaction whose gossip was
    /// lost would sit in one pool, and a round this node alone starts can
    /// never gather a quorum of round changes. A timed-out round is the sign.
    fn regossip_pool(&self, effects: &mut Vec<Effect>) {
        let chain = self.shared.chain.read().expect("chain lock");
        let state = chain.latest_state();
        let ready = self
            .shared
            .pool
            .lock()
            .expect("pool lock")
            .ready(|a| state.nonce(a), self.shared.spec.max_block_transactions);
        if !ready.is_empty() {
            effects.push(Effect::Send {
                to: None,
                message: NetMessage::Transactions(ready),
            });
        }
    }

    /// A round that timed out may mean the others decided this height and
    /// its commits or the announced block were lost on the way here: the
    /// peers that moved on wait for this node's votes at the next height,
    /// and nothing else would bring it the block. Besu's synchronizer plays
    /// this part.
    fn ask_for_missed_blocks(&self, effects: &mut Vec<Effect>) {
        effects.push(self.ask_for_blocks());
    }

    /// Asks every peer for the blocks after this node's head (a node that
    /// joins, or whose peers just let it in, syncs this way).
    pub(crate) fn ask_for_blocks(&self) -> Effect {
        let next = self.shared.chain.read().expect("chain lock").head_number() + 1;
        Effect::Send {
            to: None,
            message: NetMessage::GetBlocks { from: next },
        }
    }

    /// A node joined the network at the next index: this node hears it
    /// (subject to the node allowlist) and relays to it.
    pub(crate) fn add_peer(&mut self, node_id: B512) {
        self.peers.push(node_id);
    }

    fn peer_allowed(&self, from: usize) -> bool {
        let permissions = self.shared.permissions.read().expect("permissions lock");
        let Some(peer) = self.peers.get(from) else {
            return false;
        };
        permissions.node_allowed(peer) && permissions.node_allowed(&self.shared.node_id)
    }

    fn handle_local(&mut self, now_ms: u64, event: LocalEvent, effects: &mut Vec<Effect>) {
        match event {
            LocalEvent::TransactionsAdded(txs) => {
                let start_round = self.has_ready_transactions();
                effects.push(Effect::Send {
                    to: None,
                    message: NetMessage::Transactions(txs),
                });
                if start_round {
                    self.step(now_ms, Input::TransactionsPending, effects);
                }
            }
            LocalEvent::BlockRequested { height } => {
                let next = self.shared.chain.read().expect("chain lock").head_number() + 1;
                if next <= height {
                    self.step(now_ms, Input::TransactionsPending, effects);
                }
            }
            LocalEvent::Vote { address, add } => {
                match add {
                    Some(add) => self.engine.propose_vote(address, add),
                    None => self.engine.discard_vote(address),
                }
                self.publish_consensus_view();
            }
        }
    }

    fn handle_net(
        &mut self,
        now_ms: u64,
        from: usize,
        message: NetMessage,
        effects: &mut Vec<Effect>,
    ) {
        match message {
            NetMessage::Consensus(bytes) => {
                if !self.seen.first_sight(&bytes) {
                    return;
                }
                if self.relay {
                    for peer in
                        (0..self.peers.len()).filter(|p| *p != from && *p != self.shared.index)
                    {
                        effects.push(Effect::Send {
                            to: Some(peer),
                            message: NetMessage::Consensus(bytes.clone()),
                        });
                    }
                }
                match DECODED_MESSAGES.get_or_decode(&bytes, || Message::decode(&bytes)) {
                    Ok(message) => {
                        let outputs = self.engine.handle_message(now_ms, message);
                        self.run(now_ms, outputs, effects);
                    }
                    // The engine decodes it again and records why it is refused.
                    Err(_) => self.step(now_ms, Input::Message(bytes), effects),
                }
            }
            NetMessage::Transactions(txs) => {
                let mut added = false;
                for result in self.shared.add_transactions(&txs) {
                    match result {
                        Ok(()) => added = true,
                        Err(error) => {
                            tracing::trace!(node = self.shared.index, %error, "gossiped transaction refused")
                        }
                    }
                }
                if added && self.has_ready_transactions() {
                    self.step(now_ms, Input::TransactionsPending, effects);
                }
            }
            NetMessage::NewBlock(block) => {
                self.on_synced_blocks(now_ms, from, vec![block], effects)
            }
            NetMessage::Blocks(blocks) => self.on_synced_blocks(now_ms, from, blocks, effects),
            NetMessage::GetBlocks { from: first } => {
                let chain = self.shared.chain.read().expect("chain lock");
                let last = chain
                    .head_number()
                    .min(first.saturating_add(SYNC_WINDOW - 1));
                let blocks: Vec<BftBlock> = (first..=last)
                    .filter_map(|n| chain.block(n))
                    .map(|b| BftBlock::new(b.header.clone(), encode_body(&b.transactions)))
                    .collect();
                if !blocks.is_empty() {
                    effects.push(Effect::Send {
                        to: Some(from),
                        message: NetMessage::Blocks(blocks),
                    });
                }
            }
        }
    }

    /// Feeds one input to the engine and carries out what it asks.
    fn step(&mut self, now_ms: u64, input: Input, effects: &mut Vec<Effect>) {
        let outputs = self.engine.handle(now_ms, input);
        self.run(now_ms, outputs, effects);
    }

    fn run(&mut self, now_ms: u64, outputs: Vec<Output>, effects: &mut Vec<Effect>) {
        let mut queue: VecDeque<Output> = outputs.into();
        while let Some(output) = queue.pop_front() {
            let follow_up = match output {
                Output::Broadcast(message) => {
                    let bytes = message.encode();
                    // Relayed back to us, it is not news.
                    self.seen.first_sight(&bytes);
                    effects.push(Effect::Send {
                        to: None,
                        message: NetMessage::Consensus(bytes),
                    });
                    None
                }
                Output::SetTimer { id, after_ms } => {
                    if matches!(id, TimerId::Block { .. }) {
                        self.shared
                            .metrics
                            .rounds_started
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    effects.push(Effect::SetTimer { id, after_ms });
                    None
                }
                Output::CancelTimer(_) => None,
                Output::BuildBlock(request) => Some(Input::BlockBuilt(self.build(&request))),
                Output::ValidateBlock(block) => {
                    let hash = block.hash(self.shared.mode).unwrap_or_default();
                    let valid = match self.validate(&block, Proposed::Yes) {
                        Ok(()) => true,
                        Err(error) => {
                            self.shared
                                .metrics
                                .blocks_rejected
                                .fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(node = self.shared.index, %error, "proposed block rejected");
                            false
                        }
                    };
                    Some(Input::BlockValidated { hash, valid })
                }
                Output::CommitBlock(block) => match self.commit(&block) {
                    Ok(()) => {
                        effects.push(Effect::Send {
                            to: None,
                            message: NetMessage::NewBlock(block.clone()),
                        });
                        Some(Input::NewChainHead(block.header))
                    }
                    Err(error) => {
                        tracing::error!(node = self.shared.index, %error, "committing a decided block failed");
                        None
                    }
                },
            };
            if let Some(input) = follow_up {
                let more = self.engine.handle(now_ms, input.clone());
                queue.extend(more);
                if matches!(input, Input::NewChainHead(_)) {
                    self.after_new_head(now_ms, &mut queue);
                }
            }
        }
        self.count_round_changes();
        self.publish_consensus_view();
    }

    /// Adds the round changes the engine made since the last call to the
    /// node's metric: a round that timed out or was left for a later one,
    /// never a timer that fired for a round already decided or left.
    fn count_round_changes(&mut self) {
        let total = self.engine.round_changes();
        let new = total.saturating_sub(self.round_changes_counted);
        if new > 0 {
            self.shared
                .metrics
                .round_changes
                .fetch_add(new, Ordering::Relaxed);
        }
        self.round_changes_counted = total;
    }

    fn after_new_head(&mut self, now_ms: u64, queue: &mut VecDeque<Output>) {
        self.validated.clear();
        if self.has_ready_transactions() {
            queue.extend(self.engine.handle(now_ms, Input::TransactionsPending));
        }
    }

    fn publish_consensus_view(&self) {
        let round = self.engine.current_round();
        let mut view = self.shared.consensus.write().expect("consensus lock");
        view.validators = self.engine.validators().to_vec();
        view.height = round.height;
        view.round = round.round;
        // `pending_votes` is not written here: the API handle publishes a
        // vote when it is cast, and the engine may not have received it yet.
    }

    /// Builds a block for the engine from the pool's ready transactions.
    fn build(&mut self, request: &forja_consensus::BuildRequest) -> BftBlock {
        let shared = self.shared.clone();
        let chain = shared.chain.read().expect("chain lock");
        let state = chain.latest_state();
        let ready = {
            let pool = shared.pool.lock().expect("pool lock");
            pool.ready(|a| state.nonce(a), shared.spec.max_block_transactions * 2)
        };
        // Permissions can change after a transaction entered the pool.
        let (ready, refused): (Vec<TxRef>, Vec<TxRef>) = {
            let permissions = shared.permissions.read().expect("permissions lock");
            ready.into_iter().partition(|tx| {
                permissions
                    .check_transaction(tx.sender, tx.kind().is_create())
                    .is_ok()
            })
        };
        let context = BlockContext {
            number: request.height,
            timestamp: request.timestamp,
            beneficiary: request.beneficiary,
            gas_limit: shared.spec.block_gas_limit,
            parent_hash: request.parent_hash,
        };
        let budget = self.selection_budget.as_ref().map(|config| {
            selection_budget(config, request.height, shared.block_txs_selection_max_time)
        });
        let scope = Limits::new(budget, Some(shared.stop.clone())).enter();
        let executed = self
            .execute(state, &context, ready, Mode::Build)
            .expect("building never fails: invalid transactions are skipped");
        drop(scope);
        let (state_root, storage_roots) = chain.world().preview_root(&executed.changes);
        drop(chain);
        {
            let mut pool = shared.pool.lock().expect("pool lock");
            for tx in &refused {
                pool.remove(&tx.hash);
            }
            for (tx, reason) in &executed.skipped {
                if reason != "block is full" {
                    tracing::debug!(node = shared.index, hash = %tx.hash, reason, "dropping a transaction the EVM refused");
                    pool.remove(&tx.hash);
                }
            }
            if let Some(stopped) = &executed.interrupted
                && stopped.why == Interrupted::Deadline
            {
                let budget = budget.unwrap_or_default();
                // One that had most of the budget to itself would never fit;
                // one that started late is tried again in the next block.
                if stopped.ran_for >= budget / 2 {
                    tracing::warn!(
                        node = shared.index,
                        hash = %stopped.tx.hash,
                        sender = %stopped.tx.sender,
                        ran_for_ms = stopped.ran_for.as_millis() as u64,
                        budget_ms = budget.as_millis() as u64,
                        "dropping a transaction that did not finish within the block's transaction selection time (--poa-block-txs-selection-max-time)"
                    );
                    pool.remove(&stopped.tx.hash);
                } else {
                    tracing::debug!(node = shared.index, hash = %stopped.tx.hash, "block's transaction selection time is up; the rest wait for the next block");
                }
            }
        }
        let header = seal_header(
            &shared.spec,
            &context,
            &executed,
            state_root,
            request.extra_data.clone(),
        );
        let transactions: Vec<TxRef> = executed.transactions.iter().map(|t| t.tx.clone()).collect();
        let body = encode_body(&transactions);
        if let Ok(hash) = bft_block_hash(shared.mode, &header) {
            self.validated.insert(
                hash,
                Validated {
                    transactions,
                    executed,
                    storage_roots,
                },
            );
        }
        BftBlock::new(header, body)
    }

    /// Executes `transactions` on `state` as the block `context` describes,
    /// under the execution hook's inspector when there is one.
    fn execute(
        &self,
        state: StateAt<'_>,
        context: &BlockContext,
        transactions: impl IntoIterator<Item = TxRef>,
        mode: Mode,
    ) -> Result<ExecutedBlock, BlockError> {
        let mut inspector = self
            .execution_hook
            .as_ref()
            .map(|hook| hook.block_inspector(self.shared.index, context));
        execute_block(
            &self.shared.spec,
            state,
            context,
            transactions,
            mode,
            inspector.as_deref_mut(),
        )
    }

    /// Decodes a body, reusing senders of transactions this node already
    /// holds, or the whole decode when another node of the process decoded
    /// the same buffer.
    fn decode_body(&self, number: u64, body: &Bytes) -> Result<Vec<TxRef>, BlockError> {
        DECODED_BODIES
            .get_or_decode(body, || self.decode_body_bytes(number, body).map(Arc::new))
            .map(Arc::unwrap_or_clone)
    }

    fn decode_body_bytes(&self, number: u64, body: &Bytes) -> Result<Vec<TxRef>, BlockError> {
        let invalid = |index: usize, hash: B256, reason: String| BlockError::InvalidTransaction {
            number,
            index,
            hash,
            reason,
        };
        let envelopes = <Vec<TxEnvelope> as alloy_rlp::Decodable>::decode(&mut body.as_ref())
            .map_err(|e| invalid(0, B256::ZERO, format!("body does not decode: {e}")))?;
        let pool = self.shared.pool.lock().expect("pool lock");
        envelopes
            .into_iter()
            .enumerate()
            .map(|(index, envelope)| {
                let hash = *envelope.tx_hash();
                if let Some(known) = pool.get(&hash) {
                    return Ok(known.clone());
                }
                if let Some(known) = crate::pool::already_recovered(&hash) {
                    return Ok(known);
                }
                let tx = crate::pool::recover(envelope)
                    .map(Arc::new)
                    .map_err(|e| invalid(index, hash, e.to_string()))?;
                crate::pool::remember_recovered([&tx]);
                Ok(tx)
            })
            .collect()
    }

    /// Executes a proposed or synced block on the head and checks its header.
    fn validate(&mut self, block: &BftBlock, proposed: Proposed) -> Result<(), Error> {
        let mode = self.shared.mode;
        let hash = bft_block_hash(mode, &block.header)
            .map_err(|e| Error::InvalidRequest(format!("block {}: {e}", block.number())))?;
        if self.validated.contains_key(&hash) {
            return Ok(());
        }
        let transactions = self.decode_body(block.number(), &block.body)?;
        if proposed == Proposed::Yes {
            let permissions = self.shared.permissions.read().expect("permissions lock");
            for (index, tx) in transactions.iter().enumerate() {
                if let Err(refusal) =
                    permissions.check_transaction(tx.sender, tx.kind().is_create())
                {
                    return Err(BlockError::InvalidTransaction {
                        number: block.number(),
                        index,
                        hash: tx.hash,
                        reason: refusal.to_string(),
                    }
                    .into());
                }
            }
        }
        check_gas_limit(&self.shared.spec, &block.header, proposed)?;
        let shared = self.shared.clone();
        let chain = shared.chain.read().expect("chain lock");
        let head = chain.head();
        let header = &block.header;
        if header.parent_hash != head.hash || header.number != head.number() + 1 {
            return Err(BlockError::UnknownParent {
                number: header.number,
                parent: header.parent_hash,
                head: head.hash,
            }
            .into());
        }
        let context = BlockContext {
            number: header.number,
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            gas_limit: header.gas_limit,
            parent_hash: header.parent_hash,
        };
        // No time limit: whether a block is valid must not depend on how
        // fast this machine is. Only shutdown stops it.
        let scope = Limits::new(None, Some(shared.stop.clone())).enter();
        let executed = self.execute(
            chain.latest_state(),
            &context,
            transactions.iter().cloned(),
            Mode::Import,
        );
        drop(scope);
        let executed = executed?;
        let (state_root, storage_roots) = chain.world().preview_root(&executed.changes);
        drop(chain);
        let expected = seal_header(
            &shared.spec,
            &context,
            &executed,
            state_root,
            header.extra_data.clone(),
        );
        let mismatch = |field: &'static str, header: String, computed: String| {
            Err(Error::from(BlockError::Mismatch {
                number: context.number,
                field,
                header,
                computed,
            }))
        };
        // Each field the block's execution recomputes, against its header.
        let fields: [(
            &'static str,
            bool,
            &dyn std::fmt::Display,
            &dyn std::fmt::Display,
        ); 5] = [
            (
                "state root",
                expected.state_root == header.state_root,
                &header.state_root,
                &expected.state_root,
            ),
            (
                "transactions root",
                expected.transactions_root == header.transactions_root,
                &header.transactions_root,
                &expected.transactions_root,
            ),
            (
                "receipts root",
                expected.receipts_root == header.receipts_root,
                &header.receipts_root,
                &expected.receipts_root,
            ),
            (
                "gas used",
                expected.gas_used == header.gas_used,
                &header.gas_used,
                &expected.gas_used,
            ),
            (
                "logs bloom",
                expected.logs_bloom == header.logs_bloom,
                &header.logs_bloom,
                &expected.logs_bloom,
            ),
        ];
        if let Some((field, _, in_header, computed)) = fields.iter().find(|(_, same, ..)| !same) {
            return mismatch(field, in_header.to_string(), computed.to_string());
        }
        if bft_block_hash(mode, &expected).ok() != Some(hash) {
            return mismatch(
                "header",
                hash.to_string(),
                "a header with other fields".into(),
            );
        }
        self.validated.insert(
            hash,
            Validated {
                transactions,
                executed,
                storage_roots,
            },
        );
        Ok(())
    }

    /// Imports a decided block: state, chain, store, pool, subscribers.
    fn commit(&mut self, block: &BftBlock) -> Result<(), Error> {
        let mode = self.shared.mode;
        let hash = bft_block_hash(mode, &block.header)
            .map_err(|e| Error::InvalidRequest(format!("block {}: {e}", block.number())))?;
        if !self.validated.contains_key(&hash) {
            // Decided by a quorum: the permissions of its time applied.
            self.validate(block, Proposed::No)?;
        }
        let validated = self.validated.remove(&hash).expect("validated above");
        let sealed = Arc::new(SealedBlock::with_hash(
            block.header.clone(),
            hash,
            validated.transactions,
        ));
        let shared = self.shared.clone();
        {
            let mut chain = shared.chain.write().expect("chain lock");
            let reverse = chain
                .world_mut()
                .apply_with_roots(&validated.executed.changes, &validated.storage_roots);
            if let Some(store) = &shared.store {
                let receipts = validated.executed.receipts();
                if let Err(error) =
                    store.write_block(&sealed, receipts, &validated.executed.changes, &reverse)
                {
                    chain.world_mut().revert(&reverse);
                    return Err(error.into());
                }
            }
            chain.append(sealed.clone(), &validated.executed, reverse);
        }
        let senders: Vec<Address> = sealed.transactions.iter().map(|t| t.sender).collect();
        {
            let chain = shared.chain.read().expect("chain lock");
            let state = chain.latest_state();
            shared
                .pool
                .lock()
                .expect("pool lock")
                .prune(senders, |a| state.nonce(a));
        }
        shared
            .metrics
            .blocks_committed
            .fetch_add(1, Ordering::Relaxed);
        shared
            .metrics
            .transactions_committed
            .fetch_add(sealed.transactions.len() as u64, Ordering::Relaxed);
        let _ = shared.new_blocks.send(sealed);
        Ok(())
    }

    /// Imports committed blocks received from a peer (a regular node's only
    /// way to follow the chain, and a validator's way to catch up).
    fn on_synced_blocks(
        &mut self,
        now_ms: u64,
        from: usize,
        blocks: Vec<BftBlock>,
        effects: &mut Vec<Effect>,
    ) {
        let head = self.shared.chain.read().expect("chain lock").head_number();
        let mut far_ahead = false;
        for block in blocks {
            // Beyond one answer's reach it cannot be a block this node asked
            // for: dropped, so no peer can make it hold blocks without bound;
            // the blocks up to it are asked for below, one answer at a time.
            self.highest_announced = self.highest_announced.max(block.number());
            far_ahead |= block.number() > head + SYNC_WINDOW;
            if block.number() > head && block.number() <= head + SYNC_WINDOW {
                self.future_blocks.insert(block.number(), block);
            }
        }
        let mut imported = false;
        loop {
            let next = self.shared.chain.read().expect("chain lock").head_number() + 1;
            self.future_blocks.retain(|n, _| *n >= next);
            let Some(block) = self.future_blocks.remove(&next) else {
                break;
            };
            let validators = self.engine.history().next_validators().to_vec();
            if let Err(error) = verify_committed_seals(self.shared.mode, &block.header, &validators)
            {
                tracing::warn!(node = self.shared.index, number = next, %error, "synced block has bad seals");
                self.shared
                    .metrics
                    .blocks_rejected
                    .fetch_add(1, Ordering::Relaxed);
                break;
            }
            if let Err(error) = self.commit(&block) {
                tracing::warn!(node = self.shared.index, number = next, %error, "synced block rejected");
                self.shared
                    .metrics
                    .blocks_rejected
                    .fetch_add(1, Ordering::Relaxed);
                break;
            }
            imported = true;
            let outputs = self
                .engine
                .handle(now_ms, Input::NewChainHead(block.header));
            self.validated.clear();
            self.run(now_ms, outputs, effects);
        }
        let next = self.shared.chain.read().expect("chain lock").head_number() + 1;
        // Still behind what a peer has: ask for the next answer's worth.
        // Not after a block that failed to import, which asking the same
        // peer again would only repeat (a round timeout asks everyone).
        let progressed = imported || far_ahead || !self.future_blocks.is_empty();
        if progressed && next <= self.highest_announced {
            effects.push(Effect::Send {
                to: Some(from),
                message: NetMessage::GetBlocks { from: next },
            });
        }
        if imported && self.has_ready_transactions() {
            self.step(now_ms, Input::TransactionsPending, effects);
        }
    }
}

/// Most blocks a `GetBlocks` answer holds, and how far above its head a
/// node keeps blocks from peers: a node asks for the blocks after its head,
/// so an honest answer or announcement always fits, and a node holds at
/// most this many blocks it cannot import yet. (Besu keeps announced blocks
/// up to 30 ahead, `--Xsynchronizer-block-propagation-range`; forja's
/// answers come in batches of this size.)
pub const SYNC_WINDOW: u64 = 64;

/// Besu's BFT header rule for the gas limit (`GasLimitRangeAndDeltaValidationRule`
/// with 5000 and `i64::MAX`), for every block; and, for a proposal, the
/// chain spec's limit, the only one an honest forja proposer builds with (a
/// gas limit only changes with the network definition, so Besu's 1/1024
/// step toward `--target-gas-limit` does not apply).
fn check_gas_limit(spec: &ChainSpec, header: &Header, proposed: Proposed) -> Result<(), Error> {
    const MIN_GAS_LIMIT: u64 = 5000;
    let in_range = (MIN_GAS_LIMIT..=i64::MAX as u64).contains(&header.gas_limit);
    if !in_range || (proposed == Proposed::Yes && header.gas_limit != spec.block_gas_limit) {
        return Err(BlockError::GasLimit {
            number: header.number,
            gas_limit: header.gas_limit,
            allowed: if in_range {
                format!("the chain spec's block gas limit {}", spec.block_gas_limit)
            } else {
                format!("from {MIN_GAS_LIMIT} to {} (Besu's range)", i64::MAX)
            },
        }
        .into());
    }
    Ok(())
}

/// A consensus engine for the node's current head, its validator history
/// replayed from the last epoch boundary (where votes reset and the header
/// lists the validators), or from genesis when epochs never end. Only
/// headers are read, never block bodies.
fn engine_at_head(shared: &NodeShared, config: BftConfig) -> Result<Engine, Error> {
    let (history, head) = {
        let chain = shared.chain.read().expect("chain lock");
        let invalid =
            |e: &dyn std::fmt::Display| Error::InvalidRequest(format!("consensus history: {e}"));
        let head_number = chain.head_number();
        let checkpoint = match config.epoch_length {
            0 => 0,
            epoch => head_number - head_number % epoch,
        };
        let headers = chain.headers(checkpoint, head_number).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "consensus history: headers {checkpoint} to {head_number} are not all readable"
            ))
        })?;
        let mut history =
            ValidatorHistory::from_genesis(config.mode, &headers[0], config.epoch_length)
                .map_err(|e| invalid(&e))?
                .with_overrides(&config.validator_overrides);
        for header in &headers[1..] {
            history.import(header).map_err(|e| invalid(&e))?;
        }
        (history, chain.head().header.clone())
    };
    Engine::new(config, shared.key.signer.clone(), history, head)
        .map_err(|e| Error::InvalidRequest(format!("consensus engine: {e}")))
}

impl NodeCore {
    /// Whether the pool holds a transaction the next block can include. A
    /// transaction waiting for a nonce gap to close must not start rounds:
    /// with block period 0 each would commit an empty block, without end.
    fn has_ready_transactions(&self) -> bool {
        let chain = self.shared.chain.read().expect("chain lock");
        let state = chain.latest_state();
        let pool = self.shared.pool.lock().expect("pool lock");
        !pool.is_empty() && !pool.ready(|a| state.nonce(a), 1).is_empty()
    }

    /// Replaces the consensus engine with a fresh one at the chain's current
    /// head, after the chain was wound back (dev `revert`): the next height
    /// is head + 1 at round 0, with the validators and vote tallies as of
    /// the head. Everything kept for the abandoned heights (validated
    /// blocks, synced blocks ahead, messages parked in the old engine) is
    /// dropped; this node's queued validator votes are kept. Call
    /// [`NodeCore::start`] next, once no message of the abandoned heights
    /// can arrive any more.
    pub(crate) fn reset_to_head(&mut self) -> Result<(), Error> {
        let mut engine = engine_at_head(&self.shared, self.engine.config().clone())?;
        for (address, add) in self.engine.pending_votes() {
            engine.propose_vote(address, add);
        }
        self.engine = engine;
        self.round_changes_counted = 0;
        self.highest_announced = 0;
        self.validated.clear();
        self.future_blocks.clear();
        self.seen = SeenMessages::new(self.engine.config().duplicate_message_limit);
        self.publish_consensus_view();
        Ok(())
    }
}

/// The validators recorded in a header's extraData.
pub(crate) fn header_validators(mode: BftMode, header: &Header) -> Vec<Address> {
    BftExtraData::from_header(mode, header)
        .map(|extra| extra.validators)
        .unwrap_or_default()
}
