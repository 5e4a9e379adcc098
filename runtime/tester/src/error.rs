//! Errors of the test executor.

use std::path::PathBuf;

/// Anything that stops a test run before tests produce results.
#[derive(Debug, thiserror::Error)]
pub enum TesterError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A test report file (`cache/test-report.json`) is not one.
    #[error("{} is not a forja test report: {source}", path.display())]
    Report {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// An artifact file is malformed.
    #[error("artifact {path}: {message}")]
    Artifact {
        /// The artifact file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A filter pattern (`--match-*`) is not a valid regex or glob.
    #[error("invalid pattern `{pattern}`: {message}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Why it was rejected.
        message: String,
    },
    /// The EVM reported an internal error.
    #[error("EVM error: {0}")]
    Evm(String),
    /// The network of `--network` could not start or stopped making progress.
    #[error("--network: {0}")]
    Network(String),
}
