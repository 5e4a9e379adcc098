//! Running solar over a set of files (with unsaved buffers) and copying the
//! results into the owned [`crate::index`] structures.

use crate::{
    index::{
        CallSite, FileData, ImportPath, MemberItem, Reference, Symbol, SymbolKey, SymbolKind,
        Target, TypedExpr,
    },
    line_index::LineIndex,
    project::Workspace,
};
use solar::{
    ast,
    interface::{
        Session, Span,
        diagnostics::{Diag, DiagCtxt, InMemoryEmitter, Level},
        source_map::{FileLoader, SourceFile, SourceMap},
    },
    sema::{
        Compiler, Gcx,
        hir::{self, Visit},
        ty::{ResolvedMember, TyKind},
    },
};
mod returns;

use std::{
    collections::{HashMap, HashSet},
    io,
    ops::{ControlFlow, Range},
    path::{Path, PathBuf},
    sync::Arc,
};

/// Contents of open editor buffers, by absolute path.
pub type Overlays = HashMap<PathBuf, Arc<str>>;

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
            crate::filter::filter_false_positives(&file.src, list);
        }
    }
    drop(compiler);
    out
}

fn convert_diag(sm: &SourceMap, diag: &Diag) -> Option<(PathBuf, FileDiagnostic)> {
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

/// Copies the HIR of every wanted, parsed file into owned data.
fn extract_files(
    gcx: Gcx<'_>,
    parsed: &HashSet<PathBuf>,
    wanted: &dyn Fn(&Path) -> bool,
) -> Vec<FileData> {
    let mut by_source: HashMap<hir::SourceId, FileData> = HashMap::new();
    let mut extractor = Extractor {
        gcx,
        files: &mut by_source,
        member_cache: HashMap::new(),
    };
    for (id, source) in gcx.hir.sources_enumerated() {
        let Some(path) = source.file.name.as_real() else {
            continue;
        };
        if !parsed.contains(path) || !wanted(path) {
            continue;
        }
        extractor.files.insert(
            id,
            FileData {
                path: path.to_path_buf(),
                text: Arc::from(source.file.src.as_str()),
                line_index: LineIndex::new(&source.file.src),
                ..Default::default()
            },
        );
    }
    let ids: Vec<_> = extractor.files.keys().copied().collect();
    for id in ids {
        extractor.extract_source(id);
    }
    let mut files: Vec<FileData> = by_source.into_values().collect();
    for f in &mut files {
        f.symbols.sort_by_key(|s| s.name_range.start);
        f.symbols.dedup_by_key(|s| s.name_range.start);
        f.references.sort_by_key(|r| (r.range.start, r.range.end));
        f.references
            .dedup_by(|a, b| a.range == b.range && a.target == b.target);
        f.calls.sort_by_key(|c| c.range.start);
        f.typed_exprs.sort_by_key(|e| e.range.start);
    }
    files
}

struct Extractor<'a, 'gcx> {
    gcx: Gcx<'gcx>,
    files: &'a mut HashMap<hir::SourceId, FileData>,
    /// (type, source, contract) -> member list index, per file.
    member_cache: HashMap<(hir::SourceId, String, Option<hir::ContractId>), u32>,
}

fn file_range(file: &SourceFile, span: Span) -> Range<usize> {
    let start = span.lo().0.saturating_sub(file.start_pos.0) as usize;
    let end = span.hi().0.saturating_sub(file.start_pos.0) as usize;
    start..end.max(start)
}

/// Collapses whitespace runs to single spaces.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The declaration header: text up to the body's `{` or the closing `;`.
fn header(text: &str) -> &str {
    let mut depth = 0i32;
    for (i, ch) in text.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '{' if depth == 0 => return text[..i].trim_end(),
            ';' if depth == 0 => return &text[..i],
            _ => {}
        }
    }
    text
}

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

impl<'gcx> Extractor<'_, 'gcx> {
    fn file_of(&self, source: hir::SourceId) -> &'gcx Arc<SourceFile> {
        &self.gcx.hir.source(source).file
    }

    fn key_of(&self, id: hir::ItemId) -> Option<SymbolKey> {
        // A public state variable's getter is the variable itself for the editor.
        if let hir::ItemId::Function(f) = id
            && let Some(var) = self.gcx.hir.function(f).gettee
        {
            return self.key_of(var.into());
        }
        let item = self.gcx.hir.item(id);
        let file = self.file_of(item.source());
        let path = file.name.as_real()?;
        let span = self.name_span(id)?;
        Some(SymbolKey {
            path: Arc::from(path),
            offset: file_range(file, span).start as u32,
        })
    }

    fn name_span(&self, id: hir::ItemId) -> Option<Span> {
        let item = self.gcx.hir.item(id);
        if let Some(name) = item.name() {
            return Some(name.span);
        }
        match id {
            hir::ItemId::Function(f) => Some(self.gcx.hir.function(f).keyword_span()),
            _ => None,
        }
    }

    fn extract_source(&mut self, id: hir::SourceId) {
        let gcx = self.gcx;
        let source = gcx.hir.source(id);
        for &item in source.items {
            self.extract_item(id, item, None);
        }
        let mut visitor = RefVisitor {
            ex: self,
            source: id,
            contract: None,
        };
        let _ = visitor.visit_nested_source(id);
        for using in source.usings {
            self.using_refs(id, using);
        }
        self.import_refs(id);
    }

    fn push_symbol(&mut self, source: hir::SourceId, symbol: Symbol) {
        let file = self
            .files
            .get_mut(&source)
            .expect("extracting a known file");
        file.references.push(Reference {
            range: symbol.name_range.clone(),
            target: Target::Symbol(symbol.key.clone()),
        });
        file.symbols.push(symbol);
    }

    fn push_ref(&mut self, source: hir::SourceId, range: Range<usize>, target: Target) {
        if range.is_empty() {
            return;
        }
        // References name exactly one identifier (spans of synthesized items such
        // as public getters cover whole declarations).
        let text = self.text(source);
        if !text.get(range.clone()).is_some_and(|t| {
            t.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        }) {
            return;
        }
        if let Some(file) = self.files.get_mut(&source) {
            file.references.push(Reference { range, target });
        }
    }

    fn text(&self, source: hir::SourceId) -> &'gcx str {
        self.file_of(source).src.as_str()
    }

    fn make_symbol(
        &mut self,
        source: hir::SourceId,
        id: hir::ItemId,
        kind: SymbolKind,
        container: Option<hir::ContractId>,
        scope: Range<usize>,
    ) -> Option<Symbol> {
        let gcx = self.gcx;
        let file = self.file_of(source);
        let text = file.src.as_str();
        let key = self.key_of(id)?;
        let name_span = self.name_span(id)?;
        let name_range = file_range(file, name_span);
        let full_range = file_range(file, gcx.item_span(id));
        let decl = text.get(full_range.clone()).unwrap_or("");
        let signature = match id {
            hir::ItemId::Variable(_) => {
                // Cut the initializer, not a mapping's `=>`.
                let bytes = decl.as_bytes();
                let cut = (0..bytes.len()).find(|&i| {
                    bytes[i] == b'='
                        && bytes.get(i + 1) != Some(&b'>')
                        && bytes.get(i + 1) != Some(&b'=')
                        && (i == 0 || !b"=!<>".contains(&bytes[i - 1]))
                });
                let d = cut.map_or(decl, |i| &decl[..i]);
                collapse(d.trim_end_matches(';'))
            }
            hir::ItemId::Struct(_) | hir::ItemId::Enum(_) => collapse(decl),
            _ => collapse(header(decl)),
        };
        let name = text.get(name_range.clone()).unwrap_or("").to_string();
        let name = if name.is_empty() {
            kind.describe().to_string()
        } else {
            name
        };
        let (params, param_labels) = match gcx.hir.item(id).parameters() {
            Some(ps) => ps
                .iter()
                .map(|&p| {
                    let v = gcx.hir.variable(p);
                    let label = text
                        .get(file_range(file, v.span))
                        .map(collapse)
                        .unwrap_or_default();
                    (
                        v.name.map(|n| n.name.to_string()).unwrap_or_default(),
                        label,
                    )
                })
                .unzip(),
            None => (Vec::new(), Vec::new()),
        };
        let (ty, type_target, members) = match id {
            hir::ItemId::Variable(v) => {
                let var = gcx.hir.variable(v);
                let ty = gcx.type_of_item(id);
                let members = self.members_for(source, ty, container);
                (
                    Some(ty.display(gcx).to_string()),
                    self.type_target(&var.ty),
                    members,
                )
            }
            hir::ItemId::Contract(_) | hir::ItemId::Enum(_) => {
                let ty = gcx.type_of_item(id);
                let members = self.members_for(source, gcx.mk_ty(TyKind::Type(ty)), container);
                (None, None, members)
            }
            _ => (None, None, None),
        };
        let (is_virtual, is_override) = match id {
            hir::ItemId::Function(f) => {
                let f = gcx.hir.function(f);
                (f.marked_virtual, f.override_)
            }
            hir::ItemId::Variable(v) => (false, gcx.hir.variable(v).override_),
            _ => (false, false),
        };
        Some(Symbol {
            key,
            name,
            kind,
            doc: doc_above(text, full_range.start),
            name_range,
            full_range,
            signature,
            ty,
            container: container.and_then(|c| self.key_of(c.into())),
            container_name: container.map(|c| gcx.item_name(c).to_string()),
            scope,
            params,
            param_labels,
            supers: Vec::new(),
            type_target,
            members,
            is_virtual,
            is_override,
        })
    }

    fn type_target(&self, ty: &hir::Type<'_>) -> Option<SymbolKey> {
        match &ty.kind {
            hir::TypeKind::Custom(item) => self.key_of(*item),
            hir::TypeKind::Array(a) => self.type_target(&a.element),
            hir::TypeKind::Mapping(m) => self.type_target(&m.value),
            _ => None,
        }
    }

    /// Member list of values of type `ty`, cached per file.
    fn members_for(
        &mut self,
        source: hir::SourceId,
        ty: solar::sema::Ty<'gcx>,
        contract: Option<hir::ContractId>,
    ) -> Option<u32> {
        let gcx = self.gcx;
        if matches!(ty.kind, TyKind::Err(_)) {
            return None;
        }
        let cache_key = (source, format!("{:?}", ty.kind), contract);
        if let Some(&i) = self.member_cache.get(&cache_key) {
            return Some(i);
        }
        let mut items: Vec<MemberItem> = gcx
            .members_of(ty, source, contract)
            .map(|m| {
                let kind = match m.res {
                    Some(hir::Res::Item(item)) => Some(item_kind(gcx, item)),
                    _ => None,
                };
                MemberItem {
                    name: m.name.to_string(),
                    detail: m.ty.display(gcx).to_string(),
                    kind,
                    callable: matches!(m.ty.kind, TyKind::Fn(_)),
                }
            })
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name).then(a.detail.cmp(&b.detail)));
        items.dedup_by(|a, b| a.name == b.name && a.detail == b.detail);
        let file = self.files.get_mut(&source)?;
        let index = file.member_lists.len() as u32;
        file.member_lists.push(items);
        self.member_cache.insert(cache_key, index);
        Some(index)
    }

    fn extract_item(
        &mut self,
        source: hir::SourceId,
        id: hir::ItemId,
        container: Option<hir::ContractId>,
    ) {
        let gcx = self.gcx;
        let file = self.file_of(source);
        let whole_file = 0..file.src.len();
        let kind = item_kind(gcx, id);
        match id {
            hir::ItemId::Contract(c) => {
                let contract = gcx.hir.contract(c);
                if let Some(mut sym) = self.make_symbol(source, id, kind, None, whole_file.clone())
                {
                    sym.supers = contract
                        .bases
                        .iter()
                        .filter_map(|b| self.key_of((*b).into()))
                        .collect();
                    let header_range = sym.name_range.end..sym.full_range.end;
                    self.push_symbol(source, sym);
                    self.base_refs(source, header_range, contract.bases);
                }
                for &item in contract.items {
                    self.extract_item(source, item, Some(c));
                }
            }
            hir::ItemId::Function(f) => {
                let func = gcx.hir.function(f);
                if func.gettee.is_some() {
                    return;
                }
                if let Some(mut sym) = self.make_symbol(source, id, kind, container, whole_file) {
                    sym.supers = self.overridden(f);
                    self.push_symbol(source, sym);
                }
                let scope = file_range(file, func.span);
                for &p in func.parameters.iter().chain(func.returns) {
                    let k = if func.returns.contains(&p) {
                        SymbolKind::ReturnParameter
                    } else {
                        SymbolKind::Parameter
                    };
                    if let Some(sym) =
                        self.make_symbol(source, p.into(), k, container, scope.clone())
                    {
                        self.push_symbol(source, sym);
                    }
                }
            }
            hir::ItemId::Struct(s) => {
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file.clone())
                {
                    self.push_symbol(source, sym);
                }
                for &field in gcx.hir.strukt(s).fields {
                    if let Some(sym) = self.make_symbol(
                        source,
                        field.into(),
                        SymbolKind::Field,
                        container,
                        whole_file.clone(),
                    ) {
                        self.push_symbol(source, sym);
                    }
                }
            }
            hir::ItemId::Enum(e) => {
                let enumm = gcx.hir.enumm(e);
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file.clone())
                {
                    let enum_key = sym.key.clone();
                    self.push_symbol(source, sym);
                    for variant in enumm.variants {
                        let range = file_range(file, variant.span);
                        let key = SymbolKey {
                            path: enum_key.path.clone(),
                            offset: range.start as u32,
                        };
                        let sym = Symbol {
                            key,
                            name: variant.name.to_string(),
                            kind: SymbolKind::EnumVariant,
                            name_range: range.clone(),
                            full_range: range,
                            signature: format!("{}.{}", enumm.name, variant.name),
                            ty: Some(format!("enum {}", enumm.name)),
                            doc: None,
                            container: Some(enum_key.clone()),
                            container_name: Some(enumm.name.to_string()),
                            scope: whole_file.clone(),
                            params: Vec::new(),
                            param_labels: Vec::new(),
                            supers: Vec::new(),
                            type_target: None,
                            members: None,
                            is_virtual: false,
                            is_override: false,
                        };
                        self.push_symbol(source, sym);
                    }
                }
            }
            hir::ItemId::Event(_) | hir::ItemId::Error(_) | hir::ItemId::Udvt(_) => {
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file) {
                    self.push_symbol(source, sym);
                }
                if let Some(params) = gcx.hir.item(id).parameters() {
                    for &p in params {
                        if let Some(sym) = self.make_symbol(
                            source,
                            p.into(),
                            SymbolKind::Parameter,
                            container,
                            file_range(file, gcx.item_span(id)),
                        ) {
                            self.push_symbol(source, sym);
                        }
                    }
                }
            }
            hir::ItemId::Variable(_) => {
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file) {
                    self.push_symbol(source, sym);
                }
            }
        }
    }

    /// Functions in base contracts that `f` overrides (same name and parameter types).
    fn overridden(&self, f: hir::FunctionId) -> Vec<SymbolKey> {
        let gcx = self.gcx;
        let func = gcx.hir.function(f);
        let (Some(name), Some(contract)) = (func.name, func.contract) else {
            return Vec::new();
        };
        if !func.override_ {
            return Vec::new();
        }
        let param_tys: Vec<String> = func
            .parameters
            .iter()
            .map(|&p| gcx.type_of_item(p.into()).display(gcx).to_string())
            .collect();
        let bases = gcx.hir.contract(contract).linearized_bases;
        let mut out = Vec::new();
        for &base in bases.iter().skip(1) {
            for other in gcx.hir.contract(base).functions() {
                let of = gcx.hir.function(other);
                if of.name.map(|n| n.name) != Some(name.name)
                    || of.parameters.len() != param_tys.len()
                {
                    continue;
                }
                let same = of
                    .parameters
                    .iter()
                    .zip(&param_tys)
                    .all(|(&p, t)| gcx.type_of_item(p.into()).display(gcx).to_string() == *t);
                if same && let Some(k) = self.key_of(other.into()) {
                    out.push(k);
                }
            }
        }
        out
    }

    /// `contract A is B, C(1)`: base names have no spans in HIR; find them in the header text.
    fn base_refs(
        &mut self,
        source: hir::SourceId,
        header: Range<usize>,
        bases: &[hir::ContractId],
    ) {
        let text = self.text(source);
        let Some(header_text) = text.get(header.clone()) else {
            return;
        };
        let header_text = header_text.split('{').next().unwrap_or("");
        for &base in bases {
            let name = self.gcx.item_name(base).to_string();
            let Some(key) = self.key_of(base.into()) else {
                continue;
            };
            for (i, _) in header_text.match_indices(&name) {
                let before = header_text[..i].chars().next_back();
                let after = header_text[i + name.len()..].chars().next();
                let is_ident = |c: Option<char>| {
                    c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
                };
                if !is_ident(before) && !is_ident(after) {
                    let start = header.start + i;
                    self.push_ref(
                        source,
                        start..start + name.len(),
                        Target::Symbol(key.clone()),
                    );
                }
            }
        }
    }

    fn using_refs(&mut self, source: hir::SourceId, using: &hir::UsingDirective<'_>) {
        let file = self.file_of(source);
        for entry in using.entries {
            let range = file_range(file, entry.span);
            let text = self.text(source).get(range.clone()).unwrap_or("");
            match entry.kind {
                hir::UsingEntryKind::Library(lib) => {
                    if let Some(key) = self.key_of(lib.into()) {
                        let range = last_segment(text, range);
                        self.push_ref(source, range, Target::Symbol(key));
                    }
                }
                hir::UsingEntryKind::Functions(fs) => {
                    if let Some(&f) = fs.first()
                        && let Some(key) = self.key_of(f.into())
                    {
                        let name_part = text.split(" as ").next().unwrap_or(text).trim_end();
                        let range =
                            last_segment(name_part, range.start..range.start + name_part.len());
                        self.push_ref(source, range, Target::Symbol(key));
                    }
                }
                hir::UsingEntryKind::Err(_) => {}
            }
        }
        if let Some(ty) = &using.ty {
            self.type_ref(source, ty);
        }
    }

    fn type_ref(&mut self, source: hir::SourceId, ty: &hir::Type<'_>) {
        if let hir::TypeKind::Custom(item) = ty.kind
            && let Some(key) = self.key_of(item)
        {
            let file = self.file_of(source);
            let range = file_range(file, ty.span);
            let text = self.text(source).get(range.clone()).unwrap_or("");
            self.push_ref(source, last_segment(text, range), Target::Symbol(key));
        }
    }

    /// `import {A as B} from "x.sol";`: names and the path literal.
    fn import_refs(&mut self, id: hir::SourceId) {
        let gcx = self.gcx;
        let Some(ast_source) = gcx.sources.get(id) else {
            return;
        };
        let Some(unit) = &ast_source.ast else { return };
        let file = &ast_source.file;
        for (item_id, item) in unit.items.iter_enumerated() {
            let ast::ItemKind::Import(import) = &item.kind else {
                continue;
            };
            let Some(&(_, imported)) = ast_source.imports.iter().find(|(i, _)| *i == item_id)
            else {
                continue;
            };
            let imported_file = &gcx.hir.source(imported).file;
            if let Some(path) = imported_file.name.as_real() {
                let lit = file_range(file, import.path.span);
                let inner = lit.start + 1..lit.end.saturating_sub(1).max(lit.start + 1);
                if let Some(f) = self.files.get_mut(&id) {
                    f.imports.push(ImportPath {
                        range: inner,
                        resolved: path.to_path_buf(),
                    });
                }
            }
            if let ast::ImportItems::Aliases(aliases) = &import.items {
                for (original, alias) in aliases.iter() {
                    let target = gcx
                        .hir
                        .source(imported)
                        .items
                        .iter()
                        .copied()
                        .find(|&it| {
                            gcx.hir
                                .item(it)
                                .name()
                                .is_some_and(|n| n.name == original.name)
                        })
                        .or_else(|| {
                            // Re-exported through the imported file's own imports.
                            exported_by_name(gcx, imported, original.name, 0)
                        });
                    if let Some(target) = target
                        && let Some(key) = self.key_of(target)
                    {
                        self.push_ref(
                            id,
                            file_range(file, original.span),
                            Target::Symbol(key.clone()),
                        );
                        if let Some(alias) = alias {
                            self.push_ref(id, file_range(file, alias.span), Target::Symbol(key));
                        }
                    }
                }
            }
        }
    }
}

/// Finds a top-level item named `name` visible in `source` through its imports.
fn exported_by_name(
    gcx: Gcx<'_>,
    source: hir::SourceId,
    name: solar::interface::Symbol,
    depth: usize,
) -> Option<hir::ItemId> {
    if depth > 8 {
        return None;
    }
    for &(_, imported) in gcx.hir.source(source).imports {
        if let Some(it) = gcx
            .hir
            .source(imported)
            .items
            .iter()
            .copied()
            .find(|&it| gcx.hir.item(it).name().is_some_and(|n| n.name == name))
        {
            return Some(it);
        }
        if let Some(it) = exported_by_name(gcx, imported, name, depth + 1) {
            return Some(it);
        }
    }
    None
}

/// For a path like `Lib.Struct`, the range of `Struct`.
fn last_segment(text: &str, range: Range<usize>) -> Range<usize> {
    let ident_end = text
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$' || *c == '.'))
        .map_or(text.len(), |(i, _)| i);
    let path = &text[..ident_end];
    let start = path.rfind('.').map_or(0, |i| i + 1);
    range.start + start..range.start + ident_end
}

fn item_kind(gcx: Gcx<'_>, id: hir::ItemId) -> SymbolKind {
    match id {
        hir::ItemId::Contract(c) => match gcx.hir.contract(c).kind {
            ast::ContractKind::Contract => SymbolKind::Contract,
            ast::ContractKind::AbstractContract => SymbolKind::AbstractContract,
            ast::ContractKind::Interface => SymbolKind::Interface,
            ast::ContractKind::Library => SymbolKind::Library,
        },
        hir::ItemId::Function(f) => match gcx.hir.function(f).kind {
            ast::FunctionKind::Constructor => SymbolKind::Constructor,
            ast::FunctionKind::Function => SymbolKind::Function,
            ast::FunctionKind::Fallback => SymbolKind::Fallback,
            ast::FunctionKind::Receive => SymbolKind::Receive,
            ast::FunctionKind::Modifier => SymbolKind::Modifier,
        },
        hir::ItemId::Variable(v) => {
            let var = gcx.hir.variable(v);
            match var.kind {
                hir::VarKind::Global => SymbolKind::FileVariable,
                hir::VarKind::State if var.is_constant() => SymbolKind::Constant,
                hir::VarKind::State => SymbolKind::StateVariable,
                hir::VarKind::Struct => SymbolKind::Field,
                hir::VarKind::FunctionReturn | hir::VarKind::FunctionTyReturn => {
                    SymbolKind::ReturnParameter
                }
                hir::VarKind::Statement | hir::VarKind::TryCatch => SymbolKind::Local,
                _ => SymbolKind::Parameter,
            }
        }
        hir::ItemId::Struct(_) => SymbolKind::Struct,
        hir::ItemId::Enum(_) => SymbolKind::Enum,
        hir::ItemId::Udvt(_) => SymbolKind::Udvt,
        hir::ItemId::Error(_) => SymbolKind::Error,
        hir::ItemId::Event(_) => SymbolKind::Event,
    }
}

/// Walks bodies and records every name occurrence.
struct RefVisitor<'x, 'a, 'gcx> {
    ex: &'x mut Extractor<'a, 'gcx>,
    source: hir::SourceId,
    contract: Option<hir::ContractId>,
}

impl<'gcx> RefVisitor<'_, '_, 'gcx> {
    fn range(&self, span: Span) -> Range<usize> {
        file_range(self.ex.file_of(self.source), span)
    }

    /// `expr` is the expression naming `res`; builtins take their type from it
    /// (`Builtin::ty` is unreachable!() for some builtins in solar 0.2.0).
    fn res_target(&self, res: hir::Res, expr: hir::ExprId) -> Option<Target> {
        let gcx = self.ex.gcx;
        match res {
            hir::Res::Item(item) => self.ex.key_of(item).map(Target::Symbol),
            hir::Res::Builtin(b) => Some(Target::Builtin {
                name: b.name().to_string(),
                ty: gcx
                    .type_of_expr(expr)
                    .map(|t| t.display(gcx).to_string())
                    .unwrap_or_default(),
            }),
            _ => None,
        }
    }

    fn record_typed(&mut self, expr: &hir::Expr<'_>) {
        let gcx = self.ex.gcx;
        if let Some(ty) = gcx.type_of_expr(expr.id)
            && let Some(members) = self.ex.members_for(self.source, ty, self.contract)
        {
            let range = self.range(expr.span);
            if let Some(f) = self.ex.files.get_mut(&self.source) {
                f.typed_exprs.push(TypedExpr { range, members });
            }
        }
    }
}

impl<'gcx> Visit<'gcx> for RefVisitor<'_, '_, 'gcx> {
    type BreakValue = std::convert::Infallible;

    fn hir(&self) -> &'gcx hir::Hir<'gcx> {
        &self.ex.gcx.hir
    }

    fn visit_contract(
        &mut self,
        contract: &'gcx hir::Contract<'gcx>,
    ) -> ControlFlow<Self::BreakValue> {
        let prev = self.contract;
        self.contract = self
            .ex
            .gcx
            .hir
            .contract_ids()
            .find(|&c| std::ptr::eq(self.ex.gcx.hir.contract(c), contract));
        for using in contract.usings {
            self.ex.using_refs(self.source, using);
        }
        for base in contract.bases_args {
            self.visit_modifier(base)?;
        }
        for &item in contract.items {
            self.visit_nested_item(item)?;
        }
        self.contract = prev;
        ControlFlow::Continue(())
    }

    fn visit_function(&mut self, func: &'gcx hir::Function<'gcx>) -> ControlFlow<Self::BreakValue> {
        let gcx = self.ex.gcx;
        let scope = self.range(func.span);
        // Locals declared in the body are symbols scoped to the function.
        if let Some(body) = &func.body {
            let mut locals = LocalCollector {
                hir: &gcx.hir,
                vars: Vec::new(),
            };
            for stmt in body.stmts {
                let _ = locals.visit_stmt(stmt);
            }
            for v in locals.vars {
                if let Some(sym) = self.ex.make_symbol(
                    self.source,
                    v.into(),
                    SymbolKind::Local,
                    self.contract,
                    scope.clone(),
                ) {
                    self.ex.push_symbol(self.source, sym);
                }
            }
        }
        for &p in func.parameters.iter().chain(func.returns) {
            self.visit_ty(&gcx.hir.variable(p).ty)?;
        }
        for modifier in func.modifiers {
            self.visit_modifier(modifier)?;
        }
        if let Some(body) = &func.body {
            for stmt in body.stmts {
                self.visit_stmt(stmt)?;
            }
        }
        ControlFlow::Continue(())
    }

    fn visit_modifier(
        &mut self,
        modifier: &'gcx hir::Modifier<'gcx>,
    ) -> ControlFlow<Self::BreakValue> {
        let range = self.range(modifier.span);
        let text = self.ex.text(self.source).get(range.clone()).unwrap_or("");
        if let Some(key) = self.ex.key_of(modifier.id) {
            self.ex
                .push_ref(self.source, last_segment(text, range), Target::Symbol(key));
        }
        self.visit_call_args(&modifier.args)
    }

    fn visit_var(&mut self, var: &'gcx hir::Variable<'gcx>) -> ControlFlow<Self::BreakValue> {
        self.visit_ty(&var.ty)?;
        if let Some(init) = var.initializer {
            self.visit_expr(init)?;
        }
        ControlFlow::Continue(())
    }

    fn visit_ty(&mut self, ty: &'gcx hir::Type<'gcx>) -> ControlFlow<Self::BreakValue> {
        self.ex.type_ref(self.source, ty);
        match ty.kind {
            hir::TypeKind::Array(arr) => {
                self.visit_ty(&arr.element)?;
                if let Some(len) = arr.size {
                    self.visit_expr(len)?;
                }
            }
            hir::TypeKind::Mapping(map) => {
                self.visit_ty(&map.key)?;
                self.visit_ty(&map.value)?;
            }
            hir::TypeKind::Function(func) => {
                for &p in func.parameters.iter().chain(func.returns) {
                    self.visit_nested_var(p)?;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn visit_expr(&mut self, expr: &'gcx hir::Expr<'gcx>) -> ControlFlow<Self::BreakValue> {
        let gcx = self.ex.gcx;
        match expr.kind {
            hir::ExprKind::Ident(res) => {
                let chosen = gcx
                    .resolved_callee(expr.id)
                    .map(|c| c.res)
                    .or_else(|| res.iter().copied().find(|r| !r.is_err()));
                if let Some(res) = chosen
                    && let Some(target) = self.res_target(res, expr.id)
                {
                    let range = self.range(expr.span);
                    self.ex.push_ref(self.source, range, target);
                }
                self.record_typed(expr);
            }
            hir::ExprKind::Member(base, ident) => {
                let target = match gcx.resolved_callee(expr.id) {
                    Some(c) => self.res_target(c.res, expr.id),
                    None => match gcx.resolved_member(expr.id) {
                        Some(ResolvedMember::Res(res)) => self.res_target(res, expr.id),
                        Some(ResolvedMember::StructField {
                            struct_id,
                            field_index,
                        }) => gcx
                            .hir
                            .strukt(struct_id)
                            .fields
                            .get(field_index)
                            .and_then(|&f| self.ex.key_of(f.into()))
                            .map(Target::Symbol),
                        Some(ResolvedMember::EnumVariant {
                            enum_id,
                            variant_index,
                        }) => {
                            let e = gcx.hir.enumm(enum_id);
                            e.variants.get(variant_index).and_then(|v| {
                                let file = self.ex.file_of(e.source);
                                Some(Target::Symbol(SymbolKey {
                                    path: Arc::from(file.name.as_real()?),
                                    offset: file_range(file, v.span).start as u32,
                                }))
                            })
                        }
                        None => None,
                    },
                };
                if let Some(target) = target {
                    let range = self.range(ident.span);
                    self.ex.push_ref(self.source, range, target);
                }
                self.record_typed(base);
                self.record_typed(expr);
                self.visit_expr(base)?;
            }
            hir::ExprKind::Call(callee, ref args, opts) => {
                self.record_call(expr, callee, args);
                self.visit_expr(callee)?;
                if let Some(opts) = opts {
                    for arg in opts.args {
                        self.visit_expr(&arg.value)?;
                    }
                }
                self.visit_call_args(args)?;
            }
            hir::ExprKind::Index(..) => {
                self.record_typed(expr);
                return walk_expr(self, expr);
            }
            _ => return walk_expr(self, expr),
        }
        ControlFlow::Continue(())
    }
}

impl<'gcx> RefVisitor<'_, '_, 'gcx> {
    fn record_call(
        &mut self,
        expr: &'gcx hir::Expr<'gcx>,
        callee: &'gcx hir::Expr<'gcx>,
        args: &'gcx hir::CallArgs<'gcx>,
    ) {
        let gcx = self.ex.gcx;
        let params: Vec<String> = gcx
            .type_of_expr(callee.id)
            .and_then(|ty| gcx.callable_signature_of_ty(ty))
            .and_then(|sig| sig.param_source)
            .map(|src| {
                gcx.callable_param_names(src)
                    .iter()
                    .map(|n| n.map(|s| s.to_string()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let callee_key = gcx.resolved_callee(callee.id).and_then(|c| match c.res {
            hir::Res::Item(item) => self.ex.key_of(item),
            _ => None,
        });
        let arg_ranges = match args.kind {
            hir::CallArgsKind::Unnamed(exprs) => exprs.iter().map(|e| self.range(e.span)).collect(),
            hir::CallArgsKind::Named(_) => Vec::new(),
        };
        let call = CallSite {
            range: self.range(expr.span),
            args_range: self.range(args.span),
            args: arg_ranges,
            params,
            callee: callee_key,
        };
        if let Some(f) = self.ex.files.get_mut(&self.source) {
            f.calls.push(call);
        }
    }
}

/// The default traversal of one expression (re-dispatching children to `v`).
fn walk_expr<'gcx, V: Visit<'gcx, BreakValue = std::convert::Infallible>>(
    v: &mut V,
    expr: &'gcx hir::Expr<'gcx>,
) -> ControlFlow<std::convert::Infallible> {
    match expr.kind {
        hir::ExprKind::Delete(e)
        | hir::ExprKind::Payable(e)
        | hir::ExprKind::Unary(_, e)
        | hir::ExprKind::YulMember(e, _)
        | hir::ExprKind::Member(e, _) => v.visit_expr(e),
        hir::ExprKind::Assign(l, _, r) | hir::ExprKind::Binary(l, _, r) => {
            v.visit_expr(l)?;
            v.visit_expr(r)
        }
        hir::ExprKind::Index(e, i) => {
            v.visit_expr(e)?;
            if let Some(i) = i {
                v.visit_expr(i)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::Slice(e, s, t) => {
            v.visit_expr(e)?;
            if let Some(s) = s {
                v.visit_expr(s)?;
            }
            if let Some(t) = t {
                v.visit_expr(t)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::Ternary(a, b, c) => {
            v.visit_expr(a)?;
            v.visit_expr(b)?;
            v.visit_expr(c)
        }
        hir::ExprKind::Array(es) => {
            for e in es {
                v.visit_expr(e)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::Tuple(es) => {
            for e in es.iter().copied().flatten() {
                v.visit_expr(e)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::New(ref ty)
        | hir::ExprKind::TypeCall(ref ty)
        | hir::ExprKind::Type(ref ty) => v.visit_ty(ty),
        hir::ExprKind::Call(c, ref args, opts) => {
            v.visit_expr(c)?;
            if let Some(opts) = opts {
                for arg in opts.args {
                    v.visit_expr(&arg.value)?;
                }
            }
            v.visit_call_args(args)
        }
        hir::ExprKind::Ident(_) | hir::ExprKind::Lit(_) | hir::ExprKind::Err(_) => {
            ControlFlow::Continue(())
        }
    }
}

/// Collects variables declared by statements of a body.
struct LocalCollector<'gcx> {
    hir: &'gcx hir::Hir<'gcx>,
    vars: Vec<hir::VariableId>,
}

impl<'gcx> Visit<'gcx> for LocalCollector<'gcx> {
    type BreakValue = std::convert::Infallible;

    fn hir(&self) -> &'gcx hir::Hir<'gcx> {
        self.hir
    }

    fn visit_nested_var(&mut self, id: hir::VariableId) -> ControlFlow<Self::BreakValue> {
        let var = self.hir.variable(id);
        if matches!(var.kind, hir::VarKind::Statement | hir::VarKind::TryCatch) {
            self.vars.push(id);
        }
        ControlFlow::Continue(())
    }

    fn visit_expr(&mut self, _expr: &'gcx hir::Expr<'gcx>) -> ControlFlow<Self::BreakValue> {
        ControlFlow::Continue(())
    }
}
