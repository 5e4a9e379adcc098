//! Where a process's block time goes: wall time summed over every node of
//! the process, per phase of a block's life (executing it, computing its
//! state root, applying it to the state, writing it to the store and
//! committing that write). The soak bench prints the difference between two
//! [`phase_times`] per window, which is how a phase that grows with history
//! shows itself. Two clock reads and a relaxed add per phase and block.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

#[derive(Clone, Copy)]
pub(crate) enum Phase {
    /// `execution::execute_block` (building or importing a block).
    Execution,
    /// `WorldState::preview_root`.
    StateRoot,
    /// `WorldState::apply` (applying a committed block to the state).
    Apply,
    /// Inserting a block's entries in the store's write transaction.
    StoreWrite,
    /// Committing that transaction (redb's commit, with its fsync when durable).
    StoreCommit,
    /// Of `StoreWrite`: the transaction index (inserts and compaction).
    StoreIndex,
    /// Of `StoreWrite`: the reverse diff (and pruning old ones).
    StoreHistory,
    /// Of `StoreWrite`: the latest state's accounts, storage and code.
    StoreState,
}

const PHASES: usize = 8;
static NANOS: [AtomicU64; PHASES] = [const { AtomicU64::new(0) }; PHASES];
static COUNTS: [AtomicU64; PHASES] = [const { AtomicU64::new(0) }; PHASES];

/// Adds the time from its creation to its drop to `phase`.
pub(crate) struct Timed {
    phase: Phase,
    started: Instant,
}

impl Timed {
    pub(crate) fn start(phase: Phase) -> Self {
        Self {
            phase,
            started: Instant::now(),
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        let nanos = self.started.elapsed().as_nanos() as u64;
        NANOS[self.phase as usize].fetch_add(nanos, Ordering::Relaxed);
        COUNTS[self.phase as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// Time spent so far in each phase, summed over the process's nodes and
/// threads, and how many times each ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    pub execution: Duration,
    pub state_root: Duration,
    pub apply: Duration,
    pub store_write: Duration,
    pub store_commit: Duration,
    /// Parts of `store_write`: the transaction index, the reverse diff, the state.
    pub store_index: Duration,
    pub store_history: Duration,
    pub store_state: Duration,
    /// Blocks executed (built or imported; a node executes each block once).
    pub executions: u64,
    /// Store commits.
    pub commits: u64,
}

impl PhaseTimes {
    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &PhaseTimes) -> PhaseTimes {
        PhaseTimes {
            execution: self.execution.saturating_sub(earlier.execution),
            state_root: self.state_root.saturating_sub(earlier.state_root),
            apply: self.apply.saturating_sub(earlier.apply),
            store_write: self.store_write.saturating_sub(earlier.store_write),
            store_commit: self.store_commit.saturating_sub(earlier.store_commit),
            store_index: self.store_index.saturating_sub(earlier.store_index),
            store_history: self.store_history.saturating_sub(earlier.store_history),
            store_state: self.store_state.saturating_sub(earlier.store_state),
            executions: self.executions.saturating_sub(earlier.executions),
            commits: self.commits.saturating_sub(earlier.commits),
        }
    }
}

/// The process's totals since it started.
pub fn phase_times() -> PhaseTimes {
    let time = |phase: Phase| Duration::from_nanos(NANOS[phase as usize].load(Ordering::Relaxed));
    let count = |phase: Phase| COUNTS[phase as usize].load(Ordering::Relaxed);
    PhaseTimes {
        execution: time(Phase::Execution),
        state_root: time(Phase::StateRoot),
        apply: time(Phase::Apply),
        store_write: time(Phase::StoreWrite),
        store_commit: time(Phase::StoreCommit),
        store_index: time(Phase::StoreIndex),
        store_history: time(Phase::StoreHistory),
        store_state: time(Phase::StoreState),
        executions: count(Phase::Execution),
        commits: count(Phase::StoreCommit),
    }
}
