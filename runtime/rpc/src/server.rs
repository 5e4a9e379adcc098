//! Starting and stopping the JSON-RPC server.

use std::{net::SocketAddr, sync::Arc};

use jsonrpsee::{
    RpcModule,
    server::{
        BatchRequestConfig, Server, ServerConfig, ServerHandle,
        middleware::{http::HostFilterLayer, rpc::RpcServiceBuilder},
    },
};

use crate::{
    auth::{AccessControl, AuthLayer},
    backend::NodeApi,
    config::RpcConfig,
    consortium,
    context::RpcContext,
    debug, dev, eth, filters,
    filters::FilterStore,
    http::OpsLayer,
    metrics::RpcMetrics,
    pubsub,
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
        };
        let server_config = ServerConfig::builder()
            .max_request_body_size(config.max_request_body_size)
            .max_response_body_size(config.max_response_body_size)
            .max_connections(config.max_connections)
            .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
            .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_size))
            .build();
        let listen = config.listen;
        let access = Arc::new(config.access.clone());
        let auth = AuthLayer {
            authentication: config.access.authentication.clone(),
        };
        let server = Server::builder()
            .set_config(server_config)
            .set_http_middleware(
                tower::ServiceBuilder::new()
                    .layer(host_filter)
                    .layer(ops)
                    .layer(auth),
            )
            .set_rpc_middleware(
                RpcServiceBuilder::new()
                    .layer_fn(move |service| AccessControl::new(service, Arc::clone(&access))),
            )
            .build(listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen,
                source,
            })?;
        let local_addr = server.local_addr().map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
        let module = methods(config, node, Arc::clone(&metrics));
        let handle = server.start(module);
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

/// Every method this node serves: standard ones always, the consortium
/// methods under the network's consensus prefix, dev methods when the
/// config turns them on.
pub fn methods(
    config: RpcConfig,
    node: Arc<dyn NodeApi>,
    metrics: Arc<RpcMetrics>,
) -> RpcModule<RpcContext> {
    let consensus = node.consensus();
    let has_dev = config.dev_methods && node.dev().is_some();
    let has_tracer = node.tracer().is_some();
    let filters = FilterStore::new(config.filter_expiry);
    let mut module = RpcModule::new(RpcContext {
        node,
        config,
        metrics,
        filters,
    });
    eth::register(&mut module);
    filters::register(&mut module);
    pubsub::register(&mut module);
    if has_tracer {
        debug::register(&mut module);
    }
    consortium::register(&mut module, consensus);
    if has_dev {
        dev::register(&mut module);
    }
    module
}
