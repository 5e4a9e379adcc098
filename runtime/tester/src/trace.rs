//! Rendering call traces with contract names, decoded calls, events and reverts.

use std::collections::{BTreeMap, HashMap};

use alloy::{
    dyn_abi::{EventExt, FunctionExt, JsonAbiExt},
    json_abi::{Event, Function},
    primitives::{Address, B256, Log, Selector, hex},
};

use crate::{
    artifacts::ArtifactSet,
    decode::{decode_revert, format_value},
    inspector::{TraceItem, TraceKind, TraceNode},
    vm::{CHEATCODE_ADDRESS, CONSOLE_ADDRESS},
};

/// Knows how to name addresses and decode calldata for traces.
pub struct TraceDecoder<'a> {
    artifacts: &'a ArtifactSet,
    functions: BTreeMap<Selector, Function>,
    events: HashMap<B256, Event>,
    names: HashMap<Address, String>,
}

impl<'a> TraceDecoder<'a> {
    /// A decoder over the build's ABIs; `names` labels known addresses.
    pub fn new(artifacts: &'a ArtifactSet, names: HashMap<Address, String>) -> Self {
        let mut events = HashMap::new();
        for c in &artifacts.contracts {
            for e in c.abi.events() {
                events.entry(e.selector()).or_insert_with(|| e.clone());
            }
        }
        let mut names = names;
        names.insert(CHEATCODE_ADDRESS, "VM".into());
        names.insert(CONSOLE_ADDRESS, "console".into());
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

    fn decode_call(&self, input: &[u8]) -> (String, Option<&Function>) {
        if input.len() < 4 {
            return (
                if input.is_empty() {
                    "fallback()".into()
                } else {
                    hex::encode_prefixed(input)
                },
                None,
            );
        }
        let selector = Selector::from_slice(&input[..4]);
        match self.functions.get(&selector) {
            Some(f) => match f.abi_decode_input(&input[4..]) {
                Ok(values) => {
                    let args: Vec<String> = values.iter().map(format_value).collect();
                    (format!("{}({})", f.name, args.join(", ")), Some(f))
                }
                Err(_) => (
                    format!("{}({})", f.name, hex::encode_prefixed(&input[4..])),
                    Some(f),
                ),
            },
            None => (
                format!(
                    "{}({})",
                    hex::encode_prefixed(&input[..4]),
                    hex::encode_prefixed(&input[4..])
                ),
                None,
            ),
        }
    }

    fn decode_event(&self, log: &Log) -> String {
        let topics = log.topics();
        if let Some(event) = topics.first().and_then(|t| self.events.get(t)) {
            if let Ok(decoded) = event.decode_log_parts(topics.iter().copied(), &log.data.data) {
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
                            format_value(value)
                        } else {
                            format!("{}: {}", p.name, format_value(value))
                        })
                    })
                    .collect();
                return format!("emit {}({})", event.name, args.join(", "));
            }
        }
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        format!(
            "emit topics: [{}], data: {}",
            topics.join(", "),
            hex::encode_prefixed(&log.data.data)
        )
    }

    /// Renders the trace arena rooted at node 0.
    pub fn render(&self, nodes: &[TraceNode]) -> String {
        let mut out = String::new();
        if !nodes.is_empty() {
            self.render_node(nodes, 0, "", "", &mut out);
        }
        out
    }

    fn render_node(
        &self,
        nodes: &[TraceNode],
        index: usize,
        prefix: &str,
        child_prefix: &str,
        out: &mut String,
    ) {
        let node = &nodes[index];
        let (call, function) = if node.kind == TraceKind::Create {
            let name = self
                .artifacts
                .identify_creation(&node.input)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "<unknown>".into());
            (
                format!("→ new {name}@{}", node.address.to_checksum(None)),
                None,
            )
        } else {
            let (call, f) = self.decode_call(&node.input);
            (format!("{}::{call}", self.name(node.address)), f)
        };
        let suffix = match node.kind {
            TraceKind::StaticCall => " [staticcall]",
            TraceKind::DelegateCall => " [delegatecall]",
            _ => "",
        };
        let value = if node.value.is_zero() {
            String::new()
        } else {
            format!("{{value: {}}}", node.value)
        };
        out.push_str(&format!(
            "{prefix}[{}] {call}{value}{suffix}\n",
            node.gas_used
        ));
        let mut items: Vec<String> = Vec::new();
        let mut children: Vec<Option<usize>> = Vec::new();
        for (position, item) in node.items.iter().enumerate() {
            match item {
                // A decoded console.log call is shown once, by its line
                // (the next item), not also as a raw call frame.
                TraceItem::Call(i)
                    if nodes[*i].address == CONSOLE_ADDRESS
                        && matches!(node.items.get(position + 1), Some(TraceItem::Console(_))) => {}
                TraceItem::Call(i) => {
                    items.push(String::new());
                    children.push(Some(*i));
                }
                TraceItem::Log(log) => {
                    items.push(self.decode_event(log));
                    children.push(None);
                }
                TraceItem::Console(line) => {
                    items.push(format!("console::log({line:?})"));
                    children.push(None);
                }
            }
        }
        let result = if node.success {
            match (function, node.output.is_empty()) {
                (_, true) => "← [Stop]".to_string(),
                (Some(f), false) => match f.abi_decode_output(&node.output) {
                    Ok(values) => {
                        let values: Vec<String> = values.iter().map(format_value).collect();
                        format!("← [Return] {}", values.join(", "))
                    }
                    Err(_) => format!("← [Return] {}", hex::encode_prefixed(&node.output)),
                },
                (None, false) if node.kind == TraceKind::Create => {
                    format!("← [Return] {} bytes of code", node.output.len())
                }
                (None, false) => format!("← [Return] {}", hex::encode_prefixed(&node.output)),
            }
        } else {
            let abis = self.artifacts.contracts.iter().map(|c| &c.abi);
            format!("← [Revert] {}", decode_revert(&node.output, abis))
        };
        let total = items.len() + 1;
        for (position, (text, child)) in items.iter().zip(&children).enumerate() {
            let last = position + 1 == total;
            let (branch, next) = if last {
                ("└─ ", "    ")
            } else {
                ("├─ ", "│   ")
            };
            match child {
                Some(i) => self.render_node(
                    nodes,
                    *i,
                    &format!("{child_prefix}{branch}"),
                    &format!("{child_prefix}{next}"),
                    out,
                ),
                None => out.push_str(&format!("{child_prefix}{branch}{text}\n")),
            }
        }
        out.push_str(&format!("{child_prefix}└─ {result}\n"));
    }
}
