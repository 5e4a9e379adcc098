//! `deployments/<env>.json`: what is deployed where, with enough provenance
//! to tell whether an artifact changed and to promote it unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, Bytes};
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// Everything deployed to one environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub environment: String,
    pub chain_id: u64,
    /// In deployment order.
    pub contracts: Vec<ContractRecord>,
    /// Post-deploy calls made, in order.
    #[serde(default)]
    pub calls: Vec<CallRecord>,
    /// The commit the deployment is current at (the last run's HEAD).
    #[serde(default)]
    pub commit: Option<String>,
    /// Whether that run's work tree had uncommitted changes.
    #[serde(default)]
    pub dirty: bool,
    /// Set by `forja promote`: the release this environment runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractRecord {
    pub name: String,
    /// `path/File.sol:Name`.
    pub artifact: String,
    pub address: Address,
    pub tx_hash: B256,
    pub block: u64,
    /// keccak256 of the artifact's creation code (library placeholders zeroed).
    pub creation_code_hash: B256,
    /// keccak256 of the artifact's runtime code (library placeholders zeroed).
    pub runtime_code_hash: B256,
    pub compiler: CompilerRecord,
    /// The constructor arguments as resolved (addresses filled in).
    pub constructor_args: Vec<String>,
    pub constructor_args_encoded: Bytes,
    #[serde(default)]
    pub libraries: BTreeMap<String, Address>,
    pub deployer: Address,
    /// HEAD when deployed; `dirty` when the work tree had changes.
    pub commit: Option<String>,
    pub dirty: bool,
    pub deployed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompilerRecord {
    pub version: String,
    pub settings: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Identifies the call: target address, signature and arguments. A call
    /// with the same key is never made twice.
    pub key: String,
    pub contract: String,
    pub function: String,
    pub args: Vec<String>,
    pub tx_hash: B256,
    pub block: u64,
    pub made_at: String,
}

/// `deployments/` under the project root.
pub fn deployments_dir(root: &Path) -> PathBuf {
    root.join("deployments")
}

pub fn record_path(root: &Path, environment: &str) -> PathBuf {
    deployments_dir(root).join(format!("{environment}.json"))
}

impl DeploymentRecord {
    /// The environment's record, or an empty one if nothing was deployed.
    pub fn load_or_default(root: &Path, environment: &str, chain_id: u64) -> anyhow::Result<Self> {
        let path = record_path(root, environment);
        if !path.exists() {
            return Ok(Self {
                environment: environment.to_string(),
                chain_id,
                ..Self::default()
            });
        }
        let record = Self::load(&path)?;
        if record.chain_id != chain_id {
            bail!(
                "{} records chain id {}, but environment `{environment}` is configured with chain id {chain_id}; if the network was replaced, move the old record away",
                path.display(),
                record.chain_id
            );
        }
        Ok(record)
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a deployment record", path.display()))
    }

    pub fn save(&self, root: &Path) -> anyhow::Result<()> {
        let path = record_path(root, &self.environment);
        crate::fsutil::write_durably(
            &path,
            (serde_json::to_string_pretty(self)? + "\n").as_bytes(),
        )
    }

    pub fn contract(&self, name: &str) -> Option<&ContractRecord> {
        self.contracts.iter().find(|c| c.name == name)
    }

    /// Adds or replaces (a redeployment) the record of `contract`.
    pub fn upsert(&mut self, contract: ContractRecord) {
        match self.contracts.iter_mut().find(|c| c.name == contract.name) {
            Some(existing) => *existing = contract,
            None => self.contracts.push(contract),
        }
    }

    pub fn has_call(&self, key: &str) -> bool {
        self.calls.iter().any(|c| c.key == key)
    }

    pub fn addresses(&self) -> BTreeMap<String, Address> {
        self.contracts
            .iter()
            .map(|c| (c.name.clone(), c.address))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_record_of_another_chain() {
        let dir = tempfile::tempdir().unwrap();
        let record = DeploymentRecord {
            environment: "dev".into(),
            chain_id: 1,
            ..Default::default()
        };
        record.save(dir.path()).unwrap();
        assert_eq!(
            DeploymentRecord::load_or_default(dir.path(), "dev", 1).unwrap(),
            record
        );
        let err = DeploymentRecord::load_or_default(dir.path(), "dev", 2).unwrap_err();
        assert!(err.to_string().contains("records chain id 1"), "{err}");
        assert!(
            DeploymentRecord::load_or_default(dir.path(), "prod", 2)
                .unwrap()
                .contracts
                .is_empty()
        );
    }
}
