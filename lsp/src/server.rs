//! The tower-lsp server: document sync, debounced analysis and requests.

use crate::{
    analysis::{self, AnalysisOutput, Extract, FileDiagnostic, Overlays, Severity},
    format,
    gas_hints::GasEstimates,
    index::{FileData, Index, Symbol, SymbolKind, Target},
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
use tower_lsp::{
    Client, LanguageServer, LspService, Server,
    jsonrpc::{Error as RpcError, Result},
    lsp_types::*,
};

/// Command id of the "▶ Run test" code lens.
pub const RUN_TEST_COMMAND: &str = "forja.runTest";

/// An open document.
#[derive(Debug, Clone)]
struct Document {
    text: Arc<str>,
    line_index: Arc<LineIndex>,
}

#[derive(Default)]
struct State {
    config: Option<Workspace>,
    docs: HashMap<PathBuf, Document>,
    index: Index,
    /// Files with an analysis scheduled or running.
    analysing: HashSet<PathBuf>,
    /// Files edited while their analysis ran: it runs once more.
    edited_while_analysing: HashSet<PathBuf>,
    /// Files whose diagnostics were published (to clear them later).
    published: HashSet<PathBuf>,
    /// The fast engine's latest diagnostics per file.
    fast_diagnostics: HashMap<PathBuf, Vec<FileDiagnostic>>,
    /// solc's diagnostics from the last check on save, for files unchanged since.
    solc_diagnostics: HashMap<PathBuf, Vec<FileDiagnostic>>,
    /// Save counter: a solc check started for an older save is skipped.
    save_generation: u64,
    /// Remappings the front end adds to solc builds and to the fast engine.
    extra_remappings: Option<ExtraRemappings>,
    /// The client accepts `documentChanges` in workspace edits (ordered, unlike `changes`).
    document_changes: bool,
    /// An optional delay before analysing an edit (`debounceMs`, default 0).
    debounce: Duration,
    /// Path of the `forja` executable used by the "Run test" lens.
    forja_exe: Option<PathBuf>,
    /// solc's gas estimates from the artifacts, for the gas inlay hints.
    gas: GasEstimates,
}

/// The language server.
pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
    /// Held while solc runs: checks on save never overlap.
    solc_running: Arc<tokio::sync::Mutex<()>>,
}

/// How a front end configures the server.
#[derive(Clone, Default)]
pub struct ServerOptions {
    /// Remappings added to every project (the cli's `forja-std/`), for solc
    /// on save and for the fast engine alike.
    pub extra_remappings: Option<ExtraRemappings>,
}

/// Runs the server on stdin/stdout until the client sends `exit` or closes stdin.
pub async fn run_stdio(options: ServerOptions) {
    serve(tokio::io::stdin(), tokio::io::stdout(), options).await;
}

/// Serves one client over any byte streams (tests use an in-memory duplex
/// pipe) until it sends `exit` or closes its end.
pub async fn serve<I, O>(input: I, output: O, options: ServerOptions)
where
    I: tokio::io::AsyncRead + Unpin,
    O: tokio::io::AsyncWrite,
{
    let (service, socket) = LspService::new(|client| Backend::with_options(client, options));
    let (exited_tx, exited) = tokio::sync::oneshot::channel();
    let service = ExitWatch {
        inner: service,
        exited: Some(exited_tx),
    };
    // tower-lsp's loop keeps reading after `exit` until the input ends;
    // the protocol says the server stops at `exit`.
    tokio::select! {
        () = Server::new(input, output, socket).serve(service) => {}
        _ = exited => {}
    }
}

/// Passes requests through and reports the `exit` notification.
struct ExitWatch<S> {
    inner: S,
    exited: Option<tokio::sync::oneshot::Sender<()>>,
}

impl<S> tower::Service<tower_lsp::jsonrpc::Request> for ExitWatch<S>
where
    S: tower::Service<tower_lsp::jsonrpc::Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: tower_lsp::jsonrpc::Request) -> Self::Future {
        let is_exit = request.method() == "exit";
        let answer = self.inner.call(request);
        if is_exit && let Some(exited) = self.exited.take() {
            let _ = exited.send(());
        }
        answer
    }
}

impl Backend {
    /// Creates a backend talking to `client`.
    pub fn new(client: Client) -> Self {
        Self::with_options(client, ServerOptions::default())
    }

    /// Creates a backend talking to `client`, configured by the front end.
    pub fn with_options(client: Client, options: ServerOptions) -> Self {
        let state = State {
            extra_remappings: options.extra_remappings,
            ..Default::default()
        };
        Self {
            client,
            state: Arc::new(Mutex::new(state)),
            solc_running: Default::default(),
        }
    }

    /// Runs solc (the project's build) after a save, then republishes the
    /// merged diagnostics of every file solc spoke about now or last time.
    fn schedule_solc_check(&self, saved: PathBuf) {
        let generation = {
            let mut st = self.lock();
            st.save_generation += 1;
            st.save_generation
        };
        let state = self.state.clone();
        let client = self.client.clone();
        let running = self.solc_running.clone();
        tokio::spawn(async move {
            let _only_one = running.lock().await;
            let extra = {
                let st = lock(&state);
                if st.save_generation != generation {
                    return; // a later save queued its own check
                }
                st.extra_remappings.clone()
            };
            let started = std::time::Instant::now();
            let target = saved.clone();
            let result =
                tokio::task::spawn_blocking(move || solc_check::check(&target, extra.as_ref()))
                    .await;
            let report = match result {
                Ok(Ok(report)) => report,
                Ok(Err(why)) => {
                    client
                        .log_message(MessageType::WARNING, format!("solc check skipped: {why}"))
                        .await;
                    return;
                }
                Err(e) => {
                    client
                        .log_message(MessageType::ERROR, format!("solc check failed: {e}"))
                        .await;
                    return;
                }
            };
            let (publish, summary) = apply_solc_report(&state, &saved, report);
            for (uri, diags, version) in publish {
                client.publish_diagnostics(uri, diags, version).await;
            }
            client
                .log_message(
                    MessageType::INFO,
                    format!("solc check done in {:?}: {summary}", started.elapsed()),
                )
                .await;
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock must not take the server down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn file_and_offset(&self, uri: &Url, position: Position) -> Option<(Arc<FileData>, usize)> {
        let path = uri.to_file_path().ok()?;
        let state = self.lock();
        let data = state.index.files.get(&path)?.clone();
        let offset = data.line_index.offset(&data.text, position);
        Some((data, offset))
    }

    /// Analyses `path` (and its importers) as soon as no analysis of it is
    /// running; edits that arrive meanwhile are coalesced into one more run
    /// on the newest text. No timer: the editor sees diagnostics one analysis
    /// after its edit (a fixed 120 ms debounce used to come first).
    fn schedule(&self, path: PathBuf) {
        {
            let mut st = self.lock();
            if !st.analysing.insert(path.clone()) {
                st.edited_while_analysing.insert(path);
                return;
            }
        }
        let state = self.state.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            loop {
                let delay = lock(&state).debounce;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                analyze_and_publish(state.clone(), client.clone(), vec![path.clone()]).await;
                let mut st = lock(&state);
                if !st.edited_while_analysing.remove(&path) {
                    st.analysing.remove(&path);
                    return;
                }
            }
        });
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs solar on `changed` plus their importers and publishes diagnostics.
async fn analyze_and_publish(state: Arc<Mutex<State>>, client: Client, changed: Vec<PathBuf>) {
    let (config, overlays, roots, known) = {
        let st = lock(&state);
        let Some(config) = st.config.clone().or_else(|| {
            changed
                .first()
                .map(|p| Workspace::discover(p, st.extra_remappings.as_ref()))
        }) else {
            return;
        };
        let overlays: Overlays = st
            .docs
            .iter()
            .map(|(p, d)| (p.clone(), d.text.clone()))
            .collect();
        let mut roots: Vec<PathBuf> = changed.clone();
        for path in &changed {
            for importer in st.index.direct_importers(path) {
                if !config.is_dependency(&importer)
                    && !roots.contains(&importer)
                    && roots.len() < 64
                {
                    roots.push(importer);
                }
            }
        }
        let known: HashSet<PathBuf> = st.index.files.keys().cloned().collect();
        (config, overlays, roots, known)
    };
    // The edited files first, published as soon as they are analysed. Their
    // importers only when what they can see changed: an edit inside a
    // function body cannot change another file's diagnostics, and
    // re-analysing the 30+ importers of a base contract on every keystroke
    // made the edited file wait for all of them.
    let (edited, importers): (Vec<PathBuf>, Vec<PathBuf>) =
        roots.into_iter().partition(|p| changed.contains(p));
    let before: Vec<Option<Interface>> = {
        let st = lock(&state);
        edited
            .iter()
            .map(|p| st.index.files.get(p).map(|d| interface_of(d)))
            .collect()
    };
    let Some(output) = run_analysis(&client, &config, &overlays, &edited, &known).await else {
        return;
    };
    let after: Vec<Option<Interface>> = edited
        .iter()
        .map(|p| output.files.iter().find(|f| &f.path == p).map(interface_of))
        .collect();
    let publish = merge(&state, output, &edited);
    for (uri, diags, version) in publish {
        client.publish_diagnostics(uri, diags, version).await;
    }
    // A file that did not parse keeps its old interface: nothing to tell.
    let interface_changed = before
        .iter()
        .zip(&after)
        .any(|(before, after)| after.is_some() && before != after);
    if importers.is_empty() || !interface_changed {
        return;
    }
    let Some(mut output) = run_analysis(&client, &config, &overlays, &importers, &known).await
    else {
        return;
    };
    // The edited files were analysed above from the same text; a later edit
    // may have superseded that text, and its own run publishes for it.
    output.diagnostics.retain(|path, _| !edited.contains(path));
    let publish = merge(&state, output, &importers);
    for (uri, diags, version) in publish {
        client.publish_diagnostics(uri, diags, version).await;
    }
}

/// What other files can see of a file: its declarations as written (bodies
/// left out) and what it imports.
type Interface = (Vec<(String, String, Option<String>)>, Vec<PathBuf>);

fn interface_of(data: &FileData) -> Interface {
    let declarations = data
        .symbols
        .iter()
        .filter(|s| {
            !matches!(
                s.kind,
                SymbolKind::Local | SymbolKind::Parameter | SymbolKind::ReturnParameter
            )
        })
        .map(|s| {
            (
                s.name.clone(),
                s.signature.clone(),
                s.container_name.clone(),
            )
        })
        .collect();
    let imports = data.imports.iter().map(|i| i.resolved.clone()).collect();
    (declarations, imports)
}

/// Runs the fast engine on `roots` off the async threads; `None` (logged)
/// when the task itself failed.
async fn run_analysis(
    client: &Client,
    config: &Workspace,
    overlays: &Overlays,
    roots: &[PathBuf],
    known: &HashSet<PathBuf>,
) -> Option<AnalysisOutput> {
    let (config, overlays, roots, known) = (
        config.clone(),
        overlays.clone(),
        roots.to_vec(),
        known.clone(),
    );
    let output = tokio::task::spawn_blocking(move || {
        analysis::analyze(&config, &overlays, &roots, &Extract::Except(known))
    })
    .await;
    match output {
        Ok(output) => {
            if let Some(panic) = &output.panic {
                client.log_message(MessageType::ERROR, panic.clone()).await;
            }
            Some(output)
        }
        Err(e) => {
            client
                .log_message(MessageType::ERROR, format!("analysis task failed: {e}"))
                .await;
            None
        }
    }
}

/// One `publishDiagnostics`: the document, its diagnostics, its version.
type Publish = (Url, Vec<Diagnostic>, Option<i32>);

/// Merges an analysis into the index; returns the diagnostics to publish.
fn merge(state: &Mutex<State>, output: AnalysisOutput, roots: &[PathBuf]) -> Vec<Publish> {
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
fn composed_diagnostics(st: &mut State, path: &Path) -> Option<Publish> {
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
fn apply_solc_report(
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

fn to_lsp_diagnostic(text: &str, li: &LineIndex, d: &FileDiagnostic, source: &str) -> Diagnostic {
    Diagnostic {
        range: li.range(text, d.range.start, d.range.end),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Info => DiagnosticSeverity::INFORMATION,
        }),
        code: d.code.clone().map(NumberOrString::String),
        source: Some(source.to_string()),
        message: d.message.clone(),
        ..Default::default()
    }
}

fn location(data: &FileData, range: &std::ops::Range<usize>) -> Option<Location> {
    Some(Location {
        uri: Url::from_file_path(&data.path).ok()?,
        range: data.line_index.range(&data.text, range.start, range.end),
    })
}

fn symbol_location(index: &Index, sym: &Symbol) -> Option<Location> {
    location(index.files.get(&*sym.key.path)?, &sym.name_range)
}

fn hover_markdown(index: &Index, target: &Target) -> Option<String> {
    match target {
        Target::Builtin { name, ty } => {
            let ty = if ty.is_empty() {
                String::new()
            } else {
                format!(": {ty}")
            };
            Some(format!("```solidity\n{name}{ty}\n```\n\nbuiltin"))
        }
        Target::Symbol(key) => {
            let sym = index.symbol(key)?;
            let mut md = format!("```solidity\n{}\n```", sym.signature);
            let mut facts = vec![sym.kind.describe().to_string()];
            if let Some(ty) = &sym.ty {
                facts.push(format!("type `{ty}`"));
            }
            if let Some(c) = &sym.container_name {
                facts.push(format!("in `{c}`"));
            }
            md.push_str(&format!("\n\n*{}*", facts.join(" · ")));
            if let Some(doc) = &sym.doc {
                md.push_str("\n\n---\n\n");
                md.push_str(doc);
            }
            Some(md)
        }
    }
}

const KEYWORDS: &[&str] = &[
    "pragma",
    "import",
    "contract",
    "abstract",
    "interface",
    "library",
    "function",
    "modifier",
    "event",
    "error",
    "struct",
    "enum",
    "mapping",
    "returns",
    "return",
    "if",
    "else",
    "for",
    "while",
    "do",
    "break",
    "continue",
    "emit",
    "revert",
    "require",
    "assert",
    "new",
    "delete",
    "public",
    "private",
    "internal",
    "external",
    "pure",
    "view",
    "payable",
    "constant",
    "immutable",
    "virtual",
    "override",
    "memory",
    "storage",
    "calldata",
    "transient",
    "using",
    "unchecked",
    "assembly",
    "try",
    "catch",
    "constructor",
    "fallback",
    "receive",
    "type",
    "is",
    "indexed",
    "anonymous",
    "true",
    "false",
];

const TYPES: &[&str] = &[
    "address", "bool", "string", "bytes", "uint256", "int256", "uint8", "uint16", "uint32",
    "uint64", "uint128", "int8", "int128", "bytes4", "bytes32",
];

const GLOBALS: &[(&str, &str)] = &[
    ("msg", "global: sender, value, data, sig"),
    (
        "block",
        "global: timestamp, number, chainid, coinbase, basefee, prevrandao",
    ),
    ("tx", "global: origin, gasprice"),
    (
        "abi",
        "global: encode, encodePacked, encodeWithSelector, encodeCall, decode",
    ),
    ("keccak256", "function (bytes memory) returns (bytes32)"),
    ("sha256", "function (bytes memory) returns (bytes32)"),
    (
        "ecrecover",
        "function (bytes32, uint8, bytes32, bytes32) returns (address)",
    ),
    ("gasleft", "function () returns (uint256)"),
    ("blockhash", "function (uint256) returns (bytes32)"),
    (
        "addmod",
        "function (uint256, uint256, uint256) returns (uint256)",
    ),
    (
        "mulmod",
        "function (uint256, uint256, uint256) returns (uint256)",
    ),
    ("this", "the current contract"),
];

const SNIPPETS: &[(&str, &str)] = &[
    (
        "function",
        "function ${1:name}(${2}) ${3:external} {\n\t$0\n}",
    ),
    ("contract", "contract ${1:Name} {\n\t$0\n}"),
    ("modifier", "modifier ${1:name}() {\n\t$0\n\t_;\n}"),
    ("event", "event ${1:Name}(${2});"),
    ("error", "error ${1:Name}(${2});"),
    ("require", "require(${1:condition}, ${2:Error}());"),
    (
        "for",
        "for (uint256 ${1:i} = 0; ${1:i} < ${2:length}; ++${1:i}) {\n\t$0\n}",
    ),
    ("test", "function test_${1:name}() public {\n\t$0\n}"),
    (
        "spdx",
        "// SPDX-License-Identifier: ${1:MIT}\npragma solidity ^${2:0.8.30};\n",
    ),
];

fn completion_kind(kind: SymbolKind) -> CompletionItemKind {
    match kind {
        SymbolKind::Contract | SymbolKind::AbstractContract => CompletionItemKind::CLASS,
        SymbolKind::Interface => CompletionItemKind::INTERFACE,
        SymbolKind::Library => CompletionItemKind::MODULE,
        SymbolKind::Function | SymbolKind::Modifier => CompletionItemKind::FUNCTION,
        SymbolKind::Constructor | SymbolKind::Fallback | SymbolKind::Receive => {
            CompletionItemKind::CONSTRUCTOR
        }
        SymbolKind::Event => CompletionItemKind::EVENT,
        SymbolKind::Error | SymbolKind::Struct => CompletionItemKind::STRUCT,
        SymbolKind::Field => CompletionItemKind::FIELD,
        SymbolKind::Enum => CompletionItemKind::ENUM,
        SymbolKind::EnumVariant => CompletionItemKind::ENUM_MEMBER,
        SymbolKind::Udvt => CompletionItemKind::TYPE_PARAMETER,
        SymbolKind::Constant | SymbolKind::FileVariable => CompletionItemKind::CONSTANT,
        SymbolKind::StateVariable => CompletionItemKind::PROPERTY,
        _ => CompletionItemKind::VARIABLE,
    }
}

fn lsp_symbol_kind(kind: SymbolKind) -> tower_lsp::lsp_types::SymbolKind {
    use tower_lsp::lsp_types::SymbolKind as K;
    match kind {
        SymbolKind::Contract | SymbolKind::AbstractContract => K::CLASS,
        SymbolKind::Interface => K::INTERFACE,
        SymbolKind::Library => K::MODULE,
        SymbolKind::Function
        | SymbolKind::Modifier
        | SymbolKind::Fallback
        | SymbolKind::Receive => K::FUNCTION,
        SymbolKind::Constructor => K::CONSTRUCTOR,
        SymbolKind::Event => K::EVENT,
        SymbolKind::Error | SymbolKind::Struct => K::STRUCT,
        SymbolKind::Field => K::FIELD,
        SymbolKind::Enum => K::ENUM,
        SymbolKind::EnumVariant => K::ENUM_MEMBER,
        SymbolKind::Udvt => K::TYPE_PARAMETER,
        SymbolKind::Constant | SymbolKind::FileVariable => K::CONSTANT,
        SymbolKind::StateVariable => K::PROPERTY,
        _ => K::VARIABLE,
    }
}

/// Semantic token types, in legend order.
const TOKEN_TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::CLASS,
    SemanticTokenType::INTERFACE,
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::EVENT,
    SemanticTokenType::STRUCT,
    SemanticTokenType::ENUM,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::TYPE,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::MACRO,
];

fn token_type(kind: SymbolKind) -> u32 {
    match kind {
        SymbolKind::Contract | SymbolKind::AbstractContract => 0,
        SymbolKind::Interface => 1,
        SymbolKind::Library => 2,
        SymbolKind::Function
        | SymbolKind::Constructor
        | SymbolKind::Fallback
        | SymbolKind::Receive => 3,
        SymbolKind::Modifier => 12,
        SymbolKind::Event => 4,
        SymbolKind::Error | SymbolKind::Struct => 5,
        SymbolKind::Enum => 6,
        SymbolKind::EnumVariant => 7,
        SymbolKind::Udvt => 8,
        SymbolKind::StateVariable
        | SymbolKind::Constant
        | SymbolKind::FileVariable
        | SymbolKind::Field => 9,
        SymbolKind::Parameter | SymbolKind::ReturnParameter => 10,
        SymbolKind::Local => 11,
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !KEYWORDS.contains(&name)
        && !TYPES.contains(&name)
}

/// The receiver expression text before a `.` ending at `dot`.
fn receiver_before(text: &str, dot: usize) -> &str {
    let bytes = text.as_bytes();
    let mut i = dot;
    let mut depth = 0i32;
    while i > 0 {
        let b = bytes[i - 1];
        match b {
            b')' | b']' => depth += 1,
            b'(' | b'[' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            b'.' => {}
            _ if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' => {}
            _ => break,
        }
        i -= 1;
    }
    &text[i..dot]
}

/// Symbols visible at `offset` in `data`: its scopes, its file, and imported files' top level.
fn visible_symbols<'a>(index: &'a Index, data: &'a FileData, offset: usize) -> Vec<&'a Symbol> {
    let mut out: Vec<&Symbol> = data
        .symbols
        .iter()
        .filter(|s| match s.kind {
            SymbolKind::Local | SymbolKind::Parameter | SymbolKind::ReturnParameter => {
                s.scope.start <= offset && offset <= s.scope.end && s.name_range.start <= offset
            }
            _ => true,
        })
        .collect();
    let mut seen = HashSet::new();
    let mut stack: Vec<&PathBuf> = index
        .imports
        .get(&data.path)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    while let Some(p) = stack.pop() {
        if !seen.insert(p) || seen.len() > 256 {
            continue;
        }
        if let Some(f) = index.files.get(p) {
            out.extend(f.symbols.iter().filter(|s| {
                s.container.is_none()
                    && s.kind != SymbolKind::Local
                    && s.kind != SymbolKind::Parameter
                    && s.kind != SymbolKind::ReturnParameter
            }));
        }
        if let Some(more) = index.imports.get(p) {
            stack.extend(more.iter());
        }
    }
    // Inherited members of the enclosing contract.
    if let Some(contract) = data.symbols.iter().rfind(|s| {
        s.kind.is_contract_like() && s.full_range.start <= offset && offset <= s.full_range.end
    }) {
        let mut bases = contract.supers.clone();
        let mut visited = HashSet::new();
        while let Some(base) = bases.pop() {
            if !visited.insert(base.clone()) {
                continue;
            }
            if let Some(f) = index.files.get(&*base.path) {
                out.extend(
                    f.symbols
                        .iter()
                        .filter(|s| s.container.as_ref() == Some(&base)),
                );
                if let Some(b) = f.symbol_at_key(base.offset) {
                    bases.extend(b.supers.iter().cloned());
                }
            }
        }
    }
    out
}

impl Backend {
    fn completions(&self, uri: &Url, position: Position) -> Vec<CompletionItem> {
        let Ok(path) = uri.to_file_path() else {
            return Vec::new();
        };
        let st = self.lock();
        let Some(doc) = st.docs.get(&path) else {
            return Vec::new();
        };
        let text = doc.text.clone();
        let offset = doc.line_index.offset(&text, position);
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[line_start..offset];
        // Import paths.
        if let Some(q) = line.rfind('"').or_else(|| line.rfind('\''))
            && line.trim_start().starts_with("import")
            && line[..q].matches(['"', '\'']).count() % 2 == 0
        {
            return import_path_completions(st.config.as_ref(), &path, &line[q + 1..]);
        }
        let word_start = text[..offset]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .map_or(0, |i| i + 1);
        let Some(data) = st.index.files.get(&path) else {
            return keyword_items();
        };
        if word_start > 0 && text.as_bytes()[word_start - 1] == b'.' {
            let receiver = receiver_before(&text, word_start - 1);
            return member_completions(&st.index, data, &text, receiver, word_start - 1);
        }
        let mut items = keyword_items();
        let mut names = HashSet::new();
        // Map the position into the (possibly older) indexed text.
        let data_offset = if *data.text == *text {
            offset
        } else {
            offset.min(data.text.len())
        };
        for sym in visible_symbols(&st.index, data, data_offset) {
            if sym.kind == SymbolKind::Constructor
                || sym.kind == SymbolKind::Fallback
                || sym.kind == SymbolKind::Receive
            {
                continue;
            }
            if !names.insert((sym.name.clone(), sym.kind as u8)) {
                continue;
            }
            items.push(CompletionItem {
                label: sym.name.clone(),
                kind: Some(completion_kind(sym.kind)),
                detail: Some(sym.signature.clone()),
                documentation: sym.doc.clone().map(|d| {
                    Documentation::MarkupContent(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value: d,
                    })
                }),
                ..Default::default()
            });
        }
        items
    }
}

fn keyword_items() -> Vec<CompletionItem> {
    let mut items: Vec<CompletionItem> = KEYWORDS
        .iter()
        .map(|k| CompletionItem {
            label: k.to_string(),
            kind: Some(CompletionItemKind::KEYWORD),
            ..Default::default()
        })
        .collect();
    items.extend(TYPES.iter().map(|t| CompletionItem {
        label: t.to_string(),
        kind: Some(CompletionItemKind::TYPE_PARAMETER),
        ..Default::default()
    }));
    items.extend(GLOBALS.iter().map(|(g, d)| CompletionItem {
        label: g.to_string(),
        kind: Some(CompletionItemKind::VARIABLE),
        detail: Some(d.to_string()),
        ..Default::default()
    }));
    items.extend(SNIPPETS.iter().map(|(label, body)| CompletionItem {
        label: label.to_string(),
        kind: Some(CompletionItemKind::SNIPPET),
        insert_text: Some(body.to_string()),
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        detail: Some("snippet".into()),
        ..Default::default()
    }));
    items
}

fn member_completions(
    index: &Index,
    data: &FileData,
    text: &str,
    receiver: &str,
    dot: usize,
) -> Vec<CompletionItem> {
    if receiver.is_empty() {
        return Vec::new();
    }
    // An expression with the same text that solar typed, nearest to the cursor.
    let typed = data
        .typed_exprs
        .iter()
        .filter(|e| data.text.get(e.range.clone()) == Some(receiver))
        .min_by_key(|e| (e.range.end as isize - dot as isize).unsigned_abs());
    let list = typed.map(|e| e.members).or_else(|| {
        // Fall back to the declaration named like the receiver.
        let name = receiver.rsplit('.').next().unwrap_or(receiver);
        visible_symbols(index, data, dot.min(data.text.len()))
            .into_iter()
            .filter(|s| s.name == name)
            .max_by_key(|s| s.name_range.start)
            .and_then(|s| s.members)
    });
    let _ = text;
    let Some(list) = list.and_then(|i| data.member_lists.get(i as usize)) else {
        return Vec::new();
    };
    list.iter()
        .map(|m| CompletionItem {
            label: m.name.clone(),
            kind: Some(match m.kind {
                Some(k) => completion_kind(k),
                None if m.callable => CompletionItemKind::METHOD,
                None => CompletionItemKind::FIELD,
            }),
            detail: Some(m.detail.clone()),
            ..Default::default()
        })
        .collect()
}

fn import_path_completions(
    config: Option<&Workspace>,
    current: &Path,
    typed: &str,
) -> Vec<CompletionItem> {
    let mut items = Vec::new();
    let (dir_part, _) = typed.rsplit_once('/').unwrap_or(("", typed));
    let mut dirs: Vec<PathBuf> = Vec::new();
    if typed.starts_with('.') {
        if let Some(parent) = current.parent() {
            dirs.push(parent.join(dir_part));
        }
    } else if let Some(config) = config {
        if dir_part.is_empty() {
            for r in &config.remappings {
                if let Some((lhs, _)) = r.split_once('=') {
                    let prefix = lhs.rsplit(':').next().unwrap_or(lhs);
                    items.push(CompletionItem {
                        label: prefix.to_string(),
                        kind: Some(CompletionItemKind::FOLDER),
                        ..Default::default()
                    });
                }
            }
        }
        for r in &config.remappings {
            if let Some((lhs, target)) = r.split_once('=') {
                let prefix = lhs.rsplit(':').next().unwrap_or(lhs);
                if let Some(rest) = format!("{dir_part}/").strip_prefix(prefix) {
                    dirs.push(Path::new(target).join(rest));
                }
            }
        }
        dirs.push(config.root.join(dir_part));
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let is_dir = e.path().is_dir();
            if name.starts_with('.') || (!is_dir && !name.ends_with(".sol")) {
                continue;
            }
            items.push(CompletionItem {
                label: name,
                kind: Some(if is_dir {
                    CompletionItemKind::FOLDER
                } else {
                    CompletionItemKind::FILE
                }),
                ..Default::default()
            });
        }
    }
    items.sort_by(|a, b| a.label.cmp(&b.label));
    items.dedup_by(|a, b| a.label == b.label);
    items
}

fn is_outline_item(s: &Symbol) -> bool {
    !matches!(
        s.kind,
        SymbolKind::Local | SymbolKind::Parameter | SymbolKind::ReturnParameter
    )
}

/// One outline entry with its children: contract members, struct fields, enum variants.
fn outline_node(data: &FileData, s: &Symbol) -> DocumentSymbol {
    let children: Vec<DocumentSymbol> = data
        .symbols
        .iter()
        .filter(|c| is_outline_item(c) && c.key != s.key)
        .filter(|c| match s.kind {
            SymbolKind::Struct => {
                c.kind == SymbolKind::Field
                    && c.full_range.start >= s.full_range.start
                    && c.full_range.end <= s.full_range.end
            }
            _ => c.container.as_ref() == Some(&s.key) && c.kind != SymbolKind::Field,
        })
        .map(|c| outline_node(data, c))
        .collect();
    #[allow(deprecated)]
    DocumentSymbol {
        name: s.name.clone(),
        detail: Some(s.signature.clone()),
        kind: lsp_symbol_kind(s.kind),
        tags: None,
        deprecated: None,
        range: data.line_index.range(
            &data.text,
            s.full_range.start,
            s.full_range.end.max(s.name_range.end),
        ),
        selection_range: data
            .line_index
            .range(&data.text, s.name_range.start, s.name_range.end),
        children: (!children.is_empty()).then_some(children),
    }
}

fn run_test_lenses(data: &FileData) -> Vec<CodeLens> {
    let is_test_file = data.path.to_string_lossy().ends_with(".t.sol")
        || data.path.components().any(|c| c.as_os_str() == "test");
    if !is_test_file {
        return Vec::new();
    }
    data.symbols
        .iter()
        .filter(|s| {
            s.kind == SymbolKind::Function
                && (s.name.starts_with("test") || s.name.starts_with("invariant"))
                && s.container.is_some()
        })
        .map(|s| CodeLens {
            range: data
                .line_index
                .range(&data.text, s.name_range.start, s.name_range.end),
            command: Some(Command {
                title: "▶ Run test".into(),
                command: RUN_TEST_COMMAND.into(),
                arguments: Some(vec![
                    serde_json::Value::String(s.name.clone()),
                    serde_json::Value::String(data.path.display().to_string()),
                ]),
            }),
            data: None,
        })
        .collect()
}

/// Where to insert ` override` in a function declaration header.
fn override_insert_offset(text: &str, sym: &Symbol) -> Option<usize> {
    let decl = text.get(sym.name_range.end..sym.full_range.end)?;
    let mut depth = 0i32;
    let mut seen_params = false;
    for (i, ch) in decl.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    seen_params = true;
                }
            }
            '{' | ';' if depth == 0 && seen_params => {
                let head = &decl[..i];
                let at = head.find(" returns").unwrap_or(head.trim_end().len());
                return Some(sym.name_range.end + at);
            }
            _ => {}
        }
    }
    None
}

#[tower_lsp::async_trait]
impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let root = params
            .workspace_folders
            .as_ref()
            .and_then(|f| f.first())
            .and_then(|f| f.uri.to_file_path().ok())
            .or_else(|| params.root_uri.as_ref().and_then(|u| u.to_file_path().ok()));
        {
            let mut st = self.lock();
            if let Some(root) = root {
                let extra = st.extra_remappings.clone();
                let config = Workspace::discover(&root, extra.as_ref())
                    .with_root_at_least(&root, extra.as_ref());
                st.config = Some(config);
            }
            st.document_changes = params
                .capabilities
                .workspace
                .as_ref()
                .and_then(|w| w.workspace_edit.as_ref())
                .and_then(|e| e.document_changes)
                .unwrap_or(false);
            if let Some(opts) = &params.initialization_options {
                if let Some(ms) = opts.get("debounceMs").and_then(|v| v.as_u64()) {
                    st.debounce = Duration::from_millis(ms);
                }
                if let Some(exe) = opts.get("forjaPath").and_then(|v| v.as_str()) {
                    st.forja_exe = Some(PathBuf::from(exe));
                }
            }
        }
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "forja-lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                        ..Default::default()
                    },
                )),
                definition_provider: Some(OneOf::Left(true)),
                declaration_provider: Some(DeclarationCapability::Simple(true)),
                type_definition_provider: Some(TypeDefinitionProviderCapability::Simple(true)),
                implementation_provider: Some(ImplementationProviderCapability::Simple(true)),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                references_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: Default::default(),
                })),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into(), "\"".into(), "/".into()]),
                    ..Default::default()
                }),
                signature_help_provider: Some(SignatureHelpOptions {
                    trigger_characters: Some(vec!["(".into(), ",".into()]),
                    ..Default::default()
                }),
                document_symbol_provider: Some(OneOf::Left(true)),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                semantic_tokens_provider: Some(
                    SemanticTokensServerCapabilities::SemanticTokensOptions(
                        SemanticTokensOptions {
                            legend: SemanticTokensLegend {
                                token_types: TOKEN_TYPES.to_vec(),
                                token_modifiers: vec![SemanticTokenModifier::DECLARATION],
                            },
                            full: Some(SemanticTokensFullOptions::Bool(true)),
                            ..Default::default()
                        },
                    ),
                ),
                inlay_hint_provider: Some(OneOf::Left(true)),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![RUN_TEST_COMMAND.into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        // Index the whole workspace in the background for references, symbols and rename.
        let (config, overlays) = {
            let st = self.lock();
            let Some(config) = st.config.clone() else {
                return;
            };
            let overlays: Overlays = st
                .docs
                .iter()
                .map(|(p, d)| (p.clone(), d.text.clone()))
                .collect();
            (config, overlays)
        };
        let state = self.state.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            let files = config.source_files();
            if files.is_empty() {
                return;
            }
            let count = files.len();
            let started = std::time::Instant::now();
            let out = tokio::task::spawn_blocking(move || {
                analysis::analyze(&config, &overlays, &files, &Extract::All)
            })
            .await;
            let Ok(out) = out else { return };
            if let Some(p) = &out.panic {
                client.log_message(MessageType::ERROR, p.clone()).await;
            }
            let indexed = out.files.len();
            // Only merge index data; diagnostics of unopened files stay quiet.
            let mut out = out;
            out.diagnostics.clear();
            merge(&state, out, &[]);
            client
                .log_message(
                    MessageType::INFO,
                    format!(
                        "forja-lsp indexed {indexed} files ({count} project files) in {:?}",
                        started.elapsed()
                    ),
                )
                .await;
        });
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return;
        };
        {
            let mut st = self.lock();
            if st.config.is_none() {
                st.config = Some(Workspace::discover(&path, st.extra_remappings.as_ref()));
            }
            let text: Arc<str> = Arc::from(params.text_document.text);
            let line_index = Arc::new(LineIndex::new(&text));
            st.docs.insert(path.clone(), Document { text, line_index });
        }
        // Opening analyses at once: the editor wants diagnostics now.
        analyze_and_publish(self.state.clone(), self.client.clone(), vec![path]).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return;
        };
        {
            let mut st = self.lock();
            let Some(doc) = st.docs.get(&path).cloned() else {
                return;
            };
            let mut text = doc.text.to_string();
            let mut li = (*doc.line_index).clone();
            for change in params.content_changes {
                match change.range {
                    Some(range) => {
                        let start = li.offset(&text, range.start);
                        let end = li.offset(&text, range.end).max(start);
                        text.replace_range(start..end, &change.text);
                    }
                    None => text = change.text,
                }
                li = LineIndex::new(&text);
            }
            st.docs.insert(
                path.clone(),
                Document {
                    text: Arc::from(text),
                    line_index: Arc::new(li),
                },
            );
            // solc saw the saved text; its ranges no longer fit this buffer.
            st.solc_diagnostics.remove(&path);
        }
        self.schedule(path);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return;
        };
        analyze_and_publish(self.state.clone(), self.client.clone(), vec![path.clone()]).await;
        self.schedule_solc_check(path);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return;
        };
        let mut st = self.lock();
        st.docs.remove(&path);
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        if let Some(import) = data.import_at(offset) {
            let Ok(uri) = Url::from_file_path(&import.resolved) else {
                return Ok(None);
            };
            return Ok(Some(GotoDefinitionResponse::Scalar(Location {
                uri,
                range: Range::default(),
            })));
        }
        let st = self.lock();
        let Some(Target::Symbol(key)) = data.reference_at(offset).map(|r| r.target.clone()) else {
            return Ok(None);
        };
        Ok(st
            .index
            .symbol(&key)
            .and_then(|s| symbol_location(&st.index, s))
            .map(GotoDefinitionResponse::Scalar))
    }

    async fn goto_declaration(
        &self,
        params: request::GotoDeclarationParams,
    ) -> Result<Option<request::GotoDeclarationResponse>> {
        self.goto_definition(params).await
    }

    async fn goto_type_definition(
        &self,
        params: request::GotoTypeDefinitionParams,
    ) -> Result<Option<request::GotoTypeDefinitionResponse>> {
        let p = params.text_document_position_params;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(Target::Symbol(key)) = data.reference_at(offset).map(|r| r.target.clone()) else {
            return Ok(None);
        };
        let Some(sym) = st.index.symbol(&key) else {
            return Ok(None);
        };
        let target = if sym.kind.is_contract_like()
            || matches!(
                sym.kind,
                SymbolKind::Struct | SymbolKind::Enum | SymbolKind::Udvt
            ) {
            Some(sym)
        } else {
            sym.type_target.as_ref().and_then(|k| st.index.symbol(k))
        };
        Ok(target
            .and_then(|s| symbol_location(&st.index, s))
            .map(GotoDefinitionResponse::Scalar))
    }

    async fn goto_implementation(
        &self,
        params: request::GotoImplementationParams,
    ) -> Result<Option<request::GotoImplementationResponse>> {
        let p = params.text_document_position_params;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(Target::Symbol(key)) = data.reference_at(offset).map(|r| r.target.clone()) else {
            return Ok(None);
        };
        let locations: Vec<Location> = st
            .index
            .implementations(&key)
            .into_iter()
            .filter_map(|s| symbol_location(&st.index, s))
            .collect();
        Ok(Some(GotoDefinitionResponse::Array(locations)))
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        let Some(reference) = data.reference_at(offset) else {
            return Ok(None);
        };
        let st = self.lock();
        Ok(
            hover_markdown(&st.index, &reference.target).map(|value| Hover {
                contents: HoverContents::Markup(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value,
                }),
                range: Some(data.line_index.range(
                    &data.text,
                    reference.range.start,
                    reference.range.end,
                )),
            }),
        )
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        let Some(Target::Symbol(key)) = data.reference_at(offset).map(|r| r.target.clone()) else {
            return Ok(None);
        };
        let st = self.lock();
        let mut out = Vec::new();
        for (path, range) in st.index.references(&key) {
            let is_decl = *path == *key.path && range.start as u32 == key.offset;
            if is_decl && !params.context.include_declaration {
                continue;
            }
            if let Some(f) = st.index.files.get(&path)
                && let Some(loc) = location(f, &range)
            {
                out.push(loc);
            }
        }
        Ok(Some(out))
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        let Some((data, offset)) = self.file_and_offset(&params.text_document.uri, params.position)
        else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(reference) = data.reference_at(offset) else {
            return Err(RpcError::invalid_params(
                "nothing renameable here: not a declared name",
            ));
        };
        let Target::Symbol(key) = &reference.target else {
            return Err(RpcError::invalid_params("builtins cannot be renamed"));
        };
        if st
            .config
            .as_ref()
            .is_some_and(|c| c.is_dependency(&key.path))
        {
            return Err(RpcError::invalid_params(format!(
                "`{}` is declared in a dependency ({}) and cannot be renamed",
                data.text.get(reference.range.clone()).unwrap_or(""),
                key.path.display()
            )));
        }
        let Some(sym) = st.index.symbol(key) else {
            return Ok(None);
        };
        if matches!(
            sym.kind,
            SymbolKind::Constructor | SymbolKind::Fallback | SymbolKind::Receive
        ) {
            return Err(RpcError::invalid_params(format!(
                "a {} has no name to rename",
                sym.kind.describe()
            )));
        }
        Ok(Some(PrepareRenameResponse::RangeWithPlaceholder {
            range: data
                .line_index
                .range(&data.text, reference.range.start, reference.range.end),
            placeholder: sym.name.clone(),
        }))
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let p = params.text_document_position.clone();
        if !is_identifier(&params.new_name) {
            return Err(RpcError::invalid_params(format!(
                "`{}` is not a valid Solidity identifier",
                params.new_name
            )));
        }
        self.prepare_rename(p.clone()).await?;
        let refs = self
            .references(ReferenceParams {
                text_document_position: p,
                work_done_progress_params: Default::default(),
                partial_result_params: Default::default(),
                context: ReferenceContext {
                    include_declaration: true,
                },
            })
            .await?
            .unwrap_or_default();
        // References come grouped by file, files in path order: keep that order.
        let mut by_file: Vec<(Url, Vec<TextEdit>)> = Vec::new();
        for loc in refs {
            let edit = TextEdit {
                range: loc.range,
                new_text: params.new_name.clone(),
            };
            match by_file.last_mut() {
                Some((uri, edits)) if *uri == loc.uri => edits.push(edit),
                _ => by_file.push((loc.uri, vec![edit])),
            }
        }
        if self.lock().document_changes {
            let edits = by_file
                .into_iter()
                .map(|(uri, edits)| TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier { uri, version: None },
                    edits: edits.into_iter().map(OneOf::Left).collect(),
                })
                .collect();
            return Ok(Some(WorkspaceEdit {
                document_changes: Some(DocumentChanges::Edits(edits)),
                ..Default::default()
            }));
        }
        Ok(Some(WorkspaceEdit {
            changes: Some(by_file.into_iter().collect()),
            ..Default::default()
        }))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        let items = self.completions(&p.text_document.uri, p.position);
        Ok(Some(CompletionResponse::Array(items)))
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        let p = params.text_document_position_params;
        let Ok(path) = p.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(doc) = st.docs.get(&path) else {
            return Ok(None);
        };
        let text = doc.text.clone();
        let offset = doc.line_index.offset(&text, p.position);
        // Find the unmatched `(` before the cursor and count commas at depth 0.
        let bytes = text.as_bytes();
        let (mut depth, mut commas, mut i) = (0i32, 0u32, offset);
        let open = loop {
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
            match bytes[i] {
                b')' | b']' | b'}' => depth += 1,
                b'(' | b'[' | b'{' if depth > 0 => depth -= 1,
                b'(' => break i,
                b',' if depth == 0 => commas += 1,
                b';' | b'{' | b'[' if depth == 0 => return Ok(None),
                _ => {}
            }
        };
        let name_end = text[..open].trim_end().len();
        let name_start = text[..name_end]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .map_or(0, |i| i + 1);
        let name = &text[name_start..name_end];
        if name.is_empty() {
            return Ok(None);
        }
        let Some(data) = st.index.files.get(&path) else {
            return Ok(None);
        };
        let in_data = name_start.min(data.text.len());
        let by_ref = data.reference_at(in_data).and_then(|r| match &r.target {
            Target::Symbol(k) if data.text.get(r.range.clone()) == Some(name) => st.index.symbol(k),
            _ => None,
        });
        let candidates: Vec<&Symbol> = match by_ref {
            Some(s) => vec![s],
            None => {
                let mut v: Vec<&Symbol> = visible_symbols(&st.index, data, in_data)
                    .into_iter()
                    .filter(|s| {
                        s.name == name
                            && (s.kind.is_function_like()
                                || matches!(
                                    s.kind,
                                    SymbolKind::Event | SymbolKind::Error | SymbolKind::Struct
                                ))
                    })
                    .collect();
                if v.is_empty() {
                    v = st
                        .index
                        .files
                        .values()
                        .flat_map(|f| f.symbols.iter())
                        .filter(|s| s.name == name && s.kind.is_function_like())
                        .take(8)
                        .collect();
                }
                v
            }
        };
        if candidates.is_empty() {
            return Ok(None);
        }
        let signatures = candidates
            .iter()
            .map(|s| SignatureInformation {
                label: s.signature.clone(),
                documentation: s.doc.clone().map(|d| {
                    Documentation::MarkupContent(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value: d,
                    })
                }),
                parameters: Some(
                    s.param_labels
                        .iter()
                        .map(|l| ParameterInformation {
                            label: ParameterLabel::Simple(l.clone()),
                            documentation: None,
                        })
                        .collect(),
                ),
                active_parameter: Some(commas),
            })
            .collect();
        Ok(Some(SignatureHelp {
            signatures,
            active_signature: Some(0),
            active_parameter: Some(commas),
        }))
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(data) = st.index.files.get(&path) else {
            return Ok(None);
        };
        let out = data
            .symbols
            .iter()
            .filter(|s| s.container.is_none() && is_outline_item(s) && s.kind != SymbolKind::Field)
            .map(|s| outline_node(data, s))
            .collect();
        Ok(Some(DocumentSymbolResponse::Nested(out)))
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<Vec<SymbolInformation>>> {
        let query = params.query.to_lowercase();
        let st = self.lock();
        let mut out = Vec::new();
        let mut files: Vec<&Arc<FileData>> = st.index.files.values().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for f in files {
            for s in &f.symbols {
                if matches!(
                    s.kind,
                    SymbolKind::Local | SymbolKind::Parameter | SymbolKind::ReturnParameter
                ) {
                    continue;
                }
                if !s.name.to_lowercase().contains(&query) {
                    continue;
                }
                let Some(location) = location(f, &s.name_range) else {
                    continue;
                };
                #[allow(deprecated)]
                out.push(SymbolInformation {
                    name: s.name.clone(),
                    kind: lsp_symbol_kind(s.kind),
                    tags: None,
                    deprecated: None,
                    location,
                    container_name: s.container_name.clone(),
                });
                if out.len() >= 500 {
                    return Ok(Some(out));
                }
            }
        }
        Ok(Some(out))
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(data) = st.index.files.get(&path) else {
            return Ok(None);
        };
        let mut tokens = Vec::new();
        let (mut prev_line, mut prev_col) = (0u32, 0u32);
        let mut last_end = 0usize;
        for r in &data.references {
            if r.range.start < last_end {
                continue;
            }
            let Target::Symbol(key) = &r.target else {
                continue;
            };
            let Some(sym) = st.index.symbol(key) else {
                continue;
            };
            let range = data
                .line_index
                .range(&data.text, r.range.start, r.range.end);
            if range.start.line != range.end.line {
                continue;
            }
            let is_decl = *key.path == *data.path && key.offset as usize == r.range.start;
            let delta_line = range.start.line - prev_line;
            let delta_start = if delta_line == 0 {
                range.start.character - prev_col
            } else {
                range.start.character
            };
            tokens.push(SemanticToken {
                delta_line,
                delta_start,
                length: range.end.character - range.start.character,
                token_type: token_type(sym.kind),
                token_modifiers_bitset: u32::from(is_decl),
            });
            prev_line = range.start.line;
            prev_col = range.start.character;
            last_end = r.range.end;
        }
        Ok(Some(SemanticTokensResult::Tokens(SemanticTokens {
            result_id: None,
            data: tokens,
        })))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let mut st = self.lock();
        let State { index, gas, .. } = &mut *st;
        let Some(data) = index.files.get(&path) else {
            return Ok(None);
        };
        let start = data.line_index.offset(&data.text, params.range.start);
        let end = data.line_index.offset(&data.text, params.range.end);
        let mut hints = Vec::new();
        for hint in gas.hints(data, start..end) {
            hints.push(InlayHint {
                position: data.line_index.position(&data.text, hint.offset),
                label: InlayHintLabel::String(hint.label),
                kind: None,
                text_edits: None,
                tooltip: Some(InlayHintTooltip::String(hint.tooltip)),
                padding_left: Some(true),
                padding_right: Some(true),
                data: None,
            });
        }
        for call in data
            .calls
            .iter()
            .filter(|c| c.range.start <= end && c.range.end >= start)
        {
            if call.args.len() != call.params.len() {
                continue;
            }
            for (arg, param) in call.args.iter().zip(&call.params) {
                let arg_text = data.text.get(arg.clone()).unwrap_or("");
                if param.is_empty()
                    || arg_text == param
                    || arg_text.ends_with(&format!(".{param}"))
                    || arg.start < start
                    || arg.start > end
                {
                    continue;
                }
                hints.push(InlayHint {
                    position: data.line_index.position(&data.text, arg.start),
                    label: InlayHintLabel::String(format!("{param}:")),
                    kind: Some(InlayHintKind::PARAMETER),
                    text_edits: None,
                    tooltip: None,
                    padding_left: None,
                    padding_right: Some(true),
                    data: None,
                });
            }
        }
        Ok(Some(hints))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        Ok(st.index.files.get(&path).map(|d| run_test_lenses(d)))
    }

    async fn execute_command(
        &self,
        params: ExecuteCommandParams,
    ) -> Result<Option<serde_json::Value>> {
        if params.command != RUN_TEST_COMMAND {
            return Err(RpcError::invalid_params(format!(
                "unknown command `{}`",
                params.command
            )));
        }
        let Some(name) = params
            .arguments
            .first()
            .and_then(|v| v.as_str())
            .map(String::from)
        else {
            return Err(RpcError::invalid_params(
                "forja.runTest needs the test name as first argument",
            ));
        };
        let (exe, root) = {
            let st = self.lock();
            let exe = st
                .forja_exe
                .clone()
                .or_else(|| std::env::current_exe().ok());
            (exe, st.config.as_ref().map(|c| c.root.clone()))
        };
        let Some(exe) = exe else {
            return Err(RpcError::internal_error());
        };
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args(["test", "--match-test", &name]);
        if let Some(root) = &root {
            cmd.current_dir(root);
        }
        let output = cmd.output().await.map_err(|e| RpcError {
            code: tower_lsp::jsonrpc::ErrorCode::InternalError,
            message: format!("could not run {} test: {e}", exe.display()).into(),
            data: None,
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        self.client
            .log_message(MessageType::INFO, format!("{stdout}{stderr}"))
            .await;
        let verdict = if output.status.success() {
            "passed"
        } else {
            "failed"
        };
        self.client
            .show_message(
                MessageType::INFO,
                format!("forja test --match-test {name}: {verdict}"),
            )
            .await;
        Ok(Some(
            serde_json::json!({ "success": output.status.success(), "stdout": stdout, "stderr": stderr }),
        ))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri.clone();
        let Ok(path) = uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(doc) = st.docs.get(&path) else {
            return Ok(None);
        };
        let mut actions = Vec::new();
        let edit = |uri: &Url, range: Range, text: String| WorkspaceEdit {
            changes: Some(HashMap::from([(
                uri.clone(),
                vec![TextEdit {
                    range,
                    new_text: text,
                }],
            )])),
            ..Default::default()
        };
        if !doc.text.contains("SPDX-License-Identifier") {
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: "Add SPDX license identifier".into(),
                kind: Some(CodeActionKind::QUICKFIX),
                edit: Some(edit(
                    &uri,
                    Range::default(),
                    "// SPDX-License-Identifier: UNLICENSED\n".into(),
                )),
                ..Default::default()
            }));
        }
        if let Some(data) = st.index.files.get(&path)
            && *data.text == *doc.text
        {
            let offset = data.line_index.offset(&data.text, params.range.start);
            // Functions at the cursor that shadow a base function without `override`.
            for sym in data.symbols.iter().filter(|s| {
                s.kind == SymbolKind::Function
                    && s.full_range.start <= offset
                    && offset <= s.full_range.end
                    && !s.is_override
            }) {
                let Some(contract) = sym.container.as_ref().and_then(|c| st.index.symbol(c)) else {
                    continue;
                };
                let base_fns: Vec<&Symbol> = contract
                    .supers
                    .iter()
                    .filter_map(|b| st.index.files.get(&*b.path).map(|f| (b, f)))
                    .flat_map(|(b, f)| {
                        f.symbols
                            .iter()
                            .filter(move |s| s.container.as_ref() == Some(b))
                    })
                    .filter(|s| {
                        s.name == sym.name
                            && s.params.len() == sym.params.len()
                            && s.kind == SymbolKind::Function
                    })
                    .collect();
                if base_fns.is_empty() {
                    continue;
                }
                if let Some(at) = override_insert_offset(&data.text, sym) {
                    let pos = data.line_index.position(&data.text, at);
                    actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                        title: format!("Add `override` to `{}`", sym.name),
                        kind: Some(CodeActionKind::QUICKFIX),
                        edit: Some(edit(&uri, Range::new(pos, pos), " override".into())),
                        ..Default::default()
                    }));
                }
                for base in base_fns
                    .iter()
                    .filter(|b| !b.is_virtual && b.kind == SymbolKind::Function)
                {
                    let Some(bf) = st.index.files.get(&*base.key.path) else {
                        continue;
                    };
                    if st
                        .config
                        .as_ref()
                        .is_some_and(|c| c.is_dependency(&bf.path))
                    {
                        continue;
                    }
                    if let (Some(at), Ok(buri)) = (
                        override_insert_offset(&bf.text, base),
                        Url::from_file_path(&bf.path),
                    ) {
                        let pos = bf.line_index.position(&bf.text, at);
                        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                            title: format!("Mark base `{}` as `virtual`", base.name),
                            kind: Some(CodeActionKind::QUICKFIX),
                            edit: Some(edit(&buri, Range::new(pos, pos), " virtual".into())),
                            ..Default::default()
                        }));
                    }
                }
            }
        }
        // Data location missing on a reference-type variable.
        for d in &params.context.diagnostics {
            if !d.message.contains("data location") {
                continue;
            }
            let start = doc.line_index.offset(&doc.text, d.range.start);
            let end = doc.line_index.offset(&doc.text, d.range.end);
            let Some(decl) = doc.text.get(start..end) else {
                continue;
            };
            // Insert before the variable name: after the last whitespace-separated type token.
            let Some(space) = decl.trim_end().rfind(char::is_whitespace) else {
                continue;
            };
            let pos = doc.line_index.position(&doc.text, start + space);
            for location in ["memory", "calldata", "storage"] {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: format!("Add data location `{location}`"),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![d.clone()]),
                    edit: Some(edit(&uri, Range::new(pos, pos), format!(" {location}"))),
                    ..Default::default()
                }));
            }
        }
        Ok(Some(actions))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(doc) = st.docs.get(&path) else {
            return Ok(None);
        };
        let expand_tabs = params
            .options
            .insert_spaces
            .then_some(params.options.tab_size as usize);
        let Some(formatted) = format::format(&doc.text, expand_tabs) else {
            return Ok(Some(Vec::new()));
        };
        let end = doc.line_index.position(&doc.text, doc.text.len());
        Ok(Some(vec![TextEdit {
            range: Range::new(Position::new(0, 0), end),
            new_text: formatted,
        }]))
    }
}
