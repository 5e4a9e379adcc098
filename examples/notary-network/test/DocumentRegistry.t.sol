// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Test} from "forja-std/Test.sol";
import {IssuerDirectory} from "../src/IssuerDirectory.sol";
import {DocumentRegistry} from "../src/DocumentRegistry.sol";

contract NotaryNetworkTest is Test {
    IssuerDirectory internal directory;
    DocumentRegistry internal registry;
    address internal governor = makeAddr("governor");
    address internal uniManager = makeAddr("university manager");
    address internal registrar = makeAddr("registrar");
    address internal dean = makeAddr("dean");
    address internal notaryManager = makeAddr("notary manager");
    address internal notary = makeAddr("notary");
    uint256 internal university;
    uint256 internal notaryOffice;

    function setUp() public {
        directory = new IssuerDirectory(governor);
        registry = new DocumentRegistry(directory);
        vm.startPrank(governor);
        university = directory.register("Universidad de Ejemplo", uniManager);
        notaryOffice = directory.register("Notaria Central", notaryManager);
        vm.stopPrank();
        vm.startPrank(uniManager);
        directory.setSigner(university, registrar, true);
        directory.setSigner(university, dean, true);
        vm.stopPrank();
        vm.prank(notaryManager);
        directory.setSigner(notaryOffice, notary, true);
    }

    function test_SignersNotariseForTheirOrganisation() public {
        bytes32 diploma = keccak256("diploma 1");
        vm.expectEmit(address(registry));
        emit DocumentRegistry.DocumentNotarised(diploma, university, registrar);
        vm.prank(registrar);
        registry.notarise(diploma);
        (bool valid, uint256 organisation) = registry.verify(diploma);
        assertTrue(valid);
        assertEq(organisation, university);
    }

    function test_BatchNotarisation() public {
        bytes32[] memory diplomas = new bytes32[](3);
        for (uint256 i = 0; i < 3; i++) {
            diplomas[i] = keccak256(abi.encode("diploma", i));
        }
        vm.prank(dean);
        registry.notariseBatch(diplomas);
        for (uint256 i = 0; i < 3; i++) {
            (bool valid,) = registry.verify(diplomas[i]);
            assertTrue(valid);
        }
        // One duplicate fails the whole batch: nothing half-recorded.
        bytes32[] memory again = new bytes32[](2);
        again[0] = keccak256("fresh");
        again[1] = diplomas[0];
        vm.prank(dean);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.AlreadyNotarised.selector, diplomas[0]));
        registry.notariseBatch(again);
        (bool freshValid,) = registry.verify(keccak256("fresh"));
        assertFalse(freshValid);
    }

    function test_AnySignerOfTheOrganisationRevokesOthersCannot() public {
        bytes32 diploma = keccak256("diploma 2");
        vm.prank(registrar);
        registry.notarise(diploma);
        vm.prank(uniManager);
        directory.setSigner(university, registrar, false);

        vm.prank(notary);
        vm.expectRevert(
            abi.encodeWithSelector(DocumentRegistry.NotTheIssuingOrganisation.selector, diploma, notaryOffice)
        );
        registry.revoke(diploma, "not ours");

        vm.prank(dean);
        registry.revoke(diploma, "grade corrected");
        (bool valid,) = registry.verify(diploma);
        assertFalse(valid);
    }

    function test_SuspendedOrganisationCannotIssue() public {
        vm.prank(governor);
        directory.setSuspended(university, true);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.NotASigner.selector, registrar));
        registry.notarise(keccak256("during suspension"));
    }

    function test_ASignerSpeaksForOneOrganisation() public {
        vm.prank(notaryManager);
        vm.expectRevert(abi.encodeWithSelector(IssuerDirectory.SignerTaken.selector, registrar, university));
        directory.setSigner(notaryOffice, registrar, true);
    }

    function test_OnlyManagersAndGovernorsAdminister() public {
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IssuerDirectory.NotManager.selector, university, registrar));
        directory.setSigner(university, makeAddr("intruder"), true);
        vm.prank(uniManager);
        vm.expectRevert(abi.encodeWithSelector(IssuerDirectory.NotGovernor.selector, uniManager));
        directory.register("Fake University", uniManager);
    }

    /// Network permissioning on top: a signer whose account the consortium
    /// blocks at the network level cannot reach the registry at all.
    function test_NetworkBlockedSignerCannotReachTheRegistry() public {
        forja.setAccessLevel(registrar, 1);
        vm.prank(registrar);
        registry.notarise(keccak256("before"));
        forja.removeFromAllowlist(registrar);
        vm.prank(registrar);
        vm.expectRevert(
            bytes(
                string.concat(
                    "permissioning: account ",
                    vm.toString(registrar),
                    " is not allowed to transact (access level 0, needs 1)"
                )
            )
        );
        registry.notarise(keccak256("after"));
    }

    function testFuzz_OnlySignersNotarise(address caller, bytes32 hash) public {
        vm.assume(directory.activeOrganisationOf(caller) == 0);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(DocumentRegistry.NotASigner.selector, caller));
        registry.notarise(hash);
    }
}
