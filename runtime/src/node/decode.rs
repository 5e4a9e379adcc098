//! Decoding shared by the nodes of one process: a buffer broadcast to
//! every node is decoded once; and block bodies' encoding.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use alloy::{consensus::TxEnvelope, primitives::Bytes};
use forja_consensus::Message;

use crate::block::TxRef;

/// Results of pure functions of message bytes, shared by the nodes of this
/// process. In-process peers receive a broadcast as clones of one buffer, so
/// the first node to decode it does the work (signature recoveries, RLP,
/// transaction hashes) and the others reuse the result, which is exactly
/// what they would have computed from the same bytes: each node still
/// checks, executes and votes on its own. An entry is keyed by the buffer's
/// address and length and holds a clone of the buffer, so the address cannot
/// be reused for other bytes while the entry lives.
pub(super) struct DecodedByBuffer<T> {
    capacity: usize,
    entries: Mutex<VecDeque<(Bytes, T)>>,
}

impl<T: Clone> DecodedByBuffer<T> {
    const fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    pub(super) fn get_or_decode<E>(
        &self,
        bytes: &Bytes,
        decode: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        // Empty buffers may share one static address.
        if bytes.is_empty() {
            return decode();
        }
        let same =
            |(held, _): &&(Bytes, T)| held.as_ptr() == bytes.as_ptr() && held.len() == bytes.len();
        if let Some((_, value)) = self.lock().iter().find(same) {
            return Ok(value.clone());
        }
        // Decoded without the lock: two nodes may both decode one buffer, never wait.
        let value = decode()?;
        let mut entries = self.lock();
        entries.push_back((bytes.clone(), value.clone()));
        if entries.len() > self.capacity {
            entries.pop_front();
        }
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Bytes, T)>> {
        // A panic elsewhere cannot leave an entry half-written.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Consensus messages with their authors recovered (a few heights' worth).
pub(super) static DECODED_MESSAGES: DecodedByBuffer<Message> = DecodedByBuffer::new(64);
/// Proposed block bodies with their senders recovered; bodies can be large.
pub(super) static DECODED_BODIES: DecodedByBuffer<Arc<Vec<TxRef>>> = DecodedByBuffer::new(8);

/// Encodes a block body (the transactions) for consensus messages.
pub fn encode_body(transactions: &[TxRef]) -> Bytes {
    let envelopes: Vec<&TxEnvelope> = transactions.iter().map(|t| &t.envelope).collect();
    let mut out = Vec::new();
    alloy_rlp::encode_list::<&TxEnvelope, TxEnvelope>(&envelopes, &mut out);
    out.into()
}
