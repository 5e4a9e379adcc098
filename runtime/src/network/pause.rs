//! The rendezvous of a dev revert with every node's thread: the revert
//! (the dev controls) parks every node, winds the chains back, and lets
//! them go once each has reset; a node's driver parks and reports back.
//! Both sides use this type and know nothing of each other.

use std::{
    sync::{Condvar, Mutex},
    time::Instant,
};

/// The rendezvous of a revert with every node's thread. A node's driver
/// calls [`Pause::park`] when the pause reaches it and, if the chains were
/// wound back, [`Pause::restarted`] once it has dropped what was in flight
/// and reset its engine.
#[derive(Debug)]
pub(crate) struct Pause {
    nodes: usize,
    state: Mutex<PauseState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct PauseState {
    parked: usize,
    restarted: usize,
    phase: PausePhase,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum PausePhase {
    /// Waiting for every node to park.
    #[default]
    Parking,
    /// The chains were wound back: nodes drop what was in flight and reset.
    Rewound,
    /// Every node has reset: consensus may resume.
    Go,
    /// Given up before anything changed: nodes carry on as they were.
    Abandoned,
}

impl Pause {
    pub(crate) fn new(nodes: usize) -> Self {
        Self {
            nodes,
            state: Mutex::new(PauseState::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PauseState> {
        self.state.lock().expect("pause lock")
    }

    /// Blocks the calling node thread until the revert decides; true when
    /// its chain was wound back.
    pub(crate) fn park(&self) -> bool {
        let mut state = self.lock();
        state.parked += 1;
        self.changed.notify_all();
        while state.phase == PausePhase::Parking {
            state = self.changed.wait(state).expect("pause lock");
        }
        matches!(state.phase, PausePhase::Rewound | PausePhase::Go)
    }

    /// Reports this node ready and blocks until every node is.
    pub(crate) fn restarted(&self) {
        let mut state = self.lock();
        state.restarted += 1;
        self.changed.notify_all();
        while state.phase == PausePhase::Rewound {
            state = self.changed.wait(state).expect("pause lock");
        }
    }

    /// Gives up if nothing was changed yet; nodes carry on as they were.
    pub(crate) fn abandon(&self) {
        let mut state = self.lock();
        if state.phase == PausePhase::Parking {
            state.phase = PausePhase::Abandoned;
            self.changed.notify_all();
        }
    }

    /// Every node parked and the chains were wound back: nodes drop what
    /// was in flight, reset, and report [`Pause::restarted`].
    pub(crate) fn rewound(&self) {
        self.set_phase(PausePhase::Rewound);
    }

    /// Every node reset (or the wait gave up): consensus resumes.
    pub(crate) fn resume(&self) {
        self.set_phase(PausePhase::Go);
    }

    /// Waits until every node parked; false at the deadline.
    pub(crate) fn wait_parked(&self, deadline: Instant) -> bool {
        self.wait_for_all(|s| s.parked, deadline)
    }

    /// Waits until every node reported itself restarted; false at the deadline.
    pub(crate) fn wait_restarted(&self, deadline: Instant) -> bool {
        self.wait_for_all(|s| s.restarted, deadline)
    }

    fn set_phase(&self, phase: PausePhase) {
        self.lock().phase = phase;
        self.changed.notify_all();
    }

    /// Waits until `count` reaches every node; false at the deadline.
    fn wait_for_all(&self, count: fn(&PauseState) -> usize, deadline: Instant) -> bool {
        let mut state = self.lock();
        while count(&state) < self.nodes {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .expect("pause lock")
                .0;
        }
        true
    }
}
