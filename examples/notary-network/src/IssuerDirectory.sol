// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title The consortium's directory of issuing organisations.
/// @notice An organisation (a university, a notary's office) is registered
/// once by the directory's governors, then manages its own signing accounts:
/// the people or systems that issue documents in its name. Registries ask
/// the directory who speaks for whom.
contract IssuerDirectory {
    struct Organisation {
        string name;
        address manager; // adds and removes the organisation's signers
        bool active;
    }

    mapping(address => bool) public isGovernor;
    /// @notice Organisations by id (1-based; 0 means none).
    mapping(uint256 => Organisation) public organisations;
    /// @notice The organisation a signer issues for (0 when none).
    mapping(address => uint256) public organisationOf;
    uint256 public organisationCount;

    event GovernorChanged(address indexed governor, bool allowed);
    event OrganisationRegistered(uint256 indexed id, string name, address indexed manager);
    event OrganisationSuspended(uint256 indexed id, bool suspended);
    event SignerChanged(uint256 indexed organisation, address indexed signer, bool allowed);

    error NotGovernor(address caller);
    error NotManager(uint256 organisation, address caller);
    error UnknownOrganisation(uint256 id);
    error SignerTaken(address signer, uint256 organisation);

    modifier onlyGovernor() {
        if (!isGovernor[msg.sender]) revert NotGovernor(msg.sender);
        _;
    }

    constructor(address governor) {
        isGovernor[governor] = true;
        emit GovernorChanged(governor, true);
    }

    function setGovernor(address governor, bool allowed) external onlyGovernor {
        isGovernor[governor] = allowed;
        emit GovernorChanged(governor, allowed);
    }

    function register(string calldata name, address manager) external onlyGovernor returns (uint256 id) {
        id = ++organisationCount;
        organisations[id] = Organisation(name, manager, true);
        emit OrganisationRegistered(id, name, manager);
    }

    /// @notice A suspended organisation's signers cannot issue; its past
    /// documents stay valid unless revoked.
    function setSuspended(uint256 id, bool suspended) external onlyGovernor {
        if (organisations[id].manager == address(0)) revert UnknownOrganisation(id);
        organisations[id].active = !suspended;
        emit OrganisationSuspended(id, suspended);
    }

    function setSigner(uint256 id, address signer, bool allowed) external {
        Organisation storage organisation = organisations[id];
        if (organisation.manager == address(0)) revert UnknownOrganisation(id);
        if (msg.sender != organisation.manager) revert NotManager(id, msg.sender);
        uint256 current = organisationOf[signer];
        if (allowed) {
            if (current != 0 && current != id) revert SignerTaken(signer, current);
            organisationOf[signer] = id;
        } else if (current == id) {
            organisationOf[signer] = 0;
        }
        emit SignerChanged(id, signer, allowed);
    }

    /// @notice The active organisation `signer` issues for, or 0.
    function activeOrganisationOf(address signer) external view returns (uint256) {
        uint256 id = organisationOf[signer];
        return id != 0 && organisations[id].active ? id : 0;
    }
}
