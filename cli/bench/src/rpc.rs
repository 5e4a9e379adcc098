//! A JSON-RPC client over plain HTTP/1.1 connections that the load
//! generator keeps open (keep-alive) and fills with pre-serialised request
//! bodies, so sending a transaction costs one write and one small parse.

use std::time::Duration;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::{
    Request, StatusCode, Uri,
    body::Bytes,
    client::conn::http1::SendRequest,
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue},
};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, value::RawValue};
use tokio::net::TcpStream;

/// An endpoint to send to: its URL and the bearer token guarded endpoints
/// (Besu's `--rpc-http-authentication-enabled`, forja node's JWT) want.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub token: Option<String>,
}

impl Endpoint {
    pub fn new(url: &str, token: Option<String>) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("`{url}` is not a URL (e.g. http://127.0.0.1:8545)"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => bail!(
                "{url}: forja bench drives plain HTTP only (its connections carry no TLS, so TLS cost is not what it measures); reach the node over http:// or through a local TLS-terminating proxy"
            ),
            _ => bail!("{url}: give an http:// URL"),
        }
        if uri.host().is_none() {
            bail!("{url}: the URL has no host");
        }
        Ok(Self {
            url: url.to_owned(),
            token,
        })
    }
}

/// One kept-alive HTTP/1.1 connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    uri: Uri,
    host: HeaderValue,
    authorization: Option<HeaderValue>,
    url: String,
}

impl Connection {
    pub async fn open(endpoint: &Endpoint) -> anyhow::Result<Self> {
        let uri: Uri = endpoint.url.parse().expect("checked by Endpoint::new");
        let host = uri.host().expect("checked by Endpoint::new");
        let port = uri.port_u16().unwrap_or(80);
        let stream = tokio::time::timeout(
            Duration::from_secs(10),
            TcpStream::connect((host.trim_matches(['[', ']']), port)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("{}: connecting timed out after 10 s", endpoint.url))?
        .with_context(|| format!("cannot connect to {}", endpoint.url))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("{}: HTTP handshake failed", endpoint.url))?;
        tokio::spawn(connection);
        let authority = uri.authority().expect("has a host").as_str();
        let authorization = endpoint
            .token
            .as_deref()
            .map(|token| HeaderValue::from_str(&format!("Bearer {token}")))
            .transpose()
            .context("the RPC token holds characters an HTTP header cannot")?;
        Ok(Self {
            sender,
            uri: uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .parse()
                .expect("a path is a URI"),
            host: HeaderValue::from_str(authority).expect("an authority is a header value"),
            authorization,
            url: endpoint.url.clone(),
        })
    }

    /// POSTs `body` and returns the response body of a 200.
    pub async fn post(&mut self, body: Bytes) -> anyhow::Result<Bytes> {
        let mut request = Request::post(self.uri.clone())
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request.body(Full::new(body)).expect("a valid request");
        self.sender
            .ready()
            .await
            .with_context(|| format!("{}: the connection closed", self.url))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .with_context(|| format!("{}: the request failed", self.url))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("{}: reading the response failed", self.url))?
            .to_bytes();
        match status {
            StatusCode::OK => Ok(body),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => bail!(
                "{}: HTTP {status}: the endpoint wants authentication; give --rpc-token (or FORJA_RPC_TOKEN)",
                self.url
            ),
            _ => bail!(
                "{}: HTTP {status}: {}",
                self.url,
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        }
    }

    /// One JSON-RPC call; a JSON-RPC error becomes an error with its code and message.
    pub async fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body = serde_json::to_vec(
            &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )?;
        let response = self.post(body.into()).await?;
        let response: Response<'_> = serde_json::from_slice(&response).with_context(|| {
            format!(
                "{}: `{method}` answered with something that is not JSON-RPC",
                self.url
            )
        })?;
        if let Some(error) = response.error {
            bail!("{method}: {} (code {})", error.message, error.code);
        }
        let result = response.result.map_or("null", RawValue::get);
        Ok(serde_json::from_str(result)?)
    }
}

/// Why one call of a batch has no usable result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailed {
    #[error("{message} (code {code})")]
    Rpc { code: i64, message: String },
    #[error("no answer in the batch")]
    NoAnswer,
    #[error("unreadable result: {0}")]
    Unreadable(String),
}

impl Connection {
    /// Several calls in one JSON-RPC batch; each call's result or why it
    /// has none, in order.
    pub async fn batch(
        &mut self,
        calls: &[(&str, Value)],
    ) -> anyhow::Result<Vec<Result<Value, CallFailed>>> {
        let requests: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| {
                serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            })
            .collect();
        let response = self.post(serde_json::to_vec(&requests)?.into()).await?;
        let responses: Vec<Response<'_>> =
            serde_json::from_slice(&response).with_context(|| {
                format!(
                    "{}: a JSON-RPC batch was not answered with a batch: {}",
                    self.url,
                    String::from_utf8_lossy(&response)
                        .chars()
                        .take(200)
                        .collect::<String>()
                )
            })?;
        let mut results: Vec<Result<Value, CallFailed>> =
            vec![Err(CallFailed::NoAnswer); calls.len()];
        for response in responses {
            let Some(slot) = response.id.and_then(|id| results.get_mut(id as usize)) else {
                continue;
            };
            *slot = match (response.error, response.result) {
                (Some(error), _) => Err(CallFailed::Rpc {
                    code: error.code,
                    message: error.message,
                }),
                (None, result) => serde_json::from_str(result.map_or("null", RawValue::get))
                    .map_err(|e| CallFailed::Unreadable(e.to_string())),
            };
        }
        Ok(results)
    }
}

/// A JSON-RPC response, its result left unparsed.
#[derive(Deserialize)]
pub struct Response<'a> {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
    #[serde(default)]
    pub error: Option<RpcError>,
}

#[derive(Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

/// The body of `eth_sendRawTransaction` for `raw`, with `id`.
pub fn send_raw_body(id: u64, raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(80 + raw.len() * 2);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    body.extend_from_slice(id.to_string().as_bytes());
    body.extend_from_slice(br#","method":"eth_sendRawTransaction","params":["0x"#);
    body.extend_from_slice(alloy::hex::encode(raw).as_bytes());
    body.extend_from_slice(br#""]}"#);
    body
}

/// A server that answers every JSON-RPC request (single or batch) with a
/// success and does nothing else: what the generator is measured against
/// to state its own ceiling.
pub async fn start_sink() -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    use hyper::{Response as HttpResponse, server::conn::http1, service::service_fn};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
                    let body = request.into_body().collect().await?.to_bytes();
                    let answer = sink_answer(&body);
                    Ok::<_, hyper::Error>(HttpResponse::new(Full::new(Bytes::from(answer))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

/// One success per request of `body`, with its id (a batch is answered
/// by a batch).
fn sink_answer(body: &[u8]) -> Vec<u8> {
    #[derive(Deserialize)]
    struct Id<'a> {
        #[serde(borrow, default)]
        id: Option<&'a RawValue>,
    }
    let answer = |id: Option<&RawValue>| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":"0x"}}"#,
            id.map_or("null", RawValue::get)
        )
    };
    if body.first() == Some(&b'[') {
        let ids: Vec<Id<'_>> = serde_json::from_slice(body).unwrap_or_default();
        let answers: Vec<String> = ids.iter().map(|r| answer(r.id)).collect();
        format!("[{}]", answers.join(",")).into_bytes()
    } else {
        let id = serde_json::from_slice::<Id<'_>>(body)
            .ok()
            .and_then(|r| r.id);
        answer(id).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sink_answers_a_batch_with_as_many_results() {
        let batch = [send_raw_body(1, &[1, 2]), send_raw_body(2, &[3])];
        let body = format!(
            "[{},{}]",
            String::from_utf8_lossy(&batch[0]),
            String::from_utf8_lossy(&batch[1])
        );
        let answer: Vec<Value> = serde_json::from_slice(&sink_answer(body.as_bytes())).unwrap();
        assert_eq!(answer.len(), 2);
        assert_eq!(answer[1]["id"], 2);
        let one: Value = serde_json::from_slice(&sink_answer(&batch[0])).unwrap();
        assert_eq!(one["result"], "0x");
    }

    #[tokio::test]
    async fn a_token_goes_out_as_a_bearer_header() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/rpc", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let n = stream.read(&mut request).await.unwrap();
            let body = r#"{"jsonrpc":"2.0","id":1,"result":"0x539"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        let endpoint = Endpoint::new(&url, Some("s3cret".into())).unwrap();
        let mut connection = Connection::open(&endpoint).await.unwrap();
        let chain_id = connection
            .call("eth_chainId", serde_json::json!([]))
            .await
            .unwrap();
        assert_eq!(chain_id, "0x539");
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post /rpc http/1.1"), "{request}");
        assert!(
            request.contains("authorization: bearer s3cret"),
            "{request}"
        );
    }

    #[test]
    fn endpoints_must_be_plain_http() {
        assert!(Endpoint::new("http://127.0.0.1:8545", None).is_ok());
        let err = Endpoint::new("https://node:8545", None).unwrap_err();
        assert!(err.to_string().contains("plain HTTP"), "{err}");
        assert!(Endpoint::new("not a url", None).is_err());
    }
}
