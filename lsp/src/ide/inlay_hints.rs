//! Inlay hints: parameter names at call arguments, and solc's gas estimates
//! on functions once a build has run.

use crate::{gas_hints::GasEstimates, index::FileData};
use std::ops::Range;

/// What a hint shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintKind {
    /// `name:` before a call argument.
    Parameter,
    /// solc's gas estimate after a function header.
    Gas,
}

/// One hint at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub offset: usize,
    pub label: String,
    pub kind: HintKind,
    pub tooltip: Option<String>,
}

/// The hints inside `range` of `data`.
pub fn inlay_hints(gas: &mut GasEstimates, data: &FileData, range: Range<usize>) -> Vec<Hint> {
    let (start, end) = (range.start, range.end);
    let mut hints: Vec<Hint> = gas
        .hints(data, start..end)
        .into_iter()
        .map(|hint| Hint {
            offset: hint.offset,
            label: hint.label,
            kind: HintKind::Gas,
            tooltip: Some(hint.tooltip),
        })
        .collect();
    for call in data
        .calls
        .iter()
        .filter(|c| c.range.start <= end && c.range.end >= start)
    {
        if call.args.len() != call.params.len() {
            continue;
        }
        for (arg, param) in call.args.iter().zip(&call.params) {
            let arg_text = data.text.get(arg.clone()).unwrap_or("");
            if param.is_empty()
                || arg_text == param
                || arg_text.ends_with(&format!(".{param}"))
                || arg.start < start
                || arg.start > end
            {
                continue;
            }
            hints.push(Hint {
                offset: arg.start,
                label: format!("{param}:"),
                kind: HintKind::Parameter,
                tooltip: None,
            });
        }
    }
    hints
}
