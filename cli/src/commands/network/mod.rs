//! `forja network`: a network definition handed to the outside world.

use std::process::ExitCode;

pub mod export;

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Write the files that run this network on real nodes (Besu)
    Export(export::Args),
}

pub fn run(command: NetworkCommand) -> anyhow::Result<ExitCode> {
    match command {
        NetworkCommand::Export(args) => export::run(args),
    }
}
