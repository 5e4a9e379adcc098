//! The dev controls' state shared by every node of one network:
//! impersonations, snapshots, and the lock that runs controls (and
//! membership changes) one at a time.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Mutex, atomic::AtomicU64},
};

use alloy::primitives::Address;

use crate::chain::ChainPoint;

/// Dev-control state shared by every node of one network.
#[derive(Debug, Default)]
pub(crate) struct DevState {
    pub(crate) impersonated: Mutex<HashSet<Address>>,
    /// Live snapshots by id.
    pub(crate) snapshots: Mutex<BTreeMap<u64, Snapshot>>,
    /// The last snapshot id handed out; ids start at 1 and never repeat.
    pub(crate) last_snapshot_id: AtomicU64,
    /// Held by controls that wait for or stop the network (mine, state
    /// patches, snapshot, revert), so they never interleave.
    control: Mutex<()>,
}

impl DevState {
    /// Held while a control waits for or stops the network, and while a
    /// node joins it (a revert counts the nodes it parks).
    pub(crate) fn control(&self) -> std::sync::MutexGuard<'_, ()> {
        self.control.lock().expect("dev control lock")
    }
}

/// What `evm_revert` restores: the chain (as every node has it) and the
/// clock offset, as Hardhat restores its time offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    pub(crate) point: ChainPoint,
    pub(crate) clock_offset_ms: i64,
}
