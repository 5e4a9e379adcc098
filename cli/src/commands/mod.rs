//! One module per subcommand. Each exposes its clap `Args` and a `run`
//! function returning the process exit code.

pub(crate) mod approve;
pub(crate) mod audit;
pub(crate) mod bench;
pub(crate) mod build;
pub(crate) mod coverage;
pub(crate) mod deploy;
pub(crate) mod explorer;
pub(crate) mod keys;
pub(crate) mod lsp;
pub(crate) mod network;
pub(crate) mod new;
pub(crate) mod node;
pub(crate) mod node_data;
pub(crate) mod password;
pub(crate) mod promote;
pub(crate) mod release;
pub(crate) mod snapshot;
pub(crate) mod solc;
pub(crate) mod test;

/// The single-threaded runtime the deploy commands drive alloy with.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    use anyhow::Context as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Prints a top-level error with its chain of causes, as `error: …` lines.
pub(crate) fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
