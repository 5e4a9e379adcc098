// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Test} from "forja-std/Test.sol";
import {ConsortiumRules} from "../src/ConsortiumRules.sol";

contract ConsortiumRulesTest is Test {
    ConsortiumRules internal rules;
    address internal telco = makeAddr("telco");
    address internal bank = makeAddr("bank");
    address internal university = makeAddr("university");
    address internal newcomer = makeAddr("newcomer");
    address internal app = makeAddr("app");
    string internal constant ENODE =
        "enode://6f8a80d14311c39f35f516fa664deaaaa13e85b2f7493f37f6144d86991ec012937307647bd3b9a82abe2974e1407241d54947bbb39763a4cac9f77166ad92a0@10.0.0.7:30303";

    function setUp() public {
        address[] memory founders = new address[](3);
        founders[0] = telco;
        founders[1] = bank;
        founders[2] = university;
        rules = new ConsortiumRules(founders);
    }

    function test_FoundersAreMembersWithAllowedAccounts() public view {
        assertEq(rules.memberCount(), 3);
        assertTrue(rules.isMember(bank));
        assertTrue(rules.transactionAllowed(bank, address(0), 0, 0, 21000, ""));
        assertFalse(rules.transactionAllowed(app, address(0), 0, 0, 21000, ""));
    }

    function test_AMajorityAllowsAnAccount() public {
        vm.prank(telco);
        uint256 id = rules.propose(ConsortiumRules.Action.AllowAccount, app, "");
        assertFalse(rules.isAccountAllowed(app), "1 of 3 is not a majority");

        vm.expectEmit(address(rules));
        emit ConsortiumRules.Executed(id, ConsortiumRules.Action.AllowAccount, app, bytes32(0));
        vm.prank(bank);
        rules.vote(id);
        assertTrue(rules.transactionAllowed(app, address(0), 0, 0, 21000, ""));

        vm.prank(university);
        vm.expectRevert(abi.encodeWithSelector(ConsortiumRules.AlreadyExecuted.selector, id));
        rules.vote(id);
    }

    function test_NodesAreAllowedByEnode() public {
        vm.prank(telco);
        uint256 id = rules.propose(ConsortiumRules.Action.AllowNode, address(0), ENODE);
        assertFalse(rules.connectionAllowed(ENODE, "10.0.0.7", 30303));
        vm.prank(university);
        rules.vote(id);
        assertTrue(rules.connectionAllowed(ENODE, "10.0.0.7", 30303));
        assertFalse(rules.connectionAllowed("enode://other", "10.0.0.8", 30303));
    }

    function test_NoDoubleVotesNoOutsiders() public {
        vm.prank(telco);
        uint256 id = rules.propose(ConsortiumRules.Action.AllowAccount, app, "");
        vm.prank(telco);
        vm.expectRevert(abi.encodeWithSelector(ConsortiumRules.AlreadyVoted.selector, id, telco));
        rules.vote(id);
        vm.prank(app);
        vm.expectRevert(abi.encodeWithSelector(ConsortiumRules.NotMember.selector, app));
        rules.vote(id);
        vm.prank(bank);
        vm.expectRevert(abi.encodeWithSelector(ConsortiumRules.UnknownProposal.selector, 7));
        rules.vote(7);
    }

    function test_MembershipChangeLapsesOpenProposals() public {
        vm.prank(telco);
        uint256 pending = rules.propose(ConsortiumRules.Action.DenyAccount, bank, "");

        vm.prank(telco);
        uint256 admit = rules.propose(ConsortiumRules.Action.AddMember, newcomer, "");
        vm.prank(bank);
        rules.vote(admit);
        assertTrue(rules.isMember(newcomer));
        assertEq(rules.memberCount(), 4);

        vm.prank(university);
        vm.expectRevert(abi.encodeWithSelector(ConsortiumRules.Lapsed.selector, pending));
        rules.vote(pending);
    }

    function test_RemovingAMemberNeedsAMajorityOfTheRest() public {
        vm.prank(telco);
        uint256 id = rules.propose(ConsortiumRules.Action.RemoveMember, university, "");
        vm.prank(bank);
        rules.vote(id);
        assertFalse(rules.isMember(university));
        assertEq(rules.memberCount(), 2);
        vm.prank(university);
        vm.expectRevert(abi.encodeWithSelector(ConsortiumRules.NotMember.selector, university));
        rules.propose(ConsortiumRules.Action.AllowAccount, app, "");
    }

    function test_ProposalsNeedATarget() public {
        vm.startPrank(telco);
        vm.expectRevert(ConsortiumRules.InvalidTarget.selector);
        rules.propose(ConsortiumRules.Action.AllowAccount, address(0), "");
        vm.expectRevert(ConsortiumRules.InvalidTarget.selector);
        rules.propose(ConsortiumRules.Action.AllowNode, address(0), "");
        vm.stopPrank();
    }

    /// What a permissioned node does with the rules' answer, played with
    /// forja's permissioning cheatcodes: the network refuses a denied account.
    function test_TheNetworkEnforcesTheRulesAnswer() public {
        vm.prank(telco);
        uint256 id = rules.propose(ConsortiumRules.Action.AllowAccount, app, "");
        vm.prank(bank);
        rules.vote(id);
        _syncNetworkAllowlist(app);
        _syncNetworkAllowlist(telco);
        _syncNetworkAllowlist(bank);
        _syncNetworkAllowlist(university);

        vm.prank(app);
        rules.isMember(app); // an allowed account transacts

        vm.prank(telco);
        id = rules.propose(ConsortiumRules.Action.DenyAccount, app, "");
        vm.prank(university);
        rules.vote(id);
        _syncNetworkAllowlist(app);
        assertEq(forja.accessLevel(app), 0);
        vm.prank(app);
        vm.expectRevert(
            bytes(
                string.concat(
                    "permissioning: account ",
                    vm.toString(app),
                    " is not allowed to transact (access level 0, needs 1)"
                )
            )
        );
        rules.isMember(app);
    }

    function _syncNetworkAllowlist(address account) internal {
        bool allowed = rules.transactionAllowed(account, address(0), 0, 0, 0, "");
        forja.setAccessLevel(account, allowed ? 1 : 0);
    }

    function testFuzz_OneVoteNeverDecidesAmongThree(uint8 action, address target) public {
        vm.assume(target != address(0));
        ConsortiumRules.Action chosen = ConsortiumRules.Action(bound(action, 0, 3));
        uint256 membersBefore = rules.memberCount();
        bool allowedBefore = rules.isAccountAllowed(target);
        vm.prank(bank);
        rules.propose(chosen, target, "");
        assertEq(rules.memberCount(), membersBefore);
        assertEq(rules.isAccountAllowed(target), allowedBefore);
    }
}

/// Random members propose and vote; the invariants below must hold after
/// every call.
contract GovernanceHandler is Test {
    ConsortiumRules internal immutable rules;
    address[] internal actors;

    constructor(ConsortiumRules rules_, address[] memory actors_) {
        rules = rules_;
        actors = actors_;
    }

    function propose(uint256 actorSeed, uint8 action, uint256 targetSeed) external {
        address proposer = actors[actorSeed % actors.length];
        address target = actors[targetSeed % actors.length];
        if (!rules.isMember(proposer)) return;
        vm.prank(proposer);
        try rules.propose(ConsortiumRules.Action(action % 4), target, "") {} catch {}
    }

    function vote(uint256 actorSeed, uint256 proposalSeed) external {
        uint256 count = rules.proposalCount();
        if (count == 0) return;
        vm.prank(actors[actorSeed % actors.length]);
        try rules.vote(proposalSeed % count) {} catch {}
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function actor(uint256 i) external view returns (address) {
        return actors[i];
    }
}

contract ConsortiumRulesInvariants is Test {
    ConsortiumRules internal rules;
    GovernanceHandler internal handler;

    function setUp() public {
        address[] memory actors = new address[](5);
        for (uint256 i = 0; i < actors.length; i++) {
            actors[i] = makeAddr(string.concat("org", vm.toString(i)));
        }
        address[] memory founders = new address[](3);
        founders[0] = actors[0];
        founders[1] = actors[1];
        founders[2] = actors[2];
        rules = new ConsortiumRules(founders);
        handler = new GovernanceHandler(rules, actors);
        targetContract(address(handler));
    }

    /// memberCount is the number of members, and never zero.
    function invariant_MemberCountMatchesMembers() public view {
        uint256 members;
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            if (rules.isMember(handler.actor(i))) members++;
        }
        assertEq(rules.memberCount(), members);
        assertGt(members, 0);
    }
}
