//! HTTP middleware in front of the JSON-RPC service: the operations
//! endpoints (`/metrics`, `/liveness`, `/readiness`, as Besu serves them,
//! here on the RPC port) and CORS.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tower::{Layer, Service};

use crate::{backend::NodeApi, metrics::RpcMetrics};

/// Pages another crate serves on the RPC port over `GET` (forja-explorer's
/// `/explorer`), so forja-rpc does not depend on what they show.
pub trait HttpPages: Send + Sync + std::fmt::Debug + 'static {
    /// The page at `path`, or `None` when the path is not one of them.
    fn page(&self, path: &str) -> Option<HttpPage>;
}

/// One answer of [`HttpPages`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpPage {
    pub status: u16,
    pub content_type: &'static str,
    /// More headers (a content security policy, caching).
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Vec<u8>,
}

/// Adds the operations endpoints and CORS headers around the RPC service.
#[derive(Clone)]
pub(crate) struct OpsLayer {
    pub(crate) node: Arc<dyn NodeApi>,
    pub(crate) metrics: Arc<RpcMetrics>,
    pub(crate) cors_origins: Arc<Vec<String>>,
    pub(crate) pages: Option<Arc<dyn HttpPages>>,
}

impl<S> Layer<S> for OpsLayer {
    type Service = OpsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OpsService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct OpsService<S> {
    inner: S,
    layer: OpsLayer,
}

impl OpsLayer {
    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if allowed.
    fn allowed_origin(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?;
        if self.cors_origins.iter().any(|o| o == "*") {
            Some("*".to_owned())
        } else if self
            .cors_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
        {
            Some(origin.to_owned())
        } else {
            None
        }
    }

    fn ops_response(&self, path: &str) -> Option<HttpResponse> {
        let (status, content_type, body) = match path {
            "/metrics" => (
                200,
                "text/plain; version=0.0.4",
                self.metrics.render(self.node.as_ref()),
            ),
            // Besu answers both with {"status":"UP"}; liveness only says the
            // process serves, readiness that the node has a chain to serve.
            "/liveness" => (200, "application/json", r#"{"status":"UP"}"#.to_owned()),
            "/readiness" => {
                let ready = self
                    .node
                    .block_by_number(self.node.block_number())
                    .is_some();
                if ready {
                    (200, "application/json", r#"{"status":"UP"}"#.to_owned())
                } else {
                    (503, "application/json", r#"{"status":"DOWN"}"#.to_owned())
                }
            }
            _ => {
                let page = self.pages.as_ref()?.page(path)?;
                let mut response = HttpResponse::builder()
                    .status(page.status)
                    .header("content-type", page.content_type);
                for (name, value) in page.headers {
                    response = response.header(name, value);
                }
                return response.body(HttpBody::from(page.body)).ok();
            }
        };
        HttpResponse::builder()
            .status(status)
            .header("content-type", content_type)
            .body(HttpBody::from(body))
            .ok()
    }
}

impl<S, B> Service<HttpRequest<B>> for OpsService<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        if request.method() == "GET"
            && let Some(response) = self.layer.ops_response(request.uri().path())
        {
            return Box::pin(async move { Ok(response) });
        }
        let origin = request
            .headers()
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .and_then(|origin| self.layer.allowed_origin(Some(origin)));
        if request.method() == "OPTIONS" {
            // CORS preflight: answered here, the RPC service only takes POST.
            let mut builder =
                HttpResponse::builder().status(if origin.is_some() { 204 } else { 403 });
            if let Some(origin) = origin {
                builder = builder
                    .header("access-control-allow-origin", origin)
                    .header("access-control-allow-methods", "POST, GET, OPTIONS")
                    .header(
                        "access-control-allow-headers",
                        "content-type, authorization",
                    )
                    .header("access-control-max-age", "600");
            }
            let response = builder
                .body(HttpBody::empty())
                .expect("static preflight response is valid");
            return Box::pin(async move { Ok(response) });
        }
        if !request.headers().contains_key("upgrade") {
            request.extensions_mut().insert(crate::pubsub::OverHttp);
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(origin) = origin
                && let Ok(value) = origin.parse()
            {
                response
                    .headers_mut()
                    .insert("access-control-allow-origin", value);
            }
            Ok(response)
        })
    }
}
