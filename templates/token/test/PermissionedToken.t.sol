// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Test} from "forja-std/Test.sol";
import {PermissionedToken} from "../src/PermissionedToken.sol";

contract PermissionedTokenTest is Test {
    PermissionedToken internal token;
    address internal admin = makeAddr("admin");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal outsider = makeAddr("outsider");

    function setUp() public {
        token = new PermissionedToken("Consortium Euro", "CEUR", admin);
        vm.startPrank(admin);
        token.setAllowlisted(alice, true);
        token.setAllowlisted(bob, true);
        token.mint(alice, 1_000e18);
        vm.stopPrank();
    }

    function test_Metadata() public view {
        assertEq(token.name(), "Consortium Euro");
        assertEq(token.symbol(), "CEUR");
        assertEq(token.decimals(), 18);
        assertTrue(token.isAdmin(admin));
        assertTrue(token.isAllowlisted(admin));
        assertEq(token.adminCount(), 1);
    }

    function test_AllowlistedHoldersTransfer() public {
        vm.expectEmit(address(token));
        emit PermissionedToken.Transfer(alice, bob, 250e18);
        vm.prank(alice);
        assertTrue(token.transfer(bob, 250e18));
        assertEq(token.balanceOf(alice), 750e18);
        assertEq(token.balanceOf(bob), 250e18);
    }

    function test_TransferToOutsiderReverts() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(PermissionedToken.NotAllowlisted.selector, outsider));
        token.transfer(outsider, 1);
    }

    function test_RemovedHolderCannotSendButCanBeBurned() public {
        vm.prank(admin);
        token.setAllowlisted(alice, false);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(PermissionedToken.NotAllowlisted.selector, alice));
        token.transfer(bob, 1);

        vm.prank(admin);
        token.burn(alice, 1_000e18);
        assertEq(token.balanceOf(alice), 0);
        assertEq(token.totalSupply(), 0);
    }

    function test_TransferFromNeedsAllowanceAndAllowlistedHolders() public {
        address settlement = makeAddr("settlement");
        vm.prank(alice);
        token.approve(settlement, 100e18);

        vm.prank(settlement);
        vm.expectRevert(
            abi.encodeWithSelector(PermissionedToken.InsufficientAllowance.selector, settlement, 100e18, 101e18)
        );
        token.transferFrom(alice, bob, 101e18);

        vm.prank(settlement);
        token.transferFrom(alice, bob, 100e18);
        assertEq(token.balanceOf(bob), 100e18);
        assertEq(token.allowance(alice, settlement), 0);
    }

    function test_OnlyAdminsAdminister() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(PermissionedToken.NotAdmin.selector, alice));
        token.mint(alice, 1);
        vm.expectRevert(abi.encodeWithSelector(PermissionedToken.NotAdmin.selector, alice));
        token.setAllowlisted(outsider, true);
        vm.expectRevert(abi.encodeWithSelector(PermissionedToken.NotAdmin.selector, alice));
        token.setAdmin(alice, true);
        vm.stopPrank();
    }

    function test_MintOnlyToAllowlisted() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(PermissionedToken.NotAllowlisted.selector, outsider));
        token.mint(outsider, 1);
    }

    function test_TheLastAdminCannotLeave() public {
        vm.prank(admin);
        vm.expectRevert(PermissionedToken.LastAdmin.selector);
        token.setAdmin(admin, false);

        vm.startPrank(admin);
        vm.expectEmit(address(token));
        emit PermissionedToken.AdminChanged(bob, true, admin);
        token.setAdmin(bob, true);
        token.setAdmin(admin, false);
        vm.stopPrank();
        assertEq(token.adminCount(), 1);
        assertFalse(token.isAdmin(admin));
    }

    /// The network's own account allowlist sits below the token's: an
    /// account the network refuses cannot transact, whatever the token says.
    function test_NetworkPermissioningAppliesToo() public {
        forja.addToAllowlist(alice);
        forja.setAccessLevel(bob, 1); // may transact, not deploy
        assertEq(forja.accessLevel(bob), 1);

        vm.prank(alice);
        token.transfer(bob, 10e18);

        forja.removeFromAllowlist(alice);
        vm.prank(alice);
        vm.expectRevert();
        token.transfer(bob, 10e18);
        assertEq(token.balanceOf(bob), 10e18);
    }

    function testFuzz_TransferConservesSupply(uint256 amount, uint256 back) public {
        amount = bound(amount, 0, 1_000e18);
        back = bound(back, 0, amount);
        vm.prank(alice);
        token.transfer(bob, amount);
        vm.prank(bob);
        token.transfer(alice, back);
        assertEq(token.balanceOf(alice) + token.balanceOf(bob), token.totalSupply());
        assertEq(token.balanceOf(bob), amount - back);
    }

    function testFuzz_NonAllowlistedNeverReceive(address to, uint256 amount) public {
        vm.assume(!token.isAllowlisted(to));
        amount = bound(amount, 1, 1_000e18);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(PermissionedToken.NotAllowlisted.selector, to));
        token.transfer(to, amount);
    }

    function testFuzz_CannotOverspend(uint256 amount) public {
        amount = bound(amount, 1_000e18 + 1, type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(PermissionedToken.InsufficientBalance.selector, alice, 1_000e18, amount)
        );
        token.transfer(bob, amount);
    }
}
