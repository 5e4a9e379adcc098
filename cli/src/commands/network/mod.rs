//! `forja network`: operate a consortium network as a Besu operator does:
//! hand its definition to real nodes (export), admit nodes and vote
//! validators, against the in-process network of `forja node` or the
//! members' real endpoints.

pub(crate) mod admission;
pub(crate) mod endpoint;
pub(crate) mod export;
pub(crate) mod validators;

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCommand {
    /// Write the files that run this network on real nodes (Besu)
    Export(export::Args),
    /// Create a node's key (Besu's `key` file), print its enode and add it to
    /// the members' node allowlists (perm_addNodesToAllowlist)
    AddNode(admission::AddNodeArgs),
    /// Vote a validator in on each given validator endpoint and wait until
    /// the vote takes effect
    ProposeValidator(validators::VoteArgs),
    /// Vote a validator out on each given validator endpoint and wait until
    /// the vote takes effect
    RemoveValidator(validators::VoteArgs),
}

pub(crate) fn run(command: NetworkCommand) -> anyhow::Result<ExitCode> {
    match command {
        NetworkCommand::Export(args) => export::run(args),
        NetworkCommand::AddNode(args) => admission::run(args),
        NetworkCommand::ProposeValidator(args) => validators::run(args, true),
        NetworkCommand::RemoveValidator(args) => validators::run(args, false),
    }
}
