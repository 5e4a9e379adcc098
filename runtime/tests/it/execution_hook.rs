//! An execution hook's inspector runs on every node, building and
//! validating alike, so what it changes is what consensus agrees on.

use std::sync::{Arc, Mutex};

use crate::common::{config, dev_account, sign_1559, transfer, wait_for_height, wait_for_receipt};
use alloy::primitives::{Address, B256, Bytes, U256, address};
use forja_runtime::{
    Network, SignedTx, StartOptions, StorageMode,
    execution::{BlockContext, BlockEvmContext, BlockInspector, ExecutionHook},
};
use revm::{
    Inspector,
    context_interface::result::{ExecResultAndState, ExecutionResult},
    interpreter::{CallInputs, CallOutcome, Gas, InstructionResult, InterpreterResult},
    state::EvmState,
};

/// Transfers to this address revert under the hook.
const FORBIDDEN: Address = address!("0x000000000000000000000000000000000000f0f0");

/// (node, transaction, succeeded) for every transaction a node executed.
#[derive(Default)]
struct Seen(Mutex<Vec<(usize, B256, bool)>>);

struct Hook(Arc<Seen>);

impl ExecutionHook for Hook {
    fn block_inspector(&self, node: usize, _block: &BlockContext) -> Box<dyn BlockInspector> {
        Box::new(Forbid {
            node,
            seen: self.0.clone(),
        })
    }
}

struct Forbid {
    node: usize,
    seen: Arc<Seen>,
}

impl<'a> Inspector<BlockEvmContext<'a>> for Forbid {
    fn call(
        &mut self,
        context: &mut BlockEvmContext<'a>,
        inputs: &mut CallInputs,
    ) -> Option<CallOutcome> {
        (context.journaled_state.depth == 0 && inputs.target_address == FORBIDDEN).then(|| {
            CallOutcome::new(
                InterpreterResult::new(
                    InstructionResult::Revert,
                    Bytes::new(),
                    Gas::new(inputs.gas_limit),
                ),
                inputs.return_memory_offset.clone(),
            )
        })
    }
}

impl BlockInspector for Forbid {
    fn transaction_executed(
        &mut self,
        tx: &SignedTx,
        result: &ExecResultAndState<ExecutionResult, EvmState>,
    ) {
        self.seen
            .0
            .lock()
            .unwrap()
            .push((self.node, tx.hash, result.result.is_success()));
    }
}

#[test]
fn every_node_executes_blocks_under_the_hook() {
    let seen = Arc::new(Seen::default());
    let network = Network::start_with(
        config(4),
        StorageMode::InMemory,
        StartOptions {
            execution_hook: Some(Arc::new(Hook(seen.clone()))),
        },
    )
    .unwrap();
    let (_, signer) = dev_account(&network, 0);
    let node = network.node(0);
    let allowed = node
        .pool()
        .submit_transaction(sign_1559(
            &signer,
            transfer(1337, 0, Address::with_last_byte(0x77), 5),
        ))
        .unwrap();
    let forbidden = node
        .pool()
        .submit_transaction(sign_1559(&signer, transfer(1337, 1, FORBIDDEN, 5)))
        .unwrap();
    let receipt = wait_for_receipt(&node, forbidden);
    wait_for_height(&network, receipt.block_number);

    for node in network.nodes() {
        assert!(node.read().receipt(allowed).unwrap().receipt.status());
        // The hook's revert is the network's: every node committed it.
        assert!(!node.read().receipt(forbidden).unwrap().receipt.status());
        assert_eq!(
            node.read()
                .balance(FORBIDDEN, alloy::eips::BlockId::latest())
                .unwrap(),
            U256::ZERO
        );
    }
    let seen = seen.0.lock().unwrap().clone();
    for index in 0..4 {
        assert!(
            seen.contains(&(index, allowed, true)) && seen.contains(&(index, forbidden, false)),
            "node {index} did not report both transactions: {seen:?}"
        );
    }
    network.shutdown();
}

#[test]
fn without_a_hook_the_same_transfer_succeeds() {
    let network = Network::start(config(4), StorageMode::InMemory).unwrap();
    let (_, signer) = dev_account(&network, 0);
    let node = network.node(0);
    let hash = node
        .pool()
        .submit_transaction(sign_1559(&signer, transfer(1337, 0, FORBIDDEN, 5)))
        .unwrap();
    assert!(wait_for_receipt(&node, hash).receipt.status());
    network.shutdown();
}
