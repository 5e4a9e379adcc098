//! forja-compiler: the project model (`forja.toml`), source discovery,
//! imports and remappings, compiler management, artifacts and the
//! incremental build cache.
//!
//! This crate knows nothing of chains, nodes or deployments, and never prints:
//! it returns values and errors that the `forja` binary renders.
// The unit-test build links the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod artifact;
pub mod build;
pub mod diagnostics;
pub mod project;
pub mod solc;
pub mod sources;

pub use artifact::{Artifact, ArtifactError, ArtifactFile, ArtifactIndex, CodeMismatch};
pub use build::{
    BuildError, BuildEvent, BuildOptions, BuildOutput, CompiledUnit, build, standard_json_inputs,
};
pub use diagnostics::{Diagnostic, Location, Severity};
pub use project::{Project, ProjectError, Remapping};
/// The version type of this crate's API, for dependents without their own.
pub use semver;
