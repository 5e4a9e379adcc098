//! State-diff and mapping recording, as forge 1.7.1 does them:
//! `vm.startStateDiffRecording`/`stopAndReturnStateDiff` (every call,
//! creation, self-destruct, `BALANCE`/`EXTCODE*` and storage access, in
//! execution order, as `AccountAccess` records), `getStateDiff`/
//! `getStateDiffJson` (what changed, per account), `getStorageAccesses`,
//! and `vm.startMappingRecording` with its queries (which storage slots are
//! mapping entries, their keys and parents).
//!
//! Records are kept on a stack, one vector per open frame that was recorded:
//! a frame's vector collects its own accesses and, when they end, those of
//! its sub-frames, so the flattened stack is in execution order; a frame
//! that reverts marks everything in its vector as reverted.

use std::collections::{BTreeMap, HashMap};

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::SolValue,
};
use revm::{
    context::JournalTr,
    interpreter::{
        CallInputs, CallScheme, CreateInputs, Interpreter,
        interpreter_types::{InputsTr, Jumps, MemoryTr},
    },
};

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::CheatResult,
    inspector::TestInspector,
};

alloy::sol! {
    /// Foundry's state-diff and mapping-recording cheatcodes.
    #[derive(Debug, PartialEq)]
    interface VmDiff {
        enum AccountAccessKind { Call, DelegateCall, CallCode, StaticCall, Create, SelfDestruct, Resume, Balance, Extcodesize, Extcodehash, Extcodecopy }
        struct ChainInfo { uint256 forkId; uint256 chainId; }
        struct AccountAccess { ChainInfo chainInfo; AccountAccessKind kind; address account; address accessor; bool initialized; uint256 oldBalance; uint256 newBalance; bytes deployedCode; uint256 value; bytes data; bool reverted; StorageAccess[] storageAccesses; uint64 depth; uint64 oldNonce; uint64 newNonce; }
        struct StorageAccess { address account; bytes32 slot; bool isWrite; bytes32 previousValue; bytes32 newValue; bool reverted; }

        function startStateDiffRecording() external;
        function stopAndReturnStateDiff() external returns (AccountAccess[] memory accountAccesses);
        function getStateDiff() external view returns (string memory diff);
        function getStateDiffJson() external view returns (string memory diff);
        function getStorageAccesses() external view returns (StorageAccess[] memory storageAccesses);

        function startMappingRecording() external;
        function stopMappingRecording() external;
        function getMappingLength(address target, bytes32 mappingSlot) external view returns (uint256 length);
        function getMappingSlotAt(address target, bytes32 mappingSlot, uint256 idx) external view returns (bytes32 value);
        function getMappingKeyAndParentOf(address target, bytes32 elementSlot) external view returns (bool found, bytes32 key, bytes32 parent);
    }
}

pub(crate) use VmDiff::VmDiffCalls;
use VmDiff::{AccountAccess, AccountAccessKind as Kind, ChainInfo, StorageAccess};

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmDiffCalls::signature_by_selector(selector)
}

const BALANCE: u8 = 0x31;
const EXTCODESIZE: u8 = 0x3b;
const EXTCODECOPY: u8 = 0x3c;
const EXTCODEHASH: u8 = 0x3f;
const KECCAK256: u8 = 0x20;
const SLOAD: u8 = 0x54;
const SSTORE: u8 = 0x55;
const SELFDESTRUCT: u8 = 0xff;

/// What `vm.startStateDiffRecording` has recorded so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct StateDiffRecording {
    /// One vector per recorded frame still open (plus, at the bottom,
    /// those of frames that ended below the depth recording started at).
    stack: Vec<Vec<AccountAccess>>,
    /// Journal depths of the open frames that pushed a vector, innermost
    /// last: a frame pops the stack when it ends only if it pushed.
    open: Vec<usize>,
}

impl StateDiffRecording {
    /// Every record, in execution order.
    fn records(&self) -> impl Iterator<Item = &AccountAccess> {
        self.stack.iter().flatten()
    }
}

/// Mapping slots seen at one address since `vm.startMappingRecording`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MappingSlots {
    /// Entry slot → the mapping's slot.
    parents: HashMap<B256, B256>,
    /// Entry slot → its key.
    keys: HashMap<B256, B256>,
    /// Mapping slot → its entries' slots, in the order first written.
    children: HashMap<B256, Vec<B256>>,
    /// `keccak256(low ‖ high)` of every 64-byte hash → (low, high): a
    /// mapping entry's slot is the hash of its key and the mapping's slot.
    seen_hashes: HashMap<B256, (B256, B256)>,
}

impl MappingSlots {
    /// Notes that `slot` was written: when it is a hash seen before, it is
    /// the entry of a mapping (and its parent, in turn, may be one too).
    fn written(&mut self, slot: B256) {
        let mut slot = slot;
        while let Some(&(key, parent)) = self.seen_hashes.get(&slot) {
            if self.keys.insert(slot, key).is_some() {
                return;
            }
            self.parents.insert(slot, parent);
            self.children.entry(parent).or_default().push(slot);
            slot = parent;
        }
    }
}

/// Mapping slots by contract.
pub(crate) type MappingRecording = HashMap<Address, MappingSlots>;

/// Whether an account exists, its balance and nonce, read without loading
/// it into the journal (which would warm it and change the gas the code
/// being recorded pays).
fn peek_account<DB: CheatDatabase>(
    ctx: &mut CheatContext<DB>,
    address: Address,
) -> (bool, U256, u64) {
    let info = match ctx.journaled_state.state.get(&address) {
        Some(account) => Some(account.info.clone()),
        None => ctx.journaled_state.database.basic(address).ok().flatten(),
    };
    info.map(|info| (info.exists(), info.balance, info.nonce))
        .unwrap_or((false, U256::ZERO, 0))
}

/// The present value of a storage slot, read without warming it.
fn peek_slot<DB: CheatDatabase>(ctx: &mut CheatContext<DB>, address: Address, slot: U256) -> U256 {
    if let Some(account) = ctx.journaled_state.state.get(&address) {
        if let Some(value) = account.storage.get(&slot) {
            return value.present_value;
        }
        if account.is_created() {
            return U256::ZERO;
        }
    }
    ctx.journaled_state
        .database
        .storage(address, slot)
        .unwrap_or_default()
}

fn chain_info<DB: CheatDatabase>(ctx: &CheatContext<DB>) -> ChainInfo {
    ChainInfo {
        forkId: U256::ZERO,
        chainId: U256::from(ctx.cfg.chain_id),
    }
}

/// A record with the fields every kind has; the rest are zero.
fn access(kind: Kind, accessor: Address, account: Address, depth: usize) -> AccountAccess {
    AccountAccess {
        chainInfo: ChainInfo {
            forkId: U256::ZERO,
            chainId: U256::ZERO,
        },
        kind,
        account,
        accessor,
        initialized: false,
        oldBalance: U256::ZERO,
        newBalance: U256::ZERO,
        deployedCode: Bytes::new(),
        value: U256::ZERO,
        data: Bytes::new(),
        reverted: false,
        storageAccesses: vec![],
        depth: depth as u64,
        oldNonce: 0,
        newNonce: 0,
    }
}

/// Files a storage access under the frame running at `depth` (forge's
/// rule): with its call's record while no sub-frame has been recorded
/// since, else with a `Resume` record of that call.
fn append_storage_access(frame: &mut Vec<AccountAccess>, storage: StorageAccess, depth: u64) {
    let Some(entry) = frame.first() else {
        return;
    };
    if entry.depth >= depth {
        return;
    }
    let mut resume = access(
        Kind::Resume,
        entry.accessor,
        entry.account,
        entry.depth as usize,
    );
    resume.chainInfo = entry.chainInfo.clone();
    resume.initialized = entry.initialized;
    resume.reverted = entry.reverted;
    let len = frame.len();
    match frame.last_mut() {
        Some(only) if len == 1 => only.storageAccesses.push(storage),
        Some(last) if last.kind == Kind::Resume => last.storageAccesses.push(storage),
        _ => {
            resume.storageAccesses.push(storage);
            frame.push(resume);
        }
    }
}

/// Before each instruction while recording: storage reads and writes,
/// self-destructs, and the `BALANCE`/`EXTCODE*` family.
#[inline(never)]
pub(crate) fn record_step<DB: CheatDatabase>(
    recording: &mut StateDiffRecording,
    interp: &Interpreter,
    ctx: &mut CheatContext<DB>,
) {
    let opcode = interp.bytecode.opcode();
    let depth = ctx.journaled_state.depth;
    let here = interp.input.target_address();
    match opcode {
        SLOAD | SSTORE => {
            let Ok(slot) = interp.stack.peek(0) else {
                return;
            };
            let present = peek_slot(ctx, here, slot);
            let new = if opcode == SSTORE {
                let Ok(value) = interp.stack.peek(1) else {
                    return;
                };
                value
            } else {
                present
            };
            let Some(frame) = recording.stack.last_mut() else {
                return;
            };
            let storage = StorageAccess {
                account: here,
                slot: slot.into(),
                isWrite: opcode == SSTORE,
                previousValue: present.into(),
                newValue: new.into(),
                reverted: false,
            };
            append_storage_access(frame, storage, depth as u64);
        }
        SELFDESTRUCT => {
            if recording.stack.is_empty() {
                return;
            }
            let Ok(target) = interp.stack.peek(0) else {
                return;
            };
            let target = Address::from_word(B256::from(target));
            let (initialized, old_balance, nonce) = peek_account(ctx, target);
            let value = peek_account(ctx, here).1;
            let mut record = access(Kind::SelfDestruct, here, target, depth);
            record.chainInfo = chain_info(ctx);
            record.initialized = initialized;
            record.oldBalance = old_balance;
            record.newBalance = old_balance.saturating_add(value);
            record.oldNonce = nonce;
            record.newNonce = nonce;
            record.value = value;
            if let Some(frame) = recording.stack.last_mut() {
                frame.push(record);
            }
        }
        BALANCE | EXTCODESIZE | EXTCODECOPY | EXTCODEHASH => {
            let kind = match opcode {
                BALANCE => Kind::Balance,
                EXTCODESIZE => Kind::Extcodesize,
                EXTCODECOPY => Kind::Extcodecopy,
                _ => Kind::Extcodehash,
            };
            let Ok(target) = interp.stack.peek(0) else {
                return;
            };
            let target = Address::from_word(B256::from(target));
            let (initialized, balance, nonce) = peek_account(ctx, target);
            let mut record = access(kind, here, target, depth);
            record.chainInfo = chain_info(ctx);
            record.initialized = initialized;
            record.oldBalance = balance;
            record.newBalance = balance;
            record.oldNonce = nonce;
            record.newNonce = nonce;
            match recording.stack.last_mut() {
                Some(frame) => frame.push(record),
                None => recording.stack.push(vec![record]),
            }
        }
        _ => {}
    }
}

/// A call about to run (after pranks and mocks) from a frame at `depth`.
pub(crate) fn record_call<DB: CheatDatabase>(
    recording: &mut StateDiffRecording,
    ctx: &mut CheatContext<DB>,
    inputs: &CallInputs,
    input: &Bytes,
    depth: usize,
) {
    let kind = match inputs.scheme {
        CallScheme::Call => Kind::Call,
        CallScheme::CallCode => Kind::CallCode,
        CallScheme::DelegateCall => Kind::DelegateCall,
        CallScheme::StaticCall => Kind::StaticCall,
    };
    // forge names the code's account (a delegate call's implementation).
    let (initialized, balance, nonce) = peek_account(ctx, inputs.bytecode_address);
    let mut record = access(kind, inputs.caller, inputs.bytecode_address, depth);
    record.chainInfo = chain_info(ctx);
    record.initialized = initialized;
    record.oldBalance = balance;
    record.oldNonce = nonce;
    record.value = inputs.value.get();
    record.data = input.clone();
    recording.stack.push(vec![record]);
    recording.open.push(depth);
}

/// A contract creation about to run from a frame at `depth`.
pub(crate) fn record_create<DB: CheatDatabase>(
    recording: &mut StateDiffRecording,
    ctx: &mut CheatContext<DB>,
    inputs: &CreateInputs,
    depth: usize,
) {
    let creator = inputs.caller();
    let nonce = peek_account(ctx, creator).2;
    let mut record = access(Kind::Create, creator, inputs.created_address(nonce), depth);
    record.chainInfo = chain_info(ctx);
    record.initialized = true;
    record.newNonce = 1;
    record.value = inputs.value();
    record.data = inputs.init_code().clone();
    recording.stack.push(vec![record]);
    recording.open.push(depth);
}

/// How a recorded frame ended.
pub(crate) enum FrameEnd {
    /// A call to this address (whose balance and nonce are read).
    Call(Address),
    /// A creation, at this address when it got one.
    Create(Option<Address>),
}

/// A frame that started at `depth` ended: when it was recorded, its
/// records (and its sub-frames') are marked reverted if it reverted, its
/// own record gets the account's new state, and they join the caller's.
pub(crate) fn record_end<DB: CheatDatabase>(
    recording: &mut StateDiffRecording,
    ctx: &mut CheatContext<DB>,
    depth: usize,
    reverted: bool,
    end: FrameEnd,
) {
    if recording.open.last() != Some(&depth) {
        return;
    }
    recording.open.pop();
    // forge never closes the transaction's own call: what follows it in the
    // test stays filed under it.
    if depth == 0 {
        return;
    }
    let Some(mut frame) = recording.stack.pop() else {
        return;
    };
    if reverted {
        for record in &mut frame {
            record.reverted = true;
            for storage in &mut record.storageAccesses {
                storage.reverted = true;
            }
        }
    }
    if let Some(first) = frame.first_mut()
        && first.depth == depth as u64
    {
        match end {
            FrameEnd::Call(target) => {
                let (_, balance, nonce) = peek_account(ctx, target);
                first.newBalance = balance;
                first.newNonce = nonce;
            }
            FrameEnd::Create(Some(created)) => {
                let Ok(account) = ctx.journaled_state.load_account_with_code(created);
                let info = &account.data.info;
                first.newBalance = info.balance;
                first.newNonce = info.nonce;
                first.deployedCode = info
                    .code
                    .as_ref()
                    .map(|code| code.original_bytes())
                    .unwrap_or_default();
            }
            FrameEnd::Create(None) => {}
        }
    }
    match recording.stack.last_mut() {
        Some(caller) => caller.append(&mut frame),
        None => recording.stack.push(frame),
    }
}

/// Before each instruction while mapping recording is on: 64-byte
/// `KECCAK256`s (a key and a slot) and the slots `SSTORE` writes.
#[inline(never)]
pub(crate) fn mapping_step(mappings: &mut MappingRecording, interp: &Interpreter) {
    match interp.bytecode.opcode() {
        KECCAK256 if interp.stack.peek(1) == Ok(U256::from(0x40)) => {
            let Ok(offset) = interp.stack.peek(0) else {
                return;
            };
            // The instruction itself expands memory; read only what is there.
            let Ok(offset) = usize::try_from(offset) else {
                return;
            };
            if offset.saturating_add(0x40) > interp.memory.size() {
                return;
            }
            let data = interp.memory.slice_len(offset, 0x40).to_vec();
            let low = B256::from_slice(&data[..0x20]);
            let high = B256::from_slice(&data[0x20..]);
            mappings
                .entry(interp.input.target_address())
                .or_default()
                .seen_hashes
                .insert(keccak256(&data), (low, high));
        }
        SSTORE => {
            if let Some(slots) = mappings.get_mut(&interp.input.target_address())
                && let Ok(slot) = interp.stack.peek(0)
            {
                slots.written(slot.into());
            }
        }
        _ => {}
    }
}

/// What changed in one account while recording (`vm.getStateDiff`).
#[derive(Default)]
struct AccountDiff {
    label: Option<String>,
    contract: Option<String>,
    balance: Option<(U256, U256)>,
    nonce: Option<(u64, u64)>,
    storage: BTreeMap<B256, (B256, B256)>,
}

impl AccountDiff {
    /// forge's text for one account (after its address line).
    fn render(&self, out: &mut String) {
        use std::fmt::Write;
        if let Some(label) = &self.label {
            let _ = writeln!(out, "label: {label}");
        }
        if let Some(contract) = &self.contract {
            let _ = writeln!(out, "contract: {contract}");
        }
        if let Some((old, new)) = self.balance.filter(|(old, new)| old != new) {
            let _ = writeln!(out, "- balance diff: {old} \u{2192} {new}");
        }
        if let Some((old, new)) = self.nonce.filter(|(old, new)| old != new) {
            let _ = writeln!(out, "- nonce diff: {old} \u{2192} {new}");
        }
        if !self.storage.is_empty() {
            out.push_str("- state diff:\n");
            for (slot, (old, new)) in &self.storage {
                let _ = writeln!(out, "@ {slot}: {old} \u{2192} {new}");
            }
        }
    }

    /// forge's JSON object for one account.
    fn json(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        let hex = |v: U256| Value::String(format!("{v:#x}"));
        let storage: serde_json::Map<String, Value> = self
            .storage
            .iter()
            .map(|(slot, (old, new))| {
                (
                    slot.to_string(),
                    json!({ "previousValue": old.to_string(), "newValue": new.to_string() }),
                )
            })
            .collect();
        json!({
            "label": self.label,
            "contract": self.contract,
            "balanceDiff": self.balance.map(|(old, new)| json!({ "previousValue": hex(old), "newValue": hex(new) })),
            "nonceDiff": self.nonce.map(|(old, new)| json!({ "previousValue": old, "newValue": new })),
            "stateDiff": storage,
        })
    }
}

impl TestInspector {
    /// Applies one of this module's cheatcodes.
    pub(crate) fn apply_diff<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        call: VmDiffCalls,
    ) -> CheatResult {
        use VmDiffCalls as C;
        match call {
            C::startStateDiffRecording(_) => {
                self.cheats.state_diffs = Some(StateDiffRecording::default());
                // forge records mappings too, to name the slots it reports.
                self.cheats
                    .mapping_slots
                    .get_or_insert_with(Default::default);
                Ok(Bytes::new())
            }
            C::stopAndReturnStateDiff(_) => {
                // forge keeps recording, from an empty record.
                let recording = self.cheats.state_diffs.replace(Default::default());
                let records: Vec<AccountAccess> = recording
                    .map(|r| r.stack.into_iter().flatten().collect())
                    .unwrap_or_default();
                Ok(Bytes::from(records.abi_encode()))
            }
            C::getStateDiff(_) => {
                let mut text = String::new();
                for (address, diff) in self.account_diffs(ctx) {
                    text.push_str(&format!("{address}\n"));
                    diff.render(&mut text);
                    text.push('\n');
                }
                Ok(Bytes::from(text.abi_encode()))
            }
            C::getStateDiffJson(_) => {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .account_diffs(ctx)
                    .into_iter()
                    .map(|(address, diff)| (format!("{address:#x}"), diff.json()))
                    .collect();
                Ok(Bytes::from(
                    serde_json::Value::Object(object).to_string().abi_encode(),
                ))
            }
            C::getStorageAccesses(_) => {
                let accesses: Vec<StorageAccess> = self
                    .cheats
                    .state_diffs
                    .iter()
                    .flat_map(StateDiffRecording::records)
                    .flat_map(|r| r.storageAccesses.iter().cloned())
                    .collect();
                Ok(Bytes::from(accesses.abi_encode()))
            }
            C::startMappingRecording(_) => {
                self.cheats
                    .mapping_slots
                    .get_or_insert_with(Default::default);
                Ok(Bytes::new())
            }
            C::stopMappingRecording(_) => {
                self.cheats.mapping_slots = None;
                Ok(Bytes::new())
            }
            C::getMappingLength(c) => {
                let length = self
                    .mapping(c.target)
                    .and_then(|m| m.children.get(&c.mappingSlot))
                    .map_or(0, Vec::len);
                Ok(Bytes::from(U256::from(length).abi_encode()))
            }
            C::getMappingSlotAt(c) => {
                let slot = self
                    .mapping(c.target)
                    .and_then(|m| m.children.get(&c.mappingSlot))
                    .and_then(|children| children.get(c.idx.saturating_to::<usize>()))
                    .copied()
                    .unwrap_or_default();
                Ok(Bytes::from(slot.abi_encode()))
            }
            C::getMappingKeyAndParentOf(c) => {
                let found = self.mapping(c.target).and_then(|m| {
                    match (m.keys.get(&c.elementSlot), m.parents.get(&c.elementSlot)) {
                        (Some(key), Some(parent)) => Some((*key, *parent)),
                        // A hash never written to is still answered, as in forge.
                        _ => m.seen_hashes.get(&c.elementSlot).copied(),
                    }
                });
                let (found, (key, parent)) = match found {
                    Some(pair) => (true, pair),
                    None => (false, (B256::ZERO, B256::ZERO)),
                };
                Ok(Bytes::from((found, key, parent).abi_encode_params()))
            }
        }
    }

    fn mapping(&self, target: Address) -> Option<&MappingSlots> {
        self.cheats.mapping_slots.as_ref()?.get(&target)
    }

    /// What changed per account in the recorded accesses, as forge sums it
    /// up: balance and nonce changes (from the first old value to the last
    /// new one), and storage writes that were not reverted.
    fn account_diffs<DB: CheatDatabase>(
        &self,
        ctx: &mut CheatContext<DB>,
    ) -> BTreeMap<Address, AccountDiff> {
        let mut diffs: BTreeMap<Address, AccountDiff> = BTreeMap::new();
        let Some(recording) = &self.cheats.state_diffs else {
            return diffs;
        };
        // forge names the contracts of accounts whose balance or storage
        // was touched, not of those whose nonce alone changed.
        let mut named: std::collections::HashSet<Address> = Default::default();
        for record in recording.records() {
            if !record.storageAccesses.is_empty() || record.oldBalance != record.newBalance {
                named.insert(record.account);
                named.extend(
                    record
                        .storageAccesses
                        .iter()
                        .filter(|s| s.isWrite && !s.reverted)
                        .map(|s| s.account),
                );
            }

            if record.oldBalance != record.newBalance {
                let diff = diffs.entry(record.account).or_default();
                match &mut diff.balance {
                    Some((_, new)) => *new = record.newBalance,
                    None => diff.balance = Some((record.oldBalance, record.newBalance)),
                }
            }
            if record.oldNonce != record.newNonce {
                let diff = diffs.entry(record.account).or_default();
                match &mut diff.nonce {
                    Some((_, new)) => *new = record.newNonce,
                    None => diff.nonce = Some((record.oldNonce, record.newNonce)),
                }
            }
            for storage in &record.storageAccesses {
                if !storage.isWrite || storage.reverted {
                    continue;
                }
                diffs
                    .entry(storage.account)
                    .or_default()
                    .storage
                    .entry(storage.slot)
                    .and_modify(|(_, new)| *new = storage.newValue)
                    .or_insert((storage.previousValue, storage.newValue));
            }
        }
        for (address, diff) in diffs.iter_mut() {
            diff.label = self.cheats.labels.get(address).cloned();
            if !named.contains(address) {
                continue;
            }
            let code = ctx
                .journaled_state
                .load_account_with_code(*address)
                .ok()
                .and_then(|a| a.data.info.code.as_ref().map(|c| c.original_bytes()))
                .unwrap_or_default();
            diff.contract = self
                .artifacts
                .identify_runtime(&code)
                .map(|artifact| artifact.qualified_name());
        }
        diffs
    }
}
