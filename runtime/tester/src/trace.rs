//! Rendering call traces with contract names, decoded calls, events and reverts.

use std::collections::{BTreeMap, HashMap};

use alloy::{
    dyn_abi::{DynSolValue, EventExt, FunctionExt, JsonAbiExt},
    json_abi::{Event, Function},
    primitives::{Address, B256, I256, Log, Selector, U256, hex},
};

use crate::{
    artifacts::ArtifactSet,
    decode::{decode_revert, format_value},
    inspector::{TraceItem, TraceKind, TraceNode},
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS, DEFAULT_SENDER},
};

/// Cheatcodes whose arguments forge hides in traces (they hold a private key).
const PRIVATE_KEY_CHEATCODES: &[&str] = &["addr", "createWallet", "deriveKey", "rememberKey"];

/// Knows how to name addresses and decode calldata for traces.
pub(crate) struct TraceDecoder<'a> {
    artifacts: &'a ArtifactSet,
    functions: BTreeMap<Selector, Function>,
    events: HashMap<B256, Event>,
    names: HashMap<Address, String>,
}

impl<'a> TraceDecoder<'a> {
    /// A decoder over the build's ABIs; `names` labels known addresses.
    pub(crate) fn new(artifacts: &'a ArtifactSet, names: HashMap<Address, String>) -> Self {
        let mut events = HashMap::new();
        for c in &artifacts.contracts {
            for e in c.abi.events() {
                events.entry(e.selector()).or_insert_with(|| e.clone());
            }
        }
        let mut names = names;
        names.insert(CHEATCODE_ADDRESS, "VM".into());
        names.insert(CONSOLE_ADDRESS, "console".into());
        names
            .entry(DEFAULT_SENDER)
            .or_insert_with(|| "DefaultSender".into());
        Self {
            artifacts,
            functions: artifacts.function_signatures(),
            events,
            names,
        }
    }

    fn name(&self, address: Address) -> String {
        self.names
            .get(&address)
            .cloned()
            .unwrap_or_else(|| address.to_checksum(None))
    }

    /// A value as forge shows it in traces: labelled addresses as
    /// `label: [0x…]`, numbers with exponent hints.
    fn format_value(&self, value: &DynSolValue) -> String {
        let list = |items: &[DynSolValue]| {
            items
                .iter()
                .map(|v| self.format_value(v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match value {
            DynSolValue::Address(a) => match self.names.get(a) {
                Some(label) => format!("{label}: [{}]", a.to_checksum(None)),
                None => a.to_checksum(None),
            },
            DynSolValue::Uint(u, _) => format_uint_exp(*u),
            DynSolValue::Int(i, _) => format_int_exp(*i),
            DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
                format!("[{}]", list(items))
            }
            DynSolValue::Tuple(items) => format!("({})", list(items)),
            other => format_value(other),
        }
    }

    /// The function's name and arguments as forge shows them; `with_value`:
    /// empty calldata is `receive`.
    fn decode_call(&self, input: &[u8], with_value: bool) -> (String, String, Option<&Function>) {
        if input.len() < 4 {
            let name = if with_value { "receive" } else { "fallback" };
            let args = if with_value {
                String::new()
            } else {
                hex::encode(input)
            };
            return (name.into(), args, None);
        }
        let selector = Selector::from_slice(&input[..4]);
        let Some(f) = self.functions.get(&selector) else {
            return (hex::encode(&input[..4]), hex::encode(&input[4..]), None);
        };
        let args = match f.abi_decode_input(&input[4..]) {
            Ok(values) => {
                if f.name == "expectRevert" || f.name == "expectPartialRevert" {
                    self.expected_revert_args(&values)
                } else if self.is_cheatcode(f) && PRIVATE_KEY_CHEATCODES.contains(&f.name.as_str())
                {
                    "<pk>".to_string()
                } else {
                    values
                        .iter()
                        .map(|v| self.format_value(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            }
            Err(_) => hex::encode_prefixed(&input[4..]),
        };
        (f.name.clone(), args, Some(f))
    }

    /// Whether `f` is one of the cheatcodes (as opposed to a project
    /// function that happens to share its name).
    fn is_cheatcode(&self, f: &Function) -> bool {
        crate::vm::cheatcode_signature(f.selector().0).is_some()
    }

    /// `expectRevert`'s data argument is shown decoded as the revert it expects.
    fn expected_revert_args(&self, values: &[DynSolValue]) -> String {
        let mut args = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            let data = match value {
                DynSolValue::Bytes(b) if i == 0 => Some(&b[..]),
                DynSolValue::FixedBytes(w, size) if i == 0 => Some(&w[..*size]),
                _ => None,
            };
            args.push(match data {
                Some(data) => decode_revert(data, self.artifacts.contracts.iter().map(|c| &c.abi)),
                None => self.format_value(value),
            });
        }
        args.join(", ")
    }

    fn decode_event(&self, log: &Log) -> String {
        let topics = log.topics();
        if let Some(event) = topics.first().and_then(|t| self.events.get(t))
            && let Ok(decoded) = event.decode_log_parts(topics.iter().copied(), &log.data.data)
        {
            let mut indexed = decoded.indexed.iter();
            let mut body = decoded.body.iter();
            let args: Vec<String> = event
                .inputs
                .iter()
                .filter_map(|p| {
                    let value = if p.indexed {
                        indexed.next()
                    } else {
                        body.next()
                    }?;
                    Some(if p.name.is_empty() {
                        self.format_value(value)
                    } else {
                        format!("{}: {}", p.name, self.format_value(value))
                    })
                })
                .collect();
            return format!("emit {}({})", event.name, args.join(", "));
        }
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        format!(
            "emit topics: [{}], data: {}",
            topics.join(", "),
            hex::encode_prefixed(&log.data.data)
        )
    }

    /// Renders the trace arena rooted at node 0 as forge does (revm-inspectors'
    /// layout), without the two spaces forge puts before every line.
    pub(crate) fn render(&self, nodes: &[TraceNode]) -> String {
        let mut out = String::new();
        if !nodes.is_empty() {
            self.render_node(nodes, 0, 0, &mut out);
        }
        out
    }

    /// `level` is the node's depth in the tree: its header line gets
    /// `level - 1` pipes and a branch, its items and footer one more level.
    fn render_node(&self, nodes: &[TraceNode], index: usize, level: usize, out: &mut String) {
        let node = &nodes[index];
        indent(out, level, BRANCH);
        out.push_str(&format!("[{}] ", node.gas_used));
        let function = if node.kind == TraceKind::Create {
            let name = self
                .artifacts
                .identify_creation(&node.input)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "<unknown>".into());
            out.push_str(&format!("→ new {name}@{}", node.address.to_checksum(None)));
            None
        } else {
            let (name, args, function) = self.decode_call(&node.input, !node.value.is_zero());
            out.push_str(&format!("{}::{name}", self.name(node.address)));
            if !node.value.is_zero() {
                out.push_str(&format!("{{value: {}}}", node.value));
            }
            out.push_str(&format!("({args})"));
            out.push_str(match node.kind {
                TraceKind::StaticCall => " [staticcall]",
                TraceKind::DelegateCall => " [delegatecall]",
                _ => "",
            });
            function
        };
        out.push('\n');
        for (position, item) in node.items.iter().enumerate() {
            match item {
                // A decoded console.log call is shown once, by its line
                // (the next item), not also as a raw call frame.
                TraceItem::Call(i)
                    if nodes[*i].address == CONSOLE_ADDRESS
                        && matches!(node.items.get(position + 1), Some(TraceItem::Console(_))) => {}
                TraceItem::Call(i) => self.render_node(nodes, *i, level + 1, out),
                TraceItem::Log(log) => {
                    indent(out, level + 1, BRANCH);
                    out.push_str(&self.decode_event(log));
                    out.push('\n');
                }
                TraceItem::Console(line) => {
                    indent(out, level + 1, BRANCH);
                    out.push_str(&format!("console::log({line:?})\n"));
                }
            }
        }
        indent(out, level + 1, EDGE);
        out.push_str(&format!("← [{:?}]", node.status));
        let returned = if !node.success {
            let abis = self.artifacts.contracts.iter().map(|c| &c.abi);
            Some(decode_revert(&node.output, abis))
        } else if node.kind == TraceKind::Create {
            Some(format!("{} bytes of code", node.output.len()))
        } else if node.output.is_empty() {
            None
        } else {
            Some(
                function
                    .and_then(|f| f.abi_decode_output(&node.output).ok())
                    .map(|values| {
                        values
                            .iter()
                            .map(|v| self.format_value(v))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_else(|| hex::encode_prefixed(&node.output)),
            )
        };
        if let Some(returned) = returned {
            out.push(' ');
            out.push_str(&returned);
        }
        out.push('\n');
    }
}

const PIPE: &str = "  │ ";
const BRANCH: &str = "  ├─ ";
const EDGE: &str = "  └─ ";

/// The start of a line at `level`: a pipe per enclosing level below the
/// root, then `branch` (none at the root).
fn indent(out: &mut String, level: usize, branch: &str) {
    if level == 0 {
        return;
    }
    for _ in 1..level {
        out.push_str(PIPE);
    }
    out.push_str(branch);
}

/// A uint as forge prints it in traces: with an exponent hint from 10000 up
/// (`1000000000000000000 [1e18]`).
pub(crate) fn format_uint_exp(value: U256) -> String {
    if value < U256::from(10_000) {
        return value.to_string();
    }
    format!("{value} [{}]", exp_notation(value, ""))
}

/// An int as forge prints it in traces (see [`format_uint_exp`]).
pub(crate) fn format_int_exp(value: I256) -> String {
    let (sign, abs) = value.into_sign_and_abs();
    let sign = if sign.is_negative() { "-" } else { "" };
    if abs < U256::from(10_000) {
        return format!("{sign}{abs}");
    }
    format!("{sign}{abs} [{}]", exp_notation(abs, sign))
}

/// Four significant figures, trailing zeros trimmed: `1.234e9`, `1e18`.
fn exp_notation(value: U256, sign: &str) -> String {
    let digits = value.to_string();
    let exponent = digits.len() - 1;
    let mut mantissa: String = digits.chars().take(4).collect();
    mantissa = mantissa.trim_end_matches('0').to_string();
    if mantissa.len() > 1 {
        mantissa.insert(1, '.');
    }
    format!("{sign}{mantissa}e{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_foundrys_exponent_hints() {
        assert_eq!(format_uint_exp(U256::from(1234)), "1234");
        assert_eq!(
            format_uint_exp(U256::from(1234567890u64)),
            "1234567890 [1.234e9]"
        );
        assert_eq!(
            format_uint_exp(U256::from(10u128.pow(18))),
            "1000000000000000000 [1e18]"
        );
        assert_eq!(
            format_int_exp(I256::try_from(-1234567890i64).unwrap()),
            "-1234567890 [-1.234e9]"
        );
        assert_eq!(format_int_exp(I256::try_from(-1).unwrap()), "-1");
    }
}
