//! Account permissioning through the runtime's API: refusals name their
//! rule, admins change the lists at runtime on every node (directly, so a
//! node that is down or cut off holds the change too), the last admin
//! cannot be removed, and the lists survive a restart.

use crate::common::*;
use alloy::primitives::{Address, bytes};
use alloy::{primitives::B256, signers::local::PrivateKeySigner};
use forja_runtime::{
    Error, Network, StorageMode, TxError,
    config::PermissioningConfig,
    permissions::{AccessLevel, PermissionChange},
    sim::{Faults, Simulation},
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
        node.pool()
            .submit_transaction(sign_1559(stranger, transfer(chain_id, 0, to, 1))),
        Err(TxError::AccountNotAllowed(stranger.address()))
    );
    let err = node
        .pool()
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
        .pool()
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
        .pool()
        .submit_transaction(sign_1559(user, transfer(chain_id, 0, to, 1)))
        .unwrap();
    wait_for_receipt(&node, sent);

    // Only an admin changes the lists.
    let denied = node.admin().add_accounts_to_allowlist(
        user.address(),
        vec![(stranger.address(), AccessLevel::Full)],
    );
    assert!(
        matches!(denied, Err(Error::PermissionDenied(_))),
        "{denied:?}"
    );

    // The change made through node 0 holds on every node when the call
    // returns: it is applied to each node's lists, not sent as a message.
    node.admin()
        .add_accounts_to_allowlist(
            admin.address(),
            vec![(stranger.address(), AccessLevel::ContractDeploy)],
        )
        .unwrap();
    node.admin()
        .remove_accounts_from_allowlist(admin.address(), vec![user.address()])
        .unwrap();
    for index in 0..4 {
        let accounts = network.node(index).admin().permissions().accounts;
        assert!(
            accounts.contains_key(&stranger.address()) && !accounts.contains_key(&user.address()),
            "node {index}"
        );
    }
    // The last admin stays: removing it is refused on every path.
    let err = node
        .admin()
        .remove_accounts_from_allowlist(admin.address(), vec![admin.address()])
        .unwrap_err();
    assert!(err.to_string().contains("leave no admin"), "{err}");
    let err = node
        .admin()
        .change_permissions(
            None,
            PermissionChange::RemoveAccounts(vec![admin.address()]),
        )
        .unwrap_err();
    assert!(err.to_string().contains("leave no admin"), "{err}");
    assert!(
        network
            .node(3)
            .admin()
            .permissions()
            .is_admin(admin.address())
    );
    let other = network.node(3);
    let deployed = other
        .pool()
        .submit_transaction(sign_1559(stranger, create(chain_id, 0, bytes!("00"))))
        .expect("the stranger may now deploy");
    wait_for_receipt(&other, deployed);
    assert_eq!(
        other
            .pool()
            .submit_transaction(sign_1559(user, transfer(chain_id, 1, to, 1))),
        Err(TxError::AccountNotAllowed(user.address()))
    );
    network.shutdown();
    drop((node, other, network));

    let network = Network::start(config, storage).unwrap();
    for index in 0..4 {
        let node = network.node(index);
        let accounts = node.admin().permissions().accounts;
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
            .pool()
            .submit_transaction(sign_1559(user, transfer(chain_id, 1, to, 1))),
        Err(TxError::AccountNotAllowed(user.address()))
    );
    let hash = network
        .node(2)
        .pool()
        .submit_transaction(sign_1559(stranger, transfer(chain_id, 1, to, 1)))
        .unwrap();
    wait_for_receipt(&network.node(2), hash);
    network.shutdown();
}

/// Sends `value` wei from `sender` through `node` of the simulation.
fn submit(
    sim: &mut Simulation,
    node: usize,
    sender: &PrivateKeySigner,
    value: u64,
) -> Result<B256, TxError> {
    let chain_id = sim.node(node).spec.chain_id;
    let nonce = sim
        .node(node)
        .chain
        .read()
        .unwrap()
        .latest_state()
        .nonce(sender.address());
    sim.submit(
        node,
        sign_1559(
            sender,
            transfer(chain_id, nonce, Address::repeat_byte(0x42), value),
        ),
    )
}

#[test]
fn a_change_made_while_a_node_is_down_or_partitioned_holds_there_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(4);
    let keys = config.dev_accounts().unwrap();
    let (admin, user, newcomer) = (&keys[0], &keys[1], &keys[2]);
    config.permissioning = PermissioningConfig {
        enabled: true,
        accounts: [(user.address(), AccessLevel::Transact)]
            .into_iter()
            .collect(),
        admins: vec![admin.address()],
        nodes: None,
    };
    let mut sim = Simulation::new(
        config,
        StorageMode::Dir(dir.path().to_owned()),
        7,
        Faults::default(),
    )
    .unwrap();
    submit(&mut sim, 0, user, 1).unwrap();
    assert!(sim.run_until_height(&[0, 1, 2, 3], 1, 60_000));

    // Node 3 is down while the newcomer is added: it finds the change in
    // its store when it restarts.
    sim.crash(3);
    sim.change_permissions(&PermissionChange::SetAccounts(vec![(
        newcomer.address(),
        AccessLevel::Transact,
    )]))
    .unwrap();
    sim.restart(3).unwrap();
    assert_eq!(
        sim.node(3)
            .permissions
            .read()
            .unwrap()
            .accounts
            .get(&newcomer.address()),
        Some(&AccessLevel::Transact)
    );

    // Node 2 is cut off while the user is removed: the change is in force
    // there although no message could reach it.
    sim.partition(&[&[0, 1, 3], &[2]]);
    sim.change_permissions(&PermissionChange::RemoveAccounts(vec![user.address()]))
        .unwrap();
    assert_eq!(
        submit(&mut sim, 2, user, 2),
        Err(TxError::AccountNotAllowed(user.address()))
    );
    sim.heal();

    // The restarted node takes the newcomer's transaction; every node
    // commits it and agrees on the lists.
    submit(&mut sim, 3, newcomer, 3).unwrap();
    assert!(sim.run_until_height(&[0, 1, 2, 3], 2, 120_000));
    assert!(sim.forks().is_empty(), "{:?}", sim.forks());
    let lists = sim.node(0).permissions.read().unwrap().clone();
    for node in 1..4 {
        assert_eq!(
            *sim.node(node).permissions.read().unwrap(),
            lists,
            "node {node}"
        );
    }
}
