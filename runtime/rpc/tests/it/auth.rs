//! Who may do what on a network defined by a file, as Besu decides it: API
//! groups ("Method not enabled"), authentication by `/login` or by a JWT
//! signed with a configured key, over HTTP and WebSocket, per-user method
//! permissions, admin calls acting as the user's account, and the last
//! admin that cannot be removed.

use std::{path::Path, sync::Arc};

use crate::common::*;
use alloy::primitives::{Address, address};
use forja_rpc::{
    AccessConfig, ApiGroups, Authentication, NetworkNode, RpcConfig, RpcServer,
    auth::{METHOD_NOT_ENABLED, UNAUTHORIZED},
};
use forja_runtime::{config::PermissioningConfig, permissions::AccessLevel};
use jsonrpsee::{
    core::client::ClientT,
    rpc_params,
    ws_client::{HeaderMap, HeaderValue, WsClientBuilder},
};
use serde_json::{Value, json};

const ADMIN: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const SECOND_ADMIN: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
const MEMBER: Address = address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
const STRANGER: Address = address!("0x000000000000000000000000000000000000dEaD");

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name)
}

/// A permissioned network (two admins, a member who may deploy) as a
/// network file defines it.
fn consortium() -> forja_runtime::NetworkConfig {
    let mut config = dev_config();
    config.permissioning = PermissioningConfig {
        enabled: true,
        accounts: [(MEMBER, AccessLevel::ContractDeploy)]
            .into_iter()
            .collect(),
        admins: vec![ADMIN, SECOND_ADMIN],
        nodes: None,
    };
    config
}

/// Besu's credentials file: an admin acting as account 0, a member with
/// `perm:*` acting as an account that is no admin, and a reader.
fn credentials(dir: &Path) -> Authentication {
    // Cost 4: the lowest bcrypt allows, so the test does not wait on hashing.
    let hash = |password: &str| bcrypt::hash(password, 4).unwrap();
    let text = format!(
        r#"
[Users.admin]
password = "{}"
permissions = ["*:*"]
account = "{ADMIN}"

[Users.member]
password = "{}"
permissions = ["perm:*", "eth:*"]
account = "{MEMBER}"

[Users.reader]
password = "{}"
permissions = ["eth:*", "net:version"]
"#,
        hash("admin-pw"),
        hash("member-pw"),
        hash("reader-pw")
    );
    let path = dir.join("auth.toml");
    std::fs::write(&path, text).unwrap();
    Authentication::credentials_file(&path).unwrap()
}

/// The groups and key rules `forja node` gives a network from a file, with
/// PERM and QBFT named.
fn file_network_access(authentication: Authentication) -> AccessConfig {
    let groups: ApiGroups = "ETH,NET,WEB3,PERM,QBFT".parse().unwrap();
    AccessConfig {
        api_groups: groups.clone(),
        ws_api_groups: groups,
        authentication,
        node_keys_need_authentication: true,
    }
}

async fn serve(net: &TestNet, access: AccessConfig) -> RpcServer {
    let node = Arc::new(NetworkNode::new(
        net.network.node(0),
        forja_runtime::config::ConsensusMode::Qbft,
    ));
    let config = RpcConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        dev_accounts: net.accounts.clone(),
        access,
        ..Default::default()
    };
    RpcServer::start(config, node).await.unwrap()
}

/// One call over HTTP with an optional bearer token: `Ok(result)` or
/// `Err((code, message, data))`.
fn call(
    server: &RpcServer,
    token: Option<&str>,
    method: &str,
    params: Value,
) -> Result<Value, (i64, String, String)> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let response = http(server.local_addr(), "POST", "/", &headers, body.as_bytes()).json();
    match response.get("error") {
        Some(error) => Err((
            error["code"].as_i64().unwrap(),
            error["message"].as_str().unwrap_or_default().to_owned(),
            error["data"].as_str().unwrap_or_default().to_owned(),
        )),
        None => Ok(response["result"].clone()),
    }
}

fn login(server: &RpcServer, username: &str, password: &str) -> (u16, Value) {
    let body = json!({"username": username, "password": password}).to_string();
    let response = http(server.local_addr(), "POST", "/login", &[], body.as_bytes());
    let status = response.status;
    (status, response.json())
}

fn token(server: &RpcServer, username: &str, password: &str) -> String {
    let (status, body) = login(server, username, password);
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn code(result: Result<Value, (i64, String, String)>) -> i64 {
    match result {
        Ok(value) => panic!("expected an error, got {value}"),
        Err((code, _, _)) => code,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_authenticated_admin_changes_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::start(consortium(), 0, RpcConfig::default()).await;
    let server = serve(&net, file_network_access(credentials(dir.path()))).await;

    // Without a token nothing is served: not the lists, not a vote, not a
    // signature or a transaction from a node-held account.
    let refused = [
        ("perm_addAccountsToAllowlist", json!([[STRANGER]])),
        ("perm_removeAccountsFromAllowlist", json!([[ADMIN]])),
        (
            "perm_addNodesToAllowlist",
            json!([[format!("enode://{}@127.0.0.1:30303", "ab".repeat(64))]]),
        ),
        ("qbft_proposeValidatorVote", json!([STRANGER, true])),
        ("eth_sign", json!([ADMIN, "0x1234"])),
        ("personal_sign", json!(["0x1234", ADMIN])),
        (
            "eth_sendTransaction",
            json!([{"from": ADMIN, "to": STRANGER, "value": "0x1"}]),
        ),
        ("eth_blockNumber", json!([])),
    ];
    for (method, params) in &refused {
        let err = call(&server, None, method, params.clone()).unwrap_err();
        assert_eq!(err.0, UNAUTHORIZED as i64, "{method}: {err:?}");
        assert_eq!(err.1, "Unauthorized", "{method}");
    }
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJwZXJtaXNzaW9ucyI6WyIqOioiXSwiZXhwIjo5OTk5OTk5OTk5LCJpYXQiOjB9.c2lnbmF0dXJl";
    assert_eq!(
        code(call(
            &server,
            Some(forged),
            "perm_addAccountsToAllowlist",
            json!([[STRANGER]])
        )),
        UNAUTHORIZED as i64
    );
    assert!(
        !net.network
            .node(0)
            .admin()
            .permissions()
            .accounts
            .contains_key(&STRANGER)
    );

    // /login: a wrong password is 401; the admin's token changes the lists,
    // votes and signs.
    assert_eq!(login(&server, "admin", "wrong").0, 401);
    assert_eq!(login(&server, "nobody", "admin-pw").0, 401);
    let admin = token(&server, "admin", "admin-pw");
    assert_eq!(
        call(
            &server,
            Some(&admin),
            "perm_addAccountsToAllowlist",
            json!([[STRANGER]])
        )
        .unwrap(),
        json!("Success")
    );
    for node in net.network.nodes() {
        assert!(
            node.admin().permissions().accounts.contains_key(&STRANGER),
            "node {}",
            node.index()
        );
    }
    assert_eq!(
        call(
            &server,
            Some(&admin),
            "qbft_proposeValidatorVote",
            json!([STRANGER, true])
        )
        .unwrap(),
        json!(true)
    );
    assert!(call(&server, Some(&admin), "eth_sign", json!([ADMIN, "0x1234"])).is_ok());

    // A user without perm:* may read the chain but not change the lists;
    // one whose account is no admin is refused by the runtime.
    let reader = token(&server, "reader", "reader-pw");
    assert!(call(&server, Some(&reader), "eth_blockNumber", json!([])).is_ok());
    assert!(call(&server, Some(&reader), "net_version", json!([])).is_ok());
    assert_eq!(
        code(call(
            &server,
            Some(&reader),
            "perm_addAccountsToAllowlist",
            json!([[MEMBER]])
        )),
        UNAUTHORIZED as i64
    );
    assert_eq!(
        code(call(
            &server,
            Some(&reader),
            "qbft_proposeValidatorVote",
            json!([MEMBER, true])
        )),
        UNAUTHORIZED as i64
    );
    let member = token(&server, "member", "member-pw");
    let (code_, message, _) = call(
        &server,
        Some(&member),
        "perm_removeAccountsFromAllowlist",
        json!([[STRANGER]]),
    )
    .unwrap_err();
    assert_eq!(code_, -32007, "{message}");
    assert!(message.contains("not an admin"), "{message}");

    // The last admin cannot be removed.
    assert_eq!(
        call(
            &server,
            Some(&admin),
            "perm_removeAccountsFromAllowlist",
            json!([[SECOND_ADMIN]])
        )
        .unwrap(),
        json!("Success")
    );
    let (_, message, _) = call(
        &server,
        Some(&admin),
        "perm_removeAccountsFromAllowlist",
        json!([[ADMIN]]),
    )
    .unwrap_err();
    assert!(message.contains("leave no admin"), "{message}");
    assert!(net.network.node(3).admin().permissions().is_admin(ADMIN));

    // WebSocket alike: the token in the upgrade's Authorization header, or
    // on the URL as Besu accepts it.
    let ws_url = format!("ws://{}", server.local_addr());
    let anonymous = WsClientBuilder::default().build(&ws_url).await.unwrap();
    let err = anonymous
        .request::<Value, _>("perm_getAccountsAllowlist", rpc_params![])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    let mut headers = HeaderMap::new();
    headers.insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {admin}")).unwrap(),
    );
    let with_header = WsClientBuilder::default()
        .set_headers(headers)
        .build(&ws_url)
        .await
        .unwrap();
    let listed: Vec<Address> = with_header
        .request("perm_getAccountsAllowlist", rpc_params![])
        .await
        .unwrap();
    assert!(listed.contains(&STRANGER));
    let with_query = WsClientBuilder::default()
        .build(format!("{ws_url}/?token={reader}"))
        .await
        .unwrap();
    let err = with_query
        .request::<Value, _>("perm_addAccountsToAllowlist", rpc_params![vec![MEMBER]])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Unauthorized"), "{err}");
    with_query
        .request::<Value, _>("eth_blockNumber", rpc_params![])
        .await
        .expect("the reader's token is valid over WebSocket");

    server.stop().await;
    net.stop().await;
}

#[derive(serde::Serialize)]
struct Claims {
    permissions: Vec<&'static str>,
    account: Address,
    exp: u64,
}

fn jwt(key_file: &str, permissions: Vec<&'static str>, exp: u64) -> String {
    let pem = std::fs::read(fixture(key_file)).unwrap();
    let (key, algorithm) = if key_file.starts_with("es256") {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap();
        (key, jsonwebtoken::Algorithm::ES256)
    } else {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
        (key, jsonwebtoken::Algorithm::RS256)
    };
    let claims = Claims {
        permissions,
        account: ADMIN,
        exp,
    };
    jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), &claims, &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_public_key_authentication_and_disabled_groups() {
    let net = TestNet::start(consortium(), 0, RpcConfig::default()).await;
    let authentication =
        Authentication::public_key_file(&fixture("rs256-public.pem"), "RS256").unwrap();
    let mut access = file_network_access(authentication);
    // WebSocket serves fewer groups than HTTP (Besu's --rpc-ws-api).
    access.ws_api_groups = ApiGroups::besu_default();
    let server = serve(&net, access).await;
    let later = jsonwebtoken::get_current_timestamp() + 600;

    let admin = jwt("rs256-private.pem", vec!["perm:*", "eth:*"], later);
    assert_eq!(
        call(
            &server,
            Some(&admin),
            "perm_addAccountsToAllowlist",
            json!([[STRANGER]])
        )
        .unwrap(),
        json!("Success")
    );
    // Signed by another key, expired, or without the permission: refused.
    for (token, why) in [
        (jwt("other-private.pem", vec!["*:*"], later), "another key"),
        (jwt("rs256-private.pem", vec!["*:*"], 1_000), "expired"),
        (jwt("rs256-private.pem", vec!["eth:*"], later), "no perm:*"),
    ] {
        assert_eq!(
            code(call(
                &server,
                Some(&token),
                "perm_removeAccountsFromAllowlist",
                json!([[STRANGER]])
            )),
            UNAUTHORIZED as i64,
            "{why}"
        );
    }
    // No /login with a public key.
    assert_eq!(login(&server, "admin", "admin-pw").0, 400);

    // A group the server does not serve answers Besu's "Method not enabled",
    // authenticated or not.
    let (code_, message, _) = call(&server, Some(&admin), "txpool_status", json!([])).unwrap_err();
    assert_eq!(
        (code_, message.as_str()),
        (METHOD_NOT_ENABLED as i64, "Method not enabled")
    );
    assert_eq!(
        code(call(&server, None, "admin_peers", json!([]))),
        METHOD_NOT_ENABLED as i64
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {admin}")).unwrap(),
    );
    let ws = WsClientBuilder::default()
        .set_headers(headers)
        .build(format!("ws://{}", server.local_addr()))
        .await
        .unwrap();
    let err = ws
        .request::<Value, _>("perm_getAccountsAllowlist", rpc_params![])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Method not enabled"), "{err}");
    ws.request::<Value, _>("eth_chainId", rpc_params![])
        .await
        .unwrap();

    server.stop().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_authentication_node_held_keys_sign_only_on_the_dev_network() {
    let net = TestNet::start(consortium(), 0, RpcConfig::default()).await;
    let file_network = serve(
        &net,
        AccessConfig {
            node_keys_need_authentication: true,
            ..AccessConfig::default()
        },
    )
    .await;
    let (code_, _, data) =
        call(&file_network, None, "eth_sign", json!([ADMIN, "0x1234"])).unwrap_err();
    assert_eq!(code_, UNAUTHORIZED as i64);
    assert!(data.contains("eth_sendRawTransaction"), "{data}");
    assert!(call(&file_network, None, "eth_blockNumber", json!([])).is_ok());
    let dev_network = serve(&net, AccessConfig::default()).await;
    assert!(call(&dev_network, None, "eth_sign", json!([ADMIN, "0x1234"])).is_ok());
    file_network.stop().await;
    dev_network.stop().await;
    net.stop().await;
}

/// Otterscan's API behind authentication: a token is needed, and its
/// permissions must cover `ots:*` (an explorer gets a token with only
/// `ots:*`, `erigon:*` and `eth:*`, never admin ones).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otterscans_api_needs_a_token_with_its_permission() {
    let net = TestNet::start(consortium(), 0, RpcConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut access = file_network_access(credentials(dir.path()));
    access.api_groups = "ETH,NET,WEB3,OTS".parse().unwrap();
    let server = serve(&net, access).await;
    assert_eq!(
        code(call(&server, None, "ots_getApiLevel", json!([]))),
        UNAUTHORIZED as i64
    );
    let reader = token(&server, "reader", "reader-pw");
    assert_eq!(
        code(call(&server, Some(&reader), "ots_getApiLevel", json!([]))),
        UNAUTHORIZED as i64,
        "eth:* does not cover ots_*"
    );
    let admin = token(&server, "admin", "admin-pw");
    assert_eq!(
        call(&server, Some(&admin), "ots_getApiLevel", json!([])).unwrap(),
        json!(8)
    );
    assert_eq!(
        code(call(
            &server,
            Some(&admin),
            "perm_getAccountsAllowlist",
            json!([])
        )),
        METHOD_NOT_ENABLED as i64,
        "serving OTS enables nothing else"
    );
    server.stop().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_authenticated_admin_starts_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::start(consortium(), 0, RpcConfig::default()).await;
    let mut access = file_network_access(credentials(dir.path()));
    access.api_groups = "ETH,NET,WEB3,PERM,QBFT,ADMIN".parse().unwrap();
    let server = serve(&net, access).await;

    // Without a token, or as a user without the ADMIN group's permission,
    // no node is started.
    let err = call(&server, None, "admin_addNode", json!([])).unwrap_err();
    assert_eq!(err.0, UNAUTHORIZED as i64, "{err:?}");
    let reader = token(&server, "reader", "reader-pw");
    assert!(call(&server, Some(&reader), "admin_addNode", json!([])).is_err());
    let member = token(&server, "member", "member-pw");
    assert!(call(&server, Some(&member), "admin_addNode", json!([])).is_err());
    assert_eq!(net.network.nodes().len(), 4);

    // The admin's call starts one with its own key, not yet allowlisted.
    let admin = token(&server, "admin", "admin-pw");
    let added = call(&server, Some(&admin), "admin_addNode", json!([])).unwrap();
    assert_eq!(added["index"], json!(4), "{added}");
    assert_eq!(added["keyFile"], Value::Null, "{added}");
    let nodes = net.network.nodes();
    assert_eq!(nodes.len(), 5);
    assert_eq!(added["enode"], json!(nodes[4].enode()));
    assert_eq!(
        added["address"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        nodes[4].address()
    );
    assert!(
        !nodes[0]
            .admin()
            .nodes_allowlist()
            .contains(&nodes[4].node_id())
    );
    // Allowlisted with Besu's call, it syncs.
    let enode = added["enode"].as_str().unwrap().to_owned();
    assert_eq!(
        call(
            &server,
            Some(&admin),
            "perm_addNodesToAllowlist",
            json!([[enode]])
        )
        .unwrap(),
        json!("Success")
    );
    assert!(
        nodes[4]
            .admin()
            .nodes_allowlist()
            .contains(&nodes[4].node_id())
    );
}
