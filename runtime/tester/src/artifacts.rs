//! Compiled contracts as the tester sees them, read through
//! forja-compiler's artifact reader (the one owner of the format) from
//! Foundry-layout artifacts (`out/<File>.sol/<Contract>.json`, forja's or
//! forge's) or from a solc standard-JSON output.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
};

use alloy::{
    json_abi::JsonAbi,
    primitives::{Address, Bytes, Selector, address, keccak256},
};
use forja_compiler::artifact::{Artifact, ArtifactError, ArtifactIndex};

use crate::error::TesterError;

/// Why [`ArtifactSet::find`] could not pick a contract (the wording is
/// forge's, which `vm.getCode` tests match).
#[derive(Debug, thiserror::Error)]
pub enum ArtifactQueryError {
    /// The `:version` part is not `major.minor.patch`.
    #[error("failed parsing version: `{0}` is not major.minor.patch")]
    Version(String),
    /// More than one contract matches, and none is named after the file.
    #[error("multiple matching artifacts found")]
    Ambiguous,
}

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
    /// Libraries (`file:Name`) the bytecode still needs linked: empty once
    /// [`ArtifactSet::new`] has linked every library the build holds.
    pub unlinked_libraries: Vec<String>,
    /// Where each library's address goes: `file:Name` → byte offsets in
    /// the creation code and in the runtime code.
    pub link_references: BTreeMap<String, (Vec<usize>, Vec<usize>)>,
    /// The solc version that compiled it (`0.8.30`, without the commit),
    /// empty when the artifact does not say.
    pub version: String,
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

    /// The tester's view of an artifact: code with library placeholders
    /// zeroed, and where each library's address goes.
    pub fn from_artifact(artifact: Artifact) -> Self {
        let mut link_references: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for link in &artifact.creation.links {
            let library = format!("{}:{}", link.source, link.library);
            link_references.entry(library).or_default().0 = link.offsets.clone();
        }
        for link in &artifact.runtime.links {
            let library = format!("{}:{}", link.source, link.library);
            link_references.entry(library).or_default().1 = link.offsets.clone();
        }
        let mut unlinked: Vec<String> = artifact
            .creation
            .links
            .iter()
            .map(|link| format!("{}:{}", link.source, link.library))
            .collect();
        unlinked.sort();
        unlinked.dedup();
        let version = artifact
            .compiler_version
            .split('+')
            .next()
            .unwrap_or_default()
            .to_string();
        Self {
            name: artifact.name().to_string(),
            source: artifact.source().to_string(),
            abi: artifact.abi,
            bytecode: artifact.creation.bytes.into(),
            deployed_bytecode: artifact.runtime.bytes.into(),
            unlinked_libraries: unlinked,
            link_references,
            version,
        }
    }
}

fn artifact_error(error: ArtifactError) -> TesterError {
    let path = match &error {
        ArtifactError::Io { path, .. } | ArtifactError::Malformed { path, .. } => path.clone(),
        ArtifactError::NoArtifacts(dir) => dir.clone(),
        _ => PathBuf::new(),
    };
    TesterError::Artifact {
        path,
        message: error.to_string(),
    }
}

/// Who deploys the external libraries before each test contract, as in forge.
pub(crate) const LIBRARY_DEPLOYER: Address = address!("0x1F95D37F27EA0dEA9C252FC09D5A6eaA97647353");

/// All contracts of a build.
#[derive(Clone, Debug, Default)]
pub struct ArtifactSet {
    /// Contracts in a stable order (by source, then name).
    pub contracts: Vec<ContractArtifact>,
    /// Creation code of the external libraries, in the order
    /// [`LIBRARY_DEPLOYER`] deploys them (nonce 0, 1, …) before each test
    /// contract; every contract's code is linked to those addresses.
    pub libraries: Vec<Bytes>,
}

impl ArtifactSet {
    /// Creates a set from contracts, linking every library the set holds
    /// (a library missing from it leaves its users unlinked).
    pub fn new(mut contracts: Vec<ContractArtifact>) -> Self {
        contracts.sort_by(|a, b| (&a.source, &a.name).cmp(&(&b.source, &b.name)));
        let mut set = Self {
            contracts,
            libraries: vec![],
        };
        set.link_libraries();
        set
    }

    /// Gives each library an address (`LIBRARY_DEPLOYER`'s CREATE at nonce
    /// 0, 1, … in dependency order: a library's own libraries come first)
    /// and writes the addresses into every contract that uses them.
    fn link_libraries(&mut self) {
        let index: HashMap<String, usize> = self
            .contracts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.qualified_name(), i))
            .collect();
        let mut order: Vec<usize> = vec![];
        fn visit(
            set: &ArtifactSet,
            index: &HashMap<String, usize>,
            library: &str,
            order: &mut Vec<usize>,
            visiting: &mut Vec<usize>,
        ) {
            let Some(&i) = index.get(library) else {
                return;
            };
            if order.contains(&i) || visiting.contains(&i) {
                return;
            }
            visiting.push(i);
            for dependency in &set.contracts[i].unlinked_libraries {
                visit(set, index, dependency, order, visiting);
            }
            visiting.pop();
            order.push(i);
        }
        for contract in &self.contracts {
            for library in &contract.unlinked_libraries {
                visit(self, &index, library, &mut order, &mut vec![]);
            }
        }
        if order.is_empty() {
            return;
        }
        let addresses: HashMap<String, Address> = order
            .iter()
            .enumerate()
            .map(|(nonce, &i)| {
                (
                    self.contracts[i].qualified_name(),
                    LIBRARY_DEPLOYER.create(nonce as u64),
                )
            })
            .collect();
        for contract in &mut self.contracts {
            let mut bytecode = contract.bytecode.to_vec();
            let mut deployed = contract.deployed_bytecode.to_vec();
            contract.unlinked_libraries.retain(|library| {
                let (Some(address), Some((in_code, in_runtime))) = (
                    addresses.get(library),
                    contract.link_references.get(library),
                ) else {
                    return true;
                };
                for (code, offsets) in [(&mut bytecode, in_code), (&mut deployed, in_runtime)] {
                    for &offset in offsets {
                        if let Some(slot) = code.get_mut(offset..offset + 20) {
                            slot.copy_from_slice(address.as_slice());
                        }
                    }
                }
                false
            });
            contract.bytecode = bytecode.into();
            contract.deployed_bytecode = deployed.into();
        }
        self.libraries = order
            .iter()
            .map(|&i| self.contracts[i].bytecode.clone())
            .collect();
    }

    /// Loads every `out/<File>.sol/<Contract>.json` under `out_dir`.
    pub fn load_foundry_out(out_dir: &Path) -> Result<Self, TesterError> {
        let index = ArtifactIndex::scan(out_dir).map_err(artifact_error)?;
        let contracts = index
            .files()
            .iter()
            .map(|file| {
                let bytes = std::fs::read(file).map_err(|source| TesterError::Io {
                    path: file.clone(),
                    source,
                })?;
                Artifact::from_bytes(file, &bytes)
                    .map(ContractArtifact::from_artifact)
                    .map_err(artifact_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(contracts))
    }

    /// Builds a set from the text of a solc standard-JSON output
    /// (`contracts.<source>.<name>`).
    pub fn from_solc_output(output: &str) -> Result<Self, TesterError> {
        let artifacts = Artifact::from_solc_output(output).map_err(artifact_error)?;
        Ok(Self::new(
            artifacts
                .into_iter()
                .map(ContractArtifact::from_artifact)
                .collect(),
        ))
    }

    /// Finds a contract as `vm.getCode` names it: `Name`, `File.sol`,
    /// `path/File.sol:Name`, each optionally followed by `:0.8.30` (the
    /// solc version). A path matches the end of a source path, component
    /// by component. `Ok(None)` when nothing matches; an error when the
    /// name is ambiguous or the version is not one.
    pub fn find(&self, query: &str) -> Result<Option<&ContractArtifact>, ArtifactQueryError> {
        let mut parts = query.trim().split(':');
        let first = parts.next().unwrap_or_default();
        let (mut file, mut name, mut version) = (None, None, None);
        if first.contains('.') {
            file = Some(first);
            if let Some(next) = parts.next() {
                if next.contains('.') {
                    version = Some(next);
                } else {
                    name = Some(next);
                    version = parts.next();
                }
            }
        } else {
            name = Some(first);
            version = parts.next();
        }
        if let Some(version) = version {
            let numbers: Vec<&str> = version.split('.').collect();
            if numbers.len() != 3 || numbers.iter().any(|n| n.parse::<u64>().is_err()) {
                return Err(ArtifactQueryError::Version(version.to_string()));
            }
        }
        let matching: Vec<&ContractArtifact> = self
            .contracts
            .iter()
            .filter(|c| {
                file.is_none_or(|f| Path::new(&c.source).ends_with(f))
                    && name.is_none_or(|n| c.name == n)
                    && version.is_none_or(|v| c.version == v)
            })
            .collect();
        match matching[..] {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => {
                // `File.sol` alone: the contract named after the file, as
                // forge's `out/File.sol/File.json` fallback reads it.
                let stem = file.and_then(|f| Path::new(f).file_stem()?.to_str());
                let named: Vec<_> = matching
                    .iter()
                    .filter(|c| name.is_none() && Some(c.name.as_str()) == stem)
                    .collect();
                match named[..] {
                    [one] => Ok(Some(*one)),
                    _ => Err(ArtifactQueryError::Ambiguous),
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &str, file: &str, json: &str) -> Result<ContractArtifact, ArtifactError> {
        Artifact::from_bytes(&Path::new("out").join(dir).join(file), json.as_bytes())
            .map(ContractArtifact::from_artifact)
    }

    #[test]
    fn the_source_comes_from_forja_forge_or_the_metadata() {
        let forja = r#"{"abi": [], "bytecode": {"object": "0x6001"}, "sourcePath": "src/A.sol",
            "ast": {"absolutePath": "ignored.sol"}}"#;
        assert_eq!(load("A.sol", "A.json", forja).unwrap().source, "src/A.sol");
        let forge = r#"{"abi": [], "ast": {"absolutePath": "src/B.sol", "nodes": [{"id": 1}]}}"#;
        assert_eq!(load("B.sol", "B.json", forge).unwrap().source, "src/B.sol");
        let metadata_object =
            r#"{"abi": [], "metadata": {"settings": {"compilationTarget": {"src/C.sol": "C"}}}}"#;
        let c = load("C.sol", "C.0.8.30.json", metadata_object).unwrap();
        assert_eq!((c.name.as_str(), c.source.as_str()), ("C", "src/C.sol"));
        let metadata_text = r#"{"abi": [], "metadata": "{\"settings\":{\"compilationTarget\":{\"src/D.sol\":\"D\"}}}"}"#;
        assert_eq!(
            load("D.sol", "D.json", metadata_text).unwrap().source,
            "src/D.sol"
        );
        let nothing = r#"{"abi": []}"#;
        assert_eq!(load("E.sol", "E.json", nothing).unwrap().source, "E.sol");
    }

    #[test]
    fn bytecode_is_an_object_or_a_bare_hex_string_and_links_are_listed() {
        let object = r#"{"abi": [{"type": "function", "name": "f", "inputs": [], "outputs": [], "stateMutability": "view"}],
            "bytecode": {"object": "0x6001", "sourceMap": "1:2:3"},
            "deployedBytecode": {"object": "6002"}}"#;
        let artifact = load("A.sol", "A.json", object).unwrap();
        assert_eq!(artifact.bytecode.as_ref(), [0x60, 0x01]);
        assert_eq!(artifact.deployed_bytecode.as_ref(), [0x60, 0x02]);
        assert_eq!(artifact.abi.functions().next().unwrap().name, "f");
        assert!(artifact.is_deployable());

        let bare = r#"{"abi": [], "bytecode": "0x6003", "deployedBytecode": "0x"}"#;
        let artifact = load("B.sol", "B.json", bare).unwrap();
        assert_eq!(artifact.bytecode.as_ref(), [0x60, 0x03]);
        assert!(artifact.deployed_bytecode.is_empty());

        let linked = r#"{"abi": [], "bytecode": {"object": "0x73__$b2c9d3b0e0d66e2bdb5d5d1cb2a48c1e95$__6001",
            "linkReferences": {"src/L.sol": {"Lib": [{"start": 1, "length": 20}]}}}}"#;
        let artifact = load("C.sol", "C.json", linked).unwrap();
        assert_eq!(artifact.unlinked_libraries, ["src/L.sol:Lib"]);
        assert!(!artifact.is_deployable());
    }

    #[test]
    fn a_malformed_artifact_says_what_is_wrong() {
        let error = load(
            "A.sol",
            "A.json",
            r#"{"abi": [], "bytecode": {"object": "0xzz"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("bytecode is not hex"), "{error}");
        let error = load("A.sol", "A.json", r#"{"abi": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn solc_output_contracts_are_read_by_source_and_name() {
        let output = r#"{"errors": [], "sources": {"src/A.sol": {"id": 0}},
            "contracts": {"src/A.sol": {"B": {"abi": [], "metadata": "{}",
                "evm": {"bytecode": {"object": "6001", "linkReferences": {}},
                        "deployedBytecode": {"object": "6002"}}},
                "A": {"abi": [], "evm": {"bytecode": {"object": ""}}}}}}"#;
        let set = ArtifactSet::from_solc_output(output).unwrap();
        let names: Vec<_> = set.contracts.iter().map(|c| c.qualified_name()).collect();
        assert_eq!(names, ["src/A.sol:A", "src/A.sol:B"]);
        assert_eq!(set.contracts[1].deployed_bytecode.as_ref(), [0x60, 0x02]);
        assert!(ArtifactSet::from_solc_output("{").is_err());
    }
}
