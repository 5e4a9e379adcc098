//! forja-lsp: a Solidity language server.
//!
//! Solar (parse + semantic analysis + its experimental type checker) runs on
//! every change of an open buffer and on the files importing it; its results
//! are copied into an owned [`index::Index`]. The [`ide`] layer answers
//! navigation, hover, completion and the other requests from it as plain
//! functions; [`server`] converts them to and from LSP and schedules the
//! work (layers point downwards: server → ide → analysis). On save, the project's build runs
//! solc through `forja-compiler` ([`solc_check`]); its diagnostics replace
//! the fast engine's where they overlap, until the file is edited again.
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod analysis;
pub mod format;
pub mod gas_hints;
pub mod ide;
pub mod index;
pub mod line_index;
pub mod project;
pub mod server;
pub mod solc_check;

pub use server::{ServerOptions, run_stdio, serve};
