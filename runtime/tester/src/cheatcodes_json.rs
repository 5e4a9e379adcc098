//! Foundry's JSON and TOML cheatcodes: `parseJson*`/`parseToml*` (a
//! JSONPath key selects values, which are inferred or coerced to a Solidity
//! type), `keyExists*`, the `serialize*` family that builds JSON objects
//! across calls, and `writeJson`/`writeToml`. TOML is read as JSON (the
//! same keys and values) so both formats share one implementation.

use std::collections::BTreeMap;

use alloy::dyn_abi::{DynSolType, DynSolValue};
use alloy::{
    primitives::{Address, B256, Bytes, I256, U256, hex},
    sol_types::SolValue,
};
use serde_json::{Map, Value};

use crate::{
    cheatcodes::{CheatError, CheatResult, write_project_file},
    inspector::TestInspector,
};

alloy::sol! {
    /// The JSON and TOML part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmJson {
        function keyExists(string calldata json, string calldata key) external view returns (bool);
        function keyExistsJson(string calldata json, string calldata key) external view returns (bool);
        function keyExistsToml(string calldata toml, string calldata key) external view returns (bool);

        function parseJson(string calldata json) external pure returns (bytes memory abiEncodedData);
        function parseJson(string calldata json, string calldata key) external pure returns (bytes memory abiEncodedData);
        function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
        function parseJsonUintArray(string calldata json, string calldata key) external pure returns (uint256[] memory);
        function parseJsonInt(string calldata json, string calldata key) external pure returns (int256);
        function parseJsonIntArray(string calldata json, string calldata key) external pure returns (int256[] memory);
        function parseJsonBool(string calldata json, string calldata key) external pure returns (bool);
        function parseJsonBoolArray(string calldata json, string calldata key) external pure returns (bool[] memory);
        function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
        function parseJsonAddressArray(string calldata json, string calldata key) external pure returns (address[] memory);
        function parseJsonString(string calldata json, string calldata key) external pure returns (string memory);
        function parseJsonStringArray(string calldata json, string calldata key) external pure returns (string[] memory);
        function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
        function parseJsonBytesArray(string calldata json, string calldata key) external pure returns (bytes[] memory);
        function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);
        function parseJsonBytes32Array(string calldata json, string calldata key) external pure returns (bytes32[] memory);
        function parseJsonType(string calldata json, string calldata typeDescription) external pure returns (bytes memory);
        function parseJsonType(string calldata json, string calldata key, string calldata typeDescription) external pure returns (bytes memory);
        function parseJsonTypeArray(string calldata json, string calldata key, string calldata typeDescription) external pure returns (bytes memory);
        function parseJsonKeys(string calldata json, string calldata key) external pure returns (string[] memory keys);

        function parseToml(string calldata toml) external pure returns (bytes memory abiEncodedData);
        function parseToml(string calldata toml, string calldata key) external pure returns (bytes memory abiEncodedData);
        function parseTomlUint(string calldata toml, string calldata key) external pure returns (uint256);
        function parseTomlUintArray(string calldata toml, string calldata key) external pure returns (uint256[] memory);
        function parseTomlInt(string calldata toml, string calldata key) external pure returns (int256);
        function parseTomlIntArray(string calldata toml, string calldata key) external pure returns (int256[] memory);
        function parseTomlBool(string calldata toml, string calldata key) external pure returns (bool);
        function parseTomlBoolArray(string calldata toml, string calldata key) external pure returns (bool[] memory);
        function parseTomlAddress(string calldata toml, string calldata key) external pure returns (address);
        function parseTomlAddressArray(string calldata toml, string calldata key) external pure returns (address[] memory);
        function parseTomlString(string calldata toml, string calldata key) external pure returns (string memory);
        function parseTomlStringArray(string calldata toml, string calldata key) external pure returns (string[] memory);
        function parseTomlBytes(string calldata toml, string calldata key) external pure returns (bytes memory);
        function parseTomlBytesArray(string calldata toml, string calldata key) external pure returns (bytes[] memory);
        function parseTomlBytes32(string calldata toml, string calldata key) external pure returns (bytes32);
        function parseTomlBytes32Array(string calldata toml, string calldata key) external pure returns (bytes32[] memory);
        function parseTomlType(string calldata toml, string calldata typeDescription) external pure returns (bytes memory);
        function parseTomlType(string calldata toml, string calldata key, string calldata typeDescription) external pure returns (bytes memory);
        function parseTomlTypeArray(string calldata toml, string calldata key, string calldata typeDescription) external pure returns (bytes memory);
        function parseTomlKeys(string calldata toml, string calldata key) external pure returns (string[] memory keys);

        function serializeJson(string calldata objectKey, string calldata value) external returns (string memory json);
        function serializeBool(string calldata objectKey, string calldata valueKey, bool value) external returns (string memory json);
        function serializeBool(string calldata objectKey, string calldata valueKey, bool[] calldata values) external returns (string memory json);
        function serializeUint(string calldata objectKey, string calldata valueKey, uint256 value) external returns (string memory json);
        function serializeUint(string calldata objectKey, string calldata valueKey, uint256[] calldata values) external returns (string memory json);
        function serializeUintToHex(string calldata objectKey, string calldata valueKey, uint256 value) external returns (string memory json);
        function serializeInt(string calldata objectKey, string calldata valueKey, int256 value) external returns (string memory json);
        function serializeInt(string calldata objectKey, string calldata valueKey, int256[] calldata values) external returns (string memory json);
        function serializeAddress(string calldata objectKey, string calldata valueKey, address value) external returns (string memory json);
        function serializeAddress(string calldata objectKey, string calldata valueKey, address[] calldata values) external returns (string memory json);
        function serializeBytes32(string calldata objectKey, string calldata valueKey, bytes32 value) external returns (string memory json);
        function serializeBytes32(string calldata objectKey, string calldata valueKey, bytes32[] calldata values) external returns (string memory json);
        function serializeString(string calldata objectKey, string calldata valueKey, string calldata value) external returns (string memory json);
        function serializeString(string calldata objectKey, string calldata valueKey, string[] calldata values) external returns (string memory json);
        function serializeBytes(string calldata objectKey, string calldata valueKey, bytes calldata value) external returns (string memory json);
        function serializeBytes(string calldata objectKey, string calldata valueKey, bytes[] calldata values) external returns (string memory json);
        function serializeJsonType(string calldata typeDescription, bytes calldata value) external pure returns (string memory json);
        function serializeJsonType(string calldata objectKey, string calldata valueKey, string calldata typeDescription, bytes calldata value) external returns (string memory json);

        function writeJson(string calldata json, string calldata path) external;
        function writeJson(string calldata json, string calldata path, string calldata valueKey) external;
        function writeToml(string calldata json, string calldata path) external;
        function writeToml(string calldata json, string calldata path, string calldata valueKey) external;
    }
}

pub(crate) use VmJson::VmJsonCalls;

/// The signature of the JSON/TOML cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmJsonCalls::signature_by_selector(selector)
}

/// Which text format a cheatcode reads.
#[derive(Clone, Copy)]
enum Format {
    Json,
    Toml,
}

impl Format {
    fn read(self, text: &str) -> Result<Value, CheatError> {
        match self {
            Format::Json => parse_json_text(text),
            Format::Toml => parse_toml_text(text),
        }
    }
}

fn uint() -> DynSolType {
    DynSolType::Uint(256)
}
fn int() -> DynSolType {
    DynSolType::Int(256)
}
fn bytes32() -> DynSolType {
    DynSolType::FixedBytes(32)
}
fn array(ty: DynSolType) -> DynSolType {
    DynSolType::Array(Box::new(ty))
}

impl TestInspector {
    /// Applies one JSON/TOML cheatcode.
    pub(crate) fn apply_json(&mut self, call: VmJsonCalls) -> CheatResult {
        use Format::{Json, Toml};
        use VmJsonCalls as C;
        match call {
            C::keyExists(c) => key_exists(Json, &c.json, &c.key),
            C::keyExistsJson(c) => key_exists(Json, &c.json, &c.key),
            C::keyExistsToml(c) => key_exists(Toml, &c.toml, &c.key),

            C::parseJson_0(c) => parse_inferred(Json, &c.json, "$"),
            C::parseJson_1(c) => parse_inferred(Json, &c.json, &c.key),
            C::parseJsonUint(c) => parse_coerced(Json, &c.json, &c.key, &uint()),
            C::parseJsonUintArray(c) => parse_coerced(Json, &c.json, &c.key, &array(uint())),
            C::parseJsonInt(c) => parse_coerced(Json, &c.json, &c.key, &int()),
            C::parseJsonIntArray(c) => parse_coerced(Json, &c.json, &c.key, &array(int())),
            C::parseJsonBool(c) => parse_coerced(Json, &c.json, &c.key, &DynSolType::Bool),
            C::parseJsonBoolArray(c) => {
                parse_coerced(Json, &c.json, &c.key, &array(DynSolType::Bool))
            }
            C::parseJsonAddress(c) => parse_coerced(Json, &c.json, &c.key, &DynSolType::Address),
            C::parseJsonAddressArray(c) => {
                parse_coerced(Json, &c.json, &c.key, &array(DynSolType::Address))
            }
            C::parseJsonString(c) => parse_coerced(Json, &c.json, &c.key, &DynSolType::String),
            C::parseJsonStringArray(c) => {
                parse_coerced(Json, &c.json, &c.key, &array(DynSolType::String))
            }
            C::parseJsonBytes(c) => parse_coerced(Json, &c.json, &c.key, &DynSolType::Bytes),
            C::parseJsonBytesArray(c) => {
                parse_coerced(Json, &c.json, &c.key, &array(DynSolType::Bytes))
            }
            C::parseJsonBytes32(c) => parse_coerced(Json, &c.json, &c.key, &bytes32()),
            C::parseJsonBytes32Array(c) => parse_coerced(Json, &c.json, &c.key, &array(bytes32())),
            C::parseJsonType_0(c) => parse_typed(Json, &c.json, "$", &c.typeDescription, false),
            C::parseJsonType_1(c) => parse_typed(Json, &c.json, &c.key, &c.typeDescription, false),
            C::parseJsonTypeArray(c) => {
                parse_typed(Json, &c.json, &c.key, &c.typeDescription, true)
            }
            C::parseJsonKeys(c) => parse_keys(Json, &c.json, &c.key),

            C::parseToml_0(c) => parse_inferred(Toml, &c.toml, "$"),
            C::parseToml_1(c) => parse_inferred(Toml, &c.toml, &c.key),
            C::parseTomlUint(c) => parse_coerced(Toml, &c.toml, &c.key, &uint()),
            C::parseTomlUintArray(c) => parse_coerced(Toml, &c.toml, &c.key, &array(uint())),
            C::parseTomlInt(c) => parse_coerced(Toml, &c.toml, &c.key, &int()),
            C::parseTomlIntArray(c) => parse_coerced(Toml, &c.toml, &c.key, &array(int())),
            C::parseTomlBool(c) => parse_coerced(Toml, &c.toml, &c.key, &DynSolType::Bool),
            C::parseTomlBoolArray(c) => {
                parse_coerced(Toml, &c.toml, &c.key, &array(DynSolType::Bool))
            }
            C::parseTomlAddress(c) => parse_coerced(Toml, &c.toml, &c.key, &DynSolType::Address),
            C::parseTomlAddressArray(c) => {
                parse_coerced(Toml, &c.toml, &c.key, &array(DynSolType::Address))
            }
            C::parseTomlString(c) => parse_coerced(Toml, &c.toml, &c.key, &DynSolType::String),
            C::parseTomlStringArray(c) => {
                parse_coerced(Toml, &c.toml, &c.key, &array(DynSolType::String))
            }
            C::parseTomlBytes(c) => parse_coerced(Toml, &c.toml, &c.key, &DynSolType::Bytes),
            C::parseTomlBytesArray(c) => {
                parse_coerced(Toml, &c.toml, &c.key, &array(DynSolType::Bytes))
            }
            C::parseTomlBytes32(c) => parse_coerced(Toml, &c.toml, &c.key, &bytes32()),
            C::parseTomlBytes32Array(c) => parse_coerced(Toml, &c.toml, &c.key, &array(bytes32())),
            C::parseTomlType_0(c) => parse_typed(Toml, &c.toml, "$", &c.typeDescription, false),
            C::parseTomlType_1(c) => parse_typed(Toml, &c.toml, &c.key, &c.typeDescription, false),
            C::parseTomlTypeArray(c) => {
                parse_typed(Toml, &c.toml, &c.key, &c.typeDescription, true)
            }
            C::parseTomlKeys(c) => parse_keys(Toml, &c.toml, &c.key),

            C::serializeJson(c) => {
                let Value::Object(object) = parse_json_text(&c.value)? else {
                    return Err(format!("serializeJson: `{}` is not a JSON object", c.value).into());
                };
                self.cheats.json_objects.insert(c.objectKey, object);
                ok(c.value)
            }
            C::serializeBool_0(c) => self.serialize(c.objectKey, c.valueKey, c.value.into()),
            C::serializeBool_1(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Array(c.values.into_iter().map(DynSolValue::Bool).collect()),
            ),
            C::serializeUint_0(c) => self.serialize(c.objectKey, c.valueKey, c.value.into()),
            C::serializeUint_1(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Array(c.values.into_iter().map(Into::into).collect()),
            ),
            C::serializeUintToHex(c) => {
                self.serialize(c.objectKey, c.valueKey, format!("{:#x}", c.value).into())
            }
            C::serializeInt_0(c) => self.serialize(c.objectKey, c.valueKey, c.value.into()),
            C::serializeInt_1(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Array(c.values.into_iter().map(Into::into).collect()),
            ),
            C::serializeAddress_0(c) => self.serialize(c.objectKey, c.valueKey, c.value.into()),
            C::serializeAddress_1(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Array(c.values.into_iter().map(Into::into).collect()),
            ),
            C::serializeBytes32_0(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::FixedBytes(c.value, 32),
            ),
            C::serializeBytes32_1(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Array(
                    c.values
                        .into_iter()
                        .map(|v| DynSolValue::FixedBytes(v, 32))
                        .collect(),
                ),
            ),
            C::serializeString_0(c) => self.serialize(c.objectKey, c.valueKey, c.value.into()),
            C::serializeString_1(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Array(c.values.into_iter().map(Into::into).collect()),
            ),
            C::serializeBytes_0(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Bytes(c.value.to_vec()),
            ),
            C::serializeBytes_1(c) => self.serialize(
                c.objectKey,
                c.valueKey,
                DynSolValue::Array(
                    c.values
                        .into_iter()
                        .map(|v| DynSolValue::Bytes(v.to_vec()))
                        .collect(),
                ),
            ),
            C::serializeJsonType_0(c) => {
                ok(decode_described(&c.typeDescription, &c.value)?.to_string())
            }
            C::serializeJsonType_1(c) => {
                let value = decode_described(&c.typeDescription, &c.value)?;
                let object = self.cheats.json_objects.entry(c.objectKey).or_default();
                object.insert(c.valueKey, value);
                ok(Value::Object(object.clone()).to_string())
            }

            C::writeJson_0(c) => {
                let path = self.project_write_path(&c.path)?;
                let value = serde_json::from_str(&c.json).unwrap_or(Value::String(c.json));
                write_project_file(&path, pretty_json(&value).as_bytes())?;
                unit()
            }
            C::writeJson_1(c) => {
                let path = self.project_write_path(&c.path)?;
                let mut data = read_existing(&path, Json)?;
                upsert(&mut data, &c.json, &c.valueKey)?;
                write_project_file(&path, pretty_json(&data).as_bytes())?;
                unit()
            }
            C::writeToml_0(c) => {
                let path = self.project_write_path(&c.path)?;
                let value = serde_json::from_str(&c.json).unwrap_or(Value::String(c.json));
                write_project_file(&path, json_to_toml_text(value)?.as_bytes())?;
                unit()
            }
            C::writeToml_1(c) => {
                let path = self.project_write_path(&c.path)?;
                let mut data = read_existing(&path, Toml)?;
                upsert(&mut data, &c.json, &c.valueKey)?;
                write_project_file(&path, json_to_toml_text(data)?.as_bytes())?;
                unit()
            }
        }
    }

    /// Sets `valueKey` of the object `objectKey` (created on first use) and
    /// returns the whole object as JSON.
    fn serialize(
        &mut self,
        object_key: String,
        value_key: String,
        value: DynSolValue,
    ) -> CheatResult {
        let value = value_to_json(value)?;
        let object = self.cheats.json_objects.entry(object_key).or_default();
        object.insert(value_key, value);
        ok(Value::Object(object.clone()).to_string())
    }
}

fn ok<T: SolValue>(value: T) -> CheatResult {
    Ok(Bytes::from(value.abi_encode()))
}

fn unit() -> CheatResult {
    Ok(Bytes::new())
}

/// serde_json's pretty printer, as forge writes JSON files.
fn pretty_json(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The file's contents as JSON, an empty object when it does not exist.
fn read_existing(path: &std::path::Path, format: Format) -> Result<Value, CheatError> {
    if !path.exists() {
        return Ok(Value::Object(Map::new()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format.read(&text).unwrap_or(Value::String(text)))
}

/// Puts `value` (JSON if it parses, else a string) at the dot-separated
/// `key` of `data`, creating the objects on the way.
fn upsert(data: &mut Value, value: &str, key: &str) -> Result<(), CheatError> {
    let key = key.strip_prefix('$').unwrap_or(key);
    let parts: Vec<&str> = key.split('.').filter(|s| !s.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else {
        return Err("'valueKey' cannot be empty or just '$'".into());
    };
    let mut current = data;
    for part in parents {
        let Value::Object(object) = current else {
            return Err(format!("path segment '{part}' does not resolve to an object.").into());
        };
        current = object
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let Value::Object(object) = current else {
        return Err("final destination is not an object, cannot insert key.".into());
    };
    object.insert(
        last.to_string(),
        serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string())),
    );
    Ok(())
}

fn key_exists(format: Format, text: &str, key: &str) -> CheatResult {
    let value = format.read(text)?;
    ok(!select(&value, key)?.is_empty())
}

/// `parseJson(json, key)`: the selected values with their types inferred,
/// ABI-encoded (several values as an array), returned as `bytes`.
fn parse_inferred(format: Format, text: &str, key: &str) -> CheatResult {
    let value = format.read(text)?;
    let selected = select(&value, key)?;
    let mut values = selected
        .into_iter()
        .map(infer)
        .collect::<Result<Vec<_>, _>>()?;
    let encoded = match values.len() {
        0 => Vec::new(),
        1 => values.remove(0).abi_encode(),
        _ => DynSolValue::Array(values).abi_encode(),
    };
    ok(Bytes::from(encoded))
}

/// The one value at `key` coerced to `shape`, ABI-encoded as a return value.
fn coerce_at(format: Format, text: &str, key: &str, shape: &Shape) -> Result<Vec<u8>, CheatError> {
    let value = format.read(text)?;
    let selected = select(&value, key)?;
    let [value] = selected[..] else {
        return Err(format!("path {key:?} must return exactly one JSON value").into());
    };
    Ok(coerce_shape(value, shape)?.abi_encode())
}

fn parse_coerced(format: Format, text: &str, key: &str, ty: &DynSolType) -> CheatResult {
    coerce_at(format, text, key, &Shape::Plain(ty.clone())).map(Bytes::from)
}

/// `parseJsonType`: coerced to a type given as Solidity (`uint256[]`) or as
/// an EIP-712 `encodeType` string, returned as `bytes`.
fn parse_typed(
    format: Format,
    text: &str,
    key: &str,
    description: &str,
    as_array: bool,
) -> CheatResult {
    let mut shape = Shape::parse(description)?;
    if as_array {
        shape = Shape::Array(Box::new(shape), None);
    }
    ok(Bytes::from(coerce_at(format, text, key, &shape)?))
}

/// ABI-encoded `data` of the described type as JSON (structs as objects).
fn decode_described(description: &str, data: &[u8]) -> Result<Value, CheatError> {
    let shape = Shape::parse(description)?;
    let value = shape
        .sol_type()
        .abi_decode(data)
        .map_err(|e| format!("serializeJsonType: {e}"))?;
    shape_to_json(value, &shape)
}

/// A Solidity type whose structs keep their field names, from a type
/// description: a Solidity type (`uint256[]`) or an EIP-712 `encodeType`
/// string (`Main(Sub s,uint256 a)Sub(bool b)`), whose first type is meant.
#[derive(Clone, Debug)]
enum Shape {
    Plain(DynSolType),
    Struct(Vec<(String, Shape)>),
    Array(Box<Shape>, Option<usize>),
}

impl Shape {
    fn parse(description: &str) -> Result<Shape, CheatError> {
        if let Ok(ty) = DynSolType::parse(description) {
            return Ok(Shape::Plain(ty));
        }
        let invalid = || {
            "type description should be a valid Solidity type or a EIP712 `encodeType` string"
                .to_string()
        };
        // `Name(type field,…)` definitions, one after another.
        let mut structs: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
        let mut rest = description.trim();
        while !rest.is_empty() {
            let open = rest.find('(').ok_or_else(invalid)?;
            let close = open + rest[open..].find(')').ok_or_else(invalid)?;
            let name = rest[..open].trim();
            let mut fields = Vec::new();
            for field in rest[open + 1..close]
                .split(',')
                .filter(|f| !f.trim().is_empty())
            {
                let (ty, field_name) = field.trim().rsplit_once(' ').ok_or_else(invalid)?;
                fields.push((ty.trim(), field_name.trim()));
            }
            if name.is_empty() {
                return Err(invalid().into());
            }
            structs.push((name, fields));
            rest = rest[close + 1..].trim_start();
        }
        let main = structs.first().ok_or_else(invalid)?.0;
        Self::resolve(main, &structs, 0)
    }

    fn resolve(
        ty: &str,
        structs: &[(&str, Vec<(&str, &str)>)],
        depth: usize,
    ) -> Result<Shape, CheatError> {
        if depth > 32 {
            return Err(
                format!("type description: `{ty}` nests too deeply (recursive struct?)").into(),
            );
        }
        if let Some(open) = ty.rfind('[')
            && ty.ends_with(']')
        {
            let len = &ty[open + 1..ty.len() - 1];
            let len = if len.is_empty() {
                None
            } else {
                Some(
                    len.parse()
                        .map_err(|_| format!("type description: bad array length in `{ty}`"))?,
                )
            };
            return Ok(Shape::Array(
                Box::new(Self::resolve(&ty[..open], structs, depth + 1)?),
                len,
            ));
        }
        if let Some((_, fields)) = structs.iter().find(|(name, _)| *name == ty) {
            return Ok(Shape::Struct(
                fields
                    .iter()
                    .map(|(field_ty, name)| {
                        Ok((
                            name.to_string(),
                            Self::resolve(field_ty, structs, depth + 1)?,
                        ))
                    })
                    .collect::<Result<_, CheatError>>()?,
            ));
        }
        DynSolType::parse(ty)
            .map(Shape::Plain)
            .map_err(|_| format!("type description: unknown type `{ty}`").into())
    }

    /// The ABI type (structs as tuples).
    fn sol_type(&self) -> DynSolType {
        match self {
            Shape::Plain(ty) => ty.clone(),
            Shape::Struct(fields) => {
                DynSolType::Tuple(fields.iter().map(|(_, f)| f.sol_type()).collect())
            }
            Shape::Array(inner, None) => DynSolType::Array(Box::new(inner.sol_type())),
            Shape::Array(inner, Some(len)) => {
                DynSolType::FixedArray(Box::new(inner.sol_type()), *len)
            }
        }
    }
}

/// A JSON value coerced to `shape`: objects matched to struct fields by name.
fn coerce_shape(value: &Value, shape: &Shape) -> Result<DynSolValue, CheatError> {
    match (value, shape) {
        (_, Shape::Plain(ty)) => coerce(value, ty),
        (Value::Object(object), Shape::Struct(fields)) => {
            let mut values = Vec::with_capacity(fields.len());
            for (field, shape) in fields {
                let value = object
                    .get(field)
                    .ok_or_else(|| format!("field {field:?} not found in JSON object"))?;
                values.push(coerce_shape(value, shape)?);
            }
            Ok(DynSolValue::Tuple(values))
        }
        (Value::Array(values), Shape::Struct(fields)) if values.len() == fields.len() => {
            Ok(DynSolValue::Tuple(
                values
                    .iter()
                    .zip(fields)
                    .map(|(v, (_, f))| coerce_shape(v, f))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (Value::Array(values), Shape::Array(inner, len)) => {
            if len.is_some_and(|len| len != values.len()) {
                return Err("array length mismatch".into());
            }
            let values = values
                .iter()
                .map(|v| coerce_shape(v, inner))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if len.is_some() {
                DynSolValue::FixedArray(values)
            } else {
                DynSolValue::Array(values)
            })
        }
        (_, shape) => Err(format!("expected {}, found {value}", shape.sol_type()).into()),
    }
}

/// A decoded value as JSON, structs as objects with their field names.
fn shape_to_json(value: DynSolValue, shape: &Shape) -> Result<Value, CheatError> {
    match (value, shape) {
        (DynSolValue::Tuple(values), Shape::Struct(fields)) => {
            let mut object = Map::new();
            for (value, (name, shape)) in values.into_iter().zip(fields) {
                object.insert(name.clone(), shape_to_json(value, shape)?);
            }
            Ok(Value::Object(object))
        }
        (DynSolValue::Array(values) | DynSolValue::FixedArray(values), Shape::Array(inner, _)) => {
            Ok(Value::Array(
                values
                    .into_iter()
                    .map(|v| shape_to_json(v, inner))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (value, _) => value_to_json(value),
    }
}

fn parse_keys(format: Format, text: &str, key: &str) -> CheatResult {
    let value = format.read(text)?;
    let selected = select(&value, key)?;
    let [value] = selected[..] else {
        return Err(format!("key {key:?} must return exactly one JSON object").into());
    };
    let Value::Object(object) = value else {
        return Err(format!("JSON value at {key:?} is not an object").into());
    };
    ok(object.keys().cloned().collect::<Vec<String>>())
}

/// Parses JSON text. Integers beyond 64 bits (serde_json would round them
/// through a float) become decimal strings first, which every conversion
/// here reads as the same number.
fn parse_json_text(text: &str) -> Result<Value, CheatError> {
    serde_json::from_str(&quote_big_integers(text))
        .map_err(|e| format!("failed parsing JSON: {e}").into())
}

fn quote_big_integers(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            {
                i += 1;
            }
            let token = &text[start..i];
            let fits = token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok();
            // More digits than a float keeps exactly: the integer as a string.
            if let Some(integer) = exact_integer(token).filter(|d| !fits && d.len() > 15) {
                let out = out.get_or_insert_with(String::new);
                out.push_str(&text[copied..start]);
                out.push('"');
                out.push_str(&integer);
                out.push('"');
                copied = i;
            }
            continue;
        }
        i += 1;
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            std::borrow::Cow::Owned(out)
        }
    }
}

/// The decimal digits of a JSON number token (`-12`, `7.5e1`) that is an
/// integer, `None` for fractions and malformed tokens.
fn exact_integer(token: &str) -> Option<String> {
    let (negative, unsigned) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty()
        || !(whole
            .bytes()
            .chain(fraction.bytes())
            .all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let mut digits = format!("{whole}{fraction}");
    let shift = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    if shift >= 0 {
        // At most a uint256's 78 digits are worth keeping.
        if shift > 80 {
            return None;
        }
        digits.extend(std::iter::repeat_n('0', shift as usize));
    } else {
        let cut = usize::try_from(-shift).ok()?;
        if cut > digits.len() || digits[digits.len() - cut..].bytes().any(|c| c != b'0') {
            return None;
        }
        digits.truncate(digits.len() - cut);
    }
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    Some(if negative && digits != "0" {
        format!("-{digits}")
    } else {
        digits.to_string()
    })
}

/// Parses TOML text into the JSON it stands for, keys in document order:
/// datetimes and non-finite floats become strings, the string `"null"` null.
fn parse_toml_text(text: &str) -> Result<Value, CheatError> {
    let document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("failed parsing TOML: {e}"))?;
    Ok(toml_table_to_json(document.as_table()))
}

fn toml_table_to_json<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a toml_edit::Item)>,
) -> Value {
    let mut object = Map::new();
    for (key, item) in entries {
        if let Some(value) = toml_item_to_json(item) {
            object.insert(key.to_string(), value);
        }
    }
    Value::Object(object)
}

fn toml_item_to_json(item: &toml_edit::Item) -> Option<Value> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(value) => Some(toml_value_to_json(value)),
        toml_edit::Item::Table(table) => Some(toml_table_to_json(table.iter())),
        toml_edit::Item::ArrayOfTables(tables) => Some(Value::Array(
            tables
                .iter()
                .map(|t| toml_table_to_json(t.iter()))
                .collect(),
        )),
    }
}

fn toml_value_to_json(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match value {
        T::String(s) if s.value() == "null" => Value::Null,
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.value().to_string())),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(values) => Value::Array(values.iter().map(toml_value_to_json).collect()),
        T::InlineTable(table) => {
            let mut object = Map::new();
            for (key, value) in table.iter() {
                object.insert(key.to_string(), toml_value_to_json(value));
            }
            Value::Object(object)
        }
    }
}

/// JSON as TOML text for `writeToml` (null, which TOML lacks, as "null").
fn json_to_toml_text(value: Value) -> Result<String, CheatError> {
    fn without_nulls(value: Value) -> Value {
        match value {
            Value::Null => Value::String("null".into()),
            Value::Array(values) => Value::Array(values.into_iter().map(without_nulls).collect()),
            Value::Object(object) => Value::Object(
                object
                    .into_iter()
                    .map(|(k, v)| (k, without_nulls(v)))
                    .collect(),
            ),
            other => other,
        }
    }
    toml::to_string_pretty(&without_nulls(value))
        .map_err(|e| format!("failed to serialize TOML: {e}").into())
}

/// One step of a JSONPath key.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Wildcard,
    /// `..name` / `..*`: every descendant with that key (or every one).
    Descend(Option<String>),
}

/// Parses the JSONPath subset forge's keys use: `$` (or `.` alone) for the
/// root, `.name`, `.*`, `[n]`, `[*]`, `['name']` and `..name`; a key not
/// starting with `$` is taken from the root.
fn parse_path(path: &str) -> Result<Vec<Step>, CheatError> {
    let bad = |why: &str| format!("failed selecting from JSON: invalid key {path:?}: {why}");
    let rest = if path == "." {
        ""
    } else {
        path.strip_prefix('$').unwrap_or(path)
    };
    let chars: Vec<char> = rest.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let name_end = |mut j: usize| {
        while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
            j += 1;
        }
        j
    };
    while i < chars.len() {
        match chars[i] {
            '.' if chars.get(i + 1) == Some(&'.') => {
                let end = name_end(i + 2);
                let name: String = chars[i + 2..end].iter().collect();
                steps.push(Step::Descend(
                    (name != "*" && !name.is_empty()).then_some(name),
                ));
                i = end;
            }
            '.' => {
                let end = name_end(i + 1);
                let name: String = chars[i + 1..end].iter().collect();
                if name.is_empty() {
                    return Err(bad("empty name").into());
                }
                steps.push(if name == "*" {
                    Step::Wildcard
                } else {
                    Step::Key(name)
                });
                i = end;
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .map(|p| i + p)
                    .ok_or_else(|| bad("unclosed ["))?;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                let step = if inner == "*" {
                    Step::Wildcard
                } else if let Some(quoted) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    Step::Key(quoted.to_string())
                } else {
                    Step::Index(
                        inner
                            .parse()
                            .map_err(|_| bad("expected an index, `*` or a quoted name"))?,
                    )
                };
                steps.push(step);
                i = close + 1;
            }
            _ => {
                // A bare name right after `$` (`$name`) is not JSONPath.
                return Err(bad("expected `.` or `[`").into());
            }
        }
    }
    Ok(steps)
}

/// The values `path` selects in `root`.
fn select<'a>(root: &'a Value, path: &str) -> Result<Vec<&'a Value>, CheatError> {
    let mut current = vec![root];
    for step in parse_path(path)? {
        let mut next = Vec::new();
        for value in current {
            match (&step, value) {
                (Step::Key(key), Value::Object(object)) => next.extend(object.get(key)),
                (Step::Index(index), Value::Array(values)) => next.extend(values.get(*index)),
                (Step::Wildcard, Value::Object(object)) => next.extend(object.values()),
                (Step::Wildcard, Value::Array(values)) => next.extend(values.iter()),
                (Step::Descend(name), _) => descend(value, name.as_deref(), &mut next),
                _ => {}
            }
        }
        current = next;
    }
    Ok(current)
}

fn descend<'a>(value: &'a Value, name: Option<&str>, out: &mut Vec<&'a Value>) {
    let children: Vec<&Value> = match value {
        Value::Object(object) => {
            if let Some(name) = name {
                out.extend(object.get(name));
            } else {
                out.extend(object.values());
            }
            object.values().collect()
        }
        Value::Array(values) => {
            if name.is_none() {
                out.extend(values.iter());
            }
            values.iter().collect()
        }
        _ => return,
    };
    for child in children {
        descend(child, name, out);
    }
}

/// A JSON value as Solidity, its type guessed as forge guesses it: numbers
/// as `uint256` (`int256` when negative), `0x` hex as an address (20 bytes),
/// `bytes32` (32) or `bytes`, numeric strings beyond 64 bits as numbers,
/// objects as tuples of their values by key name, null as a zero `bytes32`.
fn infer(value: &Value) -> Result<DynSolValue, CheatError> {
    Ok(match value {
        Value::Null => DynSolValue::FixedBytes(B256::ZERO, 32),
        Value::Bool(b) => DynSolValue::Bool(*b),
        Value::Array(values) => {
            DynSolValue::Array(values.iter().map(infer).collect::<Result<_, _>>()?)
        }
        Value::Object(object) => {
            let sorted: BTreeMap<&String, &Value> = object.iter().collect();
            DynSolValue::Tuple(sorted.into_values().map(infer).collect::<Result<_, _>>()?)
        }
        Value::Number(number) => {
            if let Some(n) = number.as_u64() {
                DynSolValue::Uint(U256::from(n), 256)
            } else if let Some(n) = number.as_i64() {
                DynSolValue::Int(I256::try_from(n).expect("i64 fits"), 256)
            } else {
                let f = number.as_f64().unwrap_or(f64::NAN);
                if !f.is_finite() || f.fract() != 0.0 {
                    return Err(format!("unsupported JSON number: {number}").into());
                }
                let digits = format!("{f:.0}");
                if let Ok(n) = digits.parse::<U256>() {
                    DynSolValue::Uint(n, 256)
                } else {
                    DynSolValue::Int(
                        digits
                            .parse::<I256>()
                            .map_err(|_| format!("unsupported JSON number: {number}"))?,
                        256,
                    )
                }
            }
        }
        Value::String(string) => {
            if let Some(digits) = string.strip_prefix("0x") {
                if digits.len() == 39 {
                    return Err(format!(
                        "Cannot parse \"{digits}\" as an address. If you want to specify address, prepend zero to the value."
                    ).into());
                }
                let padded = if digits.len() % 2 == 1 {
                    format!("0{digits}")
                } else {
                    digits.to_string()
                };
                if let Ok(bytes) = hex::decode(&padded) {
                    return Ok(match bytes.len() {
                        20 => DynSolValue::Address(Address::from_slice(&bytes)),
                        32 => DynSolValue::FixedBytes(B256::from_slice(&bytes), 32),
                        _ => DynSolValue::Bytes(bytes),
                    });
                }
            }
            // Numbers too large for JSON's 64-bit integers are written as strings.
            if let Ok(n) = string.parse::<I256>()
                && i64::try_from(n).is_err()
            {
                DynSolValue::Int(n, 256)
            } else if let Ok(n) = string.parse::<U256>()
                && u64::try_from(n).is_err()
            {
                DynSolValue::Uint(n, 256)
            } else {
                DynSolValue::String(string.clone())
            }
        }
    })
}

/// A JSON value coerced to `ty` (strings and numbers parsed as the type
/// needs; objects matched to struct fields by name).
fn coerce(value: &Value, ty: &DynSolType) -> Result<DynSolValue, CheatError> {
    match (value, ty) {
        (Value::Array(values), DynSolType::Array(inner)) => Ok(DynSolValue::Array(
            values
                .iter()
                .map(|v| coerce(v, inner))
                .collect::<Result<_, _>>()?,
        )),
        (Value::Array(values), DynSolType::FixedArray(inner, len)) => {
            if values.len() != *len {
                return Err("array length mismatch".into());
            }
            Ok(DynSolValue::FixedArray(
                values
                    .iter()
                    .map(|v| coerce(v, inner))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (Value::Array(values), DynSolType::Tuple(types)) => {
            if values.len() != types.len() {
                return Err("array length mismatch".into());
            }
            Ok(DynSolValue::Tuple(
                values
                    .iter()
                    .zip(types)
                    .map(|(v, t)| coerce(v, t))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (Value::Array(_), ty) => Err(format!("expected {ty}, found array").into()),
        (Value::Object(_), ty) => Err(format!("expected {ty}, found JSON object").into()),
        (Value::String(s), DynSolType::String) => Ok(DynSolValue::String(s.clone())),
        (Value::String(s), _) => parse_as(s, ty),
        (other, _) => parse_as(&other.to_string().replace('"', ""), ty),
    }
}

/// A string parsed as `ty` (alloy's coercion, plus forge's leniencies:
/// `1`/`0` and any case of true/false for bools; a clear error for hex
/// without its `0x`).
pub(crate) fn parse_as(s: &str, ty: &DynSolType) -> Result<DynSolValue, CheatError> {
    match ty.coerce_str(s) {
        Ok(value) => Ok(value),
        Err(error) => {
            if let DynSolType::Bool = ty {
                match s {
                    "1" => return Ok(DynSolValue::Bool(true)),
                    "0" => return Ok(DynSolValue::Bool(false)),
                    s if s.eq_ignore_ascii_case("true") => return Ok(DynSolValue::Bool(true)),
                    s if s.eq_ignore_ascii_case("false") => return Ok(DynSolValue::Bool(false)),
                    _ => {}
                }
            }
            let hex_like = matches!(
                ty,
                DynSolType::Int(_)
                    | DynSolType::Uint(_)
                    | DynSolType::FixedBytes(_)
                    | DynSolType::Bytes
            );
            if hex_like && !s.starts_with("0x") && hex::check_raw(s) {
                return Err(format!(
                    "failed parsing {s:?} as type `{ty}`: missing hex prefix (\"0x\") for hex string"
                ).into());
            }
            Err(format!("failed parsing {s:?} as type `{ty}`: {error}").into())
        }
    }
}

/// A Solidity value as JSON, as forge serializes it: numbers that fit 64
/// bits as numbers, larger ones as decimal strings, bytes as hex,
/// addresses checksummed, strings holding a JSON object as that object.
fn value_to_json(value: DynSolValue) -> Result<Value, CheatError> {
    Ok(match value {
        DynSolValue::Bool(b) => Value::Bool(b),
        DynSolValue::String(s) => match serde_json::from_str::<Map<String, Value>>(&s) {
            Ok(object) => Value::Object(object),
            Err(_) => Value::String(s),
        },
        DynSolValue::Bytes(b) => Value::String(hex::encode_prefixed(b)),
        DynSolValue::FixedBytes(word, size) => Value::String(hex::encode_prefixed(&word[..size])),
        DynSolValue::Int(i, _) => match i64::try_from(i) {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(i.to_string()),
        },
        DynSolValue::Uint(u, _) => match u64::try_from(u) {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(u.to_string()),
        },
        DynSolValue::Address(a) => Value::String(a.to_checksum(None)),
        DynSolValue::Array(values)
        | DynSolValue::FixedArray(values)
        | DynSolValue::Tuple(values) => Value::Array(
            values
                .into_iter()
                .map(value_to_json)
                .collect::<Result<_, _>>()?,
        ),
        DynSolValue::Function(_) => return Err("cannot serialize a function pointer".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_as_jsonpath_does() {
        let json: Value = parse_json_text(
            r#"{"a": {"b": [1, 2]}, "list": [{"id": 1}, {"id": 2}], "1284": {"x": true}}"#,
        )
        .unwrap();
        assert_eq!(select(&json, ".").unwrap(), vec![&json]);
        assert_eq!(select(&json, "$.a.b[1]").unwrap(), vec![&Value::from(2)]);
        assert_eq!(
            select(&json, ".list[*].id").unwrap(),
            vec![&Value::from(1), &Value::from(2)]
        );
        assert_eq!(select(&json, ".1284.x").unwrap(), vec![&Value::Bool(true)]);
        assert_eq!(select(&json, "$..id").unwrap().len(), 2);
        assert!(select(&json, ".missing").unwrap().is_empty());
        assert!(select(&json, ".a[").is_err());
    }

    #[test]
    fn integers_beyond_64_bits_keep_every_digit() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let json =
            parse_json_text(&format!(r#"{{"n": {max}, "s": "{max} 1e3", "m": -12}}"#)).unwrap();
        assert_eq!(
            infer(&json["n"]).unwrap(),
            DynSolValue::Uint(U256::MAX, 256)
        );
        assert_eq!(json["s"], Value::String(format!("{max} 1e3")));
        let json = parse_json_text(
            r#"{"a": 74258.225772486694040708e18, "b": 0.03069536448928848133e20, "c": 1.5}"#,
        )
        .unwrap();
        assert_eq!(json["a"], Value::String("74258225772486694040708".into()));
        assert_eq!(json["b"], Value::String("3069536448928848133".into()));
        assert!(json["c"].is_number());
        let json = parse_json_text(r#"{"m": -12}"#).unwrap();
        assert_eq!(
            infer(&json["m"]).unwrap(),
            DynSolValue::Int(I256::try_from(-12).unwrap(), 256)
        );
    }

    #[test]
    fn toml_keeps_document_order_and_reads_special_values() {
        let json = parse_toml_text(
            "b = 1\na = nan\nwhen = 2021-08-10T14:48:00Z\nn = \"null\"\n[t]\nz = 1\n",
        )
        .unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a", "when", "n", "t"]);
        assert_eq!(json["a"], Value::String("NaN".into()));
        assert_eq!(json["when"], Value::String("2021-08-10T14:48:00Z".into()));
        assert_eq!(json["n"], Value::Null);
    }

    #[test]
    fn eip712_type_descriptions_resolve_in_field_order() {
        let shape = Shape::parse("Outer(Inner[] inner,uint256 b)Inner(bool z,string a)").unwrap();
        assert_eq!(shape.sol_type().to_string(), "((bool,string)[],uint256)");
        let json: Value =
            serde_json::from_str(r#"{"b": "7", "inner": [{"a": "x", "z": true}]}"#).unwrap();
        let value = coerce_shape(&json, &shape).unwrap();
        let back = shape_to_json(value, &shape).unwrap();
        assert_eq!(back.to_string(), r#"{"inner":[{"z":true,"a":"x"}],"b":7}"#);
        assert!(Shape::parse("Loop(Loop l)").is_err());
    }
}
