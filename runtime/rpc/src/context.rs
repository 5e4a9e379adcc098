//! State shared by every method: the node, settings, metrics and filters,
//! plus the helpers methods use to read their parameters.

use std::{sync::Arc, time::Instant};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    signers::local::PrivateKeySigner,
};
use jsonrpsee::{RpcModule, types::Params};
use serde::Serialize;

use crate::{
    auth::Caller,
    backend::NodeApi,
    config::RpcConfig,
    error::{RpcResult, internal_error, not_found},
    filters::FilterStore,
    metrics::RpcMetrics,
};

pub(crate) struct RpcContext {
    pub node: Arc<dyn NodeApi>,
    pub config: RpcConfig,
    pub metrics: Arc<RpcMetrics>,
    pub filters: FilterStore,
    /// Turns of [`executing`] methods (`RpcConfig::max_concurrent_executions`).
    pub executions: Arc<tokio::sync::Semaphore>,
    /// Turns of [`executing`] methods on an async worker thread itself: one
    /// fewer than the runtime's workers, so one is always free to answer.
    pub inline_executions: tokio::sync::Semaphore,
    /// Otterscan's address index, when the OTS group is served.
    pub ots_index: Option<Arc<crate::ots::index::OtsIndex>>,
}

impl RpcContext {
    /// The block number a `BlockId` parameter names (default `latest`).
    /// BFT blocks are final when committed, so `safe`, `finalized` and
    /// `pending` all read the head.
    pub(crate) fn resolve_block(&self, block: Option<BlockId>) -> RpcResult<u64> {
        let head = self.node.block_number();
        match block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
            BlockId::Hash(hash) => self
                .node
                .block_by_hash(hash.block_hash)
                .map(|block| block.number())
                .ok_or_else(|| not_found(format!("block {} not found", hash.block_hash))),
            BlockId::Number(tag) => self.resolve_tag(tag, head),
        }
    }

    pub(crate) fn resolve_tag(&self, tag: BlockNumberOrTag, head: u64) -> RpcResult<u64> {
        match tag {
            BlockNumberOrTag::Earliest => Ok(0),
            BlockNumberOrTag::Number(n) if n > head => Err(not_found(format!(
                "block {n} not found: the chain is at block {head}"
            ))),
            BlockNumberOrTag::Number(n) => Ok(n),
            _ => Ok(head),
        }
    }

    /// The dev controls, when this server serves them.
    pub(crate) fn dev(&self) -> Option<&dyn crate::backend::DevApi> {
        self.node.dev().filter(|_| self.config.dev_methods)
    }

    pub(crate) fn dev_signer(
        &self,
        address: alloy::primitives::Address,
    ) -> Option<&PrivateKeySigner> {
        self.config
            .dev_accounts
            .iter()
            .find(|signer| signer.address() == address)
    }
}

/// Registers a method whose handler is timed for `/metrics`.
pub(crate) fn method<T, F>(module: &mut RpcModule<RpcContext>, name: &'static str, handler: F)
where
    T: Serialize + Clone + Send + 'static,
    F: Fn(&RpcContext, Params<'_>) -> RpcResult<T> + Send + Sync + 'static,
{
    method_as_caller(module, name, move |ctx, params, _| handler(ctx, params));
}

/// [`method`] for a handler that acts as the authenticated caller (admin
/// methods change the network as the caller's account); `None` when the
/// server does not authenticate.
pub(crate) fn method_as_caller<T, F>(
    module: &mut RpcModule<RpcContext>,
    name: &'static str,
    handler: F,
) where
    T: Serialize + Clone + Send + 'static,
    F: Fn(&RpcContext, Params<'_>, Option<&Caller>) -> RpcResult<T> + Send + Sync + 'static,
{
    module
        .register_method(name, move |params, ctx, extensions| {
            let started = Instant::now();
            let result = handler(ctx, params, extensions.get::<Caller>());
            ctx.metrics.record(name, started.elapsed(), result.is_err());
            result
        })
        .unwrap_or_else(|err| panic!("registering {name}: {err}"));
}

/// Registers a method that runs the EVM (calls, estimates, traces). While
/// fewer run than the runtime has async workers minus one, it runs where the
/// request arrived (no thread hop: an `eth_call` costs what it did before
/// limits); past that on tokio's blocking threads, at most
/// `max_concurrent_executions` at once. Either way one async worker stays
/// free, so however long a call takes (up to its time limit) every other
/// request and connection is still answered.
pub(crate) fn executing<T, F>(module: &mut RpcModule<RpcContext>, name: &'static str, handler: F)
where
    T: Serialize + Clone + Send + 'static,
    F: Fn(&RpcContext, Params<'_>) -> RpcResult<T> + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    module
        .register_async_method(name, move |params, ctx, _| {
            let handler = Arc::clone(&handler);
            async move {
                let started = Instant::now();
                if let Ok(_inline) = ctx.inline_executions.try_acquire() {
                    let result = handler(&ctx, params);
                    ctx.metrics.record(name, started.elapsed(), result.is_err());
                    return result;
                }
                let Ok(turn) = Arc::clone(&ctx.executions).acquire_owned().await else {
                    return Err(internal_error("the server is shutting down"));
                };
                let context = Arc::clone(&ctx);
                let result = tokio::task::spawn_blocking(move || {
                    let _turn = turn;
                    handler(&context, params)
                })
                .await
                .unwrap_or_else(|join| Err(internal_error(format!("{name} failed: {join}"))));
                ctx.metrics.record(name, started.elapsed(), result.is_err());
                result
            }
        })
        .unwrap_or_else(|err| panic!("registering {name}: {err}"));
}

/// Registers `alias` as another name for `name`.
pub(crate) fn alias(module: &mut RpcModule<RpcContext>, alias: &'static str, name: &'static str) {
    module
        .register_alias(alias, name)
        .unwrap_or_else(|err| panic!("registering alias {alias}: {err}"));
}
