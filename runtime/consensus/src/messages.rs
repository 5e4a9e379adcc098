//! Consensus messages: signed payloads, the four message kinds, and their
//! RLP wire encoding.
//!
//! Every message carries a [`SignedPayload`]: a small RLP payload
//! (kind, height, round, block digest, …) plus the sender's secp256k1
//! signature over `keccak256(rlp(payload))`. Blocks and justifications travel
//! next to the signed payload; the digest (the BFT block hash, see
//! [`crate::bft_block_hash`]) binds the block to the signature.

use alloy::consensus::Header;
use alloy::primitives::{Address, B256, Bytes, Signature, keccak256};
use alloy::rlp::{self, Decodable, Encodable};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;

use crate::extra_data::{BftMode, ExtraDataError, bft_block_hash};

/// A consensus instance: block height and round within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoundId {
    /// Block number being decided.
    pub height: u64,
    /// Round number, from 0.
    pub round: u32,
}

impl RoundId {
    /// Round `round` of height `height`.
    pub const fn new(height: u64, round: u32) -> Self {
        Self { height, round }
    }
}

/// A block as consensus sees it: a header it understands and a body it does
/// not (the runtime's encoded transactions). The engine only reads the
/// header, its BFT hash and its extraData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BftBlock {
    /// The Ethereum header; its extraData is BFT extraData.
    pub header: Header,
    /// Opaque body bytes, owned by the chain.
    pub body: Bytes,
}

impl BftBlock {
    /// Block from header and body.
    pub fn new(header: Header, body: Bytes) -> Self {
        Self { header, body }
    }

    /// Block number.
    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// The BFT block hash (seals and round excluded), which consensus
    /// messages use as the block's digest.
    pub fn hash(&self, mode: BftMode) -> Result<B256, ExtraDataError> {
        bft_block_hash(mode, &self.header)
    }
}

impl Encodable for BftBlock {
    fn encode(&self, out: &mut dyn rlp::BufMut) {
        let len = self.header.length() + self.body.length();
        rlp::Header {
            list: true,
            payload_length: len,
        }
        .encode(out);
        self.header.encode(out);
        self.body.encode(out);
    }
    fn length(&self) -> usize {
        let len = self.header.length() + self.body.length();
        len + rlp::length_of_length(len)
    }
}

impl Decodable for BftBlock {
    fn decode(buf: &mut &[u8]) -> rlp::Result<Self> {
        let mut body = rlp::Header::decode_bytes(buf, true)?;
        let header = Header::decode(&mut body)?;
        let block_body = Bytes::decode(&mut body)?;
        if !body.is_empty() {
            return Err(rlp::Error::Custom("trailing items in block"));
        }
        Ok(Self {
            header,
            body: block_body,
        })
    }
}

/// A round a node prepared a block in, as claimed in its round change.
/// Ordered by round first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PreparedRound {
    /// Round in which the block was prepared.
    pub round: u32,
    /// BFT hash of the prepared block.
    pub digest: B256,
}

/// What a validator signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The round's proposer proposes the block with hash `digest`.
    Proposal {
        /// Height and round.
        id: RoundId,
        /// Proposed block's BFT hash.
        digest: B256,
    },
    /// The sender accepted the proposal `digest`.
    Prepare {
        /// Height and round.
        id: RoundId,
        /// Proposed block's BFT hash.
        digest: B256,
    },
    /// The sender saw a prepare quorum for `digest` and commits to it.
    Commit {
        /// Height and round.
        id: RoundId,
        /// Proposed block's BFT hash.
        digest: B256,
        /// Committed seal over [`crate::committed_seal_hash`] of the block with
        /// `id.round` in its extraData.
        seal: Signature,
    },
    /// The sender moves to round `id.round`.
    RoundChange {
        /// Height and the round being moved to.
        id: RoundId,
        /// The latest round the sender prepared a block in, if any.
        prepared: Option<PreparedRound>,
    },
}

const KIND_PROPOSAL: u8 = 0;
const KIND_PREPARE: u8 = 1;
const KIND_COMMIT: u8 = 2;
const KIND_ROUND_CHANGE: u8 = 3;

impl Payload {
    /// Height and round the payload belongs to.
    pub fn id(&self) -> RoundId {
        match self {
            Payload::Proposal { id, .. }
            | Payload::Prepare { id, .. }
            | Payload::Commit { id, .. }
            | Payload::RoundChange { id, .. } => *id,
        }
    }

    /// Block digest the payload refers to (none for a round change).
    pub fn digest(&self) -> Option<B256> {
        match self {
            Payload::Proposal { digest, .. }
            | Payload::Prepare { digest, .. }
            | Payload::Commit { digest, .. } => Some(*digest),
            Payload::RoundChange { .. } => None,
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Payload::Proposal { .. } => KIND_PROPOSAL,
            Payload::Prepare { .. } => KIND_PREPARE,
            Payload::Commit { .. } => KIND_COMMIT,
            Payload::RoundChange { .. } => KIND_ROUND_CHANGE,
        }
    }

    fn encode_fields(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let id = self.id();
        self.kind().encode(&mut out);
        id.height.encode(&mut out);
        id.round.encode(&mut out);
        match self {
            Payload::Proposal { digest, .. } | Payload::Prepare { digest, .. } => {
                digest.encode(&mut out)
            }
            Payload::Commit { digest, seal, .. } => {
                digest.encode(&mut out);
                seal.as_rsy().as_slice().encode(&mut out);
            }
            Payload::RoundChange { prepared, .. } => {
                // Absent prepared round: empty list, as QBFT's RoundChangePayload does.
                let mut inner = Vec::new();
                if let Some(prepared) = prepared {
                    prepared.round.encode(&mut inner);
                    prepared.digest.encode(&mut inner);
                }
                rlp::Header {
                    list: true,
                    payload_length: inner.len(),
                }
                .encode(&mut out);
                out.extend_from_slice(&inner);
            }
        }
        out
    }

    /// The payload's RLP encoding.
    pub fn rlp(&self) -> Vec<u8> {
        let fields = self.encode_fields();
        let mut out = Vec::with_capacity(fields.len() + 3);
        rlp::Header {
            list: true,
            payload_length: fields.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&fields);
        out
    }

    /// The hash a sender signs.
    pub fn signing_hash(&self) -> B256 {
        keccak256(self.rlp())
    }

    fn decode(buf: &mut &[u8]) -> rlp::Result<Self> {
        let mut body = rlp::Header::decode_bytes(buf, true)?;
        let kind = u8::decode(&mut body)?;
        let id = RoundId {
            height: u64::decode(&mut body)?,
            round: u32::decode(&mut body)?,
        };
        let payload = match kind {
            KIND_PROPOSAL => Payload::Proposal {
                id,
                digest: B256::decode(&mut body)?,
            },
            KIND_PREPARE => Payload::Prepare {
                id,
                digest: B256::decode(&mut body)?,
            },
            KIND_COMMIT => {
                let digest = B256::decode(&mut body)?;
                let raw = rlp::Header::decode_bytes(&mut body, false)?;
                let seal = Signature::from_raw(raw)
                    .map_err(|_| rlp::Error::Custom("commit seal is not 65 bytes r||s||v"))?;
                Payload::Commit { id, digest, seal }
            }
            KIND_ROUND_CHANGE => {
                let mut inner = rlp::Header::decode_bytes(&mut body, true)?;
                let prepared = if inner.is_empty() {
                    None
                } else {
                    let round = u32::decode(&mut inner)?;
                    let digest = B256::decode(&mut inner)?;
                    if !inner.is_empty() {
                        return Err(rlp::Error::Custom("trailing items in prepared round"));
                    }
                    Some(PreparedRound { round, digest })
                };
                Payload::RoundChange { id, prepared }
            }
            _ => return Err(rlp::Error::Custom("unknown consensus payload kind")),
        };
        if !body.is_empty() {
            return Err(rlp::Error::Custom("trailing items in consensus payload"));
        }
        Ok(payload)
    }
}

/// A payload with its author's signature. The author is recovered once, on
/// creation or decoding, and cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPayload {
    payload: Payload,
    signature: Signature,
    pub(crate) author: Address,
}

impl SignedPayload {
    /// Signs `payload` with `signer`.
    pub fn sign(payload: Payload, signer: &PrivateKeySigner) -> Self {
        let signature = signer
            .sign_hash_sync(&payload.signing_hash())
            .expect("signing a 32-byte hash with a local secp256k1 key cannot fail");
        Self {
            payload,
            signature,
            author: signer.address(),
        }
    }

    /// Rebuilds a signed payload from its parts, recovering the author.
    pub fn from_parts(payload: Payload, signature: Signature) -> Result<Self, MessageError> {
        let author = signature
            .recover_address_from_prehash(&payload.signing_hash())
            .map_err(|_| MessageError::BadSignature)?;
        Ok(Self {
            payload,
            signature,
            author,
        })
    }

    /// The signed payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The address that signed the payload.
    pub fn author(&self) -> Address {
        self.author
    }

    /// Height and round.
    pub fn id(&self) -> RoundId {
        self.payload.id()
    }
}

impl Encodable for SignedPayload {
    fn encode(&self, out: &mut dyn rlp::BufMut) {
        let payload = self.payload.rlp();
        let signature = self.signature.as_rsy();
        let len = payload.len() + signature.as_slice().length();
        rlp::Header {
            list: true,
            payload_length: len,
        }
        .encode(out);
        out.put_slice(&payload);
        signature.as_slice().encode(out);
    }
}

impl Decodable for SignedPayload {
    fn decode(buf: &mut &[u8]) -> rlp::Result<Self> {
        let mut body = rlp::Header::decode_bytes(buf, true)?;
        let payload = Payload::decode(&mut body)?;
        let raw = rlp::Header::decode_bytes(&mut body, false)?;
        if !body.is_empty() {
            return Err(rlp::Error::Custom("trailing items in signed payload"));
        }
        let signature = Signature::from_raw(raw)
            .map_err(|_| rlp::Error::Custom("signature is not 65 bytes r||s||v"))?;
        Self::from_parts(payload, signature)
            .map_err(|_| rlp::Error::Custom("signature does not recover to a key"))
    }
}

/// Evidence that a block was prepared in a round: the signed proposal and
/// the prepares for it. Valid when the proposal's author (the round's
/// proposer) and the prepare authors together are a quorum of validators
/// (QBFT proposers also send a prepare, so there the prepares alone are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedCertificate {
    /// The proposal of the prepared round (payload only, no block).
    pub proposal: SignedPayload,
    /// Prepares for the proposal's digest in that round.
    pub prepares: Vec<SignedPayload>,
}

impl Encodable for PreparedCertificate {
    fn encode(&self, out: &mut dyn rlp::BufMut) {
        let mut inner = Vec::new();
        self.proposal.encode(&mut inner);
        self.prepares.encode(&mut inner);
        rlp::Header {
            list: true,
            payload_length: inner.len(),
        }
        .encode(out);
        out.put_slice(&inner);
    }
}

impl Decodable for PreparedCertificate {
    fn decode(buf: &mut &[u8]) -> rlp::Result<Self> {
        let mut body = rlp::Header::decode_bytes(buf, true)?;
        let proposal = SignedPayload::decode(&mut body)?;
        let prepares = Vec::<SignedPayload>::decode(&mut body)?;
        if !body.is_empty() {
            return Err(rlp::Error::Custom("trailing items in prepared certificate"));
        }
        Ok(Self { proposal, prepares })
    }
}

/// A proposal: the signed [`Payload::Proposal`], the block, and for rounds
/// above 0 the justification (a quorum of round changes for this round, and
/// the prepared certificate of the highest prepared round among them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Signed proposal payload.
    pub signed: SignedPayload,
    /// The proposed block (extraData round = proposal round, no seals).
    pub block: BftBlock,
    /// Round changes justifying a round above 0.
    pub round_changes: Vec<SignedPayload>,
    /// Certificate for the re-proposed block, when a round change carried one.
    pub prepared: Option<PreparedCertificate>,
}

/// A round change: the signed [`Payload::RoundChange`] and, when the sender
/// prepared a block earlier at this height, that block and its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundChange {
    /// Signed round-change payload.
    pub signed: SignedPayload,
    /// Prepared block and its certificate, matching `signed`'s prepared round.
    pub prepared: Option<(BftBlock, PreparedCertificate)>,
}

/// A consensus message as it travels between validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A block proposal.
    Proposal(Proposal),
    /// A prepare ([`Payload::Prepare`]).
    Prepare(SignedPayload),
    /// A commit with its seal ([`Payload::Commit`]).
    Commit(SignedPayload),
    /// A round change.
    RoundChange(RoundChange),
}

/// Errors decoding or authenticating a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not a consensus message.
    #[error("malformed consensus message: {0}")]
    Malformed(String),
    /// The signature does not recover to a public key.
    #[error("consensus message signature is invalid")]
    BadSignature,
    /// The message's kind does not match its signed payload.
    #[error("consensus message kind does not match its signed payload")]
    KindMismatch,
}

impl Message {
    /// The message's signed payload.
    pub fn signed(&self) -> &SignedPayload {
        match self {
            Message::Proposal(p) => &p.signed,
            Message::Prepare(s) | Message::Commit(s) => s,
            Message::RoundChange(rc) => &rc.signed,
        }
    }

    /// Author (recovered signer).
    pub fn author(&self) -> Address {
        self.signed().author()
    }

    /// Height and round.
    pub fn id(&self) -> RoundId {
        self.signed().id()
    }

    /// Wire encoding: RLP `[code, ...]`, code 0 proposal, 1 prepare, 2
    /// commit, 3 round change.
    pub fn encode(&self) -> Bytes {
        let mut inner = Vec::with_capacity(256);
        match self {
            Message::Proposal(p) => {
                KIND_PROPOSAL.encode(&mut inner);
                p.signed.encode(&mut inner);
                p.block.encode(&mut inner);
                p.round_changes.encode(&mut inner);
                encode_option(&p.prepared, &mut inner);
            }
            Message::Prepare(s) => {
                KIND_PREPARE.encode(&mut inner);
                s.encode(&mut inner);
            }
            Message::Commit(s) => {
                KIND_COMMIT.encode(&mut inner);
                s.encode(&mut inner);
            }
            Message::RoundChange(rc) => {
                KIND_ROUND_CHANGE.encode(&mut inner);
                rc.signed.encode(&mut inner);
                match &rc.prepared {
                    None => inner.push(rlp::EMPTY_LIST_CODE),
                    Some((block, cert)) => {
                        let mut pair = Vec::new();
                        block.encode(&mut pair);
                        cert.encode(&mut pair);
                        rlp::Header {
                            list: true,
                            payload_length: pair.len(),
                        }
                        .encode(&mut inner);
                        inner.extend_from_slice(&pair);
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(inner.len() + 4);
        rlp::Header {
            list: true,
            payload_length: inner.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&inner);
        out.into()
    }

    /// Decodes a message and recovers the authors of every signature in it.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let mut buf = bytes;
        let message =
            Self::decode_inner(&mut buf).map_err(|e| MessageError::Malformed(e.to_string()))?;
        if !buf.is_empty() {
            return Err(MessageError::Malformed(
                "trailing bytes after the message".into(),
            ));
        }
        let kind_matches = matches!(
            (&message, message.signed().payload()),
            (Message::Proposal(_), Payload::Proposal { .. })
                | (Message::Prepare(_), Payload::Prepare { .. })
                | (Message::Commit(_), Payload::Commit { .. })
                | (Message::RoundChange(_), Payload::RoundChange { .. })
        );
        if !kind_matches {
            return Err(MessageError::KindMismatch);
        }
        Ok(message)
    }

    fn decode_inner(buf: &mut &[u8]) -> rlp::Result<Self> {
        let mut body = rlp::Header::decode_bytes(buf, true)?;
        let kind = u8::decode(&mut body)?;
        let message = match kind {
            KIND_PROPOSAL => {
                let signed = SignedPayload::decode(&mut body)?;
                let block = BftBlock::decode(&mut body)?;
                let round_changes = Vec::<SignedPayload>::decode(&mut body)?;
                let prepared = decode_option::<PreparedCertificate>(&mut body)?;
                Message::Proposal(Proposal {
                    signed,
                    block,
                    round_changes,
                    prepared,
                })
            }
            KIND_PREPARE => Message::Prepare(SignedPayload::decode(&mut body)?),
            KIND_COMMIT => Message::Commit(SignedPayload::decode(&mut body)?),
            KIND_ROUND_CHANGE => {
                let signed = SignedPayload::decode(&mut body)?;
                let mut pair = rlp::Header::decode_bytes(&mut body, true)?;
                let prepared = if pair.is_empty() {
                    None
                } else {
                    let block = BftBlock::decode(&mut pair)?;
                    let cert = PreparedCertificate::decode(&mut pair)?;
                    if !pair.is_empty() {
                        return Err(rlp::Error::Custom("trailing items in round change"));
                    }
                    Some((block, cert))
                };
                Message::RoundChange(RoundChange { signed, prepared })
            }
            _ => return Err(rlp::Error::Custom("unknown consensus message code")),
        };
        if !body.is_empty() {
            return Err(rlp::Error::Custom("trailing items in consensus message"));
        }
        Ok(message)
    }
}

/// `None` as an empty list, `Some(x)` as a one-item list.
fn encode_option<T: Encodable>(value: &Option<T>, out: &mut Vec<u8>) {
    let mut inner = Vec::new();
    if let Some(value) = value {
        value.encode(&mut inner);
    }
    rlp::Header {
        list: true,
        payload_length: inner.len(),
    }
    .encode(out);
    out.extend_from_slice(&inner);
}

fn decode_option<T: Decodable>(buf: &mut &[u8]) -> rlp::Result<Option<T>> {
    let mut inner = rlp::Header::decode_bytes(buf, true)?;
    if inner.is_empty() {
        return Ok(None);
    }
    let value = T::decode(&mut inner)?;
    if !inner.is_empty() {
        return Err(rlp::Error::Custom(
            "optional field holds more than one item",
        ));
    }
    Ok(Some(value))
}

/// Signs the committed seal for `header` (which must carry the commit round
/// in its extraData).
pub fn sign_committed_seal(
    mode: BftMode,
    header: &Header,
    signer: &PrivateKeySigner,
) -> Result<Signature, ExtraDataError> {
    let hash = crate::extra_data::committed_seal_hash(mode, header)?;
    Ok(signer
        .sign_hash_sync(&hash)
        .expect("signing a 32-byte hash with a local secp256k1 key cannot fail"))
}
