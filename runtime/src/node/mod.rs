//! One node: its chain, pool and permissions (shared with API handles), and
//! the core that drives its consensus engine.
//!
//! [`NodeCore`] is the node's event loop body, free of threads and clocks:
//! network messages, timer expiries and local events in, [`Effect`]s (messages
//! to send, timers to set) out. The real-time driver and the deterministic
//! simulator both run the same core.
//!
//! - `messages`: the core's inputs and outputs;
//! - `shared`: the state the core shares with the node's API handles;
//! - `core`: the core itself (build, validate, commit, sync);
//! - `seen`, `decode`: duplicate tracking and decoding shared in-process.

mod core;
mod decode;
mod messages;
mod seen;
mod shared;

pub use self::core::SYNC_WINDOW;
pub(crate) use self::core::{NodeCore, header_validators};
pub use decode::encode_body;
pub(crate) use messages::{CoreEvent, Effect};
pub use messages::{LocalEvent, NetMessage};
pub use shared::{ConsensusView, Metrics, NodeShared};
