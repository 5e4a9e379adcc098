//! forja's block explorer: one page (plain ES modules and CSS, embedded in
//! the binary, nothing fetched from elsewhere) that reads a network over
//! its JSON-RPC API and decodes calls, logs and reverts with the project's
//! ABIs.
//!
//! [`Explorer`] answers `GET /explorer/...`: the assets, `abi.json` (the
//! project's artifacts as lookup tables, see [`abi_index`]) and
//! `config.json` (where the API is, and the methods the page may call).
//! `forja node` serves it on its RPC port through [`forja_rpc::HttpPages`];
//! `forja explorer` serves it with [`serve`], which also forwards the
//! page's calls to another endpoint.
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod abi_index;
mod proxy;

use std::path::Path;

use forja_rpc::{HttpPage, HttpPages};

pub use abi_index::{AbiIndex, AbiIndexError, project_out_dir};
pub use proxy::{ProxyError, ServeOptions, serve};

/// The only methods the page calls: reads. Admin and write methods
/// (`perm_add*`, `*_proposeValidatorVote`, `eth_send*`, `admin_*`,
/// `debug_set*`, dev methods) are not here, so the page cannot be used to
/// change anything; `forja explorer`'s proxy refuses every other method too.
pub const READ_ONLY_METHODS: &[&str] = &[
    "eth_blockNumber",
    "eth_chainId",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getBlockReceipts",
    "eth_getBalance",
    "eth_getCode",
    "eth_getTransactionCount",
    "eth_getLogs",
    "eth_subscribe",
    "eth_unsubscribe",
    "net_version",
    "web3_clientVersion",
    "rpc_modules",
    "debug_traceTransaction",
    "qbft_getValidatorsByBlockNumber",
    "qbft_getSignerMetrics",
    "qbft_getPendingVotes",
    "ibft_getValidatorsByBlockNumber",
    "ibft_getSignerMetrics",
    "ibft_getPendingVotes",
    "perm_getAccountsAllowlist",
    "perm_getNodesAllowlist",
    "erigon_getHeaderByNumber",
    "ots_getApiLevel",
    "ots_hasCode",
    "ots_getInternalOperations",
    "ots_traceTransaction",
    "ots_getTransactionError",
    "ots_getBlockDetails",
    "ots_getBlockDetailsByHash",
    "ots_getBlockTransactions",
    "ots_searchTransactionsBefore",
    "ots_searchTransactionsAfter",
    "ots_getTransactionBySenderAndNonce",
    "ots_getContractCreator",
];

/// Where the page prefixes its URLs.
pub const BASE_PATH: &str = "/explorer";

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const ABI_JS: &str = include_str!("../assets/abi.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Headers every explorer answer carries: the page runs its own scripts
/// only (nothing from a CDN or inline), and talks to JSON-RPC endpoints.
const HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; connect-src 'self' ws: wss: http: https:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-cache"),
];

/// Where the page sends its calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The server that serves the page (`forja node`): same origin, HTTP
    /// and WebSocket on one port.
    SameOrigin,
    /// `forja explorer`: HTTP calls go through its proxy at
    /// `/explorer/rpc` (and `/explorer/login`); live updates come from
    /// this WebSocket URL, if the endpoint has one.
    Proxied { websocket: Option<String> },
}

/// The explorer's pages for one project (or none) and one endpoint.
#[derive(Debug)]
pub struct Explorer {
    abi_json: Vec<u8>,
    config_json: Vec<u8>,
    contract_count: usize,
}

impl Explorer {
    /// The page decoding with the artifacts in `out_dir` (none: nothing is
    /// decoded, everything else works).
    pub fn new(out_dir: Option<&Path>, endpoint: Endpoint) -> Result<Self, AbiIndexError> {
        let index = match out_dir {
            Some(dir) => AbiIndex::from_out_dir(dir)?,
            None => AbiIndex::default(),
        };
        let (rpc, login, websocket) = match endpoint {
            Endpoint::SameOrigin => (
                "/".to_owned(),
                "/login".to_owned(),
                Some("same-origin".to_owned()),
            ),
            Endpoint::Proxied { websocket } => (
                format!("{BASE_PATH}/rpc"),
                format!("{BASE_PATH}/login"),
                websocket,
            ),
        };
        let config = serde_json::json!({
            "rpc": rpc,
            "login": login,
            "websocket": websocket,
            "methods": READ_ONLY_METHODS,
            "contracts": index.contract_count(),
        });
        Ok(Self {
            abi_json: index.to_json().into_bytes(),
            config_json: config.to_string().into_bytes(),
            contract_count: index.contract_count(),
        })
    }

    /// How many contracts the page can name and decode.
    pub fn contract_count(&self) -> usize {
        self.contract_count
    }

    /// The asset at `path`, `None` outside `/explorer`. The page routes
    /// with the URL fragment (`/explorer#/tx/0x...`), so every page is
    /// `index.html`.
    pub fn get(&self, path: &str) -> Option<HttpPage> {
        let rest = path.strip_prefix(BASE_PATH)?;
        let (content_type, body): (&'static str, &[u8]) = match rest {
            "" | "/" | "/index.html" => ("text/html; charset=utf-8", INDEX_HTML.as_bytes()),
            "/app.js" => ("text/javascript; charset=utf-8", APP_JS.as_bytes()),
            "/abi.js" => ("text/javascript; charset=utf-8", ABI_JS.as_bytes()),
            "/style.css" => ("text/css; charset=utf-8", STYLE_CSS.as_bytes()),
            "/abi.json" => ("application/json", &self.abi_json),
            "/config.json" => ("application/json", &self.config_json),
            _ if rest.starts_with('/') => {
                return Some(HttpPage {
                    status: 404,
                    content_type: "text/plain; charset=utf-8",
                    headers: HEADERS.to_vec(),
                    body: format!("no explorer page at {path}").into_bytes(),
                });
            }
            // `/explorerfoo` is not ours.
            _ => return None,
        };
        Some(HttpPage {
            status: 200,
            content_type,
            headers: HEADERS.to_vec(),
            body: body.to_vec(),
        })
    }
}

impl HttpPages for Explorer {
    fn page(&self, path: &str) -> Option<HttpPage> {
        self.get(path)
    }
}

/// Whether the page may call `method`.
pub fn is_read_only(method: &str) -> bool {
    READ_ONLY_METHODS.contains(&method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_assets_under_explorer_only() {
        let explorer = Explorer::new(None, Endpoint::SameOrigin).unwrap();
        let index = explorer.get("/explorer").unwrap();
        assert_eq!(index.status, 200);
        assert!(String::from_utf8_lossy(&index.body).contains("app.js"));
        assert_eq!(explorer.get("/explorer/app.js").unwrap().status, 200);
        assert_eq!(explorer.get("/explorer/nope").unwrap().status, 404);
        assert!(explorer.get("/explorerx").is_none());
        assert!(explorer.get("/metrics").is_none());
        let config: serde_json::Value =
            serde_json::from_slice(&explorer.get("/explorer/config.json").unwrap().body).unwrap();
        assert_eq!(config["rpc"], "/");
        assert!(
            config["methods"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "eth_blockNumber")
        );
    }

    #[test]
    fn the_allowlist_has_no_method_that_writes() {
        for method in READ_ONLY_METHODS {
            let writes = [
                "send", "propose", "discard", "add", "remove", "admin_", "evm_", "anvil_", "sign",
            ]
            .iter()
            .any(|w| method.contains(w));
            assert!(!writes, "{method} changes something");
        }
        assert!(!is_read_only("perm_addAccountsToAllowlist"));
        assert!(!is_read_only("qbft_proposeValidatorVote"));
        assert!(is_read_only("eth_getBlockByNumber"));
    }

    #[test]
    fn assets_stay_small() {
        let total = INDEX_HTML.len() + APP_JS.len() + ABI_JS.len() + STYLE_CSS.len();
        println!("explorer assets: {total} bytes");
        assert!(total < 300 * 1024, "{total} bytes");
    }
}
