//! Besu's consortium methods with Besu's names and result shapes:
//! `qbft_*` (or `ibft_*` in IBFT 2.0 mode), `perm_*` and `admin_*`.

use std::collections::BTreeMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U64},
};
use jsonrpsee::RpcModule;
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    backend::Consensus,
    context::{RpcContext, executing, method, method_as_caller},
    error::{RpcResult, invalid_params, node_error, not_found},
    hex::Hex,
};

/// Blocks `getSignerMetrics` covers when no range is given (Besu's default).
const DEFAULT_SIGNER_METRICS_BLOCKS: u64 = 100;

pub(crate) fn register(module: &mut RpcModule<RpcContext>, consensus: Consensus) {
    let names: [&'static str; 6] = match consensus {
        Consensus::Qbft => [
            "qbft_getValidatorsByBlockNumber",
            "qbft_getValidatorsByBlockHash",
            "qbft_proposeValidatorVote",
            "qbft_discardValidatorVote",
            "qbft_getPendingVotes",
            "qbft_getSignerMetrics",
        ],
        Consensus::Ibft2 => [
            "ibft_getValidatorsByBlockNumber",
            "ibft_getValidatorsByBlockHash",
            "ibft_proposeValidatorVote",
            "ibft_discardValidatorVote",
            "ibft_getPendingVotes",
            "ibft_getSignerMetrics",
        ],
    };
    method(module, names[0], |ctx, params| {
        let Hex(tag) = params.one::<Hex<BlockNumberOrTag>>()?;
        let number = ctx.resolve_tag(tag, ctx.node.block_number())?;
        ctx.node.validators_at(number).map_err(node_error)
    });
    method(module, names[1], |ctx, params| {
        let Hex(hash) = params.one::<Hex<B256>>()?;
        let block = ctx
            .node
            .block_by_hash(hash)
            .ok_or_else(|| not_found(format!("block {hash} not found")))?;
        ctx.node.validators_at(block.number()).map_err(node_error)
    });
    method_as_caller(module, names[2], |ctx, params, caller| {
        let mut seq = params.sequence();
        let Hex(validator) = seq.next::<Hex<Address>>()?;
        let add: bool = seq.next()?;
        ctx.node
            .propose_validator_vote(account(caller), validator, add)
            .map_err(node_error)?;
        Ok(true)
    });
    method_as_caller(module, names[3], |ctx, params, caller| {
        let Hex(validator) = params.one::<Hex<Address>>()?;
        ctx.node
            .discard_validator_vote(account(caller), validator)
            .map_err(node_error)?;
        Ok(true)
    });
    method(module, names[4], |ctx, _| {
        Ok(ctx
            .node
            .pending_votes()
            .into_iter()
            .collect::<BTreeMap<Address, bool>>())
    });
    method(module, names[5], signer_metrics);

    method(module, "perm_getAccountsAllowlist", |ctx, _| {
        Ok(ctx.node.accounts_allowlist())
    });
    method_as_caller(
        module,
        "perm_addAccountsToAllowlist",
        |ctx, params, caller| {
            let Hex(accounts) = params.one::<Hex<Vec<Address>>>()?;
            ctx.node
                .add_accounts_to_allowlist(account(caller), accounts)
                .map_err(node_error)?;
            Ok("Success")
        },
    );
    method_as_caller(
        module,
        "perm_removeAccountsFromAllowlist",
        |ctx, params, caller| {
            let Hex(accounts) = params.one::<Hex<Vec<Address>>>()?;
            ctx.node
                .remove_accounts_from_allowlist(account(caller), accounts)
                .map_err(node_error)?;
            Ok("Success")
        },
    );
    method(module, "perm_getNodesAllowlist", |ctx, _| {
        Ok(ctx.node.nodes_allowlist())
    });
    method_as_caller(module, "perm_addNodesToAllowlist", |ctx, params, caller| {
        let enodes: Vec<String> = params.one()?;
        ctx.node
            .add_nodes_to_allowlist(account(caller), enodes)
            .map_err(node_error)?;
        Ok("Success")
    });
    method_as_caller(
        module,
        "perm_removeNodesFromAllowlist",
        |ctx, params, caller| {
            let enodes: Vec<String> = params.one()?;
            ctx.node
                .remove_nodes_from_allowlist(account(caller), enodes)
                .map_err(node_error)?;
            Ok("Success")
        },
    );

    method(module, "admin_nodeInfo", |ctx, _| {
        let info = ctx.node.node_info();
        Ok(json!({
            "enode": info.enode,
            "id": info.id,
            "name": info.name,
            "listenAddr": info.listen_addr,
            "protocols": { "eth": { "config": { "chainId": ctx.node.chain_id() } } },
        }))
    });
    // forja's own (Besu backs up offline, `besu operator x-backup-state`):
    // a consistent copy of every node's store, taken while blocks keep
    // coming, into the data directory's `backups/<name>/`; the caller
    // names the backup, never a path.
    executing(module, "admin_backup", |ctx, params| {
        let name: Option<String> = params.sequence().optional_next()?;
        let backup = ctx.node.backup(name.as_deref()).map_err(node_error)?;
        let nodes: Vec<Value> = backup
            .manifest
            .nodes
            .iter()
            .map(|head| {
                json!({
                    "node": head.node,
                    "number": U64::from(head.number),
                    "hash": head.hash,
                    "stateRoot": head.state_root,
                })
            })
            .collect();
        Ok(json!({
            "name": backup.name,
            "path": backup.path.display().to_string(),
            "nodes": nodes,
        }))
    });
    // forja's own: starts a node with a new key in the in-process network
    // (a Besu node is a process its operator starts; an in-process node only
    // the network hosting it can start). It joins as Besu's new node does:
    // refused until perm_addNodesToAllowlist lists its enode, then syncing;
    // a validator once a vote adds its address. An admin account's call.
    method_as_caller(module, "admin_addNode", |ctx, _, caller| {
        let added = ctx.node.add_node(account(caller)).map_err(node_error)?;
        Ok(json!({
            "index": added.index,
            "enode": added.enode,
            "address": added.address,
            "keyFile": added.key_file.map(|path| path.display().to_string()),
        }))
    });
    method(module, "admin_peers", |ctx, _| {
        Ok(ctx
            .node
            .peers()
            .into_iter()
            .map(|peer| {
                json!({
                    "id": peer.id,
                    "enode": peer.enode,
                    "name": "forja",
                    "caps": ["eth/68", "istanbul/100"],
                    "network": { "remoteAddress": peer.remote_address },
                })
            })
            .collect::<Vec<Value>>())
    });
}

/// The account an authenticated caller acts as (`None`: the operator).
fn account(caller: Option<&Caller>) -> Option<Address> {
    caller.and_then(|caller| caller.account)
}

fn signer_metrics(ctx: &RpcContext, params: jsonrpsee::types::Params<'_>) -> RpcResult<Value> {
    let mut seq = params.sequence();
    let from = seq
        .optional_next::<Hex<BlockNumberOrTag>>()?
        .map(Hex::into_inner);
    let to = seq
        .optional_next::<Hex<BlockNumberOrTag>>()?
        .map(Hex::into_inner);
    let head = ctx.node.block_number();
    let to = match to {
        Some(tag) => ctx.resolve_tag(tag, head)?,
        None => head,
    };
    let from = match from {
        Some(tag) => ctx.resolve_tag(tag, head)?,
        None => to.saturating_sub(DEFAULT_SIGNER_METRICS_BLOCKS - 1),
    };
    if from > to {
        return Err(invalid_params(format!(
            "invalid block range: fromBlock {from} is after toBlock {to}"
        )));
    }
    let metrics = ctx.node.signer_metrics(from, to).map_err(node_error)?;
    Ok(Value::Array(
        metrics
            .into_iter()
            .map(|m| {
                json!({
                    "address": m.address,
                    "proposedBlockCount": U64::from(m.proposed_block_count),
                    "lastProposedBlockNumber": U64::from(m.last_proposed_block_number),
                })
            })
            .collect(),
    ))
}
