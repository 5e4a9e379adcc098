//! Conservative whitespace formatting.
//!
//! No maintained Solidity formatter builds from crates.io with Rust 1.95
//! (`forge-fmt` there is a 2023 snapshot on `solang-parser`, whose grammar
//! lags current Solidity), so formatting only touches whitespace that never
//! changes meaning: trailing spaces, tab indentation, runs of blank lines and
//! the final newline. Multi-line string literals are left untouched.

/// Formats `text`; returns `None` when nothing changes.
pub fn format(text: &str, tab_size: usize) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    let mut in_block_comment = false;
    for line in text.lines() {
        // A string literal spanning lines is impossible in Solidity except via
        // escapes; block comments are kept verbatim apart from trailing spaces.
        let trimmed_end = line.trim_end();
        if trimmed_end.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
            out.push('\n');
            continue;
        }
        blank_run = 0;
        let indent_len = trimmed_end.len() - trimmed_end.trim_start().len();
        let (indent, rest) = trimmed_end.split_at(indent_len);
        if in_block_comment {
            out.push_str(indent);
        } else {
            for ch in indent.chars() {
                if ch == '\t' {
                    out.extend(std::iter::repeat_n(' ', tab_size));
                } else {
                    out.push(ch);
                }
            }
        }
        out.push_str(rest);
        out.push('\n');
        in_block_comment = update_block_comment(in_block_comment, rest);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    (out != text).then_some(out)
}

/// Tracks whether a line leaves us inside a `/* … */` comment (ignores strings and `//`).
fn update_block_comment(mut inside: bool, line: &str) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if inside {
            if b == b'*' && bytes.get(i + 1) == Some(&b'/') {
                inside = false;
                i += 1;
            }
        } else if let Some(q) = quote {
            if b == b'\\' {
                i += 1;
            } else if b == q {
                quote = None;
            }
        } else if b == b'"' || b == b'\'' {
            quote = Some(b);
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            break;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            inside = true;
            i += 1;
        }
        i += 1;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_only_whitespace() {
        let text = "\n\ncontract A {   \n\tuint x;\n\n\n\n    /*\n\t keep */\n}\n\n";
        let out = format(text, 4).unwrap();
        assert_eq!(out, "contract A {\n    uint x;\n\n    /*\n\t keep */\n}\n");
        assert_eq!(format(&out, 4), None, "formatting is idempotent");
    }
}
