// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title A counter anyone can increment and its owner can set.
contract Counter {
    /// @notice The current value.
    uint256 public number;
    /// @notice Who may call `setNumber`.
    address public immutable owner;

    /// @notice Emitted whenever the value changes.
    event NumberChanged(uint256 previous, uint256 current);

    /// @notice The caller is not the owner.
    error NotOwner(address caller);

    constructor(uint256 initial) {
        owner = msg.sender;
        number = initial;
    }

    /// @notice Sets the value; only the owner may.
    function setNumber(uint256 newNumber) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        emit NumberChanged(number, newNumber);
        number = newNumber;
    }

    /// @notice Adds one to the value.
    function increment() external {
        emit NumberChanged(number, number + 1);
        number++;
    }
}
