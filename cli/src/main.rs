//! The `forja` binary. Commands stay thin: they parse arguments, call into the
//! library crates and render what comes back. Only this crate prints to the
//! terminal.
// The unit-test build links the dev-dependencies the end-to-end tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod prompt;
mod render;
mod watch;

#[derive(Debug, Parser)]
#[command(
    name = "forja",
    version,
    about = "Build, test, run and deploy smart contracts on permissioned EVM networks",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile the project's Solidity sources into artifacts in `out/`.
    Build(commands::build::Args),
    /// Run the project's Solidity tests.
    Test(commands::test::Args),
    /// Run the tests and write, check or diff their gas in `.gas-snapshot`
    /// (Foundry's format).
    Snapshot(commands::snapshot::Args),
    /// Run the tests and report line, statement, branch and function
    /// coverage of the project's contracts (summary table, LCOV).
    Coverage(commands::coverage::Args),
    /// Create a new project from a template.
    New(commands::new::Args),
    /// Run the Solidity language server on stdio.
    Lsp(commands::lsp::Args),
    /// Run a local permissioned network with a JSON-RPC endpoint.
    Node(commands::node::Args),
    /// Operate a consortium network: hand it to real Besu nodes (export),
    /// admit nodes, vote validators in and out.
    #[command(subcommand)]
    Network(commands::network::NetworkCommand),
    /// Serve the block explorer page for any JSON-RPC endpoint (`forja node` serves it at /explorer).
    Explorer(commands::explorer::Args),
    /// Stress the project's network or an RPC endpoint with bench.toml's workload.
    Bench(commands::bench::Args),
    /// Deploy deploy.toml's contracts to an environment (resumable, idempotent).
    Deploy(commands::deploy::Args),
    /// Bundle what HEAD would release (artifacts, deploy.toml, test
    /// evidence) into releases/<id>/.
    Release(commands::release::Args),
    /// Sign a release for an environment with an approver's key.
    Approve(commands::approve::Args),
    /// Deploy a release bundle to an environment, through the audit-log,
    /// bundle, test-evidence, approvals and source-chain gates.
    Promote(commands::promote::Args),
    /// Check the deployments audit log.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Manage encrypted keystores (new, import, list).
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Hash a password for an RPC credentials file (`forja node --rpc-http-authentication-credentials-file`).
    #[command(subcommand)]
    Password(commands::password::PasswordCommand),
    /// Manage Solidity compilers (install, list, which).
    #[command(subcommand)]
    Solc(commands::solc::SolcCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => commands::build::run(args),
        Command::Test(args) => commands::test::run(args),
        Command::Snapshot(args) => commands::snapshot::run(args),
        Command::Coverage(args) => commands::coverage::run(args),
        Command::New(args) => commands::new::run(args),
        Command::Lsp(args) => commands::lsp::run(args),
        Command::Node(args) => commands::node::run(args),
        Command::Network(cmd) => commands::network::run(cmd),
        Command::Explorer(args) => commands::explorer::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Solc(cmd) => commands::solc::run(cmd),
        Command::Deploy(args) => commands::deploy::run(args),
        Command::Release(args) => commands::release::run(args),
        Command::Promote(args) => commands::promote::run(args),
        Command::Approve(args) => commands::approve::run(args),
        Command::Audit(cmd) => commands::audit::run(cmd),
        Command::Keys(cmd) => commands::keys::run(cmd),
        Command::Password(cmd) => commands::password::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            commands::print_error(&err);
            ExitCode::FAILURE
        }
    }
}
