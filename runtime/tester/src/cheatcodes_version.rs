//! `vm.getFoundryVersion`, `foundryVersionCmp` and `foundryVersionAtLeast`.
//!
//! forja implements forge 1.7.1's cheatcode semantics, so it answers as
//! Foundry 1.7.1 would: projects gate features on that version. The build
//! metadata after `+` (`<commit>.<unix time>.<profile>`, a part Foundry's
//! format leaves to the build) is forja's own, from `build.rs`.

use std::cmp::Ordering;

use alloy::{
    primitives::{Bytes, I256},
    sol_types::SolValue,
};
use forja_compiler::semver::Version;

use crate::{
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The version part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmVersion {
        function getFoundryVersion() external view returns (string memory version);
        function foundryVersionCmp(string calldata version) external view returns (int256);
        function foundryVersionAtLeast(string calldata version) external view returns (bool);
    }
}

pub(crate) use VmVersion::VmVersionCalls;

/// The Foundry release whose cheatcode semantics forja implements.
pub(crate) const FOUNDRY_VERSION: &str = "1.7.1";

/// What `vm.getFoundryVersion` answers: `1.7.1+<forja commit>.<commit time>.<profile>`.
pub(crate) fn full_version() -> String {
    format!("{FOUNDRY_VERSION}+{}", env!("FORJA_BUILD_METADATA"))
}

/// The signature of the version cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmVersionCalls::signature_by_selector(selector)
}

/// `version` as a plain `MAJOR.MINOR.PATCH` (Foundry refuses pre-release
/// and build parts in the version asked about).
fn parse_version(version: &str) -> Result<Version, CheatError> {
    let parsed =
        Version::parse(version).map_err(|e| format!("invalid version `{version}`: {e}"))?;
    if !parsed.pre.is_empty() {
        return Err(
            format!("invalid version `{version}`: pre-release versions are not supported").into(),
        );
    }
    if !parsed.build.is_empty() {
        return Err(format!("invalid version `{version}`: build metadata is not supported").into());
    }
    Ok(parsed)
}

/// How forja's Foundry version compares with `version`.
fn version_cmp(version: &str) -> Result<Ordering, CheatError> {
    let ours = Version::parse(FOUNDRY_VERSION).map_err(|e| e.to_string())?;
    Ok(ours.cmp(&parse_version(version)?))
}

impl TestInspector {
    /// Applies one version cheatcode.
    pub(crate) fn apply_version(&mut self, call: VmVersionCalls) -> CheatResult {
        let encoded = match call {
            VmVersionCalls::getFoundryVersion(_) => full_version().abi_encode(),
            VmVersionCalls::foundryVersionCmp(c) => I256::try_from(version_cmp(&c.version)? as i8)
                .map_err(|e| e.to_string())?
                .abi_encode(),
            VmVersionCalls::foundryVersionAtLeast(c) => {
                version_cmp(&c.version)?.is_ge().abi_encode()
            }
        };
        Ok(Bytes::from(encoded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_foundry_1_7_1_with_forjas_build_metadata() {
        let version = full_version();
        let (semver, metadata) = version.split_once('+').unwrap();
        assert_eq!(semver, "1.7.1");
        let parts: Vec<&str> = metadata.split('.').collect();
        assert_eq!(parts.len(), 3, "{version}");
        assert_eq!(parts[0].len(), 10, "{version}");
        assert!(
            parts[1].parse::<u64>().unwrap() >= 1_700_000_000,
            "{version}"
        );
        assert!(!parts[2].is_empty(), "{version}");
    }

    #[test]
    fn compares_plain_versions_only() {
        assert_eq!(version_cmp("1.7.1").unwrap(), Ordering::Equal);
        assert_eq!(version_cmp("1.7.0").unwrap(), Ordering::Greater);
        assert_eq!(version_cmp("99.0.0").unwrap(), Ordering::Less);
        assert!(
            version_cmp("1.0.0-nightly")
                .unwrap_err()
                .to_string()
                .contains("pre-release")
        );
        assert!(
            version_cmp("1.0.0+abc")
                .unwrap_err()
                .to_string()
                .contains("build metadata")
        );
        assert!(version_cmp("not-a-version").is_err());
    }
}
