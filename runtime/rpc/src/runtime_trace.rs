//! [`TraceApi`] and [`DevApi`] for a node of a running
//! `forja_runtime::Network`, over the runtime's re-execution
//! (`forja_runtime::trace`, `NodeHandle::read`) and dev controls
//! (`NodeHandle::dev`).

use alloy::{
    eips::{BlockId, BlockNumberOrTag, eip2930::AccessList},
    primitives::{Address, B256, Bytes, U256},
    rpc::types::{
        TransactionRequest,
        trace::geth::{GethDebugTracingOptions, GethTrace},
    },
};
use forja_runtime::{CallRequest, TxError, execution::CallLimits, trace::otterscan::OtsTrace};

use crate::{
    backend::{DevApi, NodeResult, TraceApi},
    runtime_node::NetworkNode,
};

fn at(number: u64) -> BlockId {
    BlockId::Number(BlockNumberOrTag::Number(number))
}

impl TraceApi for NetworkNode {
    fn create_access_list(
        &self,
        request: CallRequest,
        block: u64,
        limits: &CallLimits,
    ) -> NodeResult<(AccessList, u64)> {
        self.handle()
            .read()
            .create_access_list(&request, at(block), limits)
    }

    fn trace_transaction(
        &self,
        hash: B256,
        options: GethDebugTracingOptions,
        limits: &CallLimits,
    ) -> NodeResult<GethTrace> {
        self.handle()
            .read()
            .trace_transaction(hash, options, limits)
    }

    fn trace_call(
        &self,
        request: CallRequest,
        block: u64,
        options: GethDebugTracingOptions,
        limits: &CallLimits,
    ) -> NodeResult<GethTrace> {
        self.handle()
            .read()
            .trace_call(&request, at(block), options, limits)
    }

    fn ots_trace_transaction(&self, hash: B256, limits: &CallLimits) -> NodeResult<OtsTrace> {
        self.handle().read().ots_trace_transaction(hash, limits)
    }

    fn ots_trace_block(&self, number: u64, limits: &CallLimits) -> NodeResult<Vec<OtsTrace>> {
        self.handle().read().ots_trace_block(number, limits)
    }
}

impl DevApi for NetworkNode {
    fn snapshot(&self) -> NodeResult<U256> {
        self.handle().dev().snapshot().map(U256::from)
    }

    fn revert(&self, id: U256) -> NodeResult<bool> {
        // Ids are u64s: a larger one was never handed out.
        match u64::try_from(id) {
            Ok(id) => self.handle().dev().revert(id),
            Err(_) => Ok(false),
        }
    }

    fn mine(&self, blocks: u64, timestamp: Option<u64>) -> NodeResult<()> {
        if let Some(timestamp) = timestamp {
            self.handle().dev().set_next_block_timestamp(timestamp)?;
        }
        self.handle().dev().mine(blocks)
    }

    fn increase_time(&self, seconds: u64) -> NodeResult<u64> {
        self.handle().dev().increase_time(seconds)
    }

    fn set_next_block_timestamp(&self, timestamp: u64) -> NodeResult<()> {
        self.handle().dev().set_next_block_timestamp(timestamp)
    }

    fn set_balance(&self, address: Address, balance: U256) -> NodeResult<()> {
        self.handle().dev().set_balance(address, balance)
    }

    fn set_code(&self, address: Address, code: Bytes) -> NodeResult<()> {
        self.handle().dev().set_code(address, code)
    }

    fn set_storage_at(&self, address: Address, slot: U256, value: U256) -> NodeResult<()> {
        self.handle().dev().set_storage_at(address, slot, value)
    }

    fn impersonate(&self, address: Address) -> NodeResult<()> {
        self.handle().dev().impersonate(address)
    }

    fn stop_impersonating(&self, address: Address) -> NodeResult<()> {
        self.handle().dev().stop_impersonating(address)
    }

    fn is_impersonated(&self, address: Address) -> bool {
        self.handle().dev().is_impersonated(address)
    }

    fn submit_impersonated(
        &self,
        from: Address,
        request: TransactionRequest,
    ) -> Result<B256, TxError> {
        self.handle().dev().submit_impersonated(from, request)
    }
}
