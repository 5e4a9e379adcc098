use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum SolcCommand {
    /// List installed compilers.
    List,
}

pub fn run(_cmd: SolcCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("forja solc is being written")
}
