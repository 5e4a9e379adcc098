//! forja-tester: runs Solidity tests written for Foundry.
//!
//! Test contracts are deployed into a fresh in-memory EVM (revm), `setUp()`
//! runs once, and each test runs on a copy of the post-`setUp` state under an
//! inspector that implements Foundry's cheatcodes (`Vm` at
//! `0x7109…DD12D`), `console.log`, traces and gas recording.
//! Fuzz tests get ABI-aware random inputs with shrinking; invariant tests get
//! random call sequences. [`network`] runs the same tests as signed
//! transactions on an in-process forja network (QBFT validators,
//! permissioning on), with the cheatcode inspector attached to every block
//! every node executes. The crate never prints: it returns
//! [`report::SuiteResult`]s that the `forja` binary renders.
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod artifacts;
mod backend;
mod cheat_error;
mod cheatcodes;
mod cheatcodes_allocs;
mod cheatcodes_assert;
mod cheatcodes_assume;
mod cheatcodes_block;
mod cheatcodes_chain;
mod cheatcodes_create;
mod cheatcodes_crypto;
mod cheatcodes_diff;
mod cheatcodes_ed25519;
mod cheatcodes_fs;
mod cheatcodes_gas;
mod cheatcodes_json;
mod cheatcodes_keys;
mod cheatcodes_memory;
mod cheatcodes_misc;
mod cheatcodes_mock;
mod cheatcodes_storage;
mod cheatcodes_tx;
mod cheatcodes_version;
pub mod config;
mod console;
pub mod coverage;
mod decode;
pub mod discovery;
mod error;
mod executor;
pub mod filter;
mod fuzz;
pub mod gas_snapshot;
mod inline_config;
mod inspector;
pub mod network;
mod outcome;
pub mod report;
pub mod runner;
mod trace;
mod vm;

pub use artifacts::{ArtifactQueryError, ArtifactSet, ContractArtifact};
pub use error::TesterError;

/// Version of the embedded forja-std library (changes whenever its files do).
pub const FORJA_STD_VERSION: &str = concat!("forja-std-", env!("CARGO_PKG_VERSION"));

/// The embedded forja-std Solidity library: `(relative path, contents)`.
/// Projects import it as `forja-std/Test.sol`; the build maps the `forja-std/`
/// remapping to a directory holding these files (see [`materialize_forja_std`]).
pub fn forja_std_sources() -> &'static [(&'static str, &'static str)] {
    &[
        ("Test.sol", include_str!("../forja-std/Test.sol")),
        ("Vm.sol", include_str!("../forja-std/Vm.sol")),
        ("console.sol", include_str!("../forja-std/console.sol")),
        (
            "console2.sol",
            "// SPDX-License-Identifier: MIT\npragma solidity >=0.4.22 <0.9.0;\nimport {console2} from \"./console.sol\";\n",
        ),
    ]
}

/// Writes forja-std into `base/<FORJA_STD_VERSION>/` (once; existing files
/// with the same contents are left alone) and returns that directory, to be
/// used as the target of the `forja-std/` remapping.
pub fn materialize_forja_std(base: &std::path::Path) -> Result<std::path::PathBuf, TesterError> {
    let dir = base.join(FORJA_STD_VERSION);
    std::fs::create_dir_all(&dir).map_err(|e| TesterError::Io {
        path: dir.clone(),
        source: e,
    })?;
    for (name, contents) in forja_std_sources() {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|existing| existing == *contents) {
            continue;
        }
        std::fs::write(&path, contents).map_err(|e| TesterError::Io {
            path: path.clone(),
            source: e,
        })?;
    }
    Ok(dir)
}
