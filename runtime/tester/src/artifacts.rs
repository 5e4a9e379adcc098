//! Compiled contracts as the tester sees them, loaded from Foundry-layout
//! artifacts (`out/<File>.sol/<Contract>.json`) or from a solc standard-JSON
//! output.
//!
//! Both are read into typed structs holding only what the tester uses: an
//! artifact is mostly metadata, AST and source maps, and building those as
//! `serde_json::Value`s first took three times as long as the whole load.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::{Path, PathBuf},
};

use alloy::{
    hex,
    json_abi::JsonAbi,
    primitives::{Address, Bytes, Selector, address, keccak256},
};
use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, MapAccess, Visitor},
};
use serde_json::value::RawValue;

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
    /// Libraries (`file:Name`) the bytecode still needs linked: empty once
    /// [`ArtifactSet::new`] has linked every library the build holds.
    pub unlinked_libraries: Vec<String>,
    /// Where each library's address goes: `file:Name` → byte offsets in
    /// the creation code and in the runtime code.
    pub link_references: BTreeMap<String, (Vec<usize>, Vec<usize>)>,
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

    fn from_parts(name: &str, source: String, json: ArtifactJson) -> Result<Self, String> {
        let (bytecode, deployed) = match json.evm {
            Some(evm) => (evm.bytecode, evm.deployed_bytecode),
            None => (json.bytecode, json.deployed_bytecode),
        };
        let bytecode = bytecode.unwrap_or_default();
        let deployed = deployed.unwrap_or_default();
        let mut link_references: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for (library, offsets) in &bytecode.links {
            link_references.entry(library.clone()).or_default().0 = offsets.clone();
        }
        for (library, offsets) in &deployed.links {
            link_references.entry(library.clone()).or_default().1 = offsets.clone();
        }
        let (bytecode, mut unlinked) = bytecode.decode()?;
        let (deployed_bytecode, _) = deployed.decode()?;
        unlinked.sort();
        unlinked.dedup();
        Ok(Self {
            name: name.to_string(),
            source,
            abi: json.abi,
            bytecode,
            deployed_bytecode,
            unlinked_libraries: unlinked,
            link_references,
        })
    }
}

/// What the tester reads of a Foundry artifact or of a solc standard-JSON
/// contract entry (which has the same `abi`, and its bytecode under `evm`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactJson {
    #[serde(default)]
    abi: JsonAbi,
    evm: Option<EvmJson>,
    bytecode: Option<BytecodeJson>,
    deployed_bytecode: Option<BytecodeJson>,
    /// Written by `forja build`.
    source_path: Option<String>,
    /// Written by `forge build`.
    ast: Option<AstJson>,
    /// Kept raw: only read when neither of the above names the source.
    metadata: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EvmJson {
    bytecode: Option<BytecodeJson>,
    deployed_bytecode: Option<BytecodeJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AstJson {
    absolute_path: Option<String>,
}

/// `{"object": "0x…", "linkReferences": {...}}`, or a bare hex string.
#[derive(Default)]
struct BytecodeJson {
    object: String,
    /// `file:Library` and the byte offsets of its placeholders, for every
    /// library the bytecode links to.
    links: Vec<(String, Vec<usize>)>,
}

/// A library placeholder (`__$…$__`) is 20 bytes, 40 hex digits.
const ADDRESS_HEX_LEN: usize = 40;

impl BytecodeJson {
    fn decode(&self) -> Result<(Bytes, Vec<String>), String> {
        let mut unlinked: Vec<String> = self.links.iter().map(|(l, _)| l.clone()).collect();
        let mut hex_str = self
            .object
            .strip_prefix("0x")
            .unwrap_or(&self.object)
            .to_string();
        // Zero the placeholders the link references locate; the addresses
        // are written there when the set is linked.
        for (_, offsets) in &self.links {
            for &offset in offsets {
                let range = offset * 2..offset * 2 + ADDRESS_HEX_LEN;
                if hex_str
                    .get(range.clone())
                    .is_some_and(|p| p.starts_with("__"))
                {
                    hex_str.replace_range(range, &"0".repeat(ADDRESS_HEX_LEN));
                }
            }
        }
        let hex_str = hex_str.as_str();
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
}

impl<'de> Deserialize<'de> for BytecodeJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytecodeVisitor;

        impl<'de> Visitor<'de> for BytecodeVisitor {
            type Value = BytecodeJson;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bytecode object or a hex string")
            }

            fn visit_str<E: de::Error>(self, hex: &str) -> Result<BytecodeJson, E> {
                Ok(BytecodeJson {
                    object: hex.to_string(),
                    links: vec![],
                })
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<BytecodeJson, M::Error> {
                let mut bytecode = BytecodeJson::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "object" => bytecode.object = map.next_value()?,
                        "linkReferences" => {
                            let links: Option<BTreeMap<String, BTreeMap<String, Vec<LinkOffset>>>> =
                                map.next_value()?;
                            for (file, libraries) in links.into_iter().flatten() {
                                bytecode
                                    .links
                                    .extend(libraries.into_iter().map(|(lib, at)| {
                                        (
                                            format!("{file}:{lib}"),
                                            at.iter().map(|o| o.start).collect(),
                                        )
                                    }));
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(bytecode)
            }
        }

        deserializer.deserialize_any(BytecodeVisitor)
    }
}

/// One placeholder of a library in solc's `linkReferences`.
#[derive(Deserialize)]
struct LinkOffset {
    start: usize,
}

/// The parts of a solc standard-JSON output the tester reads.
#[derive(Deserialize)]
struct SolcOutputJson {
    /// Source unit → contract name → contract.
    #[serde(default)]
    contracts: BTreeMap<String, BTreeMap<String, ArtifactJson>>,
}

/// Who deploys the external libraries before each test contract, as in forge.
pub const LIBRARY_DEPLOYER: Address = address!("0x1F95D37F27EA0dEA9C252FC09D5A6eaA97647353");

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
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TesterError::Io { path, source }
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(out_dir).map_err(io_error(out_dir))? {
            let dir = entry.map_err(io_error(out_dir))?.path();
            if !dir.is_dir() {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            files.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|file| file.extension().is_some_and(|e| e == "json")),
            );
        }
        files.sort();
        let contracts = files
            .iter()
            .map(|file| {
                let text = std::fs::read_to_string(file).map_err(io_error(file))?;
                load_foundry_artifact(file, &text).map_err(|message| TesterError::Artifact {
                    path: file.clone(),
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(contracts))
    }

    /// Builds a set from the text of a solc standard-JSON output
    /// (`contracts.<source>.<name>`).
    pub fn from_solc_output(output: &str) -> Result<Self, TesterError> {
        let output: SolcOutputJson =
            serde_json::from_str(output).map_err(|e| TesterError::Artifact {
                path: PathBuf::from("<solc output>"),
                message: e.to_string(),
            })?;
        let mut contracts = Vec::new();
        for (source, by_name) in output.contracts {
            for (name, json) in by_name {
                let artifact = ContractArtifact::from_parts(&name, source.clone(), json).map_err(
                    |message| TesterError::Artifact {
                        path: PathBuf::from(&source),
                        message,
                    },
                )?;
                contracts.push(artifact);
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

/// One `out/<File>.sol/<Contract>.json` (`Contract.0.8.30.json` when several
/// compiler versions built it).
fn load_foundry_artifact(file: &Path, text: &str) -> Result<ContractArtifact, String> {
    let json: ArtifactJson = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    let name = stem.split('.').next().unwrap_or(&stem).to_string();
    let source = json
        .source_path
        .clone()
        .or_else(|| json.ast.as_ref().and_then(|ast| ast.absolute_path.clone()))
        .or_else(|| json.metadata.as_deref().and_then(compilation_target))
        .unwrap_or_else(|| {
            let dir = file.parent().and_then(Path::file_name).unwrap_or_default();
            dir.to_string_lossy().into_owned()
        });
    ContractArtifact::from_parts(&name, source, json)
}

/// The source a contract's metadata names as its compilation target; the
/// metadata is an object in Foundry artifacts and a JSON string in solc's output.
fn compilation_target(metadata: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Metadata {
        settings: Settings,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Settings {
        compilation_target: BTreeMap<String, IgnoredAny>,
    }
    let metadata: Metadata = match serde_json::from_str::<String>(metadata.get()) {
        Ok(text) => serde_json::from_str(&text).ok()?,
        Err(_) => serde_json::from_str(metadata.get()).ok()?,
    };
    metadata.settings.compilation_target.into_keys().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &str, file: &str, json: &str) -> Result<ContractArtifact, String> {
        load_foundry_artifact(&Path::new("out").join(dir).join(file), json)
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

        let linked = r#"{"abi": [], "bytecode": {"object": "0x73__$abc$__6001",
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
        .unwrap_err();
        assert!(error.contains("invalid bytecode hex"), "{error}");
        let error = load("A.sol", "A.json", r#"{"abi": 3}"#).unwrap_err();
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
