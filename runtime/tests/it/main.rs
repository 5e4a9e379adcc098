//! forja-runtime's integration tests: in-process networks, their stores and consensus.
//!
//! One test binary, one module per area: each binary links all of the
//! package's dependencies, so one link instead of 11.
#![allow(unused_crate_dependencies)] // a test binary links all of the package's dependencies

mod common;

mod add_node;
mod besu_export;
mod besu_genesis;
mod byzantine;
mod execution_hook;
mod limits;
mod permissions;
mod restart;
mod simulation;
mod transactions;
mod votes;
