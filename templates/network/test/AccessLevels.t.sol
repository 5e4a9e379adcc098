// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Test} from "forja-std/Test.sol";
import {Counter} from "../src/Counter.sol";

/// What each access level of network.toml allows, checked with forja's
/// permissioning cheatcodes (0 = read-only: no transactions, 1 = transact,
/// 2 = contract-deploy, 3 = full). Reads (eth_call) need no level; in a test
/// the test contract itself reads.
contract AccessLevelsTest is Test {
    Counter internal counter;
    address internal auditor = makeAddr("auditor"); // read-only
    address internal app = makeAddr("app"); // transact
    address internal member = makeAddr("member"); // contract-deploy

    function setUp() public {
        counter = new Counter(0);
        forja.setAccessLevel(auditor, 0);
        forja.setAccessLevel(app, 1);
        forja.setAccessLevel(member, 2);
    }

    function test_ReadOnlyAccountsCannotTransact() public {
        vm.prank(auditor);
        vm.expectRevert(
            bytes(
                string.concat(
                    "permissioning: account ",
                    vm.toString(auditor),
                    " is not allowed to transact (access level 0, needs 1)"
                )
            )
        );
        counter.increment();
    }

    function test_TransactAccountsCallButDoNotDeploy() public {
        vm.prank(app);
        counter.increment();
        assertEq(counter.number(), 1);

        vm.prank(app);
        vm.expectRevert(
            bytes(
                string.concat(
                    "permissioning: account ",
                    vm.toString(app),
                    " is not allowed to deploy contracts (access level 1, needs 2)"
                )
            )
        );
        new Counter(0);
    }

    function test_ContractDeployAccountsDeploy() public {
        vm.prank(member);
        Counter own = new Counter(5);
        assertEq(own.owner(), member);
        assertEq(own.number(), 5);
    }

    function test_AdminsChangeLevelsAtRuntime() public {
        assertEq(forja.accessLevel(app), 1);
        forja.removeFromAllowlist(app);
        vm.prank(app);
        vm.expectRevert();
        counter.increment();

        forja.addToAllowlist(app);
        assertEq(forja.accessLevel(app), 2);
        vm.prank(app);
        counter.increment();
        assertEq(counter.number(), 1);
    }

    function testFuzz_UnlistedAccountsCannotTransact(address stranger) public {
        vm.assume(forja.accessLevel(stranger) == 0);
        vm.prank(stranger);
        vm.expectRevert();
        counter.increment();
    }
}
