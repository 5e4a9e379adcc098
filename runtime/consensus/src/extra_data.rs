//! BFT header data as Besu encodes it: the `extraData` codec for QBFT and
//! IBFT 2.0, and the hashes derived from a header (committed-seal hash and the
//! on-chain BFT block hash).
//!
//! Layout (both modes): RLP `[vanity, [validators], vote, round, [seals]]`.
//!
//! | field | QBFT (`QbftExtraDataCodec`) | IBFT 2.0 (`IbftExtraDataCodec`) |
//! |---|---|---|
//! | no vote | empty list `0xc0` | empty string `0x80` |
//! | vote | `[recipient, 0xff]` add, `[recipient, 0x80]` remove | `[recipient, 0xff]` add, `[recipient, 0x00]` remove |
//! | round | RLP scalar (`0x80` for 0) | 4-byte big-endian string |
//! | seals, for the seal hash | round kept, seals an empty list | round kept, seals field omitted |
//! | seals and round, for the block hash | round 0 scalar, seals an empty list | both fields omitted |
//!
//! Committed seals are 65 bytes `r || s || recovery id (0/1)`.

use alloy::consensus::Header;
use alloy::primitives::{Address, B256, Bytes, Signature};
use alloy::rlp::{self, BufMut, Encodable};

/// Length of the vanity prefix Besu writes (32 zero bytes by default).
pub const EXTRA_VANITY_LENGTH: usize = 32;

/// The `mixHash` every BFT header carries ("Istanbul" digest, as Besu requires).
pub const BFT_MIX_HASH: B256 =
    alloy::primitives::b256!("63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365");

/// Which BFT protocol a chain runs. Selects the extraData codec and the
/// prepared-certificate rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BftMode {
    /// QBFT as Besu implements it.
    Qbft,
    /// IBFT 2.0 as Besu implements it.
    Ibft2,
}

/// A validator vote carried in a block header: add or remove `recipient`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vote {
    /// The address voted on.
    pub recipient: Address,
    /// `true` to add it to the validator set, `false` to remove it.
    pub add: bool,
}

/// Decoded BFT `extraData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BftExtraData {
    /// Free-form prefix, 32 bytes when Besu writes it.
    pub vanity: Bytes,
    /// Validators of this block, sorted ascending (Besu's order).
    pub validators: Vec<Address>,
    /// The proposer's vote, if any.
    pub vote: Option<Vote>,
    /// Round in which the block was proposed / committed.
    pub round: u32,
    /// Committed seals of the validators that committed the block.
    pub seals: Vec<Signature>,
}

/// Which parts of the extraData an encoding keeps (Besu's `EncodingType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    All,
    ExcludeCommitSeals,
    ExcludeCommitSealsAndRound,
}

/// Errors decoding or checking BFT header data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtraDataError {
    /// Not valid RLP, or not the expected shape.
    #[error("malformed BFT extraData ({mode:?}): {reason}")]
    Malformed {
        /// Codec that was used.
        mode: BftMode,
        /// What was wrong.
        reason: String,
    },
    /// A committed seal does not recover to a public key.
    #[error("committed seal #{index} is not a valid signature")]
    BadSeal {
        /// Position of the seal in the extraData.
        index: usize,
    },
    /// A seal recovers to an address that is not a validator of the block.
    #[error(
        "committed seal #{index} was signed by {signer}, which is not a validator of block {block}"
    )]
    SealByNonValidator {
        /// Position of the seal.
        index: usize,
        /// Recovered signer.
        signer: Address,
        /// Block number.
        block: u64,
    },
    /// Two seals by the same validator.
    #[error("validator {signer} sealed block {block} more than once")]
    DuplicateSeal {
        /// The repeated signer.
        signer: Address,
        /// Block number.
        block: u64,
    },
    /// Fewer seals than the quorum.
    #[error("block {block} has {got} committed seals from validators, quorum is {quorum}")]
    NotEnoughSeals {
        /// Block number.
        block: u64,
        /// Valid distinct seals found.
        got: usize,
        /// Seals required.
        quorum: usize,
    },
}

fn malformed(mode: BftMode, reason: impl Into<String>) -> ExtraDataError {
    ExtraDataError::Malformed {
        mode,
        reason: reason.into(),
    }
}

impl BftExtraData {
    /// ExtraData of a genesis block for `validators` (sorted here), 32 zero
    /// vanity bytes, no vote, round 0, no seals.
    pub fn genesis(mut validators: Vec<Address>) -> Self {
        validators.sort();
        validators.dedup();
        Self {
            vanity: Bytes::from(vec![0u8; EXTRA_VANITY_LENGTH]),
            validators,
            vote: None,
            round: 0,
            seals: Vec::new(),
        }
    }

    /// Full encoding, as stored in a sealed header.
    pub fn encode(&self, mode: BftMode) -> Bytes {
        self.encode_as(mode, Encoding::All)
    }

    /// Encoding without committed seals: what the committed-seal hash covers.
    pub fn encode_without_seals(&self, mode: BftMode) -> Bytes {
        self.encode_as(mode, Encoding::ExcludeCommitSeals)
    }

    /// Encoding without committed seals and round: what the block hash covers.
    pub fn encode_without_seals_and_round(&self, mode: BftMode) -> Bytes {
        self.encode_as(mode, Encoding::ExcludeCommitSealsAndRound)
    }

    fn encode_as(&self, mode: BftMode, encoding: Encoding) -> Bytes {
        let mut payload = Vec::with_capacity(64 + 21 * self.validators.len());
        self.vanity.as_ref().encode(&mut payload);
        self.validators.encode(&mut payload);
        encode_vote(mode, self.vote, &mut payload);
        let encode_seals = |payload: &mut Vec<u8>| {
            let seals: Vec<Bytes> = self
                .seals
                .iter()
                .map(|seal| Bytes::copy_from_slice(&seal.as_rsy()))
                .collect();
            seals.encode(payload);
        };
        match (mode, encoding) {
            (BftMode::Qbft, Encoding::All) => {
                self.round.encode(&mut payload);
                encode_seals(&mut payload);
            }
            (BftMode::Qbft, Encoding::ExcludeCommitSeals) => {
                self.round.encode(&mut payload);
                payload.put_u8(rlp::EMPTY_LIST_CODE);
            }
            (BftMode::Qbft, Encoding::ExcludeCommitSealsAndRound) => {
                0u32.encode(&mut payload);
                payload.put_u8(rlp::EMPTY_LIST_CODE);
            }
            (BftMode::Ibft2, Encoding::All) => {
                self.round.to_be_bytes().as_slice().encode(&mut payload);
                encode_seals(&mut payload);
            }
            (BftMode::Ibft2, Encoding::ExcludeCommitSeals) => {
                self.round.to_be_bytes().as_slice().encode(&mut payload);
            }
            (BftMode::Ibft2, Encoding::ExcludeCommitSealsAndRound) => {}
        }
        let mut out = Vec::with_capacity(payload.len() + 4);
        rlp::Header {
            list: true,
            payload_length: payload.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&payload);
        out.into()
    }

    /// Decodes a full extraData (as found in a header).
    pub fn decode(mode: BftMode, bytes: &[u8]) -> Result<Self, ExtraDataError> {
        let err = |e: rlp::Error| malformed(mode, e.to_string());
        let mut buf = bytes;
        let mut body = rlp::Header::decode_bytes(&mut buf, true).map_err(err)?;
        if !buf.is_empty() {
            return Err(malformed(mode, "trailing bytes after the extraData list"));
        }
        let vanity =
            Bytes::copy_from_slice(rlp::Header::decode_bytes(&mut body, false).map_err(err)?);
        let validators = Vec::<Address>::decode(&mut body).map_err(err)?;
        let vote = decode_vote(mode, &mut body)?;
        let round = match mode {
            BftMode::Qbft => u32::decode(&mut body).map_err(err)?,
            BftMode::Ibft2 => {
                let raw = rlp::Header::decode_bytes(&mut body, false).map_err(err)?;
                let raw: [u8; 4] = raw.try_into().map_err(|_| {
                    malformed(mode, format!("round must be 4 bytes, got {}", raw.len()))
                })?;
                u32::from_be_bytes(raw)
            }
        };
        let raw_seals = Vec::<Bytes>::decode(&mut body).map_err(err)?;
        // Besu reads QBFT leniently (`leaveListLenient`): extra items are ignored.
        if mode == BftMode::Ibft2 && !body.is_empty() {
            return Err(malformed(
                mode,
                "unexpected items after the committed seals",
            ));
        }
        let seals = raw_seals
            .iter()
            .enumerate()
            .map(|(index, raw)| {
                Signature::from_raw(raw).map_err(|_| {
                    malformed(
                        mode,
                        format!("committed seal #{index} is not 65 bytes r||s||v"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            vanity,
            validators,
            vote,
            round,
            seals,
        })
    }

    /// Decodes the extraData of `header`.
    pub fn from_header(mode: BftMode, header: &Header) -> Result<Self, ExtraDataError> {
        Self::decode(mode, &header.extra_data)
    }
}

use alloy::rlp::Decodable;

fn encode_vote(mode: BftMode, vote: Option<Vote>, out: &mut Vec<u8>) {
    let Some(vote) = vote else {
        match mode {
            BftMode::Qbft => out.put_u8(rlp::EMPTY_LIST_CODE),
            BftMode::Ibft2 => out.put_u8(rlp::EMPTY_STRING_CODE),
        }
        return;
    };
    let mut payload = Vec::with_capacity(24);
    vote.recipient.encode(&mut payload);
    match (vote.add, mode) {
        (true, _) => [0xffu8].as_slice().encode(&mut payload),
        (false, BftMode::Qbft) => payload.put_u8(rlp::EMPTY_STRING_CODE),
        (false, BftMode::Ibft2) => [0x00u8].as_slice().encode(&mut payload),
    }
    rlp::Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(out);
    out.extend_from_slice(&payload);
}

fn decode_vote(mode: BftMode, buf: &mut &[u8]) -> Result<Option<Vote>, ExtraDataError> {
    let err = |e: rlp::Error| malformed(mode, format!("vote: {e}"));
    let first = *buf
        .first()
        .ok_or_else(|| malformed(mode, "missing vote field"))?;
    if first == rlp::EMPTY_LIST_CODE || first == rlp::EMPTY_STRING_CODE {
        *buf = &buf[1..];
        return Ok(None);
    }
    let mut body = rlp::Header::decode_bytes(buf, true).map_err(err)?;
    let recipient = Address::decode(&mut body).map_err(err)?;
    let value = rlp::Header::decode_bytes(&mut body, false).map_err(err)?;
    let add = match value {
        [0xff] => true,
        // QBFT writes removal as an empty string, IBFT 2.0 as a 0x00 byte.
        [] | [0x00] => false,
        other => {
            return Err(malformed(
                mode,
                format!(
                    "vote value must be 0xff or 0x00, got 0x{}",
                    alloy::hex::encode(other)
                ),
            ));
        }
    };
    if !body.is_empty() {
        return Err(malformed(mode, "vote has more than two items"));
    }
    Ok(Some(Vote { recipient, add }))
}

/// `header` with its extraData replaced by `extra`.
fn with_extra(header: &Header, extra: Bytes) -> Header {
    let mut copy = header.clone();
    copy.extra_data = extra;
    copy
}

/// The hash a validator signs as its committed seal (Besu's
/// `calculateDataHashForCommittedSeal`): the header hash with the seals
/// removed from extraData and the round kept.
pub fn committed_seal_hash(mode: BftMode, header: &Header) -> Result<B256, ExtraDataError> {
    let extra = BftExtraData::from_header(mode, header)?;
    Ok(with_extra(header, extra.encode_without_seals(mode)).hash_slow())
}

/// The block hash Besu reports for a BFT block
/// (`calculateHashOfBftBlockOnchain`): the header hash with seals and round
/// removed from extraData, so the same block re-proposed in a later round or
/// sealed by a different quorum keeps its hash.
pub fn bft_block_hash(mode: BftMode, header: &Header) -> Result<B256, ExtraDataError> {
    let extra = BftExtraData::from_header(mode, header)?;
    Ok(with_extra(header, extra.encode_without_seals_and_round(mode)).hash_slow())
}

/// Recovers the signers of the committed seals in `header`, in seal order.
pub fn recover_committers(mode: BftMode, header: &Header) -> Result<Vec<Address>, ExtraDataError> {
    let extra = BftExtraData::from_header(mode, header)?;
    let hash = with_extra(header, extra.encode_without_seals(mode)).hash_slow();
    extra
        .seals
        .iter()
        .enumerate()
        .map(|(index, seal)| {
            seal.recover_address_from_prehash(&hash)
                .map_err(|_| ExtraDataError::BadSeal { index })
        })
        .collect()
}

/// Checks that `header` carries committed seals from at least a quorum of
/// `validators` (distinct, each a validator). Returns the committers.
pub fn verify_committed_seals(
    mode: BftMode,
    header: &Header,
    validators: &[Address],
) -> Result<Vec<Address>, ExtraDataError> {
    let committers = recover_committers(mode, header)?;
    let mut seen = std::collections::BTreeSet::new();
    for (index, signer) in committers.iter().enumerate() {
        if !validators.contains(signer) {
            return Err(ExtraDataError::SealByNonValidator {
                index,
                signer: *signer,
                block: header.number,
            });
        }
        if !seen.insert(*signer) {
            return Err(ExtraDataError::DuplicateSeal {
                signer: *signer,
                block: header.number,
            });
        }
    }
    let quorum = crate::quorum(validators.len());
    if seen.len() < quorum {
        return Err(ExtraDataError::NotEnoughSeals {
            block: header.number,
            got: seen.len(),
            quorum,
        });
    }
    Ok(committers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{U256, address, hex};
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    /// QBFT genesis extraData of a 4-validator Besu/GoQuorum network.
    const QBFT_GENESIS: &str = "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f85494bac71bb015b84916f145549a873a980b9720c11094ae2620ccf5b852e2208c82810e40a834b128cf6e94bcb5bf13ce033a21459397d12a9e7b46066a02e39452351cad346ab2f1599b494bf8f4c6ea44c77563c080c0";
    /// IBFT 2.0 genesis extraData from Besu's IBFT 2.0 tutorial (one validator).
    const IBFT2_GENESIS: &str = "0xf83ea00000000000000000000000000000000000000000000000000000000000000000d594c2ab482b506de561668e07f04547232a72897daf808400000000c0";
    /// IBFT 2.0 extraData from Besu's `rlp encode` docs (two validators).
    const IBFT2_TWO: &str = "0xf853a00000000000000000000000000000000000000000000000000000000000000000ea94be068f726a13c8d46c44be6ce9d275600e1735a4945ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193808400000000c0";

    fn sample(seals: usize) -> BftExtraData {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
        BftExtraData {
            vanity: Bytes::from(vec![0xab; 32]),
            validators: vec![
                address!("0x1000000000000000000000000000000000000001"),
                signer.address(),
            ],
            vote: Some(Vote {
                recipient: address!("0x2000000000000000000000000000000000000002"),
                add: false,
            }),
            round: 300,
            seals: (0..seals)
                .map(|i| signer.sign_hash_sync(&B256::repeat_byte(i as u8)).unwrap())
                .collect(),
        }
    }

    #[test]
    fn decodes_besu_qbft_genesis_and_reencodes_it_byte_for_byte() {
        let raw = hex::decode(QBFT_GENESIS).unwrap();
        let extra = BftExtraData::decode(BftMode::Qbft, &raw).unwrap();
        assert_eq!(extra.vanity.as_ref(), &[0u8; 32]);
        assert_eq!(
            extra.validators,
            vec![
                address!("0xbac71bb015b84916f145549a873a980b9720c110"),
                address!("0xae2620ccf5b852e2208c82810e40a834b128cf6e"),
                address!("0xbcb5bf13ce033a21459397d12a9e7b46066a02e3"),
                address!("0x52351cad346ab2f1599b494bf8f4c6ea44c77563"),
            ]
        );
        assert_eq!((extra.vote, extra.round, extra.seals.len()), (None, 0, 0));
        assert_eq!(extra.encode(BftMode::Qbft).as_ref(), raw.as_slice());
        // The IBFT 2.0 codec refuses it: the round is not 4 bytes.
        assert!(BftExtraData::decode(BftMode::Ibft2, &raw).is_err());
    }

    #[test]
    fn decodes_besu_ibft2_genesis_and_reencodes_it_byte_for_byte() {
        for (text, validators) in [
            (
                IBFT2_GENESIS,
                vec![address!("0xc2ab482b506de561668e07f04547232a72897daf")],
            ),
            (
                IBFT2_TWO,
                vec![
                    address!("0xbe068f726a13c8d46c44be6ce9d275600e1735a4"),
                    address!("0x5ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193"),
                ],
            ),
        ] {
            let raw = hex::decode(text).unwrap();
            let extra = BftExtraData::decode(BftMode::Ibft2, &raw).unwrap();
            assert_eq!(extra.validators, validators);
            assert_eq!((extra.vote, extra.round, extra.seals.len()), (None, 0, 0));
            assert_eq!(extra.encode(BftMode::Ibft2).as_ref(), raw.as_slice());
        }
    }

    #[test]
    fn genesis_constructor_matches_besu_encoding() {
        let raw = hex::decode(IBFT2_GENESIS).unwrap();
        let genesis =
            BftExtraData::genesis(vec![address!("0xc2ab482b506de561668e07f04547232a72897daf")]);
        assert_eq!(genesis.encode(BftMode::Ibft2).as_ref(), raw.as_slice());
    }

    #[test]
    fn round_trips_votes_rounds_and_seals_in_both_modes() {
        for mode in [BftMode::Qbft, BftMode::Ibft2] {
            for add in [true, false] {
                for seals in [0, 1, 3] {
                    let mut extra = sample(seals);
                    extra.vote.as_mut().unwrap().add = add;
                    let encoded = extra.encode(mode);
                    assert_eq!(
                        BftExtraData::decode(mode, &encoded).unwrap(),
                        extra,
                        "{mode:?} add={add}"
                    );
                }
            }
            let mut no_vote = sample(2);
            no_vote.vote = None;
            assert_eq!(
                BftExtraData::decode(mode, &no_vote.encode(mode)).unwrap(),
                no_vote
            );
        }
    }

    #[test]
    fn vote_and_round_use_each_modes_encoding() {
        let mut extra = sample(0);
        extra.round = 1;
        extra.vote = Some(Vote {
            recipient: Address::repeat_byte(0x22),
            add: false,
        });
        let qbft = extra.encode(BftMode::Qbft);
        let ibft = extra.encode(BftMode::Ibft2);
        let vote_remove_qbft =
            hex::decode("d6942222222222222222222222222222222222222222 80".replace(' ', ""))
                .unwrap();
        let vote_remove_ibft =
            hex::decode("d6942222222222222222222222222222222222222222 00".replace(' ', ""))
                .unwrap();
        assert!(
            qbft.windows(vote_remove_qbft.len())
                .any(|w| w == vote_remove_qbft.as_slice())
        );
        assert!(
            ibft.windows(vote_remove_ibft.len())
                .any(|w| w == vote_remove_ibft.as_slice())
        );
        // Round 1 with no seals: QBFT scalar 0x01, IBFT 2.0 4-byte string.
        assert!(qbft.ends_with(&[0x01, 0xc0]));
        assert!(ibft.ends_with(&[0x84, 0, 0, 0, 1, 0xc0]));
        extra.vote = None;
        assert!(extra.encode(BftMode::Qbft).ends_with(&[0xc0, 0x01, 0xc0]));
        assert!(
            extra
                .encode(BftMode::Ibft2)
                .ends_with(&[0x80, 0x84, 0, 0, 0, 1, 0xc0])
        );
    }

    #[test]
    fn hashing_encodings_strip_what_besu_strips() {
        let extra = sample(2);
        let ibft_no_seals = BftExtraData::decode_lenient_for_test(
            BftMode::Ibft2,
            &extra.encode_without_seals(BftMode::Ibft2),
        );
        assert_eq!(ibft_no_seals, 4, "IBFT 2.0 drops the seals field");
        assert_eq!(
            BftExtraData::decode_lenient_for_test(
                BftMode::Ibft2,
                &extra.encode_without_seals_and_round(BftMode::Ibft2)
            ),
            3,
            "IBFT 2.0 drops round and seals"
        );
        let qbft = extra.encode_without_seals_and_round(BftMode::Qbft);
        assert!(
            qbft.ends_with(&[0x80, 0xc0]),
            "QBFT writes round 0 and no seals"
        );
        let qbft = extra.encode_without_seals(BftMode::Qbft);
        assert!(
            qbft.ends_with(&[0x82, 0x01, 0x2c, 0xc0]),
            "QBFT keeps round 300, empties seals"
        );
    }

    impl BftExtraData {
        /// Number of top-level items in an encoding.
        fn decode_lenient_for_test(_mode: BftMode, bytes: &[u8]) -> usize {
            let mut buf = bytes;
            let mut body = rlp::Header::decode_bytes(&mut buf, true).unwrap();
            let mut items = 0;
            while !body.is_empty() {
                let header = rlp::Header::decode(&mut body).unwrap();
                body = &body[header.payload_length..];
                items += 1;
            }
            items
        }
    }

    fn header_with(mode: BftMode, extra: &BftExtraData) -> Header {
        Header {
            number: 7,
            timestamp: 1_700_000_000,
            gas_limit: 30_000_000,
            difficulty: U256::from(1),
            mix_hash: BFT_MIX_HASH,
            extra_data: extra.encode(mode),
            ..Header::default()
        }
    }

    #[test]
    fn block_hash_ignores_round_and_seals_seal_hash_ignores_only_seals() {
        for mode in [BftMode::Qbft, BftMode::Ibft2] {
            let base = sample(0);
            let mut sealed = sample(3);
            sealed.round = base.round;
            let mut other_round = base.clone();
            other_round.round = 0;
            let h_base = header_with(mode, &base);
            let h_sealed = header_with(mode, &sealed);
            let h_round = header_with(mode, &other_round);
            assert_eq!(
                bft_block_hash(mode, &h_base).unwrap(),
                bft_block_hash(mode, &h_sealed).unwrap()
            );
            assert_eq!(
                bft_block_hash(mode, &h_base).unwrap(),
                bft_block_hash(mode, &h_round).unwrap()
            );
            assert_eq!(
                committed_seal_hash(mode, &h_base).unwrap(),
                committed_seal_hash(mode, &h_sealed).unwrap()
            );
            assert_ne!(
                committed_seal_hash(mode, &h_base).unwrap(),
                committed_seal_hash(mode, &h_round).unwrap()
            );
            // Not the plain Ethereum hash of the sealed header.
            assert_ne!(
                bft_block_hash(mode, &h_sealed).unwrap(),
                h_sealed.hash_slow()
            );
            // The vote is covered by both.
            let mut voted = base.clone();
            voted.vote.as_mut().unwrap().add = true;
            assert_ne!(
                bft_block_hash(mode, &header_with(mode, &voted)).unwrap(),
                bft_block_hash(mode, &h_base).unwrap()
            );
        }
    }

    #[test]
    fn committers_are_recovered_and_checked_against_the_validators() {
        let mode = BftMode::Qbft;
        let signers: Vec<PrivateKeySigner> = (1..=4u8)
            .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
            .collect();
        let validators: Vec<Address> = signers.iter().map(|s| s.address()).collect();
        let mut extra = BftExtraData::genesis(validators.clone());
        let header = header_with(mode, &extra);
        let hash = committed_seal_hash(mode, &header).unwrap();
        extra.seals = signers[..3]
            .iter()
            .map(|s| s.sign_hash_sync(&hash).unwrap())
            .collect();
        let sealed = header_with(mode, &extra);
        let committers = verify_committed_seals(mode, &sealed, &validators).unwrap();
        assert_eq!(committers, validators[..3].to_vec());

        // Two seals: below the quorum of 3.
        let mut short = extra.clone();
        short.seals.truncate(2);
        assert!(matches!(
            verify_committed_seals(mode, &header_with(mode, &short), &validators),
            Err(ExtraDataError::NotEnoughSeals {
                got: 2,
                quorum: 3,
                ..
            })
        ));
        // A duplicated seal does not count twice.
        let mut dup = extra.clone();
        dup.seals[2] = dup.seals[0];
        assert!(matches!(
            verify_committed_seals(mode, &header_with(mode, &dup), &validators),
            Err(ExtraDataError::DuplicateSeal { .. })
        ));
        // A seal by an outsider.
        let outsider = PrivateKeySigner::from_bytes(&B256::repeat_byte(9)).unwrap();
        let mut forged = extra.clone();
        forged.seals[1] = outsider.sign_hash_sync(&hash).unwrap();
        assert!(matches!(
            verify_committed_seals(mode, &header_with(mode, &forged), &validators),
            Err(ExtraDataError::SealByNonValidator { index: 1, .. })
        ));
        // A seal over another hash recovers to some unrelated address.
        let mut wrong_hash = extra;
        wrong_hash.seals[0] = signers[0].sign_hash_sync(&B256::repeat_byte(1)).unwrap();
        assert!(
            verify_committed_seals(mode, &header_with(mode, &wrong_hash), &validators).is_err()
        );
    }

    #[test]
    fn malformed_extra_data_is_refused_with_a_reason() {
        for bad in [
            "",
            "0xc0",
            "0xf8",
            "0xe1a00000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let raw = hex::decode(bad).unwrap();
            for mode in [BftMode::Qbft, BftMode::Ibft2] {
                let err = BftExtraData::decode(mode, &raw).unwrap_err();
                assert!(err.to_string().contains("malformed BFT extraData"), "{err}");
            }
        }
        // A vote value other than add/remove.
        let mut extra = sample(0);
        extra.vote = Some(Vote {
            recipient: Address::ZERO,
            add: true,
        });
        let mut raw = extra.encode(BftMode::Qbft).to_vec();
        let pos = raw.windows(2).position(|w| w == [0x81, 0xff]).unwrap();
        raw[pos + 1] = 0x99;
        let err = BftExtraData::decode(BftMode::Qbft, &raw).unwrap_err();
        assert!(err.to_string().contains("vote value"), "{err}");
    }
}
