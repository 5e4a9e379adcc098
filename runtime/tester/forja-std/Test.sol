// SPDX-License-Identifier: MIT
pragma solidity >=0.8.13 <0.9.0;
pragma experimental ABIEncoderV2;

import {Vm, ForjaVm} from "./Vm.sol";
import {console, console2} from "./console.sol";

/// Solidity panic data, for `vm.expectRevert(stdError.arithmeticError)`.
library stdError {
    bytes public constant assertionError = abi.encodeWithSignature("Panic(uint256)", 0x01);
    bytes public constant arithmeticError = abi.encodeWithSignature("Panic(uint256)", 0x11);
    bytes public constant divisionError = abi.encodeWithSignature("Panic(uint256)", 0x12);
    bytes public constant enumConversionError = abi.encodeWithSignature("Panic(uint256)", 0x21);
    bytes public constant encodeStorageError = abi.encodeWithSignature("Panic(uint256)", 0x22);
    bytes public constant popError = abi.encodeWithSignature("Panic(uint256)", 0x31);
    bytes public constant indexOOBError = abi.encodeWithSignature("Panic(uint256)", 0x32);
    bytes public constant memOverflowError = abi.encodeWithSignature("Panic(uint256)", 0x41);
    bytes public constant zeroVarError = abi.encodeWithSignature("Panic(uint256)", 0x51);
}

/// Invariant targeting, with forge-std's function names (read by `forja test`).
abstract contract StdInvariant {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetedContracts;
    address[] private _excludedContracts;
    address[] private _targetedSenders;
    address[] private _excludedSenders;
    FuzzSelector[] private _targetedSelectors;
    FuzzSelector[] private _excludedSelectors;

    function targetContract(address newTargetedContract) internal {
        _targetedContracts.push(newTargetedContract);
    }

    function excludeContract(address newExcludedContract) internal {
        _excludedContracts.push(newExcludedContract);
    }

    function targetSender(address newTargetedSender) internal {
        _targetedSenders.push(newTargetedSender);
    }

    function excludeSender(address newExcludedSender) internal {
        _excludedSenders.push(newExcludedSender);
    }

    function targetSelector(FuzzSelector memory newTargetedSelector) internal {
        _targetedSelectors.push(newTargetedSelector);
    }

    function excludeSelector(FuzzSelector memory newExcludedSelector) internal {
        _excludedSelectors.push(newExcludedSelector);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    function excludeContracts() public view returns (address[] memory) {
        return _excludedContracts;
    }

    function targetSenders() public view returns (address[] memory) {
        return _targetedSenders;
    }

    function excludeSenders() public view returns (address[] memory) {
        return _excludedSenders;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function excludeSelectors() public view returns (FuzzSelector[] memory) {
        return _excludedSelectors;
    }
}

/// Base contract for forja tests: `vm`, assertions, helpers. Compatible with
/// forge-std's `Test` for the common surface.
abstract contract Test is StdInvariant {
    /// Marks the contract as a test contract (read by tools).
    bool public IS_TEST = true;

    address internal constant VM_ADDRESS = address(uint160(uint256(keccak256("hevm cheat code"))));
    Vm internal constant vm = Vm(VM_ADDRESS);
    /// forja's permissioning cheatcodes.
    ForjaVm internal constant forja = ForjaVm(VM_ADDRESS);

    uint256 internal constant UINT256_MAX = type(uint256).max;

    /// Whether an assertion failed without reverting (ds-test semantics).
    function failed() public view returns (bool) {
        return vm.load(VM_ADDRESS, bytes32("failed")) != bytes32(0);
    }

    /// Marks the test as failed and stops it.
    function fail() internal virtual {
        vm.store(VM_ADDRESS, bytes32("failed"), bytes32(uint256(1)));
        revert("assertion failed");
    }

    function fail(string memory message) internal virtual {
        vm.store(VM_ADDRESS, bytes32("failed"), bytes32(uint256(1)));
        revert(message);
    }

    // ---------------------------------------------------------------- asserts

    function assertTrue(bool condition) internal pure virtual { vm.assertTrue(condition); }
    function assertTrue(bool condition, string memory err) internal pure virtual { vm.assertTrue(condition, err); }
    function assertFalse(bool condition) internal pure virtual { vm.assertFalse(condition); }
    function assertFalse(bool condition, string memory err) internal pure virtual { vm.assertFalse(condition, err); }

    function assertEq(bool left, bool right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(bool left, bool right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(uint256 left, uint256 right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(uint256 left, uint256 right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(int256 left, int256 right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(int256 left, int256 right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(address left, address right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(address left, address right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(bytes32 left, bytes32 right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(bytes32 left, bytes32 right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(string memory left, string memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(string memory left, string memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(bytes memory left, bytes memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(bytes memory left, bytes memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(bool[] memory left, bool[] memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(bool[] memory left, bool[] memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(uint256[] memory left, uint256[] memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(uint256[] memory left, uint256[] memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(int256[] memory left, int256[] memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(int256[] memory left, int256[] memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(address[] memory left, address[] memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(address[] memory left, address[] memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(bytes32[] memory left, bytes32[] memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(bytes32[] memory left, bytes32[] memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(string[] memory left, string[] memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(string[] memory left, string[] memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }
    function assertEq(bytes[] memory left, bytes[] memory right) internal pure virtual { vm.assertEq(left, right); }
    function assertEq(bytes[] memory left, bytes[] memory right, string memory err) internal pure virtual { vm.assertEq(left, right, err); }

    function assertNotEq(bool left, bool right) internal pure virtual { vm.assertNotEq(left, right); }
    function assertNotEq(bool left, bool right, string memory err) internal pure virtual { vm.assertNotEq(left, right, err); }
    function assertNotEq(uint256 left, uint256 right) internal pure virtual { vm.assertNotEq(left, right); }
    function assertNotEq(uint256 left, uint256 right, string memory err) internal pure virtual { vm.assertNotEq(left, right, err); }
    function assertNotEq(int256 left, int256 right) internal pure virtual { vm.assertNotEq(left, right); }
    function assertNotEq(int256 left, int256 right, string memory err) internal pure virtual { vm.assertNotEq(left, right, err); }
    function assertNotEq(address left, address right) internal pure virtual { vm.assertNotEq(left, right); }
    function assertNotEq(address left, address right, string memory err) internal pure virtual { vm.assertNotEq(left, right, err); }
    function assertNotEq(bytes32 left, bytes32 right) internal pure virtual { vm.assertNotEq(left, right); }
    function assertNotEq(bytes32 left, bytes32 right, string memory err) internal pure virtual { vm.assertNotEq(left, right, err); }
    function assertNotEq(string memory left, string memory right) internal pure virtual { vm.assertNotEq(left, right); }
    function assertNotEq(string memory left, string memory right, string memory err) internal pure virtual { vm.assertNotEq(left, right, err); }
    function assertNotEq(bytes memory left, bytes memory right) internal pure virtual { vm.assertNotEq(left, right); }
    function assertNotEq(bytes memory left, bytes memory right, string memory err) internal pure virtual { vm.assertNotEq(left, right, err); }

    function assertLt(uint256 left, uint256 right) internal pure virtual { vm.assertLt(left, right); }
    function assertLt(uint256 left, uint256 right, string memory err) internal pure virtual { vm.assertLt(left, right, err); }
    function assertLt(int256 left, int256 right) internal pure virtual { vm.assertLt(left, right); }
    function assertLt(int256 left, int256 right, string memory err) internal pure virtual { vm.assertLt(left, right, err); }
    function assertGt(uint256 left, uint256 right) internal pure virtual { vm.assertGt(left, right); }
    function assertGt(uint256 left, uint256 right, string memory err) internal pure virtual { vm.assertGt(left, right, err); }
    function assertGt(int256 left, int256 right) internal pure virtual { vm.assertGt(left, right); }
    function assertGt(int256 left, int256 right, string memory err) internal pure virtual { vm.assertGt(left, right, err); }
    function assertLe(uint256 left, uint256 right) internal pure virtual { vm.assertLe(left, right); }
    function assertLe(uint256 left, uint256 right, string memory err) internal pure virtual { vm.assertLe(left, right, err); }
    function assertLe(int256 left, int256 right) internal pure virtual { vm.assertLe(left, right); }
    function assertLe(int256 left, int256 right, string memory err) internal pure virtual { vm.assertLe(left, right, err); }
    function assertGe(uint256 left, uint256 right) internal pure virtual { vm.assertGe(left, right); }
    function assertGe(uint256 left, uint256 right, string memory err) internal pure virtual { vm.assertGe(left, right, err); }
    function assertGe(int256 left, int256 right) internal pure virtual { vm.assertGe(left, right); }
    function assertGe(int256 left, int256 right, string memory err) internal pure virtual { vm.assertGe(left, right, err); }

    function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta) internal pure virtual { vm.assertApproxEqAbs(left, right, maxDelta); }
    function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta, string memory err) internal pure virtual { vm.assertApproxEqAbs(left, right, maxDelta, err); }
    function assertApproxEqAbs(int256 left, int256 right, uint256 maxDelta) internal pure virtual { vm.assertApproxEqAbs(left, right, maxDelta); }
    function assertApproxEqAbs(int256 left, int256 right, uint256 maxDelta, string memory err) internal pure virtual { vm.assertApproxEqAbs(left, right, maxDelta, err); }
    function assertApproxEqRel(uint256 left, uint256 right, uint256 maxPercentDelta) internal pure virtual { vm.assertApproxEqRel(left, right, maxPercentDelta); }
    function assertApproxEqRel(uint256 left, uint256 right, uint256 maxPercentDelta, string memory err) internal pure virtual { vm.assertApproxEqRel(left, right, maxPercentDelta, err); }
    function assertApproxEqRel(int256 left, int256 right, uint256 maxPercentDelta) internal pure virtual { vm.assertApproxEqRel(left, right, maxPercentDelta); }
    function assertApproxEqRel(int256 left, int256 right, uint256 maxPercentDelta, string memory err) internal pure virtual { vm.assertApproxEqRel(left, right, maxPercentDelta, err); }

    // ---------------------------------------------------------------- helpers

    /// An address derived from `name`, labelled with it in traces.
    function makeAddr(string memory name) internal virtual returns (address addr) {
        addr = vm.addr(uint256(keccak256(abi.encodePacked(name))));
        vm.label(addr, name);
    }

    /// An address and its private key derived from `name`.
    function makeAddrAndKey(string memory name) internal virtual returns (address addr, uint256 privateKey) {
        privateKey = uint256(keccak256(abi.encodePacked(name)));
        addr = vm.addr(privateKey);
        vm.label(addr, name);
    }

    /// Sets the ether balance of `to`.
    function deal(address to, uint256 give) internal virtual {
        vm.deal(to, give);
    }

    /// Funds `who` with 2^128 wei and pranks the next call as it.
    function hoax(address who) internal virtual {
        vm.deal(who, 1 << 128);
        vm.prank(who);
    }

    function hoax(address who, uint256 give) internal virtual {
        vm.deal(who, give);
        vm.prank(who);
    }

    function hoax(address who, address origin) internal virtual {
        vm.deal(who, 1 << 128);
        vm.prank(who, origin);
    }

    function startHoax(address who) internal virtual {
        vm.deal(who, 1 << 128);
        vm.startPrank(who);
    }

    function startHoax(address who, uint256 give) internal virtual {
        vm.deal(who, give);
        vm.startPrank(who);
    }

    /// Moves `block.timestamp` forward.
    function skip(uint256 time) internal virtual {
        vm.warp(block.timestamp + time);
    }

    /// Moves `block.timestamp` back.
    function rewind(uint256 time) internal virtual {
        vm.warp(block.timestamp - time);
    }

    /// Deploys the artifact `what` (`File.sol:Contract`) with `args` appended.
    function deployCode(string memory what, bytes memory args) internal virtual returns (address addr) {
        bytes memory bytecode = abi.encodePacked(vm.getCode(what), args);
        /// @solidity memory-safe-assembly
        assembly {
            addr := create(0, add(bytecode, 0x20), mload(bytecode))
        }
        require(addr != address(0), "deployCode: deployment failed");
    }

    function deployCode(string memory what) internal virtual returns (address addr) {
        return deployCode(what, "");
    }

    /// Wraps `x` into `[min, max]` (forge-std's algorithm, so counterexamples match).
    function bound(uint256 x, uint256 min, uint256 max) internal pure virtual returns (uint256 result) {
        require(min <= max, "bound: max is less than min");
        if (x >= min && x <= max) return x;
        uint256 size = max - min + 1;
        if (x <= 3 && size > x) return min + x;
        if (x >= UINT256_MAX - 3 && size > UINT256_MAX - x) return max - (UINT256_MAX - x);
        if (x > max) {
            uint256 diff = x - max;
            uint256 rem = diff % size;
            if (rem == 0) return max;
            result = min + rem - 1;
        } else if (x < min) {
            uint256 diff = min - x;
            uint256 rem = diff % size;
            if (rem == 0) return min;
            result = max - rem + 1;
        }
    }

    function bound(int256 x, int256 min, int256 max) internal pure virtual returns (int256 result) {
        require(min <= max, "bound: max is less than min");
        // Shift the signed range onto the unsigned one (add 2^255 = flip the top bit).
        uint256 _x = uint256(x) ^ (1 << 255);
        uint256 _min = uint256(min) ^ (1 << 255);
        uint256 _max = uint256(max) ^ (1 << 255);
        uint256 y = bound(_x, _min, _max);
        result = int256(y ^ (1 << 255));
    }
}
