//! Development methods of the dev network: `evm_*` and their `anvil_*` /
//! `hardhat_*` names. Registered only when the server's config turns them
//! on and the node exposes `DevApi`; otherwise they do not exist (-32601).

use alloy::primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::RpcModule;

use crate::{
    backend::DevApi,
    context::{RpcContext, alias, method},
    error::{RpcResult, node_error, server_error},
};

fn dev(ctx: &RpcContext) -> RpcResult<&dyn DevApi> {
    ctx.dev()
        .ok_or_else(|| server_error("development methods are off on this node"))
}

/// Accepts a quantity as a JSON number or a hex string (clients send both).
fn quantity(value: serde_json::Value) -> RpcResult<u64> {
    match &value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s
            .strip_prefix("0x")
            .map_or_else(|| s.parse().ok(), |hex| u64::from_str_radix(hex, 16).ok()),
        _ => None,
    }
    .ok_or_else(|| {
        crate::error::invalid_params(format!("expected a non-negative integer, got {value}"))
    })
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) {
    method(module, "evm_snapshot", |ctx, _| {
        dev(ctx)?.snapshot().map_err(node_error)
    });
    method(module, "evm_revert", |ctx, params| {
        let id: U256 = params.one()?;
        dev(ctx)?.revert(id).map_err(node_error)
    });
    method(module, "evm_mine", |ctx, params| {
        let mut seq = params.sequence();
        let timestamp = seq
            .optional_next::<serde_json::Value>()?
            .map(quantity)
            .transpose()?;
        dev(ctx)?.mine(1, timestamp).map_err(node_error)?;
        Ok("0x0")
    });
    method(module, "anvil_mine", |ctx, params| {
        let mut seq = params.sequence();
        let blocks = seq
            .optional_next::<serde_json::Value>()?
            .map(quantity)
            .transpose()?;
        let interval = seq
            .optional_next::<serde_json::Value>()?
            .map(quantity)
            .transpose()?;
        let dev = dev(ctx)?;
        if let Some(interval) = interval {
            dev.increase_time(interval).map_err(node_error)?;
        }
        dev.mine(blocks.unwrap_or(1), None).map_err(node_error)?;
        Ok(())
    });
    alias(module, "hardhat_mine", "anvil_mine");
    method(module, "evm_increaseTime", |ctx, params| {
        let seconds = quantity(params.one()?)?;
        dev(ctx)?
            .increase_time(seconds)
            .map(U64::from)
            .map_err(node_error)
    });
    method(module, "evm_setNextBlockTimestamp", |ctx, params| {
        let timestamp = quantity(params.one()?)?;
        dev(ctx)?
            .set_next_block_timestamp(timestamp)
            .map_err(node_error)?;
        Ok(())
    });
    method(module, "anvil_setBalance", |ctx, params| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let balance: U256 = seq.next()?;
        dev(ctx)?
            .set_balance(address, balance)
            .map_err(node_error)?;
        Ok(())
    });
    method(module, "anvil_setCode", |ctx, params| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let code: Bytes = seq.next()?;
        dev(ctx)?.set_code(address, code).map_err(node_error)?;
        Ok(())
    });
    method(module, "anvil_setStorageAt", |ctx, params| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let slot: U256 = seq.next()?;
        let value: B256 = seq.next()?;
        dev(ctx)?
            .set_storage_at(address, slot, value.into())
            .map_err(node_error)?;
        Ok(true)
    });
    method(module, "anvil_impersonateAccount", |ctx, params| {
        let address: Address = params.one()?;
        dev(ctx)?.impersonate(address).map_err(node_error)?;
        Ok(())
    });
    method(module, "anvil_stopImpersonatingAccount", |ctx, params| {
        let address: Address = params.one()?;
        dev(ctx)?.stop_impersonating(address).map_err(node_error)?;
        Ok(())
    });
    for (hardhat, anvil) in [
        ("hardhat_setBalance", "anvil_setBalance"),
        ("hardhat_setCode", "anvil_setCode"),
        ("hardhat_setStorageAt", "anvil_setStorageAt"),
        ("hardhat_impersonateAccount", "anvil_impersonateAccount"),
        (
            "hardhat_stopImpersonatingAccount",
            "anvil_stopImpersonatingAccount",
        ),
        ("anvil_snapshot", "evm_snapshot"),
        ("anvil_revert", "evm_revert"),
        ("anvil_increaseTime", "evm_increaseTime"),
        ("anvil_setNextBlockTimestamp", "evm_setNextBlockTimestamp"),
    ] {
        alias(module, hardhat, anvil);
    }
}
