//! `forja lsp`: the Solidity language server over stdio.
use std::process::ExitCode;

/// Start the Solidity language server on stdin/stdout (editors launch this).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accepted for compatibility with editors that pass `--stdio`; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("could not start the language server's runtime: {e}"))?;
    runtime.block_on(forja_lsp::run_stdio());
    Ok(ExitCode::SUCCESS)
}
