//! Turning revert data into human-readable reasons.

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::{Error as AbiError, JsonAbi},
    primitives::{Bytes, U256, hex},
    sol_types::{Panic, Revert, SolError},
};

/// Decodes revert data: `Error(string)`, `Panic(uint256)`, custom errors
/// found in `abis`, or raw hex.
pub(crate) fn decode_revert<'a>(
    data: &[u8],
    abis: impl IntoIterator<Item = &'a JsonAbi>,
) -> String {
    if data.is_empty() {
        return "EvmError: Revert".to_string();
    }
    if let Ok(revert) = Revert::abi_decode(data) {
        return revert.reason;
    }
    if let Ok(panic) = Panic::abi_decode(data) {
        return format!("panic: {} ({:#x})", panic_reason(panic.code), panic.code);
    }
    if data.len() >= 4 {
        let selector: [u8; 4] = data[..4].try_into().unwrap_or_default();
        for abi in abis {
            for error in abi.errors() {
                if error.selector() == selector
                    && let Ok(values) = error.abi_decode_input(&data[4..])
                {
                    return format_custom_error(error, &values);
                }
            }
        }
        if let Some(text) = printable_string(data) {
            return text;
        }
        return format!(
            "custom error {}: {}",
            hex::encode_prefixed(&data[..4]),
            hex::encode(&data[4..])
        );
    }
    printable_string(data).unwrap_or_else(|| hex::encode_prefixed(data))
}

/// `Name(arg1, arg2)`.
fn format_custom_error(error: &AbiError, values: &[DynSolValue]) -> String {
    let args: Vec<String> = values.iter().map(format_value).collect();
    format!("{}({})", error.name, args.join(", "))
}

/// Raw bytes that are printable ASCII (e.g. `revert(bytes("..."))` in assembly).
fn printable_string(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    (!text.is_empty() && text.chars().all(|c| !c.is_control() || c == '\n'))
        .then(|| text.to_string())
}

/// Names Solidity's panic codes.
pub(crate) fn panic_reason(code: U256) -> &'static str {
    match code.saturating_to::<u64>() {
        0x00 => "generic panic",
        0x01 => "assertion failed",
        0x11 => "arithmetic underflow or overflow",
        0x12 => "division or modulo by zero",
        0x21 => "enum conversion error",
        0x22 => "invalid storage byte array encoding",
        0x31 => "pop from empty array",
        0x32 => "array out-of-bounds access",
        0x41 => "out of memory",
        0x51 => "call to a zero-initialized function",
        _ => "unknown panic",
    }
}

/// Formats an ABI value the way Foundry prints it in traces and messages.
pub(crate) fn format_value(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::FixedBytes(w, size) => hex::encode_prefixed(&w[..*size]),
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Function(f) => hex::encode_prefixed(f.as_slice()),
        DynSolValue::Bytes(b) => hex::encode_prefixed(b),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(format_value)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        DynSolValue::Tuple(items) => {
            format!(
                "({})",
                items
                    .iter()
                    .map(format_value)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

/// `Error(string)` revert data for `message`.
pub(crate) fn encode_error_string(message: &str) -> Bytes {
    Bytes::from(Revert::from(message.to_string()).abi_encode())
}
