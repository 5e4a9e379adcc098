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

use std::borrow::Cow;

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, Bytes, U64, U256},
    rpc::types::{Filter, TransactionRequest},
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned, de::Error as _};
use serde_json::value::RawValue;

/// A parameter of type `T` whose hex strings were checked strictly before
/// alloy read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hex<T>(pub T);

impl<T> Hex<T> {
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

/// Why a parameter's JSON is not its strict form; the message names the
/// path to the field (`` `to`: hex string of odd length: "0x123" ``).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParamError {
    #[error("{why}: {got}")]
    BadHex { why: &'static str, got: String },
    #[error("expected {expected}, got {got}")]
    WrongShape { expected: &'static str, got: String },
    #[error("`{name}`: {inner}")]
    Field {
        name: String,
        inner: Box<ParamError>,
    },
    #[error("[{index}]: {inner}")]
    Item {
        index: usize,
        inner: Box<ParamError>,
    },
}

/// A parameter type whose JSON form has hex strings to check.
pub(crate) trait HexParam: DeserializeOwned {
    /// What the parameter is, for error messages.
    const NAME: &'static str;
    /// Why `json` is not this parameter's JSON form, naming the field.
    fn check(json: &RawValue) -> Result<(), ParamError>;
}

impl<'de, T: HexParam> Deserialize<'de> for Hex<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Kept as text and read twice (checked, then by alloy), which costs
        // less than building a `serde_json::Value` for an `eth_call`.
        let json = Box::<RawValue>::deserialize(deserializer)?;
        T::check(&json).map_err(|why| D::Error::custom(format!("{}: {why}", T::NAME)))?;
        serde_json::from_str(json.get())
            .map(Hex)
            .map_err(|e| D::Error::custom(format!("{}: {e}", T::NAME)))
    }
}

/// Why `s` is not a QUANTITY, in Geth's words.
pub(crate) fn check_quantity(s: &str) -> Result<(), &'static str> {
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
pub(crate) fn check_data(s: &str) -> Result<(), &'static str> {
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
    if alloy::primitives::hex::check_raw(digits) {
        Ok(())
    } else {
        Err("invalid hex string")
    }
}

fn is_null(json: &RawValue) -> bool {
    json.get() == "null"
}

fn string(json: &RawValue) -> Result<Cow<'_, str>, ParamError> {
    let text = json.get();
    // Hex strings have no escapes: borrow them without a parse.
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text)
        .map(Cow::Owned)
        .map_err(|_| wrong_shape("a hex string", json))
}

fn quantity(json: &RawValue) -> Result<(), ParamError> {
    check_quantity(&string(json)?).map_err(|why| bad_hex(why, json))
}

fn data(json: &RawValue) -> Result<(), ParamError> {
    check_data(&string(json)?).map_err(|why| bad_hex(why, json))
}

fn array(json: &RawValue) -> Result<Vec<&RawValue>, ParamError> {
    serde_json::from_str(json.get()).map_err(|_| wrong_shape("an array", json))
}

fn bad_hex(why: &'static str, json: &RawValue) -> ParamError {
    ParamError::BadHex {
        why,
        got: json.get().to_owned(),
    }
}

fn wrong_shape(expected: &'static str, json: &RawValue) -> ParamError {
    ParamError::WrongShape {
        expected,
        got: json.get().to_owned(),
    }
}

const BLOCK_TAGS: [&str; 5] = ["latest", "earliest", "pending", "safe", "finalized"];

fn block_number_or_tag(json: &RawValue) -> Result<(), ParamError> {
    let tag = string(json).map_err(|_| wrong_shape("a block number (hex) or tag", json))?;
    if BLOCK_TAGS.contains(&tag.as_ref()) {
        Ok(())
    } else {
        quantity(json)
    }
}

/// An object's members in order, their values unparsed.
struct Object<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Object<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    members.push((key, map.next_value()?));
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// A member name, borrowed unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

fn object<'a>(json: &'a RawValue, what: &'static str) -> Result<Object<'a>, ParamError> {
    serde_json::from_str(json.get()).map_err(|_| wrong_shape(what, json))
}

/// Each member of `object` named in `names` is null or passes `check`; the
/// error names the member.
fn fields(
    object: &Object<'_>,
    names: &[&str],
    check: fn(&RawValue) -> Result<(), ParamError>,
) -> Result<(), ParamError> {
    for (name, json) in &object.0 {
        if names.contains(&name.as_ref()) && !is_null(json) {
            check(json).map_err(|inner| ParamError::Field {
                name: name.clone().into_owned(),
                inner: Box::new(inner),
            })?;
        }
    }
    Ok(())
}

/// A string or an array of strings, each DATA (a filter's `address`, one
/// topic position).
fn data_or_list(json: &RawValue) -> Result<(), ParamError> {
    if json.get().starts_with('[') {
        array(json)?
            .into_iter()
            .filter(|json| !is_null(json))
            .try_for_each(data)
    } else {
        data(json)
    }
}

impl HexParam for U64 {
    const NAME: &'static str = "quantity";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        quantity(json)
    }
}

impl HexParam for U256 {
    const NAME: &'static str = "quantity";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        quantity(json)
    }
}

impl HexParam for Bytes {
    const NAME: &'static str = "data";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        data(json)
    }
}

impl HexParam for B256 {
    const NAME: &'static str = "hash";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        data(json)
    }
}

impl HexParam for Address {
    const NAME: &'static str = "address";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        data(json)
    }
}

/// A list of `T`, each checked; the error names the position.
impl<T: HexParam> HexParam for Vec<T> {
    const NAME: &'static str = T::NAME;
    fn check(json: &RawValue) -> Result<(), ParamError> {
        for (index, item) in array(json)?.into_iter().enumerate() {
            T::check(item).map_err(|inner| ParamError::Item {
                index,
                inner: Box::new(inner),
            })?;
        }
        Ok(())
    }
}

impl HexParam for BlockNumberOrTag {
    const NAME: &'static str = "block";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        block_number_or_tag(json)
    }
}

/// A block number or tag, a 32-byte block hash, or an EIP-1898 object.
impl HexParam for BlockId {
    const NAME: &'static str = "block";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        if json.get().starts_with('{') {
            let object = object(json, "a block object")?;
            fields(&object, &["blockNumber"], block_number_or_tag)?;
            return fields(&object, &["blockHash"], data);
        }
        match string(json) {
            // Geth reads a 66-character string as a block hash.
            Ok(s) if s.len() == 66 => data(json),
            _ => block_number_or_tag(json),
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
    fn check(json: &RawValue) -> Result<(), ParamError> {
        let object = object(json, "a transaction object")?;
        fields(&object, &TRANSACTION_QUANTITIES, quantity)?;
        fields(&object, &TRANSACTION_DATA, data)
    }
}

impl HexParam for Filter {
    const NAME: &'static str = "filter";
    fn check(json: &RawValue) -> Result<(), ParamError> {
        let object = object(json, "a filter object")?;
        fields(&object, &["fromBlock", "toBlock"], block_number_or_tag)?;
        fields(&object, &["blockHash"], data)?;
        fields(&object, &["address"], data_or_list)?;
        // Each topic position: null, one topic, or a list of alternatives.
        fields(&object, &["topics"], |topics| {
            array(topics)?
                .into_iter()
                .filter(|json| !is_null(json))
                .try_for_each(data_or_list)
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
