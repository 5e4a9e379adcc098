//! Account permissioning through the runtime's API: refusals name their
//! rule, admins change the lists at runtime on every node, and the lists
//! survive a restart.

mod common;

use alloy::primitives::{Address, bytes};
use common::*;
use forja_runtime::{
    Error, Network, StorageMode, TxError, config::PermissioningConfig, permissions::AccessLevel,
};

#[test]
fn the_allowlist_and_access_levels_refuse_and_change_at_runtime_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = StorageMode::Dir(dir.path().to_owned());
    let mut config = config(4);
    let keys = config.dev_accounts().unwrap();
    let (admin, user, reader, stranger) = (&keys[0], &keys[1], &keys[2], &keys[3]);
    config.permissioning = PermissioningConfig {
        enabled: true,
        accounts: [
            (user.address(), AccessLevel::Transact),
            (reader.address(), AccessLevel::ReadOnly),
        ]
        .into_iter()
        .collect(),
        admins: vec![admin.address()],
        nodes: None,
    };
    let network = Network::start(config.clone(), storage.clone()).unwrap();
    let chain_id = network.chain_id();
    let to = Address::repeat_byte(4);
    let node = network.node(0);

    assert_eq!(
        node.submit_transaction(sign_1559(stranger, transfer(chain_id, 0, to, 1))),
        Err(TxError::AccountNotAllowed(stranger.address()))
    );
    let err = node
        .submit_transaction(sign_1559(reader, transfer(chain_id, 0, to, 1)))
        .unwrap_err();
    assert!(
        matches!(
            err,
            TxError::AccessLevelTooLow {
                level: "read-only",
                ..
            }
        ),
        "{err}"
    );
    let err = node
        .submit_transaction(sign_1559(user, create(chain_id, 0, bytes!("00"))))
        .unwrap_err();
    assert!(
        matches!(
            err,
            TxError::AccessLevelTooLow {
                level: "transact",
                action: "deploy contracts",
                ..
            }
        ),
        "{err}"
    );
    let sent = node
        .submit_transaction(sign_1559(user, transfer(chain_id, 0, to, 1)))
        .unwrap();
    wait_for_receipt(&node, sent);

    // Only an admin changes the lists.
    let denied = node.add_accounts_to_allowlist(
        user.address(),
        vec![(stranger.address(), AccessLevel::Full)],
    );
    assert!(
        matches!(denied, Err(Error::PermissionDenied(_))),
        "{denied:?}"
    );

    // The change made through node 0 holds on every node.
    node.add_accounts_to_allowlist(
        admin.address(),
        vec![(stranger.address(), AccessLevel::ContractDeploy)],
    )
    .unwrap();
    node.remove_accounts_from_allowlist(admin.address(), vec![user.address()])
        .unwrap();
    wait_until("the allowlist change to reach node 3", || {
        let accounts = network.node(3).permissions().accounts;
        accounts.contains_key(&stranger.address()) && !accounts.contains_key(&user.address())
    });
    let other = network.node(3);
    let deployed = other
        .submit_transaction(sign_1559(stranger, create(chain_id, 0, bytes!("00"))))
        .expect("the stranger may now deploy");
    wait_for_receipt(&other, deployed);
    assert_eq!(
        other.submit_transaction(sign_1559(user, transfer(chain_id, 1, to, 1))),
        Err(TxError::AccountNotAllowed(user.address()))
    );
    network.shutdown();
    drop((node, other, network));

    let network = Network::start(config, storage).unwrap();
    for index in 0..4 {
        let node = network.node(index);
        let accounts = node.permissions().accounts;
        assert_eq!(
            accounts.get(&stranger.address()),
            Some(&AccessLevel::ContractDeploy),
            "node {index}"
        );
        assert!(!accounts.contains_key(&user.address()), "node {index}");
    }
    assert_eq!(
        network
            .node(2)
            .submit_transaction(sign_1559(user, transfer(chain_id, 1, to, 1))),
        Err(TxError::AccountNotAllowed(user.address()))
    );
    let hash = network
        .node(2)
        .submit_transaction(sign_1559(stranger, transfer(chain_id, 1, to, 1)))
        .unwrap();
    wait_for_receipt(&network.node(2), hash);
    network.shutdown();
}
