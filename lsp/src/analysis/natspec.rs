//! NatSpec and doc comments above a declaration, rendered as Markdown.

/// The NatSpec or doc comment right above byte `start`.
pub fn doc_above(text: &str, start: usize) -> Option<String> {
    let before = &text[..start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if !before[line_start..].trim().is_empty() {
        return None;
    }
    let mut lines: Vec<&str> = Vec::new();
    let mut rest = &before[..line_start];
    let mut in_block = false;
    loop {
        let trimmed_rest = rest.strip_suffix('\n').unwrap_or(rest);
        if trimmed_rest.is_empty() && rest.is_empty() {
            break;
        }
        let ls = trimmed_rest.rfind('\n').map_or(0, |i| i + 1);
        let line = trimmed_rest[ls..].trim();
        if in_block {
            lines.push(line);
            if line.starts_with("/**") || line.starts_with("/*") {
                break;
            }
        } else if line.starts_with("///") {
            lines.push(line);
        } else if line.ends_with("*/") && lines.is_empty() {
            in_block = true;
            lines.push(line);
            if line.starts_with("/*") {
                break;
            }
        } else {
            break;
        }
        if ls == 0 {
            break;
        }
        rest = &trimmed_rest[..ls];
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    let cleaned: Vec<String> = lines
        .iter()
        .map(|l| {
            let l = l
                .trim_start_matches("///")
                .trim_start_matches("/**")
                .trim_end_matches("*/");
            let l = l.trim();
            let l = l.strip_prefix('*').unwrap_or(l).trim_start();
            l.to_string()
        })
        .collect();
    let joined = cleaned.join("\n").trim().to_string();
    (!joined.is_empty()).then(|| natspec_markdown(&joined))
}

/// Renders NatSpec tags as Markdown.
fn natspec_markdown(doc: &str) -> String {
    let mut out = String::new();
    for line in doc.lines() {
        let line = line.trim();
        let rendered = if let Some(rest) = line.strip_prefix("@param ") {
            let (name, desc) = rest.split_once(' ').unwrap_or((rest, ""));
            format!("- `{name}`: {desc}")
        } else if let Some(rest) = line.strip_prefix("@return ") {
            format!("- returns: {rest}")
        } else if let Some(rest) = line.strip_prefix("@dev ") {
            format!("\n{rest}")
        } else if let Some(rest) = line.strip_prefix("@notice ") {
            rest.to_string()
        } else if let Some(rest) = line.strip_prefix("@inheritdoc ") {
            format!("*Inherits documentation from `{rest}`*")
        } else if let Some(rest) = line.strip_prefix('@') {
            let (tag, desc) = rest.split_once(' ').unwrap_or((rest, ""));
            format!("*@{tag}* {desc}")
        } else {
            line.to_string()
        };
        out.push_str(&rendered);
        out.push('\n');
    }
    out.trim().to_string()
}
