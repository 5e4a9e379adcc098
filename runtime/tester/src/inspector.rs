//! The inspector every test transaction runs under: cheatcodes, console.log,
//! expectations, permissioning, call traces and gas recording.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use alloy::{
    primitives::{Address, B256, Bytes, Log, U256},
    sol_types::SolError,
};
use revm::{
    Inspector,
    bytecode::Bytecode,
    context::JournalTr,
    context_interface::journaled_state::account::JournaledAccountTr,
    interpreter::{
        CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome, Gas, InstructionResult,
        Interpreter, InterpreterResult,
        interpreter_types::{InputsTr, Jumps},
    },
};

use crate::{
    artifacts::ArtifactSet,
    backend::{CheatContext, CheatDatabase, StateSnapshot},
    cheat_error::CheatError,
    console::decode_console_log,
    decode::{decode_revert, encode_error_string},
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS, DEFAULT_SENDER, TEST_CONTRACT_ADDRESS},
};

/// Returned in place of a call's output when `expectRevert` turned a revert
/// into success, so the caller's ABI decoding of return values still works.
const DUMMY_OUTPUT_LEN: usize = 8192;
/// Address returned by a `new` whose revert was expected.
const DUMMY_CREATE_ADDRESS: Address = Address::with_last_byte(1);

/// Access levels of forja's permissioning cheatcodes.
pub(crate) mod access {
    /// May not send transactions.
    pub(crate) const NONE: u8 = 0;
    /// May call contracts.
    pub(crate) const TRANSACT: u8 = 1;
    /// May call and deploy contracts.
    pub(crate) const DEPLOY: u8 = 2;
    /// Everything, including changing permissions.
    pub(crate) const ADMIN: u8 = 3;
}

/// A pending `vm.prank`/`vm.startPrank`.
/// Storage slots read and written at one address since `vm.record`.
pub(crate) type StorageAccesses = (Vec<B256>, Vec<B256>);

#[derive(Clone, Debug)]
pub(crate) struct Prank {
    /// The contract that called `prank`; only its calls are pranked.
    pub prank_caller: Address,
    /// The `msg.sender` to use.
    pub sender: Address,
    /// The `tx.origin` to use, if given.
    pub origin: Option<Address>,
    /// Journal depth of the `prank` call.
    pub depth: usize,
    /// `prank` (one call) vs `startPrank`.
    pub single_use: bool,
    /// The prank also makes the caller's `delegatecall`s run in the pranked
    /// contract (`prank(sender, true)`).
    pub delegate_call: bool,
    /// A call has been pranked by it (an unused prank cannot be replaced).
    pub used: bool,
}

/// A pending `vm.expectRevert`.
#[derive(Clone, Debug)]
pub(crate) struct ExpectedRevert {
    /// Expected revert data (`None` = any revert).
    pub data: Option<Bytes>,
    /// Only compare the selector (`expectPartialRevert`).
    pub partial: bool,
    /// Expected reverting contract.
    pub reverter: Option<Address>,
    /// Depth of the `expectRevert` call; the next call at this depth is checked.
    pub depth: usize,
    /// How many of the next calls at that depth must revert so (1 unless a
    /// count was given); 0: the next call must not.
    pub count: u64,
    /// How many of them did.
    pub reverted: u64,
    /// Whether the call under check has started.
    pub armed: bool,
    /// Contract whose frame reverted first during the call under check.
    pub actual_reverter: Option<Address>,
    /// `vm._expectCheatcodeRevert`: the next cheatcode call is the one
    /// checked, and ordinary calls before it are not, as in Foundry.
    pub cheatcode_only: bool,
}

/// A pending `vm.expectEmit`.
#[derive(Clone, Debug)]
pub(crate) struct ExpectedEmit {
    /// Depth of the `expectEmit` call.
    pub depth: usize,
    /// Who called `expectEmit` (its next event is the template).
    pub caller: Address,
    /// Compare topic 0 (an anonymous event's first indexed value, else the
    /// event's signature), topics 1 to 3, and the data.
    pub checks: [bool; 5],
    /// Expected emitter, if given.
    pub emitter: Option<Address>,
    /// How many times the next call must emit it (`None`: at least once;
    /// `Some(0)`: never).
    pub count: Option<u64>,
    /// The template event, once emitted.
    pub log: Option<Log>,
    /// Matching events seen.
    pub seen: u64,
}

impl ExpectedEmit {
    /// Whether `log` is the expected event, for the fields that are checked.
    fn matches(&self, log: &Log) -> bool {
        let Some(template) = &self.log else {
            return false;
        };
        let (expected, actual) = (template.topics(), log.topics());
        expected.len() == actual.len()
            && (0..expected.len()).all(|i| !self.checks[i] || expected[i] == actual[i])
            && (!self.checks[4] || template.data.data == log.data.data)
            && self.emitter.is_none_or(|e| e == log.address)
    }

    /// Whether the events seen so far meet the expectation.
    fn satisfied(&self) -> bool {
        match self.count {
            None => self.seen > 0,
            Some(0) => self.seen == 0,
            Some(count) => self.seen >= count,
        }
    }

    /// Whether later events can still count towards it (a count of 0 watches
    /// every event; the others are met in order).
    fn waiting(&self) -> bool {
        self.count == Some(0) || !self.satisfied()
    }
}

/// A pending `vm.expectCall`.
#[derive(Clone, Debug)]
pub(crate) struct ExpectedCall {
    /// Callee.
    pub callee: Address,
    /// Expected `msg.value`, if given.
    pub value: Option<U256>,
    /// Calldata prefix.
    pub data: Bytes,
    /// Exact number of calls (`None` = at least one).
    pub count: Option<u64>,
    /// Calls seen so far.
    pub seen: u64,
    /// Exact gas the call must be given (stipend included), if given.
    pub gas: Option<u64>,
    /// Least gas the call must be given (stipend included), if given.
    pub min_gas: Option<u64>,
}

/// A `vm.mockCall`/`vm.mockCallRevert`.
#[derive(Clone, Debug)]
pub(crate) struct MockedCall {
    /// Callee.
    pub callee: Address,
    /// `msg.value` to match, if given.
    pub value: Option<U256>,
    /// Calldata prefix to match.
    pub data: Bytes,
    /// What to return.
    pub output: Bytes,
    /// Revert with `output` instead of returning it.
    pub revert: bool,
    /// What the following calls return, one each (`vm.mockCalls`); the
    /// last one then stays.
    pub then: Vec<Bytes>,
}

/// Cheatcode state that survives from `setUp` into each test (Foundry
/// semantics: pranks, labels, mocks and expectations carry over).
#[derive(Clone, Debug, Default)]
pub(crate) struct CheatState {
    /// `vm.label`s.
    pub labels: HashMap<Address, String>,
    /// Names of deployed contracts, for traces and gas reports.
    pub names: HashMap<Address, String>,
    /// Active mocks.
    pub mocks: Vec<MockedCall>,
    /// Active prank.
    pub prank: Option<Prank>,
    /// Logs recorded since `vm.recordLogs`.
    pub recorded_logs: Option<Vec<Log>>,
    /// Storage accesses since `vm.record`: reads and writes per address.
    pub accesses: Option<HashMap<Address, StorageAccesses>>,
    /// `vm.stopRecord` was called: `accesses` keeps what was recorded.
    pub accesses_stopped: bool,
    /// forja permissioning: access levels (`None` = permissioning off).
    pub permissions: Option<HashMap<Address, u8>>,
    /// Pending `expectRevert`.
    pub expected_revert: Option<ExpectedRevert>,
    /// Pending `expectEmit`s.
    pub expected_emits: Vec<ExpectedEmit>,
    /// Pending `expectCall`s.
    pub expected_calls: Vec<ExpectedCall>,
    /// State snapshots by id.
    pub snapshots: Vec<Option<StateSnapshot>>,
    /// `vm.skip(true)` was called (with a reason).
    pub skipped: Option<String>,
    /// `vm.assume(false)` was called.
    pub assume_rejected: bool,
    /// Pending `vm.assumeNoRevert`.
    pub assume_no_revert: Option<crate::cheatcodes_assume::AssumeNoRevert>,
    /// Gas snapshots taken (`vm.startSnapshotGas` & co): group → name → value.
    pub gas_snapshots: BTreeMap<String, BTreeMap<String, String>>,
    /// Gas measurements under way and the state of their metering.
    pub gas_metering: GasMetering,
    /// Gas used by the last call made (for `vm.snapshotGasLastCall`).
    pub last_call_gas: Option<u64>,
    /// The generator behind `vm.randomUint` & co: seeded by `vm.setSeed`,
    /// else by the run's fuzz seed, else from the OS on first use.
    pub rng: Option<rand::rngs::StdRng>,
    /// The project root `vm.projectRoot` returns; the file cheatcodes may
    /// touch nothing outside it.
    pub project_root: Option<std::path::PathBuf>,
    /// Objects built by `vm.serializeJson` & co, by object key.
    pub json_objects: HashMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Memory each frame may write under `vm.expectSafeMemory`, by depth.
    pub safe_memory: crate::cheatcodes_memory::SafeMemory,
    /// Addresses of the keys `vm.rememberKey(s)` was given.
    pub wallets: Vec<Address>,
    /// The next line `vm.readLine` returns, by file.
    pub line_cursors: HashMap<std::path::PathBuf, usize>,
    /// Set while `vm.pauseGasMetering` holds every frame's gas.
    pub paused_gas: Option<crate::cheatcodes_gas::PausedGas>,
    /// `vm.mockFunction`s.
    pub mocked_functions: crate::cheatcodes_mock::MockedFunctions,
    /// Accesses recorded since `vm.startStateDiffRecording`.
    pub state_diffs: Option<crate::cheatcodes_diff::StateDiffRecording>,
    /// Mapping slots recorded since `vm.startMappingRecording`.
    pub mapping_slots: Option<crate::cheatcodes_diff::MappingRecording>,
    /// `vm.setArbitraryStorage`/`copyStorage` contracts.
    pub arbitrary_storage: Option<crate::cheatcodes_storage::ArbitraryStorage>,
    /// `deployCode`, `expectCreate`, EIP-7702 delegations, broadcasts.
    pub create: crate::cheatcodes_create::CreateState,
}

/// The metering behind `vm.startSnapshotGas`/`stopSnapshotGas`, as forge
/// does it: while a measurement is open, every instruction of the frame that
/// started it adds the gas spent since the frame's previous instruction.
#[derive(Clone, Debug, Default)]
pub(crate) struct GasMetering {
    /// Whether instructions are being metered.
    pub recording: bool,
    /// Total gas spent by the metered frame at its previous instruction.
    pub last_gas_used: u64,
    /// Open measurements.
    pub records: Vec<GasRecord>,
    /// The measurement `stopSnapshotGas()` without a name closes.
    pub active: Option<(String, String)>,
}

/// One open `vm.startSnapshotGas` measurement.
#[derive(Clone, Debug)]
pub(crate) struct GasRecord {
    /// Snapshot group (file).
    pub group: String,
    /// Snapshot name.
    pub name: String,
    /// Gas metered so far.
    pub gas_used: u64,
    /// Journal depth of the frame being metered.
    pub depth: usize,
}

/// One frame of a call trace.
#[derive(Clone, Debug)]
pub(crate) struct TraceNode {
    /// Call kind.
    pub kind: TraceKind,
    /// Callee (or created address).
    pub address: Address,
    /// `msg.value`.
    pub value: U256,
    /// Calldata or init code.
    pub input: Bytes,
    /// Return or revert data.
    pub output: Bytes,
    /// Whether the frame succeeded.
    pub success: bool,
    /// How the frame ended (`Stop`, `Return`, `Revert`, a halt), as revm
    /// reports it; an `expectRevert` does not change it.
    pub status: InstructionResult,
    /// Gas used by the frame.
    pub gas_used: u64,
    /// Child frames and events, in order.
    pub items: Vec<TraceItem>,
}

/// What happens inside a frame, in order.
#[derive(Clone, Debug)]
pub(crate) enum TraceItem {
    /// A nested call (index into the arena).
    Call(usize),
    /// An event.
    Log(Log),
    /// A `console.log` line.
    Console(String),
}

/// Kinds of frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TraceKind {
    /// `CALL`.
    Call,
    /// `STATICCALL`.
    StaticCall,
    /// `DELEGATECALL`/`CALLCODE`.
    DelegateCall,
    /// `CREATE`/`CREATE2`.
    Create,
}

/// A gas measurement of one call, for `--gas-report`.
#[derive(Clone, Debug)]
pub(crate) struct GasSample {
    /// Contract name when known at call time (deployments).
    pub contract: Option<String>,
    /// Hash and code of the callee, to identify its contract.
    pub code: Option<(B256, Bytes)>,
    /// Function selector (`None` for deployments).
    pub selector: Option<[u8; 4]>,
    /// Gas used.
    pub gas: u64,
    /// Deployment bytecode size, for creates.
    pub deploy_size: Option<usize>,
}

/// What one transaction produced besides state.
#[derive(Clone, Debug, Default)]
pub(crate) struct TxRecord {
    /// `console.log` lines.
    pub console: Vec<String>,
    /// Events emitted (including those of reverted frames).
    pub logs: Vec<Log>,
    /// Trace arena (index 0 = the transaction), when tracing.
    pub trace: Vec<TraceNode>,
    /// Gas samples, when recording gas.
    pub gas: Vec<GasSample>,
    /// Gas used by the top-level frame.
    pub top_gas: u64,
    /// Failures detected outside a revert (unmet expectations).
    pub failures: Vec<String>,
    /// Contract names and labels known at the end of the transaction.
    pub names: HashMap<Address, String>,
    /// Gas snapshots taken so far in the test (setUp's included).
    pub gas_snapshots: BTreeMap<String, BTreeMap<String, String>>,
    trace_stack: Vec<usize>,
    /// `tx.origin` to restore when the call at a depth ends (pranks, broadcasts).
    pub(crate) origin_restore: Vec<(usize, Address)>,
    /// Depths of calls answered here without running the callee (refused
    /// by permissioning, mocked): they spend no gas worth reporting.
    answered_here: Vec<usize>,
}

/// A frame the EVM has entered and not yet left, kept so that a panic can
/// name the call that caused it.
#[derive(Clone, Debug)]
enum Frame {
    /// A call: callee and the first four bytes of its calldata.
    Call {
        target: Address,
        selector: Option<[u8; 4]>,
    },
    /// A contract creation, by its init code.
    Create { init_code: Bytes },
}

/// Where execution is: the open frames and the cheatcode being applied.
/// Updated once per call (never per instruction) so a panic can be reported
/// against its cause.
#[derive(Clone, Debug, Default)]
pub(crate) struct Whereabouts {
    frames: Vec<Frame>,
    cheatcode: Option<[u8; 4]>,
}

/// The per-transaction inspector.
#[derive(Debug)]
pub(crate) struct TestInspector {
    /// Cheatcode state (persists across transactions of a test).
    pub cheats: CheatState,
    /// This transaction's record.
    pub record: TxRecord,
    /// Contracts for `getCode` and naming.
    pub artifacts: Arc<ArtifactSet>,
    /// Build a call trace.
    pub tracing: bool,
    /// Record gas per call.
    pub gas_recording: bool,
    /// Let `expectRevert` match a revert of the test function itself (Foundry's
    /// `allow_internal_expect_revert`, the pre-1.0 behaviour).
    pub allow_internal_expect_revert: bool,
    /// The block's base fee, held back while revm checks the transaction
    /// (whose gas price is 0) and put back when its first frame starts:
    /// forge runs tests with no base-fee check, so `vm.fee` in `setUp`
    /// does not stop the tests that follow.
    pub held_basefee: Option<u64>,
    /// The test's own accounts (its sender and the test contract): `full`
    /// access under the permissioning cheatcodes unless a test says otherwise.
    pub self_accounts: [Address; 2],
    /// Instruction hits, when measuring coverage.
    pub coverage: Option<crate::coverage::HitMaps>,
    whereabouts: Whereabouts,
}

impl TestInspector {
    /// A new inspector with the given cheatcode state.
    pub(crate) fn new(cheats: CheatState, artifacts: Arc<ArtifactSet>) -> Self {
        Self {
            cheats,
            record: TxRecord::default(),
            artifacts,
            tracing: false,
            gas_recording: false,
            allow_internal_expect_revert: false,
            held_basefee: None,
            self_accounts: [DEFAULT_SENDER, TEST_CONTRACT_ADDRESS],
            coverage: None,
            whereabouts: Whereabouts::default(),
        }
    }

    /// What was running when the EVM or a cheatcode panicked, in words: the
    /// cheatcode being applied, else the innermost open call or creation.
    pub(crate) fn panic_site(&self) -> Option<String> {
        let name = |address: Address| {
            self.cheats
                .labels
                .get(&address)
                .or_else(|| self.cheats.names.get(&address))
                .cloned()
                .unwrap_or_else(|| address.to_checksum(None))
        };
        if let Some(selector) = self.whereabouts.cheatcode {
            let signature = crate::vm::cheatcode_signature(selector)
                .map(str::to_string)
                .unwrap_or_else(|| alloy::primitives::hex::encode_prefixed(selector));
            return Some(format!("in cheatcode vm.{signature}"));
        }
        match self.whereabouts.frames.last()? {
            Frame::Call { target, selector } => {
                let function = selector
                    .and_then(|s| {
                        self.artifacts
                            .function_signatures()
                            .get(&alloy::primitives::Selector::from(s))
                            .map(|f| f.signature())
                    })
                    .or_else(|| selector.map(alloy::primitives::hex::encode_prefixed))
                    .unwrap_or_else(|| "fallback()".into());
                Some(format!("in call to {}::{function}", name(*target)))
            }
            Frame::Create { init_code } => {
                let contract = self
                    .artifacts
                    .identify_creation(init_code)
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| "<unknown>".into());
                Some(format!("in new {contract}"))
            }
        }
    }

    /// Checks expectations that must be met by the end of the transaction.
    pub(crate) fn finish(&mut self) {
        let mut names = self.cheats.names.clone();
        names.extend(self.cheats.labels.iter().map(|(a, l)| (*a, l.clone())));
        self.record.names = names;
        self.record.gas_snapshots = self.cheats.gas_snapshots.clone();
        if let Some(expected) = self.cheats.expected_revert.take() {
            if expected.reverted > 0 {
                self.record.failures.push(format!(
                    "vm.expectRevert: expected {} calls to revert, {} did",
                    expected.count, expected.reverted
                ));
            } else if !expected.armed {
                self.record
                    .failures
                    .push("vm.expectRevert: no call followed the expectation".to_string());
            }
        }
        let unmet_creates = self.unmet_creates();
        self.record.failures.extend(unmet_creates);
        for emit in std::mem::take(&mut self.cheats.expected_emits) {
            if emit.log.is_none() {
                self.record.failures.push(
                    "vm.expectEmit: the expected event was never emitted by the test".to_string(),
                );
            } else if !emit.satisfied() {
                self.record.failures.push(emit_failure(
                    &emit,
                    "vm.expectEmit: expected an event that was not emitted",
                ));
            }
        }
        for call in std::mem::take(&mut self.cheats.expected_calls) {
            let ok = match call.count {
                Some(n) => call.seen == n,
                None => call.seen > 0,
            };
            if !ok {
                let times = match call.count {
                    Some(n) => format!("{n} time(s)"),
                    None => "at least once".to_string(),
                };
                self.record.failures.push(format!(
                    "vm.expectCall: expected call to {} with data {}{} to be made {times}, but was made {} time(s)",
                    call.callee,
                    alloy::primitives::hex::encode_prefixed(&call.data),
                    [
                        call.value.map(|v| format!(" and value {v}")),
                        call.gas.map(|g| format!(" and gas {g}")),
                        call.min_gas.map(|g| format!(" and minimum gas {g}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<String>(),
                    call.seen
                ));
            }
        }
    }

    /// The account's access level under the permissioning cheatcodes; `None`
    /// until a test uses them (then nothing is enforced).
    pub(crate) fn access_level(&self, account: Address) -> Option<u8> {
        let levels = self.cheats.permissions.as_ref()?;
        Some(
            levels
                .get(&account)
                .copied()
                .unwrap_or(if self.self_accounts.contains(&account) {
                    access::ADMIN
                } else {
                    access::NONE
                }),
        )
    }

    /// Enforces forja permissioning for transaction-like calls.
    fn permission_error(&self, caller: Address, needed: u8) -> Option<String> {
        let level = self.access_level(caller)?;
        (level < needed).then(|| {
            let action = if needed >= access::DEPLOY { "deploy contracts" } else { "transact" };
            format!(
                "permissioning: account {caller} is not allowed to {action} (access level {level}, needs {needed})"
            )
        })
    }

    fn push_trace(&mut self, node: TraceNode) {
        let index = self.record.trace.len();
        if let Some(&parent) = self.record.trace_stack.last() {
            self.record.trace[parent].items.push(TraceItem::Call(index));
        }
        self.record.trace.push(node);
        self.record.trace_stack.push(index);
    }

    fn pop_trace(
        &mut self,
        output: Bytes,
        status: InstructionResult,
        gas_used: u64,
        address: Option<Address>,
    ) {
        if let Some(index) = self.record.trace_stack.pop() {
            let node = &mut self.record.trace[index];
            node.output = output;
            node.success = status.is_ok();
            node.status = status;
            node.gas_used = gas_used;
            if let Some(address) = address {
                node.address = address;
            }
        }
    }

    fn matching_mock(&self, target: Address, input: &[u8], value: U256) -> Option<usize> {
        self.cheats
            .mocks
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.callee == target
                    && input.starts_with(&m.data)
                    && m.value.is_none_or(|v| v == value)
            })
            .max_by_key(|(_, m)| m.data.len())
            .map(|(index, _)| index)
    }

    /// Why `output`, the data of a reverted call, does not meet `expected`
    /// (data, then reverting contract); `None` when it does.
    fn revert_mismatch(&self, expected: &ExpectedRevert, actual: &Bytes) -> Option<String> {
        let data_ok = match &expected.data {
            None => true,
            Some(data) if expected.partial => {
                actual.len() >= 4 && actual[..4] == data[..4.min(data.len())]
            }
            Some(data) => {
                let reason = alloy::sol_types::Revert::abi_decode(actual).ok();
                // A cheatcode's own revert matches any part of its message, as in forge.
                let by_cheatcode = expected.actual_reverter == Some(CHEATCODE_ADDRESS);
                actual == data
                    || reason.as_ref().is_some_and(|r| {
                        r.reason.as_bytes() == &data[..]
                            || (by_cheatcode
                                && !data.is_empty()
                                && r.reason
                                    .as_bytes()
                                    .windows(data.len())
                                    .any(|w| w == &data[..]))
                    })
            }
        };
        if !data_ok {
            let abis = || self.artifacts.contracts.iter().map(|c| &c.abi);
            let expected_text = match &expected.data {
                Some(d) => decode_revert(d, abis()),
                None => String::new(),
            };
            return Some(format!(
                "Error != expected error: {} != {}",
                decode_revert(actual, abis()),
                expected_text
            ));
        }
        let reverter = expected
            .reverter
            .filter(|r| Some(*r) != expected.actual_reverter)?;
        Some(format!(
            "Reverter != expected reverter: {} != {reverter}",
            expected
                .actual_reverter
                .map(|a| a.to_string())
                .unwrap_or_else(|| "none".into())
        ))
    }

    /// Evaluates an armed `expectRevert` against a finished call.
    fn check_expected_revert(
        &mut self,
        depth: usize,
        result: &mut InterpreterResult,
        is_create: bool,
    ) -> Option<Option<Address>> {
        let matches = self
            .cheats
            .expected_revert
            .as_ref()
            .is_some_and(|e| e.armed && e.depth == depth);
        if !matches {
            return None;
        }
        let mut expected = self.cheats.expected_revert.take()?;
        let reverted = !result.result.is_ok();
        let expected_text = || match &expected.data {
            Some(d) => decode_revert(d, self.artifacts.contracts.iter().map(|c| &c.abi)),
            None => "any data".to_string(),
        };
        let mismatch = reverted.then(|| self.revert_mismatch(&expected, &result.output));
        if expected.count == 0 {
            // The call must not revert so; it keeps its own outcome otherwise.
            let failure = match mismatch {
                None => return Some(None),
                Some(None) => format!("expected 0 reverts with {}, but got one", expected_text()),
                Some(Some(_)) => format!(
                    "call reverted with {} when it was expected not to revert",
                    decode_revert(
                        &result.output,
                        self.artifacts.contracts.iter().map(|c| &c.abi)
                    )
                ),
            };
            result.result = InstructionResult::Revert;
            result.output = encode_error_string(&failure);
            return Some(None);
        }
        let outcome = match mismatch {
            None => Err("call did not revert as expected".to_string()),
            Some(Some(message)) => Err(message),
            Some(None) => {
                expected.reverted += 1;
                if expected.reverted < expected.count {
                    // The next call at that depth is checked in turn.
                    expected.armed = false;
                    self.cheats.expected_revert = Some(expected);
                }
                Ok(())
            }
        };
        match outcome {
            Ok(()) => {
                result.result = InstructionResult::Return;
                result.output = if is_create {
                    Bytes::new()
                } else {
                    Bytes::from(vec![0u8; DUMMY_OUTPUT_LEN])
                };
                Some(is_create.then_some(DUMMY_CREATE_ADDRESS))
            }
            Err(message) => {
                result.result = InstructionResult::Revert;
                result.output = encode_error_string(&message);
                Some(None)
            }
        }
    }

    /// Fails a call at the depth of an `expectEmit` whose events it did not
    /// emit as expected; those expectations end with the call.
    fn check_expected_emits(&mut self, depth: usize, result: &mut InterpreterResult) {
        let (ended, pending): (Vec<ExpectedEmit>, Vec<ExpectedEmit>) =
            std::mem::take(&mut self.cheats.expected_emits)
                .into_iter()
                .partition(|e| e.depth == depth && e.log.is_some());
        self.cheats.expected_emits = pending;
        if let Some(unmet) = ended.iter().find(|e| !e.satisfied())
            && result.result.is_ok()
        {
            result.result = InstructionResult::Revert;
            result.output = encode_error_string(&emit_failure(unmet, "log != expected log"));
        }
    }
}

/// Why an `expectEmit` was not met: `otherwise` unless the event was to be
/// emitted 0 times.
fn emit_failure(emit: &ExpectedEmit, otherwise: &str) -> String {
    if emit.count == Some(0) {
        format!("log emitted {} time(s) but expected 0 times", emit.seen)
    } else if let Some(count) = emit.count.filter(|&c| c > 1) {
        format!(
            "{otherwise}: expected {count} matching events, saw {}",
            emit.seen
        )
    } else {
        otherwise.to_string()
    }
}

/// `vm.record()`: notes the slot an SLOAD or SSTORE is about to touch.
#[inline(never)]
fn record_storage_access(
    accesses: &mut HashMap<Address, (Vec<B256>, Vec<B256>)>,
    interp: &Interpreter,
) {
    let opcode = interp.bytecode.opcode();
    if (opcode == 0x54 || opcode == 0x55)
        && let Ok(slot) = interp.stack.peek(0)
    {
        let address = interp.input.target_address();
        let entry = accesses.entry(address).or_default();
        let slot = B256::from(slot);
        entry.0.push(slot);
        if opcode == 0x55 {
            entry.1.push(slot);
        }
    }
}

/// One metered instruction (see [`GasMetering`]); forge skips the first one,
/// which includes the cost of the `startSnapshotGas` call.
#[inline(never)]
fn meter_gas(metering: &mut GasMetering, interp: &Interpreter, depth: usize) {
    let spent = interp.gas.total_gas_spent();
    let mut metered = false;
    for record in metering.records.iter_mut().filter(|r| r.depth == depth) {
        if metering.last_gas_used != 0 {
            record.gas_used = record
                .gas_used
                .saturating_add(spent.saturating_sub(metering.last_gas_used));
        }
        metered = true;
    }
    if metered {
        metering.last_gas_used = spent;
    }
}

fn cheat_outcome(inputs: &CallInputs, result: Result<Bytes, CheatError>) -> CallOutcome {
    let (status, output) = match result {
        Ok(output) => (InstructionResult::Return, output),
        Err(error) => (InstructionResult::Revert, error.revert_data()),
    };
    CallOutcome::new(
        InterpreterResult::new(status, output, Gas::new(inputs.gas_limit)),
        inputs.return_memory_offset.clone(),
    )
}

impl<DB: CheatDatabase> Inspector<CheatContext<DB>> for TestInspector {
    // Called before every instruction: inlined into revm's loop so that, with
    // no `vm.record()` active, it costs one branch instead of a call.
    #[inline]
    fn step(&mut self, interp: &mut Interpreter, context: &mut CheatContext<DB>) {
        if let Some(hits) = self.coverage.as_mut() {
            hits.hit(interp);
        }
        if let Some(accesses) = self.cheats.accesses.as_mut()
            && !self.cheats.accesses_stopped
        {
            record_storage_access(accesses, interp);
        }
        if let Some(paused) = self.cheats.paused_gas.as_mut() {
            crate::cheatcodes_gas::hold_gas(paused, interp, context.journaled_state.depth);
        }
        if !self.cheats.safe_memory.is_empty() {
            crate::cheatcodes_memory::check_memory_access(
                &self.cheats.safe_memory,
                interp,
                context.journaled_state.depth,
            );
        }
        if self.cheats.arbitrary_storage.is_some() {
            self.arbitrary_storage_step(interp, context);
        }
        if let Some(recording) = self.cheats.state_diffs.as_mut() {
            crate::cheatcodes_diff::record_step(recording, interp, context);
        }
        if let Some(mappings) = self.cheats.mapping_slots.as_mut() {
            crate::cheatcodes_diff::mapping_step(mappings, interp);
        }
        if self.cheats.gas_metering.recording {
            meter_gas(
                &mut self.cheats.gas_metering,
                interp,
                context.journaled_state.depth,
            );
        }
    }

    fn log(&mut self, _context: &mut CheatContext<DB>, log: Log) {
        if let Some(recorded) = self.cheats.recorded_logs.as_mut() {
            recorded.push(log.clone());
        }
        if self.tracing
            && let Some(&top) = self.record.trace_stack.last()
        {
            self.record.trace[top]
                .items
                .push(TraceItem::Log(log.clone()));
        }
        let mut consumed = false;
        if let Some(template) = self
            .cheats
            .expected_emits
            .iter_mut()
            .find(|e| e.log.is_none())
            && log.address == template.caller
        {
            template.log = Some(log.clone());
            consumed = true;
        }
        if !consumed {
            // Expectations are met in order: a log counts for the first one
            // still waiting for events (and for every `count 0` one).
            for expected in self.cheats.expected_emits.iter_mut() {
                if expected.log.is_none() || !expected.waiting() {
                    continue;
                }
                if expected.matches(&log) {
                    expected.seen += 1;
                }
                if expected.count != Some(0) {
                    break;
                }
            }
        }
        if let Some(line) = crate::console::decode_ds_test_log(&log) {
            self.record.console.push(line);
        }
        self.record.logs.push(log);
    }

    fn call(
        &mut self,
        context: &mut CheatContext<DB>,
        inputs: &mut CallInputs,
    ) -> Option<CallOutcome> {
        if let Some(basefee) = self.held_basefee.take() {
            context.block.basefee = basefee;
        }
        let depth = context.journaled_state.depth;
        let target = inputs.target_address;
        let input = inputs.input.bytes(context);
        let value = inputs.value.get();
        self.whereabouts.frames.push(Frame::Call {
            target,
            selector: input.get(..4).and_then(|s| s.try_into().ok()),
        });

        if self.tracing {
            let kind = match inputs.scheme {
                CallScheme::StaticCall => TraceKind::StaticCall,
                CallScheme::DelegateCall | CallScheme::CallCode => TraceKind::DelegateCall,
                CallScheme::Call => TraceKind::Call,
            };
            self.push_trace(TraceNode {
                kind,
                address: target,
                value,
                input: input.clone(),
                output: Bytes::new(),
                success: false,
                status: InstructionResult::Stop,
                gas_used: 0,
                items: vec![],
            });
        }

        if target == CHEATCODE_ADDRESS {
            // A cheatcode that reverts is "the next call" for an
            // `expectRevert` waiting at its depth, as in forge; one that
            // succeeds leaves the expectation for the next call.
            let waiting = self
                .cheats
                .expected_revert
                .as_ref()
                .filter(|e| !e.armed && e.depth == depth)
                .map(|e| e.cheatcode_only);
            self.whereabouts.cheatcode = input.get(..4).and_then(|s| s.try_into().ok());
            let result = self.apply_cheatcode(context, inputs.caller, depth, &input);
            self.whereabouts.cheatcode = None;
            // `deployCode`: the call runs the creation in place of the cheatcode.
            if result.is_ok() && self.start_pending_deploy(inputs, depth) {
                return None;
            }
            let mut outcome = cheat_outcome(inputs, result);
            // `vm.skip` and `vm.assume` revert to stop the test, not as a failure.
            let stopping = self.cheats.skipped.is_some() || self.cheats.assume_rejected;
            // A cheatcode-only expectation checks the next cheatcode call
            // whether or not it reverted ("call did not revert as expected").
            let checked = match waiting {
                Some(cheatcode_only) => cheatcode_only || !outcome.result.result.is_ok(),
                None => false,
            };
            if checked && !stopping {
                if let Some(expected) = self.cheats.expected_revert.as_mut() {
                    expected.armed = true;
                    expected.actual_reverter = Some(CHEATCODE_ADDRESS);
                }
                self.check_expected_revert(depth, &mut outcome.result, false);
            }
            return Some(outcome);
        }
        if target == CONSOLE_ADDRESS {
            // A call that is no console.log (a plain value transfer, say)
            // reverts, as in forge: the address is no account to pay.
            let Some(line) = decode_console_log(&input) else {
                return Some(cheat_outcome(
                    inputs,
                    Err(format!(
                        "console.log: {} bytes of call data that no console.log signature decodes",
                        input.len()
                    )
                    .into()),
                ));
            };
            if self.tracing
                && let Some(&top) = self.record.trace_stack.iter().rev().nth(1)
            {
                self.record.trace[top]
                    .items
                    .push(TraceItem::Console(line.clone()));
            }
            self.record.console.push(line);
            return Some(cheat_outcome(inputs, Ok(Bytes::new())));
        }

        // Pranks apply to the next call made by the contract that asked for
        // them (or, with `delegateCall`, to its next delegatecall, whose
        // caller is the contract's own).
        let mut pranked = false;
        let delegated =
            |prank: &Prank| prank.delegate_call && inputs.scheme == CallScheme::DelegateCall;
        if let Some(prank) = self.cheats.prank.clone()
            && prank.depth == depth
            && (prank.prank_caller == inputs.caller || delegated(&prank))
        {
            if delegated(&prank) {
                inputs.target_address = prank.sender;
            }
            // revm moves the call's value out of the caller's account in
            // its journal, which holds only accounts this transaction has
            // touched: load the pranked sender first.
            if let Err(e) = context.journaled_state.load_account(prank.sender) {
                return Some(cheat_outcome(
                    inputs,
                    Err(format!("vm.prank: cannot load {}: {e}", prank.sender).into()),
                ));
            }
            inputs.caller = prank.sender;
            pranked = true;
            if let Some(origin) = prank.origin {
                self.record.origin_restore.push((depth, context.tx.caller));
                context.tx.caller = origin;
            }
            if prank.single_use {
                self.cheats.prank = None;
            } else if let Some(prank) = self.cheats.prank.as_mut() {
                prank.used = true;
            }
        }
        if !self.cheats.create.is_idle() {
            match self.broadcast_call(context, inputs, depth) {
                Ok(applied) => pranked |= applied,
                Err(message) => return Some(cheat_outcome(inputs, Err(message))),
            }
        }

        // The code the call runs is the callee, as in forge: a delegatecall
        // to an implementation meets an expectation on the implementation.
        for expected in &mut self.cheats.expected_calls {
            if expected.callee == inputs.bytecode_address
                && input.starts_with(&expected.data)
                && expected.value.is_none_or(|v| v == value)
                && expected.gas.is_none_or(|g| g == inputs.gas_limit)
                && expected.min_gas.is_none_or(|g| g <= inputs.gas_limit)
            {
                expected.seen += 1;
            }
        }

        if let Some(expected) = self.cheats.expected_revert.as_mut()
            && !expected.armed
            && !expected.cheatcode_only
            && expected.depth == depth
        {
            expected.armed = true;
            expected.actual_reverter = None;
        }
        self.assume_no_revert_call(depth);

        if (depth <= 1 || pranked)
            && let Some(message) = self.permission_error(inputs.caller, access::TRANSACT)
        {
            self.record.answered_here.push(depth);
            return Some(cheat_outcome(inputs, Err(message.into())));
        }

        // A mock answers for the code it names, so a delegatecall to it is
        // mocked too (forge matches the bytecode address).
        if let Some(index) = self.matching_mock(inputs.bytecode_address, &input, value) {
            // A mocked call that sends value still moves it, as in forge;
            // one mocked to revert moves nothing.
            let moved = !inputs.transfers_value() || {
                let checkpoint = context.journaled_state.checkpoint();
                let moved = matches!(
                    context
                        .journaled_state
                        .transfer(inputs.caller, target, value),
                    Ok(None)
                );
                if moved && !self.cheats.mocks[index].revert {
                    context.journaled_state.checkpoint_commit();
                } else {
                    context.journaled_state.checkpoint_revert(checkpoint);
                }
                moved
            };
            if !moved {
                self.record.answered_here.push(depth);
                return Some(cheat_outcome(
                    inputs,
                    Err(format!(
                        "mocked call: {} cannot send {value} wei to {target}",
                        inputs.caller
                    )
                    .into()),
                ));
            }
            let mock = &mut self.cheats.mocks[index];
            let output = if mock.then.is_empty() {
                mock.output.clone()
            } else {
                std::mem::replace(&mut mock.output, mock.then.remove(0))
            };
            let status = if mock.revert {
                InstructionResult::Revert
            } else {
                InstructionResult::Return
            };
            let outcome = CallOutcome::new(
                InterpreterResult::new(status, output, Gas::new(inputs.gas_limit)),
                inputs.return_memory_offset.clone(),
            );
            self.record.answered_here.push(depth);
            return Some(outcome);
        }
        if !self.cheats.mocked_functions.is_empty() {
            crate::cheatcodes_mock::redirect(
                &self.cheats.mocked_functions,
                context,
                inputs,
                &input,
            );
        }
        if let Some(recording) = self.cheats.state_diffs.as_mut() {
            crate::cheatcodes_diff::record_call(recording, context, inputs, &input, depth);
        }
        None
    }

    fn call_end(
        &mut self,
        context: &mut CheatContext<DB>,
        inputs: &CallInputs,
        outcome: &mut CallOutcome,
    ) {
        self.whereabouts.frames.pop();
        let depth = context.journaled_state.depth;
        if let Some(paused) = self.cheats.paused_gas.as_mut() {
            crate::cheatcodes_gas::frame_ended(paused, depth);
        }
        let target = inputs.target_address;
        let is_special = target == CHEATCODE_ADDRESS
            || target == CONSOLE_ADDRESS
            || (!self.cheats.create.is_idle() && self.end_deploy_frame(depth));
        if let Some(recording) = self.cheats.state_diffs.as_mut() {
            // How the call really ended, before an `expectRevert` judges it.
            let reverted = !outcome.result.result.is_ok();
            let end = crate::cheatcodes_diff::FrameEnd::Call(target);
            crate::cheatcodes_diff::record_end(recording, context, depth, reverted, end);
        }

        if let Some(&(d, origin)) = self.record.origin_restore.last()
            && d == depth
        {
            context.tx.caller = origin;
            self.record.origin_restore.pop();
        }

        // The trace shows how the call really ended, even when an
        // `expectRevert` turns its revert into success for the caller.
        let real_ending = self
            .tracing
            .then(|| (outcome.result.result, outcome.result.output.clone()));
        if !is_special {
            if !outcome.result.result.is_ok()
                && let Some(expected) = self.cheats.expected_revert.as_mut()
                && expected.armed
                && expected.actual_reverter.is_none()
            {
                expected.actual_reverter = Some(target);
            }
            self.cheats.last_call_gas = Some(outcome.result.gas.total_gas_spent());
            self.assume_no_revert_call_end(
                depth,
                target,
                !outcome.result.result.is_ok(),
                &mut outcome.result.output,
            );
            self.check_expected_revert(depth, &mut outcome.result, false);
            self.check_expected_emits(depth, &mut outcome.result);
            let answered_here = self.record.answered_here.last() == Some(&depth);
            if answered_here {
                self.record.answered_here.pop();
            }
            if self.gas_recording && !answered_here && depth >= 1 && target != self.self_accounts[1]
            {
                let input = inputs.input.bytes(context);
                let code = context.journaled_state.state.get(&target).and_then(|a| {
                    a.info
                        .code
                        .as_ref()
                        .map(|c| (a.info.code_hash, c.original_bytes()))
                });
                self.record.gas.push(GasSample {
                    contract: None,
                    code,
                    selector: input.get(..4).map(|s| s.try_into().expect("4 bytes")),
                    gas: outcome.result.gas.total_gas_spent(),
                    deploy_size: None,
                });
            }
        }
        if depth == 0 {
            self.record.top_gas = outcome.result.gas.total_gas_spent();
            let waiting = self
                .cheats
                .expected_revert
                .as_ref()
                .is_some_and(|e| !e.armed && e.depth == 1);
            if waiting && !self.allow_internal_expect_revert && !outcome.result.result.is_ok() {
                self.cheats.expected_revert = None;
                self.record.failures.push(
                    "vm.expectRevert: the test function itself reverted, but expectRevert only applies to the next \
                     external call (pass --allow-internal-expect-revert to match internal reverts)"
                        .to_string(),
                );
            }
            if self.allow_internal_expect_revert && !outcome.result.result.is_ok() {
                // The test itself reverted (e.g. an internal library call) while an
                // `expectRevert` made at the test's depth was still waiting for a call.
                if let Some(expected) = self
                    .cheats
                    .expected_revert
                    .as_mut()
                    .filter(|e| !e.armed && e.depth == 1)
                {
                    expected.armed = true;
                    expected.depth = 0;
                    self.check_expected_revert(0, &mut outcome.result, false);
                    if outcome.result.result.is_ok() {
                        outcome.result.output = Bytes::new();
                    }
                }
            }
        }
        if let Some((status, output)) = real_ending {
            let gas = outcome.result.gas.total_gas_spent();
            self.pop_trace(output, status, gas, None);
        }
    }

    fn create(
        &mut self,
        context: &mut CheatContext<DB>,
        inputs: &mut CreateInputs,
    ) -> Option<CreateOutcome> {
        if let Some(basefee) = self.held_basefee.take() {
            context.block.basefee = basefee;
        }
        self.whereabouts.frames.push(Frame::Create {
            init_code: inputs.init_code().clone(),
        });
        let depth = context.journaled_state.depth;
        let mut pranked = false;
        if let Some(prank) = self.cheats.prank.clone()
            && prank.depth == depth
            && prank.prank_caller == inputs.caller()
        {
            inputs.set_call(prank.sender);
            pranked = true;
            if let Some(origin) = prank.origin {
                self.record.origin_restore.push((depth, context.tx.caller));
                context.tx.caller = origin;
            }
            if prank.single_use {
                self.cheats.prank = None;
            } else if let Some(prank) = self.cheats.prank.as_mut() {
                prank.used = true;
            }
        }
        if !self.cheats.create.is_idle() && self.broadcast_create(context, inputs, depth, pranked) {
            pranked = true;
        }
        if self.tracing {
            self.push_trace(TraceNode {
                kind: TraceKind::Create,
                address: Address::ZERO,
                value: inputs.value(),
                input: inputs.init_code().clone(),
                output: Bytes::new(),
                success: false,
                status: InstructionResult::Stop,
                gas_used: 0,
                items: vec![],
            });
        }
        if let Some(expected) = self.cheats.expected_revert.as_mut()
            && !expected.armed
            && !expected.cheatcode_only
            && expected.depth == depth
        {
            expected.armed = true;
            expected.actual_reverter = None;
        }
        if depth <= 1 || pranked {
            // As for calls: revm takes the nonce and value from the creator's
            // account in its journal, which must hold the pranked sender.
            let loaded = context.journaled_state.load_account(inputs.caller());
            let refusal = match loaded {
                Err(e) => Some(format!("vm.prank: cannot load {}: {e}", inputs.caller())),
                Ok(_) => self.permission_error(inputs.caller(), access::DEPLOY),
            };
            if let Some(message) = refusal {
                return Some(CreateOutcome::new(
                    InterpreterResult::new(
                        InstructionResult::Revert,
                        encode_error_string(&message),
                        Gas::new(inputs.gas_limit()),
                    ),
                    None,
                ));
            }
        }
        if let Some(recording) = self.cheats.state_diffs.as_mut() {
            crate::cheatcodes_diff::record_create(recording, context, inputs, depth);
        }
        None
    }

    fn create_end(
        &mut self,
        context: &mut CheatContext<DB>,
        inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        self.whereabouts.frames.pop();
        let depth = context.journaled_state.depth;
        if let Some(paused) = self.cheats.paused_gas.as_mut() {
            crate::cheatcodes_gas::frame_ended(paused, depth);
        }
        if let Some(&(d, origin)) = self.record.origin_restore.last()
            && d == depth
        {
            context.tx.caller = origin;
            self.record.origin_restore.pop();
        }
        if let Some(recording) = self.cheats.state_diffs.as_mut() {
            let reverted = !outcome.result.result.is_ok();
            let end = crate::cheatcodes_diff::FrameEnd::Create(outcome.address);
            crate::cheatcodes_diff::record_end(recording, context, depth, reverted, end);
        }
        if !self.cheats.create.is_idle() {
            self.expected_create_end(context, inputs, outcome);
        }
        if let Some(address) = outcome.address.filter(|_| outcome.result.result.is_ok()) {
            let name = self
                .artifacts
                .identify_creation(inputs.init_code())
                .map(|a| a.name.clone());
            if let Some(name) = &name {
                self.cheats
                    .names
                    .entry(address)
                    .or_insert_with(|| name.clone());
            }
            if self.gas_recording {
                self.record.gas.push(GasSample {
                    contract: name,
                    code: None,
                    selector: None,
                    gas: outcome.result.gas.total_gas_spent(),
                    deploy_size: Some(outcome.result.output.len()),
                });
            }
        }
        // A reverting creation is the reverter only when made at the
        // expectation's depth, as in forge: a constructor's nested `new`
        // that reverts leaves it to the contract whose call or creation
        // is checked.
        if !outcome.result.result.is_ok()
            && let Some(expected) = self.cheats.expected_revert.as_mut()
            && expected.armed
            && expected.actual_reverter.is_none()
            && depth <= expected.depth
        {
            expected.actual_reverter = outcome.address;
        }
        let real_ending = self.tracing.then(|| {
            (
                outcome.result.result,
                outcome.result.output.clone(),
                outcome.address,
            )
        });
        if let Some(address) = self.check_expected_revert(depth, &mut outcome.result, true)
            && address.is_some()
        {
            outcome.address = address;
        }
        if let Some((status, output, address)) = real_ending {
            let gas = outcome.result.gas.total_gas_spent();
            self.pop_trace(output, status, gas, address);
        }
    }
}

impl TestInspector {
    /// Takes a snapshot of the whole state (`vm.snapshotState`).
    pub(crate) fn snapshot<DB: CheatDatabase>(
        &mut self,
        context: &CheatContext<DB>,
    ) -> Result<U256, CheatError> {
        let snapshot = DB::snapshot(context).map_err(|e| e.to_string())?;
        self.cheats.snapshots.push(Some(snapshot));
        Ok(U256::from(self.cheats.snapshots.len() - 1))
    }

    /// Restores a snapshot (`vm.revertToState`); false when there is none with that id.
    pub(crate) fn revert_to<DB: CheatDatabase>(
        &mut self,
        context: &mut CheatContext<DB>,
        id: U256,
    ) -> bool {
        let Ok(index) = usize::try_from(id) else {
            return false;
        };
        let Some(Some(snapshot)) = self.cheats.snapshots.get(index) else {
            return false;
        };
        DB::restore(context, snapshot);
        true
    }

    /// Sets the code of `address` (`vm.etch`, mocks on empty accounts).
    pub(crate) fn etch<DB: CheatDatabase>(
        context: &mut CheatContext<DB>,
        address: Address,
        code: Bytes,
    ) -> Result<(), CheatError> {
        context
            .journaled_state
            .load_account(address)
            .map_err(|e| e.to_string())?;
        context
            .journaled_state
            .set_code(address, Bytecode::new_raw(code));
        Ok(())
    }

    /// Whether `address` has code.
    pub(crate) fn has_code<DB: CheatDatabase>(
        context: &mut CheatContext<DB>,
        address: Address,
    ) -> bool {
        context
            .journaled_state
            .load_account_with_code(address)
            .map(|a| a.data.info.code.as_ref().is_some_and(|c| !c.is_empty()))
            .unwrap_or(false)
    }

    /// Sets a balance (`vm.deal`).
    pub(crate) fn set_balance<DB: CheatDatabase>(
        context: &mut CheatContext<DB>,
        address: Address,
        balance: U256,
    ) -> Result<(), CheatError> {
        let mut account = context
            .journaled_state
            .load_account_mut(address)
            .map_err(|e| e.to_string())?;
        account.data.set_balance(balance);
        Ok(())
    }

    /// Sets a nonce (`vm.setNonce`).
    pub(crate) fn set_nonce<DB: CheatDatabase>(
        context: &mut CheatContext<DB>,
        address: Address,
        nonce: u64,
    ) -> Result<(), CheatError> {
        let mut account = context
            .journaled_state
            .load_account_mut(address)
            .map_err(|e| e.to_string())?;
        account.data.set_nonce(nonce);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_site_names_the_innermost_call_by_label() {
        let mut inspector = TestInspector::new(CheatState::default(), Arc::default());
        assert_eq!(inspector.panic_site(), None);
        let bank = Address::with_last_byte(0xb);
        inspector.cheats.names.insert(bank, "Bank".into());
        inspector.whereabouts.frames.push(Frame::Call {
            target: TEST_CONTRACT_ADDRESS,
            selector: Some([1, 2, 3, 4]),
        });
        inspector.whereabouts.frames.push(Frame::Call {
            target: bank,
            selector: Some([0xd0, 0xe3, 0x0d, 0xb0]),
        });
        assert_eq!(
            inspector.panic_site().as_deref(),
            Some("in call to Bank::0xd0e30db0")
        );
        inspector.cheats.labels.insert(bank, "vault".into());
        inspector.whereabouts.frames.pop();
        inspector.whereabouts.frames.push(Frame::Call {
            target: bank,
            selector: None,
        });
        assert_eq!(
            inspector.panic_site().as_deref(),
            Some("in call to vault::fallback()")
        );
        inspector.whereabouts.frames.push(Frame::Create {
            init_code: Bytes::from_static(&[0x60, 0x00]),
        });
        assert_eq!(inspector.panic_site().as_deref(), Some("in new <unknown>"));
    }
}
