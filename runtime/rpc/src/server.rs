//! Starting and stopping the JSON-RPC server.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use jsonrpsee::core::middleware::RpcServiceBuilder;
use jsonrpsee::{
    Methods, RpcModule,
    server::{
        BatchRequestConfig, Server, ServerConfig, ServerHandle, middleware::http::HostFilterLayer,
        serve_with_graceful_shutdown, stop_channel,
    },
};
use tokio::net::TcpListener;

use crate::{
    auth::{AccessControl, AuthLayer},
    backend::NodeApi,
    config::RpcConfig,
    consortium,
    context::RpcContext,
    debug, dev,
    envelope::EnvelopeLayer,
    eth, filters,
    filters::FilterStore,
    groups::ApiGroup,
    http::OpsLayer,
    limits::{PerClient, RequestTimeoutLayer, SlottedStream, TOO_MANY_FROM_CLIENT, ws_ping_config},
    metrics::RpcMetrics,
    ots::{self, index::OtsIndex},
    pubsub,
    ws_front::{MakeService, WsFront},
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid host allowlist entry: {0}")]
    HostAllowlist(String),
    #[error(transparent)]
    OtsIndex(#[from] crate::ots::index::IndexError),
}

/// A running server. Dropping it does not stop it; call [`RpcServer::stop`].
pub struct RpcServer {
    handle: ServerHandle,
    local_addr: SocketAddr,
    metrics: Arc<RpcMetrics>,
}

impl RpcServer {
    /// Binds `config.listen` and serves `node` over HTTP and WebSocket on
    /// that one port. Must be called inside a tokio runtime.
    pub async fn start(config: RpcConfig, node: Arc<dyn NodeApi>) -> Result<Self, ServerError> {
        let metrics = Arc::new(RpcMetrics::default());
        let host_filter = if config.host_allowlist.iter().any(|h| h == "*") {
            HostFilterLayer::disable()
        } else {
            // Any port: the allowlist is about names (DNS rebinding), and
            // port 0 means the port is not known in advance.
            HostFilterLayer::new(config.host_allowlist.iter().map(|h| format!("{h}:*")))
                .map_err(|e| ServerError::HostAllowlist(e.to_string()))?
        };
        let ops = OpsLayer {
            node: Arc::clone(&node),
            metrics: Arc::clone(&metrics),
            cors_origins: Arc::new(config.cors_origins.clone()),
            pages: config.pages.clone(),
        };
        let server_config = ServerConfig::builder()
            .max_request_body_size(config.max_request_body_size)
            .max_response_body_size(config.max_response_body_size)
            .max_connections(config.max_connections)
            .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
            .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_size))
            // Finds WebSockets whose client has gone without closing them,
            // and keeps live ones from reaching the idle timeout.
            .enable_ws_ping(ws_ping_config(config.idle_timeout))
            .set_id_provider(pubsub::HexSubscriptionIds)
            .build();
        let listen = config.listen;
        let access = Arc::new(config.access.clone());
        let auth = AuthLayer {
            authentication: config.access.authentication.clone(),
        };
        let bind_error = |source| ServerError::Bind {
            addr: listen,
            source,
        };
        let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let per_client = PerClient::new(config.max_connections_per_client as usize);
        let idle_timeout = config.idle_timeout;
        let max_request_body_size = config.max_request_body_size;
        let services = Server::builder()
            .set_config(server_config)
            .set_http_middleware(
                tower::ServiceBuilder::new()
                    .layer(RequestTimeoutLayer(config.request_timeout))
                    .layer(host_filter)
                    .layer(ops)
                    .layer(auth)
                    .layer(EnvelopeLayer {
                        max_request_body_size: config.max_request_body_size,
                    }),
            )
            .set_rpc_middleware(
                RpcServiceBuilder::new()
                    .layer_fn(pubsub::NoSubscriptionsOverHttp)
                    .layer_fn(move |service| AccessControl::new(service, Arc::clone(&access))),
            )
            .to_service_builder();
        let (stop, handle) = stop_channel();
        let ots_index = ots_index(&config, &node, &stop)?;
        let methods: Methods = methods(config, node, Arc::clone(&metrics), ots_index).into();
        tokio::spawn(async move {
            loop {
                let (socket, client) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            // Out of file descriptors, most likely: wait for some to close.
                            tracing::warn!(%error, "cannot accept a JSON-RPC connection");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    () = stop.clone().shutdown() => break,
                };
                let Some(slot) = per_client.admit(client.ip()) else {
                    tracing::debug!(%client, "refusing a connection: this client holds its maximum");
                    let _ = socket.try_write(TOO_MANY_FROM_CLIENT);
                    continue;
                };
                let service = services.clone().build(methods.clone(), stop.clone());
                let make_service: MakeService<_> = {
                    let (services, methods, stop) =
                        (services.clone(), methods.clone(), stop.clone());
                    Arc::new(move || services.clone().build(methods.clone(), stop.clone()))
                };
                let on_stop = {
                    let stop = stop.clone();
                    Arc::new(move || {
                        Box::pin(stop.clone().shutdown())
                            as Pin<Box<dyn Future<Output = ()> + Send>>
                    })
                };
                let service = WsFront::new(
                    service,
                    make_service,
                    on_stop,
                    max_request_body_size,
                    idle_timeout / 4,
                );
                let stopped = stop.clone().shutdown();
                // As jsonrpsee's own loop does: small answers go out at once.
                let _ = socket.set_nodelay(true);
                let socket = SlottedStream::new(socket, slot, idle_timeout);
                tokio::spawn(async move {
                    if let Err(error) = serve_with_graceful_shutdown(socket, service, stopped).await
                    {
                        tracing::debug!(%client, %error, "JSON-RPC connection closed");
                    }
                });
            }
        });
        tracing::info!(%local_addr, "JSON-RPC server listening (HTTP and WebSocket)");
        Ok(Self {
            handle,
            local_addr,
            metrics,
        })
    }

    /// The bound address (the actual port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.local_addr)
    }

    pub fn metrics(&self) -> &RpcMetrics {
        &self.metrics
    }

    /// Stops accepting connections and waits until the server has stopped.
    pub async fn stop(self) {
        // Already stopped is the state we want.
        let _ = self.handle.stop();
        self.handle.stopped().await;
    }
}

/// Otterscan's address index, when the OTS group is served over HTTP or
/// WebSocket by a node that can trace, with the task that keeps it at the
/// chain's head (catching up from the last block it indexed, then on every
/// new block) until the server stops.
fn ots_index(
    config: &RpcConfig,
    node: &Arc<dyn NodeApi>,
    stop: &jsonrpsee::server::StopHandle,
) -> Result<Option<Arc<OtsIndex>>, ServerError> {
    let served = config.access.api_groups.contains(ApiGroup::Ots)
        || config.access.ws_api_groups.contains(ApiGroup::Ots);
    let Some(genesis) = node.block_by_number(0) else {
        return Ok(None);
    };
    if !served || node.tracer().is_none() {
        return Ok(None);
    }
    let index = Arc::new(OtsIndex::open(config.ots_index_file.clone(), genesis.hash)?);
    // Subscribed before the first catch-up, so no block falls between.
    let mut blocks = node.subscribe_new_blocks();
    let (task_index, node, stop) = (Arc::clone(&index), Arc::clone(node), stop.clone());
    // The chain already ran these blocks within its budget: no time limit,
    // but the node's stop flag still ends a replay at shutdown.
    let limits = forja_runtime::execution::CallLimits {
        timeout: None,
        ..config.call_limits
    };
    tokio::spawn(async move {
        loop {
            let (index, node) = (Arc::clone(&task_index), Arc::clone(&node));
            let caught_up =
                tokio::task::spawn_blocking(move || index.catch_up(node.as_ref(), &limits)).await;
            if let Ok(Err(error)) = caught_up {
                tracing::warn!(%error, "the Otterscan index could not follow the chain");
            }
            tokio::select! {
                () = stop.clone().shutdown() => return,
                received = blocks.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = received {
                        return;
                    }
                }
            }
        }
    });
    Ok(Some(index))
}

/// Every method this node serves: standard ones always, the consortium
/// methods under the network's consensus prefix, dev methods when the
/// config turns them on, Otterscan's when the node can trace.
pub(crate) fn methods(
    config: RpcConfig,
    node: Arc<dyn NodeApi>,
    metrics: Arc<RpcMetrics>,
    ots_index: Option<Arc<OtsIndex>>,
) -> RpcModule<RpcContext> {
    let consensus = node.consensus();
    let has_dev = config.dev_methods && node.dev().is_some();
    let has_tracer = node.tracer().is_some();
    let filters = FilterStore::new(config.filter_expiry, config.max_filters);
    let executions = Arc::new(tokio::sync::Semaphore::new(
        config.max_concurrent_executions.max(1),
    ));
    let workers = tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
    let mut module = RpcModule::new(RpcContext {
        node,
        config,
        metrics,
        filters,
        executions,
        inline_executions: tokio::sync::Semaphore::new(workers.saturating_sub(1)),
        ots_index,
    });
    eth::register(&mut module);
    filters::register(&mut module);
    pubsub::register(&mut module);
    if has_tracer {
        debug::register(&mut module);
        ots::register(&mut module);
    }
    consortium::register(&mut module, consensus);
    if has_dev {
        dev::register(&mut module);
    }
    module
}
