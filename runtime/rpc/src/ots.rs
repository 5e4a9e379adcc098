//! Otterscan's API (`ots_*`, API level 8, the one Otterscan requires) and
//! `erigon_getHeaderByNumber`, which Otterscan's connection probe calls,
//! in alloy's otterscan result types. Both are the `OTS` API group.
//!
//! Semantics follow Erigon, Otterscan's reference node: parameters that are
//! block numbers, nonces and page sizes may be JSON numbers (what Otterscan
//! sends) or hex quantities; a block that does not exist is `null`;
//! `ots_getBlockTransactions` counts pages from the block's end, as Erigon
//! does (Otterscan shows them newest first). BFT blocks issue nothing, so
//! `issuance` is zero; `totalFees` is what the senders paid.
//!
//! Address searches read the index in `ots/index.rs`, which a background
//! task keeps at the chain's head; a search first brings it there itself,
//! so it always covers every committed block.

pub(crate) mod index;

use std::sync::Arc;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    rpc::types::{
        BlockTransactions, Transaction,
        trace::otterscan::{
            BlockDetails, ContractCreator, InternalIssuance, OtsBlock, OtsBlockTransactions,
            OtsReceipt, OtsTransactionReceipt, TransactionsWithReceipts,
        },
    },
};
use forja_runtime::{SealedBlock, TxReceipt, execution::CallLimits, trace::otterscan::OtsTrace};
use jsonrpsee::{RpcModule, types::Params};
use serde_json::Value;

use crate::{
    context::{RpcContext, executing, method},
    convert::{rpc_block, rpc_header, rpc_receipt, rpc_transaction},
    error::{RpcResult, internal_error, invalid_params, node_error, not_found, server_error},
    hex::Hex,
};
use index::{Direction, OtsIndex, TxPosition};

/// The Otterscan API level served: what Otterscan 2.x requires
/// (`MIN_API_LEVEL` in its `params.ts`).
pub(crate) const API_LEVEL: u64 = 8;

/// Largest page a search or `ots_getBlockTransactions` returns (Otterscan
/// asks for 25), so one request cannot make the node assemble the whole
/// chain.
pub(crate) const MAX_PAGE_SIZE: u64 = 1000;

/// Registered for nodes that can trace; the searches use the context's
/// `ots_index` (without one they answer that this server keeps none).
pub(crate) fn register(module: &mut RpcModule<RpcContext>) {
    method(module, "ots_getApiLevel", |_, _| Ok(API_LEVEL));
    method(module, "erigon_getHeaderByNumber", |ctx, params| {
        let mut seq = params.sequence();
        let block: Value = seq.next()?;
        Ok(existing_block(ctx, &block, "block number")?.map(|b| rpc_header(&b)))
    });
    method(module, "ots_hasCode", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(address) = seq.next::<Hex<Address>>()?;
        let block: Option<Value> = seq.optional_next()?;
        let number = match block {
            Some(block) => block_number(ctx, &block, "block")?,
            None => ctx.node.block_number(),
        };
        let code = ctx.node.code(address, number).map_err(node_error)?;
        Ok(!code.is_empty())
    });
    executing(module, "ots_getInternalOperations", |ctx, params| {
        Ok(ots_trace(ctx, params)?.operations)
    });
    executing(module, "ots_traceTransaction", |ctx, params| {
        Ok(ots_trace(ctx, params)?.entries)
    });
    executing(module, "ots_getTransactionError", |ctx, params| {
        // A success has no error data: no need to run it again.
        if let Ok(Hex(hash)) = params.sequence().next::<Hex<B256>>()
            && ctx.node.receipt(hash).is_some_and(|r| r.status())
        {
            return Ok(alloy::primitives::Bytes::new());
        }
        Ok(ots_trace(ctx, params)?.error_data())
    });
    method(module, "ots_getBlockDetails", |ctx, params| {
        let mut seq = params.sequence();
        let block: Value = seq.next()?;
        Ok(existing_block(ctx, &block, "block number")?.map(|b| block_details(ctx, &b)))
    });
    method(module, "ots_getBlockDetailsByHash", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(hash) = seq.next::<Hex<B256>>()?;
        Ok(ctx.node.block_by_hash(hash).map(|b| block_details(ctx, &b)))
    });
    method(module, "ots_getBlockTransactions", |ctx, params| {
        let mut seq = params.sequence();
        let block: Value = seq.next()?;
        let page = quantity(&seq.next::<Value>()?, "page number")?;
        let page_size = page_size(&seq.next::<Value>()?)?;
        let block = existing_block(ctx, &block, "block number")?
            .ok_or_else(|| not_found("block not found"))?;
        block_transactions(ctx, &block, page, page_size)
    });
    executing(module, "ots_searchTransactionsBefore", |ctx, params| {
        search(ctx, params, Direction::Before)
    });
    executing(module, "ots_searchTransactionsAfter", |ctx, params| {
        search(ctx, params, Direction::After)
    });
    executing(
        module,
        "ots_getTransactionBySenderAndNonce",
        |ctx, params| {
            let mut seq = params.sequence();
            let Hex(sender) = seq.next::<Hex<Address>>()?;
            let nonce = quantity(&seq.next::<Value>()?, "nonce")?;
            let index = caught_up_index(ctx)?;
            let found = index
                .by_sender_and_nonce(sender, nonce)
                .map_err(|e| server_error(e.to_string()))?;
            Ok(found.and_then(|position| {
                transaction_at(ctx, position).map(|(block, i)| block.transactions[i].hash)
            }))
        },
    );
    executing(module, "ots_getContractCreator", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(contract) = seq.next::<Hex<Address>>()?;
        // A destroyed contract (or an account that never was one) has none.
        let code = ctx
            .node
            .code(contract, ctx.node.block_number())
            .map_err(node_error)?;
        if code.is_empty() {
            return Ok(None);
        }
        let index = caught_up_index(ctx)?;
        let found = index
            .creation(contract)
            .map_err(|e| server_error(e.to_string()))?;
        Ok(found.and_then(|(position, creator)| {
            transaction_at(ctx, position).map(|(block, i)| ContractCreator {
                hash: block.transactions[i].hash,
                creator,
            })
        }))
    });
}

/// The Otterscan trace of the transaction named by the first parameter.
fn ots_trace(ctx: &RpcContext, params: Params<'_>) -> RpcResult<OtsTrace> {
    let mut seq = params.sequence();
    let Hex(hash) = seq.next::<Hex<B256>>()?;
    if ctx.node.transaction_by_hash(hash).is_none() {
        return Err(not_found(format!("transaction {hash} not found")));
    }
    let tracer = ctx
        .node
        .tracer()
        .ok_or_else(|| server_error("this node does not trace executions"))?;
    tracer
        .ots_trace_transaction(hash, &ctx.config.call_limits)
        .map_err(node_error)
}

/// A non-negative integer as Otterscan sends it (a JSON number) or as a
/// hex quantity.
fn quantity(value: &Value, what: &str) -> RpcResult<u64> {
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            invalid_params(format!("invalid {what}: {n} is not a non-negative integer"))
        }),
        Value::String(_) => serde_json::from_value::<Hex<alloy::primitives::U64>>(value.clone())
            .map(|Hex(n)| n.to::<u64>())
            .map_err(|e| invalid_params(format!("invalid {what}: {e}"))),
        other => Err(invalid_params(format!(
            "invalid {what}: expected a number or a hex quantity, got {other}"
        ))),
    }
}

fn page_size(value: &Value) -> RpcResult<usize> {
    let size = quantity(value, "page size")?;
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(invalid_params(format!(
            "invalid page size {size}: it must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    Ok(size as usize)
}

/// A block parameter: a JSON number, a hex quantity or a tag (`latest`,
/// `earliest`, ...). Numbers past the head are returned as they are.
fn block_number_or_future(ctx: &RpcContext, value: &Value, what: &str) -> RpcResult<u64> {
    if let Value::String(text) = value
        && !text.starts_with("0x")
        && !text.starts_with("0X")
    {
        let tag: Hex<BlockNumberOrTag> = serde_json::from_value(value.clone())
            .map_err(|e| invalid_params(format!("invalid {what}: {e}")))?;
        return ctx.resolve_tag(tag.into_inner(), ctx.node.block_number());
    }
    quantity(value, what)
}

/// [`block_number_or_future`], refusing a block past the head.
fn block_number(ctx: &RpcContext, value: &Value, what: &str) -> RpcResult<u64> {
    let number = block_number_or_future(ctx, value, what)?;
    ctx.resolve_tag(BlockNumberOrTag::Number(number), ctx.node.block_number())
}

/// The block a parameter names, `None` past the head (Erigon answers null).
fn existing_block(
    ctx: &RpcContext,
    value: &Value,
    what: &str,
) -> RpcResult<Option<Arc<SealedBlock>>> {
    let number = block_number_or_future(ctx, value, what)?;
    Ok(ctx.node.block_by_number(number))
}

fn receipts(ctx: &RpcContext, block: &SealedBlock) -> RpcResult<Arc<Vec<TxReceipt>>> {
    ctx.node.receipts_by_block(block.hash).ok_or_else(|| {
        internal_error(format!(
            "the receipts of block {} are missing",
            block.number()
        ))
    })
}

fn block_details(ctx: &RpcContext, block: &SealedBlock) -> BlockDetails {
    let total_fees = ctx
        .node
        .receipts_by_block(block.hash)
        .map(|receipts| {
            receipts
                .iter()
                .map(|r| U256::from(r.gas_used) * U256::from(r.effective_gas_price))
                .sum()
        })
        .unwrap_or_default();
    BlockDetails::new(
        rpc_block(block, false),
        InternalIssuance::default(),
        total_fees,
    )
}

fn ots_receipt(receipt: &TxReceipt, timestamp: u64) -> OtsTransactionReceipt {
    let receipt = rpc_receipt(receipt, Some(timestamp)).map_inner(|envelope| OtsReceipt {
        status: envelope.status(),
        cumulative_gas_used: envelope.cumulative_gas_used(),
        logs: None,
        logs_bloom: None,
        r#type: envelope.tx_type() as u8,
    });
    OtsTransactionReceipt {
        receipt,
        timestamp: Some(timestamp),
    }
}

/// Page `page` of a block's transactions counted from its end, as Erigon
/// pages them: page 0 holds the last `page_size` transactions.
fn block_transactions(
    ctx: &RpcContext,
    block: &SealedBlock,
    page: u64,
    page_size: usize,
) -> RpcResult<OtsBlockTransactions> {
    let count = block.transactions.len();
    let end = count.saturating_sub(
        usize::try_from(page)
            .unwrap_or(usize::MAX)
            .saturating_mul(page_size),
    );
    let start = end.saturating_sub(page_size);
    let receipts = receipts(ctx, block)?;
    let timestamp = block.header.timestamp;
    let transactions: Vec<Transaction> = (start..end)
        .map(|i| rpc_transaction(&block.transactions[i], Some((block, i as u64))))
        .collect();
    let mut fullblock = rpc_block(block, false);
    fullblock.transactions = BlockTransactions::Full(transactions);
    Ok(OtsBlockTransactions {
        fullblock: OtsBlock {
            block: fullblock,
            transaction_count: count,
        },
        receipts: receipts[start..end]
            .iter()
            .map(|r| ots_receipt(r, timestamp))
            .collect(),
    })
}

/// The index, brought up to the chain's head.
fn caught_up_index(ctx: &RpcContext) -> RpcResult<&OtsIndex> {
    let index = ctx
        .ots_index
        .as_deref()
        .ok_or_else(|| server_error("this server keeps no Otterscan address index"))?;
    index
        .catch_up(
            ctx.node.as_ref(),
            &CallLimits {
                timeout: None,
                ..ctx.config.call_limits
            },
        )
        .map_err(|e| server_error(e.to_string()))?;
    Ok(index)
}

/// The block and index of a transaction the index names, if the chain
/// still has it.
fn transaction_at(ctx: &RpcContext, position: TxPosition) -> Option<(Arc<SealedBlock>, usize)> {
    let block = ctx.node.block_by_number(position.block)?;
    let index = position.index as usize;
    (index < block.transactions.len()).then_some((block, index))
}

fn search(
    ctx: &RpcContext,
    params: Params<'_>,
    direction: fn(u64) -> Direction,
) -> RpcResult<TransactionsWithReceipts> {
    let mut seq = params.sequence();
    let Hex(address) = seq.next::<Hex<Address>>()?;
    let block = quantity(&seq.next::<Value>()?, "block number")?;
    let page_size = page_size(&seq.next::<Value>()?)?;
    let index = caught_up_index(ctx)?;
    let page = index
        .search(address, direction(block), page_size)
        .map_err(|e| server_error(e.to_string()))?;
    let mut txs = Vec::with_capacity(page.positions.len());
    let mut receipts = Vec::with_capacity(page.positions.len());
    for position in page.positions {
        let Some((block, i)) = transaction_at(ctx, position) else {
            continue;
        };
        let block_receipts = self::receipts(ctx, &block)?;
        txs.push(rpc_transaction(
            &block.transactions[i],
            Some((&block, i as u64)),
        ));
        receipts.push(ots_receipt(&block_receipts[i], block.header.timestamp));
    }
    Ok(TransactionsWithReceipts {
        txs,
        receipts,
        first_page: page.first_page,
        last_page: page.last_page,
    })
}
