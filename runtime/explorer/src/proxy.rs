//! `forja explorer`'s server: the page, and a forwarder for its calls to
//! another endpoint that refuses every method outside
//! [`READ_ONLY_METHODS`](crate::READ_ONLY_METHODS), whatever the browser
//! sends. The caller's `Authorization` header is passed on, so the
//! endpoint still decides what the caller may do.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use alloy::transports::http::reqwest;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Request, Response, body::Bytes, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::{BASE_PATH, Explorer, is_read_only};

/// Largest call body forwarded (the page sends small ones).
const MAX_BODY: usize = 1024 * 1024;
/// How long the endpoint may take to answer one call.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// Besu's "Method not enabled".
const METHOD_NOT_ENABLED: i64 = -32604;

/// What `forja explorer` serves, and where it forwards.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// The endpoint's HTTP URL (`http://host:8545`).
    pub upstream: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("`{0}` is not an http:// or https:// URL")]
    Upstream(String),
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

struct State {
    explorer: Explorer,
    upstream: String,
    login: String,
    client: reqwest::Client,
}

/// Binds `options.listen` and serves until `shutdown` completes; `bound`
/// is called with the address once listening (port 0 picks one).
pub async fn serve(
    explorer: Explorer,
    options: ServeOptions,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProxyError> {
    let upstream = options.upstream.trim_end_matches('/').to_owned();
    if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
        return Err(ProxyError::Upstream(options.upstream));
    }
    let client = reqwest::Client::builder()
        .timeout(UPSTREAM_TIMEOUT)
        .build()
        .map_err(|e| ProxyError::Client(e.to_string()))?;
    let state = Arc::new(State {
        explorer,
        login: format!("{upstream}/login"),
        upstream,
        client,
    });
    let bind_error = |source| ProxyError::Bind {
        addr: options.listen,
        source,
    };
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(bind_error)?;
    bound(listener.local_addr().map_err(bind_error)?);
    tokio::pin!(shutdown);
    loop {
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "explorer: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await
            {
                tracing::debug!(%error, "explorer connection closed");
            }
        });
    }
}

async fn handle(state: &State, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if method == hyper::Method::GET || method == hyper::Method::HEAD {
        if path == "/" {
            return redirect(BASE_PATH);
        }
        return match state.explorer.get(&path) {
            Some(page) => {
                let mut response = Response::builder()
                    .status(page.status)
                    .header("content-type", page.content_type);
                for (name, value) in page.headers {
                    response = response.header(name, value);
                }
                response
                    .body(Full::new(Bytes::from(page.body)))
                    .expect("valid response")
            }
            None => text(
                404,
                &format!("nothing at {path}; the explorer is at {BASE_PATH}"),
            ),
        };
    }
    if method != hyper::Method::POST {
        return text(405, "only GET, HEAD and POST");
    }
    let target = if path == format!("{BASE_PATH}/rpc") {
        &state.upstream
    } else if path == format!("{BASE_PATH}/login") {
        &state.login
    } else {
        return text(404, &format!("nothing to POST at {path}"));
    };
    let authorization = request.headers().get("authorization").cloned();
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return text(413, "request body unreadable or over 1 MiB"),
    };
    if target == &state.upstream
        && let Some(refusal) = refuse_writes(&body)
    {
        return json(200, refusal);
    }
    let mut forward = state
        .client
        .post(target)
        .header("content-type", "application/json")
        .body(body);
    if let Some(authorization) = authorization {
        forward = forward.header("authorization", authorization);
    }
    match forward.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            match answer.bytes().await {
                Ok(bytes) => Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Full::new(bytes))
                    .expect("valid response"),
                Err(error) => text(502, &format!("{target} answered unreadably: {error}")),
            }
        }
        Err(error) => text(502, &format!("cannot reach {target}: {error}")),
    }
}

/// The error to answer instead of forwarding, when the body is not JSON-RPC
/// or calls a method outside the read-only allowlist.
fn refuse_writes(body: &[u8]) -> Option<serde_json::Value> {
    let error = |id: serde_json::Value, code: i64, message: String| serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    let parsed: serde_json::Value = match serde_json::from_slice(body) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Some(error(
                serde_json::Value::Null,
                -32700,
                format!("parse error: {e}"),
            ));
        }
    };
    let calls = match &parsed {
        serde_json::Value::Array(calls) => calls.iter().collect::<Vec<_>>(),
        call => vec![call],
    };
    for call in calls {
        let method = call["method"].as_str().unwrap_or_default();
        if !is_read_only(method) {
            return Some(error(
                call["id"].clone(),
                METHOD_NOT_ENABLED,
                format!("the explorer only forwards read-only methods; `{method}` is not one"),
            ));
        }
    }
    None
}

fn text(status: u16, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(message.to_owned())))
        .expect("valid response")
}

fn json(status: u16, value: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("valid response")
}

fn redirect(to: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(302)
        .header("location", to)
        .body(Full::new(Bytes::new()))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_admin_and_write_methods_also_inside_batches() {
        let call =
            |method: &str| format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":[]}}"#);
        assert!(refuse_writes(call("eth_blockNumber").as_bytes()).is_none());
        let refused = refuse_writes(call("perm_addAccountsToAllowlist").as_bytes()).unwrap();
        assert_eq!(refused["error"]["code"], METHOD_NOT_ENABLED);
        assert_eq!(refused["id"], 7);
        let batch = format!(
            "[{},{}]",
            call("eth_chainId"),
            call("eth_sendRawTransaction")
        );
        assert!(refuse_writes(batch.as_bytes()).is_some());
        assert_eq!(refuse_writes(b"not json").unwrap()["error"]["code"], -32700);
        assert!(refuse_writes(b"{}").is_some(), "a call without a method");
    }
}
