//! Strict reading of hex parameters, as the execution-apis spec defines
//! them and Geth enforces them: a QUANTITY is `0x` and hex digits without
//! leading zeros (`^0x(0|[1-9a-f][0-9a-f]*)$`), DATA is `0x` and whole
//! bytes (`^0x([0-9a-f][0-9a-f])*$`); hex digits in either case, the
//! prefix lowercase. alloy's serde is lenient (it takes `""`, `0x`, `0X1`,
//! `0x01` and no prefix), so a parameter is checked here first and only
//! then handed to alloy: `let Hex(block) = seq.next::<Hex<BlockId>>()?`.
//!
//! A refusal is jsonrpsee's -32602 "Invalid params" whose data names the
//! field and says what is wrong in Geth's words ("hex number with leading
//! zero digits").

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, Bytes, U64, U256},
    rpc::types::{Filter, TransactionRequest},
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned, de::Error as _};
use serde_json::Value;

/// A parameter of type `T` whose hex strings were checked strictly before
/// alloy read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hex<T>(pub T);

impl<T> Hex<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// A parameter type whose JSON form has hex strings to check.
pub trait HexParam: DeserializeOwned {
    /// What the parameter is, for error messages.
    const NAME: &'static str;
    /// Why `value` is not this parameter's JSON form, naming the field.
    fn check(value: &Value) -> Result<(), String>;
}

impl<'de, T: HexParam> Deserialize<'de> for Hex<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        T::check(&value).map_err(|why| D::Error::custom(format!("{}: {why}", T::NAME)))?;
        serde_json::from_value(value)
            .map(Hex)
            .map_err(|e| D::Error::custom(format!("{}: {e}", T::NAME)))
    }
}

/// Why `s` is not a QUANTITY, in Geth's words.
pub fn check_quantity(s: &str) -> Result<(), &'static str> {
    let digits = prefixed(s)?;
    if digits.is_empty() {
        return Err("hex string \"0x\"");
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err("hex number with leading zero digits");
    }
    hex_digits(digits)
}

/// Why `s` is not DATA, in Geth's words.
pub fn check_data(s: &str) -> Result<(), &'static str> {
    let digits = prefixed(s)?;
    if digits.len() % 2 == 1 {
        return Err("hex string of odd length");
    }
    hex_digits(digits)
}

fn prefixed(s: &str) -> Result<&str, &'static str> {
    if s.is_empty() {
        return Err("empty hex string");
    }
    s.strip_prefix("0x").ok_or("hex string without 0x prefix")
}

fn hex_digits(digits: &str) -> Result<(), &'static str> {
    if digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("invalid hex string")
    }
}

fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a hex string, got {value}"))
}

fn quantity(value: &Value) -> Result<(), String> {
    check_quantity(string(value)?).map_err(|why| format!("{why}: {value}"))
}

fn data(value: &Value) -> Result<(), String> {
    check_data(string(value)?).map_err(|why| format!("{why}: {value}"))
}

const BLOCK_TAGS: [&str; 5] = ["latest", "earliest", "pending", "safe", "finalized"];

fn block_number_or_tag(value: &Value) -> Result<(), String> {
    match value.as_str() {
        Some(tag) if BLOCK_TAGS.contains(&tag) => Ok(()),
        Some(_) => quantity(value),
        None => Err(format!("expected a block number (hex) or tag, got {value}")),
    }
}

/// Each present, non-null field of `object` passes `check`; the error names
/// the field.
fn fields(
    object: &serde_json::Map<String, Value>,
    names: &[&str],
    check: fn(&Value) -> Result<(), String>,
) -> Result<(), String> {
    for name in names {
        if let Some(value) = object.get(*name).filter(|v| !v.is_null()) {
            check(value).map_err(|why| format!("`{name}`: {why}"))?;
        }
    }
    Ok(())
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a serde_json::Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("expected {what} object, got {value}"))
}

/// A string or an array of strings, each DATA (a filter's `address`).
fn data_or_list(value: &Value) -> Result<(), String> {
    match value {
        Value::Array(items) => items.iter().filter(|v| !v.is_null()).try_for_each(data),
        other => data(other),
    }
}

impl HexParam for U64 {
    const NAME: &'static str = "quantity";
    fn check(value: &Value) -> Result<(), String> {
        quantity(value)
    }
}

impl HexParam for U256 {
    const NAME: &'static str = "quantity";
    fn check(value: &Value) -> Result<(), String> {
        quantity(value)
    }
}

impl HexParam for Bytes {
    const NAME: &'static str = "data";
    fn check(value: &Value) -> Result<(), String> {
        data(value)
    }
}

impl HexParam for B256 {
    const NAME: &'static str = "hash";
    fn check(value: &Value) -> Result<(), String> {
        data(value)
    }
}

impl HexParam for Address {
    const NAME: &'static str = "address";
    fn check(value: &Value) -> Result<(), String> {
        data(value)
    }
}

/// A list of `T`, each checked; the error names the position.
impl<T: HexParam> HexParam for Vec<T> {
    const NAME: &'static str = T::NAME;
    fn check(value: &Value) -> Result<(), String> {
        let Value::Array(items) = value else {
            return Err(format!("expected an array, got {value}"));
        };
        for (index, item) in items.iter().enumerate() {
            T::check(item).map_err(|why| format!("[{index}]: {why}"))?;
        }
        Ok(())
    }
}

impl HexParam for BlockNumberOrTag {
    const NAME: &'static str = "block";
    fn check(value: &Value) -> Result<(), String> {
        block_number_or_tag(value)
    }
}

/// A block number or tag, a 32-byte block hash, or an EIP-1898 object.
impl HexParam for BlockId {
    const NAME: &'static str = "block";
    fn check(value: &Value) -> Result<(), String> {
        match value {
            // Geth reads a 66-character string as a block hash.
            Value::String(s) if s.len() == 66 => data(value),
            Value::Object(object) => {
                fields(object, &["blockNumber"], block_number_or_tag)?;
                fields(object, &["blockHash"], data)
            }
            other => block_number_or_tag(other),
        }
    }
}

/// The QUANTITY fields of a transaction or call object, as the spec's
/// `GenericTransaction` names them.
const TRANSACTION_QUANTITIES: [&str; 9] = [
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "maxFeePerBlobGas",
    "value",
    "nonce",
    "chainId",
    "type",
];
const TRANSACTION_DATA: [&str; 4] = ["from", "to", "data", "input"];

impl HexParam for TransactionRequest {
    const NAME: &'static str = "transaction";
    fn check(value: &Value) -> Result<(), String> {
        let object = object(value, "a transaction")?;
        fields(object, &TRANSACTION_QUANTITIES, quantity)?;
        fields(object, &TRANSACTION_DATA, data)
    }
}

impl HexParam for Filter {
    const NAME: &'static str = "filter";
    fn check(value: &Value) -> Result<(), String> {
        let object = object(value, "a filter")?;
        fields(object, &["fromBlock", "toBlock"], block_number_or_tag)?;
        fields(object, &["blockHash"], data)?;
        fields(object, &["address"], data_or_list)?;
        // Each topic position: null, one topic, or a list of alternatives.
        fields(object, &["topics"], |topics| match topics {
            Value::Array(positions) => positions
                .iter()
                .filter(|v| !v.is_null())
                .try_for_each(data_or_list),
            other => Err(format!("expected an array of topics, got {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_follow_the_spec() {
        for good in ["0x0", "0x1", "0xa", "0xA", "0x1f", "0x10"] {
            assert_eq!(check_quantity(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "empty hex string"),
            ("0x", "hex string \"0x\""),
            ("0X1", "hex string without 0x prefix"),
            ("1", "hex string without 0x prefix"),
            ("0x01", "hex number with leading zero digits"),
            ("0x00", "hex number with leading zero digits"),
            ("0xg", "invalid hex string"),
            ("0x-1", "invalid hex string"),
        ] {
            assert_eq!(check_quantity(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn data_follows_the_spec() {
        for good in ["0x", "0x00", "0x0aBc"] {
            assert_eq!(check_data(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "empty hex string"),
            ("00", "hex string without 0x prefix"),
            ("0X00", "hex string without 0x prefix"),
            ("0x0", "hex string of odd length"),
            ("0xzz", "invalid hex string"),
        ] {
            assert_eq!(check_data(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn a_transaction_object_names_its_bad_field() {
        let bad: Result<Hex<TransactionRequest>, _> = serde_json::from_str(
            r#"{"to":"0x0000000000000000000000000000000000000001","gas":"0x01"}"#,
        );
        let message = bad.unwrap_err().to_string();
        assert!(
            message.contains("`gas`") && message.contains("leading zero"),
            "{message}"
        );
        let good: Hex<TransactionRequest> =
            serde_json::from_str(r#"{"gas":"0x5208","value":"0x0","data":"0x"}"#).unwrap();
        assert_eq!(good.0.gas, Some(21_000));
    }

    #[test]
    fn block_tags_and_eip1898_objects_stay_accepted() {
        for good in [
            r#""latest""#,
            r#""earliest""#,
            r#""pending""#,
            r#""safe""#,
            r#""finalized""#,
            r#""0x10""#,
            r#"{"blockNumber":"0x0"}"#,
            r#"{"blockHash":"0x0000000000000000000000000000000000000000000000000000000000000000","requireCanonical":true}"#,
        ] {
            serde_json::from_str::<Hex<BlockId>>(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [r#""0x01""#, r#""latests""#, r#"{"blockNumber":"0X1"}"#, "1"] {
            assert!(serde_json::from_str::<Hex<BlockId>>(bad).is_err(), "{bad}");
        }
    }
}
