//! forja-rpc driven by alloy's provider, a client we did not write,
//! against a running in-process QBFT network.

use std::time::Duration;

use crate::common::{TestNet, dev_config, mined, rpc};
use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, U256, address},
    providers::{Provider, ProviderBuilder, WsConnect},
    rpc::types::{BlockNumberOrTag, Filter, TransactionRequest},
    sol,
    sol_types::{SolError, SolEvent},
};
use forja_rpc::RpcConfig;
use forja_runtime::{config::PermissioningConfig, permissions::AccessLevel};
use serde_json::{Value, json};

sol!(
    #[sol(rpc)]
    Token,
    "tests/fixtures/Token.json"
);

const SUPPLY: u64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_transacts_and_reads_events_and_logs() {
    let net = TestNet::dev().await;
    let owner = net.accounts[0].clone();
    let recipient = net.accounts[1].address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.http_url());

    assert_eq!(provider.get_chain_id().await.unwrap(), 1337);
    let start_balance = provider.get_balance(owner.address()).await.unwrap();
    assert_eq!(
        start_balance,
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
    );

    let token = Token::deploy(&provider, "Forja".into(), "FJA".into(), U256::from(SUPPLY))
        .await
        .expect("deploys");
    assert!(
        !provider
            .get_code_at(*token.address())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(token.symbol().call().await.unwrap(), "FJA");

    let receipt = mined(token.transfer(recipient, U256::from(250))).await;
    assert!(receipt.status());
    assert_eq!(receipt.from, owner.address());
    assert_eq!(receipt.to, Some(*token.address()));
    let transfer = receipt.inner.logs()[0]
        .log_decode::<Token::Transfer>()
        .expect("a Transfer event");
    assert_eq!(transfer.inner.data.from, owner.address());
    assert_eq!(transfer.inner.data.to, recipient);
    assert_eq!(transfer.inner.data.value, U256::from(250));
    assert_eq!(
        token.balanceOf(recipient).call().await.unwrap(),
        U256::from(250)
    );
    assert_eq!(
        token.balanceOf(owner.address()).call().await.unwrap(),
        U256::from(SUPPLY - 250)
    );

    // The transaction and its block as clients read them.
    let tx_hash = receipt.transaction_hash;
    let tx = provider
        .get_transaction_by_hash(tx_hash)
        .await
        .unwrap()
        .expect("tx");
    assert_eq!(tx.block_hash, receipt.block_hash);
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(receipt.block_number.unwrap()))
        .full()
        .await
        .unwrap()
        .expect("block");
    assert_eq!(block.header.hash, receipt.block_hash.unwrap());
    assert_eq!(block.transactions.len(), 1);
    let receipts = provider
        .get_block_receipts(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .expect("receipts");
    assert_eq!(receipts[0].transaction_hash, tx_hash);

    // eth_getLogs: the mint and the transfer, in order, with positions.
    let logs = provider
        .get_logs(
            &Filter::new()
                .address(*token.address())
                .event_signature(Token::Transfer::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].topics()[1], Address::ZERO.into_word());
    assert_eq!(logs[1].transaction_hash, Some(tx_hash));
    let to_recipient = provider
        .get_logs(
            &Filter::new()
                .address(*token.address())
                .topic2(recipient.into_word())
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(to_recipient.len(), 1);

    // A revert with a custom error: code 3 and the revert data.
    let calldata = token
        .transfer(owner.address(), U256::from(1))
        .from(recipient)
        .calldata()
        .clone();
    let too_much = token
        .transfer(owner.address(), U256::from(SUPPLY))
        .calldata()
        .clone();
    let _ = calldata;
    let response = rpc(
        net.addr(),
        &json!({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[
            {"from": recipient, "to": token.address(), "data": too_much}, "latest"]})
        .to_string(),
    )
    .json();
    assert_eq!(response["error"]["code"], 3, "{response}");
    let data: alloy::primitives::Bytes =
        serde_json::from_value(response["error"]["data"].clone()).unwrap();
    let decoded = Token::InsufficientBalance::abi_decode(&data).expect("custom error data");
    assert_eq!(decoded.account, recipient);
    assert_eq!(decoded.needed, U256::from(SUPPLY));

    // A require string: the reason is in the message.
    let no_allowance = token
        .transferFrom(owner.address(), recipient, U256::from(1))
        .calldata()
        .clone();
    let response = rpc(
        net.addr(),
        &json!({"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[
            {"from": recipient, "to": token.address(), "data": no_allowance}]})
        .to_string(),
    )
    .json();
    assert_eq!(response["error"]["code"], 3, "{response}");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Token: allowance exceeded"),
        "{response}"
    );

    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_send_transaction_signs_for_dev_accounts_and_rejections_keep_geth_wording() {
    let net = TestNet::dev().await;
    let provider = ProviderBuilder::new().connect_http(net.http_url());
    let accounts = provider.get_accounts().await.unwrap();
    assert_eq!(accounts.len(), 10);
    assert_eq!(
        accounts[0],
        address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    );

    let to = Address::repeat_byte(0x42);
    let pending = provider
        .send_transaction(
            TransactionRequest::default()
                .with_from(accounts[0])
                .with_to(to)
                .with_value(U256::from(12345)),
        )
        .await
        .unwrap();
    let receipt = pending.get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(provider.get_balance(to).await.unwrap(), U256::from(12345));

    // Unknown sender for eth_sendTransaction.
    let err = provider
        .send_transaction(
            TransactionRequest::default()
                .with_from(Address::repeat_byte(7))
                .with_to(to),
        )
        .await
        .unwrap_err();
    let payload = err.as_error_resp().expect("JSON-RPC error");
    assert_eq!(payload.code, -32000);
    assert!(
        payload.message.contains("unknown account"),
        "{}",
        payload.message
    );

    // Replaying a mined transaction: nonce too low, -32000.
    let raw = provider
        .raw_request::<_, Value>(
            "eth_getTransactionByHash".into(),
            (receipt.transaction_hash,),
        )
        .await
        .unwrap();
    assert_eq!(raw["hash"], json!(receipt.transaction_hash));
    let wallet_provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(net.accounts[2].clone()))
        .connect_http(net.http_url());
    let poor = alloy::signers::local::PrivateKeySigner::random();
    let err = ProviderBuilder::new()
        .wallet(EthereumWallet::from(poor))
        .connect_http(net.http_url())
        .send_transaction(
            TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(1))
                .with_gas_limit(21_000)
                .with_max_fee_per_gas(1_000_000_000)
                .with_max_priority_fee_per_gas(0),
        )
        .await
        .unwrap_err();
    let payload = err.as_error_resp().expect("JSON-RPC error");
    assert_eq!(payload.code, -32000);
    assert!(
        payload.message.starts_with("insufficient funds"),
        "{}",
        payload.message
    );
    drop(wallet_provider);

    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscriptions_deliver_heads_logs_and_pending_transactions() {
    use futures_free::next;
    let net = TestNet::dev().await;
    let ws = ProviderBuilder::new()
        .wallet(EthereumWallet::from(net.accounts[0].clone()))
        .connect_ws(WsConnect::new(net.servers[0].ws_url()))
        .await
        .expect("ws connects");
    let mut heads = ws.subscribe_blocks().await.unwrap();
    let mut pending = ws.subscribe_pending_transactions().await.unwrap();
    let token = Token::deploy(&ws, "Forja".into(), "FJA".into(), U256::from(SUPPLY))
        .await
        .unwrap();
    let mut logs = ws
        .subscribe_logs(&Filter::new().address(*token.address()))
        .await
        .unwrap();
    let receipt = mined(token.transfer(Address::repeat_byte(9), U256::from(5))).await;

    let first_head = next(heads.recv()).await;
    assert!(first_head.number >= 1);
    let deploy_hash = next(pending.recv()).await;
    assert_ne!(
        deploy_hash, receipt.transaction_hash,
        "the deployment came first"
    );
    let log = next(logs.recv()).await;
    assert_eq!(log.transaction_hash, Some(receipt.transaction_hash));
    let transfer = log.log_decode::<Token::Transfer>().unwrap();
    assert_eq!(transfer.inner.data.value, U256::from(5));

    net.stop().await;
}

/// Receiving with a bound, so a missing notification fails instead of hanging.
mod futures_free {
    pub(crate) async fn next<T, E: std::fmt::Debug>(
        recv: impl std::future::Future<Output = Result<T, E>>,
    ) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(30), recv)
            .await
            .expect("a notification within 30 s")
            .expect("subscription open")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_filters_report_new_blocks_and_logs_once() {
    let net = TestNet::dev().await;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(net.accounts[0].clone()))
        .connect_http(net.http_url());
    let block_filter = provider.new_block_filter().await.unwrap();
    let token = Token::deploy(&provider, "Forja".into(), "FJA".into(), U256::from(SUPPLY))
        .await
        .unwrap();
    let log_filter = provider
        .new_filter(&Filter::new().address(*token.address()))
        .await
        .unwrap();
    mined(token.transfer(Address::repeat_byte(3), U256::from(1))).await;
    let blocks: Vec<alloy::primitives::B256> =
        provider.get_filter_changes(block_filter).await.unwrap();
    assert_eq!(
        blocks.len(),
        2,
        "the deployment's and the transfer's blocks"
    );
    let again: Vec<alloy::primitives::B256> =
        provider.get_filter_changes(block_filter).await.unwrap();
    assert!(again.is_empty(), "changes are reported once");
    let logs: Vec<alloy::rpc::types::Log> = provider.get_filter_changes(log_filter).await.unwrap();
    assert_eq!(logs.len(), 1);
    let all = provider.get_filter_logs(log_filter).await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(provider.uninstall_filter(log_filter).await.unwrap());
    let gone = rpc(
        net.addr(),
        &json!({"jsonrpc":"2.0","id":1,"method":"eth_getFilterChanges","params":[log_filter]})
            .to_string(),
    )
    .json();
    assert!(
        gone["error"]["message"]
            .as_str()
            .unwrap()
            .contains("filter not found"),
        "{gone}"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_expire_when_not_polled() {
    let net = TestNet::start(
        dev_config(),
        1,
        RpcConfig {
            filter_expiry: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .await;
    let provider = ProviderBuilder::new().connect_http(net.http_url());
    let filter = provider.new_block_filter().await.unwrap();
    let _: Vec<alloy::primitives::B256> = provider.get_filter_changes(filter).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = provider
        .get_filter_changes::<alloy::primitives::B256>(filter)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("filter not found"), "{err}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_votes_change_the_validator_set() {
    // Besu's rule: a validator is removed when more than half vote for it.
    let net = TestNet::start(dev_config(), 3, RpcConfig::default()).await;
    let leaving = net.network.node(3).address();
    let providers: Vec<_> = net
        .servers
        .iter()
        .map(|s| {
            ProviderBuilder::new()
                .wallet(EthereumWallet::from(net.accounts[0].clone()))
                .connect_http(s.http_url().parse().unwrap())
        })
        .collect();
    let validators: Vec<Address> = providers[0]
        .raw_request("qbft_getValidatorsByBlockNumber".into(), ("latest",))
        .await
        .unwrap();
    assert_eq!(validators.len(), 4);
    assert!(validators.contains(&leaving));
    for provider in &providers {
        let ok: bool = provider
            .raw_request("qbft_proposeValidatorVote".into(), (leaving, false))
            .await
            .unwrap();
        assert!(ok);
    }
    let votes: Value = providers[0]
        .raw_request("qbft_getPendingVotes".into(), ())
        .await
        .unwrap();
    assert_eq!(votes, json!({ format!("{leaving:#x}"): false }));

    // Blocks carry the votes; make blocks until the set changes.
    let mut changed_at = None;
    for _ in 0..24 {
        let receipt = providers[0]
            .send_transaction(
                TransactionRequest::default()
                    .with_to(Address::repeat_byte(1))
                    .with_value(U256::from(1)),
            )
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let number = receipt.block_number.unwrap();
        let validators: Vec<Address> = providers[0]
            .raw_request(
                "qbft_getValidatorsByBlockNumber".into(),
                (format!("{number:#x}"),),
            )
            .await
            .unwrap();
        if !validators.contains(&leaving) {
            assert_eq!(validators.len(), 3);
            changed_at = Some(number);
            break;
        }
    }
    let changed_at = changed_at.expect("the vote passes within 24 blocks");
    let before: Vec<Address> = providers[0]
        .raw_request(
            "qbft_getValidatorsByBlockNumber".into(),
            (format!("{:#x}", changed_at - 1),),
        )
        .await
        .unwrap();
    assert!(before.contains(&leaving), "history keeps the old set");
    let metrics: Value = providers[0]
        .raw_request("qbft_getSignerMetrics".into(), ())
        .await
        .unwrap();
    let proposed: u64 = metrics
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            u64::from_str_radix(
                m["proposedBlockCount"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("0x"),
                16,
            )
            .unwrap()
        })
        .sum();
    assert_eq!(proposed, providers[0].get_block_number().await.unwrap());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_account_from_the_allowlist_refuses_its_transactions() {
    let mut config = dev_config();
    let admin = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    let user = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    config.permissioning = PermissioningConfig {
        enabled: true,
        accounts: [(user, AccessLevel::ContractDeploy)].into_iter().collect(),
        admins: vec![admin],
        nodes: None,
    };
    let net = TestNet::start(config, 1, RpcConfig::default()).await;
    // A refused transaction does not use up its nonce, so the wallet asks the
    // node for the next nonce each time. alloy's default (cached) nonce
    // manager counts the refused nonce as used and would send the next
    // transaction with a gap, which rightly waits in the pool forever.
    let user_provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(net.accounts[1].clone()))
        .connect_http(net.http_url());
    let send = |nonce_hint: u64| {
        TransactionRequest::default()
            .with_to(Address::repeat_byte(5))
            .with_value(U256::from(nonce_hint + 1))
    };
    let receipt_timeout = Some(Duration::from_secs(30));
    user_provider
        .send_transaction(send(0))
        .await
        .expect("an allowed account transacts")
        .with_timeout(receipt_timeout)
        .get_receipt()
        .await
        .expect("the allowed account's transaction commits within 30 s");

    let allowlist: Vec<Address> = user_provider
        .raw_request("perm_getAccountsAllowlist".into(), ())
        .await
        .unwrap();
    assert!(allowlist.contains(&user) && allowlist.contains(&admin));
    let result: String = user_provider
        .raw_request("perm_removeAccountsFromAllowlist".into(), (vec![user],))
        .await
        .unwrap();
    assert_eq!(result, "Success");
    let allowlist: Vec<Address> = user_provider
        .raw_request("perm_getAccountsAllowlist".into(), ())
        .await
        .unwrap();
    assert!(!allowlist.contains(&user));

    let err = user_provider.send_transaction(send(1)).await.unwrap_err();
    let payload = err.as_error_resp().expect("JSON-RPC error");
    assert_eq!(payload.code, -32007, "{}", payload.message);
    assert!(payload.message.contains("allowlist"), "{}", payload.message);
    let pending_nonce = user_provider
        .get_transaction_count(user)
        .pending()
        .await
        .unwrap();
    assert_eq!(
        pending_nonce, 1,
        "the refused transaction must not take a nonce"
    );

    let result: String = user_provider
        .raw_request("perm_addAccountsToAllowlist".into(), (vec![user],))
        .await
        .unwrap();
    assert_eq!(result, "Success");
    let receipt = user_provider
        .send_transaction(send(2))
        .await
        .expect("allowed again")
        .with_timeout(receipt_timeout)
        .get_receipt()
        .await
        .expect("the re-allowed account's transaction commits within 30 s");
    assert!(receipt.status());
    net.stop().await;
}
