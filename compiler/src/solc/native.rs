//! A native `solc` binary, run as a process with `--standard-json`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::wasm::parse_long_version;
use super::{Solc, SolcError};

#[derive(Debug)]
pub struct NativeSolc {
    path: PathBuf,
    version: semver::Version,
    long_version: String,
}

impl NativeSolc {
    /// Runs `solc --version` and reads the version it reports.
    pub fn probe(path: &Path) -> Result<Self, SolcError> {
        let output = Command::new(path)
            .arg("--version")
            .output()
            .map_err(|source| SolcError::Io {
                context: format!("running {}", path.display()),
                source,
            })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let long_version = text
            .lines()
            .find_map(|line| line.strip_prefix("Version: "))
            .ok_or_else(|| {
                SolcError::Message(format!("{} did not report a solc version", path.display()))
            })?
            .trim()
            .to_string();
        let version = parse_long_version(&long_version)?;
        Ok(Self {
            path: path.to_path_buf(),
            version,
            long_version,
        })
    }
}

impl Solc for NativeSolc {
    fn version(&self) -> &semver::Version {
        &self.version
    }

    fn long_version(&self) -> &str {
        &self.long_version
    }

    fn compile_standard_json(&self, input: &str) -> Result<String, SolcError> {
        let io = |context: &str, source| SolcError::Io {
            context: format!("{context} {}", self.path.display()),
            source,
        };
        let mut child = Command::new(&self.path)
            .arg("--standard-json")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io("running", e))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        // Write from another thread: solc may fill its stdout pipe before
        // it has read all of a large input.
        let input = input.to_string();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().map_err(|e| io("waiting for", e))?;
        writer
            .join()
            .expect("writer thread")
            .map_err(|e| io("writing to", e))?;
        if !output.status.success() && output.stdout.is_empty() {
            return Err(SolcError::Message(format!(
                "{} failed: {}",
                self.path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        String::from_utf8(output.stdout)
            .map_err(|_| SolcError::Message("solc wrote output that is not UTF-8".into()))
    }
}
