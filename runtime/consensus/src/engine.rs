//! The per-node consensus state machine.

use std::collections::{BTreeMap, BTreeSet};

use alloy::consensus::Header;
use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::local::PrivateKeySigner;

use crate::config::BftConfig;
use crate::extra_data::{
    BFT_MIX_HASH, BftExtraData, BftMode, Vote, bft_block_hash, committed_seal_hash,
};
use crate::messages::{
    BftBlock, Message, Payload, PreparedCertificate, PreparedRound, Proposal, RoundChange, RoundId,
    SignedPayload, sign_committed_seal,
};
use crate::validators::{
    ValidatorHistory, distinct_validators, max_faulty, quorum, select_proposer,
};

/// A timer the engine asks the host to run. Timers carry the height/round
/// they were set for; an expiry that no longer matches the engine's state is
/// ignored, so cancelling is an optimisation, not a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerId {
    /// The block period for `height` has elapsed since the parent's timestamp:
    /// round 0 starts.
    Block {
        /// Height the timer belongs to.
        height: u64,
    },
    /// The round timed out: move to the next round.
    Round(RoundId),
}

/// What the host feeds the engine.
#[derive(Debug, Clone)]
pub enum Input {
    /// A consensus message from a peer, as received (encoded bytes).
    Message(Bytes),
    /// A timer set through [`Output::SetTimer`] expired.
    Timer(TimerId),
    /// Answer to [`Output::BuildBlock`]: the block the chain built.
    BlockBuilt(BftBlock),
    /// Answer to [`Output::ValidateBlock`]: whether the block (by its BFT
    /// hash) executes correctly on its parent.
    BlockValidated {
        /// [`crate::bft_block_hash`] of the validated block.
        hash: B256,
        /// Whether it is valid.
        valid: bool,
    },
    /// A block was imported into the chain (committed here or synced from a
    /// peer). Send one per block, in order.
    NewChainHead(Header),
    /// The transaction pool is not empty (matters with block period 0).
    TransactionsPending,
}

/// What the engine asks the host to do, in order.
// Outputs live only until the host acts on them; boxing the message would
// only add an allocation per broadcast.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send the message to every other validator. (The engine has already
    /// processed it itself.)
    Broadcast(Message),
    /// Call back with [`Input::Timer`] after `after_ms` milliseconds.
    SetTimer {
        /// Which timer.
        id: TimerId,
        /// Delay from now.
        after_ms: u64,
    },
    /// The timer is no longer needed.
    CancelTimer(TimerId),
    /// Build a block on `parent_hash` with these header fields; answer with
    /// [`Input::BlockBuilt`].
    BuildBlock(BuildRequest),
    /// Execute the block on its parent; answer with [`Input::BlockValidated`].
    ValidateBlock(BftBlock),
    /// The block is decided: its extraData carries a quorum of committed
    /// seals. Import it, then send [`Input::NewChainHead`].
    CommitBlock(BftBlock),
}

/// Header fields of a block the engine wants built. The chain fills in the
/// body, state/transactions/receipts roots, gas and bloom; it must set the
/// fields below exactly, `difficulty` 1, `mix_hash` [`BFT_MIX_HASH`], nonce 0
/// and no ommers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// Block number.
    pub height: u64,
    /// Round the block is proposed in.
    pub round: u32,
    /// BFT hash of the parent.
    pub parent_hash: B256,
    /// Header timestamp (seconds).
    pub timestamp: u64,
    /// Header beneficiary: the proposer.
    pub beneficiary: Address,
    /// Encoded BFT extraData (validators, vote, round; no seals).
    pub extra_data: Bytes,
}

/// Why a message was not accepted (logged at debug level; exposed for tests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not decodable or signature invalid.
    #[error(transparent)]
    Malformed(#[from] crate::messages::MessageError),
    /// The author is not a validator of the height.
    #[error("{author} is not a validator at height {height}")]
    NotValidator {
        /// Author.
        author: Address,
        /// Height.
        height: u64,
    },
    /// The proposal's author is not the proposer of its round.
    #[error("proposal for {id:?} by {author}, expected proposer {expected}")]
    WrongProposer {
        /// Round.
        id: RoundId,
        /// Author.
        author: Address,
        /// Expected proposer.
        expected: Address,
    },
    /// The block does not fit the proposal or the chain.
    #[error("invalid proposed block: {0}")]
    InvalidBlock(String),
    /// The round-change justification does not hold.
    #[error("invalid justification: {0}")]
    InvalidJustification(String),
    /// A commit seal not signed by the commit's author.
    #[error("commit seal of {author} does not recover to its author")]
    BadSeal {
        /// Author.
        author: Address,
    },
    /// A message for a past height or round, a duplicate, or one too far
    /// in the future.
    #[error("stale, duplicate or too far ahead")]
    Stale,
}

/// Per-round state.
#[derive(Debug, Default)]
struct RoundState {
    proposal: Option<Proposal>,
    digest: Option<B256>,
    /// Proposal accepted (validated by the chain, or our own).
    accepted: bool,
    /// Committed-seal hash of the accepted proposal's header.
    seal_hash: Option<B256>,
    prepares: BTreeMap<Address, SignedPayload>,
    commits: BTreeMap<Address, SignedPayload>,
    /// Authors whose commit seal was checked against `seal_hash`.
    verified_seals: BTreeSet<Address>,
    sent_commit: bool,
    /// Waiting for BlockBuilt for this round.
    awaiting_build: bool,
    proposed: bool,
}

/// Per-height state.
#[derive(Debug)]
struct HeightState {
    height: u64,
    round: u32,
    validators: Vec<Address>,
    quorum: usize,
    /// Round 0 has begun (block timer fired, or work arrived).
    started: bool,
    committed: bool,
    current: RoundState,
    /// Highest round we prepared a block in at this height.
    latest_prepared: Option<(u32, BftBlock, PreparedCertificate)>,
    /// Round changes by target round, one per author.
    round_changes: BTreeMap<u32, BTreeMap<Address, RoundChange>>,
    /// Digests the chain already judged (valid or not).
    validated: BTreeMap<B256, bool>,
}

/// One node's QBFT / IBFT 2.0 engine. See the crate docs for the protocol
/// and the call sequence.
#[derive(Debug)]
pub struct Engine {
    config: BftConfig,
    signer: PrivateKeySigner,
    address: Address,
    history: ValidatorHistory,
    head: Header,
    head_hash: B256,
    pending_votes: BTreeMap<Address, bool>,
    txs_pending: bool,
    state: HeightState,
    /// Messages for later heights, and for later rounds of this height.
    future: FutureMessages,
    /// Rounds this engine moved to after round 0 (timer expiries and round
    /// changes it followed), for the host's metrics.
    round_changes: u64,
    last_rejection: Option<Rejection>,
}

/// How far ahead of a validator's clock a proposed block's timestamp may be
/// (Besu's BFT header rules: `TimestampBoundedByFutureParameter(1)`).
pub const MAX_CLOCK_DRIFT_SECONDS: u64 = 1;

/// Messages for rounds further ahead than this (of the current height, or
/// from round 0 of a later one) are dropped. With one message per author,
/// kind and round kept ([`FutureMessages`]) and one round change per author
/// and round, a validator can make this engine keep at most this many
/// round changes and twice this many prepares and commits for the current
/// height; [`BftConfig::future_messages_limit`] caps what all authors
/// together can park.
const MAX_ROUNDS_AHEAD: u32 = 64;

/// Messages parked until the engine reaches their height or round: one per
/// author, kind and round (a repeat, or a second message of the same kind
/// an author signed for the same round, is dropped, as Besu keeps one per
/// author), at most `limit` in all, the furthest ahead dropped first (as
/// Besu's `FutureMessageBuffer` evicts the highest height).
#[derive(Debug, Default)]
struct FutureMessages {
    by_round: BTreeMap<RoundId, BTreeMap<(Address, u8), Message>>,
    len: usize,
}

impl FutureMessages {
    /// Parks `message`; false when it was dropped (a repeat, or the
    /// furthest ahead with the buffer full).
    fn insert(&mut self, message: Message, limit: usize) -> bool {
        let id = message.id();
        let key = (message.author(), kind_of(&message));
        let bucket = self.by_round.entry(id).or_default();
        if bucket.contains_key(&key) {
            return false;
        }
        bucket.insert(key, message);
        self.len += 1;
        while self.len > limit {
            let Some(mut furthest) = self.by_round.last_entry() else {
                break;
            };
            furthest.get_mut().pop_last();
            if furthest.get().is_empty() {
                furthest.remove();
            }
            self.len -= 1;
        }
        self.by_round
            .get(&id)
            .is_some_and(|bucket| bucket.contains_key(&key))
    }

    /// Takes every message for a round at or before `id` (of any earlier
    /// height too), in round order.
    fn take_through(&mut self, id: RoundId) -> Vec<Message> {
        let later = match id.round.checked_add(1) {
            Some(next) => self.by_round.split_off(&RoundId::new(id.height, next)),
            None => self.by_round.split_off(&RoundId::new(id.height + 1, 0)),
        };
        let due = std::mem::replace(&mut self.by_round, later);
        let messages: Vec<Message> = due.into_values().flat_map(|b| b.into_values()).collect();
        self.len -= messages.len();
        messages
    }

    /// Drops everything for heights below `height`.
    fn discard_below(&mut self, height: u64) {
        let kept = self.by_round.split_off(&RoundId::new(height, 0));
        let dropped: usize = self.by_round.values().map(BTreeMap::len).sum();
        self.by_round = kept;
        self.len -= dropped;
    }
}

fn kind_of(message: &Message) -> u8 {
    match message {
        Message::Proposal(_) => 0,
        Message::Prepare(_) => 1,
        Message::Commit(_) => 2,
        Message::RoundChange(_) => 3,
    }
}

/// Errors creating an engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The head is not the history's last block.
    #[error("chain head is block {head}, the validator history ends at block {history}")]
    HeadMismatch {
        /// Head number.
        head: u64,
        /// History head.
        history: u64,
    },
    /// The head's extraData is not BFT extraData.
    #[error(transparent)]
    ExtraData(#[from] crate::extra_data::ExtraDataError),
}

impl Engine {
    /// An engine for the node holding `signer`, on a chain whose last block
    /// is `head` (already imported into `history`). Call [`Engine::start`]
    /// next.
    pub fn new(
        config: BftConfig,
        signer: PrivateKeySigner,
        history: ValidatorHistory,
        head: Header,
    ) -> Result<Self, EngineError> {
        if history.head() != head.number {
            return Err(EngineError::HeadMismatch {
                head: head.number,
                history: history.head(),
            });
        }
        let head_hash = bft_block_hash(config.mode, &head)?;
        let address = signer.address();
        let state = HeightState::new(head.number + 1, history.next_validators().to_vec());
        Ok(Self {
            config,
            signer,
            address,
            history,
            head,
            head_hash,
            pending_votes: BTreeMap::new(),
            txs_pending: false,
            state,
            future: FutureMessages::default(),
            round_changes: 0,
            last_rejection: None,
        })
    }

    /// Starts the first height (sets its block timer). `now_ms` is the
    /// host's clock.
    pub fn start(&mut self, now_ms: u64) -> Vec<Output> {
        let mut out = Vec::new();
        self.begin_height(now_ms, &mut out);
        out
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, now_ms: u64, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Message(bytes) => match Message::decode(&bytes) {
                Ok(message) => self.on_message(now_ms, message, &mut out),
                Err(e) => self.reject(e.into()),
            },
            Input::Timer(id) => self.on_timer(now_ms, id, &mut out),
            Input::BlockBuilt(block) => self.on_block_built(now_ms, block, &mut out),
            Input::BlockValidated { hash, valid } => {
                self.on_block_validated(now_ms, hash, valid, &mut out)
            }
            Input::NewChainHead(header) => self.on_new_head(now_ms, header, &mut out),
            Input::TransactionsPending => {
                self.txs_pending = true;
                if self.config.block_period_seconds_at(self.state.height) == 0
                    && !self.state.started
                {
                    self.start_round_zero(now_ms, &mut out);
                }
            }
        }
        out
    }

    /// Feeds an already decoded message (the simulator and tests use this to
    /// skip a decode; authors were recovered when it was built).
    pub fn handle_message(&mut self, now_ms: u64, message: Message) -> Vec<Output> {
        let mut out = Vec::new();
        self.on_message(now_ms, message, &mut out);
        out
    }

    // ---- queries and votes ----

    /// This node's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Configuration.
    pub fn config(&self) -> &BftConfig {
        &self.config
    }

    /// Height being decided and its current round.
    pub fn current_round(&self) -> RoundId {
        RoundId::new(self.state.height, self.state.round)
    }

    /// Validators of the height being decided.
    pub fn validators(&self) -> &[Address] {
        &self.state.validators
    }

    /// Whether this node is a validator of the current height.
    pub fn is_validator(&self) -> bool {
        self.state.validators.contains(&self.address)
    }

    /// Validator sets per block, and pending tallied votes.
    pub fn history(&self) -> &ValidatorHistory {
        &self.history
    }

    /// The last imported block's header.
    pub fn head(&self) -> &Header {
        &self.head
    }

    /// Proposer of `round` at the current height.
    pub fn proposer(&self, round: u32) -> Address {
        select_proposer(&self.state.validators, self.head.beneficiary, round)
    }

    /// Messages parked for later heights and rounds (at most
    /// [`BftConfig::future_messages_limit`]).
    pub fn future_messages(&self) -> usize {
        self.future.len
    }

    /// Round changes for rounds after the current one held at this height
    /// (at most one per validator and round, 64 rounds ahead).
    pub fn future_round_changes(&self) -> usize {
        self.state
            .round_changes
            .range(self.state.round + 1..)
            .map(|(_, by_author)| by_author.len())
            .sum()
    }

    /// How many times this engine moved to a later round of a height
    /// (a round timed out, or it followed other validators there). Besu's
    /// round-change count; a timer that fires for a round already left is
    /// not one.
    pub fn round_changes(&self) -> u64 {
        self.round_changes
    }

    /// Why the last rejected message was rejected.
    pub fn last_rejection(&self) -> Option<&Rejection> {
        self.last_rejection.as_ref()
    }

    /// Queues a vote to add (`add`) or remove `address`; this node puts it in
    /// the blocks it proposes until the vote passes or is discarded.
    pub fn propose_vote(&mut self, address: Address, add: bool) {
        self.pending_votes.insert(address, add);
    }

    /// Drops a queued vote.
    pub fn discard_vote(&mut self, address: Address) {
        self.pending_votes.remove(&address);
    }

    /// Queued votes (address, add?).
    pub fn pending_votes(&self) -> Vec<(Address, bool)> {
        self.pending_votes
            .iter()
            .map(|(a, add)| (*a, *add))
            .collect()
    }

    // ---- height lifecycle ----

    fn begin_height(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let height = self.head.number + 1;
        self.state = HeightState::new(height, self.history.next_validators().to_vec());
        // Forget buffered messages for heights we are past.
        self.future.discard_below(height);
        let period = self.config.block_period_seconds_at(height);
        if period == 0 {
            if self.txs_pending {
                self.start_round_zero(now_ms, out);
            }
        } else {
            let due_ms = (self.head.timestamp + period).saturating_mul(1000);
            out.push(Output::SetTimer {
                id: TimerId::Block { height },
                after_ms: due_ms.saturating_sub(now_ms),
            });
        }
        // Those for later rounds of this height are parked again.
        for message in self.future.take_through(RoundId::new(height, u32::MAX)) {
            self.on_message(now_ms, message, out);
        }
    }

    fn start_round_zero(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        if self.state.started || self.state.committed {
            return;
        }
        self.state.started = true;
        let id = self.current_round();
        out.push(Output::SetTimer {
            id: TimerId::Round(id),
            after_ms: self.config.round_timeout_ms(id.height, id.round),
        });
        // A proposal of ours may already be here (replayed after a restart):
        // proposing another block would equivocate.
        if id.round == 0
            && self.is_validator()
            && self.proposer(0) == self.address
            && self.state.current.proposal.is_none()
        {
            self.request_build(now_ms, out);
        }
    }

    fn on_new_head(&mut self, now_ms: u64, header: Header, out: &mut Vec<Output>) {
        if header.number <= self.head.number {
            return;
        }
        if let Err(e) = self.history.import(&header) {
            tracing::warn!(number = header.number, error = %e, "chain head not applied to the validator history");
            return;
        }
        let Ok(hash) = bft_block_hash(self.config.mode, &header) else {
            return;
        };
        let old = self.current_round();
        out.push(Output::CancelTimer(TimerId::Round(old)));
        self.head = header;
        self.head_hash = hash;
        // The pool is re-announced by the host after each block.
        self.txs_pending = false;
        self.begin_height(now_ms, out);
    }

    fn on_timer(&mut self, now_ms: u64, id: TimerId, out: &mut Vec<Output>) {
        match id {
            TimerId::Block { height } if height == self.state.height => {
                self.start_round_zero(now_ms, out)
            }
            TimerId::Round(round)
                if round == self.current_round() && self.state.started && !self.state.committed =>
            {
                self.move_to_round(now_ms, round.round + 1, out);
            }
            _ => {}
        }
    }

    // ---- proposing ----

    fn request_build(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let height = self.state.height;
        let round = self.state.round;
        let period = self.config.block_period_seconds_at(height);
        let timestamp = (self.head.timestamp + period).max(now_ms / 1000);
        let extra = BftExtraData {
            vanity: Bytes::from(vec![0u8; crate::extra_data::EXTRA_VANITY_LENGTH]),
            validators: self.state.validators.clone(),
            vote: self.choose_vote(height),
            round,
            seals: Vec::new(),
        };
        self.state.current.awaiting_build = true;
        out.push(Output::BuildBlock(BuildRequest {
            height,
            round,
            parent_hash: self.head_hash,
            timestamp,
            beneficiary: self.address,
            extra_data: extra.encode(self.config.mode),
        }));
    }

    /// A queued vote that would change the set and that this node has not
    /// already cast; none in epoch blocks.
    fn choose_vote(&self, height: u64) -> Option<Vote> {
        let epoch = self.history.epoch_length();
        if epoch != 0 && height.is_multiple_of(epoch) {
            return None;
        }
        let tally = self.history.tally();
        self.pending_votes
            .iter()
            .filter(|(subject, add)| tally.validators().contains(subject) != **add)
            .find(|(subject, add)| !tally.votes_on(**subject).contains(&(self.address, **add)))
            .map(|(subject, add)| Vote {
                recipient: *subject,
                add: *add,
            })
    }

    fn on_block_built(&mut self, now_ms: u64, block: BftBlock, out: &mut Vec<Output>) {
        let id = self.current_round();
        if !self.state.current.awaiting_build || block.number() != id.height || self.state.committed
        {
            return;
        }
        let Ok(extra) = BftExtraData::from_header(self.config.mode, &block.header) else {
            tracing::warn!(
                height = id.height,
                "built block has no BFT extraData; not proposing it"
            );
            return;
        };
        if extra.round != id.round {
            return;
        }
        self.state.current.awaiting_build = false;
        let justification = if id.round > 0 {
            self.justification_for(id.round)
        } else {
            (Vec::new(), None)
        };
        self.propose(now_ms, block, justification.0, justification.1, out);
    }

    fn propose(
        &mut self,
        now_ms: u64,
        block: BftBlock,
        round_changes: Vec<SignedPayload>,
        prepared: Option<PreparedCertificate>,
        out: &mut Vec<Output>,
    ) {
        let Ok(digest) = block.hash(self.config.mode) else {
            return;
        };
        let id = self.current_round();
        let signed = SignedPayload::sign(Payload::Proposal { id, digest }, &self.signer);
        let proposal = Proposal {
            signed,
            block,
            round_changes,
            prepared,
        };
        self.state.current.proposed = true;
        // Our own block is valid by construction.
        self.state.validated.insert(digest, true);
        let message = Message::Proposal(proposal);
        out.push(Output::Broadcast(message.clone()));
        self.on_message(now_ms, message, out);
    }

    /// Round changes for `round` and the certificate of the highest prepared
    /// round among them.
    fn justification_for(&self, round: u32) -> (Vec<SignedPayload>, Option<PreparedCertificate>) {
        let Some(changes) = self.state.round_changes.get(&round) else {
            return (Vec::new(), None);
        };
        let signed = changes.values().map(|rc| rc.signed.clone()).collect();
        let best = changes
            .values()
            .filter_map(|rc| {
                rc.prepared
                    .as_ref()
                    .map(|(_, cert)| (prepared_round_of(&rc.signed), cert))
            })
            .max_by_key(|(r, _)| *r)
            .map(|(_, cert)| cert.clone());
        (signed, best)
    }

    // ---- rounds ----

    fn move_to_round(&mut self, now_ms: u64, round: u32, out: &mut Vec<Output>) {
        if round <= self.state.round && self.state.started {
            return;
        }
        let old = self.current_round();
        out.push(Output::CancelTimer(TimerId::Round(old)));
        if round > old.round {
            self.round_changes += 1;
        }
        self.state.round = round;
        self.state.started = true;
        self.state.current = RoundState::default();
        let id = self.current_round();
        out.push(Output::SetTimer {
            id: TimerId::Round(id),
            after_ms: self.config.round_timeout_ms(id.height, round),
        });
        // Stale round-change buckets are no longer useful.
        self.state.round_changes = self.state.round_changes.split_off(&round);
        if self.is_validator() {
            let prepared = self.state.latest_prepared.as_ref().map(|(r, block, cert)| {
                (
                    PreparedRound {
                        round: *r,
                        digest: cert.proposal.payload().digest().unwrap_or_default(),
                    },
                    block,
                    cert,
                )
            });
            let signed = SignedPayload::sign(
                Payload::RoundChange {
                    id,
                    prepared: prepared.as_ref().map(|(p, _, _)| *p),
                },
                &self.signer,
            );
            let message = Message::RoundChange(RoundChange {
                signed,
                prepared: prepared.map(|(_, block, cert)| (block.clone(), cert.clone())),
            });
            out.push(Output::Broadcast(message.clone()));
            self.on_message(now_ms, message, out);
        }
        for message in self.future.take_through(id) {
            self.on_message(now_ms, message, out);
        }
    }

    // ---- messages ----

    fn reject(&mut self, rejection: Rejection) {
        tracing::debug!(%rejection, "consensus message rejected");
        self.last_rejection = Some(rejection);
    }

    fn on_message(&mut self, now_ms: u64, message: Message, out: &mut Vec<Output>) {
        let id = message.id();
        if id.height < self.state.height {
            return;
        }
        if id.height > self.state.height {
            // Its validators are not known yet: checked when replayed.
            let near = id.height - self.state.height <= self.config.future_messages_max_distance
                && id.round <= MAX_ROUNDS_AHEAD;
            if !(near
                && self
                    .future
                    .insert(message, self.config.future_messages_limit))
            {
                self.reject(Rejection::Stale);
            }
            return;
        }
        if !self.is_validator() {
            return;
        }
        let author = message.author();
        if !self.state.validators.contains(&author) {
            return self.reject(Rejection::NotValidator {
                author,
                height: id.height,
            });
        }
        if self.state.committed {
            return;
        }
        if id.round > self.state.round.saturating_add(MAX_ROUNDS_AHEAD) {
            return self.reject(Rejection::Stale);
        }
        let result = match message {
            Message::Proposal(proposal) => self.on_proposal(now_ms, proposal, out),
            Message::Prepare(prepare) => self.on_prepare(now_ms, prepare, out),
            Message::Commit(commit) => self.on_commit(now_ms, commit, out),
            Message::RoundChange(rc) => self.on_round_change(now_ms, rc, out),
        };
        if let Err(rejection) = result {
            self.reject(rejection);
        }
    }

    fn on_proposal(
        &mut self,
        now_ms: u64,
        proposal: Proposal,
        out: &mut Vec<Output>,
    ) -> Result<(), Rejection> {
        let id = proposal.signed.id();
        if id.round < self.state.round {
            return Err(Rejection::Stale);
        }
        let author = proposal.signed.author();
        let expected = self.proposer(id.round);
        if author != expected {
            return Err(Rejection::WrongProposer {
                id,
                author,
                expected,
            });
        }
        let digest = proposal.signed.payload().digest().unwrap_or_default();
        let reproposal = proposal.prepared.is_some();
        self.check_proposed_block(now_ms, &proposal.block, id, author, digest, reproposal)?;
        if id.round > 0 {
            self.check_justification(
                id.round,
                &proposal.round_changes,
                proposal.prepared.as_ref(),
                digest,
            )?;
        }
        if id.round > self.state.round {
            // A justified proposal for a later round: a quorum moved there.
            self.move_to_round(now_ms, id.round, out);
        }
        if self.state.current.proposal.is_some() {
            return Err(Rejection::Stale);
        }
        self.state.current.digest = Some(digest);
        let block = proposal.block.clone();
        self.state.current.proposal = Some(proposal);
        if !self.state.started {
            self.start_round_zero(now_ms, out);
        }
        match self.state.validated.get(&digest).copied() {
            Some(true) => self.accept_proposal(now_ms, out),
            Some(false) => {}
            None => out.push(Output::ValidateBlock(block)),
        }
        Ok(())
    }

    /// Header checks of a proposed block. A re-proposed block keeps the
    /// beneficiary of the round it was first proposed in (only its round
    /// changes, as in Besu), so there the beneficiary need only be a validator.
    fn check_proposed_block(
        &self,
        now_ms: u64,
        block: &BftBlock,
        id: RoundId,
        author: Address,
        digest: B256,
        reproposal: bool,
    ) -> Result<(), Rejection> {
        let invalid = |reason: String| Err(Rejection::InvalidBlock(reason));
        let header = &block.header;
        let mode = self.config.mode;
        if header.number != id.height {
            return invalid(format!(
                "block number {} in a proposal for height {}",
                header.number, id.height
            ));
        }
        if header.parent_hash != self.head_hash {
            return invalid(format!(
                "parent {} is not the chain head {}",
                header.parent_hash, self.head_hash
            ));
        }
        if !reproposal && header.beneficiary != author {
            return invalid(format!(
                "beneficiary {} is not the proposer {author}",
                header.beneficiary
            ));
        }
        if !self.state.validators.contains(&header.beneficiary) {
            return invalid(format!(
                "beneficiary {} is not a validator",
                header.beneficiary
            ));
        }
        if header.mix_hash != BFT_MIX_HASH || header.difficulty != alloy::primitives::U256::from(1)
        {
            return invalid("mixHash / difficulty are not BFT's".into());
        }
        let min_timestamp = self.head.timestamp + self.config.block_period_seconds_at(id.height);
        if header.timestamp < min_timestamp {
            return invalid(format!(
                "timestamp {} before parent + period {min_timestamp}",
                header.timestamp
            ));
        }
        // Besu's TimestampBoundedByFutureParameter(1): a block timer runs from
        // its parent's timestamp, so one far-future block would hold up every
        // later one. The earliest timestamp allowed is never refused, so a
        // chain whose head is ahead of this clock still goes on.
        let max_timestamp = (now_ms / 1000 + MAX_CLOCK_DRIFT_SECONDS).max(min_timestamp);
        if header.timestamp > max_timestamp {
            return invalid(format!(
                "timestamp {} is more than {MAX_CLOCK_DRIFT_SECONDS} s ahead of this node's clock ({})",
                header.timestamp,
                now_ms / 1000
            ));
        }
        let extra = BftExtraData::from_header(mode, header)
            .map_err(|e| Rejection::InvalidBlock(e.to_string()))?;
        if extra.round != id.round {
            return invalid(format!(
                "extraData round {} in a proposal for round {}",
                extra.round, id.round
            ));
        }
        if extra.validators != self.state.validators {
            return invalid("extraData validators differ from the tally".into());
        }
        if !extra.seals.is_empty() {
            return invalid("proposed block already carries committed seals".into());
        }
        let epoch = self.history.epoch_length();
        if extra.vote.is_some() && epoch != 0 && id.height.is_multiple_of(epoch) {
            return invalid("vote in an epoch block".into());
        }
        let hash =
            bft_block_hash(mode, header).map_err(|e| Rejection::InvalidBlock(e.to_string()))?;
        if hash != digest {
            return invalid(format!(
                "proposal signs digest {digest}, block hash is {hash}"
            ));
        }
        Ok(())
    }

    /// A prepared certificate is valid when its proposal is the proposer's for
    /// its round and, with the prepares for the same digest, a quorum of
    /// distinct validators endorses the digest.
    fn check_certificate(
        &self,
        cert: &PreparedCertificate,
        height: u64,
    ) -> Result<PreparedRound, Rejection> {
        let bad = |reason: &str| Err(Rejection::InvalidJustification(reason.to_string()));
        let Payload::Proposal { id, digest } = *cert.proposal.payload() else {
            return bad("certificate does not start with a proposal");
        };
        if id.height != height {
            return bad("certificate for another height");
        }
        let proposer = self.proposer(id.round);
        if cert.proposal.author() != proposer {
            return bad("certificate proposal not signed by the round's proposer");
        }
        let prepares = cert.prepares.iter().filter(|p| {
            matches!(p.payload(), Payload::Prepare { id: pid, digest: pd } if *pid == id && *pd == digest)
        });
        let endorsers = distinct_validators(
            prepares
                .map(|p| &p.author)
                .chain(std::iter::once(&proposer)),
            &self.state.validators,
        );
        if endorsers.len() < self.state.quorum {
            return bad("certificate has fewer than a quorum of prepares");
        }
        Ok(PreparedRound {
            round: id.round,
            digest,
        })
    }

    fn check_justification(
        &self,
        round: u32,
        round_changes: &[SignedPayload],
        prepared: Option<&PreparedCertificate>,
        digest: B256,
    ) -> Result<(), Rejection> {
        let bad = |reason: String| Err(Rejection::InvalidJustification(reason));
        let height = self.state.height;
        let mut authors = BTreeSet::new();
        let mut highest: Option<PreparedRound> = None;
        for rc in round_changes {
            let Payload::RoundChange { id, prepared } = *rc.payload() else {
                return bad("justification holds a message that is not a round change".into());
            };
            if id != RoundId::new(height, round) {
                return bad(format!("round change for {id:?} justifying round {round}"));
            }
            if !self.state.validators.contains(&rc.author()) {
                continue;
            }
            authors.insert(rc.author());
            if let Some(p) = prepared {
                match highest {
                    Some(h) if h.round > p.round => {}
                    Some(h) if h.round == p.round && h.digest != p.digest => {
                        return bad(format!(
                            "two different blocks prepared in round {}",
                            p.round
                        ));
                    }
                    _ => highest = Some(p),
                }
            }
        }
        if authors.len() < self.state.quorum {
            return bad(format!(
                "{} round changes, quorum is {}",
                authors.len(),
                self.state.quorum
            ));
        }
        if let Some(highest) = highest {
            let Some(cert) = prepared else {
                return bad(
                    "a round change was prepared but no certificate came with the proposal".into(),
                );
            };
            let certified = self.check_certificate(cert, height)?;
            if certified != highest {
                return bad("certificate is not for the highest prepared round".into());
            }
            if digest != highest.digest {
                return bad("proposal is not the block prepared in the highest round".into());
            }
        }
        Ok(())
    }

    fn on_block_validated(&mut self, now_ms: u64, hash: B256, valid: bool, out: &mut Vec<Output>) {
        self.state.validated.insert(hash, valid);
        if self.state.current.digest == Some(hash) && !self.state.current.accepted {
            if valid {
                self.accept_proposal(now_ms, out);
            } else {
                tracing::debug!(%hash, "proposed block invalid; waiting for the round to time out");
            }
        }
    }

    fn accept_proposal(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let id = self.current_round();
        let round = &mut self.state.current;
        let Some(proposal) = &round.proposal else {
            return;
        };
        let Ok(seal_hash) = committed_seal_hash(self.config.mode, &proposal.block.header) else {
            return;
        };
        round.accepted = true;
        round.seal_hash = Some(seal_hash);
        let author = proposal.signed.author();
        let digest = round.digest.unwrap_or_default();
        // In IBFT 2.0 the proposal stands for the proposer's prepare.
        if self.config.mode == BftMode::Qbft || author != self.address {
            let prepare = SignedPayload::sign(Payload::Prepare { id, digest }, &self.signer);
            let message = Message::Prepare(prepare);
            out.push(Output::Broadcast(message.clone()));
            self.on_message(now_ms, message, out);
        }
        self.check_prepared(now_ms, out);
        self.check_committed(out);
    }

    /// Admits a message of `round`: refused when stale, parked (`None`) for
    /// a future round until the engine gets there, returned when current.
    fn for_current_round<T>(
        &mut self,
        round: u32,
        payload: T,
        wrap: impl FnOnce(T) -> Message,
    ) -> Result<Option<T>, Rejection> {
        if round < self.state.round {
            return Err(Rejection::Stale);
        }
        if round > self.state.round {
            if !self
                .future
                .insert(wrap(payload), self.config.future_messages_limit)
            {
                return Err(Rejection::Stale);
            }
            return Ok(None);
        }
        Ok(Some(payload))
    }

    fn on_prepare(
        &mut self,
        now_ms: u64,
        prepare: SignedPayload,
        out: &mut Vec<Output>,
    ) -> Result<(), Rejection> {
        let prepare = match self.for_current_round(prepare.id().round, prepare, Message::Prepare)? {
            Some(prepare) => prepare,
            None => return Ok(()),
        };
        self.state
            .current
            .prepares
            .entry(prepare.author())
            .or_insert(prepare);
        self.check_prepared(now_ms, out);
        Ok(())
    }

    fn check_prepared(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let round = &self.state.current;
        if !round.accepted || round.sent_commit {
            return;
        }
        let Some(proposal) = &round.proposal else {
            return;
        };
        let digest = round.digest.unwrap_or_default();
        let matching: Vec<SignedPayload> = round
            .prepares
            .values()
            .filter(|p| p.payload().digest() == Some(digest))
            .cloned()
            .collect();
        let mut endorsers: BTreeSet<Address> = matching.iter().map(|p| p.author()).collect();
        if self.config.mode == BftMode::Ibft2 {
            endorsers.insert(proposal.signed.author());
        }
        if endorsers.len() < self.state.quorum {
            return;
        }
        let id = self.current_round();
        let cert = PreparedCertificate {
            proposal: proposal.signed.clone(),
            prepares: matching,
        };
        let block = proposal.block.clone();
        let Ok(seal) = sign_committed_seal(self.config.mode, &block.header, &self.signer) else {
            return;
        };
        self.state.latest_prepared = Some((id.round, block, cert));
        self.state.current.sent_commit = true;
        let commit = SignedPayload::sign(Payload::Commit { id, digest, seal }, &self.signer);
        let message = Message::Commit(commit);
        out.push(Output::Broadcast(message.clone()));
        self.on_message(now_ms, message, out);
    }

    fn on_commit(
        &mut self,
        _now_ms: u64,
        commit: SignedPayload,
        out: &mut Vec<Output>,
    ) -> Result<(), Rejection> {
        let commit = match self.for_current_round(commit.id().round, commit, Message::Commit)? {
            Some(commit) => commit,
            None => return Ok(()),
        };
        // Seals are checked once a quorum of commits is in (see `check_committed`).
        self.state
            .current
            .commits
            .entry(commit.author())
            .or_insert(commit);
        self.check_committed(out);
        Ok(())
    }

    /// With a quorum of commits for the accepted proposal, checks their
    /// seals (only as many as needed: a signature recovery each) and, with a
    /// quorum of good ones, commits. A commit with a bad seal is dropped, so
    /// its author's next commit can count.
    fn check_committed(&mut self, out: &mut Vec<Output>) {
        let quorum = self.state.quorum;
        let me = self.address;
        let round = &mut self.state.current;
        if !round.accepted || self.state.committed {
            return;
        }
        let (Some(seal_hash), Some(digest)) = (round.seal_hash, round.digest) else {
            return;
        };
        let candidates: Vec<Address> = round
            .commits
            .iter()
            .filter(|(_, c)| c.payload().digest() == Some(digest))
            .map(|(a, _)| *a)
            .collect();
        if candidates.len() < quorum {
            return;
        }
        let mut forged = Vec::new();
        for author in candidates {
            if round.verified_seals.len() >= quorum {
                break;
            }
            if round.verified_seals.contains(&author) {
                continue;
            }
            // Our own commit carries the seal we just made.
            if author == me || seal_matches(&round.commits[&author], &seal_hash) {
                round.verified_seals.insert(author);
            } else {
                round.commits.remove(&author);
                forged.push(author);
            }
        }
        let enough = round.verified_seals.len() >= quorum;
        let seals: Vec<_> = round
            .verified_seals
            .iter()
            .filter_map(|author| match round.commits[author].payload() {
                Payload::Commit { seal, .. } => Some(*seal),
                _ => None,
            })
            .collect();
        let proposal = round.proposal.clone();
        for author in forged {
            self.reject(Rejection::BadSeal { author });
        }
        let Some(proposal) = proposal.filter(|_| enough) else {
            return;
        };
        let mode = self.config.mode;
        let mut block = proposal.block.clone();
        let Ok(mut extra) = BftExtraData::from_header(mode, &block.header) else {
            return;
        };
        extra.seals = seals;
        block.header.extra_data = extra.encode(mode);
        self.state.committed = true;
        out.push(Output::CancelTimer(TimerId::Round(self.current_round())));
        out.push(Output::CommitBlock(block));
    }

    fn on_round_change(
        &mut self,
        now_ms: u64,
        rc: RoundChange,
        out: &mut Vec<Output>,
    ) -> Result<(), Rejection> {
        let id = rc.signed.id();
        if id.round < self.state.round {
            return Err(Rejection::Stale);
        }
        if id.round == 0 {
            return Err(Rejection::Stale);
        }
        let claimed = prepared_round_of(&rc.signed);
        match (&claimed, &rc.prepared) {
            (None, None) => {}
            (Some(p), Some((block, cert))) => {
                let certified = self.check_certificate(cert, id.height)?;
                if certified != *p || p.round >= id.round {
                    return Err(Rejection::InvalidJustification(
                        "round change certificate does not match".into(),
                    ));
                }
                if bft_block_hash(self.config.mode, &block.header).ok() != Some(p.digest) {
                    return Err(Rejection::InvalidJustification(
                        "prepared block does not match its digest".into(),
                    ));
                }
            }
            _ => {
                return Err(Rejection::InvalidJustification(
                    "prepared round without block or certificate".into(),
                ));
            }
        }
        let author = rc.signed.author();
        self.state
            .round_changes
            .entry(id.round)
            .or_default()
            .entry(author)
            .or_insert(rc);

        let current = self.state.round;
        if self.config.early_round_change_enabled() {
            // f + 1 validators are in later rounds: at least one honest node is, follow it.
            let mut latest_by_author: BTreeMap<Address, u32> = BTreeMap::new();
            for (round, changes) in self.state.round_changes.range(current + 1..) {
                for author in changes.keys() {
                    latest_by_author.insert(*author, *round);
                }
            }
            let mut rounds: Vec<u32> = latest_by_author.into_values().collect();
            let needed = max_faulty(self.state.validators.len()) + 1;
            if rounds.len() >= needed {
                rounds.sort_unstable_by(|a, b| b.cmp(a));
                self.move_to_round(now_ms, rounds[needed - 1], out);
            }
        } else if id.round > current
            && self.state.round_changes[&id.round].len() >= self.state.quorum
        {
            // Besu without early round change: a quorum is in a later round.
            self.move_to_round(now_ms, id.round, out);
        }
        self.try_propose_after_round_change(now_ms, out);
        Ok(())
    }

    /// As the proposer of the current round (> 0) with a quorum of round
    /// changes: re-propose the highest prepared block, or build a new one.
    fn try_propose_after_round_change(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let id = self.current_round();
        if id.round == 0
            || self.state.current.proposed
            || self.state.current.awaiting_build
            || self.proposer(id.round) != self.address
        {
            return;
        }
        let count = self
            .state
            .round_changes
            .get(&id.round)
            .map_or(0, |c| c.len());
        if count < self.state.quorum {
            return;
        }
        let best = self.state.round_changes[&id.round]
            .values()
            .filter_map(|rc| {
                rc.prepared
                    .as_ref()
                    .map(|(block, _)| (prepared_round_of(&rc.signed), block))
            })
            .max_by_key(|(r, _)| *r)
            .map(|(_, block)| block.clone());
        match best {
            Some(mut block) => {
                let mode = self.config.mode;
                let Ok(mut extra) = BftExtraData::from_header(mode, &block.header) else {
                    return;
                };
                extra.round = id.round;
                extra.seals.clear();
                block.header.extra_data = extra.encode(mode);
                let (round_changes, prepared) = self.justification_for(id.round);
                self.propose(now_ms, block, round_changes, prepared, out);
            }
            None => self.request_build(now_ms, out),
        }
    }
}

impl HeightState {
    fn new(height: u64, validators: Vec<Address>) -> Self {
        let quorum = quorum(validators.len());
        Self {
            height,
            round: 0,
            validators,
            quorum,
            started: false,
            committed: false,
            current: RoundState::default(),
            latest_prepared: None,
            round_changes: BTreeMap::new(),
            validated: BTreeMap::new(),
        }
    }
}

fn prepared_round_of(signed: &SignedPayload) -> Option<PreparedRound> {
    match signed.payload() {
        Payload::RoundChange { prepared, .. } => *prepared,
        _ => None,
    }
}

fn seal_matches(commit: &SignedPayload, seal_hash: &B256) -> bool {
    match commit.payload() {
        Payload::Commit { seal, .. } => {
            seal.recover_address_from_prehash(seal_hash).ok() == Some(commit.author())
        }
        _ => false,
    }
}
