//! Executes transactions with revm: block building, block import, calls.

use alloy::{
    consensus::{
        EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom,
        Transaction, TxEnvelope, TxType,
    },
    eips::{eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH},
    primitives::{
        Address, B64, B256, Bloom, BloomInput, Bytes, Log, TxKind, U256, b256, keccak256,
        map::{AddressHashMap, B256HashMap},
    },
};
use alloy_trie::{EMPTY_ROOT_HASH, root::ordered_trie_root_with_encoder};
use revm::{
    Context, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, TxEnv},
    context_interface::result::{EVMError, ExecResultAndState, ExecutionResult, Output},
    database::CacheDB,
    database_interface::DatabaseCommit,
    primitives::hardfork::SpecId,
    state::EvmState,
};

use std::time::{Duration, Instant};

use crate::{
    block::{SignedTx, TxRef},
    error::{BlockError, CallError},
    interrupt::{Interrupted, guard},
    spec::{ChainSpec, Hardfork},
    state::{AccountChange, AccountFields, StateAt, StateChanges},
};

/// Istanbul BFT's fixed mix hash ("ctical byzantine fault tolerance"), as
/// QBFT and IBFT 2.0 headers carry it.
pub const BFT_MIX_HASH: B256 =
    b256!("63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365");

/// The environment a block executes in.
#[derive(Clone, Debug)]
pub struct BlockContext {
    pub number: u64,
    pub timestamp: u64,
    pub beneficiary: Address,
    pub gas_limit: u64,
    pub parent_hash: B256,
}

impl BlockContext {
    fn env(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary: self.beneficiary,
            timestamp: U256::from(self.timestamp),
            gas_limit: self.gas_limit,
            basefee: 0,
            difficulty: U256::from(1),
            prevrandao: Some(BFT_MIX_HASH),
            ..Default::default()
        }
    }
}

/// A transaction's result inside a block.
#[derive(Clone, Debug)]
pub struct ExecutedTx {
    pub tx: TxRef,
    pub success: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    pub contract_address: Option<Address>,
}

/// The outcome of executing a list of transactions on a parent state.
#[derive(Clone, Debug, Default)]
pub struct ExecutedBlock {
    pub transactions: Vec<ExecutedTx>,
    /// Consensus receipts (status, cumulative gas, logs, bloom), one per
    /// transaction, made as each executes: sealing, validating and
    /// committing the block all read these instead of rehashing the blooms.
    pub receipts: Vec<ReceiptEnvelope<Log>>,
    pub changes: StateChanges,
    pub gas_used: u64,
    /// Transactions left out while building (hash, why).
    pub skipped: Vec<(TxRef, String)>,
    /// The transaction building stopped at because the thread's
    /// [`Limits`](crate::interrupt::Limits) passed, with why and how long it
    /// had run. It and every transaction after it are left out.
    pub interrupted: Option<InterruptedTx>,
}

/// A transaction whose execution was stopped by a limit (see
/// [`ExecutedBlock::interrupted`]).
#[derive(Clone, Debug)]
pub struct InterruptedTx {
    pub tx: TxRef,
    pub why: Interrupted,
    /// How long it ran before it was stopped.
    pub ran_for: Duration,
}

impl ExecutedBlock {
    /// Consensus receipts (with blooms) in block order.
    pub fn receipts(&self) -> &[ReceiptEnvelope<Log>] {
        &self.receipts
    }

    pub fn logs_bloom(&self, receipts: &[ReceiptEnvelope<Log>]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for receipt in receipts {
            bloom.accrue_bloom(receipt.logs_bloom());
        }
        bloom
    }
}

/// The keccak hashes a logs bloom sets bits from, memoised for one block:
/// most receipts of a block repeat the same contract address and event
/// signature, and each costs a keccak.
#[derive(Default)]
struct BloomHashes {
    addresses: AddressHashMap<B256>,
    topics: B256HashMap<B256>,
}

impl BloomHashes {
    fn bloom(&mut self, logs: &[Log]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in logs {
            let address = *self
                .addresses
                .entry(log.address)
                .or_insert_with(|| keccak256(log.address));
            bloom.accrue(BloomInput::Hash(address));
            for topic in log.topics() {
                let hash = *self
                    .topics
                    .entry(*topic)
                    .or_insert_with(|| keccak256(topic));
                bloom.accrue(BloomInput::Hash(hash));
            }
        }
        bloom
    }
}

fn receipt_envelope(
    tx: &SignedTx,
    success: bool,
    cumulative_gas_used: u64,
    logs: Vec<Log>,
    blooms: &mut BloomHashes,
) -> ReceiptEnvelope<Log> {
    let logs_bloom = blooms.bloom(&logs);
    let receipt = Receipt {
        status: Eip658Value::Eip658(success),
        cumulative_gas_used,
        logs,
    };
    let with_bloom = ReceiptWithBloom {
        receipt,
        logs_bloom,
    };
    match tx.envelope.tx_type() {
        TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
        TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
        TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
        TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
        TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
    }
}

/// Whether the block is being built (invalid transactions are skipped) or
/// imported (any invalid transaction makes the block invalid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Build,
    Import,
}

/// revm's transaction environment for a signed transaction.
pub fn tx_env(tx: &SignedTx) -> TxEnv {
    let envelope = &tx.envelope;
    TxEnv {
        tx_type: envelope.tx_type() as u8,
        caller: tx.sender,
        gas_limit: envelope.gas_limit(),
        gas_price: envelope.max_fee_per_gas(),
        kind: envelope.kind(),
        value: envelope.value(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: envelope.max_priority_fee_per_gas(),
        ..Default::default()
    }
}

/// The database a block's transactions execute on.
pub type BlockDb<'a> = CacheDB<StateAt<'a>>;

/// revm's context for a block's transactions: what a [`BlockInspector`] sees.
pub type BlockEvmContext<'a> = revm::Context<BlockEnv, TxEnv, revm::context::CfgEnv, BlockDb<'a>>;

/// An inspector attached to the execution of a block's transactions (see
/// [`ExecutionHook`]). It must be deterministic: every node executes every
/// block with its own instance and must reach the same state root.
pub trait BlockInspector: for<'a> Inspector<BlockEvmContext<'a>> + Send {
    /// Called after each transaction that executed (reverted or not), with
    /// its full result and state changes, before they are applied.
    fn transaction_executed(
        &mut self,
        tx: &SignedTx,
        result: &ExecResultAndState<ExecutionResult, EvmState>,
    );
}

/// Gives each node an inspector for each block it executes, building and
/// validating alike (the same code path on every node, so consensus still
/// agrees). A network started without a hook executes plainly.
pub trait ExecutionHook: Send + Sync {
    /// The inspector for `block`, executed by node `node`.
    fn block_inspector(&self, node: usize, block: &BlockContext) -> Box<dyn BlockInspector>;
}

/// Stands in for a missing hook; never called (plain execution does not inspect).
struct NoHook;

impl<CTX> Inspector<CTX> for NoHook {}

impl BlockInspector for NoHook {
    fn transaction_executed(
        &mut self,
        _: &SignedTx,
        _: &ExecResultAndState<ExecutionResult, EvmState>,
    ) {
    }
}

fn context<'a>(
    spec: &ChainSpec,
    db: BlockDb<'a>,
    block: &BlockContext,
) -> revm::Context<BlockEnv, TxEnv, revm::context::CfgEnv, BlockDb<'a>> {
    let mut ctx = Context::mainnet().with_db(db);
    ctx.modify_cfg(|cfg| {
        cfg.chain_id = spec.chain_id;
        cfg.set_spec_and_mainnet_gas_params(spec.spec_id());
    });
    ctx.block = block.env();
    ctx
}

/// Executes `transactions` in order on `parent`, under `hook`'s inspector
/// when there is one, within the thread's [`Limits`](crate::interrupt::Limits):
/// building stops at the transaction that passes them (see
/// [`ExecutedBlock::interrupted`]), import fails with
/// [`BlockError::Interrupted`].
pub fn execute_block(
    spec: &ChainSpec,
    parent: StateAt<'_>,
    block: &BlockContext,
    transactions: impl IntoIterator<Item = TxRef>,
    mode: Mode,
    hook: Option<&mut (dyn BlockInspector + 'static)>,
) -> Result<ExecutedBlock, BlockError> {
    let _timed = crate::phases::Timed::start(crate::phases::Phase::Execution);
    let spurious_dragon = spec.spec_id().is_enabled_in(SpecId::SPURIOUS_DRAGON);
    // Without a hook, `transact` never calls the inspector: plain speed.
    let hooked = hook.is_some();
    let mut no_hook = NoHook;
    let inspector: &mut dyn BlockInspector = hook.unwrap_or(&mut no_hook);
    let mut evm =
        context(spec, CacheDB::new(parent), block).build_mainnet_with_inspector(inspector);
    guard(&mut evm.instruction);
    let mut out = ExecutedBlock::default();
    let mut blooms = BloomHashes::default();
    for (index, tx) in transactions.into_iter().enumerate() {
        if mode == Mode::Build
            && (out.gas_used + tx.gas_limit() > block.gas_limit
                || out.transactions.len() >= spec.max_block_transactions)
        {
            out.skipped.push((tx, "block is full".into()));
            continue;
        }
        let started = (mode == Mode::Build).then(Instant::now);
        let executed = if hooked {
            evm.inspect_tx(tx_env(&tx))
        } else {
            evm.transact(tx_env(&tx))
        };
        let result = match executed {
            Ok(result) => result,
            Err(error) => {
                let reason = describe_evm_error(&error);
                if let Some(why) = Interrupted::from_message(&reason) {
                    match started {
                        Some(started) => {
                            out.interrupted = Some(InterruptedTx {
                                tx,
                                why,
                                ran_for: started.elapsed(),
                            });
                            break;
                        }
                        None => {
                            return Err(BlockError::Interrupted {
                                number: block.number,
                                why: reason,
                            });
                        }
                    }
                }
                match mode {
                    Mode::Build => {
                        out.skipped.push((tx, reason));
                        continue;
                    }
                    Mode::Import => {
                        return Err(BlockError::InvalidTransaction {
                            number: block.number,
                            index,
                            hash: tx.hash,
                            reason,
                        });
                    }
                }
            }
        };
        let gas_used = result.result.tx_gas_used();
        out.gas_used += gas_used;
        if out.gas_used > block.gas_limit {
            return Err(BlockError::GasLimitExceeded {
                number: block.number,
                gas_used: out.gas_used,
                gas_limit: block.gas_limit,
            });
        }
        out.changes
            .merge(state_changes(&result.state, spurious_dragon));
        if hooked {
            evm.inspector.transaction_executed(&tx, &result);
        }
        evm.ctx.journaled_state.database.commit(result.state);
        let (success, logs, contract_address) = match result.result {
            ExecutionResult::Success { logs, output, .. } => {
                let created = match output {
                    Output::Create(_, address) => address,
                    Output::Call(_) => None,
                };
                (true, logs, created)
            }
            ExecutionResult::Revert { .. } | ExecutionResult::Halt { .. } => {
                (false, Vec::new(), None)
            }
        };
        out.receipts.push(receipt_envelope(
            &tx,
            success,
            out.gas_used,
            logs,
            &mut blooms,
        ));
        out.transactions.push(ExecutedTx {
            contract_address: contract_address
                .or_else(|| tx.kind().is_create().then(|| tx.sender.create(tx.nonce())))
                .filter(|_| tx.kind().is_create()),
            tx,
            success,
            gas_used,
            cumulative_gas_used: out.gas_used,
        });
    }
    Ok(out)
}

fn describe_evm_error<D: std::fmt::Debug>(error: &EVMError<D>) -> String {
    match error {
        EVMError::Transaction(invalid) => invalid.to_string(),
        EVMError::Header(invalid) => invalid.to_string(),
        other => format!("{other:?}"),
    }
}

/// The block-level view of one transaction's state changes.
fn state_changes(state: &EvmState, spurious_dragon: bool) -> StateChanges {
    let mut changes = StateChanges::default();
    for (address, account) in state {
        if !account.is_touched() {
            continue;
        }
        if account.is_selfdestructed() || (spurious_dragon && account.is_empty()) {
            changes.accounts.insert(
                *address,
                AccountChange {
                    fields: None,
                    storage_cleared: true,
                    storage: Default::default(),
                },
            );
            continue;
        }
        if account.is_created()
            && let Some(code) = &account.info.code
            && !code.is_empty()
        {
            changes
                .codes
                .insert(account.info.code_hash, code.original_bytes());
        }
        changes.accounts.insert(
            *address,
            AccountChange {
                fields: Some(AccountFields {
                    nonce: account.info.nonce,
                    balance: account.info.balance,
                    code_hash: account.info.code_hash,
                }),
                storage_cleared: account.is_created(),
                storage: account
                    .storage
                    .iter()
                    .filter(|(_, slot)| slot.is_changed() || account.is_created())
                    .map(|(key, slot)| (*key, slot.present_value()))
                    .collect(),
            },
        );
    }
    changes
}

/// Builds the header of an executed block. `state_root` is the root after
/// applying `executed.changes` to the parent state.
pub fn seal_header(
    spec: &ChainSpec,
    block: &BlockContext,
    executed: &ExecutedBlock,
    state_root: B256,
    extra_data: Bytes,
) -> Header {
    let receipts = executed.receipts();
    let transactions_root = ordered_trie_root_with_encoder(&executed.transactions, |t, buf| {
        t.tx.envelope.encode_2718(buf)
    });
    let receipts_root = ordered_trie_root_with_encoder(receipts, |r, buf| r.encode_2718(buf));
    Header {
        parent_hash: block.parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: block.beneficiary,
        state_root,
        transactions_root,
        receipts_root,
        logs_bloom: executed.logs_bloom(receipts),
        difficulty: U256::from(1),
        number: block.number,
        gas_limit: block.gas_limit,
        gas_used: executed.gas_used,
        timestamp: block.timestamp,
        extra_data,
        mix_hash: BFT_MIX_HASH,
        nonce: B64::ZERO,
        base_fee_per_gas: spec.is_active(Hardfork::London).then_some(0),
        withdrawals_root: spec
            .is_active(Hardfork::Shanghai)
            .then_some(EMPTY_ROOT_HASH),
        blob_gas_used: spec.is_active(Hardfork::Cancun).then_some(0),
        excess_blob_gas: spec.is_active(Hardfork::Cancun).then_some(0),
        parent_beacon_block_root: spec.is_active(Hardfork::Cancun).then_some(B256::ZERO),
        requests_hash: spec
            .is_active(Hardfork::Prague)
            .then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

/// What a call (or a transaction executed without committing) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionOutcome {
    pub success: bool,
    /// Return data, or revert data when the call reverted.
    pub output: Bytes,
    pub gas_used: u64,
    pub logs: Vec<Log>,
    /// Decoded `Error(string)` / `Panic(uint256)` reason, or the halt reason.
    pub revert_reason: Option<String>,
    pub contract_address: Option<Address>,
}

/// A call request (the fields of `eth_call`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRequest {
    pub from: Option<Address>,
    pub to: Option<Address>,
    pub gas: Option<u64>,
    pub gas_price: Option<u128>,
    pub value: Option<U256>,
    pub input: Bytes,
    pub nonce: Option<u64>,
    pub access_list: Option<alloy::eips::eip2930::AccessList>,
}

/// What a call (`eth_call`, `eth_estimateGas`, `debug_traceCall`) may use,
/// as Geth's `--rpc.gascap` and `--rpc.evmtimeout` bound it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLimits {
    /// Most gas a call gets; a request asking more is given this much, one
    /// not saying is given this (or the block gas limit when lower). 0: no cap.
    pub gas_cap: u64,
    /// Wall time a call (a whole estimate) may run; `None`: no limit.
    pub timeout: Option<Duration>,
}

impl Default for CallLimits {
    /// Geth's defaults: 50M gas, 5 s.
    fn default() -> Self {
        Self {
            gas_cap: 50_000_000,
            timeout: Some(Duration::from_secs(5)),
        }
    }
}

impl CallLimits {
    /// The gas limit a call asking `requested` gets in a block with
    /// `block_gas_limit`.
    pub fn gas(&self, requested: Option<u64>, block_gas_limit: u64) -> u64 {
        let cap = if self.gas_cap == 0 {
            u64::MAX
        } else {
            self.gas_cap
        };
        requested.unwrap_or(block_gas_limit).min(cap)
    }
}

/// Runs a call on `state` without committing anything. The nonce check
/// is off and gas is free unless the request prices it, like `eth_call`.
/// `request.gas` is used as given: callers apply [`CallLimits::gas`].
pub fn call(
    spec: &ChainSpec,
    state: StateAt<'_>,
    block: &BlockContext,
    request: &CallRequest,
) -> Result<ExecutionOutcome, CallError> {
    let caller = request.from.unwrap_or_default();
    let nonce = request.nonce.unwrap_or_else(|| state.nonce(caller));
    let mut ctx = context(spec, CacheDB::new(state), block);
    ctx.modify_cfg(|cfg| {
        cfg.disable_nonce_check = true;
    });
    let tx = TxEnv {
        tx_type: if request.access_list.is_some() { 1 } else { 0 },
        caller,
        gas_limit: request.gas.unwrap_or(block.gas_limit),
        gas_price: request.gas_price.unwrap_or(0),
        kind: request.to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: request.input.clone(),
        nonce,
        chain_id: Some(spec.chain_id),
        access_list: request.access_list.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut evm = ctx.build_mainnet();
    guard(&mut evm.instruction);
    let result = evm.transact(tx).map_err(|error| {
        let message = describe_evm_error(&error);
        match Interrupted::from_message(&message) {
            Some(why) => CallError::Interrupted(why),
            None => CallError::Rejected(message),
        }
    })?;
    Ok(outcome(result.result))
}

fn outcome(result: ExecutionResult) -> ExecutionOutcome {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { logs, output, .. } => {
            let contract_address = match &output {
                Output::Create(_, address) => *address,
                Output::Call(_) => None,
            };
            ExecutionOutcome {
                success: true,
                output: output.into_data(),
                gas_used,
                logs,
                revert_reason: None,
                contract_address,
            }
        }
        ExecutionResult::Revert { output, .. } => ExecutionOutcome {
            success: false,
            revert_reason: Some(decode_revert_reason(&output)),
            output,
            gas_used,
            logs: Vec::new(),
            contract_address: None,
        },
        ExecutionResult::Halt { reason, .. } => ExecutionOutcome {
            success: false,
            output: Bytes::new(),
            gas_used,
            logs: Vec::new(),
            revert_reason: Some(format!("{reason:?}")),
            contract_address: None,
        },
    }
}

/// `Error(string)` and `Panic(uint256)` decoded, anything else as hex.
pub fn decode_revert_reason(data: &[u8]) -> String {
    alloy::sol_types::decode_revert_reason(data)
        .unwrap_or_else(|| format!("execution reverted: 0x{}", alloy::hex::encode(data)))
}

/// Smallest gas limit with which the call succeeds (binary search), as
/// `eth_estimateGas` does.
pub fn estimate_gas(
    spec: &ChainSpec,
    state: StateAt<'_>,
    block: &BlockContext,
    request: &CallRequest,
) -> Result<u64, CallError> {
    let cap = request.gas.unwrap_or(block.gas_limit);
    let run = |gas: u64| {
        let mut request = request.clone();
        request.gas = Some(gas);
        call(spec, state.clone(), block, &request)
    };
    let first = run(cap)?;
    if !first.success {
        return Err(CallError::Reverted(
            first
                .revert_reason
                .unwrap_or_else(|| "execution reverted".into()),
        ));
    }
    let mut low = first.gas_used.saturating_sub(1);
    let mut high = cap;
    while low + 1 < high {
        let mid = low + (high - low) / 2;
        match run(mid) {
            Ok(outcome) if outcome.success => high = mid,
            // Every later run would stop at once and look like a failure.
            Err(error @ CallError::Interrupted(_)) => return Err(error),
            _ => low = mid,
        }
    }
    Ok(high)
}

/// The envelope type's name, for messages.
pub fn tx_type_name(tx: &TxEnvelope) -> &'static str {
    match tx.tx_type() {
        TxType::Legacy => "legacy",
        TxType::Eip2930 => "EIP-2930",
        TxType::Eip1559 => "EIP-1559",
        TxType::Eip4844 => "EIP-4844",
        TxType::Eip7702 => "EIP-7702",
    }
}
