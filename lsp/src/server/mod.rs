//! The server layer: the transport (tower-lsp over stdio or any byte
//! streams), LSP requests converted to calls into [`crate::ide`] and back
//! ([`convert`]), the document store and diagnostics ([`state`]), and when
//! analysis and solc run ([`schedule`]).

mod convert;
mod schedule;
mod state;

use crate::{
    analysis::{self, Extract, Overlays},
    format,
    ide::{self, inlay_hints::HintKind},
    index::FileData,
    line_index::LineIndex,
    project::{ExtraRemappings, Workspace},
};
use convert::{
    TOKEN_TYPES, lsp_completion, lsp_location, lsp_outline, lsp_semantic_tokens, lsp_symbol_kind,
    markdown,
};
use schedule::{analyze_and_publish, schedule_analysis, schedule_solc_check};
use state::{Document, State, merge};
use std::{
    collections::HashMap,
    path::PathBuf,
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
        schedule_solc_check(
            self.state.clone(),
            self.client.clone(),
            self.solc_running.clone(),
            saved,
        );
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

    /// Analyses `path` (and its importers) as soon as no analysis of it runs.
    fn schedule(&self, path: PathBuf) {
        schedule_analysis(self.state.clone(), self.client.clone(), path);
    }
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
        let st = self.lock();
        Ok(ide::navigation::definition(&st.index, &data, offset)
            .and_then(|at| lsp_location(&st.index, &at))
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
        Ok(ide::navigation::type_definition(&st.index, &data, offset)
            .and_then(|at| lsp_location(&st.index, &at))
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
        Ok(
            ide::navigation::implementations(&st.index, &data, offset).map(|found| {
                GotoDefinitionResponse::Array(
                    found
                        .iter()
                        .filter_map(|at| lsp_location(&st.index, at))
                        .collect(),
                )
            }),
        )
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        let st = self.lock();
        Ok(
            ide::hover::hover(&st.index, &data, offset).map(|(value, range)| Hover {
                contents: HoverContents::Markup(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value,
                }),
                range: Some(data.line_index.range(&data.text, range.start, range.end)),
            }),
        )
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        let st = self.lock();
        let include_declaration = params.context.include_declaration;
        Ok(
            ide::navigation::references(&st.index, &data, offset, include_declaration).map(
                |found| {
                    found
                        .iter()
                        .filter_map(|at| lsp_location(&st.index, at))
                        .collect()
                },
            ),
        )
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
        let renameable = ide::rename::prepare_rename(&st.index, st.config.as_ref(), &data, offset)
            .map_err(|refused| RpcError::invalid_params(refused.0))?;
        Ok(renameable.map(
            |(range, placeholder)| PrepareRenameResponse::RangeWithPlaceholder {
                range: data.line_index.range(&data.text, range.start, range.end),
                placeholder,
            },
        ))
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let p = params.text_document_position;
        let Some((data, offset)) = self.file_and_offset(&p.text_document.uri, p.position) else {
            return Ok(None);
        };
        let st = self.lock();
        let by_file = ide::rename::rename(
            &st.index,
            st.config.as_ref(),
            &data,
            offset,
            &params.new_name,
        )
        .map_err(|refused| RpcError::invalid_params(refused.0))?;
        // Files in path order, edits in text order: keep that order.
        let mut edits: Vec<(Url, Vec<TextEdit>)> = Vec::new();
        for (path, ranges) in by_file {
            let (Some(file), Ok(uri)) = (st.index.files.get(&path), Url::from_file_path(&path))
            else {
                continue;
            };
            let file_edits = ranges
                .into_iter()
                .map(|r| TextEdit {
                    range: file.line_index.range(&file.text, r.start, r.end),
                    new_text: params.new_name.clone(),
                })
                .collect();
            edits.push((uri, file_edits));
        }
        if st.document_changes {
            let edits = edits
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
            changes: Some(edits.into_iter().collect()),
            ..Default::default()
        }))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        let Ok(path) = p.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(doc) = st.docs.get(&path) else {
            return Ok(Some(CompletionResponse::Array(Vec::new())));
        };
        let offset = doc.line_index.offset(&doc.text, p.position);
        let data = st.index.files.get(&path).map(|d| &**d);
        let items = ide::completion::completions(
            &st.index,
            st.config.as_ref(),
            &path,
            data,
            &doc.text,
            offset,
        );
        Ok(Some(CompletionResponse::Array(
            items.into_iter().map(lsp_completion).collect(),
        )))
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        let p = params.text_document_position_params;
        let Ok(path) = p.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let (Some(doc), Some(data)) = (st.docs.get(&path), st.index.files.get(&path)) else {
            return Ok(None);
        };
        let offset = doc.line_index.offset(&doc.text, p.position);
        let Some(help) = ide::signature_help::signature_help(&st.index, data, &doc.text, offset)
        else {
            return Ok(None);
        };
        let active = help.active_parameter;
        let signatures = help
            .signatures
            .into_iter()
            .map(|s| SignatureInformation {
                label: s.label,
                documentation: s.doc.map(markdown),
                parameters: Some(
                    s.parameters
                        .into_iter()
                        .map(|l| ParameterInformation {
                            label: ParameterLabel::Simple(l),
                            documentation: None,
                        })
                        .collect(),
                ),
                active_parameter: Some(active),
            })
            .collect();
        Ok(Some(SignatureHelp {
            signatures,
            active_signature: Some(0),
            active_parameter: Some(active),
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
        let outline = ide::symbols::outline(data)
            .into_iter()
            .map(|item| lsp_outline(data, item))
            .collect();
        Ok(Some(DocumentSymbolResponse::Nested(outline)))
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<Vec<SymbolInformation>>> {
        let st = self.lock();
        #[allow(deprecated)]
        let found = ide::symbols::workspace_symbols(&st.index, &params.query)
            .into_iter()
            .filter_map(|s| {
                Some(SymbolInformation {
                    location: lsp_location(&st.index, &s.location)?,
                    name: s.name,
                    kind: lsp_symbol_kind(s.kind),
                    tags: None,
                    deprecated: None,
                    container_name: s.container_name,
                })
            })
            .collect();
        Ok(Some(found))
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
        let tokens = ide::semantic_tokens::semantic_tokens(&st.index, data);
        Ok(Some(SemanticTokensResult::Tokens(SemanticTokens {
            result_id: None,
            data: lsp_semantic_tokens(data, tokens),
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
        let hints = ide::inlay_hints::inlay_hints(gas, data, start..end)
            .into_iter()
            .map(|hint| {
                let is_gas = hint.kind == HintKind::Gas;
                InlayHint {
                    position: data.line_index.position(&data.text, hint.offset),
                    label: InlayHintLabel::String(hint.label),
                    kind: (!is_gas).then_some(InlayHintKind::PARAMETER),
                    text_edits: None,
                    tooltip: hint.tooltip.map(InlayHintTooltip::String),
                    padding_left: is_gas.then_some(true),
                    padding_right: Some(true),
                    data: None,
                }
            })
            .collect();
        Ok(Some(hints))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let Ok(path) = params.text_document.uri.to_file_path() else {
            return Ok(None);
        };
        let st = self.lock();
        let Some(data) = st.index.files.get(&path) else {
            return Ok(None);
        };
        let lenses = ide::lenses::test_lenses(data)
            .into_iter()
            .map(|lens| CodeLens {
                range: data
                    .line_index
                    .range(&data.text, lens.range.start, lens.range.end),
                command: Some(Command {
                    title: "▶ Run test".into(),
                    command: RUN_TEST_COMMAND.into(),
                    arguments: Some(vec![
                        serde_json::Value::String(lens.test_name),
                        serde_json::Value::String(data.path.display().to_string()),
                    ]),
                }),
                data: None,
            })
            .collect();
        Ok(Some(lenses))
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
        let diagnostics: Vec<(std::ops::Range<usize>, String)> = params
            .context
            .diagnostics
            .iter()
            .map(|d| {
                let start = doc.line_index.offset(&doc.text, d.range.start);
                let end = doc.line_index.offset(&doc.text, d.range.end);
                (start..end, d.message.clone())
            })
            .collect();
        let offset = doc.line_index.offset(&doc.text, params.range.start);
        let fixes = ide::code_actions::code_actions(
            &st.index,
            st.config.as_ref(),
            &path,
            &doc.text,
            offset,
            &diagnostics,
        );
        let mut actions = Vec::new();
        for fix in fixes {
            // The open buffer for this file, the index for another one.
            let position = if fix.path == path {
                doc.line_index.position(&doc.text, fix.offset)
            } else {
                let Some(file) = st.index.files.get(&fix.path) else {
                    continue;
                };
                file.line_index.position(&file.text, fix.offset)
            };
            let Ok(fix_uri) = Url::from_file_path(&fix.path) else {
                continue;
            };
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: fix
                    .fixes_diagnostic
                    .map(|i| vec![params.context.diagnostics[i].clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(
                        fix_uri,
                        vec![TextEdit {
                            range: Range::new(position, position),
                            new_text: fix.insert,
                        }],
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            }));
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
