//! The server's state: open documents, the index, and the diagnostics of
//! both engines, merged into what the editor is shown.

use super::convert::to_lsp_diagnostic;
use crate::{
    analysis::{AnalysisOutput, FileDiagnostic, Severity},
    gas_hints::GasEstimates,
    index::Index,
    line_index::LineIndex,
    project::{ExtraRemappings, Workspace},
    solc_check,
};
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};
use tower_lsp::lsp_types::*;

/// An open document.
#[derive(Debug, Clone)]
pub(super) struct Document {
    pub(super) text: Arc<str>,
    pub(super) line_index: Arc<LineIndex>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) config: Option<Workspace>,
    pub(super) docs: HashMap<PathBuf, Document>,
    pub(super) index: Index,
    /// Files with an analysis scheduled or running.
    pub(super) analysing: HashSet<PathBuf>,
    /// Files edited while their analysis ran: it runs once more.
    pub(super) edited_while_analysing: HashSet<PathBuf>,
    /// Files whose diagnostics were published (to clear them later).
    pub(super) published: HashSet<PathBuf>,
    /// The fast engine's latest diagnostics per file.
    pub(super) fast_diagnostics: HashMap<PathBuf, Vec<FileDiagnostic>>,
    /// solc's diagnostics from the last check on save, for files unchanged since.
    pub(super) solc_diagnostics: HashMap<PathBuf, Vec<FileDiagnostic>>,
    /// Save counter: a solc check started for an older save is skipped.
    pub(super) save_generation: u64,
    /// Remappings the front end adds to solc builds and to the fast engine.
    pub(super) extra_remappings: Option<ExtraRemappings>,
    /// The client accepts `documentChanges` in workspace edits (ordered, unlike `changes`).
    pub(super) document_changes: bool,
    /// An optional delay before analysing an edit (`debounceMs`, default 0).
    pub(super) debounce: Duration,
    /// Path of the `forja` executable used by the "Run test" lens.
    pub(super) forja_exe: Option<PathBuf>,
    /// solc's gas estimates from the artifacts, for the gas inlay hints.
    pub(super) gas: GasEstimates,
}

pub(super) fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// One `publishDiagnostics`: the document, its diagnostics, its version.
pub(super) type Publish = (Url, Vec<Diagnostic>, Option<i32>);

/// Merges an analysis into the index; returns the diagnostics to publish.
pub(super) fn merge(
    state: &Mutex<State>,
    output: AnalysisOutput,
    roots: &[PathBuf],
) -> Vec<Publish> {
    let mut st = lock(state);
    let is_dep = |st: &State, p: &Path| st.config.as_ref().is_some_and(|c| c.is_dependency(p));
    for file in output.files {
        // An open buffer changed since this run started: keep the newer data.
        if let Some(doc) = st.docs.get(&file.path)
            && *doc.text != *file.text
        {
            continue;
        }
        st.index.files.insert(file.path.clone(), Arc::new(file));
    }
    for path in &output.unparsed {
        let Some(doc) = st.docs.get(path).cloned() else {
            continue;
        };
        if let Some(old) = st.index.files.get(path).cloned()
            && *old.text != *doc.text
        {
            st.index
                .files
                .insert(path.clone(), Arc::new(old.rebase(doc.text.clone())));
        }
    }
    for (path, deps) in output.imports {
        st.index.imports.insert(path, deps);
    }
    let mut publish = Vec::new();
    for (path, diags) in output.diagnostics {
        let wanted = roots.contains(&path) || st.docs.contains_key(&path);
        if !wanted || (is_dep(&st, &path) && !st.docs.contains_key(&path)) {
            continue;
        }
        st.fast_diagnostics.insert(path.clone(), diags);
        publish.extend(composed_diagnostics(&mut st, &path));
    }
    publish
}

/// The diagnostics to publish for `path`: solc's from the last save merged
/// with the fast engine's, or `None` when there is nothing to say or clear.
pub(super) fn composed_diagnostics(st: &mut State, path: &Path) -> Option<Publish> {
    let text: Arc<str> = match st.docs.get(path) {
        Some(d) => d.text.clone(),
        None => Arc::from(std::fs::read_to_string(path).ok()?),
    };
    let line_index = LineIndex::new(&text);
    let empty = Vec::new();
    let merged = solc_check::merge_diagnostics(
        st.solc_diagnostics.get(path).unwrap_or(&empty),
        st.fast_diagnostics.get(path).unwrap_or(&empty),
    );
    let lsp_diags: Vec<Diagnostic> = merged
        .iter()
        .map(|(d, source)| to_lsp_diagnostic(&text, &line_index, d, source))
        .collect();
    if lsp_diags.is_empty() && !st.published.contains(path) && !st.docs.contains_key(path) {
        return None;
    }
    st.published.insert(path.to_path_buf());
    Some((Url::from_file_path(path).ok()?, lsp_diags, None))
}

/// Stores a solc report (replacing the previous one) and returns what to
/// publish plus a one-line summary for the log.
pub(super) fn apply_solc_report(
    state: &Mutex<State>,
    saved: &Path,
    report: solc_check::SolcReport,
) -> (Vec<Publish>, String) {
    let mut st = lock(state);
    // solc reports canonical paths; the editor's may differ (symlinks).
    let editor_path: HashMap<PathBuf, PathBuf> = st
        .docs
        .keys()
        .chain(st.index.files.keys())
        .filter_map(|p| Some((p.canonicalize().ok()?, p.clone())))
        .collect();
    let (mut errors, mut warnings) = (0, 0);
    let mut fresh: HashMap<PathBuf, Vec<FileDiagnostic>> = HashMap::new();
    for (path, diags) in report.by_file {
        let path = editor_path.get(&path).cloned().unwrap_or(path);
        let open = st.docs.get(&path);
        let is_dep = st.config.as_ref().is_some_and(|c| c.is_dependency(&path));
        if is_dep && open.is_none() {
            continue; // dependencies' warnings are not the user's to fix
        }
        // Edited again since the save: solc's ranges would be wrong.
        if let Some(doc) = open
            && std::fs::read_to_string(&path).is_ok_and(|disk| *disk != *doc.text)
        {
            continue;
        }
        errors += diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        warnings += diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        fresh.insert(path, diags);
    }
    if !report.unlocated.is_empty() {
        errors += report.unlocated.len();
        fresh
            .entry(saved.to_path_buf())
            .or_default()
            .extend(report.unlocated);
    }
    let mut touched: Vec<PathBuf> = st.solc_diagnostics.keys().cloned().collect();
    touched.extend(fresh.keys().cloned());
    touched.sort();
    touched.dedup();
    st.solc_diagnostics = fresh;
    let publish = touched
        .iter()
        .filter_map(|p| composed_diagnostics(&mut st, p))
        .collect();
    let summary = format!(
        "{errors} errors, {warnings} warnings ({} files compiled)",
        report.compiled_files
    );
    (publish, summary)
}
