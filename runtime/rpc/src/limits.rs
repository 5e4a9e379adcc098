//! Connection limits that keep the server answering: a cap on the
//! connections one client (IP address) holds, and a time limit on each HTTP
//! request (reading its body included), and an idle timeout on every
//! connection, so connections held open by one client (half-sent requests,
//! idle keep-alive connections, idle WebSockets) cannot use up the server's
//! connection slots and lock everyone else out.

use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tower::{Layer, Service};

/// Connections open per client address, capped.
#[derive(Clone, Debug)]
pub(crate) struct PerClient {
    limit: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection counted against its client until dropped.
#[derive(Debug)]
pub(crate) struct ClientSlot {
    client: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    /// At most `limit` connections per address (0: no cap).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Arc::default(),
        }
    }

    /// A slot for one more connection from `client`, or `None` when it
    /// already holds `limit`.
    pub(crate) fn admit(&self, client: IpAddr) -> Option<ClientSlot> {
        let mut open = lock(&self.open);
        let count = open.entry(client).or_insert(0);
        if self.limit != 0 && *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            client,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// A client's connection that holds its [`ClientSlot`] for as long as the
/// connection lives, a WebSocket's too: hyper hands the socket to the
/// WebSocket task when it upgrades, so the slot goes with it.
///
/// A connection from which nothing is read for the idle timeout is closed
/// (Geth's `IdleTimeout`), whatever it is waiting for: a first request that
/// never comes, the next request on a kept-alive connection. A WebSocket is
/// never idle while its client answers the server's pings, which come more
/// often than the timeout (`ws_front.rs`); only reads count, so pings to a
/// client that is gone do not keep its connection open.
pub(crate) struct SlottedStream {
    stream: TcpStream,
    _slot: ClientSlot,
    idle_timeout: Duration,
    last_activity: Instant,
    // Armed lazily: reads only note the time, and the timer is moved on
    // when it fires early, so a busy connection costs no timer updates.
    idle_timer: Pin<Box<tokio::time::Sleep>>,
}

impl SlottedStream {
    pub(crate) fn new(stream: TcpStream, slot: ClientSlot, idle_timeout: Duration) -> Self {
        Self {
            stream,
            _slot: slot,
            idle_timeout,
            last_activity: Instant::now(),
            idle_timer: Box::pin(tokio::time::sleep(idle_timeout)),
        }
    }

    /// `Ready` with an error once the connection has been idle too long;
    /// otherwise `Pending`, with the timer armed to wake this task.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        loop {
            if self.idle_timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last_activity + self.idle_timeout;
            if Instant::now() >= deadline {
                return Poll::Ready(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connection idle for {} s", self.idle_timeout.as_secs_f64()),
                ));
            }
            self.idle_timer
                .as_mut()
                .reset(tokio::time::Instant::from_std(deadline));
        }
    }
}

/// jsonrpsee's pings on its (in-process) WebSocket connections; the
/// client's own connection is pinged by `ws_front.rs`, every
/// `idle_timeout / 4`.
pub(crate) fn ws_ping_config(idle_timeout: Duration) -> jsonrpsee::server::PingConfig {
    jsonrpsee::server::PingConfig::new()
        .ping_interval(idle_timeout / 4)
        .inactive_limit(idle_timeout / 3)
}

impl AsyncRead for SlottedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.last_activity = Instant::now();
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }
}

impl AsyncWrite for SlottedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

fn lock(open: &Mutex<HashMap<IpAddr, usize>>) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Counts are updated whole: a panic elsewhere cannot leave one half-made.
    open.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a client over its cap gets before its connection is closed.
pub(crate) const TOO_MANY_FROM_CLIENT: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\ncontent-length: 45\r\nconnection: close\r\n\r\nToo many connections from this client address";

/// Bounds each HTTP request, reading its body included, as Besu's HTTP
/// timeout does: past it the client gets 408 and its slot is freed. A
/// WebSocket handshake is a request too; the connection it opens is not
/// bounded by this (idle WebSockets are found by pings).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestTimeoutLayer(pub Duration);

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            timeout: self.0,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RequestTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> Service<HttpRequest<B>> for RequestTimeout<S>
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

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let timeout = self.timeout;
        let future = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(timeout, future).await {
                Ok(response) => response,
                Err(_) => Ok(HttpResponse::builder()
                    .status(408)
                    .header("content-type", "text/plain")
                    .header("connection", "close")
                    .body(HttpBody::from(format!(
                        "request not completed within {} s",
                        timeout.as_secs_f64()
                    )))
                    .expect("static response is valid")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_cap_and_frees_it_on_close() {
        let per_client = PerClient::new(2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let first = per_client.admit(a).unwrap();
        let _second = per_client.admit(a).unwrap();
        assert!(per_client.admit(a).is_none(), "a third from one client");
        assert!(per_client.admit(b).is_some(), "another client is served");
        drop(first);
        assert!(per_client.admit(a).is_some(), "a closed one frees its slot");
    }
}
