//! Storage cheatcodes, as forge 1.7.1 does them: `vm.setArbitraryStorage`
//! (an untouched slot reads as a random value, which then stays),
//! `vm.copyStorage`, `vm.warmSlot`/`coolSlot`/`cool`, and `vm.dumpState`
//! (the accounts this transaction touched, as a genesis `alloc` JSON file).

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy::{
    genesis::GenesisAccount,
    primitives::{Address, B256, Bytes, U256},
};
use revm::{
    context::JournalTr,
    interpreter::{
        Interpreter,
        interpreter_types::{InputsTr, Jumps},
    },
};

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::{CheatResult, write_project_file},
    inspector::TestInspector,
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS},
};

alloy::sol! {
    /// Foundry's storage cheatcodes served by this module.
    #[derive(Debug)]
    interface VmStorage {
        function setArbitraryStorage(address target) external;
        function setArbitraryStorage(address target, bool overwrite) external;
        function copyStorage(address from, address to) external;
        function warmSlot(address target, bytes32 slot) external;
        function coolSlot(address target, bytes32 slot) external;
        function cool(address target) external;
        function dumpState(string calldata pathToStateJson) external;
    }
}

pub(crate) use VmStorage::VmStorageCalls;

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmStorageCalls::signature_by_selector(selector)
}

const SLOAD: u8 = 0x54;

/// Contracts whose storage is arbitrary (`vm.setArbitraryStorage`), and
/// those that copied theirs from one (`vm.copyStorage`).
#[derive(Clone, Debug, Default)]
pub(crate) struct ArbitraryStorage {
    /// The random values given out so far, per contract and slot.
    values: HashMap<Address, HashMap<U256, U256>>,
    /// Copy → the arbitrary contract it copied: it reads the same values.
    copies: HashMap<Address, Address>,
    /// Contracts whose slots get a random value even when already set.
    overwrites: HashSet<Address>,
}

impl ArbitraryStorage {
    /// Whether a read of `slot` at `address`, whose value is `value` and
    /// which was `cold`, gets a random value instead.
    fn replaces(&self, address: Address, slot: U256, cold: bool, value: U256) -> bool {
        let tracked = self.values.contains_key(&address) || self.copies.contains_key(&address);
        let overwrite = self.overwrites.contains(&address)
            && self
                .values
                .get(&address)
                .is_none_or(|values| !values.contains_key(&slot));
        tracked && ((cold && value.is_zero()) || overwrite)
    }
}

impl TestInspector {
    /// Applies one of this module's cheatcodes.
    pub(crate) fn apply_storage<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        caller: Address,
        call: VmStorageCalls,
    ) -> CheatResult {
        use VmStorageCalls as C;
        match call {
            C::setArbitraryStorage_0(c) => self.mark_arbitrary(c.target, false),
            C::setArbitraryStorage_1(c) => self.mark_arbitrary(c.target, c.overwrite),
            C::copyStorage(c) => {
                let arbitrary = self.cheats.arbitrary_storage.as_mut();
                if arbitrary
                    .as_ref()
                    .is_some_and(|a| a.values.contains_key(&c.to))
                {
                    return Err("target address cannot have arbitrary storage".into());
                }
                let storage = ctx
                    .journaled_state
                    .load_account(c.from)
                    .map_err(|e| e.to_string())?
                    .data
                    .storage
                    .clone();
                ctx.journaled_state
                    .load_account(c.to)
                    .map_err(|e| e.to_string())?;
                // As forge: the slots `from` has loaded in this transaction.
                if let Some(account) = ctx.journaled_state.state.get_mut(&c.to) {
                    account.storage = storage;
                    account.mark_touch();
                }
                if let Some(arbitrary) = arbitrary
                    && arbitrary.values.contains_key(&c.from)
                {
                    arbitrary.copies.insert(c.to, c.from);
                }
                Ok(Bytes::new())
            }
            C::warmSlot(c) => {
                // Loading a slot warms it (forge only flips a slot already loaded).
                ctx.journaled_state
                    .load_account(c.target)
                    .map_err(|e| e.to_string())?;
                ctx.journaled_state
                    .sload(c.target, c.slot.into())
                    .map_err(|e| e.to_string())?;
                Ok(Bytes::new())
            }
            C::coolSlot(c) => {
                if let Some(slot) = ctx
                    .journaled_state
                    .state
                    .get_mut(&c.target)
                    .and_then(|account| account.storage.get_mut(&U256::from_be_bytes(c.slot.0)))
                {
                    slot.mark_cold();
                }
                Ok(Bytes::new())
            }
            C::cool(c) => {
                // Every loaded slot reads cold again. (forge also un-touches the
                // account, which would drop this transaction's changes to it.)
                if let Some(account) = ctx.journaled_state.state.get_mut(&c.target) {
                    account
                        .storage
                        .values_mut()
                        .for_each(|slot| slot.mark_cold());
                }
                Ok(Bytes::new())
            }
            C::dumpState(c) => {
                let path = self.project_write_path(&c.pathToStateJson)?;
                let skipped = [
                    CHEATCODE_ADDRESS,
                    CONSOLE_ADDRESS,
                    self.self_accounts[0],
                    self.self_accounts[1],
                    caller,
                ];
                let addresses: Vec<Address> = ctx
                    .journaled_state
                    .state
                    .iter()
                    .filter(|(address, account)| {
                        !skipped.contains(*address) && !account.info.is_empty()
                    })
                    .map(|(address, _)| *address)
                    .collect();
                let mut alloc: BTreeMap<Address, GenesisAccount> = BTreeMap::new();
                for address in addresses {
                    let account = ctx
                        .journaled_state
                        .load_account_with_code(address)
                        .map_err(|e| e.to_string())?;
                    let account = &account.data;
                    let code = account
                        .info
                        .code
                        .as_ref()
                        .map(|code| code.original_bytes())
                        .unwrap_or_default();
                    let storage = account
                        .storage
                        .iter()
                        .map(|(slot, value)| (B256::from(*slot), B256::from(value.present_value)))
                        .collect();
                    alloc.insert(
                        address,
                        GenesisAccount::default()
                            .with_nonce(Some(account.info.nonce))
                            .with_balance(account.info.balance)
                            .with_code(Some(code))
                            .with_storage(Some(storage)),
                    );
                }
                let json = serde_json::to_vec(&alloc)
                    .map_err(|e| format!("vm.dumpState: cannot encode the state: {e}"))?;
                write_project_file(&path, &json)
                    .map_err(|e| e.to_string().replacen("vm.writeFile", "vm.dumpState", 1))?;
                Ok(Bytes::new())
            }
        }
    }

    fn mark_arbitrary(&mut self, target: Address, overwrite: bool) -> CheatResult {
        let arbitrary = self
            .cheats
            .arbitrary_storage
            .get_or_insert_with(Default::default);
        arbitrary.values.insert(target, HashMap::new());
        if overwrite {
            arbitrary.overwrites.insert(target);
        } else {
            arbitrary.overwrites.remove(&target);
        }
        Ok(Bytes::new())
    }

    /// The value a read of `slot` at `address` returns when arbitrary
    /// storage may replace it (`vm.load`, `SLOAD`): `None` to keep the real
    /// one. A new random value is written into the journal, so that it
    /// stays; a copy reads (and gives its source) the same value.
    pub(crate) fn arbitrary_value<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        address: Address,
        slot: U256,
        cold: bool,
        value: U256,
    ) -> Option<U256> {
        let arbitrary = self.cheats.arbitrary_storage.as_ref()?;
        if !arbitrary.replaces(address, slot, cold, value) {
            return None;
        }
        let random = U256::from_be_bytes(self.random_word());
        let arbitrary = self.cheats.arbitrary_storage.as_mut()?;
        let (value, also) = if arbitrary.values.contains_key(&address) {
            arbitrary
                .values
                .entry(address)
                .or_default()
                .insert(slot, random);
            (random, None)
        } else {
            let source = *arbitrary.copies.get(&address)?;
            let values = arbitrary.values.entry(source).or_default();
            match values.get(&slot) {
                Some(existing) => (*existing, None),
                None => {
                    values.insert(slot, random);
                    (random, Some(source))
                }
            }
        };
        for target in std::iter::once(address).chain(also) {
            if ctx.journaled_state.load_account(target).is_ok() {
                let _ = ctx.journaled_state.sstore(target, slot, value);
            }
        }
        Some(value)
    }

    /// Before an `SLOAD` while arbitrary storage is on: puts the random
    /// value in place when the slot is to read as one.
    #[inline(never)]
    pub(crate) fn arbitrary_storage_step<DB: CheatDatabase>(
        &mut self,
        interp: &Interpreter,
        ctx: &mut CheatContext<DB>,
    ) {
        if interp.bytecode.opcode() != SLOAD {
            return;
        }
        let Ok(slot) = interp.stack.peek(0) else {
            return;
        };
        let address = interp.input.target_address();
        // forge reads the slot through the journal here, which warms it.
        let Ok(loaded) = ctx.journaled_state.sload(address, slot);
        let (cold, value) = (loaded.is_cold, loaded.data);
        self.arbitrary_value(ctx, address, slot, cold, value);
    }
}
