//! Compiled contracts as the tester sees them, loaded from Foundry-layout
//! artifacts (`out/<File>.sol/<Contract>.json`) or from a solc standard-JSON
//! output.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alloy::{
    json_abi::JsonAbi,
    primitives::{Bytes, Selector, keccak256},
};
use serde_json::Value;

use crate::error::TesterError;

/// One compiled contract.
#[derive(Clone, Debug)]
pub struct ContractArtifact {
    /// Contract name, e.g. `CounterTest`.
    pub name: String,
    /// Source path relative to the project root, e.g. `test/Counter.t.sol`.
    pub source: String,
    /// The contract's ABI.
    pub abi: JsonAbi,
    /// Creation bytecode (empty for interfaces and abstract contracts).
    pub bytecode: Bytes,
    /// Runtime bytecode.
    pub deployed_bytecode: Bytes,
    /// Libraries the bytecode needs linked, if any (forja does not link yet).
    pub unlinked_libraries: Vec<String>,
}

impl ContractArtifact {
    /// `source:Name`, the fully qualified name.
    pub fn qualified_name(&self) -> String {
        format!("{}:{}", self.source, self.name)
    }

    /// Whether the contract can be deployed as-is.
    pub fn is_deployable(&self) -> bool {
        !self.bytecode.is_empty() && self.unlinked_libraries.is_empty()
    }

    /// Builds an artifact from a Foundry-format artifact JSON object (or a
    /// solc standard-JSON contract entry, which has the same `abi`/`evm` keys).
    pub fn from_json(name: &str, source: &str, json: &Value) -> Result<Self, String> {
        let abi_value = json.get("abi").cloned().unwrap_or(Value::Array(vec![]));
        let abi: JsonAbi =
            serde_json::from_value(abi_value).map_err(|e| format!("invalid ABI: {e}"))?;
        let evm = json.get("evm").unwrap_or(json);
        let (bytecode, mut unlinked) = bytecode_object(evm.get("bytecode"))?;
        let (deployed_bytecode, _) = bytecode_object(evm.get("deployedBytecode"))?;
        unlinked.sort();
        unlinked.dedup();
        Ok(Self {
            name: name.to_string(),
            source: source.to_string(),
            abi,
            bytecode,
            deployed_bytecode,
            unlinked_libraries: unlinked,
        })
    }
}

/// Reads `{"object": "0x…", "linkReferences": {...}}` (or a bare hex string).
fn bytecode_object(value: Option<&Value>) -> Result<(Bytes, Vec<String>), String> {
    let Some(value) = value else {
        return Ok((Bytes::new(), vec![]));
    };
    let (object, links) = match value {
        Value::String(s) => (s.as_str(), None),
        Value::Object(map) => (
            map.get("object").and_then(Value::as_str).unwrap_or(""),
            map.get("linkReferences").and_then(Value::as_object),
        ),
        _ => return Err("bytecode is neither a string nor an object".into()),
    };
    let mut unlinked = Vec::new();
    if let Some(links) = links {
        for (file, libs) in links {
            if let Some(libs) = libs.as_object() {
                unlinked.extend(libs.keys().map(|lib| format!("{file}:{lib}")));
            }
        }
    }
    let hex_str = object.strip_prefix("0x").unwrap_or(object);
    if hex_str.contains("__") {
        // Placeholders for libraries; the bytecode is not valid hex until linked.
        if unlinked.is_empty() {
            unlinked.push("<unknown library>".into());
        }
        return Ok((Bytes::from(vec![0u8]), unlinked));
    }
    let bytes = hex::decode(hex_str).map_err(|e| format!("invalid bytecode hex: {e}"))?;
    Ok((Bytes::from(bytes), unlinked))
}

/// All contracts of a build.
#[derive(Clone, Debug, Default)]
pub struct ArtifactSet {
    /// Contracts in a stable order (by source, then name).
    pub contracts: Vec<ContractArtifact>,
}

impl ArtifactSet {
    /// Creates a set from contracts.
    pub fn new(mut contracts: Vec<ContractArtifact>) -> Self {
        contracts.sort_by(|a, b| (&a.source, &a.name).cmp(&(&b.source, &b.name)));
        Self { contracts }
    }

    /// Loads every `out/<File>.sol/<Contract>.json` under `out_dir`.
    pub fn load_foundry_out(out_dir: &Path) -> Result<Self, TesterError> {
        let mut contracts = Vec::new();
        let entries = std::fs::read_dir(out_dir).map_err(|e| TesterError::Io {
            path: out_dir.to_path_buf(),
            source: e,
        })?;
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        for dir in dirs.into_iter().filter(|d| d.is_dir()) {
            let file_name = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            for file in files.filter_map(|e| e.ok().map(|e| e.path())) {
                if file.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let text = std::fs::read_to_string(&file).map_err(|e| TesterError::Io {
                    path: file.clone(),
                    source: e,
                })?;
                let json: Value =
                    serde_json::from_str(&text).map_err(|e| TesterError::Artifact {
                        path: file.clone(),
                        message: e.to_string(),
                    })?;
                let stem = file
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                // `Contract.0.8.30.json` when several compiler versions built it.
                let name = stem.split('.').next().unwrap_or(&stem).to_string();
                let source = artifact_source(&json).unwrap_or_else(|| file_name.clone());
                let artifact =
                    ContractArtifact::from_json(&name, &source, &json).map_err(|message| {
                        TesterError::Artifact {
                            path: file.clone(),
                            message,
                        }
                    })?;
                contracts.push(artifact);
            }
        }
        Ok(Self::new(contracts))
    }

    /// Builds a set from a solc standard-JSON output (`contracts.<source>.<name>`).
    pub fn from_solc_output(output: &Value) -> Result<Self, TesterError> {
        let mut contracts = Vec::new();
        if let Some(sources) = output.get("contracts").and_then(Value::as_object) {
            for (source, by_name) in sources {
                for (name, json) in by_name.as_object().into_iter().flatten() {
                    let artifact =
                        ContractArtifact::from_json(name, source, json).map_err(|message| {
                            TesterError::Artifact {
                                path: PathBuf::from(source),
                                message,
                            }
                        })?;
                    contracts.push(artifact);
                }
            }
        }
        Ok(Self::new(contracts))
    }

    /// Finds a contract by `Name`, `File.sol:Name`, `path/File.sol:Name` or
    /// `File.sol` (as `vm.getCode` accepts).
    pub fn find(&self, query: &str) -> Option<&ContractArtifact> {
        let query = query.trim();
        let (path_part, name_part) = match query.rsplit_once(':') {
            Some((p, n)) => (Some(p), Some(n)),
            None if query.ends_with(".sol") || query.ends_with(".json") => (Some(query), None),
            None => (None, Some(query)),
        };
        let path_part = path_part.map(|p| p.trim_end_matches(".json"));
        self.contracts.iter().find(|c| {
            let name_ok = match name_part {
                Some(n) => c.name == n,
                None => {
                    let stem = Path::new(path_part.unwrap_or_default())
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    c.name == stem || c.is_deployable()
                }
            };
            let path_ok = match path_part {
                Some(p) => {
                    c.source == p
                        || c.source.ends_with(&format!("/{p}"))
                        || Path::new(&c.source).file_name().is_some_and(|f| f == p)
                }
                None => true,
            };
            name_ok && path_ok && !c.bytecode.is_empty()
        })
    }

    /// Identifies which contract some runtime code belongs to (exact match,
    /// or the same length with immutables/metadata differing in few bytes).
    pub fn identify_runtime(&self, code: &[u8]) -> Option<&ContractArtifact> {
        if code.is_empty() {
            return None;
        }
        let hash = keccak256(code);
        if let Some(c) = self
            .contracts
            .iter()
            .find(|c| keccak256(&c.deployed_bytecode) == hash)
        {
            return Some(c);
        }
        self.contracts
            .iter()
            .filter(|c| c.deployed_bytecode.len() == code.len())
            .map(|c| {
                let same = c
                    .deployed_bytecode
                    .iter()
                    .zip(code)
                    .filter(|(a, b)| a == b)
                    .count();
                (c, same)
            })
            .filter(|(_, same)| *same * 10 >= code.len() * 9)
            .max_by_key(|(_, same)| *same)
            .map(|(c, _)| c)
    }

    /// Identifies the contract whose creation code starts `init_code`.
    pub fn identify_creation(&self, init_code: &[u8]) -> Option<&ContractArtifact> {
        self.contracts
            .iter()
            .filter(|c| !c.bytecode.is_empty() && init_code.len() >= c.bytecode.len())
            .find(|c| init_code[..c.bytecode.len()] == c.bytecode[..])
            .or_else(|| {
                // Metadata hashes differ between builds of the same source; compare
                // the part before the CBOR metadata.
                self.contracts.iter().find(|c| {
                    let n = c.bytecode.len().saturating_sub(64);
                    n > 0 && init_code.len() >= n && init_code[..n] == c.bytecode[..n]
                })
            })
    }

    /// A selector → (contract, function signature) table for trace decoding.
    pub fn function_signatures(&self) -> BTreeMap<Selector, alloy::json_abi::Function> {
        let mut map = BTreeMap::new();
        for c in &self.contracts {
            for f in c.abi.functions() {
                map.entry(f.selector()).or_insert_with(|| f.clone());
            }
        }
        map
    }
}

/// The source path recorded in a Foundry artifact.
fn artifact_source(json: &Value) -> Option<String> {
    if let Some(path) = json.pointer("/ast/absolutePath").and_then(Value::as_str) {
        return Some(path.to_string());
    }
    let metadata = json.get("metadata")?;
    let metadata = match metadata {
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        other => other.clone(),
    };
    let target = metadata
        .pointer("/settings/compilationTarget")?
        .as_object()?;
    target.keys().next().cloned()
}
