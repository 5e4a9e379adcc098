// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Test} from "forja-std/Test.sol";
import {DocumentRegistry} from "../src/DocumentRegistry.sol";

contract DocumentRegistryTest is Test {
    DocumentRegistry internal registry;
    address internal admin = makeAddr("admin");
    address internal university = makeAddr("university");
    address internal stranger = makeAddr("stranger");
    bytes32 internal diploma = keccak256("diploma of Ada Lovelace, 2026");

    function setUp() public {
        registry = new DocumentRegistry(admin);
        vm.prank(admin);
        registry.setIssuer(university, true);
        vm.warp(1_767_225_600); // 2026-01-01
    }

    function test_NotariseAndVerify() public {
        vm.expectEmit(address(registry));
        emit DocumentRegistry.DocumentNotarised(diploma, university, "ipfs://diploma");
        vm.prank(university);
        registry.notarise(diploma, "ipfs://diploma");

        (bool valid, address issuer, uint64 at) = registry.verify(diploma);
        assertTrue(valid);
        assertEq(issuer, university);
        assertEq(at, 1_767_225_600);
        assertEq(registry.recordOf(diploma).uri, "ipfs://diploma");
        assertEq(registry.documentCount(), 1);
    }

    function test_UnknownDocumentIsNotValid() public view {
        (bool valid, address issuer,) = registry.verify(keccak256("forged"));
        assertFalse(valid);
        assertEq(issuer, address(0));
    }

    function test_OnlyIssuersNotarise() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.NotIssuer.selector, stranger));
        registry.notarise(diploma, "");
    }

    function test_NoDoubleNotarisationNorEmptyHash() public {
        vm.startPrank(university);
        registry.notarise(diploma, "");
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.AlreadyNotarised.selector, diploma, university));
        registry.notarise(diploma, "again");
        vm.expectRevert(DocumentRegistry.EmptyHash.selector);
        registry.notarise(bytes32(0), "");
        vm.stopPrank();
    }

    function test_IssuerRevokesWithReason() public {
        vm.prank(university);
        registry.notarise(diploma, "");
        vm.warp(block.timestamp + 30 days);

        vm.expectEmit(address(registry));
        emit DocumentRegistry.DocumentRevoked(diploma, university, "issued in error");
        vm.prank(university);
        registry.revoke(diploma, "issued in error");

        (bool valid, address issuer,) = registry.verify(diploma);
        assertFalse(valid);
        assertEq(issuer, university, "the record stays readable");
        assertEq(registry.recordOf(diploma).revokedAt, 1_767_225_600 + 30 days);

        vm.prank(university);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.AlreadyRevoked.selector, diploma));
        registry.revoke(diploma, "twice");
    }

    function test_AdminRevokesStrangerCannot() public {
        vm.prank(university);
        registry.notarise(diploma, "");

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.NotAllowedToRevoke.selector, diploma, stranger));
        registry.revoke(diploma, "");

        vm.prank(admin);
        registry.revoke(diploma, "court order");
        (bool valid,,) = registry.verify(diploma);
        assertFalse(valid);
    }

    function test_RevokingUnknownReverts() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.UnknownDocument.selector, diploma));
        registry.revoke(diploma, "");
    }

    function test_FormerIssuerKeepsRecordsAndMayRevokeThem() public {
        vm.prank(university);
        registry.notarise(diploma, "");
        vm.prank(admin);
        registry.setIssuer(university, false);

        (bool valid,,) = registry.verify(diploma);
        assertTrue(valid, "records outlive the role");
        vm.prank(university);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.NotIssuer.selector, university));
        registry.notarise(keccak256("new"), "");
        vm.prank(university);
        registry.revoke(diploma, "withdrawn");
    }

    function test_RolesAreAdminOnlyAndAdminsStay() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.NotAdmin.selector, stranger));
        registry.setIssuer(stranger, true);

        vm.prank(admin);
        vm.expectRevert(DocumentRegistry.SelfRemoval.selector);
        registry.setAdmin(admin, false);
    }

    /// On the network, issuers are also members of the account allowlist:
    /// an issuer the consortium expels cannot transact at all.
    function test_IssuerExpelledFromTheNetworkCannotNotarise() public {
        forja.setAccessLevel(university, 1); // transact only
        vm.prank(university);
        registry.notarise(diploma, "");

        forja.removeFromAllowlist(university);
        assertEq(forja.accessLevel(university), 0);
        vm.prank(university);
        vm.expectRevert();
        registry.notarise(keccak256("another"), "");
    }

    function testFuzz_AnyDocumentVerifiesUntilRevoked(bytes memory document, string memory uri) public {
        bytes32 hash = keccak256(document);
        vm.prank(university);
        registry.notarise(hash, uri);
        (bool valid, address issuer,) = registry.verify(hash);
        assertTrue(valid);
        assertEq(issuer, university);

        vm.prank(admin);
        registry.revoke(hash, "fuzz");
        (valid,,) = registry.verify(hash);
        assertFalse(valid);
    }

    function testFuzz_OnlyTheIssuerOrAnAdminRevokes(address caller) public {
        vm.assume(caller != university && caller != admin);
        vm.prank(university);
        registry.notarise(diploma, "");
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.NotAllowedToRevoke.selector, diploma, caller));
        registry.revoke(diploma, "");
    }
}
