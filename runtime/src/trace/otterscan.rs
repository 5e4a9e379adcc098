//! What Otterscan's `ots_*` methods need from re-executing a transaction:
//! its frames (`ots_traceTransaction`), the value transfers, creations and
//! self-destructs inside it (`ots_getInternalOperations`), its revert data
//! (`ots_getTransactionError`), the contracts it created and every address
//! it touched (the address index behind `ots_searchTransactions*`).
//!
//! The semantics are Erigon's (Otterscan's reference node): a frame's `to`
//! is the code it ran (a DELEGATECALL's library, a CREATE's new address),
//! DELEGATECALL and STATICCALL carry no value, and internal operations are
//! those below the transaction's own frame.

use std::collections::BTreeSet;

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    rpc::types::trace::otterscan::{InternalOperation, OperationType, TraceEntry},
};
use revm::{
    InspectCommitEvm, Inspector, MainBuilder,
    context::ContextTr,
    context_interface::JournalTr,
    database::CacheDB,
    interpreter::{CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome, CreateScheme},
};

use super::{
    Semantics, block_replay_start, evm_context, evm_error, inspect, replay_before, tx_env,
};
use crate::{
    chain::Chain,
    error::{Error, Result},
    execution::CallLimits,
    interrupt::guard,
    network::ChainReader,
    spec::ChainSpec,
};

/// One transaction as Otterscan sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtsTrace {
    /// Every frame (calls, creations, self-destructs) in the order they
    /// started; the transaction's own frame is the first, at depth 0.
    pub entries: Vec<TraceEntry>,
    /// Value transfers (CALL with value), creations and self-destructs
    /// below the transaction's own frame, in the order they happened.
    pub operations: Vec<InternalOperation>,
    /// Contracts this transaction created that exist after it (their frame
    /// and every frame above it succeeded).
    pub created: Vec<ContractCreation>,
    /// Whether the transaction succeeded.
    pub success: bool,
    /// What the transaction's own frame returned: its revert data when it
    /// reverted.
    pub output: Bytes,
}

/// A contract and the address that ran the CREATE/CREATE2 (the sender for
/// a deployment transaction, the factory for a contract made by one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContractCreation {
    pub contract: Address,
    pub creator: Address,
}

impl OtsTrace {
    /// Every address that appears in a frame, as sender or target (the
    /// transaction's sender and recipient included).
    pub fn participants(&self) -> BTreeSet<Address> {
        self.entries.iter().flat_map(|e| [e.from, e.to]).collect()
    }

    /// The revert data of a failed transaction; empty when it succeeded or
    /// failed without any (out of gas, invalid opcode), as Erigon answers.
    pub fn error_data(&self) -> Bytes {
        if self.success {
            Bytes::new()
        } else {
            self.output.clone()
        }
    }
}

/// A frame still running or finished, kept to decide which creations
/// survived.
struct Frame {
    entry: usize,
    parent: Option<usize>,
    success: bool,
    created: Option<ContractCreation>,
}

/// Records [`OtsTrace`] of one transaction.
#[derive(Default)]
struct OtsInspector {
    entries: Vec<TraceEntry>,
    operations: Vec<InternalOperation>,
    frames: Vec<Frame>,
    /// Indexes into `frames` of the frames running now, innermost last.
    open: Vec<usize>,
}

impl OtsInspector {
    fn enter(&mut self, entry: TraceEntry, created: Option<ContractCreation>) {
        self.frames.push(Frame {
            entry: self.entries.len(),
            parent: self.open.last().copied(),
            success: false,
            created,
        });
        self.open.push(self.frames.len() - 1);
        self.entries.push(entry);
    }

    fn exit(&mut self, success: bool, output: &Bytes) {
        // revm ends every frame it starts; a missing one is a bug upstream,
        // and the trace then simply lacks that frame's output.
        if let Some(frame) = self.open.pop() {
            let frame = &mut self.frames[frame];
            frame.success = success;
            self.entries[frame.entry].output = output.clone();
        }
    }

    fn depth(&self) -> u32 {
        self.open.len() as u32
    }

    fn finish(self) -> OtsTrace {
        let survived = |mut index: usize| loop {
            let frame = &self.frames[index];
            if !frame.success {
                return false;
            }
            match frame.parent {
                Some(parent) => index = parent,
                None => return true,
            }
        };
        let created = (0..self.frames.len())
            .filter(|&index| survived(index))
            .filter_map(|index| self.frames[index].created)
            .collect();
        let (success, output) = match self.frames.first() {
            Some(top) => (top.success, self.entries[top.entry].output.clone()),
            None => (false, Bytes::new()),
        };
        OtsTrace {
            entries: self.entries,
            operations: self.operations,
            created,
            success,
            output,
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX> for OtsInspector {
    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let depth = self.depth();
        let (kind, to, value) = match inputs.scheme {
            CallScheme::Call => ("CALL", inputs.target_address, Some(inputs.call_value())),
            CallScheme::CallCode => (
                "CALLCODE",
                inputs.bytecode_address,
                Some(inputs.call_value()),
            ),
            CallScheme::DelegateCall => ("DELEGATECALL", inputs.bytecode_address, None),
            CallScheme::StaticCall => ("STATICCALL", inputs.target_address, None),
        };
        if depth > 0
            && inputs.scheme == CallScheme::Call
            && let Some(value) = value.filter(|v| !v.is_zero())
        {
            self.operations.push(InternalOperation {
                r#type: OperationType::OpTransfer,
                from: inputs.caller,
                to,
                value,
            });
        }
        self.enter(
            TraceEntry {
                r#type: kind.to_owned(),
                depth,
                from: inputs.caller,
                to,
                value,
                input: inputs.input.bytes(context),
                output: Bytes::new(),
            },
            None,
        );
        None
    }

    fn call_end(&mut self, _: &mut CTX, _: &CallInputs, outcome: &mut CallOutcome) {
        self.exit(outcome.result.result.is_ok(), &outcome.result.output);
    }

    fn create(&mut self, context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        let depth = self.depth();
        let caller = inputs.caller();
        // The address is the caller's nonce before the CREATE increments it.
        let nonce = context
            .journal_mut()
            .load_account(caller)
            .map(|account| account.data.info.nonce)
            .unwrap_or_default();
        let contract = inputs.created_address(nonce);
        let (kind, operation) = match inputs.scheme() {
            CreateScheme::Create2 { .. } => ("CREATE2", OperationType::OpCreate2),
            _ => ("CREATE", OperationType::OpCreate),
        };
        if depth > 0 {
            self.operations.push(InternalOperation {
                r#type: operation,
                from: caller,
                to: contract,
                value: inputs.value(),
            });
        }
        self.enter(
            TraceEntry {
                r#type: kind.to_owned(),
                depth,
                from: caller,
                to: contract,
                value: Some(inputs.value()),
                input: inputs.init_code().clone(),
                output: Bytes::new(),
            },
            Some(ContractCreation {
                contract,
                creator: caller,
            }),
        );
        None
    }

    fn create_end(&mut self, _: &mut CTX, _: &CreateInputs, outcome: &mut CreateOutcome) {
        self.exit(outcome.result.result.is_ok(), &outcome.result.output);
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        self.operations.push(InternalOperation {
            r#type: OperationType::OpSelfDestruct,
            from: contract,
            to: target,
            value,
        });
        self.entries.push(TraceEntry {
            r#type: "SELFDESTRUCT".to_owned(),
            depth: self.depth(),
            from: contract,
            to: target,
            value: Some(value),
            input: Bytes::new(),
            output: Bytes::new(),
        });
    }
}

/// Re-executes committed transaction `hash` of `chain` and records it.
pub fn trace_transaction(spec: &ChainSpec, chain: &Chain, hash: B256) -> Result<OtsTrace> {
    let (db, context, tx) = replay_before(spec, chain, hash)?;
    let (_, inspector, _) = inspect(
        spec,
        db,
        &context,
        Semantics::Transaction,
        tx,
        OtsInspector::default(),
    )?;
    Ok(inspector.finish())
}

/// Re-executes every transaction of block `number` of `chain`, in order,
/// and records each.
pub fn trace_block(spec: &ChainSpec, chain: &Chain, number: u64) -> Result<Vec<OtsTrace>> {
    if number == 0 {
        return Ok(Vec::new());
    }
    let (parent, block, context) = block_replay_start(chain, number)?;
    let mut evm = evm_context(spec, CacheDB::new(parent), &context, Semantics::Transaction)
        .build_mainnet_with_inspector(OtsInspector::default());
    guard(&mut evm.instruction);
    let mut traces = Vec::with_capacity(block.transactions.len());
    for tx in &block.transactions {
        evm.inspect_tx_commit(tx_env(tx)).map_err(|e| {
            Error::InvalidRequest(format!(
                "replaying transaction {} of block {number}: {}",
                tx.hash,
                evm_error(e)
            ))
        })?;
        traces.push(std::mem::take(&mut evm.inspector).finish());
    }
    Ok(traces)
}

impl ChainReader {
    /// Otterscan's view of committed transaction `hash`, stopped after
    /// `limits.timeout`.
    pub fn ots_trace_transaction(&self, hash: B256, limits: &CallLimits) -> Result<OtsTrace> {
        let shared = self.shared();
        let chain = shared.chain.read().expect("chain lock");
        self.within(limits.timeout, || {
            trace_transaction(&shared.spec, &chain, hash)
        })
    }

    /// Otterscan's view of every transaction of block `number` (what the
    /// address index is built from), stopped after `limits.timeout`.
    pub fn ots_trace_block(&self, number: u64, limits: &CallLimits) -> Result<Vec<OtsTrace>> {
        let shared = self.shared();
        let chain = shared.chain.read().expect("chain lock");
        self.within(limits.timeout, || trace_block(&shared.spec, &chain, number))
    }
}
