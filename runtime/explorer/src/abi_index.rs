//! The project's artifacts as the page's lookup tables (`abi.json`):
//! function and error selectors, event topics, and each contract's runtime
//! code with the bytes that differ per deployment marked, so the page can
//! name a contract from its on-chain code.
//!
//! ```json
//! { "functions": { "0xa9059cbb": [{ "contract", "name", "signature", "inputs", "outputs" }] },
//!   "events":    { "0xddf2...": [{ "contract", "name", "signature", "inputs", "anonymous" }] },
//!   "errors":    { "0x...": [{ "contract", "name", "signature", "inputs" }] },
//!   "contracts": [{ "name", "id", "runtime": "0x...", "masks": [[start, length]], "abi": [...] }] }
//! ```
//!
//! A selector several contracts share lists each of them, so the page can
//! prefer the contract it found at the address called.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alloy::hex;
use forja_compiler::{ArtifactError, ArtifactIndex, Project, ProjectError};
use serde_json::{Value, json};

/// The artifacts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AbiIndexError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error("{0} has no out/ directory yet: run `forja build` there first")]
    NotBuilt(PathBuf),
}

/// The `out/` whose artifacts the page decodes with: `project`'s (which
/// must be built), or else the current directory's project when it has
/// been built; `None` when there is none.
pub fn project_out_dir(project: Option<&Path>) -> Result<Option<PathBuf>, AbiIndexError> {
    match project {
        Some(root) => {
            let out = Project::load(root)?.out_dir();
            if out.is_dir() {
                Ok(Some(out))
            } else {
                Err(AbiIndexError::NotBuilt(root.to_path_buf()))
            }
        }
        None => Ok(Project::discover(Path::new("."))
            .ok()
            .map(|project| project.out_dir())
            .filter(|out| out.is_dir())),
    }
}

/// Lookup tables built from a project's `out/`.
#[derive(Debug, Default)]
pub struct AbiIndex {
    functions: BTreeMap<String, Vec<Value>>,
    events: BTreeMap<String, Vec<Value>>,
    errors: BTreeMap<String, Vec<Value>>,
    contracts: Vec<Value>,
}

impl AbiIndex {
    /// Every artifact under `out_dir` (a project's `out/`).
    pub fn from_out_dir(out_dir: &Path) -> Result<Self, AbiIndexError> {
        let artifacts = ArtifactIndex::scan(out_dir)?;
        let mut index = Self::default();
        for file in artifacts.files() {
            let artifact = match forja_compiler::Artifact::load(file) {
                Ok(artifact) => artifact,
                // One unreadable artifact should not take decoding away
                // from the rest.
                Err(error @ ArtifactError::Malformed { .. }) => {
                    tracing::warn!(%error, "explorer: skipping an artifact");
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let name = artifact
                .id
                .rsplit_once(':')
                .map_or(artifact.id.as_str(), |(_, name)| name)
                .to_owned();
            for function in artifact.abi.functions() {
                push_unique(
                    &mut index.functions,
                    hex::encode_prefixed(function.selector()),
                    json!({
                        "contract": name,
                        "name": function.name,
                        "signature": function.signature(),
                        "inputs": function.inputs,
                        "outputs": function.outputs,
                    }),
                );
            }
            for event in artifact.abi.events() {
                push_unique(
                    &mut index.events,
                    hex::encode_prefixed(event.selector()),
                    json!({
                        "contract": name,
                        "name": event.name,
                        "signature": event.signature(),
                        "inputs": event.inputs,
                        "anonymous": event.anonymous,
                    }),
                );
            }
            for error in artifact.abi.errors() {
                push_unique(
                    &mut index.errors,
                    hex::encode_prefixed(error.selector()),
                    json!({
                        "contract": name,
                        "name": error.name,
                        "signature": error.signature(),
                        "inputs": error.inputs,
                    }),
                );
            }
            if artifact.is_deployable() {
                let runtime = &artifact.runtime;
                let mut masks: Vec<(usize, usize)> = artifact.immutable_ranges.clone();
                masks.extend(
                    runtime
                        .links
                        .iter()
                        .flat_map(|link| link.offsets.iter().map(|&offset| (offset, 20))),
                );
                // A library's code starts with PUSH20 <its own address>.
                if runtime.bytes.len() > 22
                    && runtime.bytes[0] == 0x73
                    && runtime.bytes[1..21].iter().all(|b| *b == 0)
                {
                    masks.push((1, 20));
                }
                masks.sort_unstable();
                index.contracts.push(json!({
                    "name": name,
                    "id": artifact.id,
                    "runtime": hex::encode_prefixed(&runtime.bytes),
                    "masks": masks,
                    "abi": artifact.abi,
                }));
            }
        }
        Ok(index)
    }

    /// Contracts whose on-chain code the page can recognise.
    pub fn contract_count(&self) -> usize {
        self.contracts.len()
    }

    pub fn to_json(&self) -> String {
        json!({
            "functions": self.functions,
            "events": self.events,
            "errors": self.errors,
            "contracts": self.contracts,
        })
        .to_string()
    }
}

fn push_unique(table: &mut BTreeMap<String, Vec<Value>>, key: String, entry: Value) {
    let entries = table.entry(key).or_default();
    if !entries
        .iter()
        .any(|e| e["contract"] == entry["contract"] && e["signature"] == entry["signature"])
    {
        entries.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_artifact(
        out: &Path,
        source: &str,
        name: &str,
        abi: Value,
        runtime: &str,
        immutables: Value,
    ) {
        let dir = out.join(source);
        std::fs::create_dir_all(&dir).unwrap();
        let artifact = json!({
            "abi": abi,
            // An interface has no code at all.
            "bytecode": { "object": if runtime == "0x" { "0x" } else { "0x6080" } },
            "deployedBytecode": { "object": runtime, "immutableReferences": immutables },
            "sourcePath": format!("src/{source}"),
        });
        std::fs::write(dir.join(format!("{name}.json")), artifact.to_string()).unwrap();
    }

    #[test]
    fn indexes_selectors_topics_errors_and_runtime_code_with_masks() {
        let out = tempfile::tempdir().unwrap();
        let token_abi = json!([
            {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
             "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
             "outputs": [{"name": "", "type": "bool"}]},
            {"type": "event", "name": "Transfer", "anonymous": false,
             "inputs": [{"name": "from", "type": "address", "indexed": true},
                        {"name": "to", "type": "address", "indexed": true},
                        {"name": "value", "type": "uint256", "indexed": false}]},
            {"type": "error", "name": "Insufficient", "inputs": [{"name": "needed", "type": "uint256"}]}
        ]);
        write_artifact(
            out.path(),
            "Token.sol",
            "Token",
            token_abi.clone(),
            "0x60806040aabbccdd",
            json!({"7": [{"start": 4, "length": 2}]}),
        );
        // The same function in a second contract is listed for both.
        write_artifact(
            out.path(),
            "Other.sol",
            "Other",
            token_abi,
            "0x6001",
            json!({}),
        );
        // An interface (no code) gives selectors but no contract to match.
        write_artifact(
            out.path(),
            "IThing.sol",
            "IThing",
            json!([]),
            "0x",
            json!({}),
        );
        std::fs::write(out.path().join("Token.sol/broken.json"), "{").unwrap();

        let index = AbiIndex::from_out_dir(out.path()).unwrap();
        let table: Value = serde_json::from_str(&index.to_json()).unwrap();
        let transfer = &table["functions"]["0xa9059cbb"];
        assert_eq!(transfer.as_array().unwrap().len(), 2, "{transfer}");
        assert_eq!(transfer[1]["contract"], "Token");
        assert_eq!(transfer[0]["signature"], "transfer(address,uint256)");
        let event = &table["events"]["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"]
            [0];
        assert_eq!(event["name"], "Transfer");
        assert_eq!(event["inputs"][0]["indexed"], true);
        let error = &table["errors"]["0x".to_owned()
            + &hex::encode(&alloy::primitives::keccak256("Insufficient(uint256)")[..4])];
        assert_eq!(error[0]["name"], "Insufficient");
        assert_eq!(index.contract_count(), 2);
        let token = table["contracts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "Token")
            .unwrap();
        assert_eq!(token["runtime"], "0x60806040aabbccdd");
        assert_eq!(token["masks"], json!([[4, 2]]));
        assert_eq!(token["id"], "src/Token.sol:Token");
    }

    #[test]
    fn a_project_that_was_not_built_is_an_error_that_says_so() {
        let project = tempfile::tempdir().unwrap();
        std::fs::write(
            project.path().join("forja.toml"),
            "[project]\nname = \"p\"\n",
        )
        .unwrap();
        let error = project_out_dir(Some(project.path())).unwrap_err();
        assert!(error.to_string().contains("forja build"), "{error}");
        let missing = project_out_dir(Some(&project.path().join("nope"))).unwrap_err();
        assert!(!missing.to_string().is_empty());
    }
}
