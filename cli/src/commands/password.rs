//! `forja password hash`: a bcrypt hash for the `password` field of an RPC
//! credentials file, as Besu's `besu password hash` prints it.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::prompt;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PasswordCommand {
    /// Print the bcrypt hash of a password (asked for without echo unless given)
    Hash {
        /// The password; prefer the prompt, which keeps it out of the shell history
        #[arg(long)]
        password: Option<String>,
    },
}

pub(crate) fn run(command: PasswordCommand) -> anyhow::Result<ExitCode> {
    let PasswordCommand::Hash { password } = command;
    let password = match password {
        Some(password) => password,
        None => prompt::hidden("Password to hash: ")
            .context("no terminal to ask the password on; pass --password")?,
    };
    if password.is_empty() {
        bail!("an empty password cannot log in; choose one");
    }
    println!("{}", forja_rpc::auth::hash_password(&password)?);
    Ok(ExitCode::SUCCESS)
}
