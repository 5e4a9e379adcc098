//! `debug_traceTransaction` and `debug_traceCall` with Geth's struct logger
//! and `callTracer`, in alloy's trace shapes.

use alloy::{
    eips::BlockId,
    primitives::{B256, U256},
    rpc::types::{
        AccessListResult, TransactionRequest,
        trace::geth::{GethDebugTracingCallOptions, GethDebugTracingOptions},
    },
};
use jsonrpsee::RpcModule;

use crate::{
    backend::TraceApi,
    context::{RpcContext, executing},
    convert::call_request,
    error::{RpcResult, node_error, not_found, server_error},
    hex::Hex,
};

fn tracer(ctx: &RpcContext) -> RpcResult<&dyn TraceApi> {
    ctx.node
        .tracer()
        .ok_or_else(|| server_error("this node does not trace executions"))
}

/// Registered only for nodes that expose a [`TraceApi`].
pub(crate) fn register(module: &mut RpcModule<RpcContext>) {
    executing(module, "debug_traceTransaction", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(hash) = seq.next::<Hex<B256>>()?;
        let options: GethDebugTracingOptions = seq.optional_next()?.unwrap_or_default();
        if ctx.node.transaction_by_hash(hash).is_none() {
            return Err(not_found(format!("transaction {hash} not found")));
        }
        tracer(ctx)?
            .trace_transaction(hash, options, &ctx.config.call_limits)
            .map_err(node_error)
    });
    executing(module, "eth_createAccessList", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(request) = seq.next::<Hex<TransactionRequest>>()?;
        let block = seq.optional_next::<Hex<BlockId>>()?.map(Hex::into_inner);
        let number = ctx.resolve_block(block)?;
        let (access_list, gas_used) = tracer(ctx)?
            .create_access_list(call_request(&request), number, &ctx.config.call_limits)
            .map_err(node_error)?;
        Ok(AccessListResult {
            access_list,
            gas_used: U256::from(gas_used),
            error: None,
        })
    });
    executing(module, "debug_traceCall", |ctx, params| {
        let mut seq = params.sequence();
        let Hex(request) = seq.next::<Hex<TransactionRequest>>()?;
        let block = seq.optional_next::<Hex<BlockId>>()?.map(Hex::into_inner);
        let options: GethDebugTracingCallOptions = seq.optional_next()?.unwrap_or_default();
        let number = ctx.resolve_block(block)?;
        tracer(ctx)?
            .trace_call(
                call_request(&request),
                number,
                options.tracing_options,
                &ctx.config.call_limits,
            )
            .map_err(node_error)
    });
}
