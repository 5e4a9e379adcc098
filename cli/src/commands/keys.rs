//! `forja keys new|import|list`: encrypted JSON keystores (scrypt). Keys and
//! passwords are never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use alloy::signers::local::PrivateKeySigner;
use anyhow::Context as _;

use forja_deploy::signer;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a new random key in an encrypted keystore.
    New {
        /// The keystore's name (its file is `<dir>/<name>.json`).
        name: String,
        #[command(flatten)]
        dir: KeystoreDir,
    },
    /// Encrypt an existing private key into a keystore. The key is read from
    /// an environment variable or typed (hidden), never from an argument.
    Import {
        name: String,
        /// An environment variable holding the hex private key.
        #[arg(long, value_name = "VAR")]
        private_key_env: Option<String>,
        #[command(flatten)]
        dir: KeystoreDir,
    },
    /// List keystores and their addresses.
    List {
        #[command(flatten)]
        dir: KeystoreDir,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct KeystoreDir {
    /// Keystore directory (default: $FORJA_HOME/keystores).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

impl KeystoreDir {
    fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.dir {
            Some(dir) => Ok(dir.clone()),
            None => signer::default_keystore_dir(),
        }
    }
}

pub(crate) fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::New { name, dir } => {
            let dir = dir.resolve()?;
            let key = PrivateKeySigner::random();
            let password = crate::prompt::new_password()?;
            let entry = signer::create_keystore(&dir, &name, &key, &password)?;
            println!(
                "Created keystore `{name}` for {} at {}",
                key.address(),
                entry.path.display()
            );
        }
        KeysCommand::Import {
            name,
            private_key_env,
            dir,
        } => {
            let dir = dir.resolve()?;
            let key = match private_key_env {
                Some(var) => {
                    let text = std::env::var(&var).with_context(|| format!("${var} is not set"))?;
                    signer::parse_private_key(&text)
                        .with_context(|| format!("${var} does not hold a private key"))?
                }
                None => {
                    let text = crate::prompt::hidden("Private key (hex, hidden): ")
                        .context("no terminal to type the key on; pass --private-key-env VAR")?;
                    signer::parse_private_key(&text).context("that is not a private key")?
                }
            };
            let password = crate::prompt::new_password()?;
            let entry = signer::create_keystore(&dir, &name, &key, &password)?;
            println!(
                "Imported {} into keystore `{name}` at {}",
                key.address(),
                entry.path.display()
            );
        }
        KeysCommand::List { dir } => {
            let dir = dir.resolve()?;
            let entries = signer::list_keystores(&dir)?;
            if entries.is_empty() {
                println!(
                    "No keystores in {} (create one with `forja keys new NAME`).",
                    dir.display()
                );
            }
            for entry in entries {
                let address = entry
                    .address
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "(address not stored)".into());
                println!("{:<20} {address}  {}", entry.name, entry.path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
