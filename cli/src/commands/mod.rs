//! One module per subcommand. Each exposes its clap `Args` and a `run`
//! function returning the process exit code.

pub mod approve;
pub mod audit;
pub mod build;
pub mod deploy;
pub mod keys;
pub mod lsp;
pub mod new;
pub mod node;
pub mod promote;
pub mod snapshot;
pub mod solc;
pub mod test;

/// Prints a top-level error with its chain of causes, as `error: …` lines.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
