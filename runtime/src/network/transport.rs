//! The real-time driver's in-process links: one channel per node, and
//! what travels on them.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicUsize, Ordering},
    mpsc::Sender,
};

use alloy::primitives::B512;

use super::pause::Pause;
use crate::node::{CoreEvent, NetMessage};

#[allow(clippy::large_enum_variant)] // see NetMessage
pub(crate) enum Envelope {
    Event(CoreEvent),
    Shutdown,
    /// A dev `revert` asks the node to stop between events (see [`Pause`]).
    Pause(Arc<Pause>),
    /// A node joined the network (`Network::add_node`): its id, at the
    /// next index.
    PeerJoined(B512),
    /// The node allowlists grew: a peer that was refused may be heard now,
    /// so ask the peers for blocks (as a Besu node syncs once a connection
    /// it was refused comes up).
    Resync,
}

/// The in-process links between nodes: one per node, by index. The list
/// only grows ([`Network::add_node`]); a sender takes a snapshot (one
/// `Arc` clone under a read lock) per batch of effects, so sending stays
/// cheap and a node joining never waits for a sender.
pub(crate) struct Transport {
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
pub(crate) struct Link {
    pub(crate) sender: Sender<Envelope>,
    pub(crate) node_id: B512,
    queued_consensus: AtomicUsize,
}

impl Link {
    pub(super) fn new(sender: Sender<Envelope>, node_id: B512) -> Self {
        Self {
            sender,
            node_id,
            queued_consensus: AtomicUsize::new(0),
        }
    }

    /// `envelope` left this link's channel.
    pub(super) fn taken(&self, envelope: &Envelope) {
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
    pub(super) fn new(links: Vec<Arc<Link>>, consensus_queue_limit: usize) -> Self {
        Self {
            links: RwLock::new(Arc::new(links)),
            consensus_queue_limit,
        }
    }

    pub(crate) fn links(&self) -> Arc<Vec<Arc<Link>>> {
        self.links.read().expect("links lock").clone()
    }

    pub(super) fn push(&self, link: Arc<Link>) {
        let mut links = self.links.write().expect("links lock");
        let mut grown = Vec::clone(&links);
        grown.push(link);
        *links = Arc::new(grown);
    }

    /// Sends `message` to `peer` unless its queue of consensus messages is full.
    pub(super) fn send(&self, peer: usize, link: &Link, from: usize, message: NetMessage) {
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use alloy::primitives::Bytes;

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
