//! forja-deploy: the deploy and release workflow. Environments from
//! `forja.toml`, the `deploy.toml` manifest, execution through alloy with a
//! write-ahead journal, deployment records, release bundles with their test
//! evidence and approvals, the promotion gates, and the hash-chained audit
//! log anchored in git.
//!
//! Everything here returns values and reports progress through
//! [`executor::Event`]s; it never prints nor reads the terminal (a keystore
//! password comes from the caller through [`signer::PasswordSource`]). A
//! refused gate is a [`GateRefused`] value naming its [`Gate`].
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod approval;
pub mod audit;
pub mod audit_check;
pub mod bundle;
pub mod config;
pub mod evidence;
pub mod executor;
pub mod fsutil;
pub mod gate;
pub mod git;
pub mod journal;
pub mod manifest;
pub mod promote;
pub mod record;
pub mod signer;

pub use gate::{Gate, GateRefused, refused_gate};

/// The dev mnemonic every dev network funds (Foundry's and Hardhat's too).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
