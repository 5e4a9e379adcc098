//! Problems found in sources, by solc or by forja, in a form every front end
//! (terminal, `--json`, the language server) can render.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// A place in a source file: byte offsets and 1-based line/column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The source unit name (the path relative to the project root).
    pub file: String,
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub column: usize,
    /// The text of the line the location starts on.
    pub line_text: String,
    /// How many characters of `line_text` the span covers (at least 1).
    pub span_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// solc's error code (e.g. `2314`) or forja's (`F…`).
    pub code: Option<String>,
    /// solc's error type (`ParserError`, `TypeError`, …) when from solc.
    pub kind: Option<String>,
    pub message: String,
    pub location: Option<Location>,
    pub notes: Vec<(String, Option<Location>)>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code: None,
            kind: None,
            message: message.into(),
            location: None,
            notes: vec![],
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    pub fn with_location(mut self, file: &str, content: &str, start: usize, end: usize) -> Self {
        self.location = Some(locate(file, content, start, end));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Computes line, column and the line's text for a byte range.
pub fn locate(file: &str, content: &str, start: usize, end: usize) -> Location {
    let start = start.min(content.len());
    let end = end.clamp(start, content.len());
    let line_start = content[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = content[start..]
        .find('\n')
        .map_or(content.len(), |i| start + i);
    let line = content[..start].matches('\n').count() + 1;
    let column = content[line_start..start].chars().count() + 1;
    let span_len = content[start..end.min(line_end)].chars().count().max(1);
    Location {
        file: file.to_string(),
        start,
        end,
        line,
        column,
        line_text: content[line_start..line_end]
            .trim_end_matches('\r')
            .to_string(),
        span_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_have_line_column_and_text() {
        let content = "line one\n  let x = bad;\nlast";
        let start = content.find("bad").unwrap();
        let loc = locate("a.sol", content, start, start + 3);
        assert_eq!((loc.line, loc.column, loc.span_len), (2, 11, 3));
        assert_eq!(loc.line_text, "  let x = bad;");
    }
}
