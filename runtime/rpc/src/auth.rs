//! Who may call what, as Besu decides it: API groups, authentication
//! (a credentials file with `/login`, or JWTs signed by an external key)
//! and per-user method permissions, for HTTP and WebSocket alike.
//!
//! Two layers: [`AuthLayer`] (HTTP, also sees the WebSocket upgrade)
//! answers `POST /login` and turns a valid token into a [`Caller`] in the
//! request's extensions; [`AccessControl`] (JSON-RPC) refuses, per call,
//! a method outside the enabled groups (-32604 "Method not enabled") and
//! one the caller may not use (-40100 "Unauthorized"). Handlers that change
//! the network read the [`Caller`] to act as its account.

use std::{
    collections::BTreeMap,
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use alloy::primitives::{Address, bytes::Bytes};
use http_body_util::BodyExt;
use jsonrpsee::{
    server::{
        HttpBody, HttpRequest, HttpResponse,
        middleware::rpc::{
            Batch, BatchEntry, BatchEntryErr, MethodResponse, Notification, RpcServiceT,
        },
    },
    types::{ErrorObjectOwned, Extensions, Request},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower::{Layer, Service};

use crate::groups::ApiGroups;

/// Besu's "Method not enabled": the method's API group is off.
pub const METHOD_NOT_ENABLED: i32 = -32604;
/// Besu's "Unauthorized": no valid token, or the token's user lacks the
/// method's permission.
pub const UNAUTHORIZED: i32 = -40100;

/// How long a `/login` token is valid (Besu: 5 minutes).
pub const LOGIN_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Largest `/login` body read.
const MAX_LOGIN_BODY: usize = 16 * 1024;
/// How long a login waits for the one password check that runs at a time
/// before it is told to retry (429): bcrypt is slow by design, so a flood
/// of logins must not take every core from the chain and other clients.
const LOGIN_QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Methods that sign with keys the node holds (dev or configured accounts).
const NODE_KEY_METHODS: [&str; 3] = ["eth_sendTransaction", "eth_sign", "personal_sign"];

/// A bcrypt hash of `password` for a credentials file's `password` field
/// (bcrypt's default cost, as Besu's `password hash`).
pub fn hash_password(password: &str) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(password, bcrypt::DEFAULT_COST)
}

/// Why authentication settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The users of a credentials file (Besu's format, with forja's `account`).
///
/// ```toml
/// [Users.alice]
/// password = "$2b$12$..."          # bcrypt hash (`forja password hash`)
/// permissions = ["perm:*", "eth:*", "net:version"]
/// account = "0xf39F..."            # forja: admin methods act as this account
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(rename = "Users", default)]
    users: BTreeMap<String, UserEntry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    password: String,
    #[serde(default)]
    permissions: Vec<String>,
    /// forja's extension: the account admin methods act as.
    #[serde(default)]
    account: Option<Address>,
    /// Besu's privacy field; read so Besu's files load, not used.
    #[serde(rename = "privacyPublicKey", default)]
    _privacy_public_key: Option<String>,
}

/// How callers prove who they are.
#[derive(Clone, Default)]
pub enum Authentication {
    /// Everyone is the operator (the default, as in Besu).
    #[default]
    Disabled,
    /// Users from a credentials file log in at `/login` for a token this
    /// server signs and checks itself.
    Credentials(Arc<CredentialsAuth>),
    /// Tokens signed by an external key; no `/login`.
    PublicKey(Arc<PublicKeyAuth>),
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Disabled => "Disabled",
            Self::Credentials(_) => "Credentials",
            Self::PublicKey(_) => "PublicKey",
        })
    }
}

pub struct CredentialsAuth {
    users: BTreeMap<String, UserEntry>,
    /// Login tokens are signed with HS256 under a key made at start-up:
    /// only this server issues and reads them, so no key pair is needed
    /// (Besu uses an RS256 pair it generates the same way); clients treat
    /// the token as opaque.
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// One password check at a time (see [`LOGIN_QUEUE_WAIT`]).
    password_checks: tokio::sync::Semaphore,
}

pub struct PublicKeyAuth {
    key: DecodingKey,
    algorithm: Algorithm,
}

impl Authentication {
    /// Reads a Besu credentials file (`--rpc-http-authentication-credentials-file`).
    pub fn credentials_file(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |message: String| AuthError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: CredentialsFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if file.users.is_empty() {
            return Err(invalid("no users: add a [Users.<name>] table".into()));
        }
        for (name, user) in &file.users {
            if user.password.parse::<bcrypt::HashParts>().is_err() {
                return Err(invalid(format!(
                    "user `{name}`: `password` must be a bcrypt hash (\"$2b$10$...\"), not the password itself"
                )));
            }
            for permission in &user.permissions {
                if !permission.contains(':') {
                    return Err(invalid(format!(
                        "user `{name}`: permission `{permission}` is not `group:method`, `group:*` or `*:*`"
                    )));
                }
            }
        }
        let secret: [u8; 32] = rand::random();
        Ok(Self::Credentials(Arc::new(CredentialsAuth {
            users: file.users,
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            password_checks: tokio::sync::Semaphore::new(1),
        })))
    }

    /// Reads a PEM public key (`--rpc-http-authentication-jwt-public-key-file`)
    /// for `algorithm` (RS256, RS384, RS512, ES256, ES384; Besu's default is RS256).
    pub fn public_key_file(path: &Path, algorithm: &str) -> Result<Self, AuthError> {
        let invalid = |message: String| AuthError::Invalid {
            path: path.to_owned(),
            message,
        };
        let algorithm: Algorithm = algorithm
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| invalid(format!("unknown JWT algorithm `{algorithm}`")))?;
        let pem = std::fs::read(path).map_err(|source| AuthError::Read {
            path: path.to_owned(),
            source,
        })?;
        let key = match algorithm {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                DecodingKey::from_rsa_pem(&pem)
            }
            Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&pem),
            other => {
                return Err(invalid(format!(
                    "JWT algorithm {other:?} is not supported; use RS256, RS384, RS512, ES256 or ES384"
                )));
            }
        }
        .map_err(|e| invalid(format!("not a PEM public key for {algorithm:?}: {e}")))?;
        Ok(Self::PublicKey(Arc::new(PublicKeyAuth { key, algorithm })))
    }

    pub fn is_enabled(&self) -> bool {
        !matches!(self, Self::Disabled)
    }

    /// The caller a token names, if it is valid and unexpired.
    fn caller(&self, token: &str) -> Option<Caller> {
        let claims = match self {
            Self::Disabled => return None,
            Self::Credentials(auth) => {
                jsonwebtoken::decode::<Claims>(
                    token,
                    &auth.decoding,
                    &Validation::new(Algorithm::HS256),
                )
                .ok()?
                .claims
            }
            Self::PublicKey(auth) => {
                jsonwebtoken::decode::<Claims>(token, &auth.key, &Validation::new(auth.algorithm))
                    .ok()?
                    .claims
            }
        };
        Some(Caller {
            username: claims.username,
            permissions: claims.permissions,
            account: claims.account,
        })
    }
}

/// A token's claims: Besu's `permissions` (and `username` in tokens from
/// `/login`), forja's `account`, and the expiry every token must carry.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<Address>,
    #[serde(default)]
    iat: u64,
    exp: u64,
}

/// An authenticated caller, in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub username: Option<String>,
    pub permissions: Vec<String>,
    /// The account admin methods act as; `None` acts as the node's operator.
    pub account: Option<Address>,
}

impl Caller {
    /// Besu's rule: `*:*`, `<group>:*` or `<group>:<method>` where the
    /// method is `<group>_<method>`.
    pub fn may_call(&self, method: &str) -> bool {
        let (namespace, name) = method.split_once('_').unwrap_or((method, ""));
        self.permissions.iter().any(|permission| {
            let (group, allowed) = permission.split_once(':').unwrap_or((permission, ""));
            group == "*" && allowed == "*"
                || group.eq_ignore_ascii_case(namespace) && (allowed == "*" || allowed == name)
        })
    }
}

/// What the JSON-RPC layer enforces.
#[derive(Clone, Debug)]
pub struct AccessConfig {
    /// Groups answered over HTTP; others get -32604 "Method not enabled".
    pub api_groups: ApiGroups,
    /// Groups answered over WebSocket (Besu's `--rpc-ws-api`).
    pub ws_api_groups: ApiGroups,
    pub authentication: Authentication,
    /// Refuse the methods that sign with node-held keys to callers who did
    /// not authenticate (a network from a file: Besu holds no keys at all).
    pub node_keys_need_authentication: bool,
}

impl Default for AccessConfig {
    /// Everything open, as a library embedding forja-rpc expects; `forja
    /// node` sets Besu's defaults for a network from a file.
    fn default() -> Self {
        Self {
            api_groups: ApiGroups::all(),
            ws_api_groups: ApiGroups::all(),
            authentication: Authentication::Disabled,
            node_keys_need_authentication: false,
        }
    }
}

fn method_not_enabled(method: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        METHOD_NOT_ENABLED,
        "Method not enabled",
        Some(format!(
            "{method} is in an API group this node does not serve (see --rpc-http-api)"
        )),
    )
}

fn unauthorized(why: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(UNAUTHORIZED, "Unauthorized", Some(why.into()))
}

impl AccessConfig {
    /// Whether the caller of a request with these extensions may call
    /// `method`, or Besu's error for it.
    fn check(&self, method: &str, extensions: &Extensions) -> Result<(), ErrorObjectOwned> {
        let groups = if extensions.get::<WebSocket>().is_some() {
            &self.ws_api_groups
        } else {
            &self.api_groups
        };
        let caller = extensions.get::<Caller>();
        if !groups.allows(method) {
            return Err(method_not_enabled(method));
        }
        if self.authentication.is_enabled() {
            let Some(caller) = caller else {
                return Err(unauthorized(
                    "authentication is required: send `Authorization: Bearer <token>` (a token from POST /login, or a JWT signed with the configured key)",
                ));
            };
            if !caller.may_call(method) {
                return Err(unauthorized(format!(
                    "user {} has no permission for {method}",
                    caller.username.as_deref().unwrap_or("of this token")
                )));
            }
        } else if self.node_keys_need_authentication && NODE_KEY_METHODS.contains(&method) {
            return Err(unauthorized(format!(
                "{method} signs with a key this node holds, which only authenticated callers may use; enable --rpc-http-authentication-enabled, or sign locally and use eth_sendRawTransaction"
            )));
        }
        Ok(())
    }
}

/// JSON-RPC middleware applying [`AccessConfig`] to every call, batched or not.
#[derive(Clone)]
pub struct AccessControl<S> {
    service: S,
    access: Arc<AccessConfig>,
}

impl<S> AccessControl<S> {
    pub fn new(service: S, access: Arc<AccessConfig>) -> Self {
        Self { service, access }
    }
}

impl<S> RpcServiceT for AccessControl<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let verdict = self
            .access
            .check(request.method_name(), request.extensions());
        let service = self.service.clone();
        async move {
            match verdict {
                Ok(()) => service.call(request).await,
                Err(err) => MethodResponse::error(request.id, err),
            }
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let Ok(BatchEntry::Call(request)) = entry else {
                continue;
            };
            if let Err(err) = self
                .access
                .check(request.method_name(), request.extensions())
            {
                *entry = Err(BatchEntryErr::new(request.id.clone(), err));
            }
        }
        let service = self.service.clone();
        async move { service.batch(batch).await }
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        let allowed = self
            .access
            .check(notification.method_name(), notification.extensions())
            .is_ok();
        let service = self.service.clone();
        async move {
            if allowed {
                service.notification(notification).await
            } else {
                MethodResponse::notification()
            }
        }
    }
}

/// Marks the calls of a WebSocket connection (its upgrade request's
/// extensions are every call's).
#[derive(Clone, Copy, Debug)]
struct WebSocket;

/// HTTP middleware: `POST /login`, and the caller a request's token names
/// (`Authorization: Bearer <token>`, or `?token=` on a WebSocket URL as
/// Besu accepts) put in its extensions for [`AccessControl`].
#[derive(Clone)]
pub struct AuthLayer {
    pub(crate) authentication: Authentication,
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authentication: self.authentication.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    authentication: Authentication,
}

fn token_of<B>(request: &HttpRequest<B>) -> Option<&str> {
    if let Some(bearer) = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    {
        return Some(bearer.trim());
    }
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

fn json_response(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(HttpBody::from(body.to_string()))
        .expect("static response parts are valid")
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// Besu's `/login`: a token for a user whose password matches, else 401.
async fn login<B>(authentication: Authentication, body: B) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let auth = match authentication {
        Authentication::Credentials(auth) => auth,
        Authentication::Disabled => {
            return json_response(
                400,
                serde_json::json!({"error": "Authentication not enabled"}),
            );
        }
        Authentication::PublicKey(_) => {
            return json_response(
                400,
                serde_json::json!({"error": "Login not enabled: this node accepts JWTs signed by its configured key"}),
            );
        }
    };
    let body = match http_body_util::Limited::new(body, MAX_LOGIN_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return json_response(
                400,
                serde_json::json!({"error": "unreadable or too large login body"}),
            );
        }
    };
    let Ok(request) = serde_json::from_slice::<LoginRequest>(&body) else {
        return json_response(
            400,
            serde_json::json!({"error": "expected {\"username\": ..., \"password\": ...}"}),
        );
    };
    let Ok(Ok(_permit)) =
        tokio::time::timeout(LOGIN_QUEUE_WAIT, auth.password_checks.acquire()).await
    else {
        return json_response(
            429,
            serde_json::json!({"error": "too many logins at once; retry shortly"}),
        );
    };
    // bcrypt is slow by design: off the async workers.
    let auth = Arc::clone(&auth);
    let verified = tokio::task::spawn_blocking(move || {
        let user = auth.users.get(&request.username)?;
        bcrypt::verify(&request.password, &user.password)
            .ok()
            .filter(|ok| *ok)?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            permissions: user.permissions.clone(),
            username: Some(request.username.clone()),
            account: user.account,
            iat: now,
            exp: now + LOGIN_TOKEN_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &auth.encoding).ok()
    })
    .await
    .ok()
    .flatten();
    match verified {
        Some(token) => json_response(200, serde_json::json!({ "token": token })),
        None => json_response(401, serde_json::json!({"error": "Unauthorized"})),
    }
}

impl<S, B> Service<HttpRequest<B>> for AuthService<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        if request.uri().path() == "/login" && request.method() == "POST" {
            let authentication = self.authentication.clone();
            return Box::pin(async move { Ok(login(authentication, request.into_body()).await) });
        }
        let is_upgrade = request
            .headers()
            .get("upgrade")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if is_upgrade {
            request.extensions_mut().insert(WebSocket);
        }
        if self.authentication.is_enabled()
            && let Some(caller) = token_of(&request).and_then(|t| self.authentication.caller(t))
        {
            request.extensions_mut().insert(caller);
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_follow_besus_rule() {
        let caller = Caller {
            username: None,
            permissions: vec!["eth:*".into(), "net:version".into()],
            account: None,
        };
        assert!(caller.may_call("eth_blockNumber"));
        assert!(caller.may_call("net_version"));
        assert!(!caller.may_call("net_peerCount"));
        assert!(!caller.may_call("perm_addAccountsToAllowlist"));
        let admin = Caller {
            permissions: vec!["*:*".into()],
            ..caller
        };
        assert!(admin.may_call("perm_addAccountsToAllowlist"));
    }
}
