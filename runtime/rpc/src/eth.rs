//! `eth_*`, `net_*`, `web3_*` and `txpool_*`.

use std::collections::BTreeMap;

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::{BlockId, BlockNumberOrTag, eip1559::BaseFeeParams, eip2718::Encodable2718},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U64, U256, keccak256},
    rpc::types::{
        FeeHistory, Filter, FilterBlockOption, Log, SyncStatus, Transaction, TransactionReceipt,
        TransactionRequest,
    },
    signers::SignerSync,
};
use jsonrpsee::{RpcModule, types::Params};
use serde_json::{Value, json};

use crate::{
    context::{RpcContext, executing, method},
    convert::{call_request, rpc_block, rpc_logs, rpc_receipt, rpc_transaction},
    error::{
        RpcResult, execution_reverted, invalid_params, node_error, not_found, server_error,
        tx_error,
    },
    hex::Hex,
};

/// Most blocks one `eth_getLogs` may scan, as Besu and Geth limit it.
pub(crate) const MAX_LOG_RANGE: u64 = 10_000;
/// Most blocks one `eth_feeHistory` may cover.
const MAX_FEE_HISTORY: u64 = 1024;

pub(crate) fn register(module: &mut RpcModule<RpcContext>) {
    method(module, "eth_chainId", |ctx, _| {
        Ok(U64::from(ctx.node.chain_id()))
    });
    method(module, "net_version", |ctx, _| {
        Ok(ctx.node.chain_id().to_string())
    });
    method(module, "net_listening", |_, _| Ok(true));
    method(module, "net_peerCount", |ctx, _| {
        Ok(U64::from(ctx.node.peers().len()))
    });
    method(module, "web3_clientVersion", |ctx, _| {
        Ok(ctx.config.client_version.clone())
    });
    method(module, "web3_sha3", |_, params| {
        let Hex(data) = params.one::<Hex<Bytes>>()?;
        Ok(keccak256(&data))
    });
    method(module, "eth_syncing", |_, _| Ok(SyncStatus::None));
    method(module, "eth_mining", |_, _| Ok(true));
    method(module, "eth_accounts", |ctx, _| {
        Ok(ctx
            .config
            .dev_accounts
            .iter()
            .map(|s| s.address())
            .collect::<Vec<_>>())
    });
    method(module, "eth_blockNumber", |ctx, _| {
        Ok(U64::from(ctx.node.block_number()))
    });
    method(module, "eth_gasPrice", |ctx, _| {
        Ok(U256::from(gas_price(ctx)))
    });
    method(module, "eth_maxPriorityFeePerGas", |ctx, _| {
        Ok(U256::from(ctx.node.min_gas_price()))
    });
    method(module, "eth_feeHistory", fee_history);

    method(module, "eth_getBalance", |ctx, params| {
        let (address, block) = address_and_block(&params)?;
        ctx.node
            .balance(address, ctx.resolve_block(block)?)
            .map_err(node_error)
    });
    method(module, "eth_getCode", |ctx, params| {
        let (address, block) = address_and_block(&params)?;
        ctx.node
            .code(address, ctx.resolve_block(block)?)
            .map_err(node_error)
    });
    method(module, "eth_getTransactionCount", |ctx, params| {
        let (address, block) = address_and_block(&params)?;
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(ctx.node.pending_nonce(address)));
        }
        let number = ctx.resolve_block(block)?;
        ctx.node
            .nonce(address, number)
            .map(U64::from)
            .map_err(node_error)
    });
    method(module, "eth_getStorageAt", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(address) = seq.next::<Hex<Address>>()?;
        // A storage key is 32 bytes of DATA that clients pad with zeros.
        let slot: U256 = seq.next()?;
        let block = seq.optional_next::<Hex<BlockId>>()?.map(Hex::into_inner);
        let value = ctx
            .node
            .storage(address, slot, ctx.resolve_block(block)?)
            .map_err(node_error)?;
        Ok(B256::from(value))
    });

    method(module, "eth_getBlockByNumber", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(tag) = seq.next::<Hex<BlockNumberOrTag>>()?;
        let full: bool = seq.optional_next()?.unwrap_or(false);
        let head = ctx.node.block_number();
        let number = match tag {
            BlockNumberOrTag::Number(n) if n > head => return Ok(None),
            tag => ctx.resolve_tag(tag, head)?,
        };
        Ok(ctx
            .node
            .block_by_number(number)
            .map(|b| rpc_block(&b, full)))
    });
    method(module, "eth_getBlockByHash", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(hash) = seq.next::<Hex<B256>>()?;
        let full: bool = seq.optional_next()?.unwrap_or(false);
        Ok(ctx.node.block_by_hash(hash).map(|b| rpc_block(&b, full)))
    });
    method(
        module,
        "eth_getBlockTransactionCountByNumber",
        |ctx, params| {
            let Hex(tag) = params.one::<Hex<BlockNumberOrTag>>()?;
            let number = ctx.resolve_tag(tag, ctx.node.block_number())?;
            Ok(ctx
                .node
                .block_by_number(number)
                .map(|b| U64::from(b.transactions.len())))
        },
    );
    method(
        module,
        "eth_getBlockTransactionCountByHash",
        |ctx, params| {
            let Hex(hash) = params.one::<Hex<B256>>()?;
            Ok(ctx
                .node
                .block_by_hash(hash)
                .map(|b| U64::from(b.transactions.len())))
        },
    );
    method(module, "eth_getTransactionByHash", |ctx, params| {
        let Hex(hash) = params.one::<Hex<B256>>()?;
        Ok(transaction_by_hash(ctx, hash))
    });
    method(
        module,
        "eth_getTransactionByBlockNumberAndIndex",
        |ctx, params| {
            let mut seq = params.sequence();
            let Hex(tag) = seq.next::<Hex<BlockNumberOrTag>>()?;
            let Hex(index) = seq.next::<Hex<U64>>()?;
            let number = ctx.resolve_tag(tag, ctx.node.block_number())?;
            Ok(ctx.node.block_by_number(number).and_then(|block| {
                let i = index.to::<u64>();
                block
                    .transactions
                    .get(i as usize)
                    .map(|tx| rpc_transaction(tx, Some((&block, i))))
            }))
        },
    );
    method(module, "eth_getTransactionReceipt", |ctx, params| {
        let Hex(hash) = params.one::<Hex<B256>>()?;
        Ok(ctx.node.receipt(hash).map(|r| {
            let timestamp = ctx
                .node
                .block_by_hash(r.block_hash)
                .map(|b| b.header.timestamp);
            rpc_receipt(&r, timestamp)
        }))
    });
    method(module, "eth_getBlockReceipts", |ctx, params| {
        let Hex(block) = params.one::<Hex<BlockId>>()?;
        let number = match block {
            BlockId::Number(BlockNumberOrTag::Number(n)) if n > ctx.node.block_number() => {
                return Ok(None);
            }
            block => ctx.resolve_block(Some(block))?,
        };
        let Some(block) = ctx.node.block_by_number(number) else {
            return Ok(None);
        };
        let receipts = ctx.node.receipts_by_block(block.hash).unwrap_or_default();
        Ok(Some(
            receipts
                .iter()
                .map(|r| rpc_receipt(r, Some(block.header.timestamp)))
                .collect::<Vec<TransactionReceipt>>(),
        ))
    });
    method(module, "eth_getLogs", |ctx, params| {
        let Hex(filter) = params.one::<Hex<Filter>>()?;
        logs(ctx, &filter)
    });

    method(module, "eth_sendRawTransaction", |ctx, params| {
        let Hex(raw) = params.one::<Hex<Bytes>>()?;
        ctx.node.submit_transaction(raw).map_err(|e| tx_error(&e))
    });
    executing(module, "eth_sendTransaction", send_transaction);
    executing(module, "eth_call", |ctx, params| {
        let (request, block) = request_and_block(&params)?;
        let number = ctx.resolve_block(block)?;
        let outcome = ctx
            .node
            .call(call_request(&request), number, &ctx.config.call_limits)
            .map_err(node_error)?;
        if outcome.success {
            Ok(outcome.output)
        } else {
            Err(execution_reverted(
                outcome.revert_reason.as_deref(),
                &outcome.output,
            ))
        }
    });
    executing(module, "eth_estimateGas", |ctx, params| {
        let (request, block) = request_and_block(&params)?;
        let number = ctx.resolve_block(block)?;
        let call = call_request(&request);
        match ctx
            .node
            .estimate_gas(call.clone(), number, &ctx.config.call_limits)
        {
            Ok(gas) => Ok(U64::from(gas)),
            // A call that fails at any gas limit: answer with why, as Geth does.
            Err(err) => match ctx.node.call(call, number, &ctx.config.call_limits) {
                Ok(outcome) if !outcome.success => Err(execution_reverted(
                    outcome.revert_reason.as_deref(),
                    &outcome.output,
                )),
                _ => Err(node_error(err)),
            },
        }
    });
    method(module, "eth_sign", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(address) = seq.next::<Hex<Address>>()?;
        let Hex(message) = seq.next::<Hex<Bytes>>()?;
        sign_message(ctx, address, &message)
    });
    // personal_sign takes the message first.
    method(module, "personal_sign", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(message) = seq.next::<Hex<Bytes>>()?;
        let Hex(address) = seq.next::<Hex<Address>>()?;
        sign_message(ctx, address, &message)
    });

    method(module, "txpool_status", |ctx, _| {
        let status = ctx.node.pool_status();
        Ok(json!({
            "pending": U64::from(status.pending),
            "queued": U64::from(status.queued),
        }))
    });
    method(module, "txpool_content", |ctx, _| Ok(txpool_content(ctx)));
}

fn address_and_block(params: &Params<'_>) -> RpcResult<(Address, Option<BlockId>)> {
    let mut seq = params.sequence();
    let Hex(address) = seq.next::<Hex<Address>>()?;
    let block = seq.optional_next::<Hex<BlockId>>()?.map(Hex::into_inner);
    Ok((address, block))
}

fn request_and_block(params: &Params<'_>) -> RpcResult<(TransactionRequest, Option<BlockId>)> {
    let mut seq = params.sequence();
    let Hex(request) = seq.next::<Hex<TransactionRequest>>()?;
    let block = seq.optional_next::<Hex<BlockId>>()?.map(Hex::into_inner);
    Ok((request, block))
}

/// The price clients pay by default: the next block's base fee (if the
/// hardfork has one) plus the network's minimum.
fn gas_price(ctx: &RpcContext) -> u128 {
    next_base_fee(ctx) + ctx.node.min_gas_price()
}

fn next_base_fee(ctx: &RpcContext) -> u128 {
    ctx.node
        .block_by_number(ctx.node.block_number())
        .and_then(|head| head.header.next_block_base_fee(BaseFeeParams::ethereum()))
        .map_or(0, u128::from)
}

pub(crate) fn transaction_by_hash(ctx: &RpcContext, hash: B256) -> Option<Transaction> {
    if let Some(location) = ctx.node.transaction_by_hash(hash) {
        let block = ctx.node.block_by_hash(location.block_hash)?;
        return Some(rpc_transaction(
            &location.transaction,
            Some((&block, location.index)),
        ));
    }
    ctx.node
        .pending_transaction(hash)
        .map(|tx| rpc_transaction(&tx, None))
}

/// Logs matching `filter`, scanning blocks whose bloom may match.
pub(crate) fn logs(ctx: &RpcContext, filter: &Filter) -> RpcResult<Vec<Log>> {
    let head = ctx.node.block_number();
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let block = ctx
                .node
                .block_by_hash(hash)
                .ok_or_else(|| not_found(format!("block {hash} not found")))?;
            (block.number(), block.number())
        }
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let from = ctx.resolve_tag(from_block.unwrap_or_default(), head)?;
            let to = match to_block.unwrap_or_default() {
                BlockNumberOrTag::Number(n) => n.min(head),
                tag => ctx.resolve_tag(tag, head)?,
            };
            (from, to)
        }
    };
    if from > to {
        return Err(invalid_params(format!(
            "invalid block range: fromBlock {from} is after toBlock {to}"
        )));
    }
    if to - from >= MAX_LOG_RANGE {
        return Err(invalid_params(format!(
            "block range {from}..={to} is too large: at most {MAX_LOG_RANGE} blocks per eth_getLogs"
        )));
    }
    let mut found = Vec::new();
    for number in from..=to {
        let Some(block) = ctx.node.block_by_number(number) else {
            continue;
        };
        found.extend(block_logs(ctx, &block, filter));
    }
    Ok(found)
}

/// Logs of one block matching `filter`.
pub(crate) fn block_logs(
    ctx: &RpcContext,
    block: &forja_runtime::SealedBlock,
    filter: &Filter,
) -> Vec<Log> {
    if block.transactions.is_empty() || !filter.matches_bloom(block.header.logs_bloom) {
        return Vec::new();
    }
    let Some(receipts) = ctx.node.receipts_by_block(block.hash) else {
        return Vec::new();
    };
    receipts
        .iter()
        .flat_map(|r| rpc_logs(r, Some(block.header.timestamp)))
        .filter(|log| filter.matches(&log.inner))
        .collect()
}

fn fee_history(ctx: &RpcContext, params: Params<'_>) -> RpcResult<FeeHistory> {
    let mut seq = params.sequence();
    // Geth takes the count as hex or decimal (`math.HexOrDecimal64`).
    let count: U64 = seq.next()?;
    let Hex(newest) = seq.next::<Hex<BlockNumberOrTag>>()?;
    let percentiles: Option<Vec<f64>> = seq.optional_next()?;
    if let Some(p) = &percentiles
        && (p.iter().any(|v| !(0.0..=100.0).contains(v)) || p.windows(2).any(|w| w[0] > w[1]))
    {
        return Err(invalid_params(
            "rewardPercentiles must be increasing values between 0 and 100",
        ));
    }
    let newest = ctx.resolve_tag(newest, ctx.node.block_number())?;
    let count = count.to::<u64>().min(MAX_FEE_HISTORY).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut history = FeeHistory {
        oldest_block: oldest,
        ..Default::default()
    };
    let mut rewards = Vec::new();
    for number in oldest..=newest {
        let block = ctx
            .node
            .block_by_number(number)
            .ok_or_else(|| not_found(format!("block {number} not found")))?;
        let base_fee = block.header.base_fee_per_gas.unwrap_or(0);
        history.base_fee_per_gas.push(u128::from(base_fee));
        history.gas_used_ratio.push(if block.header.gas_limit == 0 {
            0.0
        } else {
            block.header.gas_used as f64 / block.header.gas_limit as f64
        });
        history.base_fee_per_blob_gas.push(0);
        history.blob_gas_used_ratio.push(0.0);
        if let Some(percentiles) = &percentiles {
            use alloy::consensus::Transaction as _;
            let mut tips: Vec<u128> = block
                .transactions
                .iter()
                .map(|tx| tx.envelope.effective_tip_per_gas(base_fee).unwrap_or(0))
                .collect();
            tips.sort_unstable();
            rewards.push(
                percentiles
                    .iter()
                    .map(|p| {
                        if tips.is_empty() {
                            0
                        } else {
                            let index = ((p / 100.0) * (tips.len() - 1) as f64).round() as usize;
                            tips[index]
                        }
                    })
                    .collect(),
            );
        }
    }
    let last = ctx.node.block_by_number(newest);
    history.base_fee_per_gas.push(
        last.and_then(|b| b.header.next_block_base_fee(BaseFeeParams::ethereum()))
            .map_or(0, u128::from),
    );
    history.base_fee_per_blob_gas.push(0);
    history.reward = percentiles.map(|_| rewards);
    Ok(history)
}

/// `eth_sendTransaction`: fills in nonce, gas and fees, signs with the dev
/// account's key (or submits unsigned for an impersonated account).
fn send_transaction(ctx: &RpcContext, params: Params<'_>) -> RpcResult<B256> {
    let Hex(request) = params.one::<Hex<TransactionRequest>>()?;
    let from = request
        .from
        .ok_or_else(|| invalid_params("eth_sendTransaction needs a `from` address"))?;
    if let Some(dev) = ctx.dev()
        && dev.is_impersonated(from)
    {
        return dev
            .submit_impersonated(from, request)
            .map_err(|e| tx_error(&e));
    }
    let signer = ctx.dev_signer(from).ok_or_else(|| {
        server_error(format!(
            "unknown account {from}: eth_sendTransaction signs only for the node's dev accounts (see eth_accounts)"
        ))
    })?;
    let head = ctx.node.block_number();
    let nonce = request
        .nonce
        .unwrap_or_else(|| ctx.node.pending_nonce(from));
    let gas_limit = match request.gas {
        Some(gas) => gas,
        None => {
            let call = call_request(&request);
            match ctx
                .node
                .estimate_gas(call.clone(), head, &ctx.config.call_limits)
            {
                Ok(gas) => gas,
                Err(err) => {
                    return Err(match ctx.node.call(call, head, &ctx.config.call_limits) {
                        Ok(outcome) if !outcome.success => {
                            execution_reverted(outcome.revert_reason.as_deref(), &outcome.output)
                        }
                        _ => node_error(err),
                    });
                }
            }
        }
    };
    let to = request.to.unwrap_or(TxKind::Create);
    let value = request.value.unwrap_or_default();
    let input = request.input.input().cloned().unwrap_or_default();
    let chain_id = ctx.node.chain_id();
    let has_base_fee = ctx
        .node
        .block_by_number(head)
        .is_some_and(|b| b.header.base_fee_per_gas.is_some());
    let envelope: TxEnvelope = if request.gas_price.is_some() || !has_base_fee {
        let mut tx = TxLegacy {
            chain_id: Some(chain_id),
            nonce,
            gas_price: request.gas_price.unwrap_or_else(|| gas_price(ctx)),
            gas_limit,
            to,
            value,
            input,
        };
        let signature = signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| server_error(format!("signing failed: {e}")))?;
        tx.into_signed(signature).into()
    } else {
        let priority = request
            .max_priority_fee_per_gas
            .unwrap_or_else(|| ctx.node.min_gas_price());
        let mut tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: request
                .max_fee_per_gas
                .unwrap_or_else(|| 2 * next_base_fee(ctx) + priority),
            max_priority_fee_per_gas: priority,
            to,
            value,
            access_list: request.access_list.clone().unwrap_or_default(),
            input,
        };
        let signature = signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| server_error(format!("signing failed: {e}")))?;
        tx.into_signed(signature).into()
    };
    ctx.node
        .submit_transaction(envelope.encoded_2718().into())
        .map_err(|e| tx_error(&e))
}

fn sign_message(ctx: &RpcContext, address: Address, message: &[u8]) -> RpcResult<Bytes> {
    let signer = ctx.dev_signer(address).ok_or_else(|| {
        server_error(format!(
            "unknown account {address}: only dev accounts can sign"
        ))
    })?;
    let signature = signer
        .sign_message_sync(message)
        .map_err(|e| server_error(format!("signing failed: {e}")))?;
    Ok(signature.as_bytes().into())
}

/// `txpool_content` in Geth's shape: sender → nonce → transaction.
fn txpool_content(ctx: &RpcContext) -> Value {
    // Keyed by checksummed address, as Geth's `common.Address.Hex()` prints them.
    let mut pending: BTreeMap<String, BTreeMap<String, Transaction>> = BTreeMap::new();
    let mut queued: BTreeMap<String, BTreeMap<String, Transaction>> = BTreeMap::new();
    let mut next_nonce: BTreeMap<Address, u64> = BTreeMap::new();
    let head = ctx.node.block_number();
    let mut txs = ctx.node.pending_transactions();
    txs.sort_by_key(|tx| (tx.sender, tx.nonce()));
    for tx in txs {
        let expected = next_nonce
            .entry(tx.sender)
            .or_insert_with(|| ctx.node.nonce(tx.sender, head).unwrap_or(0));
        let target = if tx.nonce() == *expected {
            *expected += 1;
            &mut pending
        } else {
            &mut queued
        };
        target
            .entry(tx.sender.to_checksum(None))
            .or_default()
            .insert(tx.nonce().to_string(), rpc_transaction(&tx, None));
    }
    json!({ "pending": pending, "queued": queued })
}
