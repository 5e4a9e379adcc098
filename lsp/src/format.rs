//! Conservative whitespace formatting.
//!
//! No maintained Solidity formatter builds from crates.io with Rust 1.95:
//! `forge-fmt` there is a 2023 snapshot (0.2.0) on `solang-parser`, whose
//! grammar lags current Solidity (transient storage, `layout at`, …) and
//! which gives up on any syntax error; Foundry's current formatter is not
//! published. So formatting only touches whitespace that never changes the
//! token stream: trailing spaces, tab indentation, runs of blank lines,
//! leading/trailing blank lines and the final newline. solar's lexer finds
//! what spans lines — string literals (with `\` line continuations) are kept
//! byte for byte, block comments keep their lines — so the result lexes to
//! the same tokens (comments compared line by line without the whitespace
//! around each line), and formatting it again changes nothing.

use solar::{interface::Session, parse::Lexer};
use std::ops::Range;

/// What a multi-line token requires of the lines inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    /// A string literal: every byte matters.
    Verbatim,
    /// A block comment: its lines are kept, blank ones included, while
    /// their indentation and trailing spaces are whitespace like any other.
    Comment,
}

/// Formats `text`; returns `None` when nothing changes. With `expand_tabs`
/// (the editor's `insertSpaces`), tabs in indentation become that many
/// spaces; otherwise indentation is kept as written.
pub fn format(text: &str, expand_tabs: Option<usize>) -> Option<String> {
    let protected = multi_line_tokens(text);
    let protection_at = |offset: usize| {
        protected
            .iter()
            .find(|(r, _)| r.start < offset && offset < r.end)
            .map(|(_, p)| *p)
    };
    let crlf = text.matches("\r\n").count() * 2 > text.matches('\n').count();
    let newline = if crlf { "\r\n" } else { "\n" };

    let mut out = String::with_capacity(text.len());
    let mut pending_blank = false;
    let mut line_start = 0;
    for raw in text.split_inclusive('\n') {
        let start = line_start;
        line_start += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let end = start + line.len();
        let starts_inside = protection_at(start);
        // The line break itself is part of a string literal (a continuation).
        // An unterminated string runs to the end of the file: so does this line.
        let ends_inside_string = protected.iter().any(|(r, p)| {
            *p == Protection::Verbatim
                && r.start < end
                && (end < r.end || (end == text.len() && r.end == end))
        });
        if starts_inside == Some(Protection::Verbatim) || ends_inside_string {
            flush_blank(&mut out, &mut pending_blank, newline);
            let (head, tail) = if starts_inside.is_none() {
                // Only the end of this line is in the string: its indentation is free.
                let indent_len = line.len() - line.trim_start().len();
                line.split_at(indent_len)
            } else {
                ("", line)
            };
            push_indent(&mut out, head, expand_tabs);
            if ends_inside_string {
                out.push_str(tail);
                if raw.ends_with('\n') {
                    out.push('\n');
                }
            } else {
                // The string closed on this line: what follows it is code.
                out.push_str(tail.trim_end());
                out.push_str(newline);
            }
            continue;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() && starts_inside == Some(Protection::Comment) {
            // Blank lines inside a comment are its text.
            flush_blank(&mut out, &mut pending_blank, newline);
            out.push_str(newline);
            continue;
        }
        if trimmed.is_empty() {
            // Runs of blank lines become one; none at the start of the file.
            pending_blank = !out.is_empty();
            continue;
        }
        flush_blank(&mut out, &mut pending_blank, newline);
        let indent_len = trimmed.len() - trimmed.trim_start().len();
        let (indent, rest) = trimmed.split_at(indent_len);
        push_indent(&mut out, indent, expand_tabs);
        out.push_str(rest);
        out.push_str(newline);
    }
    (out != text).then_some(out)
}

fn flush_blank(out: &mut String, pending_blank: &mut bool, newline: &str) {
    if std::mem::take(pending_blank) {
        out.push_str(newline);
    }
}

/// Indentation, with tabs expanded to spaces when asked.
fn push_indent(out: &mut String, indent: &str, expand_tabs: Option<usize>) {
    for ch in indent.chars() {
        if let (Some(tab_size), '\t') = (expand_tabs, ch) {
            out.extend(std::iter::repeat_n(' ', tab_size));
        } else {
            out.push(ch);
        }
    }
}

/// Byte ranges of the tokens that contain a line break.
fn multi_line_tokens(text: &str) -> Vec<(Range<usize>, Protection)> {
    let sess = Session::builder().with_silent_emitter(None).build();
    sess.enter_sequential(|| {
        let mut lexer = Lexer::new(&sess, text);
        let mut out = Vec::new();
        loop {
            let token = lexer.slop();
            if token.is_eof() {
                break;
            }
            let range = token.span.lo().to_usize()..token.span.hi().to_usize();
            if text.get(range.clone()).is_some_and(|t| t.contains('\n')) {
                let protection = if token.kind.is_comment_or_doc() {
                    Protection::Comment
                } else {
                    Protection::Verbatim
                };
                out.push((range, protection));
            }
        }
        out
    })
}

/// The token stream of `text` as comparable strings: token kinds with their
/// text, comments line by line without the whitespace around each line.
/// Formatting must never change it.
pub fn token_stream(text: &str) -> Vec<String> {
    let sess = Session::builder().with_silent_emitter(None).build();
    sess.enter_sequential(|| {
        let mut lexer = Lexer::new(&sess, text);
        let mut out = Vec::new();
        loop {
            let token = lexer.slop();
            if token.is_eof() {
                break;
            }
            let range = token.span.lo().to_usize()..token.span.hi().to_usize();
            let source = text.get(range).unwrap_or("");
            if token.kind.is_comment_or_doc() {
                let lines: Vec<&str> = source.lines().map(str::trim).collect();
                out.push(format!("comment {}", lines.join("\n").trim_end()));
            } else {
                out.push(format!("{:?} {source}", token.kind.description()));
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_formats(text: &str, expected: &str) {
        let out = format(text, Some(4)).unwrap_or_else(|| text.to_string());
        assert_eq!(out, expected);
        assert_eq!(format(&out, Some(4)), None, "formatting is idempotent");
        assert_eq!(token_stream(&out), token_stream(text), "tokens unchanged");
    }

    #[test]
    fn fixes_only_whitespace() {
        assert_formats(
            "\n\ncontract A {   \n\tuint x;\n\n\n\n    /*\n\t keep */\n}\n\n",
            "contract A {\n    uint x;\n\n    /*\n     keep */\n}\n",
        );
    }

    #[test]
    fn string_continuations_are_kept_byte_for_byte() {
        let text = "contract A {\n\tstring s = \"a  \\\n\t\tb\\\n\n   \\\n\";   \n}";
        assert_formats(
            text,
            "contract A {\n    string s = \"a  \\\n\t\tb\\\n\n   \\\n\";\n}\n",
        );
    }

    #[test]
    fn blank_lines_inside_comments_stay() {
        assert_formats(
            "/**\n * a   \n\n\n * b\n */\ncontract A {}\n",
            "/**\n * a\n\n\n * b\n */\ncontract A {}\n",
        );
    }

    #[test]
    fn keeps_tabs_when_the_editor_indents_with_tabs() {
        let text = "contract A {\n\tuint x;   \n}\n";
        assert_eq!(
            format(text, None).as_deref(),
            Some("contract A {\n\tuint x;\n}\n")
        );
    }

    #[test]
    fn keeps_crlf_files_crlf() {
        assert_formats(
            "contract A {  \r\n\tuint x;\r\n\r\n\r\n}\r\n",
            "contract A {\r\n    uint x;\r\n\r\n}\r\n",
        );
    }

    #[test]
    fn survives_unterminated_and_garbled_text() {
        for text in [
            "contract A { string s = \"open\n\t  x",
            "/* never closed\n\t  ",
            "\u{a0}\t§ ¤ \"\\\n\n\n\t",
            "   \n\t\n",
            "",
        ] {
            let once = format(text, Some(4)).unwrap_or_else(|| text.to_string());
            assert_eq!(format(&once, Some(4)), None, "idempotent on {text:?}");
            assert_eq!(token_stream(&once), token_stream(text), "{text:?}");
        }
    }
}
