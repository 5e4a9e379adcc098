// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title An ERC-20 token that only allowlisted holders may hold and move.
/// @notice The typical token of a consortium network: admins decide who may
/// hold it (after KYC, membership, ...), mint and burn; holders transfer
/// freely among themselves. Both sides of a transfer must be allowlisted.
contract PermissionedToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    /// @notice Who may hold and move the token.
    mapping(address => bool) public isAllowlisted;
    /// @notice Who may change the allowlist, the admins, and mint and burn.
    mapping(address => bool) public isAdmin;
    /// @notice How many admins there are; never drops to zero.
    uint256 public adminCount;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event AllowlistChanged(address indexed account, bool allowed, address indexed by);
    event AdminChanged(address indexed account, bool admin, address indexed by);

    error NotAdmin(address caller);
    error NotAllowlisted(address account);
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error LastAdmin();
    error ZeroAddress();

    modifier onlyAdmin() {
        if (!isAdmin[msg.sender]) revert NotAdmin(msg.sender);
        _;
    }

    /// @param admin The first admin; also allowlisted.
    constructor(string memory name_, string memory symbol_, address admin) {
        if (admin == address(0)) revert ZeroAddress();
        name = name_;
        symbol = symbol_;
        _setAdmin(admin, true);
        _setAllowlisted(admin, true);
    }

    // ---- ERC-20 ----

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice The spender needs no allowlisting: only holders do (a
    /// settlement contract may move tokens between two members).
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance(msg.sender, allowed, value);
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    // ---- administration ----

    function setAllowlisted(address account, bool allowed) external onlyAdmin {
        _setAllowlisted(account, allowed);
    }

    function setAdmin(address account, bool admin) external onlyAdmin {
        _setAdmin(account, admin);
    }

    /// @notice Issues new tokens to an allowlisted holder.
    function mint(address to, uint256 value) external onlyAdmin {
        if (!isAllowlisted[to]) revert NotAllowlisted(to);
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    /// @notice Destroys tokens of any holder (redemption, court order);
    /// works whether or not the holder is still allowlisted.
    function burn(address from, uint256 value) external onlyAdmin {
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        balanceOf[from] = balance - value;
        totalSupply -= value;
        emit Transfer(from, address(0), value);
    }

    // ---- internals ----

    function _transfer(address from, address to, uint256 value) internal {
        if (!isAllowlisted[from]) revert NotAllowlisted(from);
        if (!isAllowlisted[to]) revert NotAllowlisted(to);
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        unchecked {
            balanceOf[from] = balance - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }

    function _setAllowlisted(address account, bool allowed) internal {
        if (account == address(0)) revert ZeroAddress();
        isAllowlisted[account] = allowed;
        emit AllowlistChanged(account, allowed, msg.sender);
    }

    function _setAdmin(address account, bool admin) internal {
        if (account == address(0)) revert ZeroAddress();
        if (isAdmin[account] == admin) return;
        if (admin) {
            adminCount++;
        } else {
            if (adminCount == 1) revert LastAdmin();
            adminCount--;
        }
        isAdmin[account] = admin;
        emit AdminChanged(account, admin, msg.sender);
    }
}
