//! The network's clock: the wall clock, moved by the dev time controls.
//! The engines stamp and check blocks with it, and calls run in the block
//! it would stamp next.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// Wall-clock milliseconds since the Unix epoch.
pub(crate) fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// One clock for every node of a network, so the proposer's timestamp and
/// the validators' checks agree.
#[derive(Debug, Default)]
pub(crate) struct NetworkClock {
    /// Added to the wall clock, in milliseconds.
    offset_ms: AtomicI64,
}

impl NetworkClock {
    /// The time the engines read, in milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> u64 {
        wall_clock_ms().saturating_add_signed(self.offset_ms())
    }

    pub(crate) fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    pub(crate) fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::SeqCst);
    }

    /// Moves the clock by `delta_ms`; returns the new offset.
    pub(crate) fn advance_ms(&self, delta_ms: i64) -> i64 {
        self.offset_ms.fetch_add(delta_ms, Ordering::SeqCst) + delta_ms
    }
}
