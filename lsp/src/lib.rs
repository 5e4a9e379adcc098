//! forja-lsp: a Solidity language server.
//!
//! Solar (parse + semantic analysis + its experimental type checker) runs on
//! every change of an open buffer and on the files importing it; its results
//! are copied into an owned [`index::Index`] that answers navigation, hover,
//! completion and the other requests. On save, solc diagnostics from the
//! project's build are merged in (see [`server`]).

pub mod analysis;
pub mod filter;
pub mod format;
pub mod index;
pub mod line_index;
pub mod project;
pub mod server;

pub use server::{run_stdio, serve};
