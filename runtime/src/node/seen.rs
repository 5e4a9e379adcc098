//! The consensus messages a node saw last (Besu's duplicate-message limit).

use std::collections::{HashSet, VecDeque};

use alloy::primitives::{B256, keccak256};

/// The consensus messages a node saw last (Besu's `MessageTracker`, sized
/// by `duplicatemessagelimit`): a message seen again is dropped before the
/// engine sees it. Besu also relays every message it sees for the first time
/// to its other peers, so a message one link lost still arrives through
/// another; this set is what stops a relayed message from circling forever.
pub(super) struct SeenMessages {
    capacity: usize,
    seen: HashSet<B256>,
    /// Insertion order of `seen`, to forget the oldest first.
    order: VecDeque<B256>,
}

impl SeenMessages {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Records `message`; false when it was seen before.
    pub(super) fn first_sight(&mut self, message: &[u8]) -> bool {
        let hash = keccak256(message);
        if !self.seen.insert(hash) {
            return false;
        }
        self.order.push_back(hash);
        if self.order.len() > self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        true
    }
}
