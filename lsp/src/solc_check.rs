//! The authoritative check on save: the project's build through
//! `forja-compiler` (solc, one compilation unit per version), its
//! diagnostics split by file for the editor.

use crate::analysis::{FileDiagnostic, Severity};
pub use crate::project::ExtraRemappings;
use forja_compiler::{
    BuildEvent, BuildOptions, Project,
    solc::{SolcEvent, SolcManager},
};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

/// What one solc check produced.
#[derive(Debug, Default)]
pub struct SolcReport {
    /// Diagnostics by absolute file path.
    pub by_file: HashMap<PathBuf, Vec<FileDiagnostic>>,
    /// Diagnostics solc or the build attached to no file (e.g. an
    /// unsatisfiable pragma set); the server shows them on the saved file.
    pub unlocated: Vec<FileDiagnostic>,
    /// Files solc compiled (0 when the build cache had everything).
    pub compiled_files: usize,
}

/// Why the solc check could not run at all (its diagnostics are in a
/// [`SolcReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum SolcCheckError {
    #[error(transparent)]
    Project(#[from] forja_compiler::ProjectError),
    #[error(transparent)]
    Solc(#[from] forja_compiler::solc::SolcError),
    #[error("solc check could not run: {0}")]
    Build(#[from] forja_compiler::BuildError),
}

/// Builds the project containing `saved` (the nearest `forja.toml` or
/// `foundry.toml` above it) and collects its diagnostics. `Err` when the
/// build could not run at all (no project file, no solc): the error says why.
/// `tell` receives what the user should know while it runs (the one-time
/// solc precompile).
pub fn check(
    saved: &Path,
    extra: Option<&ExtraRemappings>,
    tell: &dyn Fn(String),
) -> Result<SolcReport, SolcCheckError> {
    let project = Project::discover(saved)?;
    let manager = SolcManager::from_env()?;
    let options = BuildOptions {
        extra_remappings: extra.map(|f| f(&project)).unwrap_or_default(),
        // Force: an up-to-date cache would otherwise report nothing, hiding
        // warnings the editor had shown before.
        force: true,
        // For the gas inlay hints on function declarations.
        gas_estimates: true,
        ..Default::default()
    };
    let events = |event: BuildEvent| match event {
        BuildEvent::Solc(SolcEvent::Precompiling { version }) => tell(format!(
            "Precompiling solc {version} for this machine: once per solc version, \
             20 to 45 s on a 2-core machine, less with more cores; \
             solc's diagnostics follow when it is done"
        )),
        BuildEvent::Solc(SolcEvent::Precompiled { version, elapsed }) => tell(format!(
            "solc {version} precompiled in {:.1} s; later checks start at once",
            elapsed.as_secs_f64()
        )),
        _ => {}
    };
    let output = forja_compiler::build(&project, &options, &manager, &events)?;
    let mut report = SolcReport {
        compiled_files: output.compiled.iter().map(|u| u.files).sum(),
        ..Default::default()
    };
    for diagnostic in output.diagnostics {
        let severity = match diagnostic.severity {
            forja_compiler::Severity::Error => Severity::Error,
            forja_compiler::Severity::Warning => Severity::Warning,
            forja_compiler::Severity::Info => Severity::Info,
        };
        let mut message = diagnostic.message.clone();
        for (note, _) in &diagnostic.notes {
            message.push_str("\nnote: ");
            message.push_str(note);
        }
        let converted = |range| FileDiagnostic {
            range,
            severity,
            code: diagnostic.code.clone(),
            message: message.clone(),
        };
        match &diagnostic.location {
            Some(location) => {
                let path = project.root.join(&location.file);
                let path = path.canonicalize().unwrap_or(path);
                let list = report.by_file.entry(path).or_default();
                let d = converted(location.start..location.end.max(location.start));
                if !list.contains(&d) {
                    list.push(d);
                }
            }
            None => report.unlocated.push(converted(0..0)),
        }
    }
    Ok(report)
}

/// Merges the fast engine's diagnostics into solc's: solc is the authority,
/// so a fast-engine diagnostic is dropped when solc reports one of the same
/// severity on an overlapping range (the same problem in other words).
pub fn merge_diagnostics(
    solc: &[FileDiagnostic],
    fast: &[FileDiagnostic],
) -> Vec<(FileDiagnostic, &'static str)> {
    let overlaps = |a: &FileDiagnostic, b: &FileDiagnostic| {
        a.severity == b.severity && a.range.start <= b.range.end && b.range.start <= a.range.end
    };
    let mut out: Vec<(FileDiagnostic, &'static str)> =
        solc.iter().map(|d| (d.clone(), "solc")).collect();
    out.extend(
        fast.iter()
            .filter(|f| !solc.iter().any(|s| overlaps(s, f)))
            .map(|d| (d.clone(), "forja")),
    );
    out.sort_by_key(|(d, _)| (d.range.start, d.range.end));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(range: std::ops::Range<usize>, severity: Severity, message: &str) -> FileDiagnostic {
        FileDiagnostic {
            range,
            severity,
            code: None,
            message: message.into(),
        }
    }

    #[test]
    fn solc_wins_over_an_overlapping_fast_diagnostic_of_the_same_severity() {
        let solc = [diag(10..20, Severity::Error, "solc: type mismatch")];
        let fast = [
            diag(12..18, Severity::Error, "solar: mismatched types"),
            diag(12..18, Severity::Warning, "unused variable"),
            diag(40..45, Severity::Error, "another problem"),
        ];
        let merged = merge_diagnostics(&solc, &fast);
        let seen: Vec<(&str, &str)> = merged
            .iter()
            .map(|(d, s)| (d.message.as_str(), *s))
            .collect();
        assert_eq!(
            seen,
            [
                ("solc: type mismatch", "solc"),
                ("unused variable", "forja"),
                ("another problem", "forja"),
            ]
        );
    }
}
