//! Solidity compiler management: which solc builds exist on this machine,
//! installing new ones, and running one on a standard-JSON input.
//!
//! Bytecode only ever comes from the reference compiler, solc. It runs either
//! as a native binary (when one is configured or on PATH) or as solc's
//! WebAssembly build (from the npm `solc` package) under wasmtime, in-process.

use std::fmt;

/// One solc build able to compile a standard-JSON input.
///
/// Implementations must be usable from several threads: the build pipeline
/// compiles independent units in parallel.
pub trait Solc: Send + Sync + fmt::Debug {
    /// The exact compiler version, e.g. `0.8.30`.
    fn version(&self) -> &semver::Version;

    /// The full version string solc reports, e.g. `0.8.30+commit.73712a01`.
    fn long_version(&self) -> &str;

    /// Runs solc on a standard-JSON input and returns its standard-JSON output
    /// verbatim. Compilation errors are part of the output, not an `Err`: an
    /// `Err` means solc itself could not be run.
    fn compile_standard_json(&self, input: &str) -> Result<String, SolcError>;
}

/// solc could not be found, installed or run.
#[derive(Debug, thiserror::Error)]
pub enum SolcError {
    #[error("{0}")]
    Message(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

mod manager;
mod native;
mod soljson;
pub mod wasm;

pub use manager::{InstalledSolc, MIN_SUPPORTED, SolcEvent, SolcKind, SolcManager};
pub use native::NativeSolc;
