//! `eth_subscribe` over WebSocket: `newHeads`, `logs`, `newPendingTransactions`.

use std::sync::Arc;

use alloy::rpc::types::Filter;
use jsonrpsee::{
    MethodResponse, PendingSubscriptionSink, RpcModule, SubscriptionMessage, SubscriptionSink,
    core::{
        SubscriptionResult,
        middleware::{Batch, Notification, RpcServiceT},
        traits::IdProvider,
    },
    types::{ErrorObject, Request, SubscriptionId},
};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::{
    context::RpcContext,
    convert::{rpc_header, rpc_transaction},
    error::{METHOD_NOT_FOUND, invalid_params},
    eth::block_logs,
    hex::Hex,
};

/// Subscription ids as Geth makes them: `0x` and 16 random bytes in hex.
/// Clients expect a hex string (viem drops notifications whose id is a
/// JSON number, web3.py raises).
#[derive(Debug)]
pub(crate) struct HexSubscriptionIds;

impl IdProvider for HexSubscriptionIds {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(format!("0x{:032x}", rand::random::<u128>()).into())
    }
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) {
    module
        .register_subscription(
            "eth_subscribe",
            "eth_subscription",
            "eth_unsubscribe",
            |params, pending, ctx, _| subscribe(params, pending, ctx),
        )
        .expect("eth_subscribe registers once");
}

async fn subscribe(
    params: jsonrpsee::types::Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<RpcContext>,
) -> SubscriptionResult {
    let mut seq = params.sequence();
    let kind: String = match seq.next() {
        Ok(kind) => kind,
        Err(err) => {
            pending.reject(err).await;
            return Ok(());
        }
    };
    match kind.as_str() {
        "newHeads" => {
            let blocks = ctx.node.subscribe_new_blocks();
            forward(pending, blocks, |block| Some(vec![rpc_header(&block)])).await
        }
        "logs" => {
            let filter: Filter = match seq.optional_next::<Hex<Filter>>() {
                Ok(filter) => filter.map(Hex::into_inner).unwrap_or_default(),
                Err(err) => {
                    pending.reject(err).await;
                    return Ok(());
                }
            };
            let blocks = ctx.node.subscribe_new_blocks();
            let ctx = Arc::clone(&ctx);
            forward(pending, blocks, move |block| {
                Some(block_logs(&ctx, &block, &filter))
            })
            .await
        }
        "newPendingTransactions" => {
            let full: bool = seq.optional_next().ok().flatten().unwrap_or(false);
            let txs = ctx.node.subscribe_pending_transactions();
            if full {
                let ctx = Arc::clone(&ctx);
                forward(pending, txs, move |hash| {
                    Some(
                        ctx.node
                            .pending_transaction(hash)
                            .map(|tx| rpc_transaction(&tx, None))
                            .into_iter()
                            .collect(),
                    )
                })
                .await
            } else {
                forward(pending, txs, |hash| Some(vec![hash])).await
            }
        }
        other => {
            pending
                .reject(invalid_params(format!(
                    "unknown subscription `{other}` (supported: newHeads, logs, newPendingTransactions)"
                )))
                .await;
            Ok(())
        }
    }
}

/// Sends every item `map` produces for each broadcast value until the
/// client unsubscribes or disconnects.
async fn forward<T, R, F>(
    pending: PendingSubscriptionSink,
    mut receiver: broadcast::Receiver<T>,
    mut map: F,
) -> SubscriptionResult
where
    T: Clone,
    R: Serialize,
    F: FnMut(T) -> Option<Vec<R>>,
{
    let Ok(sink) = pending.accept().await else {
        return Ok(());
    };
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            received = receiver.recv() => match received {
                Ok(value) => {
                    for item in map(value).unwrap_or_default() {
                        if send(&sink, &item).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "subscriber fell behind; skipped notifications");
                }
                Err(RecvError::Closed) => return Ok(()),
            }
        }
    }
}

async fn send(sink: &SubscriptionSink, item: &impl Serialize) -> Result<(), ()> {
    let message = SubscriptionMessage::new(sink.method_name(), sink.subscription_id(), item)
        .map_err(|_| ())?;
    sink.send(message).await.map_err(|_| ())
}

/// Marks a JSON-RPC call that came in a plain HTTP request (set by the
/// HTTP middleware; WebSocket calls carry their upgrade request's
/// extensions, which never have it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OverHttp;

/// Answers `eth_subscribe`/`eth_unsubscribe` over HTTP as Geth does
/// (-32601 "notifications not supported") instead of jsonrpsee's bare
/// internal error, so a client knows to use a WebSocket.
#[derive(Clone, Debug)]
pub(crate) struct NoSubscriptionsOverHttp<S>(pub S);

impl<S> RpcServiceT for NoSubscriptionsOverHttp<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let refuse = request.extensions().get::<OverHttp>().is_some()
            && matches!(request.method_name(), "eth_subscribe" | "eth_unsubscribe");
        let service = self.0.clone();
        async move {
            if refuse {
                return MethodResponse::error(
                    request.id(),
                    ErrorObject::owned(
                        METHOD_NOT_FOUND,
                        "notifications not supported: subscribe over a WebSocket",
                        None::<()>,
                    ),
                );
            }
            service.call(request).await
        }
    }

    fn batch<'a>(&self, requests: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.0.clone();
        async move { service.batch(requests).await }
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.0.clone();
        async move { service.notification(notification).await }
    }
}
