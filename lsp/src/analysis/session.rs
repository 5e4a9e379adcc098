//! One solar session over the roots of a run, with open buffers read
//! in place of the disk: parse, lower, analyse, type-check, then hand the
//! results to extraction and the diagnostics to conversion.

use crate::{index::FileData, project::Workspace};
use solar::{
    interface::{
        Session,
        diagnostics::{DiagCtxt, InMemoryEmitter},
        source_map::{FileLoader, SourceMap},
    },
    sema::{Compiler, hir},
};
use std::{
    collections::{HashMap, HashSet},
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{
    diagnostics::{FileDiagnostic, Severity, convert_diag},
    extract::extract_files,
    false_positives::filter_false_positives,
    returns,
    symbols::file_range,
};

/// Contents of open editor buffers, by absolute path.
pub type Overlays = HashMap<PathBuf, Arc<str>>;

/// Result of one analysis run.
#[derive(Debug, Default)]
pub struct AnalysisOutput {
    /// Files analysed successfully (they parsed), with their index data.
    pub files: Vec<FileData>,
    /// Diagnostics by file, for every file of the run (empty vectors included for roots).
    pub diagnostics: HashMap<PathBuf, Vec<FileDiagnostic>>,
    /// Roots whose text did not parse: their previous index data should be rebased.
    pub unparsed: Vec<PathBuf>,
    /// Import edges seen in this run.
    pub imports: HashMap<PathBuf, Vec<PathBuf>>,
    /// The engine panicked; the message says where.
    pub panic: Option<String>,
}

/// Which files of a run are copied into the index.
#[derive(Debug, Clone)]
pub enum Extract {
    /// Every file of the run (initial workspace index).
    All,
    /// Every file except these (already indexed and unchanged); roots always.
    Except(HashSet<PathBuf>),
}

/// Reads open buffers first, the disk otherwise.
struct OverlayLoader {
    overlays: Overlays,
}

impl FileLoader for OverlayLoader {
    fn canonicalize_path(&self, path: &Path) -> io::Result<PathBuf> {
        if self.overlays.contains_key(path) {
            return Ok(path.to_path_buf());
        }
        solar::interface::canonicalize(path)
    }

    fn load_stdin(&self) -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the language server does not read stdin",
        ))
    }

    fn load_file(&self, path: &Path) -> io::Result<String> {
        match self.overlays.get(path) {
            Some(text) => Ok(text.to_string()),
            None => std::fs::read_to_string(path),
        }
    }

    fn load_binary_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.overlays.get(path) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => std::fs::read(path),
        }
    }
}

/// Analyses `roots` (and everything they import) in one solar session.
///
/// Never panics: an engine panic is caught and reported in
/// [`AnalysisOutput::panic`].
pub fn analyze(
    config: &Workspace,
    overlays: &Overlays,
    roots: &[PathBuf],
    extract: &Extract,
) -> AnalysisOutput {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analyze_inner(config, overlays, roots, extract)
    }));
    match result {
        Ok(out) => out,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            AnalysisOutput {
                panic: Some(format!(
                    "solar panicked while analysing {} file(s) starting with {}: {message}",
                    roots.len(),
                    roots
                        .first()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                )),
                ..Default::default()
            }
        }
    }
}

fn analyze_inner(
    config: &Workspace,
    overlays: &Overlays,
    roots: &[PathBuf],
    extract: &Extract,
) -> AnalysisOutput {
    let source_map = Arc::new(SourceMap::empty());
    source_map.set_file_loader(OverlayLoader {
        overlays: overlays.clone(),
    });
    let (emitter, buffer) = InMemoryEmitter::new();
    let mut opts = solar::config::CompileOpts::default();
    opts.unstable.typeck = true;
    opts.base_path = Some(config.root.clone());
    opts.import_remappings = config
        .remappings
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    opts.threads = 1usize.into();
    let sess = Session::builder()
        .source_map(source_map)
        .dcx(DiagCtxt::new(Box::new(emitter)))
        .opts(opts)
        .build();
    let mut compiler = Compiler::new(sess);

    let mut out = AnalysisOutput::default();
    let root_set: HashSet<&Path> = roots.iter().map(|p| p.as_path()).collect();
    let mut return_mismatches = Vec::new();
    compiler.enter_mut(|c| {
        let mut pcx = c.parse();
        for root in roots {
            match pcx.resolve_file(root) {
                Ok(file) => pcx.add_file(file),
                Err(_) => continue,
            }
        }
        pcx.parse();
        let _ = c.lower_asts();
        let _ = c.analysis();

        let gcx = c.gcx();
        if gcx.has_typeck_results() {
            let is_root = |id: hir::SourceId| {
                gcx.hir
                    .source(id)
                    .file
                    .name
                    .as_real()
                    .is_some_and(|p| root_set.contains(p))
            };
            for mismatch in returns::check_returns(gcx, &is_root) {
                let file = &gcx.hir.source(mismatch.source).file;
                let Some(path) = file.name.as_real() else {
                    continue;
                };
                return_mismatches.push((
                    path.to_path_buf(),
                    FileDiagnostic {
                        range: file_range(file, mismatch.span),
                        severity: Severity::Error,
                        code: None,
                        message: mismatch.message,
                    },
                ));
            }
        }
        // Files that parsed, and import edges.
        let mut parsed = HashSet::new();
        for source in gcx.sources.iter() {
            let Some(path) = source.file.name.as_real() else {
                continue;
            };
            if source.ast.is_some() {
                parsed.insert(path.to_path_buf());
            } else if root_set.contains(path) {
                out.unparsed.push(path.to_path_buf());
            }
            let deps = source
                .imports
                .iter()
                .filter_map(|(_, id)| {
                    gcx.sources
                        .get(*id)?
                        .file
                        .name
                        .as_real()
                        .map(Path::to_path_buf)
                })
                .collect();
            out.imports.insert(path.to_path_buf(), deps);
        }
        if gcx
            .stage()
            .is_some_and(|s| s >= solar::config::CompilerStage::Lowering)
        {
            let wanted = |p: &Path| match extract {
                Extract::All => true,
                Extract::Except(known) => !known.contains(p) || root_set.contains(p),
            };
            out.files = extract_files(gcx, &parsed, &wanted);
        }
    });

    let sm = compiler.sess().source_map();
    for root in roots {
        out.diagnostics.entry(root.clone()).or_default();
    }
    let diags = std::mem::take(&mut *buffer.write());
    let converted = diags.iter().filter_map(|d| convert_diag(sm, d));
    for (path, d) in converted.chain(return_mismatches) {
        let list = out.diagnostics.entry(path).or_default();
        if !list.contains(&d) {
            list.push(d);
        }
    }
    for (path, list) in out.diagnostics.iter_mut() {
        if let Some(file) = sm.get_file(path.as_path()) {
            filter_false_positives(&file.src, list);
        }
    }
    drop(compiler);
    out
}
