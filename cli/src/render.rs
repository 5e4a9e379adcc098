//! Terminal rendering shared by commands: diagnostics in rustc's style,
//! forge's Markdown tables, and a spinner for slow steps.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use forja_compiler::{Diagnostic, Severity};

/// ```text
/// error[2314]: Expected ';' but got '}'
///  --> src/Counter.sol:7:5
///   |
/// 7 |     }
///   |     ^
/// ```
pub(crate) fn diagnostic(d: &Diagnostic, _root: &Path) -> String {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let mut out = match (&d.code, &d.kind) {
        (Some(code), _) => format!("{severity}[{code}]: {}", d.message),
        (None, _) => format!("{severity}: {}", d.message),
    };
    if let Some(loc) = &d.location {
        let gutter = loc.line.to_string().len();
        let pad = " ".repeat(gutter);
        let indent: String = loc
            .line_text
            .chars()
            .take(loc.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        out.push_str(&format!(
            "\n{pad}--> {}:{}:{}\n{pad} |\n{} | {}\n{pad} | {indent}{}",
            loc.file,
            loc.line,
            loc.column,
            loc.line,
            loc.line_text,
            "^".repeat(loc.span_len)
        ));
    }
    for (note, loc) in &d.notes {
        match loc {
            Some(loc) => out.push_str(&format!(
                "\n  = note: {note} ({}:{}:{})",
                loc.file, loc.line, loc.column
            )),
            None => out.push_str(&format!("\n  = note: {note}")),
        }
    }
    out.push('\n');
    out
}

/// A spinner on stderr when it is a terminal; silent otherwise.
pub(crate) struct Spinner {
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Spinner {
    pub(crate) fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Self {
            bar: Mutex::new(bar),
        }
    }

    pub(crate) fn set(&self, message: String) {
        match &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(bar) => bar.set_message(message),
            None if message.starts_with("Precompiling") || message.starts_with("Installing") => {
                eprintln!("{message}")
            }
            None => {}
        }
    }

    pub(crate) fn println(&self, message: String) {
        match &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// A table as forge prints its gas and coverage reports: Markdown, each
/// column as wide as `widths` says, a rule under the first (header) row.
pub(crate) fn markdown_table<R: AsRef<[String]>>(
    out: &mut impl std::io::Write,
    rows: &[R],
    widths: &[usize],
) -> std::io::Result<()> {
    for (index, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .as_ref()
            .iter()
            .zip(widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect();
        writeln!(out, "|{}|", cells.join("|"))?;
        if index == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            writeln!(out, "|{}|", rule.join("|"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let content = "contract A {\n    uint x = ;\n}\n";
        let start = content.find(';').unwrap();
        let mut d = Diagnostic::error("Expected primary expression.").with_location(
            "src/A.sol",
            content,
            start,
            start + 1,
        );
        d.code = Some("6933".into());
        let text = diagnostic(&d, Path::new("/p"));
        assert_eq!(
            text,
            "error[6933]: Expected primary expression.\n --> src/A.sol:2:14\n  |\n2 |     uint x = ;\n  |              ^\n"
        );
    }
}
