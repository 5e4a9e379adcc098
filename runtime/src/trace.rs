//! Re-execution under a revm inspector: Geth's tracers
//! (`debug_traceTransaction`, `debug_traceCall`), access lists
//! (`eth_createAccessList`) and, in `otterscan`, what Otterscan's `ots_*`
//! methods and their address index need.
//!
//! A committed transaction is re-run on the state of its block's parent plus
//! the block's earlier transactions, in the block's own environment (the one
//! block import used), so the trace shows exactly what the chain executed. A
//! call runs on the state after a block, in the environment `eth_call` uses.
//! Nothing here writes to the chain.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy::{
    eips::{BlockId, eip2930::AccessList},
    primitives::{TxKind, U256},
    rpc::types::trace::geth::{
        GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions, GethTrace,
        NoopFrame,
    },
};
use revm::{
    Context, ExecuteCommitEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{EVMError, ResultAndState},
    database::CacheDB,
    handler::MainnetContext,
};
use revm_inspectors::{
    access_list::AccessListInspector,
    tracing::{TracingInspector, TracingInspectorConfig},
};

pub mod otterscan;

use crate::{
    chain::Chain,
    error::{Error, Result},
    execution::{BFT_MIX_HASH, BlockContext, CallLimits, CallRequest, tx_env},
    interrupt::guard,
    network::ChainReader,
    spec::ChainSpec,
    state::StateAt,
};

/// Most re-runs `eth_createAccessList` makes while the list keeps growing
/// (Geth stops at a fixed point; a list only grows, so this bounds it).
const MAX_ACCESS_LIST_ROUNDS: usize = 16;

type TraceDb<'a> = CacheDB<StateAt<'a>>;
type TraceContext<'a> = MainnetContext<TraceDb<'a>>;

/// The EVM environment of a block, as block building and import set it up.
fn block_env(block: &BlockContext) -> BlockEnv {
    BlockEnv {
        number: U256::from(block.number),
        beneficiary: block.beneficiary,
        timestamp: U256::from(block.timestamp),
        gas_limit: block.gas_limit,
        basefee: 0,
        difficulty: U256::from(1),
        prevrandao: Some(BFT_MIX_HASH),
        ..Default::default()
    }
}

/// How a traced execution is validated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Semantics {
    /// A committed transaction: checked exactly as block import checks it.
    Transaction,
    /// A call: no nonce check, like `eth_call`.
    Call,
}

fn evm_context<'a>(
    spec: &ChainSpec,
    db: TraceDb<'a>,
    block: &BlockContext,
    semantics: Semantics,
) -> TraceContext<'a> {
    let mut ctx = Context::mainnet().with_db(db);
    ctx.modify_cfg(|cfg: &mut CfgEnv| {
        cfg.chain_id = spec.chain_id;
        cfg.set_spec_and_mainnet_gas_params(spec.spec_id());
        if semantics == Semantics::Call {
            cfg.disable_nonce_check = true;
        }
    });
    ctx.block = block_env(block);
    ctx
}

fn evm_error<D: std::fmt::Debug>(error: EVMError<D>) -> Error {
    let reason = match &error {
        EVMError::Transaction(invalid) => invalid.to_string(),
        EVMError::Header(invalid) => invalid.to_string(),
        other => format!("{other:?}"),
    };
    Error::InvalidRequest(format!("execution failed: {reason}"))
}

/// revm's transaction for a call request, as `eth_call` builds it.
fn call_tx_env(
    spec: &ChainSpec,
    state: &StateAt<'_>,
    block: &BlockContext,
    request: &CallRequest,
) -> TxEnv {
    let caller = request.from.unwrap_or_default();
    TxEnv {
        tx_type: if request.access_list.is_some() { 1 } else { 0 },
        caller,
        gas_limit: request.gas.unwrap_or(block.gas_limit),
        gas_price: request.gas_price.unwrap_or(0),
        kind: request.to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: request.input.clone(),
        nonce: request.nonce.unwrap_or_else(|| state.nonce(caller)),
        chain_id: Some(spec.chain_id),
        access_list: request.access_list.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// Runs `tx` once under `inspector` without committing it.
fn inspect<'a, I>(
    spec: &ChainSpec,
    db: TraceDb<'a>,
    block: &BlockContext,
    semantics: Semantics,
    tx: TxEnv,
    inspector: I,
) -> Result<(ResultAndState, I, TraceDb<'a>)>
where
    I: Inspector<TraceContext<'a>>,
{
    let mut evm = evm_context(spec, db, block, semantics).build_mainnet_with_inspector(inspector);
    guard(&mut evm.instruction);
    let outcome = evm.inspect_tx(tx).map_err(evm_error)?;
    Ok((outcome, evm.inspector, evm.ctx.journaled_state.database))
}

/// Runs `tx` with the tracer `options` asks for and builds its Geth trace.
fn trace_with_options(
    spec: &ChainSpec,
    db: TraceDb<'_>,
    block: &BlockContext,
    semantics: Semantics,
    tx: TxEnv,
    options: GethDebugTracingOptions,
) -> Result<GethTrace> {
    let gas_limit = tx.gas_limit;
    let Some(tracer) = options.tracer else {
        let config = TracingInspectorConfig::from_geth_config(&options.config);
        let (outcome, inspector, _) = inspect(
            spec,
            db,
            block,
            semantics,
            tx,
            TracingInspector::new(config),
        )?;
        let gas_used = outcome.result.tx_gas_used();
        let return_value = outcome.result.into_output().unwrap_or_default();
        let frame = inspector
            .with_transaction_gas_limit(gas_limit)
            .into_geth_builder()
            .geth_traces(gas_used, return_value, options.config);
        return Ok(frame.into());
    };
    let builtin = match tracer {
        GethDebugTracerType::BuiltInTracer(builtin) => builtin,
        GethDebugTracerType::JsTracer(_) => {
            return Err(Error::InvalidRequest(
                "JavaScript tracers are not supported; use callTracer, prestateTracer, noopTracer or the default struct logger".into(),
            ));
        }
    };
    let bad_config = |tracer: &str, error: serde_json::Error| {
        Error::InvalidRequest(format!("invalid tracerConfig for {tracer}: {error}"))
    };
    match builtin {
        GethDebugBuiltInTracerType::CallTracer => {
            let call_config = options
                .tracer_config
                .into_call_config()
                .map_err(|e| bad_config("callTracer", e))?;
            let config = TracingInspectorConfig::from_geth_call_config(&call_config);
            let (outcome, inspector, _) = inspect(
                spec,
                db,
                block,
                semantics,
                tx,
                TracingInspector::new(config),
            )?;
            let frame = inspector
                .with_transaction_gas_limit(gas_limit)
                .into_geth_builder()
                .geth_call_traces(call_config, outcome.result.tx_gas_used());
            Ok(frame.into())
        }
        GethDebugBuiltInTracerType::PreStateTracer => {
            let prestate_config = options
                .tracer_config
                .into_pre_state_config()
                .map_err(|e| bad_config("prestateTracer", e))?;
            let config = TracingInspectorConfig::from_geth_prestate_config(&prestate_config);
            let (outcome, inspector, db) = inspect(
                spec,
                db,
                block,
                semantics,
                tx,
                TracingInspector::new(config),
            )?;
            let frame = inspector
                .with_transaction_gas_limit(gas_limit)
                .into_geth_builder()
                .geth_prestate_traces(&outcome, &prestate_config, &db)
                .unwrap_or_else(|never| match never {});
            Ok(frame.into())
        }
        GethDebugBuiltInTracerType::NoopTracer => {
            // Geth still executes the transaction; an invalid one is an error.
            inspect(
                spec,
                db,
                block,
                semantics,
                tx,
                revm::inspector::NoOpInspector,
            )?;
            Ok(NoopFrame::default().into())
        }
        other => Err(Error::InvalidRequest(format!(
            "tracer {} is not supported; use callTracer, prestateTracer, noopTracer or the default struct logger",
            serde_json::to_string(&other).unwrap_or_else(|_| format!("{other:?}"))
        ))),
    }
}

/// Traces committed transaction `hash` of `chain`.
pub fn trace_transaction(
    spec: &ChainSpec,
    chain: &Chain,
    hash: alloy::primitives::B256,
    options: GethDebugTracingOptions,
) -> Result<GethTrace> {
    let (db, context, tx) = replay_before(spec, chain, hash)?;
    trace_with_options(spec, db, &context, Semantics::Transaction, tx, options)
}

/// The state committed transaction `hash` of `chain` ran on (its block's
/// parent plus the block's earlier transactions, replayed without an
/// inspector), its block's environment and the transaction itself.
fn replay_before<'a>(
    spec: &ChainSpec,
    chain: &'a Chain,
    hash: alloy::primitives::B256,
) -> Result<(TraceDb<'a>, BlockContext, TxEnv)> {
    let location = chain
        .transaction(&hash)
        .ok_or_else(|| Error::InvalidRequest(format!("transaction {hash} not found")))?;
    let number = location.block_number;
    let (parent, block, context) = block_replay_start(chain, number)?;
    let mut evm =
        evm_context(spec, CacheDB::new(parent), &context, Semantics::Transaction).build_mainnet();
    guard(&mut evm.instruction);
    for earlier in &block.transactions[..location.index as usize] {
        evm.transact_commit(tx_env(earlier)).map_err(|e| {
            Error::InvalidRequest(format!(
                "replaying transaction {} of block {number} before {hash}: {}",
                earlier.hash,
                evm_error(e)
            ))
        })?;
    }
    Ok((
        evm.ctx.journaled_state.database,
        context,
        tx_env(&location.transaction),
    ))
}

/// What replaying block `number` starts from: its parent's state, the block
/// and the environment block import executed it in.
fn block_replay_start(
    chain: &Chain,
    number: u64,
) -> Result<(
    StateAt<'_>,
    std::sync::Arc<crate::SealedBlock>,
    BlockContext,
)> {
    let block = chain
        .block(number)
        .ok_or_else(|| Error::BlockNotFound(number.to_string()))?
        .clone();
    let parent_number = number
        .checked_sub(1)
        .ok_or_else(|| Error::InvalidRequest("the genesis block has no transactions".into()))?;
    let parent = chain
        .state_at(parent_number)
        .ok_or_else(|| Error::BlockNotFound(parent_number.to_string()))?;
    let header = &block.header;
    let context = BlockContext {
        number: header.number,
        timestamp: header.timestamp,
        beneficiary: header.beneficiary,
        gas_limit: header.gas_limit,
        parent_hash: header.parent_hash,
    };
    Ok((parent, block, context))
}

/// The environment a call on the state after block `number` runs in: the
/// next block, as `eth_call` sees it.
fn call_context(spec: &ChainSpec, chain: &Chain, number: u64) -> Result<BlockContext> {
    let parent = chain.block(number).ok_or_else(|| {
        Error::BlockNotFound(format!("{number} (head is {})", chain.head_number()))
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Ok(BlockContext {
        number: number + 1,
        timestamp: parent.header.timestamp.max(now),
        beneficiary: alloy::primitives::Address::ZERO,
        gas_limit: spec.block_gas_limit,
        parent_hash: parent.hash,
    })
}

/// Traces `request` as a call on the state after block `number`.
pub fn trace_call(
    spec: &ChainSpec,
    chain: &Chain,
    request: &CallRequest,
    number: u64,
    options: GethDebugTracingOptions,
) -> Result<GethTrace> {
    let context = call_context(spec, chain, number)?;
    let state = chain
        .state_at(number)
        .expect("call_context checked the block");
    let tx = call_tx_env(spec, &state, &context, request);
    trace_with_options(
        spec,
        CacheDB::new(state),
        &context,
        Semantics::Call,
        tx,
        options,
    )
}

/// The access list `request` needs on the state after block `number`, and
/// the gas it uses with that list (Geth's `eth_createAccessList`): the call
/// is re-run with the list found so far until no new entry appears. The
/// sender, the callee and precompiles are left out, as Geth does.
pub fn create_access_list(
    spec: &ChainSpec,
    chain: &Chain,
    request: &CallRequest,
    number: u64,
) -> Result<(AccessList, u64)> {
    let context = call_context(spec, chain, number)?;
    let state = chain
        .state_at(number)
        .expect("call_context checked the block");
    let mut list = request.access_list.clone().unwrap_or_default();
    for _ in 0..MAX_ACCESS_LIST_ROUNDS {
        let mut with_list = request.clone();
        with_list.access_list = Some(list.clone());
        let tx = call_tx_env(spec, &state, &context, &with_list);
        let (outcome, inspector, _) = inspect(
            spec,
            CacheDB::new(state.clone()),
            &context,
            Semantics::Call,
            tx,
            AccessListInspector::new(list.clone()),
        )?;
        let found = inspector.into_access_list();
        if found == list {
            return Ok((list, outcome.result.tx_gas_used()));
        }
        list = found;
    }
    Err(Error::InvalidRequest(format!(
        "the access list did not settle after {MAX_ACCESS_LIST_ROUNDS} executions"
    )))
}

impl ChainReader {
    /// Geth trace of committed transaction `hash` (`debug_traceTransaction`),
    /// stopped after `limits.timeout`.
    pub fn trace_transaction(
        &self,
        hash: alloy::primitives::B256,
        options: GethDebugTracingOptions,
        limits: &CallLimits,
    ) -> Result<GethTrace> {
        let shared = self.shared();
        let chain = shared.chain.read().expect("chain lock");
        self.within(limits.timeout, || {
            trace_transaction(&shared.spec, &chain, hash, options)
        })
    }

    /// Geth trace of a call on the state after `block` (`debug_traceCall`),
    /// within `limits`.
    pub fn trace_call(
        &self,
        request: &CallRequest,
        block: BlockId,
        options: GethDebugTracingOptions,
        limits: &CallLimits,
    ) -> Result<GethTrace> {
        let number = self.resolve_block(block)?;
        let shared = self.shared();
        let chain = shared.chain.read().expect("chain lock");
        let request = capped(request, &shared.spec, limits);
        self.within(limits.timeout, || {
            trace_call(&shared.spec, &chain, &request, number, options)
        })
    }

    /// Access list and gas used of a call on the state after `block`
    /// (`eth_createAccessList`), within `limits`.
    pub fn create_access_list(
        &self,
        request: &CallRequest,
        block: BlockId,
        limits: &CallLimits,
    ) -> Result<(AccessList, u64)> {
        let number = self.resolve_block(block)?;
        let shared = self.shared();
        let chain = shared.chain.read().expect("chain lock");
        let request = capped(request, &shared.spec, limits);
        self.within(limits.timeout, || {
            create_access_list(&shared.spec, &chain, &request, number)
        })
    }
}

/// `request` with the gas `limits` give it.
fn capped(request: &CallRequest, spec: &ChainSpec, limits: &CallLimits) -> CallRequest {
    let mut request = request.clone();
    request.gas = Some(limits.gas(request.gas, spec.block_gas_limit));
    request
}
