//! HTTP requests whose JSON-RPC envelope jsonrpsee mishandles, answered as
//! the spec and Geth do: a request object with an `id` that is not a
//! string, a whole number of at most 64 bits or null (`-1`, `1.5`, `2^64`,
//! `true`, `[]`, `{}`) gets -32600 with id null instead of no answer (which
//! left clients waiting forever), `{}` gets -32600 instead of a parse
//! error, and a body over the size limit gets -32600 "request too big"
//! (HTTP 413) instead of -32007, the code Besu gives permission refusals.
//!
//! The body is read here (bounded by the size limit) and handed on whole;
//! only answers of exactly the lengths of jsonrpsee's `null` and parse
//! error are looked at again, so a normal request costs one buffer copy.
//! In a batch, an entry with such an id is replaced by `{"id":null}` before
//! jsonrpsee reads it, which jsonrpsee answers -32600 with id null.
//!
//! `precheck` is the same judgement made before jsonrpsee sees a message;
//! the WebSocket front (`ws_front.rs`) uses it for every message.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http_body::Body as _;
use jsonrpsee::{
    core::{
        BoxError,
        http_helpers::{HttpError, read_body},
    },
    server::{HttpBody, HttpRequest, HttpResponse, http},
};
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use tower::{Layer, Service};

use crate::error::INVALID_REQUEST;

/// Answers the envelopes described in the module documentation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EnvelopeLayer {
    pub max_request_body_size: u32,
}

impl<S> Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Envelope {
            inner,
            max_request_body_size: self.max_request_body_size,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Envelope<S> {
    inner: S,
    max_request_body_size: u32,
}

/// The length of jsonrpsee's parse error answer,
/// `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`.
const PARSE_ERROR_ANSWER_LEN: u64 = 75;

fn invalid_request(status: u16, message: &str) -> HttpResponse {
    HttpResponse::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(HttpBody::from(invalid_request_json(message)))
        .expect("static response is valid")
}

/// Whether jsonrpsee's `answer` to `request` should have been -32600: it
/// said nothing (`null`) to a request object that has an `id`, or called
/// valid JSON unparseable.
fn misjudged(request: &[u8], answer: &[u8]) -> Option<&'static str> {
    let said_nothing = answer == b"null";
    let parse_error = !said_nothing
        && answer.len() < 128
        && serde_json::from_slice::<Value>(answer)
            .is_ok_and(|a| a["error"]["code"] == json!(-32700));
    if !said_nothing && !parse_error {
        return None;
    }
    match serde_json::from_slice::<Value>(request).ok()? {
        Value::Object(object) if object.contains_key("id") && said_nothing => Some(BAD_ID),
        Value::Object(_) if parse_error => Some(NOT_A_REQUEST),
        _ => None,
    }
}

const BAD_ID: &str =
    "invalid request: id must be a string, a whole number (64 bits at most) or null";
const NOT_A_REQUEST: &str =
    "invalid request: a request needs jsonrpc \"2.0\", a method and an id (string, number or null)";

/// What to do with a JSON-RPC message before jsonrpsee reads it.
#[derive(Debug, PartialEq)]
pub(crate) enum Precheck {
    /// jsonrpsee answers it right.
    Pass,
    /// Answer -32600 with id null and this message; do not pass it on.
    Answer(&'static str),
    /// Pass on this batch instead, whose unreadable entries were replaced.
    Rewritten(Vec<u8>),
}

/// The parts of a request object that decide whether jsonrpsee can read it.
#[derive(Deserialize)]
struct RequestEnvelope<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
}

/// An id jsonrpsee cannot read, in a request object it would take for a
/// notification because of it.
fn unreadable_id(object: &RequestEnvelope<'_>) -> bool {
    match object.id.map(RawValue::get) {
        None | Some("null") => false,
        Some(id) => !id.starts_with('"') && id.parse::<u64>().is_err(),
    }
}

/// Judges a message as jsonrpsee would misjudge it (module documentation).
pub(crate) fn precheck(message: &[u8]) -> Precheck {
    let Some(start) = message.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Precheck::Pass;
    };
    match message[start] {
        b'{' => {
            // Not JSON: jsonrpsee's parse error is the right answer.
            let Ok(object) = serde_json::from_slice::<RequestEnvelope<'_>>(message) else {
                return Precheck::Pass;
            };
            if object.method.is_none() {
                Precheck::Answer(NOT_A_REQUEST)
            } else if unreadable_id(&object) {
                Precheck::Answer(BAD_ID)
            } else {
                Precheck::Pass
            }
        }
        b'[' => {
            let Ok(entries) = serde_json::from_slice::<Vec<&RawValue>>(message) else {
                return Precheck::Pass;
            };
            let unreadable = |entry: &&RawValue| {
                serde_json::from_str::<RequestEnvelope<'_>>(entry.get())
                    .is_ok_and(|object| object.method.is_some() && unreadable_id(&object))
            };
            if !entries.iter().any(unreadable) {
                return Precheck::Pass;
            }
            let mut batch = Vec::with_capacity(message.len());
            batch.push(b'[');
            for (i, entry) in entries.iter().enumerate() {
                if i > 0 {
                    batch.push(b',');
                }
                if unreadable(entry) {
                    batch.extend_from_slice(br#"{"jsonrpc":"2.0","id":null}"#);
                } else {
                    batch.extend_from_slice(entry.get().as_bytes());
                }
            }
            batch.push(b']');
            Precheck::Rewritten(batch)
        }
        _ => Precheck::Pass,
    }
}

/// The -32600 answer (id null) to a message `precheck` answers.
pub(crate) fn invalid_request_json(message: &str) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": INVALID_REQUEST, "message": message},
    })
    .to_string()
}

impl<S, B> Service<HttpRequest<B>> for Envelope<S>
where
    S: Service<HttpRequest<HttpBody>, Response = HttpResponse, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = alloy::primitives::bytes::Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let max = self.max_request_body_size;
        // The service that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let is_post = request.method() == "POST";
            let (parts, body) = request.into_parts();
            if !is_post {
                return inner
                    .call(HttpRequest::from_parts(parts, HttpBody::new(body)))
                    .await;
            }
            let bytes = match read_body(&parts.headers, body, max).await {
                Ok((bytes, _)) => bytes,
                Err(HttpError::TooLarge) => {
                    return Ok(invalid_request(
                        413,
                        &format!("request too big: at most {max} bytes"),
                    ));
                }
                // Not JSON at all: jsonrpsee's parse error, as before.
                Err(HttpError::Malformed) => return Ok(http::response::malformed()),
                Err(error) => return Err(error.into()),
            };
            let bytes = match bytes.first() {
                Some(b'[') => match precheck(&bytes) {
                    Precheck::Rewritten(batch) => batch,
                    _ => bytes,
                },
                _ => bytes,
            };
            let response = inner
                .call(HttpRequest::from_parts(
                    parts,
                    HttpBody::from(bytes.clone()),
                ))
                .await?;
            // Only jsonrpsee's two misjudgements are looked at again, by
            // their exact lengths: `null` and its parse error.
            let suspect = http_body::Body::size_hint(response.body())
                .exact()
                .is_some_and(|n| n == 4 || n == PARSE_ERROR_ANSWER_LEN);
            if !suspect {
                return Ok(response);
            }
            let (parts, mut body) = response.into_parts();
            let mut answer = Vec::new();
            while let Some(frame) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                if let Some(data) = frame?.data_ref() {
                    answer.extend_from_slice(data);
                }
            }
            Ok(match misjudged(&bytes, &answer) {
                Some(message) => invalid_request(200, message),
                None => HttpResponse::from_parts(parts, HttpBody::from(answer)),
            })
        })
    }
}
