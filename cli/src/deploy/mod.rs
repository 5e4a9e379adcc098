//! The deploy and promote workflows: environments from `forja.toml`, the
//! `deploy.toml` manifest, execution through alloy with a write-ahead journal,
//! deployment records, releases with approvals, and the hash-chained audit log.
//!
//! The commands in `crate::commands::{deploy,promote,approve,audit,keys}` are
//! thin front ends over these modules; everything here returns values and
//! reports progress through [`executor::Event`]s, never printing.

pub mod artifact;
pub mod audit;
pub mod config;
pub mod executor;
pub mod fsutil;
pub mod git;
pub mod journal;
pub mod manifest;
pub mod record;
pub mod release;
pub mod signer;

/// The dev mnemonic every dev network funds (Foundry's and Hardhat's too).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
