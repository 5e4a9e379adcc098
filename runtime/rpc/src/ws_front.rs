//! WebSocket connections answered as the spec and Geth answer them, in front
//! of jsonrpsee's own WebSocket loop.
//!
//! jsonrpsee 0.26 reads a request object whose `id` it cannot parse (`-1`,
//! `1.5`, `2^64`, `true`, `[]`, `{}`) as a notification and answers nothing,
//! so the client waits forever (paritytech/jsonrpsee#1653), and answers an
//! oversized message with -32007, which is Besu's code for a permission
//! refusal; its loop has no hook to change either. So a WebSocket upgrade
//! is not handed to jsonrpsee's connection directly: the client's
//! WebSocket ends here, and each message it sends is either answered here
//! (-32600, id null, as `envelope.rs` answers the same requests over HTTP)
//! or passed on unchanged to an in-process WebSocket connection that
//! jsonrpsee serves through the whole middleware stack, whose messages
//! (answers and subscription notifications) are passed back unchanged.
//!
//! The inner connection's upgrade request carries the client's own headers
//! and URI, so host filtering, authentication (`Authorization`, `?token=`)
//! and the connection limit decide as they would have; a refused upgrade
//! reaches the client as jsonrpsee's answer, status and body included.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use alloy::primitives::bytes::Bytes;
use futures_util::io::{BufReader, BufWriter};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse, serve_with_graceful_shutdown},
};
use soketto::{
    connection::{Builder, Mode, Receiver, Sender},
    data::Data,
    handshake::http::{Server as Handshake, is_upgrade_request},
};
use tokio::sync::mpsc;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};
use tower::Service;

use crate::envelope::{Precheck, invalid_request_json, precheck};

/// Builds the service that serves one in-process connection: jsonrpsee's,
/// with every middleware layer.
pub(crate) type MakeService<S> = Arc<dyn Fn() -> S + Send + Sync>;

/// Serves HTTP requests with `inner` and takes WebSocket upgrades itself.
#[derive(Clone)]
pub(crate) struct WsFront<S> {
    inner: S,
    make_service: MakeService<S>,
    stopped: Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>,
    max_request_body_size: u32,
    ping_interval: Duration,
}

impl<S> WsFront<S> {
    pub(crate) fn new(
        inner: S,
        make_service: MakeService<S>,
        stopped: Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>,
        max_request_body_size: u32,
        ping_interval: Duration,
    ) -> Self {
        Self {
            inner,
            make_service,
            stopped,
            max_request_body_size,
            ping_interval,
        }
    }
}

impl<S> Service<HttpRequest<Incoming>> for WsFront<S>
where
    S: Service<HttpRequest<Incoming>, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<Incoming>) -> Self::Future {
        if !is_upgrade_request(&request) {
            let future = self.inner.call(request);
            return Box::pin(async move { future.await.map_err(Into::into) });
        }
        let front = self.clone();
        Box::pin(async move { front.upgrade(request).await })
    }
}

impl<S> WsFront<S>
where
    S: Service<HttpRequest<Incoming>, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
{
    async fn upgrade(self, mut request: HttpRequest<Incoming>) -> Result<HttpResponse, BoxError> {
        // The same upgrade, asked of jsonrpsee over an in-process connection.
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let service = (self.make_service)();
        let stopped = (self.stopped)();
        tokio::spawn(async move {
            if let Err(error) = serve_with_graceful_shutdown(server_io, service, stopped).await {
                tracing::debug!(%error, "in-process WebSocket connection closed");
            }
        });
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(client_io)).await?;
        tokio::spawn(connection.with_upgrades());
        let mut inner_request = HttpRequest::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .version(request.version())
            .body(Empty::<Bytes>::new())?;
        *inner_request.headers_mut() = request.headers().clone();
        let answer = sender.send_request(inner_request).await?;
        if answer.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
            // Refused (authentication, host, connection limit): the client
            // gets jsonrpsee's answer as it is.
            let (parts, body) = answer.into_parts();
            return Ok(HttpResponse::from_parts(parts, HttpBody::new(body)));
        }
        let inner = hyper::upgrade::on(answer).await?;

        let mut handshake = Handshake::new();
        let accepted = handshake.receive_request(&request)?;
        let client = hyper::upgrade::on(&mut request);
        let max_request_body_size = self.max_request_body_size as usize;
        let ping_interval = self.ping_interval;
        tokio::spawn(async move {
            let client = match client.await {
                Ok(client) => client,
                Err(error) => {
                    tracing::debug!(%error, "WebSocket upgrade failed");
                    return;
                }
            };
            let mut client = handshake.into_builder(buffered(client));
            client.set_max_message_size(max_request_body_size);
            let mut server = Builder::new(buffered(inner), Mode::Client);
            // What jsonrpsee sends is bounded by its own response limit.
            server.set_max_message_size(usize::MAX);
            relay(client.finish(), server.finish(), ping_interval).await;
        });
        Ok(accepted.map(|()| HttpBody::default()))
    }
}

type Io = BufReader<BufWriter<Compat<TokioIo<hyper::upgrade::Upgraded>>>>;

fn buffered(upgraded: hyper::upgrade::Upgraded) -> Io {
    BufReader::new(BufWriter::new(TokioIo::new(upgraded).compat()))
}

/// A message for the client, from jsonrpsee or from here.
enum ToClient {
    Text(Vec<u8>),
    Binary(Vec<u8>),
}

/// Moves messages both ways until either side closes; pings the client so
/// a live one is never idle (its pongs are what the connection reads).
async fn relay(
    (mut to_client, mut from_client): (Sender<Io>, Receiver<Io>),
    (mut to_server, mut from_server): (Sender<Io>, Receiver<Io>),
    ping_interval: Duration,
) {
    let (queue, mut outbox) = mpsc::channel::<ToClient>(64);
    let answers = queue.clone();
    let client_reader = async move {
        let mut message = Vec::new();
        loop {
            message.clear();
            let data = match from_client.receive_data(&mut message).await {
                Ok(data) => data,
                Err(soketto::connection::Error::MessageTooLarge { maximum, .. }) => {
                    let answer =
                        invalid_request_json(&format!("request too big: at most {maximum} bytes"));
                    if answers
                        .send(ToClient::Text(answer.into_bytes()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            };
            match precheck(&message) {
                Precheck::Pass => {}
                Precheck::Answer(problem) => {
                    let answer = invalid_request_json(problem).into_bytes();
                    if answers.send(ToClient::Text(answer)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Precheck::Rewritten(batch) => message = batch,
            }
            let sent = match data {
                Data::Text(_) => match std::str::from_utf8(&message) {
                    Ok(text) => to_server.send_text(text).await,
                    Err(_) => return,
                },
                Data::Binary(_) => to_server.send_binary(&message).await,
            };
            if sent.is_err() || to_server.flush().await.is_err() {
                return;
            }
        }
    };
    let server_reader = async move {
        let mut message = Vec::new();
        loop {
            message.clear();
            let kind = match from_server.receive_data(&mut message).await {
                Ok(Data::Text(_)) => ToClient::Text(std::mem::take(&mut message)),
                Ok(Data::Binary(_)) => ToClient::Binary(std::mem::take(&mut message)),
                Err(_) => return,
            };
            if queue.send(kind).await.is_err() {
                return;
            }
        }
    };
    let client_writer = async move {
        let mut pings = tokio::time::interval(ping_interval);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        pings.tick().await;
        loop {
            let sent = tokio::select! {
                next = outbox.recv() => match next {
                    Some(ToClient::Text(text)) => match String::from_utf8(text) {
                        Ok(text) => to_client.send_text_owned(text).await,
                        Err(error) => to_client.send_binary(error.into_bytes()).await,
                    },
                    Some(ToClient::Binary(bytes)) => to_client.send_binary(bytes).await,
                    None => break,
                },
                _ = pings.tick() => {
                    let empty = soketto::data::ByteSlice125::try_from(&[][..])
                        .expect("an empty ping fits");
                    to_client.send_ping(empty).await
                }
            };
            if sent.is_err() || to_client.flush().await.is_err() {
                break;
            }
        }
        let _ = to_client.close().await;
    };
    // Whichever side ends first ends the connection: dropping the others
    // closes the in-process connection, and jsonrpsee's loop with it.
    tokio::select! {
        () = client_reader => {}
        () = server_reader => {}
        () = client_writer => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::envelope::{Precheck, precheck};

    #[test]
    fn requests_jsonrpsee_cannot_read_are_found() {
        for bad in [
            r#"{"jsonrpc":"2.0","id":-1,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":true,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":[],"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}"#,
            r#"{}"#,
        ] {
            assert!(
                matches!(precheck(bad.as_bytes()), Precheck::Answer(_)),
                "{bad}"
            );
        }
        for good in [
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#,
            r#" {"jsonrpc":"2.0","id":"a","method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]"#,
            r#"{"jsonrpc":"2.0","#,
        ] {
            assert_eq!(precheck(good.as_bytes()), Precheck::Pass, "{good}");
        }
        let batch =
            r#"[{"jsonrpc":"2.0","id":1,"method":"a"}, {"jsonrpc":"2.0","id":-1,"method":"b"}]"#;
        assert_eq!(
            precheck(batch.as_bytes()),
            Precheck::Rewritten(
                br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":null}]"#.to_vec()
            )
        );
    }
}
