//! The real-time driver: one thread per node, feeding its core the
//! messages from its channel and its timers on the wall clock.

use std::{
    collections::BinaryHeap,
    sync::{
        Arc,
        mpsc::{self, RecvTimeoutError},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use forja_consensus::TimerId;

use super::{
    clock::NetworkClock,
    pause::Pause,
    transport::{Envelope, Link, Transport},
};
use crate::{
    block::TxRef,
    error::{Error, Result},
    node::{CoreEvent, Effect, LocalEvent, NodeCore},
};

type Timers = BinaryHeap<std::cmp::Reverse<(Instant, TimerId)>>;

/// Starts the thread that drives `core`; `joining`: the node joins a
/// running network and asks its peers for the chain at once.
pub(super) fn spawn_driver(
    core: NodeCore,
    receiver: mpsc::Receiver<Envelope>,
    transport: &Arc<Transport>,
    clock: &Arc<NetworkClock>,
    joining: bool,
) -> Result<JoinHandle<()>> {
    let index = core.shared().index;
    let transport = transport.clone();
    let clock = clock.clone();
    std::thread::Builder::new()
        .name(format!("forja-node-{index}"))
        .spawn(move || drive_node(index, core, receiver, transport, clock, joining))
        .map_err(|e| Error::InvalidRequest(format!("cannot start node thread: {e}")))
}

/// The real-time driver of one node.
fn drive_node(
    index: usize,
    mut core: NodeCore,
    receiver: mpsc::Receiver<Envelope>,
    transport: Arc<Transport>,
    clock: Arc<NetworkClock>,
    joining: bool,
) {
    // The engine's clock, shifted by the dev network's time controls.
    let now_ms = || clock.now_ms();
    let own_link = transport.links()[index].clone();
    let mut timers: Timers = BinaryHeap::new();
    let deliver = |effects: Vec<Effect>, timers: &mut Timers| {
        let mut links = None;
        for effect in effects {
            match effect {
                Effect::SetTimer { id, after_ms } => {
                    timers.push(std::cmp::Reverse((
                        Instant::now() + Duration::from_millis(after_ms),
                        id,
                    )));
                }
                Effect::Send {
                    to: Some(peer),
                    message,
                } => {
                    let links = links.get_or_insert_with(|| transport.links());
                    if let Some(link) = links.get(peer) {
                        transport.send(peer, link, index, message);
                    }
                }
                Effect::Send { to: None, message } => {
                    let links = links.get_or_insert_with(|| transport.links());
                    for (peer, link) in links.iter().enumerate() {
                        if peer != index {
                            transport.send(peer, link, index, message.clone());
                        }
                    }
                }
            }
        }
    };
    let mut effects = core.start(now_ms());
    if joining {
        effects.push(core.ask_for_blocks());
    }
    deliver(effects, &mut timers);
    loop {
        let timeout = timers
            .peek()
            .map(|std::cmp::Reverse((at, _))| at.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        let received = receiver.recv_timeout(timeout);
        if let Ok(envelope) = &received {
            own_link.taken(envelope);
        }
        match received {
            Ok(Envelope::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Envelope::Event(event)) => {
                let effects = core.handle(now_ms(), event);
                deliver(effects, &mut timers);
            }
            Ok(Envelope::PeerJoined(node_id)) => core.add_peer(node_id),
            Ok(Envelope::Resync) => deliver(vec![core.ask_for_blocks()], &mut timers),
            Ok(Envelope::Pause(pause)) => {
                match hold_for_revert(&mut core, &receiver, &own_link, &pause, &mut timers) {
                    AfterPause::Shutdown => break,
                    AfterPause::Unchanged => {}
                    AfterPause::Restarted(replay) => {
                        deliver(core.start(now_ms()), &mut timers);
                        for event in replay {
                            let effects = core.handle(now_ms(), event);
                            deliver(effects, &mut timers);
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        while let Some(std::cmp::Reverse((at, id))) = timers.peek().copied() {
            if at > Instant::now() {
                break;
            }
            timers.pop();
            let effects = core.handle(now_ms(), CoreEvent::Timer(id));
            deliver(effects, &mut timers);
        }
    }
}

enum AfterPause {
    /// Nothing was rolled back: carry on.
    Unchanged,
    /// The chain was wound back and the engine reset: start it, then
    /// handle these local events that came in meanwhile.
    Restarted(Vec<CoreEvent>),
    Shutdown,
}

/// A dev `revert`: parks the node's thread while every node's chain is wound
/// back. If it was, drops everything addressed to the abandoned heights
/// (consensus messages, gossip, blocks, timers), resets the engine to the
/// new head, and waits until every node has done the same, so no node can
/// hear a message sent before the revert once consensus resumes.
fn hold_for_revert(
    core: &mut NodeCore,
    receiver: &mpsc::Receiver<Envelope>,
    own_link: &Link,
    pause: &Pause,
    timers: &mut Timers,
) -> AfterPause {
    if !pause.park() {
        return AfterPause::Unchanged;
    }
    let mut replay = Vec::new();
    let mut shutdown = false;
    while let Ok(envelope) = receiver.try_recv() {
        own_link.taken(&envelope);
        match envelope {
            Envelope::Shutdown => shutdown = true,
            // Membership outlives the revert; a resync is asked for below anyway.
            Envelope::PeerJoined(node_id) => core.add_peer(node_id),
            Envelope::Resync => {}
            Envelope::Event(CoreEvent::Net { .. } | CoreEvent::Timer(_)) => {}
            Envelope::Event(CoreEvent::Local(LocalEvent::TransactionsAdded(txs))) => {
                // Only transactions submitted since the rewind are still pooled.
                let pool = core.shared().pool.lock().expect("pool lock");
                let txs: Vec<TxRef> = txs.into_iter().filter(|t| pool.contains(&t.hash)).collect();
                if !txs.is_empty() {
                    replay.push(CoreEvent::Local(LocalEvent::TransactionsAdded(txs)));
                }
            }
            // A dev `mine` finished before the revert began (dev controls
            // run one at a time); its request names a height of the old chain.
            Envelope::Event(CoreEvent::Local(LocalEvent::BlockRequested { .. })) => {}
            Envelope::Event(event @ CoreEvent::Local(_)) => replay.push(event),
            // Dev controls run one at a time, so this cannot happen; if it
            // did, failing that revert is safe, waiting for it would not be.
            Envelope::Pause(other) => other.abandon(),
        }
    }
    timers.clear();
    if let Err(error) = core.reset_to_head() {
        tracing::error!(node = core.shared().index, %error, "consensus could not restart after a revert");
    }
    pause.restarted();
    if shutdown {
        AfterPause::Shutdown
    } else {
        AfterPause::Restarted(replay)
    }
}
