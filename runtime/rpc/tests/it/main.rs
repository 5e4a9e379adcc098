//! forja-rpc's integration tests: networks served over JSON-RPC on 127.0.0.1.
//!
//! One test binary, one module per area: each binary links all of the
//! package's dependencies, so one link instead of 9.
#![allow(unused_crate_dependencies)] // a test binary links all of the package's dependencies

mod common;

mod auth;
mod bad_input;
mod jsonrpc_details;
mod limits;
mod methods;
mod ots;
mod rpc;
mod snapshot_revert;
mod trace_and_dev;
