//! Smaller Foundry cheatcodes: string utilities, `readCallers`, snapshot
//! deletion, `prevrandao(uint256)`, selector mocks, environment arrays,
//! line-wise files, `unixTime`, `toBase64`/`toBase64URL`, `toRlp`/`fromRlp`,
//! `stopRecord`, `currentFilePath` and `mockCalls`.

use alloy::{
    primitives::{B256, Bytes, U256},
    rlp::{Decodable, Encodable},
    sol_types::SolValue,
};
use base64::{
    Engine,
    prelude::{BASE64_STANDARD, BASE64_URL_SAFE},
};

use revm::context::JournalTr;

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::{
        CheatError, CheatResult, env, parse_address, parse_bool, parse_bytes, parse_bytes32,
        parse_int, parse_uint, refuse,
    },
    inspector::TestInspector,
};

alloy::sol! {
    /// Foundry's cheatcodes served by this module.
    #[derive(Debug)]
    interface VmMisc {
        enum CallerMode { None, Broadcast, RecurrentBroadcast, Prank, RecurrentPrank }
        struct Wallet { address addr; uint256 publicKeyX; uint256 publicKeyY; uint256 privateKey; }

        function toUppercase(string calldata input) external pure returns (string memory output);
        function toLowercase(string calldata input) external pure returns (string memory output);
        function trim(string calldata input) external pure returns (string memory output);
        function replace(string calldata input, string calldata from, string calldata to) external pure returns (string memory output);
        function split(string calldata input, string calldata delimiter) external pure returns (string[] memory outputs);
        function indexOf(string calldata input, string calldata key) external pure returns (uint256);
        function contains(string calldata subject, string calldata search) external pure returns (bool result);

        function readCallers() external view returns (CallerMode callerMode, address msgSender, address txOrigin);
        function prevrandao(uint256 newPrevrandao) external;

        function deleteSnapshot(uint256 snapshotId) external returns (bool success);
        function deleteSnapshots() external;
        function deleteStateSnapshot(uint256 snapshotId) external returns (bool success);
        function deleteStateSnapshots() external;
        function revertToAndDelete(uint256 snapshotId) external returns (bool success);
        function revertToStateAndDelete(uint256 snapshotId) external returns (bool success);

        function mockCall(address callee, bytes4 data, bytes calldata returnData) external;
        function mockCall(address callee, uint256 msgValue, bytes4 data, bytes calldata returnData) external;
        function mockCallRevert(address callee, bytes4 data, bytes calldata revertData) external;
        function mockCallRevert(address callee, uint256 msgValue, bytes4 data, bytes calldata revertData) external;
        function mockCallRevert(address callee, uint256 msgValue, bytes calldata data, bytes calldata revertData) external;

        function envBool(string calldata name, string calldata delim) external view returns (bool[] memory value);
        function envUint(string calldata name, string calldata delim) external view returns (uint256[] memory value);
        function envInt(string calldata name, string calldata delim) external view returns (int256[] memory value);
        function envAddress(string calldata name, string calldata delim) external view returns (address[] memory value);
        function envBytes32(string calldata name, string calldata delim) external view returns (bytes32[] memory value);
        function envString(string calldata name, string calldata delim) external view returns (string[] memory value);
        function envBytes(string calldata name, string calldata delim) external view returns (bytes[] memory value);

        function expectCall(address callee, uint256 msgValue, uint64 gas, bytes calldata data) external;
        function expectCall(address callee, uint256 msgValue, uint64 gas, bytes calldata data, uint64 count) external;
        function expectCallMinGas(address callee, uint256 msgValue, uint64 minGas, bytes calldata data) external;
        function expectCallMinGas(address callee, uint256 msgValue, uint64 minGas, bytes calldata data, uint64 count) external;

        function writeLine(string calldata path, string calldata data) external;
        function readLine(string calldata path) external view returns (string memory line);
        function unixTime() external view returns (uint256 milliseconds);
        function sleep(uint256 duration) external;
        function getNonce(Wallet calldata wallet) external view returns (uint64 nonce);
        function setNonceUnsafe(address account, uint64 newNonce) external;

        function toBase64(bytes calldata data) external pure returns (string memory);
        function toBase64(string calldata data) external pure returns (string memory);
        function toBase64URL(bytes calldata data) external pure returns (string memory);
        function toBase64URL(string calldata data) external pure returns (string memory);

        function toRlp(bytes[] calldata data) external pure returns (bytes memory);
        function fromRlp(bytes calldata rlp) external pure returns (bytes[] memory data);

        function stopRecord() external;
        function mockCalls(address callee, bytes calldata data, bytes[] calldata returnData) external;
        function mockCalls(address callee, uint256 msgValue, bytes calldata data, bytes[] calldata returnData) external;
        function currentFilePath() external view returns (string memory path);
    }
}

pub(crate) use VmMisc::VmMiscCalls;

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmMiscCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies one of this module's cheatcodes.
    pub(crate) fn apply_misc<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        depth: usize,
        call: VmMiscCalls,
    ) -> CheatResult {
        use VmMiscCalls as C;
        match call {
            C::toUppercase(c) => ok(c.input.to_uppercase()),
            C::toLowercase(c) => ok(c.input.to_lowercase()),
            C::trim(c) => ok(c.input.trim().to_string()),
            C::replace(c) => ok(c.input.replace(&c.from, &c.to)),
            C::split(c) => ok(c
                .input
                .split(&c.delimiter)
                .map(str::to_string)
                .collect::<Vec<_>>()),
            C::indexOf(c) => ok(c.input.find(&c.key).map(U256::from).unwrap_or(U256::MAX)),
            C::contains(c) => ok(c.subject.contains(&c.search)),
            // Foundry pads both alphabets.
            C::toBase64_0(c) => ok(BASE64_STANDARD.encode(&c.data)),
            C::toBase64_1(c) => ok(BASE64_STANDARD.encode(&c.data)),
            C::toBase64URL_0(c) => ok(BASE64_URL_SAFE.encode(&c.data)),
            C::toBase64URL_1(c) => ok(BASE64_URL_SAFE.encode(&c.data)),
            C::currentFilePath(_) => {
                // Foundry: the source of the running test contract, relative to the root.
                let test_contract = self.self_accounts[1];
                let account = ctx
                    .journaled_state
                    .load_account_with_code(test_contract)
                    .map_err(|e| e.to_string())?;
                let code = account
                    .data
                    .info
                    .code
                    .as_ref()
                    .map(|code| code.original_bytes())
                    .unwrap_or_default();
                let artifact = self
                    .artifacts
                    .identify_runtime(&code)
                    .ok_or("vm.currentFilePath: no running test contract found")?;
                ok(artifact.source.clone())
            }
            C::mockCalls_0(c) => self.mock_calls(ctx, c.callee, None, c.data, c.returnData),
            C::mockCalls_1(c) => {
                self.mock_calls(ctx, c.callee, Some(c.msgValue), c.data, c.returnData)
            }
            C::stopRecord(_) => {
                self.cheats.accesses_stopped = true;
                ok(())
            }
            C::toRlp(c) => {
                let mut encoded = Vec::new();
                c.data.encode(&mut encoded);
                ok(Bytes::from(encoded))
            }
            C::fromRlp(c) => match Vec::<Bytes>::decode(&mut c.rlp.as_ref()) {
                Ok(items) => ok(items),
                Err(e) => Err(format!("vm.fromRlp: failed to decode RLP: {e}").into()),
            },

            C::readCallers(_) => {
                let origin = ctx.tx.caller;
                let (mode, sender, origin) = match self
                    .cheats
                    .prank
                    .as_ref()
                    .filter(|prank| prank.depth <= depth)
                {
                    Some(prank) => (
                        if prank.single_use {
                            VmMisc::CallerMode::Prank as u8
                        } else {
                            VmMisc::CallerMode::RecurrentPrank as u8
                        },
                        prank.sender,
                        prank.origin.unwrap_or(origin),
                    ),
                    None => match self.broadcaster(depth) {
                        Some((single, broadcaster)) => (
                            if single {
                                VmMisc::CallerMode::Broadcast as u8
                            } else {
                                VmMisc::CallerMode::RecurrentBroadcast as u8
                            },
                            broadcaster,
                            broadcaster,
                        ),
                        None => (VmMisc::CallerMode::None as u8, origin, origin),
                    },
                };
                Ok(Bytes::from(
                    (U256::from(mode), sender, origin).abi_encode_params(),
                ))
            }
            C::prevrandao(c) => {
                ctx.block.prevrandao = Some(B256::from(c.newPrevrandao));
                ok(())
            }

            C::deleteSnapshot(c) => ok(self.delete_snapshot(c.snapshotId)),
            C::deleteStateSnapshot(c) => ok(self.delete_snapshot(c.snapshotId)),
            C::deleteSnapshots(_) | C::deleteStateSnapshots(_) => {
                self.cheats.snapshots.iter_mut().for_each(|s| *s = None);
                ok(())
            }
            C::revertToAndDelete(c) => {
                refuse::<DB>("revertTo")?;
                let reverted = self.revert_to(ctx, c.snapshotId);
                self.delete_snapshot(c.snapshotId);
                ok(reverted)
            }
            C::revertToStateAndDelete(c) => {
                refuse::<DB>("revertToState")?;
                let reverted = self.revert_to(ctx, c.snapshotId);
                self.delete_snapshot(c.snapshotId);
                ok(reverted)
            }

            C::mockCall_0(c) => self.mock(
                ctx,
                c.callee,
                None,
                Bytes::copy_from_slice(c.data.as_slice()),
                c.returnData,
                false,
            ),
            C::mockCall_1(c) => self.mock(
                ctx,
                c.callee,
                Some(c.msgValue),
                Bytes::copy_from_slice(c.data.as_slice()),
                c.returnData,
                false,
            ),
            C::mockCallRevert_0(c) => self.mock(
                ctx,
                c.callee,
                None,
                Bytes::copy_from_slice(c.data.as_slice()),
                c.revertData,
                true,
            ),
            C::mockCallRevert_1(c) => self.mock(
                ctx,
                c.callee,
                Some(c.msgValue),
                Bytes::copy_from_slice(c.data.as_slice()),
                c.revertData,
                true,
            ),
            C::mockCallRevert_2(c) => {
                self.mock(ctx, c.callee, Some(c.msgValue), c.data, c.revertData, true)
            }

            C::envBool(c) => ok(env_array(&c.name, &c.delim, parse_bool)?),
            C::envUint(c) => ok(env_array(&c.name, &c.delim, parse_uint)?),
            C::envInt(c) => ok(env_array(&c.name, &c.delim, parse_int)?),
            C::envAddress(c) => ok(env_array(&c.name, &c.delim, parse_address)?),
            C::envBytes32(c) => ok(env_array(&c.name, &c.delim, parse_bytes32)?),
            C::envString(c) => ok(env_array(&c.name, &c.delim, |s| Ok(s.to_string()))?),
            C::envBytes(c) => ok(env_array(&c.name, &c.delim, parse_bytes)?),

            C::expectCall_0(c) => {
                self.expect_call_gas(c.callee, c.msgValue, c.data, None, Some(c.gas), None)
            }
            C::expectCall_1(c) => self.expect_call_gas(
                c.callee,
                c.msgValue,
                c.data,
                Some(c.count),
                Some(c.gas),
                None,
            ),
            C::expectCallMinGas_0(c) => {
                self.expect_call_gas(c.callee, c.msgValue, c.data, None, None, Some(c.minGas))
            }
            C::expectCallMinGas_1(c) => self.expect_call_gas(
                c.callee,
                c.msgValue,
                c.data,
                Some(c.count),
                None,
                Some(c.minGas),
            ),

            C::writeLine(c) => {
                use std::io::Write;
                let path = self.project_write_path(&c.path)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("vm.writeLine: {}: {e}", dir.display()))?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut file| writeln!(file, "{}", c.data))
                    .map_err(|e| format!("vm.writeLine: {}: {e}", path.display()))?;
                ok(())
            }
            C::readLine(c) => {
                let path = self.project_path(&c.path)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("vm.readLine: {}: {e}", path.display()))?;
                // Each call returns the next line of the file, "" past its end.
                let cursor = self.cheats.line_cursors.entry(path).or_default();
                let line = text.lines().nth(*cursor).unwrap_or_default().to_string();
                *cursor += 1;
                ok(line)
            }
            C::setNonceUnsafe(c) => {
                TestInspector::set_nonce(ctx, c.account, c.newNonce)?;
                ok(())
            }
            // Milliseconds, as forge; the test asked for the wait.
            C::sleep(c) => {
                std::thread::sleep(std::time::Duration::from_millis(c.duration.saturating_to()));
                ok(())
            }
            C::getNonce(c) => {
                let account = ctx
                    .journaled_state
                    .load_account(c.wallet.addr)
                    .map_err(|e| CheatError::from(e.to_string()))?;
                ok(account.data.info.nonce)
            }
            C::unixTime(_) => {
                let millis = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default();
                ok(U256::from(millis))
            }
        }
    }

    /// `expectCall` with the gas the call must be given: a call that sends
    /// value also gets the 2300 stipend, which the expectation includes.
    fn expect_call_gas(
        &mut self,
        callee: alloy::primitives::Address,
        value: U256,
        data: Bytes,
        count: Option<u64>,
        gas: Option<u64>,
        min_gas: Option<u64>,
    ) -> CheatResult {
        let stipend = if value.is_zero() { 0 } else { 2300 };
        self.cheats
            .expected_calls
            .push(crate::inspector::ExpectedCall {
                callee,
                value: Some(value),
                data,
                count,
                seen: 0,
                gas: gas.map(|g| g + stipend),
                min_gas: min_gas.map(|g| g + stipend),
            });
        ok(())
    }

    fn delete_snapshot(&mut self, id: U256) -> bool {
        let slot = usize::try_from(id)
            .ok()
            .and_then(|index| self.cheats.snapshots.get_mut(index));
        match slot {
            Some(snapshot @ Some(_)) => {
                *snapshot = None;
                true
            }
            _ => false,
        }
    }
}

impl TestInspector {
    /// `vm.mockCalls`: successive calls return the outputs in turn, the last
    /// one from then on.
    fn mock_calls<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        callee: alloy::primitives::Address,
        value: Option<U256>,
        data: Bytes,
        outputs: Vec<Bytes>,
    ) -> CheatResult {
        let mut outputs = outputs.into_iter();
        let first = outputs
            .next()
            .ok_or("vm.mockCalls: returnData holds no return data")?;
        self.mock(ctx, callee, value, data, first, false)?;
        if let Some(mock) = self.cheats.mocks.last_mut() {
            mock.then = outputs.collect();
        }
        ok(())
    }
}

fn ok<T: SolValue>(value: T) -> CheatResult {
    Ok(Bytes::from(value.abi_encode()))
}

/// An environment variable split on `delim`, each part trimmed and parsed.
fn env_array<T>(
    name: &str,
    delim: &str,
    parse: impl Fn(&str) -> Result<T, CheatError>,
) -> Result<Vec<T>, CheatError> {
    if delim.is_empty() {
        return Err(format!("an empty delimiter cannot split `{name}`").into());
    }
    let value = env(name)?;
    // An empty variable is an empty array, as in forge.
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value.split(delim).map(|part| parse(part.trim())).collect()
}
