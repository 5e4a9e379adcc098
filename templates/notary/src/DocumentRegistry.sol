// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title A registry of notarised documents.
/// @notice Issuers (universities, notaries, registries) record the hash of a
/// document they issued; anyone can then check a copy against it. Only the
/// hash goes on chain, never the document. An issuer, or an admin, may
/// revoke a record with a reason; revocation is final and the record stays
/// readable so verifiers learn why.
contract DocumentRegistry {
    struct Record {
        address issuer;
        uint64 notarisedAt;
        uint64 revokedAt; // 0 while valid
        string uri; // where the document can be fetched, may be empty
    }

    /// @notice Records by document hash.
    mapping(bytes32 => Record) internal records;
    mapping(address => bool) public isIssuer;
    mapping(address => bool) public isAdmin;
    /// @notice How many documents are notarised (revoked ones included).
    uint256 public documentCount;

    event IssuerChanged(address indexed issuer, bool allowed, address indexed by);
    event AdminChanged(address indexed admin, bool allowed, address indexed by);
    event DocumentNotarised(bytes32 indexed hash, address indexed issuer, string uri);
    event DocumentRevoked(bytes32 indexed hash, address indexed by, string reason);

    error NotAdmin(address caller);
    error NotIssuer(address caller);
    error EmptyHash();
    error AlreadyNotarised(bytes32 hash, address issuer);
    error UnknownDocument(bytes32 hash);
    error AlreadyRevoked(bytes32 hash);
    error NotAllowedToRevoke(bytes32 hash, address caller);
    error SelfRemoval();

    modifier onlyAdmin() {
        if (!isAdmin[msg.sender]) revert NotAdmin(msg.sender);
        _;
    }

    constructor(address admin) {
        isAdmin[admin] = true;
        emit AdminChanged(admin, true, msg.sender);
    }

    function setIssuer(address issuer, bool allowed) external onlyAdmin {
        isIssuer[issuer] = allowed;
        emit IssuerChanged(issuer, allowed, msg.sender);
    }

    /// @notice Admins cannot remove themselves, so the registry always has one.
    function setAdmin(address admin, bool allowed) external onlyAdmin {
        if (admin == msg.sender && !allowed) revert SelfRemoval();
        isAdmin[admin] = allowed;
        emit AdminChanged(admin, allowed, msg.sender);
    }

    /// @notice Records `hash` (e.g. the SHA-256 or keccak-256 of a document)
    /// as issued by the caller.
    function notarise(bytes32 hash, string calldata uri) external {
        if (!isIssuer[msg.sender]) revert NotIssuer(msg.sender);
        if (hash == bytes32(0)) revert EmptyHash();
        Record storage record = records[hash];
        if (record.issuer != address(0)) revert AlreadyNotarised(hash, record.issuer);
        record.issuer = msg.sender;
        record.notarisedAt = uint64(block.timestamp);
        record.uri = uri;
        documentCount++;
        emit DocumentNotarised(hash, msg.sender, uri);
    }

    /// @notice Revokes a record; its issuer or an admin may. Issuers keep
    /// the right to revoke what they issued after losing the issuer role.
    function revoke(bytes32 hash, string calldata reason) external {
        Record storage record = records[hash];
        if (record.issuer == address(0)) revert UnknownDocument(hash);
        if (record.revokedAt != 0) revert AlreadyRevoked(hash);
        if (msg.sender != record.issuer && !isAdmin[msg.sender]) revert NotAllowedToRevoke(hash, msg.sender);
        record.revokedAt = uint64(block.timestamp);
        emit DocumentRevoked(hash, msg.sender, reason);
    }

    /// @notice Whether `hash` is notarised and not revoked, and by whom.
    function verify(bytes32 hash) external view returns (bool valid, address issuer, uint64 notarisedAt) {
        Record storage record = records[hash];
        return (record.issuer != address(0) && record.revokedAt == 0, record.issuer, record.notarisedAt);
    }

    /// @notice The full record (issuer is zero for an unknown hash).
    function recordOf(bytes32 hash) external view returns (Record memory) {
        return records[hash];
    }
}
