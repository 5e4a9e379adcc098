//! Blocks, transactions with their senders, and receipts.

use std::sync::Arc;

use alloy::{
    consensus::{Header, ReceiptEnvelope, Transaction, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, Log, TxKind},
};

/// A transaction whose signature has been checked, with its sender and hash.
/// Shared (`Arc`) between the pools and blocks of every node in the process,
/// so a signature is recovered once, where the transaction enters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    pub envelope: TxEnvelope,
    pub sender: Address,
    pub hash: B256,
    /// Length of the EIP-2718 encoding.
    pub encoded_len: usize,
}

pub type TxRef = Arc<SignedTx>;

impl SignedTx {
    /// Wraps a transaction whose sender was recovered by the caller.
    pub fn new(envelope: TxEnvelope, sender: Address) -> Self {
        let hash = *envelope.tx_hash();
        let encoded_len = envelope.encode_2718_len();
        Self {
            envelope,
            sender,
            hash,
            encoded_len,
        }
    }

    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }

    pub fn kind(&self) -> TxKind {
        self.envelope.kind()
    }

    pub fn input(&self) -> &Bytes {
        self.envelope.input()
    }
}

/// A block with its hash, as every node stores and serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBlock {
    pub header: Header,
    pub hash: B256,
    pub transactions: Vec<TxRef>,
    /// RLP size of the whole block (header, transactions, empty ommers).
    pub size: usize,
}

impl SealedBlock {
    /// A block whose hash is the plain Ethereum header hash.
    pub fn new(header: Header, transactions: Vec<TxRef>) -> Self {
        let hash = header.hash_slow();
        Self::with_hash(header, hash, transactions)
    }

    /// A block with a hash computed by its consensus (BFT blocks hash
    /// without their committed seals and round).
    pub fn with_hash(header: Header, hash: B256, transactions: Vec<TxRef>) -> Self {
        let body_len: usize = transactions.iter().map(|t| t.encoded_len + 4).sum();
        let size = alloy::rlp::Encodable::length(&header) + body_len + 8;
        Self {
            header,
            hash,
            transactions,
            size,
        }
    }

    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// The block in alloy's consensus form (for encoding and export).
    pub fn to_consensus(&self) -> alloy::consensus::Block<TxEnvelope> {
        alloy::consensus::Block {
            header: self.header.clone(),
            body: alloy::consensus::BlockBody {
                transactions: self
                    .transactions
                    .iter()
                    .map(|t| t.envelope.clone())
                    .collect(),
                ommers: Vec::new(),
                withdrawals: None,
            },
        }
    }
}

/// A transaction's receipt with the data an RPC layer needs around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxReceipt {
    /// Consensus receipt: status, cumulative gas, logs, bloom.
    pub receipt: ReceiptEnvelope<Log>,
    pub transaction_hash: B256,
    pub transaction_index: u64,
    pub block_hash: B256,
    pub block_number: u64,
    pub from: Address,
    pub to: Option<Address>,
    pub gas_used: u64,
    pub effective_gas_price: u128,
    pub contract_address: Option<Address>,
    /// Block-wide index of this receipt's first log.
    pub first_log_index: u64,
}

impl TxReceipt {
    pub fn status(&self) -> bool {
        self.receipt.status()
    }

    pub fn cumulative_gas_used(&self) -> u64 {
        self.receipt.cumulative_gas_used()
    }

    pub fn logs(&self) -> &[Log] {
        self.receipt.logs()
    }
}

/// Where a transaction sits in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub transaction: TxRef,
    pub block_hash: B256,
    pub block_number: u64,
    pub index: u64,
}
