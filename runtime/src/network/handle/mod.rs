//! The API of one node of a running network.

use std::{
    sync::{Arc, Weak, mpsc::Sender},
    time::Duration,
};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B512},
};

use super::{
    clock::NetworkClock,
    dev_state::DevState,
    members::NetworkInner,
    pause::Pause,
    transport::{Envelope, Transport},
};
use crate::{
    chain::Chain,
    config::enode,
    error::{Error, Result},
    interrupt::{Interrupted, Limits},
    node::{CoreEvent, LocalEvent, NodeShared},
    state::StateAt,
};

mod admin;
mod dev;
mod pool;
mod read;

pub use admin::{MetricsSnapshot, PeerInfo, SignerMetric};

/// The API of one node. Cloneable, `Send + Sync`.
#[derive(Clone)]
pub struct NodeHandle {
    shared: Arc<NodeShared>,
    sender: Sender<Envelope>,
    transport: Arc<Transport>,
    clock: Arc<NetworkClock>,
    network: Weak<NetworkInner>,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("index", &self.shared.index)
            .finish()
    }
}

impl NodeHandle {
    pub fn index(&self) -> usize {
        self.shared.index
    }

    /// The node's id: its 64-byte public key.
    pub fn node_id(&self) -> B512 {
        self.shared.node_id
    }

    pub fn enode(&self) -> String {
        enode(&self.shared.node_id, 30303 + self.shared.index as u16)
    }

    /// The node's address (validators sign blocks with it).
    pub fn address(&self) -> Address {
        self.shared.key.address()
    }

    pub fn is_validator(&self) -> bool {
        self.shared
            .consensus
            .read()
            .expect("consensus lock")
            .validators
            .contains(&self.address())
    }
}

/// The state after block `number`, or why it cannot be read.
fn state_of(chain: &Chain, number: u64) -> Result<StateAt<'_>> {
    chain.state_at(number).ok_or_else(|| {
        Error::InvalidRequest(format!(
            "the state of block {number} is no longer available: this node keeps the state of blocks {} to {} (--bonsai-historical-block-limit)",
            chain.oldest_state(),
            chain.head_number()
        ))
    })
}

fn resolve(chain: &Chain, block: BlockId) -> Result<u64> {
    let head = chain.head_number();
    match block {
        BlockId::Hash(hash) => chain
            .number_of(&hash.block_hash)
            .ok_or_else(|| Error::BlockNotFound(hash.block_hash.to_string())),
        BlockId::Number(tag) => match tag {
            BlockNumberOrTag::Earliest => Ok(0),
            BlockNumberOrTag::Number(n) if n <= head => Ok(n),
            BlockNumberOrTag::Number(n) => {
                Err(Error::BlockNotFound(format!("{n} (head is {head})")))
            }
            _ => Ok(head),
        },
    }
}

impl NodeHandle {
    /// The handle of node `shared`, reached through `sender`, in `network`.
    pub(crate) fn new(
        shared: Arc<NodeShared>,
        sender: Sender<Envelope>,
        network: &Arc<NetworkInner>,
    ) -> Self {
        Self {
            shared,
            sender,
            transport: network.transport.clone(),
            clock: network.clock.clone(),
            network: Arc::downgrade(network),
        }
    }

    /// The node's shared state, for the crate's tracing and dev controls.
    pub(crate) fn shared(&self) -> &Arc<NodeShared> {
        &self.shared
    }

    /// Puts `envelope` on the node's channel (nothing happens once its
    /// thread has stopped).
    pub(crate) fn send(&self, envelope: Envelope) {
        let _ = self.sender.send(envelope);
    }

    /// Every node of this handle's network and the dev controls' state.
    fn dev_network(&self) -> Result<(Vec<NodeHandle>, Arc<DevState>, Arc<NetworkClock>)> {
        let network = self.network.upgrade().ok_or(Error::ShutDown)?;
        Ok((network.nodes(), network.dev.clone(), network.clock.clone()))
    }

    /// Makes the node's engine start a round for block `height` even with
    /// an empty pool (dev `mine`).
    fn request_block(&self, height: u64) {
        self.send(Envelope::Event(CoreEvent::Local(
            LocalEvent::BlockRequested { height },
        )));
    }

    /// Asks the node's thread to stop at `pause` (dev `revert`).
    fn pause(&self, pause: Arc<Pause>) {
        self.send(Envelope::Pause(pause));
    }

    /// Runs `execute` (EVM work on this thread) so that it stops after
    /// `timeout` or when the node shuts down, whichever comes first, and
    /// says which instead of the result it was cut short with.
    pub(crate) fn within<T>(
        &self,
        timeout: Option<Duration>,
        execute: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let scope = Limits::new(timeout, Some(self.shared.stop.clone())).enter();
        let result = execute();
        match scope.interrupted() {
            Some(Interrupted::Deadline) => {
                Err(Error::ExecutionTimeout(timeout.unwrap_or_default()))
            }
            Some(Interrupted::Stopped) => Err(Error::ShutDown),
            None => result,
        }
    }
}
