//! Cheatcode dispatch: decodes a call to the cheatcode address and applies it.

use std::fmt::Display;

use alloy::{
    primitives::{Address, B256, Bytes, I256, U256, hex},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolInterface, SolValue},
};
use revm::context::JournalTr;

use crate::{
    backend::{CheatContext, CheatDatabase},
    inspector::{
        ExpectedCall, ExpectedEmit, ExpectedRevert, GasRecord, MockedCall, Prank, TestInspector,
        access,
    },
    vm::{ForjaVm::ForjaVmCalls, Vm, Vm::VmCalls},
};

pub(crate) use crate::cheat_error::CheatError;

pub(crate) type CheatResult = Result<Bytes, CheatError>;

/// ABI-encodes a single return value.
fn ok<T: alloy::sol_types::SolValue>(value: T) -> CheatResult {
    Ok(Bytes::from(value.abi_encode()))
}

fn unit() -> CheatResult {
    Ok(Bytes::new())
}

/// The cheatcode generator for a seed (`vm.setSeed`, the run's fuzz seed).
pub(crate) fn seeded_rng(seed: U256) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::from_seed(seed.to_be_bytes())
}

/// Writes a file for `vm.writeFile`, creating its directory.
pub(crate) fn write_project_file(path: &std::path::Path, data: &[u8]) -> Result<(), CheatError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("vm.writeFile: {}: {e}", dir.display()))?;
    }
    std::fs::write(path, data).map_err(|e| format!("vm.writeFile: {}: {e}", path.display()).into())
}

/// Why a test that calls cheatcode `signature` is skipped rather than failed:
/// it needs something forja deliberately does not offer (forking a live
/// chain, RPC endpoints, running external commands).
fn out_of_scope(signature: &str) -> Option<String> {
    const FORK_OR_RPC: &[&str] = &[
        "createFork(",
        "createSelectFork(",
        "selectFork(",
        "rollFork(",
        "activeFork(",
        "makePersistent(",
        "revokePersistent(",
        "isPersistent(",
        "allowCheatcodes(",
        "transact(",
        "rpc(",
        "rpcUrl(",
        "rpcUrls(",
        "rpcUrlStructs(",
        "eth_getLogs(",
    ];
    const EXTERNAL_COMMANDS: &[&str] = &["ffi(", "tryFfi("];
    // Public-chain features a permissioned network has no use for.
    const CHAIN_SPECIFIC: &[(&str, &str)] =
        &[("getRawBlockHeader(", "block headers of a live chain")];
    if FORK_OR_RPC.iter().any(|p| signature.starts_with(p)) {
        Some(format!(
            "needs forking or an RPC endpoint (vm.{signature}), which forja test does not offer"
        ))
    } else if EXTERNAL_COMMANDS.iter().any(|p| signature.starts_with(p)) {
        Some(format!(
            "runs external commands (vm.{signature}), which forja test does not allow"
        ))
    } else if let Some((_, what)) = CHAIN_SPECIFIC
        .iter()
        .find(|(p, _)| signature.starts_with(p))
    {
        Some(format!(
            "needs {what} (vm.{signature}), which forja test does not offer"
        ))
    } else {
        None
    }
}

impl TestInspector {
    /// Applies one cheatcode call from `caller` at journal `depth`.
    pub(crate) fn apply_cheatcode<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        caller: Address,
        depth: usize,
        input: &[u8],
    ) -> CheatResult {
        #[cfg(test)]
        if tests::PANIC_IN_CHEATCODES.get() {
            panic!("injected cheatcode panic");
        }
        if let Ok(call) = VmCalls::abi_decode(input) {
            return self.apply_vm(ctx, caller, depth, call);
        }
        if let Ok(call) = ForjaVmCalls::abi_decode(input) {
            return self.apply_forja(ctx, call);
        }
        if let Ok(call) = crate::cheatcodes_json::VmJsonCalls::abi_decode(input) {
            return self.apply_json(call);
        }
        if let Ok(call) = crate::cheatcodes_memory::VmMemoryCalls::abi_decode(input) {
            return self.apply_memory(depth, call);
        }
        if let Ok(call) = crate::cheatcodes_keys::VmKeysCalls::abi_decode(input) {
            return self.apply_keys(call);
        }
        if let Ok(call) = crate::cheatcodes_misc::VmMiscCalls::abi_decode(input) {
            return self.apply_misc(ctx, depth, call);
        }
        if let Ok(call) = crate::cheatcodes_assert::VmAssertCalls::abi_decode(input) {
            return self.apply_assert(call);
        }
        if let Ok(call) = crate::cheatcodes_assume::VmAssumeCalls::abi_decode(input) {
            return self.apply_assume(depth, call);
        }
        if let Ok(call) = crate::cheatcodes_gas::VmGasCalls::abi_decode(input) {
            return self.apply_gas(call);
        }
        if let Ok(call) = crate::cheatcodes_mock::VmMockFunctionCalls::abi_decode(input) {
            return self.apply_mock_function(call);
        }
        if let Ok(call) = crate::cheatcodes_diff::VmDiffCalls::abi_decode(input) {
            return self.apply_diff(ctx, call);
        }
        if let Ok(call) = crate::cheatcodes_storage::VmStorageCalls::abi_decode(input) {
            return self.apply_storage(ctx, caller, call);
        }
        if let Ok(call) = crate::cheatcodes_create::VmCreateCalls::abi_decode(input) {
            return self.apply_create(ctx, caller, depth, call);
        }
        if let Ok(call) = crate::cheatcodes_ed25519::VmEd25519Calls::abi_decode(input) {
            return self.apply_ed25519(call);
        }
        if let Ok(call) = crate::cheatcodes_version::VmVersionCalls::abi_decode(input) {
            return self.apply_version(call);
        }
        if let Ok(call) = crate::cheatcodes_tx::VmTxCalls::abi_decode(input) {
            return self.apply_tx(ctx, call);
        }
        if let Ok(call) = crate::cheatcodes_fs::VmFsCalls::abi_decode(input) {
            return self.apply_fs(call);
        }
        if let Ok(call) = crate::cheatcodes_chain::VmChainCalls::abi_decode(input) {
            return self.apply_chain(call);
        }
        if let Ok(call) = crate::cheatcodes_block::VmBlockCalls::abi_decode(input) {
            return self.apply_block(ctx, call);
        }
        if let Ok(call) = crate::cheatcodes_allocs::VmAllocsCalls::abi_decode(input) {
            return self.apply_allocs(ctx, call);
        }
        if let Ok(call) = crate::cheatcodes_crypto::VmCryptoCalls::abi_decode(input) {
            return self.apply_crypto(call);
        }
        let selector = input
            .get(..4)
            .map(hex::encode_prefixed)
            .unwrap_or_else(|| "0x".into());
        let name = input
            .get(..4)
            .and_then(|s| {
                let selector: [u8; 4] = s.try_into().ok()?;
                self.artifacts
                    .contracts
                    .iter()
                    .flat_map(|c| c.abi.functions())
                    .find(|f| f.selector() == selector)
                    .map(|f| f.signature())
            })
            .unwrap_or(selector);
        if let Some(reason) = out_of_scope(&name) {
            return self.skip(true, reason);
        }
        Err(CheatError::NotSupported(name))
    }

    /// 32 bytes from the cheatcode generator (seeded from the OS when
    /// neither `vm.setSeed` nor the run's fuzz seed gave it a seed).
    pub(crate) fn random_word(&mut self) -> [u8; 32] {
        use rand::{RngCore, SeedableRng};
        let rng = self
            .cheats
            .rng
            .get_or_insert_with(rand::rngs::StdRng::from_os_rng);
        let mut word = [0u8; 32];
        rng.fill_bytes(&mut word);
        word
    }

    /// A random number of `bits` bits (at most 256, as Foundry checks).
    fn random_bits(&mut self, bits: U256, cheatcode: &str) -> Result<U256, CheatError> {
        if bits > U256::from(256) {
            return Err(format!("{cheatcode}: number of bits cannot exceed 256").into());
        }
        let bits = bits.to::<usize>();
        if bits == 0 {
            return Ok(U256::ZERO);
        }
        Ok(U256::from_be_bytes(self.random_word()) >> (256 - bits))
    }

    fn project_root(&self) -> Result<&std::path::Path, CheatError> {
        self.cheats
            .project_root
            .as_deref()
            .ok_or_else(|| "no project root is known to this test run".into())
    }

    /// `path` (absolute, or relative to the project root) if it lies inside
    /// the project root, as Foundry's default file permissions allow, and
    /// is not the project's configuration when written: a test may not turn
    /// on what the configuration keeps off.
    pub(crate) fn project_write_path(&self, path: &str) -> Result<std::path::PathBuf, CheatError> {
        let resolved = self.project_path_for(path, "write")?;
        let is_config = resolved.file_name().is_some_and(|name| {
            let name = name.to_string_lossy().to_ascii_lowercase();
            name == "foundry.toml" || name == "forja.toml"
        });
        if is_config {
            return Err(format!(
                "access to {} is not allowed",
                resolved
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )
            .into());
        }
        Ok(resolved)
    }

    /// `path` for reading (see [`Self::project_write_path`]).
    pub(crate) fn project_path(&self, path: &str) -> Result<std::path::PathBuf, CheatError> {
        self.project_path_for(path, "read")
    }

    fn project_path_for(
        &self,
        path: &str,
        operation: &str,
    ) -> Result<std::path::PathBuf, CheatError> {
        let root = self.project_root()?;
        let joined = root.join(path);
        let mut normal = std::path::PathBuf::new();
        for part in joined.components() {
            match part {
                std::path::Component::ParentDir => {
                    normal.pop();
                }
                std::path::Component::CurDir => {}
                other => normal.push(other),
            }
        }
        if !normal.starts_with(root) {
            // Foundry's wording, which tests match with `expectRevert`.
            return Err(format!(
                "the path {path} is not allowed to be accessed for {operation} operations"
            )
            .into());
        }
        Ok(normal)
    }

    /// `vm.isContext`: `forja test` runs code as `Test`, `forja coverage` as
    /// `Coverage`, both inside `TestGroup`, as Foundry's contexts match.
    fn is_context(&self, asked: crate::vm::Vm::ForgeContext) -> bool {
        use crate::vm::Vm::ForgeContext;
        match asked {
            ForgeContext::TestGroup => true,
            ForgeContext::Coverage => self.coverage.is_some(),
            ForgeContext::Test => self.coverage.is_none(),
            _ => false,
        }
    }

    /// A snapshot's group: the one given, else the test contract's name.
    fn snapshot_group(&self, group: Option<String>) -> String {
        group.unwrap_or_else(|| {
            self.cheats
                .names
                .get(&self.self_accounts[1])
                .cloned()
                .unwrap_or_else(|| "default".into())
        })
    }

    fn record_snapshot(&mut self, group: Option<String>, name: String, value: String) {
        let group = self.snapshot_group(group);
        self.cheats
            .gas_snapshots
            .entry(group)
            .or_default()
            .insert(name, value);
    }

    fn snapshot_last_call(&mut self, group: Option<String>, name: String) -> CheatResult {
        let gas = self
            .cheats
            .last_call_gas
            .ok_or("no external call was made yet")?;
        self.record_snapshot(group, name, gas.to_string());
        ok(U256::from(gas))
    }

    fn start_gas_snapshot(
        &mut self,
        group: Option<String>,
        name: String,
        depth: usize,
    ) -> CheatResult {
        let metering = &self.cheats.gas_metering;
        if let Some((group, name)) = &metering.active {
            return Err(format!(
                "gas snapshot was already started with group: {group} and name: {name}"
            )
            .into());
        }
        let group = self.snapshot_group(group);
        let metering = &mut self.cheats.gas_metering;
        metering.records.push(GasRecord {
            group: group.clone(),
            name: name.clone(),
            gas_used: 0,
            depth,
        });
        metering.active = Some((group, name));
        metering.recording = true;
        unit()
    }

    fn stop_gas_snapshot(&mut self, which: Option<(String, String)>) -> CheatResult {
        let metering = &mut self.cheats.gas_metering;
        let (group, name) = which
            .or_else(|| metering.active.clone())
            .ok_or("no active gas snapshot; call `startGasSnapshot` first")?;
        let Some(record) = metering
            .records
            .iter()
            .find(|r| r.group == group && r.name == name)
        else {
            return Err(format!(
                "no gas snapshot was started with the name: {name} in group: {group}"
            )
            .into());
        };
        // forge takes off what the snapshot cheatcodes themselves cost.
        let gas = record.gas_used.saturating_sub(171);
        metering.recording = false;
        // forge drops every record sharing the group or the name.
        metering
            .records
            .retain(|r| r.group != group && r.name != name);
        if metering.active.as_ref() == Some(&(group.clone(), name.clone())) {
            metering.active = None;
        }
        self.cheats
            .gas_snapshots
            .entry(group)
            .or_default()
            .insert(name, gas.to_string());
        ok(U256::from(gas))
    }

    fn apply_forja<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        call: ForjaVmCalls,
    ) -> CheatResult {
        let _ = ctx;
        let levels = self.cheats.permissions.get_or_insert_with(Default::default);
        match call {
            ForjaVmCalls::setAccessLevel(c) => {
                if c.level > access::ADMIN {
                    return Err(format!("setAccessLevel: level {} is not 0..=3", c.level).into());
                }
                levels.insert(c.account, c.level);
                unit()
            }
            ForjaVmCalls::addToAllowlist(c) => {
                let level = levels.entry(c.account).or_insert(access::NONE);
                *level = (*level).max(access::DEPLOY);
                unit()
            }
            ForjaVmCalls::removeFromAllowlist(c) => {
                levels.insert(c.account, access::NONE);
                unit()
            }
            ForjaVmCalls::accessLevel(c) => {
                let level = self.access_level_of(c.account);
                ok(U256::from(level))
            }
        }
    }

    fn access_level_of(&self, account: Address) -> u8 {
        // Without any permissioning cheatcode, everyone may do everything.
        self.access_level(account).unwrap_or(access::ADMIN)
    }

    fn apply_vm<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        caller: Address,
        depth: usize,
        call: VmCalls,
    ) -> CheatResult {
        use VmCalls as C;
        match call {
            C::warp(c) => {
                ctx.block.timestamp = c.newTimestamp;
                unit()
            }
            C::roll(c) => {
                ctx.block.number = c.newHeight;
                unit()
            }
            C::fee(c) => {
                ctx.block.basefee = c
                    .newBasefee
                    .try_into()
                    .map_err(|_| "fee: base fee exceeds u64")?;
                unit()
            }
            C::chainId(c) => {
                ctx.cfg.chain_id = c
                    .newChainId
                    .try_into()
                    .map_err(|_| "chainId: exceeds u64")?;
                unit()
            }
            C::coinbase(c) => {
                ctx.block.beneficiary = c.newCoinbase;
                unit()
            }
            C::prevrandao(c) => {
                ctx.block.prevrandao = Some(c.newPrevrandao);
                unit()
            }
            C::difficulty(c) => {
                ctx.block.difficulty = c.newDifficulty;
                unit()
            }
            C::txGasPrice(c) => {
                ctx.tx.gas_price = c
                    .newGasPrice
                    .try_into()
                    .map_err(|_| "txGasPrice: exceeds u128")?;
                unit()
            }
            C::getNonce(c) => {
                let account = ctx
                    .journaled_state
                    .load_account(c.account)
                    .map_err(|e| e.to_string())?;
                ok(account.data.info.nonce)
            }
            C::setNonce(c) => {
                let current = ctx
                    .journaled_state
                    .load_account(c.account)
                    .map_err(|e| e.to_string())?
                    .data
                    .info
                    .nonce;
                if c.newNonce < current {
                    return Err(format!(
                        "vm.setNonce: new nonce ({}) must be strictly equal to or higher than the \
                         account's current nonce ({current})",
                        c.newNonce
                    )
                    .into());
                }
                TestInspector::set_nonce(ctx, c.account, c.newNonce)?;
                unit()
            }
            C::getBlockNumber(_) => ok(ctx.block.number),
            C::getBlockTimestamp(_) => ok(ctx.block.timestamp),

            C::prank_0(c) => self.start_prank(caller, depth, c.msgSender, None, true),
            C::prank_1(c) => self.start_prank(caller, depth, c.msgSender, Some(c.txOrigin), true),
            C::startPrank_0(c) => self.start_prank(caller, depth, c.msgSender, None, false),
            C::startPrank_1(c) => {
                self.start_prank(caller, depth, c.msgSender, Some(c.txOrigin), false)
            }
            C::stopPrank(_) => {
                self.cheats.prank = None;
                unit()
            }

            C::deal(c) => {
                TestInspector::set_balance(ctx, c.account, c.newBalance)?;
                unit()
            }
            C::etch(c) => {
                not_precompile(ctx, c.target)?;
                TestInspector::etch(ctx, c.target, c.newRuntimeBytecode)?;
                unit()
            }
            C::store(c) => {
                not_precompile(ctx, c.target)?;
                ctx.journaled_state
                    .load_account(c.target)
                    .map_err(|e| e.to_string())?;
                ctx.journaled_state
                    .sstore(c.target, c.slot.into(), c.value.into())
                    .map_err(|e| e.to_string())?;
                unit()
            }
            C::load(c) => {
                not_precompile(ctx, c.target)?;
                ctx.journaled_state
                    .load_account(c.target)
                    .map_err(|e| e.to_string())?;
                let value = ctx
                    .journaled_state
                    .sload(c.target, c.slot.into())
                    .map_err(|e| e.to_string())?;
                let (cold, value) = (value.is_cold, value.data);
                let value = self
                    .arbitrary_value(ctx, c.target, c.slot.into(), cold, value)
                    .unwrap_or(value);
                ok(B256::from(value))
            }

            C::addr(c) => {
                check_private_key("vm.addr", c.privateKey)?;
                ok(signer(c.privateKey)?.address())
            }
            C::sign(c) => {
                let signature = signer(c.privateKey)?
                    .sign_hash_sync(&c.digest)
                    .map_err(|e| e.to_string())?;
                let v = 27u8 + signature.v() as u8;
                Ok(Bytes::from(
                    (
                        U256::from(v),
                        B256::from(signature.r()),
                        B256::from(signature.s()),
                    )
                        .abi_encode_params(),
                ))
            }
            C::startSnapshotGas_0(c) => self.start_gas_snapshot(None, c.name, depth),
            C::startSnapshotGas_1(c) => self.start_gas_snapshot(Some(c.group), c.name, depth),
            C::stopSnapshotGas_0(_) => self.stop_gas_snapshot(None),
            C::stopSnapshotGas_1(c) => {
                let group = self.snapshot_group(None);
                self.stop_gas_snapshot(Some((group, c.name)))
            }
            C::stopSnapshotGas_2(c) => self.stop_gas_snapshot(Some((c.group, c.name))),
            C::snapshotGasLastCall_0(c) => self.snapshot_last_call(None, c.name),
            C::snapshotGasLastCall_1(c) => self.snapshot_last_call(Some(c.group), c.name),
            C::snapshotValue_0(c) => {
                self.record_snapshot(None, c.name, c.value.to_string());
                unit()
            }
            C::snapshotValue_1(c) => {
                self.record_snapshot(Some(c.group), c.name, c.value.to_string());
                unit()
            }
            C::computeCreateAddress(c) => {
                let nonce = u64::try_from(c.nonce).map_err(|_| {
                    format!("computeCreateAddress: nonce {} is above 2^64-1", c.nonce)
                })?;
                ok(c.deployer.create(nonce))
            }
            C::computeCreate2Address_0(c) => ok(c.deployer.create2(c.salt, c.initCodeHash)),
            C::computeCreate2Address_1(c) => {
                ok(crate::vm::CREATE2_DEPLOYER.create2(c.salt, c.initCodeHash))
            }
            C::label(c) => {
                self.cheats.labels.insert(c.account, c.newLabel);
                unit()
            }
            C::getLabel(c) => ok(self
                .cheats
                .labels
                .get(&c.account)
                .cloned()
                .unwrap_or_else(|| format!("unlabeled:{}", c.account))),
            C::assume(c) => {
                if !c.condition {
                    self.cheats.assume_rejected = true;
                    return Err(crate::vm::ASSUME_MAGIC.into());
                }
                unit()
            }
            C::skip_0(c) => self.skip(c.skipTest, String::new()),
            C::skip_1(c) => self.skip(c.skipTest, c.reason),

            C::_expectCheatcodeRevert_0(_) => self.expect_cheatcode_revert(depth, None),
            C::_expectCheatcodeRevert_1(c) => {
                self.expect_cheatcode_revert(depth, Some(c.revertData.into()))
            }
            C::_expectCheatcodeRevert_2(c) => {
                self.expect_cheatcode_revert(depth, Some(c.revertData))
            }
            C::expectRevert_0(_) => self.expect_revert(depth, None, false, None, 1),
            C::expectRevert_1(c) => {
                self.expect_revert(depth, Some(c.revertData.into()), false, None, 1)
            }
            C::expectRevert_2(c) => self.expect_revert(depth, Some(c.revertData), false, None, 1),
            C::expectRevert_3(c) => self.expect_revert(depth, None, false, Some(c.reverter), 1),
            C::expectRevert_4(c) => {
                self.expect_revert(depth, Some(c.revertData.into()), false, Some(c.reverter), 1)
            }
            C::expectRevert_5(c) => {
                self.expect_revert(depth, Some(c.revertData), false, Some(c.reverter), 1)
            }
            C::expectPartialRevert_0(c) => {
                self.expect_revert(depth, Some(c.revertData.into()), true, None, 1)
            }
            C::expectRevert_6(c) => self.expect_revert(depth, None, false, None, c.count),
            C::expectRevert_7(c) => {
                self.expect_revert(depth, Some(c.revertData.into()), false, None, c.count)
            }
            C::expectRevert_8(c) => {
                self.expect_revert(depth, Some(c.revertData), false, None, c.count)
            }
            C::expectRevert_9(c) => {
                self.expect_revert(depth, None, false, Some(c.reverter), c.count)
            }
            C::expectRevert_10(c) => self.expect_revert(
                depth,
                Some(c.revertData.into()),
                false,
                Some(c.reverter),
                c.count,
            ),
            C::expectRevert_11(c) => {
                self.expect_revert(depth, Some(c.revertData), false, Some(c.reverter), c.count)
            }
            C::expectPartialRevert_1(c) => {
                self.expect_revert(depth, Some(c.revertData.into()), true, Some(c.reverter), 1)
            }

            // Checks are [topic 0, topic 1, topic 2, topic 3, data].
            C::expectEmit_0(_) => self.expect_emit(caller, depth, [true; 5], None, None),
            C::expectEmit_1(c) => self.expect_emit(caller, depth, [true; 5], Some(c.emitter), None),
            C::expectEmit_2(c) => self.expect_emit(
                caller,
                depth,
                named_event(c.checkTopic1, c.checkTopic2, c.checkTopic3, c.checkData),
                None,
                None,
            ),
            C::expectEmit_3(c) => self.expect_emit(
                caller,
                depth,
                named_event(c.checkTopic1, c.checkTopic2, c.checkTopic3, c.checkData),
                Some(c.emitter),
                None,
            ),
            C::expectEmit_4(c) => self.expect_emit(
                caller,
                depth,
                named_event(c.checkTopic1, c.checkTopic2, c.checkTopic3, c.checkData),
                None,
                Some(c.count),
            ),
            C::expectEmit_5(c) => self.expect_emit(
                caller,
                depth,
                named_event(c.checkTopic1, c.checkTopic2, c.checkTopic3, c.checkData),
                Some(c.emitter),
                Some(c.count),
            ),
            C::expectEmit_6(c) => self.expect_emit(caller, depth, [true; 5], None, Some(c.count)),
            C::expectEmit_7(c) => {
                self.expect_emit(caller, depth, [true; 5], Some(c.emitter), Some(c.count))
            }
            C::expectEmitAnonymous_0(c) => self.expect_emit(
                caller,
                depth,
                [
                    c.checkTopic0,
                    c.checkTopic1,
                    c.checkTopic2,
                    c.checkTopic3,
                    c.checkData,
                ],
                None,
                None,
            ),
            C::expectEmitAnonymous_1(c) => self.expect_emit(
                caller,
                depth,
                [
                    c.checkTopic0,
                    c.checkTopic1,
                    c.checkTopic2,
                    c.checkTopic3,
                    c.checkData,
                ],
                Some(c.emitter),
                None,
            ),
            C::expectEmitAnonymous_2(_) => self.expect_emit(caller, depth, [true; 5], None, None),
            C::expectEmitAnonymous_3(c) => {
                self.expect_emit(caller, depth, [true; 5], Some(c.emitter), None)
            }

            C::expectCall_0(c) => self.expect_call(c.callee, None, c.data, None),
            C::expectCall_1(c) => self.expect_call(c.callee, Some(c.msgValue), c.data, None),
            C::expectCall_2(c) => self.expect_call(c.callee, None, c.data, Some(c.count)),
            C::expectCall_3(c) => {
                self.expect_call(c.callee, Some(c.msgValue), c.data, Some(c.count))
            }

            C::mockCall_0(c) => self.mock(ctx, c.callee, None, c.data, c.returnData, false),
            C::mockCall_1(c) => {
                self.mock(ctx, c.callee, Some(c.msgValue), c.data, c.returnData, false)
            }
            C::mockCallRevert(c) => self.mock(ctx, c.callee, None, c.data, c.revertData, true),
            C::clearMockedCalls(_) => {
                self.cheats.mocks.clear();
                unit()
            }

            C::recordLogs(_) => {
                self.cheats.recorded_logs = Some(Vec::new());
                unit()
            }
            C::getRecordedLogs(_) => {
                let logs = self
                    .cheats
                    .recorded_logs
                    .replace(Vec::new())
                    .unwrap_or_default();
                let logs: Vec<Vm::Log> = logs
                    .into_iter()
                    .map(|l| Vm::Log {
                        topics: l.topics().to_vec(),
                        data: l.data.data.clone(),
                        emitter: l.address,
                    })
                    .collect();
                Ok(Bytes::from(Vm::getRecordedLogsCall::abi_encode_returns(
                    &logs,
                )))
            }
            C::record(_) => {
                self.cheats.accesses = Some(Default::default());
                self.cheats.accesses_stopped = false;
                unit()
            }
            C::accesses(c) => {
                let (reads, writes) = self
                    .cheats
                    .accesses
                    .as_ref()
                    .and_then(|a| a.get(&c.target).cloned())
                    .unwrap_or_default();
                Ok(Bytes::from((reads, writes).abi_encode_params()))
            }

            C::snapshot(_) => {
                refuse::<DB>("snapshot")?;
                ok(self.snapshot(ctx)?)
            }
            C::snapshotState(_) => {
                refuse::<DB>("snapshotState")?;
                ok(self.snapshot(ctx)?)
            }
            C::revertTo(c) => {
                refuse::<DB>("revertTo")?;
                ok(self.revert_to(ctx, c.snapshotId))
            }
            C::revertToState(c) => {
                refuse::<DB>("revertToState")?;
                ok(self.revert_to(ctx, c.snapshotId))
            }

            C::getCode(c) => ok(self.artifact_code("getCode", &c.artifactPath, false)?),
            C::getDeployedCode(c) => {
                ok(self.artifact_code("getDeployedCode", &c.artifactPath, true)?)
            }

            C::setEnv(c) => {
                set_env(c.name, c.value)?;
                unit()
            }
            C::envExists(c) => ok(env(&c.name).is_ok()),
            C::resolveEnv(c) => ok(resolve_env(&c.input)?),
            C::isContext(c) => ok(self.is_context(c.context)),
            C::resetNonce(c) => {
                // Foundry: 1 for a contract (EIP-161), 0 for an account without code.
                let account = ctx
                    .journaled_state
                    .load_account_with_code(c.account)
                    .map_err(|e| e.to_string())?;
                let has_code = account
                    .data
                    .info
                    .code
                    .as_ref()
                    .is_some_and(|code| !code.is_empty());
                TestInspector::set_nonce(ctx, c.account, u64::from(has_code))?;
                unit()
            }
            C::randomUint_0(_) => ok(U256::from_be_bytes(self.random_word())),
            C::randomUint_1(c) => {
                if c.min > c.max {
                    return Err(format!(
                        "vm.randomUint: min {} is greater than max {}",
                        c.min, c.max
                    )
                    .into());
                }
                let random = U256::from_be_bytes(self.random_word());
                let span = c.max - c.min;
                if span == U256::MAX {
                    return ok(random);
                }
                ok(c.min + random % (span + U256::from(1)))
            }
            C::randomAddress(_) => ok(Address::from_word(self.random_word().into())),
            C::randomBool(_) => ok(self.random_word()[31] & 1 == 1),
            C::randomUint_2(c) => ok(self.random_bits(c.bits, "vm.randomUint")?),
            C::randomInt_0(_) => ok(I256::from_raw(U256::from_be_bytes(self.random_word()))),
            C::randomInt_1(c) => {
                let bits = c.bits;
                let value = self.random_bits(bits, "vm.randomInt")?;
                // Two's complement within `bits`: [-2^(bits-1), 2^(bits-1)).
                let bits = bits.to::<usize>();
                if bits == 0 || bits == 256 || !value.bit(bits - 1) {
                    ok(I256::from_raw(value))
                } else {
                    ok(I256::from_raw(value) - I256::from_raw(U256::from(1) << bits))
                }
            }
            C::randomBytes(c) => {
                const LIMIT: usize = 1 << 24;
                let len: usize = c
                    .len
                    .try_into()
                    .ok()
                    .filter(|len| *len <= LIMIT)
                    .ok_or_else(|| {
                        format!("vm.randomBytes: {} bytes is more than {LIMIT}", c.len)
                    })?;
                let mut bytes = Vec::with_capacity(len + 32);
                while bytes.len() < len {
                    bytes.extend_from_slice(&self.random_word());
                }
                bytes.truncate(len);
                ok(Bytes::from(bytes))
            }
            C::randomBytes4(_) => ok(alloy::primitives::FixedBytes::<4>::from_slice(
                &self.random_word()[..4],
            )),
            C::randomBytes8(_) => ok(alloy::primitives::FixedBytes::<8>::from_slice(
                &self.random_word()[..8],
            )),
            C::shuffle(c) => {
                let mut array = c.array;
                // Fisher-Yates, drawing from the cheatcode generator.
                for i in (1..array.len()).rev() {
                    let j = U256::from_be_bytes(self.random_word()) % U256::from(i + 1);
                    array.swap(i, j.to::<usize>());
                }
                ok(array)
            }
            C::sort(c) => {
                let mut array = c.array;
                array.sort_unstable();
                ok(array)
            }
            C::setSeed(c) => {
                self.cheats.rng = Some(seeded_rng(c.seed));
                unit()
            }
            C::projectRoot(_) => ok(self.project_root()?.display().to_string()),
            C::readFile(c) => {
                let path = self.project_path(&c.path)?;
                ok(std::fs::read_to_string(&path)
                    .map_err(|e| format!("vm.readFile: {}: {e}", path.display()))?)
            }
            C::readFileBinary(c) => {
                let path = self.project_path(&c.path)?;
                ok(Bytes::from(std::fs::read(&path).map_err(|e| {
                    format!("vm.readFileBinary: {}: {e}", path.display())
                })?))
            }
            C::writeFile(c) => {
                let path = self.project_write_path(&c.path)?;
                write_project_file(&path, c.data.as_bytes())?;
                unit()
            }
            C::writeFileBinary(c) => {
                let path = self.project_write_path(&c.path)?;
                write_project_file(&path, &c.data)?;
                unit()
            }
            C::exists(c) => ok(self.project_path(&c.path)?.exists()),
            C::isFile(c) => ok(self.project_path(&c.path)?.is_file()),
            C::isDir(c) => ok(self.project_path(&c.path)?.is_dir()),
            C::copyFile(c) => {
                let from = self.project_path(&c.from)?;
                let to = self.project_write_path(&c.to)?;
                let copied = std::fs::copy(&from, &to).map_err(|e| {
                    format!("vm.copyFile: {} to {}: {e}", from.display(), to.display())
                })?;
                ok(copied)
            }
            C::removeFile(c) => {
                let path = self.project_write_path(&c.path)?;
                // A file written again after this reads from its first line.
                self.cheats.line_cursors.remove(&path);
                std::fs::remove_file(&path)
                    .map_err(|e| format!("vm.removeFile: {}: {e}", path.display()))?;
                unit()
            }
            C::envBool(c) => ok(parse_bool(&env(&c.name)?)?),
            C::envUint(c) => ok(env_number(&c.name, "uint256", parse_uint)?),
            C::envInt(c) => ok(env_number(&c.name, "int256", parse_int)?),
            C::envAddress(c) => ok(parse_address(&env(&c.name)?)?),
            C::envBytes32(c) => ok(parse_bytes32(&env(&c.name)?)?),
            C::envString(c) => ok(env(&c.name)?),
            C::envBytes(c) => ok(parse_bytes(&env(&c.name)?)?),
            C::envOr_0(c) => ok(env_or(&c.name, c.defaultValue, parse_bool)?),
            C::envOr_1(c) => ok(env_or(&c.name, c.defaultValue, parse_uint)?),
            C::envOr_2(c) => ok(env_or(&c.name, c.defaultValue, parse_int)?),
            C::envOr_3(c) => ok(env_or(&c.name, c.defaultValue, parse_address)?),
            C::envOr_4(c) => ok(env_or(&c.name, c.defaultValue, parse_bytes32)?),
            C::envOr_5(c) => ok(env_or(&c.name, c.defaultValue, |s| Ok(s.to_string()))?),
            C::envOr_6(c) => ok(env_or(&c.name, c.defaultValue, parse_bytes)?),
            C::envOr_7(c) => ok(env_or_array(&c.name, &c.delim, c.defaultValue, parse_bool)?),
            C::envOr_8(c) => ok(env_or_array(&c.name, &c.delim, c.defaultValue, parse_uint)?),
            C::envOr_9(c) => ok(env_or_array(&c.name, &c.delim, c.defaultValue, parse_int)?),
            C::envOr_10(c) => ok(env_or_array(
                &c.name,
                &c.delim,
                c.defaultValue,
                parse_address,
            )?),
            C::envOr_11(c) => ok(env_or_array(
                &c.name,
                &c.delim,
                c.defaultValue,
                parse_bytes32,
            )?),
            C::envOr_12(c) => ok(env_or_array(&c.name, &c.delim, c.defaultValue, |s| {
                Ok(s.to_string())
            })?),
            C::envOr_13(c) => ok(env_or_array(
                &c.name,
                &c.delim,
                c.defaultValue,
                parse_bytes,
            )?),

            C::toString_0(c) => ok(c.value.to_checksum(None)),
            C::toString_1(c) => ok(hex::encode_prefixed(&c.value)),
            C::toString_2(c) => ok(hex::encode_prefixed(c.value)),
            C::toString_3(c) => ok(c.value.to_string()),
            C::toString_4(c) => ok(c.value.to_string()),
            C::toString_5(c) => ok(c.value.to_string()),
            C::parseBytes(c) => ok(parse_bytes(&c.stringifiedValue)?),
            C::parseAddress(c) => ok(parse_address(&c.stringifiedValue)?),
            C::parseUint(c) => ok(parse_uint(&c.stringifiedValue)?),
            C::parseInt(c) => ok(parse_int(&c.stringifiedValue)?),
            C::parseBytes32(c) => ok(parse_bytes32(&c.stringifiedValue)?),
            C::parseBool(c) => ok(parse_bool(&c.stringifiedValue)?),

            C::assertTrue_0(c) => check(c.condition, || "assertion failed".to_string()),
            C::assertTrue_1(c) => check(c.condition, || c.error.clone()),
            C::assertFalse_0(c) => check(!c.condition, || "assertion failed".to_string()),
            C::assertFalse_1(c) => check(!c.condition, || c.error.clone()),

            C::assertEq_0(c) => eq(&c.left, &c.right, None),
            C::assertEq_1(c) => eq(&c.left, &c.right, Some(&c.error)),
            C::assertEq_2(c) => eq(&c.left, &c.right, None),
            C::assertEq_3(c) => eq(&c.left, &c.right, Some(&c.error)),
            C::assertEq_4(c) => eq(&c.left, &c.right, None),
            C::assertEq_5(c) => eq(&c.left, &c.right, Some(&c.error)),
            C::assertEq_6(c) => eq(&Checksummed(c.left), &Checksummed(c.right), None),
            C::assertEq_7(c) => eq(&Checksummed(c.left), &Checksummed(c.right), Some(&c.error)),
            C::assertEq_8(c) => eq(&c.left, &c.right, None),
            C::assertEq_9(c) => eq(&c.left, &c.right, Some(&c.error)),
            C::assertEq_10(c) => eq(&c.left, &c.right, None),
            C::assertEq_11(c) => eq(&c.left, &c.right, Some(&c.error)),
            C::assertEq_12(c) => eq(&HexBytes(c.left), &HexBytes(c.right), None),
            C::assertEq_13(c) => eq(&HexBytes(c.left), &HexBytes(c.right), Some(&c.error)),
            C::assertEq_14(c) => eq(&List(c.left), &List(c.right), None),
            C::assertEq_15(c) => eq(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertEq_16(c) => eq(&List(c.left), &List(c.right), None),
            C::assertEq_17(c) => eq(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertEq_18(c) => eq(&List(c.left), &List(c.right), None),
            C::assertEq_19(c) => eq(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertEq_20(c) => eq(
                &List(checksummed(c.left)),
                &List(checksummed(c.right)),
                None,
            ),
            C::assertEq_21(c) => eq(
                &List(checksummed(c.left)),
                &List(checksummed(c.right)),
                Some(&c.error),
            ),
            C::assertEq_22(c) => eq(&List(c.left), &List(c.right), None),
            C::assertEq_23(c) => eq(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertEq_24(c) => eq(&List(c.left), &List(c.right), None),
            C::assertEq_25(c) => eq(&List(c.left), &List(c.right), Some(&c.error)),
            C::assertEq_26(c) => eq(&List(hexes(c.left)), &List(hexes(c.right)), None),
            C::assertEq_27(c) => eq(&List(hexes(c.left)), &List(hexes(c.right)), Some(&c.error)),

            C::assertNotEq_0(c) => ne(&c.left, &c.right, None),
            C::assertNotEq_1(c) => ne(&c.left, &c.right, Some(&c.error)),
            C::assertNotEq_2(c) => ne(&c.left, &c.right, None),
            C::assertNotEq_3(c) => ne(&c.left, &c.right, Some(&c.error)),
            C::assertNotEq_4(c) => ne(&c.left, &c.right, None),
            C::assertNotEq_5(c) => ne(&c.left, &c.right, Some(&c.error)),
            C::assertNotEq_6(c) => ne(&Checksummed(c.left), &Checksummed(c.right), None),
            C::assertNotEq_7(c) => ne(&Checksummed(c.left), &Checksummed(c.right), Some(&c.error)),
            C::assertNotEq_8(c) => ne(&c.left, &c.right, None),
            C::assertNotEq_9(c) => ne(&c.left, &c.right, Some(&c.error)),
            C::assertNotEq_10(c) => ne(&c.left, &c.right, None),
            C::assertNotEq_11(c) => ne(&c.left, &c.right, Some(&c.error)),
            C::assertNotEq_12(c) => ne(&HexBytes(c.left), &HexBytes(c.right), None),
            C::assertNotEq_13(c) => ne(&HexBytes(c.left), &HexBytes(c.right), Some(&c.error)),

            C::assertLt_0(c) => cmp(c.left < c.right, &c.left, ">=", &c.right, None),
            C::assertLt_1(c) => cmp(c.left < c.right, &c.left, ">=", &c.right, Some(&c.error)),
            C::assertLt_2(c) => cmp(c.left < c.right, &c.left, ">=", &c.right, None),
            C::assertLt_3(c) => cmp(c.left < c.right, &c.left, ">=", &c.right, Some(&c.error)),
            C::assertGt_0(c) => cmp(c.left > c.right, &c.left, "<=", &c.right, None),
            C::assertGt_1(c) => cmp(c.left > c.right, &c.left, "<=", &c.right, Some(&c.error)),
            C::assertGt_2(c) => cmp(c.left > c.right, &c.left, "<=", &c.right, None),
            C::assertGt_3(c) => cmp(c.left > c.right, &c.left, "<=", &c.right, Some(&c.error)),
            C::assertLe_0(c) => cmp(c.left <= c.right, &c.left, ">", &c.right, None),
            C::assertLe_1(c) => cmp(c.left <= c.right, &c.left, ">", &c.right, Some(&c.error)),
            C::assertLe_2(c) => cmp(c.left <= c.right, &c.left, ">", &c.right, None),
            C::assertLe_3(c) => cmp(c.left <= c.right, &c.left, ">", &c.right, Some(&c.error)),
            C::assertGe_0(c) => cmp(c.left >= c.right, &c.left, "<", &c.right, None),
            C::assertGe_1(c) => cmp(c.left >= c.right, &c.left, "<", &c.right, Some(&c.error)),
            C::assertGe_2(c) => cmp(c.left >= c.right, &c.left, "<", &c.right, None),
            C::assertGe_3(c) => cmp(c.left >= c.right, &c.left, "<", &c.right, Some(&c.error)),

            C::assertApproxEqAbs_0(c) => approx_abs(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxDelta,
                false,
                None,
                None,
            ),
            C::assertApproxEqAbs_1(c) => approx_abs(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxDelta,
                false,
                None,
                Some(&c.error),
            ),
            C::assertApproxEqAbs_2(c) => approx_abs(c.left, c.right, c.maxDelta, true, None, None),
            C::assertApproxEqAbs_3(c) => {
                approx_abs(c.left, c.right, c.maxDelta, true, None, Some(&c.error))
            }
            C::assertApproxEqRel_0(c) => approx_rel(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxPercentDelta,
                false,
                None,
                None,
            ),
            C::assertApproxEqRel_1(c) => approx_rel(
                I256::from_raw(c.left),
                I256::from_raw(c.right),
                c.maxPercentDelta,
                false,
                None,
                Some(&c.error),
            ),
            C::assertApproxEqRel_2(c) => {
                approx_rel(c.left, c.right, c.maxPercentDelta, true, None, None)
            }
            C::assertApproxEqRel_3(c) => approx_rel(
                c.left,
                c.right,
                c.maxPercentDelta,
                true,
                None,
                Some(&c.error),
            ),
        }
    }

    pub(crate) fn start_prank(
        &mut self,
        caller: Address,
        depth: usize,
        sender: Address,
        origin: Option<Address>,
        single_use: bool,
    ) -> CheatResult {
        // forge's rules and wording: a prank that no call has used yet
        // may not be replaced, and a used `startPrank` only by another one.
        let cheatcode = if single_use {
            "vm.prank"
        } else {
            "vm.startPrank"
        };
        if let Some(existing) = &self.cheats.prank {
            if !existing.used {
                return Err(format!(
                    "{cheatcode}: cannot overwrite a prank until it is applied at least once"
                )
                .into());
            }
            if existing.single_use != single_use {
                return Err(format!(
                    "{cheatcode}: cannot override an ongoing prank with a single vm.prank; \
                     use vm.startPrank to override the current prank"
                )
                .into());
            }
        }
        self.cheats.prank = Some(Prank {
            prank_caller: caller,
            sender,
            origin,
            depth,
            single_use,
            delegate_call: false,
            used: false,
        });
        unit()
    }

    fn skip(&mut self, skip: bool, reason: String) -> CheatResult {
        if skip {
            self.cheats.skipped = Some(reason);
            return Err(crate::vm::SKIP_MAGIC.into());
        }
        unit()
    }

    fn expect_revert(
        &mut self,
        depth: usize,
        data: Option<Bytes>,
        partial: bool,
        reverter: Option<Address>,
        count: u64,
    ) -> CheatResult {
        // A counted expectation that has already met some of its calls gives
        // way to a new one, as in Foundry.
        if self
            .cheats
            .expected_revert
            .as_ref()
            .is_some_and(|pending| pending.reverted == 0)
        {
            return Err(
                "vm.expectRevert: you must call another function before calling expectRevert again"
                    .into(),
            );
        }
        self.cheats.expected_revert = Some(ExpectedRevert {
            data,
            partial,
            reverter,
            depth,
            count,
            reverted: 0,
            armed: false,
            actual_reverter: None,
            cheatcode_only: false,
        });
        unit()
    }

    /// `vm._expectCheatcodeRevert`: as `expectRevert`, for the next cheatcode
    /// call only (forge-std's own tests expect an assertion cheatcode to fail
    /// after ordinary calls that must run unchecked).
    fn expect_cheatcode_revert(&mut self, depth: usize, data: Option<Bytes>) -> CheatResult {
        self.expect_revert(depth, data, false, None, 1)?;
        if let Some(expected) = self.cheats.expected_revert.as_mut() {
            expected.cheatcode_only = true;
        }
        unit()
    }

    fn expect_emit(
        &mut self,
        caller: Address,
        depth: usize,
        checks: [bool; 5],
        emitter: Option<Address>,
        count: Option<u64>,
    ) -> CheatResult {
        self.cheats.expected_emits.push(ExpectedEmit {
            depth,
            caller,
            checks,
            emitter,
            count,
            log: None,
            seen: 0,
        });
        unit()
    }

    fn expect_call(
        &mut self,
        callee: Address,
        value: Option<U256>,
        data: Bytes,
        count: Option<u64>,
    ) -> CheatResult {
        self.cheats.expected_calls.push(ExpectedCall {
            callee,
            value,
            data,
            count,
            seen: 0,
            gas: None,
            min_gas: None,
        });
        unit()
    }

    pub(crate) fn mock<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        callee: Address,
        value: Option<U256>,
        data: Bytes,
        output: Bytes,
        revert: bool,
    ) -> CheatResult {
        // Solidity checks `extcodesize` before calls without return data; give
        // empty accounts a STOP so mocks on them work, as Foundry does.
        if !TestInspector::has_code(ctx, callee) {
            TestInspector::etch(ctx, callee, Bytes::from_static(&[0x00]))?;
        }
        let _ = ctx.journaled_state.depth();
        self.cheats
            .mocks
            .retain(|m| !(m.callee == callee && m.data == data && m.value == value));
        self.cheats.mocks.push(MockedCall {
            callee,
            value,
            data,
            output,
            revert,
            then: vec![],
        });
        unit()
    }
}

/// Fails a cheatcode the database cannot support (see [`CheatDatabase::refuses`]).
pub(crate) fn refuse<DB: CheatDatabase>(name: &str) -> Result<(), CheatError> {
    match DB::refuses(name) {
        Some(refusal) => Err(refusal.into()),
        None => Ok(()),
    }
}

/// forge's checks of a secp256k1 private key, in its words.
/// `vm.load`/`store`/`etch` refuse a precompile, as forge does (with its
/// wording, which tests match): it has no storage or code to change.
fn not_precompile<DB: CheatDatabase>(
    ctx: &CheatContext<DB>,
    address: Address,
) -> Result<(), CheatError> {
    if ctx
        .journaled_state
        .precompile_addresses()
        .contains(&address)
    {
        return Err(format!("cannot use precompile {address} as an argument").into());
    }
    Ok(())
}

fn check_private_key(cheatcode: &str, key: U256) -> Result<(), CheatError> {
    let order = U256::from_be_slice(&hex!(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
    ));
    if key.is_zero() {
        return Err(format!("{cheatcode}: private key cannot be 0").into());
    }
    if key >= order {
        return Err(format!(
            "{cheatcode}: private key must be less than the Secp256k1 curve order ({order})"
        )
        .into());
    }
    Ok(())
}

fn signer(key: U256) -> Result<PrivateKeySigner, CheatError> {
    PrivateKeySigner::from_bytes(&B256::from(key))
        .map_err(|e| format!("invalid private key: {e}").into())
}

/// Variables set by `vm.setEnv`: process-wide, as in forge (later tests see
/// them), but kept beside the environment rather than written into it, since
/// changing the real environment while other threads read it is unsound.
static SET_ENV: std::sync::LazyLock<std::sync::RwLock<std::collections::HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

fn set_env(name: String, value: String) -> Result<(), CheatError> {
    if name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0') {
        return Err(
            format!("setEnv: environment variable `{name}` is not a valid name or value").into(),
        );
    }
    SET_ENV
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(name, value);
    Ok(())
}

/// A variable set by `vm.setEnv`, else from the environment.
fn env_var(name: &str) -> Option<String> {
    let set = SET_ENV
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(name)
        .cloned();
    set.or_else(|| std::env::var(name).ok())
}

/// `vm.resolveEnv`: every `${NAME}` (spaces inside the braces allowed)
/// replaced by the variable's value, with Foundry's message for a missing one.
pub(crate) fn resolve_env(input: &str) -> Result<String, CheatError> {
    static PLACEHOLDER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\$\{\s*(.*?)\s*\}").expect("a valid pattern")
    });
    let placeholders = PLACEHOLDER.captures_iter(input).count();
    let mut resolved = input.to_string();
    for found in PLACEHOLDER.captures_iter(input) {
        let name = &found[1];
        let value = env_var(name).ok_or_else(|| {
            let whole = if placeholders > 1 {
                format!(" in `{input}`")
            } else {
                String::new()
            };
            format!("failed to resolve env var: environment variable `{name}` not found{whole}")
        })?;
        resolved = resolved.replacen(&found[0], &value, 1);
    }
    Ok(resolved)
}

pub(crate) fn env(name: &str) -> Result<String, CheatError> {
    env_var(name).ok_or_else(|| format!("environment variable `{name}` not found").into())
}

/// Variable `name` read as a number; hex digits without their `0x` fail
/// as in forge, naming the variable rather than showing its value.
fn env_number<T>(
    name: &str,
    ty: &str,
    parse: impl Fn(&str) -> Result<T, CheatError>,
) -> Result<T, CheatError> {
    let value = env(name)?;
    parse(&value).map_err(|error| {
        let value = value.trim();
        if !value.starts_with("0x") && hex::check_raw(value) {
            format!(
                "failed parsing ${name} as type `{ty}`: missing hex prefix (\"0x\") for hex string"
            )
            .into()
        } else {
            error
        }
    })
}

fn env_or<T>(
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Result<T, CheatError>,
) -> Result<T, CheatError> {
    match env_var(name) {
        Some(value) => parse(&value),
        None => Ok(default),
    }
}

/// `envOr(name, delim, default[])`: the variable split on `delim`, each
/// part trimmed and parsed, or `default` when it is not set.
fn env_or_array<T>(
    name: &str,
    delim: &str,
    default: Vec<T>,
    parse: impl Fn(&str) -> Result<T, CheatError>,
) -> Result<Vec<T>, CheatError> {
    if delim.is_empty() {
        return Err(format!("vm.envOr: an empty delimiter cannot split `{name}`").into());
    }
    match env_var(name) {
        // An empty variable is an empty array, as in forge.
        Some(value) if value.trim().is_empty() => Ok(Vec::new()),
        Some(value) => value.split(delim).map(|part| parse(part.trim())).collect(),
        None => Ok(default),
    }
}

pub(crate) fn parse_bool(s: &str) -> Result<bool, CheatError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("failed parsing `{other}` as type `bool`").into()),
    }
}

pub(crate) fn parse_uint(s: &str) -> Result<U256, CheatError> {
    let s = s.trim();
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => U256::from_str_radix(hex, 16),
        None => U256::from_str_radix(s, 10),
    };
    parsed.map_err(|_| format!("failed parsing `{s}` as type `uint256`").into())
}

pub(crate) fn parse_int(s: &str) -> Result<I256, CheatError> {
    let s = s.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let magnitude =
        parse_uint(digits).map_err(|_| format!("failed parsing `{s}` as type `int256`"))?;
    // -2^255 has no positive counterpart: negate in two's complement.
    let overflow = || format!("`{s}` overflows int256");
    if negative {
        if magnitude > U256::from(1) << 255 {
            return Err(overflow().into());
        }
        return Ok(I256::from_raw(magnitude.wrapping_neg()));
    }
    I256::try_from(magnitude).map_err(|_| overflow().into())
}

pub(crate) fn parse_address(s: &str) -> Result<Address, CheatError> {
    s.trim()
        .parse()
        .map_err(|_| format!("failed parsing `{s}` as type `address`").into())
}

pub(crate) fn parse_bytes32(s: &str) -> Result<B256, CheatError> {
    let bytes = parse_bytes(s)?;
    if bytes.len() > 32 {
        return Err(format!("failed parsing `{s}` as type `bytes32`: too long").into());
    }
    let mut word = [0u8; 32];
    word[..bytes.len()].copy_from_slice(&bytes);
    Ok(B256::from(word))
}

pub(crate) fn parse_bytes(s: &str) -> Result<Bytes, CheatError> {
    let s = s.trim();
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map(Bytes::from)
        .map_err(|_| format!("failed parsing `{s}` as type `bytes`").into())
}

/// The checks of `expectEmit` for a non-anonymous event: its topic 0 is the
/// event's signature, always compared.
fn named_event(topic1: bool, topic2: bool, topic3: bool, data: bool) -> [bool; 5] {
    [true, topic1, topic2, topic3, data]
}

/// An address shown checksummed in messages.
#[derive(PartialEq)]
pub(crate) struct Checksummed(Address);
impl Display for Checksummed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.to_checksum(None))
    }
}
pub(crate) fn checksummed(values: Vec<Address>) -> Vec<Checksummed> {
    values.into_iter().map(Checksummed).collect()
}

/// Bytes shown as hex in messages.
#[derive(PartialEq)]
pub(crate) struct HexBytes(Bytes);
impl Display for HexBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode_prefixed(&self.0))
    }
}
pub(crate) fn hexes(values: Vec<Bytes>) -> Vec<HexBytes> {
    values.into_iter().map(HexBytes).collect()
}

/// A list shown as `[a, b, c]`.
#[derive(PartialEq)]
pub(crate) struct List<T>(pub(crate) Vec<T>);
impl<T: Display> Display for List<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self.0.iter().map(|i| i.to_string()).collect();
        write!(f, "[{}]", items.join(", "))
    }
}

fn check(condition: bool, message: impl FnOnce() -> String) -> CheatResult {
    if condition {
        unit()
    } else {
        Err(message().into())
    }
}

fn prefixed(message: Option<&String>, body: String) -> String {
    match message {
        Some(m) if !m.is_empty() => format!("{m}: {body}"),
        _ => format!("assertion failed: {body}"),
    }
}

pub(crate) fn eq<T: PartialEq + Display>(
    left: &T,
    right: &T,
    message: Option<&String>,
) -> CheatResult {
    check(left == right, || {
        prefixed(message, format!("{left} != {right}"))
    })
}

pub(crate) fn ne<T: PartialEq + Display>(
    left: &T,
    right: &T,
    message: Option<&String>,
) -> CheatResult {
    check(left != right, || {
        prefixed(message, format!("{left} == {right}"))
    })
}

pub(crate) fn cmp<T: Display>(
    holds: bool,
    left: &T,
    op: &str,
    right: &T,
    message: Option<&String>,
) -> CheatResult {
    check(holds, || prefixed(message, format!("{left} {op} {right}")))
}

/// Formats `left`/`right` as unsigned or signed depending on the overload,
/// with `decimals` places for the `*Decimal` assertions.
fn show(value: I256, unsigned: bool, decimals: Option<U256>) -> String {
    use crate::cheatcodes_assert::Decimal;
    match (decimals, unsigned) {
        (None, true) => value.into_raw().to_string(),
        (None, false) => value.to_string(),
        (Some(places), true) => Decimal(value.into_raw(), places).to_string(),
        (Some(places), false) => Decimal(value, places).to_string(),
    }
}

pub(crate) fn approx_abs(
    left: I256,
    right: I256,
    max_delta: U256,
    signed: bool,
    decimals: Option<U256>,
    message: Option<&String>,
) -> CheatResult {
    let unsigned = !signed;
    let delta = if unsigned {
        let (l, r) = (left.into_raw(), right.into_raw());
        if l > r { l - r } else { r - l }
    } else {
        (left - right).unsigned_abs()
    };
    check(delta <= max_delta, || {
        prefixed(
            message,
            format!(
                "{} !~= {} (max delta: {}, real delta: {})",
                show(left, unsigned, decimals),
                show(right, unsigned, decimals),
                show(I256::from_raw(max_delta), true, decimals),
                show(I256::from_raw(delta), true, decimals)
            ),
        )
    })
}

pub(crate) fn approx_rel(
    left: I256,
    right: I256,
    max_percent: U256,
    signed: bool,
    decimals: Option<U256>,
    message: Option<&String>,
) -> CheatResult {
    let unsigned = !signed;
    let (delta, base) = if unsigned {
        let (l, r) = (left.into_raw(), right.into_raw());
        (if l > r { l - r } else { r - l }, r)
    } else {
        // |left - right| without overflow: `int256.min` against
        // `int256.max` is 2^256 - 1 apart, which still fits unsigned.
        let (l, r) = (left.unsigned_abs(), right.unsigned_abs());
        let delta = if left.is_negative() == right.is_negative() {
            l.abs_diff(r)
        } else {
            l.wrapping_add(r)
        };
        (delta, r)
    };
    if base.is_zero() {
        return check(left == right, || {
            prefixed(
                message,
                format!(
                    "{} !~= {} (max delta: {}%, real delta: undefined)",
                    show(left, unsigned, decimals),
                    show(right, unsigned, decimals),
                    format_percent(max_percent)
                ),
            )
        });
    }
    // As forge: the product in 512 bits, so only a relative delta that
    // itself exceeds 256 bits overflows.
    use alloy::primitives::U512;
    let wad = U512::from(10u64).pow(U512::from(18));
    let scaled = U512::from(delta) * wad / U512::from(base);
    let Some(percent) = U256::checked_from_limbs_slice(scaled.as_limbs()) else {
        return Err(prefixed(message, "overflow in delta calculation".into()).into());
    };
    check(percent <= max_percent, || {
        prefixed(
            message,
            format!(
                "{} !~= {} (max delta: {}%, real delta: {}%)",
                show(left, unsigned, decimals),
                show(right, unsigned, decimals),
                format_percent(max_percent),
                format_percent(percent)
            ),
        )
    })
}

/// `1e18` = 100%, with forge's 16 decimals (`99.9999999999999999`).
fn format_percent(value: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(16));
    format!("{}.{:016}", value / unit, (value % unit).to::<u64>())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::{cell::Cell, sync::Arc};

    use alloy::{
        primitives::{Bytes, U256},
        sol_types::SolCall,
    };

    use crate::{
        ArtifactSet,
        backend::Backend,
        executor::{CallOptions, Executor, panic_message},
        vm::{CHEATCODE_ADDRESS, DEFAULT_SENDER, Vm},
    };

    thread_local! {
        /// Makes every cheatcode panic, to check how panics are reported.
        pub(crate) static PANIC_IN_CHEATCODES: Cell<bool> = const { Cell::new(false) };
    }

    #[test]
    fn a_panic_in_a_cheatcode_names_the_cheatcode() {
        let mut exec = Executor::new(Backend::empty(), Arc::new(ArtifactSet::default()));
        let data = Bytes::from(Vm::getBlockNumberCall {}.abi_encode());
        PANIC_IN_CHEATCODES.set(true);
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exec.call(
                DEFAULT_SENDER,
                CHEATCODE_ADDRESS,
                data,
                U256::ZERO,
                CallOptions::default(),
            )
        }))
        .expect_err("the cheatcode panics");
        PANIC_IN_CHEATCODES.set(false);
        assert_eq!(
            panic_message(panic.as_ref()),
            "injected cheatcode panic (in cheatcode vm.getBlockNumber())"
        );
    }
}
