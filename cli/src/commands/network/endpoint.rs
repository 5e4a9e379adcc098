//! JSON-RPC calls to member nodes' endpoints, authenticated as Besu's
//! (`--rpc-http-authentication-enabled`): a bearer token, or a user name and
//! password exchanged for one at `POST /login`.

use std::time::Duration;

use alloy::transports::http::reqwest::{self, StatusCode, Url};
use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};

/// Credentials for endpoints with authentication on.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuthArgs {
    /// Bearer token (JWT) sent to every endpoint (the same flag as
    /// `forja bench` and `forja node backup` take)
    #[arg(
        long,
        alias = "token",
        env = "FORJA_RPC_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        conflicts_with_all = ["username", "password"]
    )]
    pub rpc_token: Option<String>,
    /// User to log in as at each endpoint's POST /login (Besu's credentials file)
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// That user's password
    #[arg(
        long,
        requires = "username",
        env = "FORJA_RPC_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

/// A JSON-RPC error answer: code and message, as the node sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// One member node's endpoint.
pub(crate) struct Endpoint {
    pub url: String,
    target: Url,
    client: reqwest::Client,
    token: Option<String>,
}

impl Endpoint {
    /// Checks the URL and, with a user name, logs in.
    pub(crate) async fn connect(url: &str, auth: &AuthArgs) -> anyhow::Result<Self> {
        let target = Url::parse(url)
            .with_context(|| format!("`{url}` is not a URL (e.g. http://127.0.0.1:8545)"))?;
        if !matches!(target.scheme(), "http" | "https") || target.host().is_none() {
            bail!("`{url}` is not an http:// or https:// endpoint URL");
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("creating the HTTP client")?;
        let mut endpoint = Self {
            url: url.to_owned(),
            target,
            client,
            token: auth.rpc_token.clone(),
        };
        if let (Some(username), Some(password)) = (&auth.username, &auth.password) {
            endpoint.token = Some(endpoint.login(username, password).await?);
        }
        Ok(endpoint)
    }

    /// Besu's `POST /login`: `{"username", "password"}` → `{"token"}`.
    async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let login = self
            .target
            .join("/login")
            .expect("a path joins an http URL");
        let response = self
            .client
            .post(login.clone())
            .header("content-type", "application/json")
            .body(json!({ "username": username, "password": password }).to_string())
            .send()
            .await
            .with_context(|| format!("cannot reach {login}"))?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        match status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => {
                bail!("{login}: user `{username}` was refused (wrong user name or password)")
            }
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => bail!(
                "{login}: the endpoint has no /login (authentication off, or JWT public-key authentication: give --rpc-token)"
            ),
            other => bail!("{login}: HTTP {other}: {}", String::from_utf8_lossy(&body)),
        }
        let answer: Value = serde_json::from_slice(&body)
            .with_context(|| format!("{login}: the answer is not JSON"))?;
        answer["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("{login}: the answer has no token: {answer}"))
    }

    /// The request body of a call, as sent.
    pub(crate) fn request(method: &str, params: &Value) -> Value {
        json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
    }

    /// Calls `method`; `Ok(Err(_))` is the node's JSON-RPC error answer.
    pub(crate) async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Result<Value, RpcError>> {
        let mut request = self
            .client
            .post(self.target.clone())
            .header("content-type", "application/json")
            .body(Self::request(method, &params).to_string());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.url))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("{}: reading the answer to {method}", self.url))?;
        let answer: Value = serde_json::from_slice(&body).map_err(|_| {
            anyhow!(
                "{}: {method} answered HTTP {status} with no JSON-RPC body: {}",
                self.url,
                String::from_utf8_lossy(&body)
            )
        })?;
        if let Some(error) = answer.get("error") {
            return Ok(Err(RpcError {
                code: error["code"].as_i64().unwrap_or_default(),
                message: error["message"].as_str().unwrap_or_default().to_owned(),
            }));
        }
        Ok(Ok(answer.get("result").cloned().unwrap_or(Value::Null)))
    }

    /// [`Self::call`] with an error answer turned into an error naming the endpoint.
    pub(crate) async fn expect(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.call(method, params)
            .await?
            .map_err(|error| anyhow!("{}: {method} failed: {error}", self.url))
    }

    /// Whether a bearer token goes with the calls.
    pub(crate) fn authenticated(&self) -> bool {
        self.token.is_some()
    }
}
