//! A network reopened from its data directory continues from its last
//! committed block with every block, receipt and balance intact; a damaged
//! data directory is reported with the file that is wrong.

use std::sync::Arc;

use crate::common::*;
use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, Bytes, U256, bytes},
};
use forja_runtime::{Network, SealedBlock, StorageMode, TxReceipt};

/// Init code that stores 42 in slot 0 and deploys code returning 42.
const STORE_42: Bytes = bytes!("602a600055600a6011600039600a6000f3602a60005260206000f3");

/// What a node holds, to compare before and after a restart.
#[derive(Debug, PartialEq)]
struct Snapshot {
    blocks: Vec<Arc<SealedBlock>>,
    receipts: Vec<Arc<Vec<TxReceipt>>>,
    balances: Vec<U256>,
    contract_code: Bytes,
    contract_slot: U256,
}

fn snapshot(network: &Network, node: usize, accounts: &[Address], contract: Address) -> Snapshot {
    let node = network.node(node);
    let head = node.read().block_number();
    let blocks: Vec<_> = (0..=head)
        .map(|n| node.read().block_by_number(n).expect("below head"))
        .collect();
    let receipts = blocks
        .iter()
        .map(|b| {
            node.read()
                .receipts_by_block(b.hash)
                .expect("receipts of a stored block")
        })
        .collect();
    let latest = BlockId::Number(BlockNumberOrTag::Latest);
    Snapshot {
        blocks,
        receipts,
        balances: accounts
            .iter()
            .map(|a| node.read().balance(*a, latest).unwrap())
            .collect(),
        contract_code: node.read().code(contract, latest).unwrap(),
        contract_slot: node.read().storage(contract, U256::ZERO, latest).unwrap(),
    }
}

#[test]
fn a_network_reopened_from_its_data_dir_keeps_every_block_and_extends_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let storage = StorageMode::Dir(dir.path().to_owned());
    let config = config(4);
    let network = Network::start(config.clone(), storage.clone()).expect("a new data dir opens");
    let (alice, alice_key) = dev_account(&network, 0);
    let (bob, bob_key) = dev_account(&network, 1);
    let carol = Address::repeat_byte(0xca);
    let chain_id = network.chain_id();

    let deploy = network
        .node(0)
        .pool()
        .submit_transaction(sign_1559(&alice_key, create(chain_id, 0, STORE_42)))
        .unwrap();
    let contract = wait_for_receipt(&network.node(0), deploy)
        .contract_address
        .expect("the deployment created a contract");
    // Several blocks with transactions, submitted through different nodes.
    for round in 0..4u64 {
        let node = network.node(round as usize % 4);
        let a = node
            .pool()
            .submit_transaction(sign_1559(
                &alice_key,
                transfer(chain_id, round + 1, carol, 1_000 + round),
            ))
            .unwrap();
        let b = node
            .pool()
            .submit_transaction(sign_1559(&bob_key, transfer(chain_id, round, carol, 7)))
            .unwrap();
        wait_for_receipt(&node, a);
        wait_for_receipt(&node, b);
    }
    // The last receipts were seen on node 3; the other nodes may be a block behind.
    let head = network
        .nodes()
        .iter()
        .map(|node| node.read().block_number())
        .max()
        .expect("four nodes");
    assert!(
        head >= 3,
        "the transactions made several blocks, head is {head}"
    );
    wait_for_height(&network, head);
    let accounts = [alice, bob, carol];
    let before: Vec<Snapshot> = (0..4)
        .map(|i| snapshot(&network, i, &accounts, contract))
        .collect();
    assert_eq!(before[0].contract_slot, U256::from(42));
    assert_eq!(
        before[0].balances[2],
        U256::from(1_000 + 1_001 + 1_002 + 1_003 + 4 * 7)
    );
    network.shutdown();
    drop(network);

    let network = Network::start(config.clone(), storage.clone())
        .expect("the data dir of a cleanly stopped network reopens");
    for (index, before) in before.iter().enumerate() {
        assert_eq!(
            &snapshot(&network, index, &accounts, contract),
            before,
            "node {index} lost or changed something across the restart"
        );
    }
    let node = network.node(2);
    let hash = node
        .pool()
        .submit_transaction(sign_1559(&bob_key, transfer(chain_id, 4, carol, 5)))
        .unwrap();
    let receipt = wait_for_receipt(&node, hash);
    assert!(receipt.status());
    assert!(receipt.block_number > head);
    let new_block = node.read().block_by_number(head + 1).unwrap();
    assert_eq!(
        new_block.header.parent_hash,
        before[0].blocks[head as usize].hash
    );
    let new_head = node.read().block_number();
    wait_for_height(&network, new_head);
    network.shutdown();
    // A node's store stays open while any handle to the node lives.
    drop((node, network));

    // And again, now that the store holds blocks from both runs.
    let network = Network::start(config, storage).expect("the data dir reopens a second time");
    for index in 0..4 {
        let node = network.node(index);
        assert_eq!(node.read().block_number(), new_head, "node {index}");
        assert_eq!(
            node.read().receipt(hash).map(|r| r.block_hash),
            Some(receipt.block_hash)
        );
        assert_eq!(
            node.read()
                .balance(carol, BlockId::Number(BlockNumberOrTag::Latest))
                .unwrap(),
            before[0].balances[2] + U256::from(5)
        );
    }
    network.shutdown();
}

/// A data dir of a network that committed a few blocks, stopped cleanly.
fn committed_data_dir() -> (tempfile::TempDir, forja_runtime::NetworkConfig, u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(4);
    let network = Network::start(config.clone(), StorageMode::Dir(dir.path().to_owned())).unwrap();
    let (_, key) = dev_account(&network, 0);
    for nonce in 0..3 {
        let hash = network
            .node(0)
            .pool()
            .submit_transaction(sign_1559(
                &key,
                transfer(network.chain_id(), nonce, Address::repeat_byte(1), 1),
            ))
            .unwrap();
        wait_for_receipt(&network.node(0), hash);
    }
    let head = network.node(0).read().block_number();
    wait_for_height(&network, head);
    network.shutdown();
    drop(network);
    (dir, config, head)
}

fn start_error(config: &forja_runtime::NetworkConfig, dir: &std::path::Path) -> String {
    match Network::start(config.clone(), StorageMode::Dir(dir.to_owned())) {
        Ok(_) => panic!("a damaged data dir opened"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_damaged_data_dir_is_refused_naming_the_file_and_the_intact_files_lose_nothing() {
    let (dir, config, head) = committed_data_dir();
    let victim = dir.path().join("node-1.redb");
    let original = std::fs::read(&victim).unwrap();

    // Cut short, as a copy or a disk that filled up mid-write leaves it.
    std::fs::write(&victim, &original[..original.len() / 3]).unwrap();
    let error = start_error(&config, dir.path());
    assert!(error.contains("node-1.redb"), "{error}");

    // Garbled header.
    let mut garbled = original.clone();
    garbled[..64].fill(0xee);
    std::fs::write(&victim, &garbled).unwrap();
    let error = start_error(&config, dir.path());
    assert!(error.contains("node-1.redb"), "{error}");

    // Missing.
    std::fs::remove_file(&victim).unwrap();
    let error = start_error(&config, dir.path());
    assert!(
        error.contains("node-1.redb") && error.contains("incomplete"),
        "{error}"
    );

    // With the file back, every committed block is there.
    std::fs::write(&victim, &original).unwrap();
    let network = Network::start(config, StorageMode::Dir(dir.path().to_owned())).unwrap();
    for index in 0..4 {
        assert_eq!(
            network.node(index).read().block_number(),
            head,
            "node {index}"
        );
    }
    network.shutdown();
}

#[test]
fn a_store_of_another_network_is_refused() {
    let (dir, config, _) = committed_data_dir();
    let mut other_genesis = config.clone();
    other_genesis.dev_accounts.balance_ether += 1;
    let error = start_error(&other_genesis, dir.path());
    assert!(
        error.contains("node-0.redb") && error.contains("another network"),
        "{error}"
    );
    let mut other_chain = config;
    other_chain.chain_id += 1;
    let error = start_error(&other_chain, dir.path());
    assert!(
        error.contains("node-0.redb") && error.contains("chain id 1337"),
        "{error}"
    );
}

/// Every log of the chain, block by block, from its receipts (old ones
/// are read from the store).
fn every_log(node: &forja_runtime::NodeHandle) -> Vec<alloy::primitives::Log> {
    let mut logs = Vec::new();
    for number in 0..=node.read().block_number() {
        let block = node
            .read()
            .block_by_number(number)
            .expect("a block up to the head");
        let receipts = node
            .read()
            .receipts_by_block(block.hash)
            .expect("its receipts");
        for receipt in receipts.iter() {
            logs.extend(receipt.logs().iter().cloned());
        }
    }
    logs
}

/// Init code whose constructor emits one log (topic 0xff, data 0xaa) and
/// deploys nothing.
const EMIT_LOG: Bytes = bytes!("60aa60005260ff60206000a100");

#[test]
fn a_long_chain_reopens_reading_only_its_head_and_serves_old_history_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let storage = StorageMode::Dir(dir.path().to_owned());
    let mut config = config(1);
    // More than the reverse diffs kept in memory: older ones come from disk.
    const LIMIT: u64 = 40;
    assert!(LIMIT > forja_runtime::storage::UNDO_IN_MEMORY as u64);
    config.historical_block_limit = LIMIT;
    let network = Network::start(config.clone(), storage.clone()).unwrap();
    let (_, key) = dev_account(&network, 0);
    let chain_id = network.chain_id();
    let node = network.node(0);
    let logged = node
        .pool()
        .submit_transaction(sign_1559(&key, create(chain_id, 0, EMIT_LOG)))
        .unwrap();
    let logged = wait_for_receipt(&node, logged);
    // More blocks than the node caches, so old ones come from the file.
    let carol = Address::repeat_byte(0xca);
    for nonce in 1..300 {
        let hash = node
            .pool()
            .submit_transaction(sign_1559(&key, transfer(chain_id, nonce, carol, 1)))
            .unwrap();
        wait_for_receipt(&node, hash);
    }
    let head = node.read().block_number();
    assert!(head >= 300, "one block per transaction, head is {head}");
    let old_block = node.read().block_by_number(logged.block_number).unwrap();
    let old_receipt = node.read().receipt(logged.transaction_hash).unwrap();
    let logs = every_log(&node);
    assert_eq!(logs.len(), 1, "one transaction logged");
    // One transfer of 1 to carol per block since the log's block.
    let at = |n: u64| BlockId::Number(BlockNumberOrTag::Number(n));
    let carol_at = |node: &forja_runtime::NodeHandle, n: u64| {
        node.read().balance(carol, at(n)).map_err(|e| e.to_string())
    };
    let expected = |n: u64| Ok(U256::from(n - logged.block_number));
    let readable = [head - 2, head - 30, head - LIMIT];
    for n in readable {
        assert_eq!(carol_at(&node, n), expected(n), "state at block {n}");
    }
    let pruned = carol_at(&node, head - LIMIT - 1).unwrap_err();
    assert!(pruned.contains("bonsai-historical-block-limit"), "{pruned}");
    network.shutdown();
    drop((node, network));

    let network = Network::start(config, storage).unwrap();
    let node = network.node(0);
    assert_eq!(node.read().block_number(), head);
    let read_at_open = node.admin().store_reads().expect("a stored node");
    let undo_in_memory = forja_runtime::storage::UNDO_IN_MEMORY as u64;
    assert!(
        read_at_open <= 1 + undo_in_memory,
        "opening decoded {read_at_open} blocks, receipt lists or reverse diffs: only the head \
         and the newest {undo_in_memory} diffs should be read"
    );
    assert_eq!(
        node.read().block_by_number(logged.block_number).as_ref(),
        Some(&old_block)
    );
    assert_eq!(
        node.read()
            .block_by_hash(old_block.hash)
            .map(|b| b.number()),
        Some(logged.block_number)
    );
    assert_eq!(
        node.read().receipt(logged.transaction_hash),
        Some(old_receipt)
    );
    assert_eq!(
        node.read()
            .transaction_by_hash(logged.transaction_hash)
            .map(|t| t.block_number),
        Some(logged.block_number)
    );
    assert_eq!(every_log(&node), logs);
    assert!(node.admin().store_reads().unwrap() > read_at_open);
    // The state of the newest LIMIT blocks stays readable, the older
    // diffs decoded from disk when asked for; older is pruned.
    let reads = node.admin().store_reads().unwrap();
    for n in readable {
        assert_eq!(
            carol_at(&node, n),
            expected(n),
            "state at block {n} after the restart"
        );
    }
    assert!(node.admin().store_reads().unwrap() >= reads + LIMIT - undo_in_memory);
    let error = carol_at(&node, 10).unwrap_err();
    assert!(error.contains("bonsai-historical-block-limit"), "{error}");
    // And it keeps going.
    let hash = node
        .pool()
        .submit_transaction(sign_1559(&key, transfer(chain_id, 300, carol, 1)))
        .unwrap();
    assert_eq!(wait_for_receipt(&node, hash).block_number, head + 1);
    network.shutdown();
}

#[test]
fn a_store_filled_with_garbage_is_refused_and_the_other_stores_stay_byte_identical() {
    let (dir, config, _) = committed_data_dir();
    let files: Vec<_> = (0..4)
        .map(|i| dir.path().join(format!("node-{i}.redb")))
        .collect();
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    // Garbage over everything after redb's header pages.
    let mut garbage = before[2].clone();
    for (i, byte) in garbage.iter_mut().enumerate().skip(4096) {
        *byte = (i * 31 % 251) as u8;
    }
    std::fs::write(&files[2], &garbage).unwrap();
    let error = start_error(&config, dir.path());
    assert!(
        error.contains("node-2.redb") && error.contains("backup"),
        "{error}"
    );
    for i in [0, 1, 3] {
        assert!(
            std::fs::read(&files[i]).unwrap() == before[i],
            "node-{i}.redb changed although node-2's store failed"
        );
    }
}

#[test]
fn a_backup_taken_under_load_restores_to_a_network_that_continues_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(4);
    let network = Network::start(config.clone(), StorageMode::Dir(dir.path().to_owned())).unwrap();
    let (_, key) = dev_account(&network, 0);
    let chain_id = network.chain_id();
    let carol = Address::repeat_byte(0xca);
    // Load: one transfer after another until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (node, stop) = (network.node(1), stop.clone());
        std::thread::spawn(move || {
            let mut nonce = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let hash = node
                    .pool()
                    .submit_transaction(sign_1559(&key, transfer(chain_id, nonce, carol, 1)))
                    .unwrap();
                wait_for_receipt(&node, hash);
                nonce += 1;
            }
            nonce
        })
    };
    wait_for_height(&network, 3);
    assert!(
        network.backup(Some("../elsewhere")).is_err(),
        "a name is not a path"
    );
    let backup = network.backup(Some("under-load")).unwrap();
    assert_eq!(backup.path, dir.path().join("backups").join("under-load"));
    let backed_up = backup.manifest.nodes[0];
    // Blocks kept coming during and after the backup.
    wait_for_height(&network, backed_up.number + 2);
    assert!(
        network.backup(Some("under-load")).is_err(),
        "names are unique"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = load.join().unwrap();
    assert!(sent > backed_up.number, "the load ran past the backup");
    let original_hash = network
        .node(0)
        .read()
        .block_by_number(backed_up.number)
        .unwrap()
        .hash;
    network.shutdown();
    drop(network);

    let verified = forja_runtime::backup::verify(&backup.path).unwrap();
    assert_eq!(verified.nodes, backup.manifest.nodes);
    let restored_dir = tempfile::tempdir().unwrap();
    let target = restored_dir.path().join("data");
    forja_runtime::backup::restore(&backup.path, &target).unwrap();
    assert!(
        forja_runtime::backup::restore(&backup.path, &target).is_err(),
        "restoring over node stores is refused"
    );
    let network = Network::start(config, StorageMode::Dir(target)).unwrap();
    for head in &backup.manifest.nodes {
        let block = network
            .node(head.node)
            .read()
            .block_by_number(head.number)
            .expect("the backed-up head");
        assert_eq!(block.hash, head.hash, "node {}", head.node);
        assert_eq!(
            block.header.state_root, head.state_root,
            "node {}",
            head.node
        );
    }
    assert_eq!(backed_up.hash, original_hash);
    // The restored network keeps producing blocks from there.
    let node = network.node(0);
    let nonce = node.pool().next_nonce(dev_account(&network, 0).0);
    let hash = node
        .pool()
        .submit_transaction(sign_1559(
            &dev_account(&network, 0).1,
            transfer(chain_id, nonce, carol, 1),
        ))
        .unwrap();
    assert!(wait_for_receipt(&node, hash).block_number > backed_up.number);
    network.shutdown();
}

#[test]
fn a_store_written_before_the_head_and_indexes_were_recorded_is_upgraded_when_it_opens() {
    let (dir, config, head) = committed_data_dir();
    let before = Network::start(config.clone(), StorageMode::Dir(dir.path().to_owned())).unwrap();
    let blocks: Vec<_> = (0..=head)
        .map(|n| before.node(0).read().block_by_number(n).unwrap())
        .collect();
    before.shutdown();
    drop(before);
    // What the previous format held: no headers, hash or transaction
    // indexes, no head or format entry.
    for i in 0..4 {
        let db = redb::Database::create(dir.path().join(format!("node-{i}.redb"))).unwrap();
        let write = db.begin_write().unwrap();
        for table in ["headers", "hashes", "block_numbers", "tx_index"] {
            let untyped: redb::TableDefinition<'_, u64, &[u8]> = redb::TableDefinition::new(table);
            write.delete_table(untyped).unwrap();
        }
        {
            let meta: redb::TableDefinition<'_, &str, &[u8]> = redb::TableDefinition::new("meta");
            let mut meta = write.open_table(meta).unwrap();
            meta.remove("head").unwrap();
            meta.remove("format").unwrap();
        }
        write.commit().unwrap();
    }
    let network = Network::start(config, StorageMode::Dir(dir.path().to_owned())).unwrap();
    let node = network.node(0);
    assert_eq!(node.read().block_number(), head);
    for block in &blocks {
        assert_eq!(node.read().block_by_hash(block.hash).as_ref(), Some(block));
        for tx in &block.transactions {
            assert_eq!(
                node.read().receipt(tx.hash).map(|r| r.block_number),
                Some(block.number())
            );
        }
    }
    network.shutdown();
}
