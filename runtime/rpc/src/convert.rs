//! The runtime's blocks, transactions, receipts and logs in alloy's RPC
//! shapes, which every Ethereum client parses.

use alloy::{
    consensus::{
        Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, transaction::Recovered,
    },
    primitives::{TxKind, U256},
    rpc::types::{
        Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt, TransactionRequest,
    },
};
use forja_runtime::{CallRequest, SealedBlock, TxReceipt, TxRef};

/// A transaction as `eth_getTransactionByHash` shows it; block fields are
/// `None` while it is pending.
pub(crate) fn rpc_transaction(tx: &TxRef, block: Option<(&SealedBlock, u64)>) -> Transaction {
    let base_fee = block.and_then(|(b, _)| b.header.base_fee_per_gas);
    Transaction {
        inner: Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
        block_hash: block.map(|(b, _)| b.hash),
        block_number: block.map(|(b, _)| b.number()),
        transaction_index: block.map(|(_, index)| index),
        effective_gas_price: block.map(|_| tx.envelope.effective_gas_price(base_fee)),
        block_timestamp: block.map(|(b, _)| b.header.timestamp),
    }
}

pub(crate) fn rpc_header(block: &SealedBlock) -> Header {
    Header {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::from(block.number() + 1)),
        size: Some(U256::from(block.size)),
    }
}

pub(crate) fn rpc_block(block: &SealedBlock, full: bool) -> Block {
    let transactions = if full {
        BlockTransactions::Full(
            block
                .transactions
                .iter()
                .enumerate()
                .map(|(i, tx)| rpc_transaction(tx, Some((block, i as u64))))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(block.transactions.iter().map(|tx| tx.hash).collect())
    };
    Block {
        header: rpc_header(block),
        uncles: Vec::new(),
        transactions,
        withdrawals: None,
    }
}

/// The logs of one receipt with their positions in the chain.
pub(crate) fn rpc_logs(receipt: &TxReceipt, block_timestamp: Option<u64>) -> Vec<Log> {
    receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(i, log)| Log {
            inner: log.clone(),
            block_hash: Some(receipt.block_hash),
            block_number: Some(receipt.block_number),
            block_timestamp,
            transaction_hash: Some(receipt.transaction_hash),
            transaction_index: Some(receipt.transaction_index),
            log_index: Some(receipt.first_log_index + i as u64),
            removed: false,
        })
        .collect()
}

pub(crate) fn rpc_receipt(receipt: &TxReceipt, block_timestamp: Option<u64>) -> TransactionReceipt {
    let logs = rpc_logs(receipt, block_timestamp);
    let with_bloom = |r: &ReceiptWithBloom<Receipt<alloy::primitives::Log>>| ReceiptWithBloom {
        receipt: Receipt {
            status: r.receipt.status,
            cumulative_gas_used: r.receipt.cumulative_gas_used,
            logs: logs.clone(),
        },
        logs_bloom: r.logs_bloom,
    };
    let inner = match &receipt.receipt {
        ReceiptEnvelope::Legacy(r) => ReceiptEnvelope::Legacy(with_bloom(r)),
        ReceiptEnvelope::Eip2930(r) => ReceiptEnvelope::Eip2930(with_bloom(r)),
        ReceiptEnvelope::Eip1559(r) => ReceiptEnvelope::Eip1559(with_bloom(r)),
        ReceiptEnvelope::Eip4844(r) => ReceiptEnvelope::Eip4844(with_bloom(r)),
        ReceiptEnvelope::Eip7702(r) => ReceiptEnvelope::Eip7702(with_bloom(r)),
    };
    TransactionReceipt {
        inner,
        transaction_hash: receipt.transaction_hash,
        transaction_index: Some(receipt.transaction_index),
        block_hash: Some(receipt.block_hash),
        block_number: Some(receipt.block_number),
        gas_used: receipt.gas_used,
        effective_gas_price: receipt.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: receipt.from,
        to: receipt.to,
        contract_address: receipt.contract_address,
    }
}

/// An `eth_call`-style request in the runtime's terms.
pub(crate) fn call_request(request: &TransactionRequest) -> CallRequest {
    CallRequest {
        from: request.from,
        to: match request.to {
            Some(TxKind::Call(to)) => Some(to),
            _ => None,
        },
        gas: request.gas,
        gas_price: request.gas_price.or(request.max_fee_per_gas),
        value: request.value,
        input: request.input.input().cloned().unwrap_or_default(),
        nonce: request.nonce,
        access_list: request.access_list.clone(),
    }
}
