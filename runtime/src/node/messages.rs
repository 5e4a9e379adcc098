//! What goes in and out of a node's core: messages between nodes, events
//! from its own API handles, and the effects the driver carries out.

use alloy::primitives::{Address, Bytes};
use forja_consensus::{BftBlock, TimerId};

use crate::block::TxRef;

/// Messages between nodes.
// Messages carry a block header inline (~800 bytes); they are moved a
// few times per hop, so boxing would only add an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum NetMessage {
    /// An encoded consensus message.
    Consensus(Bytes),
    /// Transactions gossiped from a pool (senders already recovered where
    /// they entered the network).
    Transactions(Vec<TxRef>),
    /// A committed block (with seals), announced after commit.
    NewBlock(BftBlock),
    /// Ask for committed blocks from this number on.
    GetBlocks { from: u64 },
    /// Committed blocks, in order.
    Blocks(Vec<BftBlock>),
}

/// Events from the node's own API handles.
#[derive(Clone, Debug)]
pub enum LocalEvent {
    /// Transactions entered this node's pool and must be gossiped.
    TransactionsAdded(Vec<TxRef>),
    /// Dev `mine`: start a round for block `height` even with an empty
    /// pool. The height is part of the request so a node that has already
    /// committed that block (another node proposed it first) does not take
    /// the request for the next height and propose an extra block.
    BlockRequested { height: u64 },
    /// Propose (`Some(add)`) or discard (`None`) a validator vote.
    Vote { address: Address, add: Option<bool> },
}

/// What the driver must do for the core.
#[allow(clippy::large_enum_variant)] // see NetMessage
#[derive(Clone, Debug)]
pub(crate) enum Effect {
    /// Send to one peer (`Some(index)`) or to every peer (`None`).
    Send {
        to: Option<usize>,
        message: NetMessage,
    },
    /// Deliver [`CoreEvent::Timer`] after `after_ms`.
    SetTimer { id: TimerId, after_ms: u64 },
}

/// Inputs of the core.
#[allow(clippy::large_enum_variant)] // see NetMessage
#[derive(Clone, Debug)]
pub(crate) enum CoreEvent {
    Net { from: usize, message: NetMessage },
    Timer(TimerId),
    Local(LocalEvent),
}
