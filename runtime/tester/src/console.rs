//! Decoding `console.log` calls (Hardhat's `console.sol`, forge-std's
//! `console`/`console2`) into text.

use std::{collections::HashMap, sync::LazyLock};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue},
    primitives::{hex, keccak256},
};

/// Selector → parameter types, for every `log*` overload.
static SIGNATURES: LazyLock<HashMap<[u8; 4], Vec<DynSolType>>> = LazyLock::new(build_signatures);

fn build_signatures() -> HashMap<[u8; 4], Vec<DynSolType>> {
    let mut map = HashMap::new();
    let mut add = |name: &str, spelled: &[&str], types: Vec<DynSolType>| {
        let sig = format!("{name}({})", spelled.join(","));
        let hash = keccak256(sig.as_bytes());
        map.insert([hash[0], hash[1], hash[2], hash[3]], types);
    };
    // Hardhat's original console.sol spelled `uint`/`int`, which changes the selector.
    let base: [(&str, &str, DynSolType); 4] = [
        ("uint256", "uint", DynSolType::Uint(256)),
        ("string", "string", DynSolType::String),
        ("bool", "bool", DynSolType::Bool),
        ("address", "address", DynSolType::Address),
    ];
    add("log", &[], vec![]);
    let mut singles: Vec<(&str, &str, DynSolType)> = base.to_vec();
    singles.push(("int256", "int", DynSolType::Int(256)));
    singles.push(("bytes", "bytes", DynSolType::Bytes));
    let fixed: Vec<String> = (1..=32).map(|n| format!("bytes{n}")).collect();
    for (n, name) in fixed.iter().enumerate() {
        add(
            &format!("logBytes{}", n + 1),
            &[name.as_str()],
            vec![DynSolType::FixedBytes(n + 1)],
        );
        add("log", &[name.as_str()], vec![DynSolType::FixedBytes(n + 1)]);
    }
    for (full, short, ty) in &singles {
        add("log", &[full], vec![ty.clone()]);
        add("log", &[short], vec![ty.clone()]);
    }
    for (name, full, short, ty) in [
        ("logUint", "uint256", "uint", DynSolType::Uint(256)),
        ("logInt", "int256", "int", DynSolType::Int(256)),
        ("logString", "string", "string", DynSolType::String),
        ("logBool", "bool", "bool", DynSolType::Bool),
        ("logAddress", "address", "address", DynSolType::Address),
        ("logBytes", "bytes", "bytes", DynSolType::Bytes),
    ] {
        add(name, &[full], vec![ty.clone()]);
        add(name, &[short], vec![ty]);
    }
    // Two to four arguments drawn from uint256/string/bool/address.
    for arity in 2..=4usize {
        let combos = 4usize.pow(arity as u32);
        for mut index in 0..combos {
            let mut full = Vec::new();
            let mut short = Vec::new();
            let mut types = Vec::new();
            for _ in 0..arity {
                let (f, s, t) = &base[index % 4];
                index /= 4;
                full.push(*f);
                short.push(*s);
                types.push(t.clone());
            }
            add("log", &full, types.clone());
            add("log", &short, types);
        }
    }
    // Signed integers in two-argument forms used by forge-std's console2.
    for other in &base {
        add(
            "log",
            &["int256", other.0],
            vec![DynSolType::Int(256), other.2.clone()],
        );
        add(
            "log",
            &[other.0, "int256"],
            vec![other.2.clone(), DynSolType::Int(256)],
        );
    }
    map
}

/// Decodes a call to the console address into the printed line, or `None`
/// when the selector is not a known `log` overload.
pub(crate) fn decode_console_log(input: &[u8]) -> Option<String> {
    if input.len() < 4 {
        return None;
    }
    let selector: [u8; 4] = input[..4].try_into().ok()?;
    let types = SIGNATURES.get(&selector)?;
    let tuple = DynSolType::Tuple(types.clone());
    let DynSolValue::Tuple(values) = tuple.abi_decode_params(&input[4..]).ok()? else {
        return None;
    };
    Some(format_console(&values))
}

/// Joins values with spaces, applying `%s`/`%d`/`%i`/`%x` substitutions when
/// the first argument is a format string (as Hardhat and Foundry do).
fn format_console(values: &[DynSolValue]) -> String {
    let plain = |v: &DynSolValue| match v {
        DynSolValue::String(s) => s.clone(),
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Bytes(b) => hex::encode_prefixed(b),
        DynSolValue::FixedBytes(w, n) => hex::encode_prefixed(&w[..*n]),
        other => crate::decode::format_value(other),
    };
    if let Some(DynSolValue::String(format)) = values.first()
        && format.contains('%')
        && values.len() > 1
    {
        let mut out = String::new();
        let mut args = values[1..].iter();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                match chars.peek().copied() {
                    Some(spec @ ('s' | 'd' | 'i' | 'x' | 'o')) => {
                        chars.next();
                        match args.next() {
                            Some(arg) => out.push_str(&format_spec(spec, arg, plain)),
                            None => {
                                out.push('%');
                                out.push(spec);
                            }
                        }
                        continue;
                    }
                    Some('%') => {
                        chars.next();
                        out.push('%');
                        continue;
                    }
                    _ => {}
                }
            }
            out.push(c);
        }
        for rest in args {
            out.push(' ');
            out.push_str(&plain(rest));
        }
        return out;
    }
    values.iter().map(plain).collect::<Vec<_>>().join(" ")
}

fn format_spec(spec: char, arg: &DynSolValue, plain: impl Fn(&DynSolValue) -> String) -> String {
    match (spec, arg) {
        ('x', DynSolValue::Uint(u, _)) => format!("{u:#x}"),
        ('x', DynSolValue::Int(i, _)) => format!("{:#x}", i.into_raw()),
        _ => plain(arg),
    }
}

/// A ds-test event's parameter types, whether its first argument is a
/// name, and where its decimals argument is.
type DsTestEvent = (Vec<DynSolType>, bool, Option<usize>);

/// ds-test/forge-std `log_*` events by topic.
static DS_TEST_EVENTS: LazyLock<HashMap<alloy::primitives::B256, DsTestEvent>> =
    LazyLock::new(|| {
        use DynSolType as T;
        let mut map = HashMap::new();
        let mut add = |sig: &str, types: Vec<DynSolType>, named: bool, decimals: Option<usize>| {
            map.insert(keccak256(sig.as_bytes()), (types, named, decimals));
        };
        add("log(string)", vec![T::String], false, None);
        add("logs(bytes)", vec![T::Bytes], false, None);
        add("log_address(address)", vec![T::Address], false, None);
        add("log_bytes32(bytes32)", vec![T::FixedBytes(32)], false, None);
        add("log_int(int256)", vec![T::Int(256)], false, None);
        add("log_uint(uint256)", vec![T::Uint(256)], false, None);
        add("log_bytes(bytes)", vec![T::Bytes], false, None);
        add("log_string(string)", vec![T::String], false, None);
        add(
            "log_array(uint256[])",
            vec![T::Array(Box::new(T::Uint(256)))],
            false,
            None,
        );
        add(
            "log_array(int256[])",
            vec![T::Array(Box::new(T::Int(256)))],
            false,
            None,
        );
        add(
            "log_array(address[])",
            vec![T::Array(Box::new(T::Address))],
            false,
            None,
        );
        add(
            "log_named_address(string,address)",
            vec![T::String, T::Address],
            true,
            None,
        );
        add(
            "log_named_bytes32(string,bytes32)",
            vec![T::String, T::FixedBytes(32)],
            true,
            None,
        );
        add(
            "log_named_decimal_int(string,int256,uint256)",
            vec![T::String, T::Int(256), T::Uint(256)],
            true,
            Some(2),
        );
        add(
            "log_named_decimal_uint(string,uint256,uint256)",
            vec![T::String, T::Uint(256), T::Uint(256)],
            true,
            Some(2),
        );
        add(
            "log_named_int(string,int256)",
            vec![T::String, T::Int(256)],
            true,
            None,
        );
        add(
            "log_named_uint(string,uint256)",
            vec![T::String, T::Uint(256)],
            true,
            None,
        );
        add(
            "log_named_bytes(string,bytes)",
            vec![T::String, T::Bytes],
            true,
            None,
        );
        add(
            "log_named_string(string,string)",
            vec![T::String, T::String],
            true,
            None,
        );
        add(
            "log_named_array(string,uint256[])",
            vec![T::String, T::Array(Box::new(T::Uint(256)))],
            true,
            None,
        );
        add(
            "log_named_array(string,int256[])",
            vec![T::String, T::Array(Box::new(T::Int(256)))],
            true,
            None,
        );
        add(
            "log_named_array(string,address[])",
            vec![T::String, T::Array(Box::new(T::Address))],
            true,
            None,
        );
        map
    });

/// Decodes a ds-test style `log_*` event (emitted by `DSTest`/forge-std
/// assertions) into the line Foundry prints under "Logs:".
pub(crate) fn decode_ds_test_log(log: &alloy::primitives::Log) -> Option<String> {
    let topic = log.topics().first()?;
    let (types, named, decimals) = DS_TEST_EVENTS.get(topic)?;
    let tuple = DynSolType::Tuple(types.clone());
    let DynSolValue::Tuple(values) = tuple.abi_decode_params(&log.data.data).ok()? else {
        return None;
    };
    let show = |v: &DynSolValue| match v {
        DynSolValue::String(s) => s.clone(),
        other => crate::decode::format_value(other),
    };
    if let (
        Some(_),
        [
            DynSolValue::String(name),
            value,
            DynSolValue::Uint(places, _),
        ],
    ) = (decimals, values.as_slice())
    {
        let digits = show(value);
        let places = places.saturating_to::<usize>();
        let (sign, digits) = match digits.strip_prefix('-') {
            Some(d) => ("-", d.to_string()),
            None => ("", digits),
        };
        let padded = format!("{digits:0>width$}", width = places + 1);
        let (int, frac) = padded.split_at(padded.len() - places);
        let frac = frac.trim_end_matches('0');
        let number = if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        };
        return Some(format!("{name}: {sign}{number}"));
    }
    if *named && let [DynSolValue::String(name), value] = values.as_slice() {
        return Some(format!("{name}: {}", show(value)));
    }
    values.first().map(show)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{dyn_abi::DynSolValue, primitives::U256};

    fn call(sig: &str, args: Vec<DynSolValue>) -> Vec<u8> {
        let mut data = keccak256(sig.as_bytes())[..4].to_vec();
        data.extend(DynSolValue::Tuple(args).abi_encode_params());
        data
    }

    #[test]
    fn decodes_common_overloads() {
        let s = |x: &str| DynSolValue::String(x.into());
        let u = |x: u64| DynSolValue::Uint(U256::from(x), 256);
        assert_eq!(
            decode_console_log(&call("log(string)", vec![s("hi")])).unwrap(),
            "hi"
        );
        assert_eq!(
            decode_console_log(&call("log(uint)", vec![u(7)])).unwrap(),
            "7"
        );
        assert_eq!(
            decode_console_log(&call("log(string,uint256)", vec![s("x ="), u(3)])).unwrap(),
            "x = 3"
        );
        assert_eq!(
            decode_console_log(&call(
                "log(string,uint256,bool)",
                vec![s("v %s and %s"), u(3), DynSolValue::Bool(true)]
            ))
            .unwrap(),
            "v 3 and true"
        );
        assert!(decode_console_log(&[1, 2, 3, 4]).is_none());
    }
}
