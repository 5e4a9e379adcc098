//! One module per subcommand. Each exposes its clap `Args` and a `run`
//! function returning the process exit code.

pub mod approve;
pub mod audit;
pub mod bench;
pub mod build;
pub mod deploy;
pub mod keys;
pub mod lsp;
pub mod network;
pub mod new;
pub mod node;
pub mod password;
pub mod promote;
pub mod release;
pub mod snapshot;
pub mod solc;
pub mod test;

/// The single-threaded runtime the deploy commands drive alloy with.
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    use anyhow::Context as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Prints a top-level error with its chain of causes, as `error: …` lines.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
