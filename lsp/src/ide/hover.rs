//! Hover: a name's signature, type, container and NatSpec as Markdown.

use crate::index::{FileData, Index, Target};
use std::ops::Range;

/// The Markdown for the name at `offset`, and the range it covers.
pub fn hover(index: &Index, data: &FileData, offset: usize) -> Option<(String, Range<usize>)> {
    let reference = data.reference_at(offset)?;
    let markdown = markdown(index, &reference.target)?;
    Some((markdown, reference.range.clone()))
}

fn markdown(index: &Index, target: &Target) -> Option<String> {
    match target {
        Target::Builtin { name, ty } => {
            let ty = if ty.is_empty() {
                String::new()
            } else {
                format!(": {ty}")
            };
            Some(format!("```solidity\n{name}{ty}\n```\n\nbuiltin"))
        }
        Target::Symbol(key) => {
            let sym = index.symbol(key)?;
            let mut md = format!("```solidity\n{}\n```", sym.signature);
            let mut facts = vec![sym.kind.describe().to_string()];
            if let Some(ty) = &sym.ty {
                facts.push(format!("type `{ty}`"));
            }
            if let Some(c) = &sym.container_name {
                facts.push(format!("in `{c}`"));
            }
            md.push_str(&format!("\n\n*{}*", facts.join(" · ")));
            if let Some(doc) = &sym.doc {
                md.push_str("\n\n---\n\n");
                md.push_str(doc);
            }
            Some(md)
        }
    }
}
