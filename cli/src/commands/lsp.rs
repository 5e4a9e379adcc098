//! `forja lsp`: the Solidity language server over stdio.
use std::process::ExitCode;
use std::sync::Arc;

/// Start the Solidity language server on stdin/stdout (editors launch this).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Accepted for compatibility with editors that pass `--stdio`; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("could not start the language server's runtime: {e}"))?;
    // The server resolves `forja-std/` like `forja build` does, for solar while
    // typing and for solc on save.
    let options = forja_lsp::ServerOptions {
        extra_remappings: Some(Arc::new(|project: &forja_compiler::Project| {
            super::build::builtin_remappings(project).unwrap_or_else(|e| {
                tracing::warn!("forja-std is unavailable to the language server: {e:#}");
                Vec::new()
            })
        })),
    };
    runtime.block_on(forja_lsp::run_stdio(options));
    // After `exit` tokio's stdin reader is still blocked in read(2) on a
    // blocking thread; waiting for it would keep the process alive until the
    // editor closes the pipe.
    runtime.shutdown_background();
    Ok(ExitCode::SUCCESS)
}
