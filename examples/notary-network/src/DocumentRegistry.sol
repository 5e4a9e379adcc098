// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IssuerDirectory} from "./IssuerDirectory.sol";

/// @title Documents notarised by the organisations of an IssuerDirectory.
/// @notice A document belongs to the organisation its signer issued it for,
/// so any signer of that organisation may later revoke it, even after the
/// original signer left.
contract DocumentRegistry {
    struct Record {
        uint256 organisation;
        address signer;
        uint64 notarisedAt;
        uint64 revokedAt;
    }

    IssuerDirectory public immutable directory;
    mapping(bytes32 => Record) public records;

    event DocumentNotarised(bytes32 indexed hash, uint256 indexed organisation, address indexed signer);
    event DocumentRevoked(bytes32 indexed hash, uint256 indexed organisation, address indexed signer, string reason);

    error NotASigner(address caller);
    error AlreadyNotarised(bytes32 hash);
    error UnknownDocument(bytes32 hash);
    error AlreadyRevoked(bytes32 hash);
    error NotTheIssuingOrganisation(bytes32 hash, uint256 organisation);

    constructor(IssuerDirectory directory_) {
        directory = directory_;
    }

    function notarise(bytes32 hash) public {
        uint256 organisation = _signerOrganisation();
        Record storage record = records[hash];
        if (record.organisation != 0) revert AlreadyNotarised(hash);
        records[hash] = Record(organisation, msg.sender, uint64(block.timestamp), 0);
        emit DocumentNotarised(hash, organisation, msg.sender);
    }

    /// @notice Notarises many documents in one transaction (a graduation).
    function notariseBatch(bytes32[] calldata hashes) external {
        for (uint256 i = 0; i < hashes.length; i++) {
            notarise(hashes[i]);
        }
    }

    function revoke(bytes32 hash, string calldata reason) external {
        uint256 organisation = _signerOrganisation();
        Record storage record = records[hash];
        if (record.organisation == 0) revert UnknownDocument(hash);
        if (record.revokedAt != 0) revert AlreadyRevoked(hash);
        if (record.organisation != organisation) revert NotTheIssuingOrganisation(hash, organisation);
        record.revokedAt = uint64(block.timestamp);
        emit DocumentRevoked(hash, organisation, msg.sender, reason);
    }

    /// @notice Valid: notarised, not revoked. Returns the issuing organisation.
    function verify(bytes32 hash) external view returns (bool valid, uint256 organisation) {
        Record storage record = records[hash];
        return (record.organisation != 0 && record.revokedAt == 0, record.organisation);
    }

    function _signerOrganisation() internal view returns (uint256 organisation) {
        organisation = directory.activeOrganisationOf(msg.sender);
        if (organisation == 0) revert NotASigner(msg.sender);
    }
}
