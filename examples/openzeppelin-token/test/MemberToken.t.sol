// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Test} from "forja-std/Test.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {MemberToken} from "../src/MemberToken.sol";

contract MemberTokenTest is Test {
    MemberToken internal token;
    address internal admin = makeAddr("admin");
    address internal registrar = makeAddr("registrar");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal outsider = makeAddr("outsider");

    function setUp() public {
        token = new MemberToken("Consortium Euro", "CEUR", admin);
        vm.startPrank(admin);
        token.grantRole(token.MEMBERSHIP_ROLE(), registrar);
        vm.stopPrank();
        vm.startPrank(registrar);
        token.grantRole(token.MEMBER_ROLE(), alice);
        token.grantRole(token.MEMBER_ROLE(), bob);
        vm.stopPrank();
        vm.prank(admin);
        token.mint(alice, 1_000e18);
    }

    function test_MembersTransfer() public {
        vm.prank(alice);
        token.transfer(bob, 400e18);
        assertEq(token.balanceOf(bob), 400e18);
        assertEq(token.balanceOf(alice), 600e18);
    }

    function test_OutsidersCannotReceiveOrBeMinted() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(MemberToken.NotMember.selector, outsider));
        token.transfer(outsider, 1);

        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(MemberToken.NotMember.selector, outsider));
        token.mint(outsider, 1);
    }

    function test_RemovedMemberIsFrozenButRedeemable() public {
        bytes32 memberRole = token.MEMBER_ROLE();
        vm.prank(registrar);
        token.revokeRole(memberRole, alice);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(MemberToken.NotMember.selector, alice));
        token.transfer(bob, 1);

        vm.prank(admin);
        token.burn(alice, 1_000e18);
        assertEq(token.totalSupply(), 0);
    }

    function test_OnlyTheMembershipRoleAdmitsMembers() public {
        bytes32 memberRole = token.MEMBER_ROLE();
        bytes32 membershipRole = token.MEMBERSHIP_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, membershipRole)
        );
        token.grantRole(memberRole, outsider);
    }

    function test_PauseFreezesTransfers() public {
        vm.prank(admin);
        token.pause();
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        token.transfer(bob, 1);

        vm.prank(admin);
        token.unpause();
        vm.prank(alice);
        token.transfer(bob, 1);
        assertEq(token.balanceOf(bob), 1);
    }

    function test_OnlyIssuersMint() public {
        bytes32 issuerRole = token.ISSUER_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, issuerRole)
        );
        token.mint(alice, 1);
    }

    function testFuzz_BalancesAlwaysSumToSupply(uint256 toBob, uint256 burned) public {
        toBob = bound(toBob, 0, 1_000e18);
        burned = bound(burned, 0, toBob);
        vm.prank(alice);
        token.transfer(bob, toBob);
        vm.prank(admin);
        token.burn(bob, burned);
        assertEq(token.balanceOf(alice) + token.balanceOf(bob), token.totalSupply());
        assertEq(token.totalSupply(), 1_000e18 - burned);
    }

    function testFuzz_NoOverspend(uint256 amount) public {
        amount = bound(amount, 1_000e18 + 1, type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 1_000e18, amount)
        );
        token.transfer(bob, amount);
    }
}
