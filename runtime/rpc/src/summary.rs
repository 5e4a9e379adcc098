//! What a front end shows about a committed block.

use alloy::primitives::{Address, B256};
use forja_consensus::{BftExtraData, BftMode};
use forja_runtime::SealedBlock;

use crate::backend::Consensus;

/// One committed block, as `forja node` logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSummary {
    pub number: u64,
    pub hash: B256,
    pub transactions: usize,
    /// The validator that proposed it (the header's beneficiary, as in Besu).
    pub proposer: Address,
    /// The consensus round it was committed in, from its extraData.
    pub round: Option<u32>,
}

pub fn block_summary(consensus: Consensus, block: &SealedBlock) -> BlockSummary {
    let mode = match consensus {
        Consensus::Qbft => BftMode::Qbft,
        Consensus::Ibft2 => BftMode::Ibft2,
    };
    BlockSummary {
        number: block.number(),
        hash: block.hash,
        transactions: block.transactions.len(),
        proposer: block.header.beneficiary,
        round: BftExtraData::from_header(mode, &block.header)
            .ok()
            .map(|extra| extra.round),
    }
}
