//! The cheatcode ABI (Foundry's `Vm`, plus forja's permissioning `ForjaVm`)
//! and the Hardhat `console.log` address, as alloy `sol!` bindings.

use alloy::primitives::{Address, address};

/// Address of the cheatcode contract, `address(uint160(uint256(keccak256("hevm cheat code"))))`.
pub(crate) const CHEATCODE_ADDRESS: Address =
    address!("0x7109709ECfa91a80626fF3989D68f67F5b1DD12D");
/// Address of Hardhat's `console.log` contract.
pub(crate) const CONSOLE_ADDRESS: Address = address!("0x000000000000000000636F6e736F6c652e6c6f67");
/// Default `msg.sender`/`tx.origin` for tests, as in Foundry.
pub(crate) const DEFAULT_SENDER: Address = address!("0x1804c8AB1F12E6bbf3894d4083f33e07309d1f38");
/// The deterministic CREATE2 deployer Foundry assumes (`computeCreate2Address` without a deployer).
pub(crate) const CREATE2_DEPLOYER: Address = address!("0x4e59b44847b379578588920cA78FbF26c0B4956C");
/// Runtime code of the deterministic deployment proxy at [`CREATE2_DEPLOYER`]
/// (the same bytes on every chain that has it): the salt is the first 32
/// bytes of the call data, the init code the rest; it returns the address.
pub(crate) const CREATE2_DEPLOYER_RUNTIME_CODE: [u8; 69] = alloy::primitives::hex!(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3"
);
/// Address the test contract is deployed at, as in Foundry.
pub(crate) const TEST_CONTRACT_ADDRESS: Address =
    address!("0x7FA9385bE102ac3EAc297483Dd6233D62b3e1496");

/// Revert reason used internally when `vm.assume(false)` rejects an input.
pub(crate) const ASSUME_MAGIC: &str = "FOUNDRY::ASSUME";
/// Revert reason used internally when `vm.skip(true)` is called.
pub(crate) const SKIP_MAGIC: &str = "FOUNDRY::SKIP";

/// Cheatcodes that fail a test run with `--network`: the chain is shared by
/// every test and validator, so there is no state of the test's own.
const UNSUPPORTED_ON_NETWORK: &[&str] = &["snapshot", "snapshotState", "revertTo", "revertToState"];

/// A cheatcode that cannot work on a shared chain; its message is the
/// reason the cheatcode call reverts with.
#[derive(Debug, thiserror::Error)]
#[error(
    "cheatcode {name} is not supported with --network: the chain is shared by every test and \
     validator, so there is no state of the test's own to snapshot or restore"
)]
pub(crate) struct UnsupportedOnNetwork {
    /// The cheatcode's name (`snapshotState`).
    pub(crate) name: String,
}

impl UnsupportedOnNetwork {
    /// The refusal of cheatcode `name`, when it is one `--network` cannot run.
    pub(crate) fn of(name: &str) -> Option<Self> {
        UNSUPPORTED_ON_NETWORK.contains(&name).then(|| Self {
            name: name.to_string(),
        })
    }
}

alloy::sol! {
    /// Foundry's cheatcode interface (the subset forja implements).
    #[derive(Debug)]
    interface Vm {
        struct Log { bytes32[] topics; bytes data; address emitter; }

        function warp(uint256 newTimestamp) external;
        function roll(uint256 newHeight) external;
        function fee(uint256 newBasefee) external;
        function chainId(uint256 newChainId) external;
        function coinbase(address newCoinbase) external;
        function prevrandao(bytes32 newPrevrandao) external;
        function difficulty(uint256 newDifficulty) external;
        function txGasPrice(uint256 newGasPrice) external;
        function getNonce(address account) external view returns (uint64 nonce);
        function setNonce(address account, uint64 newNonce) external;
        function getBlockNumber() external view returns (uint256 height);
        function getBlockTimestamp() external view returns (uint256 timestamp);

        function prank(address msgSender) external;
        function prank(address msgSender, address txOrigin) external;
        function startPrank(address msgSender) external;
        function startPrank(address msgSender, address txOrigin) external;
        function stopPrank() external;

        function deal(address account, uint256 newBalance) external;
        function etch(address target, bytes calldata newRuntimeBytecode) external;
        function store(address target, bytes32 slot, bytes32 value) external;
        function load(address target, bytes32 slot) external view returns (bytes32 data);

        function addr(uint256 privateKey) external pure returns (address keyAddr);
        function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
        function label(address account, string calldata newLabel) external;
        function computeCreateAddress(address deployer, uint256 nonce) external pure returns (address);
        function computeCreate2Address(bytes32 salt, bytes32 initCodeHash, address deployer) external pure returns (address);
        function computeCreate2Address(bytes32 salt, bytes32 initCodeHash) external pure returns (address);

        // Gas snapshots, written to `snapshots/<group>.json` (group: the
        // test contract's name unless given).
        function startSnapshotGas(string calldata name) external;
        function startSnapshotGas(string calldata group, string calldata name) external;
        function stopSnapshotGas() external returns (uint256 gasUsed);
        function stopSnapshotGas(string calldata name) external returns (uint256 gasUsed);
        function stopSnapshotGas(string calldata group, string calldata name) external returns (uint256 gasUsed);
        function snapshotGasLastCall(string calldata name) external returns (uint256 gasUsed);
        function snapshotGasLastCall(string calldata group, string calldata name) external returns (uint256 gasUsed);
        function snapshotValue(string calldata name, uint256 value) external;
        function snapshotValue(string calldata group, string calldata name, uint256 value) external;
        function getLabel(address account) external view returns (string memory currentLabel);
        function assume(bool condition) external pure;
        function skip(bool skipTest) external;
        function skip(bool skipTest, string calldata reason) external;

        function expectRevert() external;
        function expectRevert(bytes4 revertData) external;
        function expectRevert(bytes calldata revertData) external;
        function expectRevert(address reverter) external;
        function expectRevert(bytes4 revertData, address reverter) external;
        function expectRevert(bytes calldata revertData, address reverter) external;
        function expectPartialRevert(bytes4 revertData) external;
        // Foundry's own suite expects cheatcode reverts with these.
        function _expectCheatcodeRevert() external;
        function _expectCheatcodeRevert(bytes4 revertData) external;
        function _expectCheatcodeRevert(bytes calldata revertData) external;
        // The count forms: the next `count` calls must each revert so; with
        // 0, the next call must not.
        function expectRevert(uint64 count) external;
        function expectRevert(bytes4 revertData, uint64 count) external;
        function expectRevert(bytes calldata revertData, uint64 count) external;
        function expectRevert(address reverter, uint64 count) external;
        function expectRevert(bytes4 revertData, address reverter, uint64 count) external;
        function expectRevert(bytes calldata revertData, address reverter, uint64 count) external;
        function expectPartialRevert(bytes4 revertData, address reverter) external;

        function expectEmit() external;
        function expectEmit(address emitter) external;
        function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
        function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
        // The count forms: the next call emits the event at least `count`
        // times; with 0, it must not emit it.
        function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, uint64 count) external;
        function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter, uint64 count) external;
        function expectEmit(uint64 count) external;
        function expectEmit(address emitter, uint64 count) external;
        function expectEmitAnonymous(bool checkTopic0, bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
        function expectEmitAnonymous(bool checkTopic0, bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
        function expectEmitAnonymous() external;
        function expectEmitAnonymous(address emitter) external;

        function expectCall(address callee, bytes calldata data) external;
        function expectCall(address callee, uint256 msgValue, bytes calldata data) external;
        function expectCall(address callee, bytes calldata data, uint64 count) external;
        function expectCall(address callee, uint256 msgValue, bytes calldata data, uint64 count) external;

        function mockCall(address callee, bytes calldata data, bytes calldata returnData) external;
        function mockCall(address callee, uint256 msgValue, bytes calldata data, bytes calldata returnData) external;
        function mockCallRevert(address callee, bytes calldata data, bytes calldata revertData) external;
        function clearMockedCalls() external;

        function recordLogs() external;
        function getRecordedLogs() external returns (Log[] memory logs);
        function record() external;
        function accesses(address target) external returns (bytes32[] memory readSlots, bytes32[] memory writeSlots);

        function snapshot() external returns (uint256 snapshotId);
        function revertTo(uint256 snapshotId) external returns (bool success);
        function snapshotState() external returns (uint256 snapshotId);
        function revertToState(uint256 snapshotId) external returns (bool success);

        function getCode(string calldata artifactPath) external view returns (bytes memory creationBytecode);
        function getDeployedCode(string calldata artifactPath) external view returns (bytes memory runtimeBytecode);

        function setEnv(string calldata name, string calldata value) external;
        function envExists(string calldata name) external view returns (bool result);
        function resolveEnv(string calldata input) external returns (string memory);
        enum ForgeContext { TestGroup, Test, Coverage, Snapshot, ScriptGroup, ScriptDryRun, ScriptBroadcast, ScriptResume, Unknown }
        function isContext(ForgeContext context) external view returns (bool result);

        function resetNonce(address account) external;
        function randomUint() external returns (uint256);
        function randomUint(uint256 min, uint256 max) external returns (uint256);
        function randomAddress() external returns (address);
        function randomBool() external view returns (bool);
        function setSeed(uint256 seed) external;
        function randomUint(uint256 bits) external view returns (uint256);
        function randomInt() external view returns (int256);
        function randomInt(uint256 bits) external view returns (int256);
        function randomBytes(uint256 len) external view returns (bytes memory);
        function randomBytes4() external view returns (bytes4);
        function randomBytes8() external view returns (bytes8);
        function shuffle(uint256[] calldata array) external returns (uint256[] memory);
        function sort(uint256[] calldata array) external returns (uint256[] memory);

        // Files, inside the project root only.
        function projectRoot() external view returns (string memory path);
        function readFile(string calldata path) external view returns (string memory data);
        function readFileBinary(string calldata path) external view returns (bytes memory data);
        function writeFile(string calldata path, string calldata data) external;
        function writeFileBinary(string calldata path, bytes calldata data) external;
        function exists(string calldata path) external view returns (bool result);
        function isFile(string calldata path) external view returns (bool result);
        function isDir(string calldata path) external view returns (bool result);
        function removeFile(string calldata path) external;
        function copyFile(string calldata from, string calldata to) external returns (uint64 copied);
        function envBool(string calldata name) external view returns (bool value);
        function envUint(string calldata name) external view returns (uint256 value);
        function envInt(string calldata name) external view returns (int256 value);
        function envAddress(string calldata name) external view returns (address value);
        function envBytes32(string calldata name) external view returns (bytes32 value);
        function envString(string calldata name) external view returns (string memory value);
        function envBytes(string calldata name) external view returns (bytes memory value);
        function envOr(string calldata name, bool defaultValue) external view returns (bool value);
        function envOr(string calldata name, uint256 defaultValue) external view returns (uint256 value);
        function envOr(string calldata name, int256 defaultValue) external view returns (int256 value);
        function envOr(string calldata name, address defaultValue) external view returns (address value);
        function envOr(string calldata name, bytes32 defaultValue) external view returns (bytes32 value);
        function envOr(string calldata name, string calldata defaultValue) external view returns (string memory value);
        function envOr(string calldata name, bytes calldata defaultValue) external view returns (bytes memory value);
        function envOr(string calldata name, string calldata delim, bool[] calldata defaultValue) external view returns (bool[] memory value);
        function envOr(string calldata name, string calldata delim, uint256[] calldata defaultValue) external view returns (uint256[] memory value);
        function envOr(string calldata name, string calldata delim, int256[] calldata defaultValue) external view returns (int256[] memory value);
        function envOr(string calldata name, string calldata delim, address[] calldata defaultValue) external view returns (address[] memory value);
        function envOr(string calldata name, string calldata delim, bytes32[] calldata defaultValue) external view returns (bytes32[] memory value);
        function envOr(string calldata name, string calldata delim, string[] calldata defaultValue) external view returns (string[] memory value);
        function envOr(string calldata name, string calldata delim, bytes[] calldata defaultValue) external view returns (bytes[] memory value);

        function toString(address value) external pure returns (string memory stringifiedValue);
        function toString(bytes calldata value) external pure returns (string memory stringifiedValue);
        function toString(bytes32 value) external pure returns (string memory stringifiedValue);
        function toString(bool value) external pure returns (string memory stringifiedValue);
        function toString(uint256 value) external pure returns (string memory stringifiedValue);
        function toString(int256 value) external pure returns (string memory stringifiedValue);
        function parseBytes(string calldata stringifiedValue) external pure returns (bytes memory parsedValue);
        function parseAddress(string calldata stringifiedValue) external pure returns (address parsedValue);
        function parseUint(string calldata stringifiedValue) external pure returns (uint256 parsedValue);
        function parseInt(string calldata stringifiedValue) external pure returns (int256 parsedValue);
        function parseBytes32(string calldata stringifiedValue) external pure returns (bytes32 parsedValue);
        function parseBool(string calldata stringifiedValue) external pure returns (bool parsedValue);

        function assertTrue(bool condition) external pure;
        function assertTrue(bool condition, string calldata error) external pure;
        function assertFalse(bool condition) external pure;
        function assertFalse(bool condition, string calldata error) external pure;

        function assertEq(bool left, bool right) external pure;
        function assertEq(bool left, bool right, string calldata error) external pure;
        function assertEq(uint256 left, uint256 right) external pure;
        function assertEq(uint256 left, uint256 right, string calldata error) external pure;
        function assertEq(int256 left, int256 right) external pure;
        function assertEq(int256 left, int256 right, string calldata error) external pure;
        function assertEq(address left, address right) external pure;
        function assertEq(address left, address right, string calldata error) external pure;
        function assertEq(bytes32 left, bytes32 right) external pure;
        function assertEq(bytes32 left, bytes32 right, string calldata error) external pure;
        function assertEq(string calldata left, string calldata right) external pure;
        function assertEq(string calldata left, string calldata right, string calldata error) external pure;
        function assertEq(bytes calldata left, bytes calldata right) external pure;
        function assertEq(bytes calldata left, bytes calldata right, string calldata error) external pure;
        function assertEq(bool[] calldata left, bool[] calldata right) external pure;
        function assertEq(bool[] calldata left, bool[] calldata right, string calldata error) external pure;
        function assertEq(uint256[] calldata left, uint256[] calldata right) external pure;
        function assertEq(uint256[] calldata left, uint256[] calldata right, string calldata error) external pure;
        function assertEq(int256[] calldata left, int256[] calldata right) external pure;
        function assertEq(int256[] calldata left, int256[] calldata right, string calldata error) external pure;
        function assertEq(address[] calldata left, address[] calldata right) external pure;
        function assertEq(address[] calldata left, address[] calldata right, string calldata error) external pure;
        function assertEq(bytes32[] calldata left, bytes32[] calldata right) external pure;
        function assertEq(bytes32[] calldata left, bytes32[] calldata right, string calldata error) external pure;
        function assertEq(string[] calldata left, string[] calldata right) external pure;
        function assertEq(string[] calldata left, string[] calldata right, string calldata error) external pure;
        function assertEq(bytes[] calldata left, bytes[] calldata right) external pure;
        function assertEq(bytes[] calldata left, bytes[] calldata right, string calldata error) external pure;

        function assertNotEq(bool left, bool right) external pure;
        function assertNotEq(bool left, bool right, string calldata error) external pure;
        function assertNotEq(uint256 left, uint256 right) external pure;
        function assertNotEq(uint256 left, uint256 right, string calldata error) external pure;
        function assertNotEq(int256 left, int256 right) external pure;
        function assertNotEq(int256 left, int256 right, string calldata error) external pure;
        function assertNotEq(address left, address right) external pure;
        function assertNotEq(address left, address right, string calldata error) external pure;
        function assertNotEq(bytes32 left, bytes32 right) external pure;
        function assertNotEq(bytes32 left, bytes32 right, string calldata error) external pure;
        function assertNotEq(string calldata left, string calldata right) external pure;
        function assertNotEq(string calldata left, string calldata right, string calldata error) external pure;
        function assertNotEq(bytes calldata left, bytes calldata right) external pure;
        function assertNotEq(bytes calldata left, bytes calldata right, string calldata error) external pure;

        function assertLt(uint256 left, uint256 right) external pure;
        function assertLt(uint256 left, uint256 right, string calldata error) external pure;
        function assertLt(int256 left, int256 right) external pure;
        function assertLt(int256 left, int256 right, string calldata error) external pure;
        function assertGt(uint256 left, uint256 right) external pure;
        function assertGt(uint256 left, uint256 right, string calldata error) external pure;
        function assertGt(int256 left, int256 right) external pure;
        function assertGt(int256 left, int256 right, string calldata error) external pure;
        function assertLe(uint256 left, uint256 right) external pure;
        function assertLe(uint256 left, uint256 right, string calldata error) external pure;
        function assertLe(int256 left, int256 right) external pure;
        function assertLe(int256 left, int256 right, string calldata error) external pure;
        function assertGe(uint256 left, uint256 right) external pure;
        function assertGe(uint256 left, uint256 right, string calldata error) external pure;
        function assertGe(int256 left, int256 right) external pure;
        function assertGe(int256 left, int256 right, string calldata error) external pure;

        function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta) external pure;
        function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta, string calldata error) external pure;
        function assertApproxEqAbs(int256 left, int256 right, uint256 maxDelta) external pure;
        function assertApproxEqAbs(int256 left, int256 right, uint256 maxDelta, string calldata error) external pure;
        function assertApproxEqRel(uint256 left, uint256 right, uint256 maxPercentDelta) external pure;
        function assertApproxEqRel(uint256 left, uint256 right, uint256 maxPercentDelta, string calldata error) external pure;
        function assertApproxEqRel(int256 left, int256 right, uint256 maxPercentDelta) external pure;
        function assertApproxEqRel(int256 left, int256 right, uint256 maxPercentDelta, string calldata error) external pure;
    }

    /// forja's permissioning cheatcodes (served at the same address as `Vm`).
    #[derive(Debug)]
    interface ForjaVm {
        function setAccessLevel(address account, uint8 level) external;
        function addToAllowlist(address account) external;
        function removeFromAllowlist(address account) external;
        function accessLevel(address account) external view returns (uint8 level);
    }
}

/// The signature of the cheatcode with this selector (`prank(address)`), if
/// forja knows it.
pub(crate) fn cheatcode_signature(selector: [u8; 4]) -> Option<&'static str> {
    Vm::VmCalls::signature_by_selector(selector)
        .or_else(|| ForjaVm::ForjaVmCalls::signature_by_selector(selector))
        .or_else(|| crate::cheatcodes_json::signature(selector))
        .or_else(|| crate::cheatcodes_memory::signature(selector))
        .or_else(|| crate::cheatcodes_keys::signature(selector))
        .or_else(|| crate::cheatcodes_misc::signature(selector))
        .or_else(|| crate::cheatcodes_assert::signature(selector))
        .or_else(|| crate::cheatcodes_assume::signature(selector))
        .or_else(|| crate::cheatcodes_gas::signature(selector))
        .or_else(|| crate::cheatcodes_mock::signature(selector))
        .or_else(|| crate::cheatcodes_diff::signature(selector))
        .or_else(|| crate::cheatcodes_storage::signature(selector))
        .or_else(|| crate::cheatcodes_create::signature(selector))
        .or_else(|| crate::cheatcodes_ed25519::signature(selector))
        .or_else(|| crate::cheatcodes_version::signature(selector))
        .or_else(|| crate::cheatcodes_tx::signature(selector))
        .or_else(|| crate::cheatcodes_fs::signature(selector))
        .or_else(|| crate::cheatcodes_chain::signature(selector))
        .or_else(|| crate::cheatcodes_block::signature(selector))
        .or_else(|| crate::cheatcodes_allocs::signature(selector))
        .or_else(|| crate::cheatcodes_crypto::signature(selector))
}
