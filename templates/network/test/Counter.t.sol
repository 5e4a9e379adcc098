// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Test} from "forja-std/Test.sol";
import {Counter} from "../src/Counter.sol";

contract CounterTest is Test {
    Counter internal counter;
    address internal stranger = makeAddr("stranger");

    function setUp() public {
        counter = new Counter(0);
    }

    function test_Increment() public {
        counter.increment();
        assertEq(counter.number(), 1);
    }

    function test_IncrementEmits() public {
        vm.expectEmit();
        emit Counter.NumberChanged(0, 1);
        counter.increment();
    }

    function test_OnlyOwnerSets() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Counter.NotOwner.selector, stranger));
        counter.setNumber(7);
    }

    function testFuzz_SetNumber(uint256 x) public {
        counter.setNumber(x);
        assertEq(counter.number(), x);
    }
}
