//! QBFT and IBFT 2.0 consensus (as Hyperledger Besu implements them) as a
//! pure state machine.
//!
//! # The state machine
//!
//! One [`Engine`] per node. It owns no socket, clock, thread or random
//! source: the host (forja's runtime, or the [`sim`] simulator) feeds it
//! [`Input`]s together with the current time in milliseconds and carries out
//! the [`Output`]s it returns, in order. Given the same inputs it returns the
//! same outputs, which is what makes a seeded simulation replayable.
//!
//! Per height `h` (the block after the chain head) the engine runs rounds
//! `0, 1, …`:
//!
//! 1. **Start.** On a new head the engine sets [`TimerId::Block`] to fire at
//!    `parent.timestamp + block period`. When it fires (or, with block period
//!    0, on [`Input::TransactionsPending`]) round 0 starts: the round timer
//!    is set (`request timeout · 2^round`) and the round's proposer — Besu's
//!    round robin from the parent's proposer, see [`select_proposer`] — asks
//!    the host to build a block ([`Output::BuildBlock`] →
//!    [`Input::BlockBuilt`]).
//! 2. **Proposal.** The proposer broadcasts a [`Proposal`]. Receivers check
//!    the author, the header (number, parent, beneficiary, extraData
//!    validators/round/vote, timestamp) and, in rounds above 0, the
//!    round-change justification; then ask the host to execute the block
//!    ([`Output::ValidateBlock`] → [`Input::BlockValidated`]).
//! 3. **Prepare.** A validator that accepts the proposal broadcasts a Prepare
//!    (in IBFT 2.0 the proposal counts as the proposer's prepare).
//! 4. **Commit.** With a quorum (`ceil(2n/3)`, [`quorum`]) of prepares the
//!    validator is *prepared*: it remembers the block and the prepares as a
//!    [`PreparedCertificate`] and broadcasts a Commit carrying its committed
//!    seal (a signature over [`committed_seal_hash`] of the header with this
//!    round in its extraData).
//! 5. **Decision.** With a quorum of commits the engine emits
//!    [`Output::CommitBlock`] with the seals written into extraData. The host
//!    imports it and reports [`Input::NewChainHead`]; the next height starts.
//! 6. **Round change.** When the round timer fires the validator moves to
//!    round `r + 1` and broadcasts a [`RoundChange`] carrying its latest
//!    prepared block and certificate. `f + 1` round changes for later rounds
//!    pull a node forward; a quorum of them lets the new round's proposer
//!    propose, re-proposing the block of the highest prepared round if any
//!    (safety: a committed block was prepared by a quorum, so every quorum of
//!    round changes reports it).
//!
//! Messages for later heights (up to
//! [`BftConfig::future_messages_max_distance`]) and later rounds (up to 64
//! ahead) are parked, one per author, kind and round, at most
//! [`BftConfig::future_messages_limit`] in all (Besu's names and defaults),
//! and replayed when the engine gets there. A proposal whose timestamp is
//! more than [`MAX_CLOCK_DRIFT_SECONDS`] ahead of the engine's clock is
//! refused, as Besu's header rules do. A quorum of round changes for a later
//! round moves a node there; `f + 1` do only with
//! [`BftConfig::early_round_change`] in QBFT, as in Besu. Commit seals are checked (one signature recovery each)
//! only once a quorum of commits is in, and only as many as the quorum needs;
//! a commit with a forged seal is dropped and reported as
//! [`Rejection::BadSeal`]. [`Engine::last_rejection`] says why the last
//! refused message was refused.
//!
//! The engine assumes a broadcast reaches every validator eventually. On a
//! lossy transport the host should relay each message the first time it sees
//! it, as Besu's gossiper does (the [`sim`] does when `gossip` is on);
//! blocks a node missed come through block sync, not through consensus.
//!
//! # Call sequence for a host
//!
//! ```text
//! history = ValidatorHistory::from_genesis(mode, &genesis, epoch)?; history.import(&h) for each later header
//! engine  = Engine::new(config, signer, history, head_header)?;  outputs = engine.start(now_ms)
//! loop: outputs = engine.handle(now_ms, input)  // then for each output, in order:
//!   Broadcast(m)      → send m.encode() to the other validators; they feed Input::Message(bytes)
//!   SetTimer{id, ms}  → later, Input::Timer(id);   CancelTimer(id) → drop it (optional)
//!   BuildBlock(req)   → build a block with req's header fields → Input::BlockBuilt(block)
//!   ValidateBlock(b)  → execute b on its parent → Input::BlockValidated{hash: b.hash(mode), valid}
//!   CommitBlock(b)    → import b (atomically) → Input::NewChainHead(b.header)
//! blocks synced from peers: verify_committed_seals(mode, &header, validators_at(n)), import,
//!   then Input::NewChainHead(header), one per block, in order
//! after every NewChainHead, if the pool is not empty: Input::TransactionsPending
//! ```
//!
//! The chain's block hash for BFT blocks is [`bft_block_hash`] (Besu's:
//! seals and round excluded), and `parent_hash` of a block is its parent's
//! BFT hash.
//!
//! # Validators
//!
//! Block headers carry the validator list and an optional [`Vote`]. The
//! validators of block `N` are the tally after block `N - 1`
//! ([`ValidatorHistory`], [`VoteTally`]): a vote passes when more than half
//! of the validators cast it; epoch blocks discard pending votes. A node
//! queues its own votes with [`Engine::propose_vote`].
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod config;
mod engine;
mod extra_data;
mod messages;
pub mod sim;
mod validators;

pub use config::{BftConfig, Transition};
pub use engine::{
    BuildRequest, Engine, EngineError, Input, MAX_CLOCK_DRIFT_SECONDS, Output, Rejection, TimerId,
};
pub use extra_data::{
    BFT_MIX_HASH, BftExtraData, BftMode, EXTRA_VANITY_LENGTH, ExtraDataError, Vote, bft_block_hash,
    committed_seal_hash, recover_committers, verify_committed_seals,
};
pub use messages::{
    BftBlock, Message, MessageError, Payload, PreparedCertificate, PreparedRound, Proposal,
    RoundChange, RoundId, SignedPayload, sign_committed_seal,
};
pub use validators::{
    HistoryError, ValidatorHistory, VoteTally, max_faulty, quorum, select_proposer,
};
