// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Onchain permissioning for a consortium, governed by its members.
/// @notice Besu's onchain permissioning asks two contracts whether a node may
/// connect (`connectionAllowed`) and whether an account may send a
/// transaction (`transactionAllowed`). Here one contract answers both, and
/// the lists change only by a majority of the member organisations' votes,
/// the way Alastria's permissioning contracts let the consortium, not one
/// operator, decide who joins.
contract ConsortiumRules {
    enum Action {
        AddMember,
        RemoveMember,
        AllowAccount,
        DenyAccount,
        AllowNode,
        DenyNode
    }

    struct Proposal {
        Action action;
        address account; // member or account the proposal is about
        bytes32 node; // keccak256 of the node's enode id, for node actions
        uint64 votes;
        bool executed;
        uint256 memberEpoch; // votes are void once membership changed
    }

    /// @notice Member organisations (their voting accounts).
    mapping(address => bool) public isMember;
    uint256 public memberCount;
    /// @notice Bumped whenever membership changes; open proposals made before lapse.
    uint256 public memberEpoch;
    mapping(address => bool) public isAccountAllowed;
    mapping(bytes32 => bool) public isNodeAllowed;

    Proposal[] public proposals;
    mapping(uint256 => mapping(address => bool)) public hasVoted;

    event Proposed(uint256 indexed id, Action action, address account, bytes32 node, address indexed by);
    event Voted(uint256 indexed id, address indexed member, uint64 votes);
    event Executed(uint256 indexed id, Action action, address account, bytes32 node);

    error NotMember(address caller);
    error UnknownProposal(uint256 id);
    error AlreadyVoted(uint256 id, address member);
    error AlreadyExecuted(uint256 id);
    error Lapsed(uint256 id);
    error LastMember();
    error InvalidTarget();

    modifier onlyMember() {
        if (!isMember[msg.sender]) revert NotMember(msg.sender);
        _;
    }

    /// @param founders The founding members; each also gets an allowed account.
    constructor(address[] memory founders) {
        for (uint256 i = 0; i < founders.length; i++) {
            if (!isMember[founders[i]]) {
                isMember[founders[i]] = true;
                isAccountAllowed[founders[i]] = true;
                memberCount++;
            }
        }
        if (memberCount == 0) revert LastMember();
    }

    // ---- Besu's permissioning interfaces ----

    /// @notice Besu's AccountRules: may `sender` send this transaction?
    function transactionAllowed(address sender, address, uint256, uint256, uint256, bytes calldata)
        external
        view
        returns (bool)
    {
        return isAccountAllowed[sender];
    }

    /// @notice Besu's NodeRules: may the node with this enode id connect?
    function connectionAllowed(string calldata enodeId, string calldata, uint16) external view returns (bool) {
        return isNodeAllowed[keccak256(bytes(enodeId))];
    }

    // ---- governance ----

    /// @notice Proposes a change; the proposer's vote is counted.
    function propose(Action action, address account, string calldata enodeId)
        external
        onlyMember
        returns (uint256 id)
    {
        bool nodeAction = action == Action.AllowNode || action == Action.DenyNode;
        if (nodeAction ? bytes(enodeId).length == 0 : account == address(0)) revert InvalidTarget();
        id = proposals.length;
        bytes32 node = nodeAction ? keccak256(bytes(enodeId)) : bytes32(0);
        proposals.push(Proposal(action, account, node, 0, false, memberEpoch));
        emit Proposed(id, action, account, node, msg.sender);
        vote(id);
    }

    /// @notice Votes for a proposal; it executes once more than half of the
    /// members voted for it.
    function vote(uint256 id) public onlyMember {
        if (id >= proposals.length) revert UnknownProposal(id);
        Proposal storage proposal = proposals[id];
        if (proposal.executed) revert AlreadyExecuted(id);
        if (proposal.memberEpoch != memberEpoch) revert Lapsed(id);
        if (hasVoted[id][msg.sender]) revert AlreadyVoted(id, msg.sender);
        hasVoted[id][msg.sender] = true;
        proposal.votes++;
        emit Voted(id, msg.sender, proposal.votes);
        if (proposal.votes * 2 > memberCount) _execute(id, proposal);
    }

    function proposalCount() external view returns (uint256) {
        return proposals.length;
    }

    function _execute(uint256 id, Proposal storage proposal) internal {
        proposal.executed = true;
        Action action = proposal.action;
        address account = proposal.account;
        if (action == Action.AddMember) {
            if (!isMember[account]) {
                isMember[account] = true;
                memberCount++;
                memberEpoch++;
            }
            isAccountAllowed[account] = true;
        } else if (action == Action.RemoveMember) {
            if (isMember[account]) {
                if (memberCount == 1) revert LastMember();
                isMember[account] = false;
                memberCount--;
                memberEpoch++;
            }
        } else if (action == Action.AllowAccount) {
            isAccountAllowed[account] = true;
        } else if (action == Action.DenyAccount) {
            isAccountAllowed[account] = false;
        } else if (action == Action.AllowNode) {
            isNodeAllowed[proposal.node] = true;
        } else {
            isNodeAllowed[proposal.node] = false;
        }
        emit Executed(id, action, account, proposal.node);
    }
}
