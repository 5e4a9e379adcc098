//! Stopping an EVM execution from outside: a wall-clock deadline (calls,
//! block building) and a stop flag (node shutdown).
//!
//! Gas bounds nothing on free-gas networks, where a transaction may carry a
//! block gas limit of 2^53, so a loop can run for days. Every execution that
//! can run unbounded code goes through [`guard`]: JUMP, JUMPI (every loop
//! needs one) and the CALL and CREATE family (recursion without jumps) check
//! the active [`Limits`] before doing their work, and when a limit has passed
//! end the transaction with a context error, which revm returns as
//! `EVMError::Custom` after discarding the transaction's changes.
//!
//! The limits live in a thread-local set by [`Limits::enter`]: revm's
//! instructions are plain functions, and an execution runs on one thread.
//! The clock is read once every [`CHECK_EVERY`] guarded instructions, so a
//! guarded execution costs a counter decrement per jump.

use std::{
    cell::{Cell, RefCell},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use revm::{
    bytecode::opcode,
    context_interface::{ContextTr, context::ContextError},
    handler::instructions::EthInstructions,
    interpreter::{
        Host, InstructionContext, InstructionResult, instructions::Instruction,
        interpreter::EthInterpreter,
    },
};

/// Guarded instructions executed between two reads of the clock and flag.
/// A loop iteration takes tens of nanoseconds, so a limit is noticed within
/// a fraction of a millisecond.
const CHECK_EVERY: u32 = 1024;

/// Why an execution was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupted {
    /// It ran past its deadline.
    Deadline,
    /// The node is shutting down.
    Stopped,
}

impl Interrupted {
    /// The message revm carries as the transaction's error; [`Self::from_message`]
    /// reads it back.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Deadline => "forja: execution interrupted: time limit reached",
            Self::Stopped => "forja: execution interrupted: the node is shutting down",
        }
    }

    /// Which interruption an EVM error message reports, if any.
    pub fn from_message(message: &str) -> Option<Self> {
        [Self::Deadline, Self::Stopped]
            .into_iter()
            .find(|why| message.contains(why.message()))
    }
}

/// When the executions of the current thread must stop.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    pub deadline: Option<Instant>,
    /// Set by the node's shutdown.
    pub stop: Option<Arc<AtomicBool>>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Limits>> = const { RefCell::new(None) };
    static COUNTDOWN: Cell<u32> = const { Cell::new(CHECK_EVERY) };
    static TRIPPED: Cell<Option<Interrupted>> = const { Cell::new(None) };
}

impl Limits {
    /// Limits that stop at `stop` and after `timeout` from now.
    pub(crate) fn new(timeout: Option<Duration>, stop: Option<Arc<AtomicBool>>) -> Self {
        Self {
            deadline: timeout.map(|t| Instant::now() + t),
            stop,
        }
    }

    /// Makes these the limits of guarded executions on this thread until the
    /// returned scope is dropped (then the previous ones apply again).
    pub(crate) fn enter(self) -> Scope {
        let previous = ACTIVE.with(|active| active.replace(Some(self)));
        let tripped = TRIPPED.with(|t| t.replace(None));
        COUNTDOWN.with(|c| c.set(1));
        Scope { previous, tripped }
    }

    fn passed(&self) -> Option<Interrupted> {
        if self
            .stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::Relaxed))
        {
            return Some(Interrupted::Stopped);
        }
        if self.deadline.is_some_and(|at| Instant::now() >= at) {
            return Some(Interrupted::Deadline);
        }
        None
    }
}

/// The limits of a thread while it is alive (see [`Limits::enter`]).
pub(crate) struct Scope {
    previous: Option<Limits>,
    tripped: Option<Interrupted>,
}

impl Scope {
    /// Whether a guarded instruction stopped an execution under this scope.
    pub(crate) fn interrupted(&self) -> Option<Interrupted> {
        TRIPPED.with(Cell::get)
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        ACTIVE.with(|active| *active.borrow_mut() = self.previous.take());
        TRIPPED.with(|t| t.set(self.tripped));
        COUNTDOWN.with(|c| c.set(1));
    }
}

/// Whether the active limits have passed; reads the clock once every
/// [`CHECK_EVERY`] calls. Once passed, stays passed for the scope, so every
/// frame of the transaction ends at its next guarded instruction.
#[inline]
fn check() -> Option<Interrupted> {
    let due = COUNTDOWN.with(|c| {
        let left = c.get() - 1;
        if left == 0 {
            c.set(CHECK_EVERY);
            true
        } else {
            c.set(left);
            false
        }
    });
    if !due {
        return None;
    }
    check_now()
}

#[cold]
fn check_now() -> Option<Interrupted> {
    if let Some(why) = TRIPPED.with(Cell::get) {
        COUNTDOWN.with(|c| c.set(1));
        return Some(why);
    }
    let why = ACTIVE.with(|active| active.borrow().as_ref().and_then(Limits::passed))?;
    TRIPPED.with(|t| t.set(Some(why)));
    COUNTDOWN.with(|c| c.set(1));
    Some(why)
}

/// `OP`'s usual instruction, run only while the limits have not passed.
fn guarded<H: ContextTr + Host, const OP: u8>(
    context: InstructionContext<'_, H, EthInterpreter>,
) -> Result<(), InstructionResult> {
    if let Some(why) = check() {
        *context.host.error() = Err(ContextError::Custom(why.message().to_owned()));
        return Err(InstructionResult::FatalExternalError);
    }
    use revm::interpreter::instructions::{contract, control};
    match OP {
        opcode::JUMP => control::jump(context),
        opcode::JUMPI => control::jumpi(context),
        opcode::CALL => contract::call::<{ opcode::CALL }, _, _>(context),
        opcode::CALLCODE => contract::call::<{ opcode::CALLCODE }, _, _>(context),
        opcode::DELEGATECALL => contract::call::<{ opcode::DELEGATECALL }, _, _>(context),
        opcode::STATICCALL => contract::call::<{ opcode::STATICCALL }, _, _>(context),
        opcode::CREATE => contract::create::<false, _, _>(context),
        opcode::CREATE2 => contract::create::<true, _, _>(context),
        _ => unreachable!("only the opcodes `guard` installs are guarded"),
    }
}

/// Makes `instructions` stop at the thread's [`Limits`] (see the module
/// documentation). Static gas costs are kept as they are.
pub(crate) fn guard<H: ContextTr + Host>(instructions: &mut EthInstructions<EthInterpreter, H>) {
    fn set<H: ContextTr + Host, const OP: u8>(
        instructions: &mut EthInstructions<EthInterpreter, H>,
    ) {
        let gas = instructions.gas_table()[OP as usize];
        instructions.insert_instruction(OP, Instruction::new(guarded::<H, OP>), gas);
    }
    set::<H, { opcode::JUMP }>(instructions);
    set::<H, { opcode::JUMPI }>(instructions);
    set::<H, { opcode::CALL }>(instructions);
    set::<H, { opcode::CALLCODE }>(instructions);
    set::<H, { opcode::DELEGATECALL }>(instructions);
    set::<H, { opcode::STATICCALL }>(instructions);
    set::<H, { opcode::CREATE }>(instructions);
    set::<H, { opcode::CREATE2 }>(instructions);
}
