//! Polling filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`): installed per server, removed when
//! not polled within the configured expiry, as Geth does.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{B256, U256},
    rpc::types::{Filter, FilterBlockOption, FilterChanges},
};
use jsonrpsee::RpcModule;
use tokio::sync::broadcast;

use crate::{
    context::{RpcContext, method},
    error::{RpcResult, invalid_params, limit_exceeded, not_found},
    eth::{MAX_LOG_RANGE, block_logs, logs},
    hex::Hex,
};

enum FilterKind {
    /// Logs matching the filter, from `next_block` on. Boxed: a `Filter`
    /// is several times the size of the other kinds.
    Logs {
        filter: Box<Filter>,
        next_block: u64,
    },
    /// Hashes of blocks committed from `next_block` on.
    Blocks { next_block: u64 },
    /// Hashes of transactions that entered the pool since the last poll.
    PendingTransactions { receiver: broadcast::Receiver<B256> },
}

struct Installed {
    kind: FilterKind,
    last_polled: Instant,
}

pub(crate) struct FilterStore {
    expiry: Duration,
    /// Most filters installed at once (expired ones are removed first).
    max_filters: usize,
    next_id: Mutex<u64>,
    filters: Mutex<HashMap<U256, Installed>>,
}

impl FilterStore {
    pub(crate) fn new(expiry: Duration, max_filters: usize) -> Self {
        Self {
            expiry,
            max_filters,
            next_id: Mutex::new(1),
            filters: Mutex::new(HashMap::new()),
        }
    }

    fn install(&self, kind: FilterKind) -> RpcResult<U256> {
        let mut next_id = self.next_id.lock().expect("filter id lock poisoned");
        let mut filters = self.filters.lock().expect("filter lock poisoned");
        self.remove_expired(&mut filters);
        if filters.len() >= self.max_filters {
            return Err(limit_exceeded(format!(
                "too many filters installed ({}): uninstall some, or let them expire unpolled",
                self.max_filters
            )));
        }
        let id = U256::from(*next_id);
        *next_id += 1;
        filters.insert(
            id,
            Installed {
                kind,
                last_polled: Instant::now(),
            },
        );
        Ok(id)
    }

    fn remove_expired(&self, filters: &mut HashMap<U256, Installed>) {
        let expiry = self.expiry;
        filters.retain(|_, f| f.last_polled.elapsed() < expiry);
    }
}

fn filter_not_found(id: U256) -> jsonrpsee::types::ErrorObjectOwned {
    // Geth's wording; clients re-install the filter when they see it.
    not_found(format!("filter not found: {id:#x}"))
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) {
    method(module, "eth_newFilter", |ctx, params| {
        let Hex(filter) = params.one::<Hex<Filter>>()?;
        let head = ctx.node.block_number();
        let next_block = match filter.block_option {
            FilterBlockOption::Range { from_block, .. } => match from_block {
                Some(tag) if !tag.is_latest() && !tag.is_pending() => ctx.resolve_tag(tag, head)?,
                _ => head + 1,
            },
            FilterBlockOption::AtBlockHash(_) => {
                return Err(invalid_params(
                    "eth_newFilter does not take blockHash: use eth_getLogs for one block",
                ));
            }
        };
        ctx.filters.install(FilterKind::Logs {
            filter: Box::new(filter),
            next_block,
        })
    });
    method(module, "eth_newBlockFilter", |ctx, _| {
        let next_block = ctx.node.block_number() + 1;
        ctx.filters.install(FilterKind::Blocks { next_block })
    });
    method(module, "eth_newPendingTransactionFilter", |ctx, _| {
        let receiver = ctx.node.subscribe_pending_transactions();
        ctx.filters
            .install(FilterKind::PendingTransactions { receiver })
    });
    method(module, "eth_uninstallFilter", |ctx, params| {
        let id: U256 = params.one()?;
        let mut filters = ctx.filters.filters.lock().expect("filter lock poisoned");
        ctx.filters.remove_expired(&mut filters);
        Ok(filters.remove(&id).is_some())
    });
    method(module, "eth_getFilterChanges", filter_changes);
    method(module, "eth_getFilterLogs", |ctx, params| {
        let id: U256 = params.one()?;
        let filter = {
            let mut filters = ctx.filters.filters.lock().expect("filter lock poisoned");
            ctx.filters.remove_expired(&mut filters);
            let installed = filters.get_mut(&id).ok_or_else(|| filter_not_found(id))?;
            installed.last_polled = Instant::now();
            match &installed.kind {
                FilterKind::Logs { filter, .. } => filter.clone(),
                _ => {
                    return Err(invalid_params(format!(
                        "filter {id:#x} is not a log filter"
                    )));
                }
            }
        };
        logs(ctx, &filter)
    });
}

fn filter_changes(
    ctx: &RpcContext,
    params: jsonrpsee::types::Params<'_>,
) -> RpcResult<FilterChanges> {
    let id: U256 = params.one()?;
    let mut filters = ctx.filters.filters.lock().expect("filter lock poisoned");
    ctx.filters.remove_expired(&mut filters);
    let installed = filters.get_mut(&id).ok_or_else(|| filter_not_found(id))?;
    installed.last_polled = Instant::now();
    let head = ctx.node.block_number();
    Ok(match &mut installed.kind {
        // A poll reads at most as many blocks as one eth_getLogs; a filter
        // left behind catches up over the next polls, missing nothing.
        FilterKind::Blocks { next_block } => {
            let to = head.min(next_block.saturating_add(MAX_LOG_RANGE - 1));
            let hashes: Vec<B256> = (*next_block..=to)
                .filter_map(|n| ctx.node.block_by_number(n).map(|b| b.hash))
                .collect();
            *next_block = (*next_block).max(to + 1);
            FilterChanges::Hashes(hashes)
        }
        FilterKind::Logs { filter, next_block } => {
            let to = filter
                .get_to_block()
                .map_or(head, |to| to.min(head))
                .min(next_block.saturating_add(MAX_LOG_RANGE - 1));
            let mut found = Vec::new();
            for number in *next_block..=to {
                if let Some(block) = ctx.node.block_by_number(number) {
                    found.extend(block_logs(ctx, &block, filter));
                }
            }
            *next_block = (*next_block).max(to + 1);
            FilterChanges::Logs(found)
        }
        FilterKind::PendingTransactions { receiver } => {
            let mut hashes = Vec::new();
            loop {
                match receiver.try_recv() {
                    Ok(hash) => hashes.push(hash),
                    // A slow poller misses the oldest hashes, like Geth's bounded buffer.
                    Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
            FilterChanges::Hashes(hashes)
        }
    })
}
