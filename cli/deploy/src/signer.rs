//! Signing keys: dev mnemonic accounts, encrypted JSON keystores (scrypt,
//! via alloy) and private keys from environment variables. Keys and
//! passwords are never printed, logged or written in clear.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use anyhow::{Context as _, bail};

use crate::config::SignerConfig;

/// The variable CI sets instead of typing a keystore password.
pub const PASSWORD_ENV: &str = "FORJA_KEYSTORE_PASSWORD";

/// Address of dev account `index` of the dev mnemonic.
pub fn dev_account(index: u32) -> anyhow::Result<PrivateKeySigner> {
    MnemonicBuilder::<English>::default()
        .phrase(crate::DEV_MNEMONIC)
        .index(index)
        .context("dev account index")?
        .build()
        .context("deriving a dev account")
}

/// Where keystores live unless told otherwise: `$FORJA_HOME/keystores`.
pub fn default_keystore_dir() -> anyhow::Result<PathBuf> {
    let home = match std::env::var_os("FORJA_HOME") {
        Some(home) => PathBuf::from(home),
        None => dirs::home_dir()
            .context("no home directory; set FORJA_HOME")?
            .join(".forja"),
    };
    Ok(home.join("keystores"))
}

/// Asks for a keystore's password when no environment variable holds it
/// (the cli prompts on the terminal; CI has the variable).
pub type PasswordSource<'a> = &'a dyn Fn(&Path) -> anyhow::Result<String>;

/// A [`PasswordSource`] for where nobody can be asked.
pub fn no_prompt(keystore: &Path) -> anyhow::Result<String> {
    bail!(
        "no password for keystore {}: set {PASSWORD_ENV}",
        keystore.display()
    )
}

/// Loads the signer an environment is configured with. `root` resolves
/// relative keystore paths.
pub fn load(
    config: &SignerConfig,
    root: &Path,
    ask: PasswordSource<'_>,
) -> anyhow::Result<PrivateKeySigner> {
    match config {
        SignerConfig::DevAccount(index) => dev_account(*index),
        SignerConfig::PrivateKeyEnv(var) => {
            let text = std::env::var(var).with_context(|| {
                format!("the signer's private key is read from ${var}, which is not set")
            })?;
            parse_private_key(&text).with_context(|| format!("${var} does not hold a private key"))
        }
        SignerConfig::Keystore { path, password_env } => {
            let path = resolve_keystore_path(path, root)?;
            if !path.is_file() {
                bail!(
                    "keystore {} does not exist (create one with `forja keys new NAME --dir DIR` or `forja keys import`)",
                    path.display()
                );
            }
            let password = password(password_env.as_deref(), &path, ask)?;
            decrypt(&path, &password)
        }
    }
}

/// `name` (a keystore in the default directory), `~/…`, or a path relative
/// to the project root.
pub fn resolve_keystore_path(path: &Path, root: &Path) -> anyhow::Result<PathBuf> {
    let text = path.to_string_lossy();
    if let Some(rest) = text.strip_prefix("~/") {
        return Ok(dirs::home_dir().context("no home directory")?.join(rest));
    }
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    if path.components().count() == 1 && path.extension().is_none() {
        return Ok(default_keystore_dir()?.join(format!("{text}.json")));
    }
    Ok(root.join(path))
}

/// Decrypts a keystore; a wrong password is reported as such.
pub fn decrypt(path: &Path, password: &str) -> anyhow::Result<PrivateKeySigner> {
    if !path.is_file() {
        bail!(
            "keystore {} does not exist (create one with `forja keys new` or `forja keys import`)",
            path.display()
        );
    }
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|err| {
        let text = err.to_string();
        if text.contains("Mac Mismatch") || text.contains("MacMismatch") {
            anyhow::anyhow!("wrong password for keystore {}", path.display())
        } else {
            anyhow::anyhow!("cannot decrypt keystore {}: {text}", path.display())
        }
    })
}

/// A hex private key (with or without `0x`).
pub fn parse_private_key(text: &str) -> anyhow::Result<PrivateKeySigner> {
    let text = text.trim();
    let bytes: B256 = text
        .strip_prefix("0x")
        .unwrap_or(text)
        .parse()
        .map_err(|_| anyhow::anyhow!("not 32 bytes of hex"))?;
    PrivateKeySigner::from_bytes(&bytes).map_err(|_| anyhow::anyhow!("not a valid secp256k1 key"))
}

/// The keystore password: from `var` (or `FORJA_KEYSTORE_PASSWORD`), else
/// from `ask`.
pub fn password(
    var: Option<&str>,
    keystore: &Path,
    ask: PasswordSource<'_>,
) -> anyhow::Result<String> {
    for var in var.into_iter().chain([PASSWORD_ENV]) {
        if let Ok(password) = std::env::var(var) {
            return Ok(password);
        }
    }
    ask(keystore).with_context(|| {
        format!(
            "no password for {}; set {}",
            keystore.display(),
            var.unwrap_or(PASSWORD_ENV)
        )
    })
}

/// A keystore on disk, as `forja keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreEntry {
    pub name: String,
    pub path: PathBuf,
    /// Read from the keystore's (unencrypted) `address` field.
    pub address: Option<Address>,
}

/// Encrypts `key` under `password` into `<dir>/<name>.json`, refusing to
/// overwrite. The file also carries the address in clear (as geth's do) so
/// that `forja keys list` needs no password.
pub fn create_keystore(
    dir: &Path,
    name: &str,
    key: &PrivateKeySigner,
    password: &str,
) -> anyhow::Result<KeystoreEntry> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!("keystore name `{name}`: use letters, digits, `-`, `_` and `.`");
    }
    let file_name = format!("{name}.json");
    let path = dir.join(&file_name);
    if path.exists() {
        bail!("{} already exists; pick another name", path.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut rng = alloy::signers::k256::elliptic_curve::rand_core::OsRng;
    PrivateKeySigner::encrypt_keystore(
        dir,
        &mut rng,
        key.credential().to_bytes(),
        password,
        Some(&file_name),
    )
    .with_context(|| format!("writing keystore {}", path.display()))?;
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    json["address"] = format!("{:x}", key.address())
        .trim_start_matches("0x")
        .into();
    crate::fsutil::write_durably(&path, serde_json::to_string(&json)?.as_bytes())?;
    restrict_permissions(&path)?;
    Ok(KeystoreEntry {
        name: name.to_string(),
        path,
        address: Some(key.address()),
    })
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// The keystores in `dir`, by name.
pub fn list_keystores(dir: &Path) -> anyhow::Result<Vec<KeystoreEntry>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(json) = std::fs::read_to_string(&path)
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(serde_json::from_str::<serde_json::Value>(&t)?))
        else {
            continue;
        };
        if json.get("crypto").is_none() && json.get("Crypto").is_none() {
            continue;
        }
        let address = json["address"].as_str().and_then(|a| {
            let a = a.strip_prefix("0x").unwrap_or(a);
            a.parse::<Address>().ok()
        });
        entries.push(KeystoreEntry {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path,
            address,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_accounts_match_the_well_known_addresses() {
        assert_eq!(
            dev_account(0).unwrap().address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap()
        );
        assert_eq!(
            dev_account(1).unwrap().address(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
                .parse::<Address>()
                .unwrap()
        );
    }

    #[test]
    fn keystore_round_trip_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let key = dev_account(3).unwrap();
        let entry = create_keystore(dir.path(), "deployer", &key, "s3cret").unwrap();
        assert_eq!(entry.address, Some(key.address()));
        let text = std::fs::read_to_string(&entry.path).unwrap();
        let secret = hex::encode(key.credential().to_bytes());
        assert!(!text.contains(&secret), "the key is stored encrypted");
        assert!(!text.contains("s3cret"));

        assert_eq!(
            decrypt(&entry.path, "s3cret").unwrap().address(),
            key.address()
        );
        let wrong = decrypt(&entry.path, "nope").unwrap_err().to_string();
        assert!(wrong.contains("wrong password"), "{wrong}");

        assert!(create_keystore(dir.path(), "deployer", &key, "x").is_err());
        assert!(create_keystore(dir.path(), "../evil", &key, "x").is_err());
        let listed = list_keystores(dir.path()).unwrap();
        assert_eq!(listed, vec![entry]);
    }

    #[test]
    fn private_keys_parse_with_or_without_prefix() {
        let hex_key = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let with = parse_private_key(&format!("0x{hex_key}\n")).unwrap();
        let without = parse_private_key(hex_key).unwrap();
        assert_eq!(with.address(), dev_account(0).unwrap().address());
        assert_eq!(with.address(), without.address());
        assert!(parse_private_key("0x1234").is_err());
    }
}
