//! Engine configuration: mode, epoch, block period, request timeout and the
//! block-number transitions that change them.

use crate::extra_data::BftMode;

/// A change of parameters from block `block` on (Besu's `transitions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// First block the new values apply to.
    pub block: u64,
    /// New block period in seconds, if it changes.
    pub block_period_seconds: Option<u64>,
    /// New base request timeout in milliseconds, if it changes.
    pub request_timeout_ms: Option<u64>,
}

/// Consensus parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BftConfig {
    /// QBFT or IBFT 2.0.
    pub mode: BftMode,
    /// Besu's `epochlength`: pending votes are discarded at multiples of it
    /// (0 = never).
    pub epoch_length: u64,
    /// Seconds between blocks. 0 = dev mode: a block as soon as a
    /// transaction is pending, none while idle.
    pub block_period_seconds: u64,
    /// Round 0's timeout in milliseconds; round r waits `timeout * 2^r`.
    pub request_timeout_ms: u64,
    /// Parameter changes at block numbers, any order.
    pub transitions: Vec<Transition>,
    /// Besu's `validators` transitions: (first block, validator set from
    /// that block on, whatever the votes said).
    pub validator_overrides: Vec<(u64, Vec<alloy::primitives::Address>)>,
    /// How many heights ahead of the current one messages are buffered for.
    pub future_heights_buffered: u64,
}

impl BftConfig {
    /// Besu's defaults for `mode`: epoch 30000, 1 s period, 10 s timeout.
    pub fn new(mode: BftMode) -> Self {
        Self {
            mode,
            epoch_length: 30_000,
            block_period_seconds: 1,
            request_timeout_ms: 10_000,
            transitions: Vec::new(),
            validator_overrides: Vec::new(),
            future_heights_buffered: 10,
        }
    }

    /// Block period in force at block `height`.
    pub fn block_period_seconds_at(&self, height: u64) -> u64 {
        self.at(height, |t| t.block_period_seconds)
            .unwrap_or(self.block_period_seconds)
    }

    /// Base request timeout in force at block `height`.
    pub fn request_timeout_ms_at(&self, height: u64) -> u64 {
        self.at(height, |t| t.request_timeout_ms)
            .unwrap_or(self.request_timeout_ms)
    }

    /// Timeout of `round` at `height`: base `* 2^round` (saturating).
    pub fn round_timeout_ms(&self, height: u64, round: u32) -> u64 {
        let base = self.request_timeout_ms_at(height);
        base.saturating_mul(1u64.checked_shl(round).unwrap_or(u64::MAX))
    }

    /// The value from the latest transition at or below `height` that sets it.
    fn at(&self, height: u64, field: impl Fn(&Transition) -> Option<u64>) -> Option<u64> {
        self.transitions
            .iter()
            .filter(|t| t.block <= height)
            .filter_map(|t| field(t).map(|v| (t.block, v)))
            .max_by_key(|(block, _)| *block)
            .map(|(_, v)| v)
    }
}
