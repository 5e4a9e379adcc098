//! Reading the chain: blocks, receipts, transactions, state, calls.

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, Bytes, U256},
};
use tokio::sync::broadcast;

use crate::{
    block::{SealedBlock, TxLocation, TxReceipt},
    chain::Chain,
    error::{Error, Result},
    execution::{BlockContext, CallLimits, CallRequest, ExecutionOutcome, call, estimate_gas},
    interrupt::{Interrupted, Limits},
    network::clock::NetworkClock,
    node::NodeShared,
    spec::ChainSpec,
    state::StateAt,
};

/// Reading one node's chain (Besu's ETH, NET and WEB3 reads, DEBUG
/// traces): blocks, receipts, transactions, state, calls and estimates.
#[derive(Clone)]
pub struct ChainReader {
    shared: Arc<NodeShared>,
    /// Calls run in the block the network's clock would stamp next.
    clock: Arc<NetworkClock>,
}

impl ChainReader {
    pub(crate) fn new(shared: Arc<NodeShared>, clock: Arc<NetworkClock>) -> Self {
        Self { shared, clock }
    }

    /// The node's shared state, for the crate's tracing.
    pub(crate) fn shared(&self) -> &Arc<NodeShared> {
        &self.shared
    }

    /// Runs `execute` (EVM work on this thread) so that it stops after
    /// `timeout` or when the node shuts down, whichever comes first, and
    /// says which instead of the result it was cut short with.
    pub(crate) fn within<T>(
        &self,
        timeout: Option<Duration>,
        execute: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let scope = Limits::new(timeout, Some(self.shared.stop.clone())).enter();
        let result = execute();
        match scope.interrupted() {
            Some(Interrupted::Deadline) => {
                Err(Error::ExecutionTimeout(timeout.unwrap_or_default()))
            }
            Some(Interrupted::Stopped) => Err(Error::ShutDown),
            None => result,
        }
    }

    pub fn chain_spec(&self) -> &ChainSpec {
        &self.shared.spec
    }

    pub(crate) fn chain(&self) -> std::sync::RwLockReadGuard<'_, Chain> {
        self.shared.chain.read().expect("chain lock")
    }

    pub fn block_number(&self) -> u64 {
        self.chain().head_number()
    }

    pub fn genesis_hash(&self) -> B256 {
        self.chain().genesis_hash()
    }

    pub fn block_by_number(&self, number: u64) -> Option<Arc<SealedBlock>> {
        self.chain().block(number)
    }

    pub fn block_by_hash(&self, hash: B256) -> Option<Arc<SealedBlock>> {
        let chain = self.chain();
        chain.number_of(&hash).and_then(|n| chain.block(n))
    }

    /// Resolves a block id to a number. `pending`, `safe` and `finalized`
    /// are the head (BFT finality: a committed block is final).
    pub fn resolve_block(&self, block: BlockId) -> Result<u64> {
        let chain = self.chain();
        resolve(&chain, block)
    }

    pub fn block(&self, block: BlockId) -> Result<Arc<SealedBlock>> {
        let chain = self.chain();
        let number = resolve(&chain, block)?;
        chain
            .block(number)
            .ok_or_else(|| Error::BlockNotFound(number.to_string()))
    }

    pub fn receipts_by_block(&self, hash: B256) -> Option<Arc<Vec<TxReceipt>>> {
        let chain = self.chain();
        chain.number_of(&hash).and_then(|n| chain.receipts(n))
    }

    pub fn transaction_by_hash(&self, hash: B256) -> Option<TxLocation> {
        self.chain().transaction(&hash)
    }

    pub fn receipt(&self, hash: B256) -> Option<TxReceipt> {
        self.chain().receipt(&hash)
    }

    fn with_state<T>(&self, block: BlockId, f: impl FnOnce(StateAt<'_>) -> T) -> Result<T> {
        let chain = self.chain();
        let number = resolve(&chain, block)?;
        let state = state_of(&chain, number)?;
        Ok(f(state))
    }

    pub fn balance(&self, address: Address, block: BlockId) -> Result<U256> {
        self.with_state(block, |s| s.balance(address))
    }

    pub fn nonce(&self, address: Address, block: BlockId) -> Result<u64> {
        self.with_state(block, |s| s.nonce(address))
    }

    pub fn code(&self, address: Address, block: BlockId) -> Result<Bytes> {
        self.with_state(block, |s| s.code(address))
    }

    pub fn storage(&self, address: Address, slot: U256, block: BlockId) -> Result<U256> {
        self.with_state(block, |s| s.storage(address, slot))
    }

    /// The block a call on the state after block `number` runs in: the
    /// next one, stamped by the clock the engines read (dev time controls
    /// included), as the next block would be.
    fn call_context(&self, chain: &Chain, number: u64) -> Result<BlockContext> {
        let parent = chain
            .block(number)
            .ok_or_else(|| Error::BlockNotFound(number.to_string()))?;
        let now_ms = self.clock.now_ms();
        Ok(BlockContext {
            number: number + 1,
            timestamp: parent.header.timestamp.max(now_ms / 1000),
            beneficiary: Address::ZERO,
            gas_limit: self.shared.spec.block_gas_limit,
            parent_hash: parent.hash,
        })
    }

    /// The state, block context and request (its gas capped by `limits`) a
    /// call or estimate at `block` runs with.
    fn prepare_call<'c>(
        &self,
        chain: &'c Chain,
        request: &CallRequest,
        block: BlockId,
        limits: &CallLimits,
    ) -> Result<(StateAt<'c>, BlockContext, CallRequest)> {
        let number = resolve(chain, block)?;
        let context = self.call_context(chain, number)?;
        let state = state_of(chain, number)?;
        let mut request = request.clone();
        request.gas = Some(limits.gas(request.gas, context.gas_limit));
        Ok((state, context, request))
    }

    /// Executes a call on the state after `block` without committing it,
    /// within `limits`.
    pub fn call(
        &self,
        request: &CallRequest,
        block: BlockId,
        limits: &CallLimits,
    ) -> Result<ExecutionOutcome> {
        let chain = self.chain();
        let (state, context, request) = self.prepare_call(&chain, request, block, limits)?;
        self.within(limits.timeout, || {
            Ok(call(&self.shared.spec, state, &context, &request)?)
        })
    }

    /// The gas limit `request` needs to succeed, searched within `limits`
    /// (the time limit covers the whole search).
    pub fn estimate_gas(
        &self,
        request: &CallRequest,
        block: BlockId,
        limits: &CallLimits,
    ) -> Result<u64> {
        let chain = self.chain();
        let (state, context, request) = self.prepare_call(&chain, request, block, limits)?;
        self.within(limits.timeout, || {
            Ok(estimate_gas(&self.shared.spec, state, &context, &request)?)
        })
    }

    /// New committed blocks, as this node imports them.
    pub fn subscribe_new_blocks(&self) -> broadcast::Receiver<Arc<SealedBlock>> {
        self.shared.new_blocks.subscribe()
    }
}

/// The state after block `number`, or why it cannot be read.
fn state_of(chain: &Chain, number: u64) -> Result<StateAt<'_>> {
    chain.state_at(number).ok_or_else(|| {
        Error::InvalidRequest(format!(
            "the state of block {number} is no longer available: this node keeps the state of blocks {} to {} (--bonsai-historical-block-limit)",
            chain.oldest_state(),
            chain.head_number()
        ))
    })
}

fn resolve(chain: &Chain, block: BlockId) -> Result<u64> {
    let head = chain.head_number();
    match block {
        BlockId::Hash(hash) => chain
            .number_of(&hash.block_hash)
            .ok_or_else(|| Error::BlockNotFound(hash.block_hash.to_string())),
        BlockId::Number(tag) => match tag {
            BlockNumberOrTag::Earliest => Ok(0),
            BlockNumberOrTag::Number(n) if n <= head => Ok(n),
            BlockNumberOrTag::Number(n) => {
                Err(Error::BlockNotFound(format!("{n} (head is {head})")))
            }
            _ => Ok(head),
        },
    }
}
