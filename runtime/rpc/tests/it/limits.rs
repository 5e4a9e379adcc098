//! Limits that keep the RPC answering: connections held open by one client
//! (half-sent HTTP requests, idle WebSockets) do not lock another client
//! out, a half-sent request times out, and looping calls stop at their
//! time limit without holding up other requests.

use std::{net::SocketAddr, time::Duration};

use crate::common::*;
use forja_rpc::RpcConfig;
use forja_runtime::execution::CallLimits;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// A connection to `server` from `source` (another loopback address, so
/// the server sees another client).
async fn connect_from(source: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket.connect(server).await
}

/// The start of what the server sends on `stream`, if anything within `wait`.
async fn first_bytes(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut buffer = [0u8; 256];
    match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&buffer[..n]).into_owned()),
        _ => None,
    }
}

/// Opens up to `count` connections from `source`, each sending the start
/// of a request and nothing more, and keeps those the server holds open.
async fn hold_open(
    source: &str,
    server: SocketAddr,
    count: usize,
    start: &str,
) -> (Vec<TcpStream>, usize) {
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..count {
        let Ok(mut stream) = connect_from(source, server).await else {
            refused += 1;
            continue;
        };
        if stream.write_all(start.as_bytes()).await.is_err() {
            refused += 1;
            continue;
        }
        held.push(stream);
    }
    (held, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_held_by_one_client_do_not_lock_another_out() {
    let config = RpcConfig {
        max_connections_per_client: 64,
        ..Default::default()
    };
    let net = TestNet::start(dev_config(), 1, config).await;
    let addr = net.addr();
    // 300 requests that announce a body and never send it.
    let half_sent = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\":",
        addr.port()
    );
    let (http, _) = hold_open("127.0.0.2", addr, 300, &half_sent).await;
    // 300 WebSockets, opened and left idle.
    let upgrade = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        addr.port()
    );
    let (mut sockets, _) = hold_open("127.0.0.3", addr, 300, &upgrade).await;
    let mut upgraded = 0;
    let mut turned_away = 0;
    for socket in &mut sockets {
        match first_bytes(socket, Duration::from_secs(5)).await {
            Some(answer) if answer.starts_with("HTTP/1.1 101") => upgraded += 1,
            Some(answer) if answer.starts_with("HTTP/1.1 429") => turned_away += 1,
            _ => {}
        }
    }
    println!(
        "of 300 WebSockets from one client, {upgraded} were opened, {turned_away} turned away"
    );
    assert_eq!(upgraded, 64, "a client holds at most its cap");
    // A fresh client is served.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || rpc(addr, body)),
    )
    .await
    .expect("a fresh client is answered")
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json()["result"], "0x0");
    drop((http, sockets));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_times_out_and_frees_its_slot() {
    let config = RpcConfig {
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let net = TestNet::start(dev_config(), 1, config).await;
    let addr = net.addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let half_sent = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        addr.port()
    );
    stream.write_all(half_sent.as_bytes()).await.unwrap();
    let answer = first_bytes(&mut stream, Duration::from_secs(20)).await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 408")),
        "{answer:?}"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_calls_stop_at_the_time_limit_while_others_are_answered() {
    let config = RpcConfig {
        call_limits: CallLimits {
            gas_cap: 0,
            timeout: Some(Duration::from_millis(500)),
        },
        ..Default::default()
    };
    let net = TestNet::start(dev_config(), 1, config).await;
    let addr = net.addr();
    // Init code that loops: JUMPDEST PUSH1 0 JUMP.
    let looping = json!({"jsonrpc":"2.0","id":1,"method":"eth_call",
        "params":[{"data":"0x5b600056","gas":"0x1fffffffffffff"}]})
    .to_string();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let looping = looping.clone();
            tokio::task::spawn_blocking(move || rpc(addr, &looping))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = r#"{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}"#;
    let answered = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || rpc(addr, body)),
    )
    .await
    .expect("answered while the calls run")
    .unwrap();
    assert_eq!(answered.json()["result"], "0x0");
    for call in calls {
        let response: Value = call.await.unwrap().json();
        assert_eq!(response["error"]["code"], -32000, "{response}");
        assert_eq!(
            response["error"]["message"], "execution aborted (timeout = 0.5s)",
            "{response}"
        );
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_but_live_websockets_stay() {
    let config = RpcConfig {
        idle_timeout: Duration::from_millis(800),
        ..Default::default()
    };
    let net = TestNet::start(dev_config(), 1, config).await;
    let addr = net.addr();
    // A connection that never sends a request.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A kept-alive connection, idle after its first answer.
    let mut kept_alive = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        addr.port(),
        body.len()
    );
    kept_alive.write_all(request.as_bytes()).await.unwrap();
    let answer = first_bytes(&mut kept_alive, Duration::from_secs(5)).await;
    assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")));
    // A WebSocket client that answers the server's pings (jsonrpsee's does).
    let websocket = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(format!("ws://{addr}"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (name, stream) in [("silent", &mut silent), ("kept-alive", &mut kept_alive)] {
        let mut buffer = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("the server closed it by now");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the {name} connection is still open: {read:?}"
        );
    }
    let number: String = jsonrpsee::core::client::ClientT::request(
        &websocket,
        "eth_blockNumber",
        jsonrpsee::rpc_params![],
    )
    .await
    .expect("a live WebSocket outlives the idle timeout");
    assert_eq!(number, "0x0");
    net.stop().await;
}
