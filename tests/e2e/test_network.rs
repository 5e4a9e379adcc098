//! `forja test --network`: the network template's tests as transactions on
//! an in-process QBFT network with permissioning on, under the project's
//! network.toml or another definition.

use super::{assert_success, forja, text};

#[test]
fn network_template_tests_pass_on_the_network() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(
        tmp.path(),
        &["new", "consortium", "--template", "network"],
    ));
    let project = tmp.path().join("consortium");

    let run = forja(&project, &["test", "--network"]);
    assert_success(&run);
    let out = text(&run);
    assert!(
        out.contains("Ran on network.toml: 4 validators, chain id ")
            && out.contains("permissioning on")
            && out.contains("from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        "{out}"
    );
    for line in [
        "[PASS] test_Increment()",
        "[PASS] test_IncrementEmits()",
        "[PASS] test_OnlyOwnerSets()",
        "[PASS] test_TransactAccountsCallButDoNotDeploy()",
        "[PASS] testFuzz_SetNumber(uint256) (runs: 32,",
        "9 tests passed, 0 failed",
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
}

#[test]
fn a_network_where_the_sender_may_not_deploy_fails_the_suite() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(
        tmp.path(),
        &["new", "member", "--template", "network"],
    ));
    let project = tmp.path().join("member");
    // Dev account 0 may only transact here; dev account 1 administers.
    std::fs::write(
        project.join("restricted.toml"),
        r#"chain_id = 2024
hardfork = "london"

[permissioning]
enabled = true
admins = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]

[permissioning.accounts]
"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" = "transact"
"#,
    )
    .unwrap();

    assert_success(&forja(&project, &["test", "--mc", "^CounterTest$"]));

    let run = forja(
        &project,
        &[
            "test",
            "--network",
            "restricted.toml",
            "--mc",
            "^CounterTest$",
        ],
    );
    let out = text(&run);
    assert!(!run.status.success(), "{out}");
    assert!(
        out.contains("Ran on restricted.toml: 4 validators, chain id 2024"),
        "{out}"
    );
    assert!(
        out.contains(
            "[FAIL: the network refused the deployment of CounterTest from \
             0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266: permission denied by access level: \
             sender 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 is transact, which may not deploy contracts] setUp()"
        ),
        "{out}"
    );
}

#[test]
fn without_a_network_toml_the_default_network_runs() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "plain"]));
    let project = tmp.path().join("plain");
    let run = forja(&project, &["test", "--network"]);
    assert_success(&run);
    assert!(
        text(&run).contains(
            "Ran on the default test network: 4 validators, chain id 1337, permissioning on"
        ),
        "{}",
        text(&run)
    );

    let run = forja(&project, &["test", "--network", "nowhere.toml"]);
    assert!(!run.status.success());
    assert!(text(&run).contains("nowhere.toml"), "{}", text(&run));
}
