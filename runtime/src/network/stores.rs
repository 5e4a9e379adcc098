//! Opening a network's nodes: every store checked, then opened and
//! loaded (or created at genesis), before any is written.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
};

use tokio::sync::broadcast;

use super::genesis::{bft_config, genesis};
use crate::{
    chain::Chain,
    config::{NetworkConfig, NodeKey},
    data_dir::node_path,
    error::{Result, StorageError},
    node::{ConsensusView, NodeShared},
    permissions::Permissions,
    pool::TxPool,
    storage::Store,
};

/// Where nodes keep their data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageMode {
    /// Nothing on disk (tests, the ephemeral dev node).
    InMemory,
    /// One redb file per node in this directory (`node-<i>.redb`).
    Dir(PathBuf),
}

/// Opens or creates every node's chain for `config` in `storage`.
pub(crate) fn open_nodes(
    config: &NetworkConfig,
    storage: &StorageMode,
) -> Result<Vec<Arc<NodeShared>>> {
    config.validate()?;
    let mut keys = config.node_keys()?;
    let (genesis_block, genesis_world) = genesis(config, &keys)?;
    let initial_permissions = config.permissions(&keys)?;
    let spec = config.spec();
    let mode = bft_config(config).mode;
    let defined = keys.len();
    // Nodes added while the network ran (`Network::add_node`) follow the
    // defined ones; their stores must all be there.
    let added = match storage {
        StorageMode::Dir(dir) => crate::admission::read(dir, defined)?,
        StorageMode::InMemory => Vec::new(),
    };
    let mut paths: Vec<Option<PathBuf>> = match storage {
        StorageMode::InMemory => vec![None; keys.len()],
        StorageMode::Dir(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Open {
                path: dir.clone(),
                message: format!("cannot create the data directory: {e}"),
            })?;
            let paths: Vec<PathBuf> = (0..defined).map(|i| node_path(dir, i)).collect();
            let present: Vec<bool> = paths.iter().map(|p| p.exists()).collect();
            if present.iter().any(|p| *p) && !present.iter().all(|p| *p) {
                let missing: Vec<String> = paths
                    .iter()
                    .zip(&present)
                    .filter(|(_, p)| !**p)
                    .map(|(path, _)| path.display().to_string())
                    .collect();
                return Err(StorageError::Incomplete {
                    dir: dir.clone(),
                    message: format!(
                        "it holds stores for some nodes but not for {} ({} nodes defined)",
                        missing.join(", "),
                        keys.len()
                    ),
                }
                .into());
            }
            paths.into_iter().map(Some).collect()
        }
    };
    if let StorageMode::Dir(dir) = storage {
        for (node, signer) in added {
            let path = node_path(dir, node.index);
            if !path.is_file() {
                return Err(StorageError::Incomplete {
                    dir: dir.clone(),
                    message: format!(
                        "{} lists node {} but its store {} is missing",
                        crate::admission::RECORD,
                        node.index,
                        path.display()
                    ),
                }
                .into());
            }
            paths.push(Some(path));
            keys.push(NodeKey {
                signer,
                is_validator: false,
            });
        }
    }
    // Every store is checked read-only, then opened (the ones to repair
    // first) and loaded, before any is written: a store that fails leaves
    // the others as they were.
    let mut needs_repair = vec![false; paths.len()];
    for (index, path) in paths.iter().enumerate() {
        if let Some(path) = path
            && path.exists()
        {
            needs_repair[index] = Store::inspect(path)?;
        }
    }
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by_key(|i| !needs_repair[*i]);
    let mut opened: Vec<_> = paths.iter().map(|_| None).collect();
    for index in order {
        let Some(path) = &paths[index] else {
            continue;
        };
        let store =
            Arc::new(Store::open(path)?.with_historical_block_limit(config.historical_block_limit));
        let loaded = match store.genesis_hash()? {
            Some(stored) if stored != genesis_block.hash => {
                return Err(StorageError::GenesisMismatch {
                    path: path.clone(),
                    stored,
                    configured: genesis_block.hash,
                }
                .into());
            }
            Some(_) => {
                if let Some(stored) = store.chain_id()?
                    && stored != spec.chain_id
                {
                    return Err(StorageError::ChainIdMismatch {
                        path: path.clone(),
                        stored,
                        configured: spec.chain_id,
                    }
                    .into());
                }
                Some(store.load(mode)?)
            }
            None => None,
        };
        opened[index] = Some((store, loaded));
    }
    let mut nodes = Vec::with_capacity(keys.len());
    for (index, (key, opened)) in keys.into_iter().zip(opened).enumerate() {
        let (chain, permissions, store) = match opened {
            None => (
                Chain::new(genesis_block.clone(), genesis_world.clone()),
                initial_permissions.clone(),
                None,
            ),
            Some((store, Some(loaded))) => {
                if store.chain_id()?.is_none() {
                    store.write_chain_id(spec.chain_id)?;
                }
                (loaded.chain, loaded.permissions, Some(store))
            }
            Some((store, None)) => {
                store.write_genesis(&genesis_block, &genesis_world, &initial_permissions)?;
                store.write_chain_id(spec.chain_id)?;
                let loaded = store.load(mode)?;
                (loaded.chain, loaded.permissions, Some(store))
            }
        };
        nodes.push(node_shared(config, index, key, chain, permissions, store));
    }
    Ok(nodes)
}

/// A node's state shared by its core and its API handles.
pub(super) fn node_shared(
    config: &NetworkConfig,
    index: usize,
    key: NodeKey,
    chain: Chain,
    permissions: Permissions,
    store: Option<Arc<Store>>,
) -> Arc<NodeShared> {
    Arc::new(NodeShared {
        index,
        node_id: key.node_id(),
        key,
        spec: config.spec(),
        mode: bft_config(config).mode,
        chain: RwLock::new(chain),
        pool: Mutex::new(TxPool::new(config.pool.0)),
        permissions: RwLock::new(permissions),
        store,
        new_blocks: broadcast::channel(1024).0,
        new_transactions: broadcast::channel(16_384).0,
        metrics: Default::default(),
        consensus: RwLock::new(ConsensusView::default()),
        stop: Default::default(),
        block_txs_selection_max_time: config.block_txs_selection_max_time,
    })
}
