//! Validator sets: quorum, proposer selection, vote tallying and the
//! per-block validator history derived from headers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use alloy::consensus::Header;
use alloy::primitives::Address;

use crate::extra_data::{BftExtraData, BftMode, ExtraDataError, Vote};

/// Messages needed for a decision among `validators` validators: Besu's
/// `ceil(2n / 3)`.
pub const fn quorum(validators: usize) -> usize {
    (2 * validators).div_ceil(3)
}

/// Faulty validators tolerated: `(n - 1) / 3`. `f + 1` round changes for
/// later rounds make a node skip ahead (at least one honest node is there).
pub const fn max_faulty(validators: usize) -> usize {
    validators.saturating_sub(1) / 3
}

/// Besu's proposer selection (`ProposerSelector`, with a new proposer each
/// block): start from the previous block's proposer (its beneficiary) and
/// move `round + 1` places along the sorted validator list; if the previous
/// proposer is no longer a validator, start from the next validator after it
/// and move `round` places.
pub fn select_proposer(validators: &[Address], previous_proposer: Address, round: u32) -> Address {
    assert!(
        !validators.is_empty(),
        "proposer selection needs at least one validator"
    );
    let sorted: Vec<Address> = {
        let mut v = validators.to_vec();
        v.sort();
        v
    };
    let (base, offset) = match sorted.iter().position(|v| *v == previous_proposer) {
        Some(index) => (index, round as usize + 1),
        None => (
            sorted
                .iter()
                .position(|v| *v > previous_proposer)
                .unwrap_or(0),
            round as usize,
        ),
    };
    sorted[(base + offset) % sorted.len()]
}

/// Pending votes and the current validator set: the state after some block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteTally {
    validators: Vec<Address>,
    /// subject → (voter → add?)
    votes: BTreeMap<Address, BTreeMap<Address, bool>>,
}

impl VoteTally {
    /// A tally with `validators` and no pending votes.
    pub fn new(mut validators: Vec<Address>) -> Self {
        validators.sort();
        validators.dedup();
        Self {
            validators,
            votes: BTreeMap::new(),
        }
    }

    /// Current validators, sorted.
    pub fn validators(&self) -> &[Address] {
        &self.validators
    }

    /// Votes cast so far on `subject`: (voter, add?).
    pub fn votes_on(&self, subject: Address) -> Vec<(Address, bool)> {
        self.votes
            .get(&subject)
            .map(|v| v.iter().map(|(a, b)| (*a, *b)).collect())
            .unwrap_or_default()
    }

    /// Records `voter`'s vote. A vote passes when more than half of the
    /// validators (`n / 2 + 1`) cast the same vote on a subject; then the
    /// set changes and the votes on that subject are cleared. A removed
    /// validator's own votes are discarded. A voter's later vote on a subject
    /// replaces its earlier one (Besu's `VoteTally`). Votes by non-validators
    /// are ignored.
    pub fn add_vote(&mut self, voter: Address, vote: Vote) {
        if !self.validators.contains(&voter) {
            return;
        }
        let ballots = self.votes.entry(vote.recipient).or_default();
        ballots.insert(voter, vote.add);
        let in_favour = ballots.values().filter(|add| **add == vote.add).count();
        if in_favour > self.validators.len() / 2 {
            self.votes.remove(&vote.recipient);
            if vote.add {
                if !self.validators.contains(&vote.recipient) {
                    self.validators.push(vote.recipient);
                    self.validators.sort();
                }
            } else {
                self.validators.retain(|v| *v != vote.recipient);
                for ballots in self.votes.values_mut() {
                    ballots.remove(&vote.recipient);
                }
                self.votes.retain(|_, ballots| !ballots.is_empty());
            }
        }
    }

    /// Discards every pending vote (epoch boundary).
    pub fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Applies block `number`, proposed by `proposer` and carrying `vote`.
    /// At an epoch block (`number % epoch_length == 0`) the vote is ignored
    /// and all pending votes are discarded.
    pub fn apply_block(
        &mut self,
        number: u64,
        proposer: Address,
        vote: Option<Vote>,
        epoch_length: u64,
    ) {
        if epoch_length != 0 && number.is_multiple_of(epoch_length) {
            self.reset_votes();
            return;
        }
        if let Some(vote) = vote {
            self.add_vote(proposer, vote);
        }
    }
}

/// Errors importing headers into a [`ValidatorHistory`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The header's extraData is not BFT extraData.
    #[error("block {number}: {source}")]
    ExtraData {
        /// Block number.
        number: u64,
        /// Decoding error.
        source: ExtraDataError,
    },
    /// Headers must be imported in order.
    #[error("expected block {expected}, got block {got}")]
    OutOfOrder {
        /// Next number expected.
        expected: u64,
        /// Number given.
        got: u64,
    },
    /// The validators listed in the header are not the set the votes give.
    #[error("block {number} lists validators {listed:?}, the vote tally gives {expected:?}")]
    WrongValidators {
        /// Block number.
        number: u64,
        /// Validators in the header.
        listed: Vec<Address>,
        /// Validators from the tally.
        expected: Vec<Address>,
    },
}

/// Validators of every block, derived from headers: the validators of block
/// N are those listed in block N's extraData, which must equal the tally
/// after block N-1. Stored as change points, so long chains with a stable
/// set cost almost nothing.
#[derive(Debug, Clone)]
pub struct ValidatorHistory {
    mode: BftMode,
    epoch_length: u64,
    /// (first block, validators from that block on), ascending.
    changes: Vec<(u64, Arc<Vec<Address>>)>,
    head: u64,
    head_proposer: Address,
    tally: VoteTally,
    /// Besu's `validators` transitions: from block N on, this set, whatever
    /// the votes said (ascending by block).
    overrides: Vec<(u64, Vec<Address>)>,
}

impl ValidatorHistory {
    /// History starting at `genesis` (block 0), whose extraData lists the
    /// initial validators. `epoch_length` is Besu's `epochlength` (0 = never).
    pub fn from_genesis(
        mode: BftMode,
        genesis: &Header,
        epoch_length: u64,
    ) -> Result<Self, HistoryError> {
        let extra =
            BftExtraData::from_header(mode, genesis).map_err(|source| HistoryError::ExtraData {
                number: genesis.number,
                source,
            })?;
        let mut tally = VoteTally::new(extra.validators.clone());
        tally.apply_block(
            genesis.number,
            genesis.beneficiary,
            extra.vote,
            epoch_length,
        );
        Ok(Self {
            mode,
            epoch_length,
            changes: vec![(genesis.number, Arc::new(extra.validators))],
            head: genesis.number,
            head_proposer: genesis.beneficiary,
            tally,
            overrides: Vec::new(),
        })
    }

    /// The same history with Besu's validator overrides (a `validators`
    /// entry in the genesis `transitions`): block N's validators are the
    /// given set and pending votes are dropped. Call before importing
    /// blocks past genesis.
    pub fn with_overrides(mut self, overrides: &[(u64, Vec<Address>)]) -> Self {
        self.overrides = overrides
            .iter()
            .map(|(block, validators)| (*block, VoteTally::new(validators.clone()).validators))
            .collect();
        self.overrides.sort_by_key(|(block, _)| *block);
        self.apply_override();
        self
    }

    /// Replaces the tally when the next block has an override.
    fn apply_override(&mut self) {
        let next = self.head + 1;
        if let Some((_, validators)) = self.overrides.iter().find(|(block, _)| *block == next) {
            self.tally = VoteTally::new(validators.clone());
        }
    }

    /// Imports the next header: checks its validator list against the tally
    /// and applies its vote. Seals are not checked here (see
    /// [`crate::verify_committed_seals`]).
    pub fn import(&mut self, header: &Header) -> Result<(), HistoryError> {
        if header.number != self.head + 1 {
            return Err(HistoryError::OutOfOrder {
                expected: self.head + 1,
                got: header.number,
            });
        }
        let extra = BftExtraData::from_header(self.mode, header).map_err(|source| {
            HistoryError::ExtraData {
                number: header.number,
                source,
            }
        })?;
        if extra.validators != self.tally.validators() {
            return Err(HistoryError::WrongValidators {
                number: header.number,
                listed: extra.validators,
                expected: self.tally.validators().to_vec(),
            });
        }
        if self.changes.last().map(|(_, v)| v.as_slice()) != Some(extra.validators.as_slice()) {
            self.changes
                .push((header.number, Arc::new(extra.validators)));
        }
        self.tally.apply_block(
            header.number,
            header.beneficiary,
            extra.vote,
            self.epoch_length,
        );
        self.head = header.number;
        self.head_proposer = header.beneficiary;
        self.apply_override();
        Ok(())
    }

    /// Validators of block `number` (the ones that seal it), if known.
    pub fn validators_at(&self, number: u64) -> Option<&[Address]> {
        if number > self.head + 1 || number < self.changes[0].0 {
            return None;
        }
        if number == self.head + 1 {
            return Some(self.tally.validators());
        }
        let index = self.changes.partition_point(|(from, _)| *from <= number) - 1;
        Some(self.changes[index].1.as_slice())
    }

    /// Validators of the next block (after the head): the tally's set.
    pub fn next_validators(&self) -> &[Address] {
        self.tally.validators()
    }

    /// Pending votes and set after the head.
    pub fn tally(&self) -> &VoteTally {
        &self.tally
    }

    /// Number of the last imported header.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Proposer (beneficiary) of the last imported header.
    pub fn head_proposer(&self) -> Address {
        self.head_proposer
    }

    /// Consensus mode.
    pub fn mode(&self) -> BftMode {
        self.mode
    }

    /// Epoch length (0 = votes never reset).
    pub fn epoch_length(&self) -> u64 {
        self.epoch_length
    }
}

/// Distinct addresses in `items` that are in `validators`.
pub(crate) fn distinct_validators<'a>(
    items: impl IntoIterator<Item = &'a Address>,
    validators: &[Address],
) -> BTreeSet<Address> {
    items
        .into_iter()
        .copied()
        .filter(|a| validators.contains(a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, U256};

    fn addr(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn quorum_is_besus_ceil_two_thirds() {
        let expected = [
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 3),
            (5, 4),
            (6, 4),
            (7, 5),
            (8, 6),
            (9, 6),
            (10, 7),
            (21, 14),
        ];
        for (n, q) in expected {
            assert_eq!(quorum(n), q, "n = {n}");
        }
        assert_eq!([1, 4, 6, 7, 10].map(max_faulty), [0, 1, 1, 2, 3]);
    }

    #[test]
    fn proposer_rotates_from_the_previous_proposer() {
        let validators = vec![addr(1), addr(2), addr(3), addr(4)];
        // Previous proposer 2: round 0 → 3, round 1 → 4, round 2 → 1 (wraps).
        assert_eq!(select_proposer(&validators, addr(2), 0), addr(3));
        assert_eq!(select_proposer(&validators, addr(2), 1), addr(4));
        assert_eq!(select_proposer(&validators, addr(2), 2), addr(1));
        // Previous proposer no longer a validator (or genesis' zero coinbase):
        // the next validator after it, without the extra step.
        assert_eq!(select_proposer(&validators, Address::ZERO, 0), addr(1));
        assert_eq!(select_proposer(&validators, Address::ZERO, 1), addr(2));
        assert_eq!(
            select_proposer(&[addr(1), addr(3), addr(4)], addr(2), 0),
            addr(3)
        );
        assert_eq!(select_proposer(&validators, addr(9), 0), addr(1));
        // Order of the input does not matter.
        assert_eq!(
            select_proposer(&[addr(4), addr(2), addr(3), addr(1)], addr(2), 0),
            addr(3)
        );
    }

    #[test]
    fn a_vote_passes_with_more_than_half() {
        let mut tally = VoteTally::new(vec![addr(1), addr(2), addr(3), addr(4)]);
        let add5 = Vote {
            recipient: addr(5),
            add: true,
        };
        tally.add_vote(addr(1), add5);
        tally.add_vote(addr(1), add5); // repeated: still one vote
        tally.add_vote(addr(2), add5);
        tally.add_vote(addr(9), add5); // not a validator: ignored
        assert_eq!(tally.validators().len(), 4, "2 of 4 is not more than half");
        tally.add_vote(addr(3), add5);
        assert_eq!(
            tally.validators(),
            &[addr(1), addr(2), addr(3), addr(4), addr(5)]
        );
        assert!(
            tally.votes_on(addr(5)).is_empty(),
            "votes on a passed subject are cleared"
        );

        // Removal of 4 among 5 needs 3; 4's own pending votes go with it.
        tally.add_vote(
            addr(4),
            Vote {
                recipient: addr(6),
                add: true,
            },
        );
        let drop4 = Vote {
            recipient: addr(4),
            add: false,
        };
        for voter in [1, 2] {
            tally.add_vote(addr(voter), drop4);
        }
        assert!(tally.validators().contains(&addr(4)));
        tally.add_vote(addr(5), drop4);
        assert!(!tally.validators().contains(&addr(4)));
        assert!(
            tally.votes_on(addr(6)).is_empty(),
            "a removed validator's votes are discarded"
        );
        // A changed vote replaces the earlier one.
        tally.add_vote(
            addr(1),
            Vote {
                recipient: addr(7),
                add: true,
            },
        );
        tally.add_vote(
            addr(1),
            Vote {
                recipient: addr(7),
                add: false,
            },
        );
        assert_eq!(tally.votes_on(addr(7)), vec![(addr(1), false)]);
    }

    #[test]
    fn epoch_blocks_discard_pending_votes() {
        let mut tally = VoteTally::new(vec![addr(1), addr(2), addr(3), addr(4)]);
        let add5 = Some(Vote {
            recipient: addr(5),
            add: true,
        });
        tally.apply_block(8, addr(1), add5, 10);
        tally.apply_block(9, addr(2), add5, 10);
        tally.apply_block(10, addr(3), add5, 10); // epoch block: vote ignored, votes reset
        assert!(tally.votes_on(addr(5)).is_empty());
        tally.apply_block(11, addr(3), add5, 10);
        assert_eq!(
            tally.validators().len(),
            4,
            "the votes before the epoch no longer count"
        );
        tally.apply_block(12, addr(1), add5, 10);
        tally.apply_block(13, addr(2), add5, 10);
        assert_eq!(tally.validators().len(), 5);
    }

    fn header(
        mode: BftMode,
        number: u64,
        proposer: Address,
        validators: Vec<Address>,
        vote: Option<Vote>,
    ) -> Header {
        let mut extra = BftExtraData::genesis(validators);
        extra.vote = vote;
        Header {
            number,
            beneficiary: proposer,
            extra_data: extra.encode(mode),
            difficulty: U256::from(1),
            ..Header::default()
        }
    }

    #[test]
    fn history_answers_validators_per_block_and_checks_headers() {
        let mode = BftMode::Qbft;
        let four = vec![addr(1), addr(2), addr(3), addr(4)];
        let mut five = four.clone();
        five.push(addr(5));
        let add5 = Some(Vote {
            recipient: addr(5),
            add: true,
        });
        let mut history = ValidatorHistory::from_genesis(
            mode,
            &header(mode, 0, Address::ZERO, four.clone(), None),
            0,
        )
        .unwrap();
        for (number, proposer) in [(1, 1), (2, 2), (3, 3)] {
            history
                .import(&header(mode, number, addr(proposer), four.clone(), add5))
                .unwrap();
        }
        assert_eq!(history.next_validators(), five.as_slice());
        // Block 4 must list five validators.
        let wrong = history
            .import(&header(mode, 4, addr(4), four.clone(), None))
            .unwrap_err();
        assert!(
            matches!(wrong, HistoryError::WrongValidators { number: 4, .. }),
            "{wrong}"
        );
        history
            .import(&header(mode, 4, addr(4), five.clone(), None))
            .unwrap();
        assert_eq!(history.validators_at(0), Some(four.as_slice()));
        assert_eq!(history.validators_at(3), Some(four.as_slice()));
        assert_eq!(history.validators_at(4), Some(five.as_slice()));
        assert_eq!(history.validators_at(5), Some(five.as_slice()));
        assert_eq!(history.validators_at(6), None);
        let gap = history
            .import(&header(mode, 9, addr(1), five, None))
            .unwrap_err();
        assert_eq!(
            gap,
            HistoryError::OutOfOrder {
                expected: 5,
                got: 9
            }
        );
        let mut garbage = header(mode, 5, addr(1), vec![], None);
        garbage.extra_data = Bytes::from_static(b"\x01");
        assert!(matches!(
            history.import(&garbage),
            Err(HistoryError::ExtraData { number: 5, .. })
        ));
    }

    #[test]
    fn a_validators_override_replaces_the_set_and_its_votes_from_its_block() {
        let mode = BftMode::Ibft2;
        let genesis_set = vec![addr(1), addr(2)];
        let twin = vec![addr(9), addr(7)];
        let mut history = ValidatorHistory::from_genesis(
            mode,
            &header(mode, 0, Address::ZERO, genesis_set.clone(), None),
            0,
        )
        .unwrap()
        .with_overrides(&[(2, twin.clone())]);
        assert_eq!(history.next_validators(), genesis_set.as_slice());
        let add5 = Some(Vote {
            recipient: addr(5),
            add: true,
        });
        history
            .import(&header(mode, 1, addr(1), genesis_set.clone(), add5))
            .unwrap();
        // Block 2 lists the override (sorted), not the genesis set nor the votes.
        let sorted_twin = vec![addr(7), addr(9)];
        assert_eq!(history.next_validators(), sorted_twin.as_slice());
        assert!(history.tally().votes_on(addr(5)).is_empty());
        assert!(matches!(
            history.import(&header(mode, 2, addr(2), genesis_set.clone(), None)),
            Err(HistoryError::WrongValidators { number: 2, .. })
        ));
        history
            .import(&header(mode, 2, addr(7), sorted_twin.clone(), None))
            .unwrap();
        assert_eq!(history.validators_at(1), Some(genesis_set.as_slice()));
        assert_eq!(history.validators_at(2), Some(sorted_twin.as_slice()));
    }
}
