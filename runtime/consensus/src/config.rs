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
    /// Besu's `futuremessagesmaxdistance`: messages for heights up to this
    /// many ahead of the current one are kept for later; further ones are
    /// dropped.
    pub future_messages_max_distance: u64,
    /// Besu's `futuremessageslimit`: most messages kept for later (later
    /// heights, and later rounds of the current height); when full, those
    /// furthest ahead go first. 0 keeps none.
    pub future_messages_limit: usize,
    /// Besu's `messagequeuelimit`: most consensus messages waiting in a
    /// node's inbound queue; more are dropped. Read by the host's driver.
    pub message_queue_limit: usize,
    /// Besu's `duplicatemessagelimit`: how many recently seen messages the
    /// host remembers to drop repeats (and not relay them again).
    pub duplicate_message_limit: usize,
    /// Besu's `--Xqbft-enable-early-round-change` (QBFT only; IBFT 2.0 never
    /// does it): move to a later round once `f + 1` validators are there,
    /// instead of waiting for a quorum of round changes or the round timer.
    pub early_round_change: bool,
}

impl BftConfig {
    /// Besu's defaults for `mode`: epoch 30000, 1 s period, 10 s timeout,
    /// and its message limits (`JsonBftConfigOptions`).
    pub fn new(mode: BftMode) -> Self {
        Self {
            mode,
            epoch_length: 30_000,
            block_period_seconds: 1,
            request_timeout_ms: 10_000,
            transitions: Vec::new(),
            validator_overrides: Vec::new(),
            future_messages_max_distance: 10,
            future_messages_limit: 1000,
            message_queue_limit: 1000,
            duplicate_message_limit: 100,
            early_round_change: false,
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

    /// Whether `f + 1` round changes for later rounds move this node there:
    /// only in QBFT, and only when enabled (as Besu).
    pub fn early_round_change_enabled(&self) -> bool {
        self.early_round_change && self.mode == BftMode::Qbft
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
