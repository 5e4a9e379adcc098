//! Hidden terminal prompts for keys and passwords (the only place forja
//! reads them from a terminal). Nothing typed is ever echoed or printed.

use std::path::Path;

use anyhow::{Context as _, bail};
use forja_deploy::signer::PASSWORD_ENV;

/// Reads a line from the terminal without echoing it.
pub(crate) fn hidden(prompt: &str) -> anyhow::Result<String> {
    let term = console::Term::stderr();
    if !term.is_term() {
        bail!("standard error is not a terminal");
    }
    term.write_str(prompt)?;
    Ok(term.read_secure_line()?)
}

/// The [`forja_deploy::signer::PasswordSource`] of the terminal.
pub(crate) fn keystore_password(keystore: &Path) -> anyhow::Result<String> {
    hidden(&format!("Password for {}: ", keystore.display()))
        .with_context(|| format!("no terminal to ask the password on; set {PASSWORD_ENV}"))
}

/// A new password, from `FORJA_KEYSTORE_PASSWORD` or typed twice.
pub(crate) fn new_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        if password.is_empty() {
            bail!("{PASSWORD_ENV} is empty; a keystore needs a password");
        }
        return Ok(password);
    }
    let first = hidden("New keystore password: ")
        .with_context(|| format!("no terminal to ask a password on; set {PASSWORD_ENV}"))?;
    if first.is_empty() {
        bail!("a keystore needs a non-empty password");
    }
    let second = hidden("Repeat the password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}
