//! JSON-RPC error codes, as the spec, Geth and Besu use them.

use alloy::primitives::Bytes;
use forja_runtime::{Error, TxError};
use jsonrpsee::types::ErrorObjectOwned;

pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
/// Geth's "execution reverted" code; `data` carries the revert bytes.
pub const EXECUTION_REVERTED: i32 = 3;
/// Geth's generic server error, used for rejected transactions.
pub const SERVER_ERROR: i32 = -32000;
/// Besu's "resource not found" (unknown block, snapshot...).
pub const RESOURCE_NOT_FOUND: i32 = -32001;
/// Besu's TX_SENDER_NOT_AUTHORIZED for permissioning refusals.
pub const SENDER_NOT_AUTHORIZED: i32 = -32007;

pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, message.into(), None::<()>)
}

/// The JSON-RPC spec's "limit exceeded" server error (as Geth uses it).
pub const LIMIT_EXCEEDED: i32 = -32005;

pub fn limit_exceeded(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(LIMIT_EXCEEDED, message.into(), None::<()>)
}

pub fn internal_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL_ERROR, message.into(), None::<()>)
}

pub fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR, message.into(), None::<()>)
}

pub fn not_found(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(RESOURCE_NOT_FOUND, message.into(), None::<()>)
}

/// A failed `eth_call`/`eth_estimateGas` as Geth answers it: a revert is
/// code 3, `execution reverted[: reason]` with the revert bytes in `data`
/// (clients decode custom errors from them); an exceptional halt (out of
/// gas, invalid opcode) is a server error naming the halt.
///
/// `halt` is the runtime's description of the failure; only used when
/// there is no revert data and the runtime says it was not a revert.
pub fn execution_reverted(halt: Option<&str>, data: &Bytes) -> ErrorObjectOwned {
    use alloy::sol_types::{Panic, Revert, SolError};
    let message = if let Ok(revert) = Revert::abi_decode(data) {
        format!("execution reverted: {}", revert.reason)
    } else if let Ok(panic) = Panic::abi_decode(data) {
        format!("execution reverted: {}", panic_reason(panic.code))
    } else if data.is_empty()
        && let Some(halt) = halt.filter(|h| !h.is_empty() && !h.starts_with("execution reverted"))
    {
        return server_error(halt.to_owned());
    } else {
        "execution reverted".to_owned()
    };
    ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(data.to_string()))
}

/// Solidity's panic codes in Geth's words (`abi.panicReasons`).
fn panic_reason(code: alloy::primitives::U256) -> String {
    let known = match u64::try_from(code).unwrap_or(u64::MAX) {
        0x00 => "generic panic",
        0x01 => "assert(false)",
        0x11 => "arithmetic underflow or overflow",
        0x12 => "division or modulo by zero",
        0x21 => "enum overflow",
        0x22 => "invalid encoded storage byte array accessed",
        0x31 => "out-of-bounds array access; popping on an empty array",
        0x32 => "out-of-bounds access of an array or bytesN",
        0x41 => "out of memory",
        0x51 => "uninitialized function",
        _ => return format!("unknown panic code: {code:#x}"),
    };
    known.to_owned()
}

/// A refused transaction. Messages start with Geth's wording where one
/// exists, because clients (ethers, viem) classify errors by it.
pub fn tx_error(err: &TxError) -> ErrorObjectOwned {
    let (code, message) = match err {
        TxError::Decode(_) | TxError::InvalidSignature(_) | TxError::UnsupportedType(_) => {
            (INVALID_PARAMS, err.to_string())
        }
        TxError::AccountNotAllowed(_) | TxError::AccessLevelTooLow { .. } => {
            (SENDER_NOT_AUTHORIZED, err.to_string())
        }
        TxError::InsufficientBalance { .. } => (
            SERVER_ERROR,
            format!("insufficient funds for gas * price + value: {err}"),
        ),
        TxError::AlreadyKnown(_) => (SERVER_ERROR, format!("already known: {err}")),
        TxError::FeeTooLow { .. } => (SERVER_ERROR, format!("transaction underpriced: {err}")),
        _ => (SERVER_ERROR, err.to_string()),
    };
    ErrorObjectOwned::owned(code, message, None::<()>)
}

/// Errors of the runtime's API for requests other than transaction submission.
pub fn node_error(err: Error) -> ErrorObjectOwned {
    match err {
        Error::Tx(tx) => tx_error(&tx),
        Error::BlockNotFound(_) => not_found(err.to_string()),
        Error::PermissionDenied(_) => {
            ErrorObjectOwned::owned(SENDER_NOT_AUTHORIZED, err.to_string(), None::<()>)
        }
        // A call the EVM refused, or an estimate that reverts.
        Error::InvalidRequest(_) | Error::Call(_) => invalid_params(err.to_string()),
        // Geth answers a call past `--rpc.evmtimeout` with -32000.
        Error::ExecutionTimeout(_) | Error::ShutDown => server_error(err.to_string()),
        other => ErrorObjectOwned::owned(INTERNAL_ERROR, other.to_string(), None::<()>),
    }
}
