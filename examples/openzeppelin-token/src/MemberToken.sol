// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title A consortium token on OpenZeppelin Contracts: only members hold it.
/// @notice Roles: DEFAULT_ADMIN_ROLE grants the others; MEMBERSHIP_ROLE admits
/// and removes members; ISSUER_ROLE mints and burns; PAUSER_ROLE freezes all
/// transfers (an incident, a migration).
contract MemberToken is ERC20, ERC20Pausable, AccessControl {
    bytes32 public constant MEMBER_ROLE = keccak256("MEMBER_ROLE");
    bytes32 public constant MEMBERSHIP_ROLE = keccak256("MEMBERSHIP_ROLE");
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice `account` is not a member, so may not hold the token.
    error NotMember(address account);

    constructor(string memory name_, string memory symbol_, address admin) ERC20(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MEMBERSHIP_ROLE, admin);
        _grantRole(ISSUER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        // Membership is managed by the membership role, not only the admin.
        _setRoleAdmin(MEMBER_ROLE, MEMBERSHIP_ROLE);
        _grantRole(MEMBER_ROLE, admin);
    }

    function mint(address to, uint256 amount) external onlyRole(ISSUER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Redemption: the issuer burns a holder's tokens, member or not.
    function burn(address from, uint256 amount) external onlyRole(ISSUER_ROLE) {
        _burn(from, amount);
    }

    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// Every balance change passes here: both holders must be members
    /// (zero is the mint/burn side and needs nothing).
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Pausable) {
        if (from != address(0) && to != address(0) && !hasRole(MEMBER_ROLE, from)) revert NotMember(from);
        if (to != address(0) && !hasRole(MEMBER_ROLE, to)) revert NotMember(to);
        super._update(from, to, value);
    }
}
