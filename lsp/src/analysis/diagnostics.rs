//! Diagnostics as the server keeps them (byte ranges in one file), and the
//! conversion from solar's.

use solar::interface::{
    diagnostics::{Diag, Level},
    source_map::SourceMap,
};
use std::{ops::Range, path::PathBuf};

/// Severity of an engine diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// A diagnostic located in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiagnostic {
    pub range: Range<usize>,
    pub severity: Severity,
    pub code: Option<String>,
    pub message: String,
}

pub(super) fn convert_diag(sm: &SourceMap, diag: &Diag) -> Option<(PathBuf, FileDiagnostic)> {
    let severity = match diag.level() {
        Level::Bug | Level::Fatal | Level::Error => Severity::Error,
        Level::Warning => Severity::Warning,
        Level::Note | Level::OnceNote | Level::Help | Level::OnceHelp => Severity::Info,
        _ => return None,
    };
    let span = diag.span.primary_span()?;
    if span.is_dummy() {
        return None;
    }
    let file = sm.lookup_source_file(span.lo());
    let path = file.name.as_real()?.to_path_buf();
    let start = (span.lo().0 - file.start_pos.0) as usize;
    let end = (span.hi().0.saturating_sub(file.start_pos.0)) as usize;
    let mut message = diag.label().into_owned();
    for child in &diag.children {
        let label = child.label();
        // `created at …` notes only locate the emitting code inside solar.
        if !label.is_empty() && !label.starts_with("created at") {
            message.push_str(&format!("\n{}: {}", child.level.to_str(), label));
        }
    }
    Some((
        path,
        FileDiagnostic {
            range: start..end.max(start),
            severity,
            code: diag.id().map(str::to_string),
            message,
        },
    ))
}
