//! The artifact format, owned here: `out/<File>.sol/<Contract>.json` in
//! Foundry's layout. [`ArtifactFile`] is what the build writes; [`Artifact`]
//! is the typed reader every consumer (deploy, release bundles, the tester,
//! the language server) uses: creation and runtime code with their library
//! placeholders, immutable ranges, ABI and compiler provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::json_abi::JsonAbi;
use alloy::primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An artifact as written to disk. Field order is the file's key order.
/// Parts forja does not interpret (source maps, docs, storage layout) stay
/// JSON values, passed through from solc unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactFile {
    pub abi: Value,
    pub bytecode: BytecodeFile,
    pub deployed_bytecode: BytecodeFile,
    #[serde(default)]
    pub method_identifiers: Value,
    #[serde(default)]
    pub storage_layout: Value,
    #[serde(default)]
    pub raw_metadata: String,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub userdoc: Value,
    #[serde(default)]
    pub devdoc: Value,
    #[serde(default)]
    pub id: Value,
    #[serde(default)]
    pub source_path: Option<String>,
    #[serde(default)]
    pub compiler: Option<CompilerFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_estimates: Option<Value>,
    /// The source file's AST (solc's JSON AST), written by coverage builds
    /// (forge's artifacts carry it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ast: Option<Value>,
}

/// `bytecode` / `deployedBytecode`: `0x`-prefixed hex with `__$…$__`
/// library placeholders, and where those and immutables sit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BytecodeFile {
    pub object: String,
    #[serde(default)]
    pub source_map: Value,
    #[serde(default)]
    pub link_references: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable_references: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompilerFile {
    pub version: String,
}

impl ArtifactFile {
    /// The bytes written to `out/`.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("an artifact serialises")
    }
}

/// An artifact that cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a contract artifact: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("no artifacts in {0}: run `forja build` first")]
    NoArtifacts(PathBuf),
    #[error(
        "no artifact for contract `{reference}` in {dir} (is the name right? did `forja build` succeed?)"
    )]
    NotFound { reference: String, dir: PathBuf },
    #[error(
        "contract name `{reference}` is ambiguous: {candidates}; use `path:Name` as `artifact`"
    )]
    Ambiguous {
        reference: String,
        candidates: String,
    },
    #[error(
        "library {library} ({source_file}) is not linked: deploy it earlier in deploy.toml or set `libraries = {{ {library} = \"0x…\" }}`"
    )]
    Unlinked {
        library: String,
        source_file: String,
    },
}

fn malformed(path: &Path, reason: impl Into<String>) -> ArtifactError {
    ArtifactError::Malformed {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// One contract's artifact.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// `path/to/File.sol:Name`.
    pub id: String,
    pub abi: JsonAbi,
    pub creation: Code,
    pub runtime: Code,
    /// Byte ranges of the runtime code that the constructor fills with
    /// immutable values; they differ per deployment.
    pub immutable_ranges: Vec<(usize, usize)>,
    pub compiler_version: String,
    /// solc's settings as recorded in the contract metadata.
    pub compiler_settings: serde_json::Value,
}

/// Bytecode whose library placeholders are zeroed, with where they were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub bytes: Vec<u8>,
    pub links: Vec<LinkReference>,
}

/// A library the code must be linked against, and the offsets of its
/// 20-byte placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkReference {
    pub source: String,
    pub library: String,
    pub offsets: Vec<usize>,
}

/// What the typed reader reads of an artifact: forja's and forge's
/// `out/` files, and a contract of solc's standard-JSON output (which has
/// its code under `evm`). Typed, so the AST and the rest are skipped
/// without being built.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArtifact {
    #[serde(default)]
    abi: JsonAbi,
    #[serde(default)]
    bytecode: Option<RawCode>,
    #[serde(default)]
    deployed_bytecode: Option<RawCode>,
    #[serde(default)]
    evm: Option<RawEvm>,
    /// An object in `out/` files, a JSON string in solc's output.
    #[serde(default)]
    metadata: Option<Box<serde_json::value::RawValue>>,
    /// Written by `forja build`.
    #[serde(default)]
    source_path: Option<String>,
    /// Written by `forge build`: names the source when `sourcePath` does not.
    #[serde(default)]
    ast: Option<RawAst>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvm {
    #[serde(default)]
    bytecode: Option<RawCode>,
    #[serde(default)]
    deployed_bytecode: Option<RawCode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAst {
    #[serde(default)]
    absolute_path: Option<String>,
}

/// `{"object": "0x…", "linkReferences": …}`, or a bare hex string.
#[derive(Deserialize)]
#[serde(from = "RawCodeForm")]
struct RawCode {
    object: String,
    link_references: BTreeMap<String, BTreeMap<String, Vec<RawRange>>>,
    immutable_references: BTreeMap<String, Vec<RawRange>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCodeForm {
    Text(String),
    #[serde(rename_all = "camelCase")]
    Object {
        #[serde(default)]
        object: String,
        #[serde(default)]
        link_references: Option<BTreeMap<String, BTreeMap<String, Vec<RawRange>>>>,
        #[serde(default)]
        immutable_references: Option<BTreeMap<String, Vec<RawRange>>>,
    },
}

impl From<RawCodeForm> for RawCode {
    fn from(form: RawCodeForm) -> Self {
        match form {
            RawCodeForm::Text(object) => Self {
                object,
                link_references: BTreeMap::new(),
                immutable_references: BTreeMap::new(),
            },
            RawCodeForm::Object {
                object,
                link_references,
                immutable_references,
            } => Self {
                object,
                link_references: link_references.unwrap_or_default(),
                immutable_references: immutable_references.unwrap_or_default(),
            },
        }
    }
}

#[derive(Deserialize)]
struct RawRange {
    start: usize,
    length: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    #[serde(default)]
    compiler: Option<RawCompiler>,
    #[serde(default)]
    settings: serde_json::Value,
}

#[derive(Deserialize)]
struct RawCompiler {
    version: String,
}

impl RawMetadata {
    /// The metadata, whether an object or a JSON string holding one.
    fn read(raw: &serde_json::value::RawValue) -> Option<Self> {
        match serde_json::from_str::<String>(raw.get()) {
            Ok(text) => serde_json::from_str(&text).ok(),
            Err(_) => serde_json::from_str(raw.get()).ok(),
        }
    }
}

impl Code {
    fn parse(
        object: &str,
        links: &BTreeMap<String, BTreeMap<String, Vec<RawRange>>>,
        file: &Path,
        what: &str,
    ) -> Result<Self, ArtifactError> {
        let mut hex_text: Vec<u8> = object
            .strip_prefix("0x")
            .unwrap_or(object)
            .as_bytes()
            .to_vec();
        let mut references = Vec::new();
        for (source, libraries) in links {
            for (library, ranges) in libraries {
                let mut offsets = Vec::new();
                for range in ranges {
                    let (from, to) = (range.start * 2, (range.start + range.length) * 2);
                    if range.length != 20 || to > hex_text.len() {
                        return Err(malformed(
                            file,
                            format!(
                                "{what}: link reference for {library} at {} is malformed",
                                range.start
                            ),
                        ));
                    }
                    hex_text[from..to].fill(b'0');
                    offsets.push(range.start);
                }
                references.push(LinkReference {
                    source: source.clone(),
                    library: library.clone(),
                    offsets,
                });
            }
        }
        let bytes = hex::decode(&hex_text).map_err(|_| {
            malformed(
                file,
                format!("{what} is not hex (unlinked placeholders without linkReferences?)"),
            )
        })?;
        Ok(Self {
            bytes,
            links: references,
        })
    }

    /// keccak256 of the code with placeholders zeroed: the same bytes on
    /// every machine and for every environment.
    pub fn hash(&self) -> B256 {
        keccak256(&self.bytes)
    }

    /// The code with every library placeholder replaced by its address.
    pub fn link(&self, libraries: &BTreeMap<String, Address>) -> Result<Vec<u8>, ArtifactError> {
        let mut bytes = self.bytes.clone();
        for reference in &self.links {
            let address = libraries
                .get(&reference.library)
                .or_else(|| libraries.get(&format!("{}:{}", reference.source, reference.library)))
                .ok_or_else(|| ArtifactError::Unlinked {
                    library: reference.library.clone(),
                    source_file: reference.source.clone(),
                })?;
            for &offset in &reference.offsets {
                bytes[offset..offset + 20].copy_from_slice(address.as_slice());
            }
        }
        Ok(bytes)
    }

    /// Names of the libraries this code needs.
    pub fn libraries(&self) -> impl Iterator<Item = &str> {
        self.links.iter().map(|l| l.library.as_str())
    }
}

impl Artifact {
    pub fn load(file: &Path) -> Result<Self, ArtifactError> {
        let bytes = std::fs::read(file).map_err(|source| ArtifactError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        Self::from_bytes(file, &bytes)
    }

    /// Parses an artifact's bytes; `file` names it (its stem up to the
    /// first dot is the contract's name, as in forge's `Name.0.8.30.json`;
    /// its directory names the source file when the artifact does not).
    pub fn from_bytes(file: &Path, bytes: &[u8]) -> Result<Self, ArtifactError> {
        let raw: RawArtifact =
            serde_json::from_slice(bytes).map_err(|e| malformed(file, e.to_string()))?;
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = stem.split('.').next().unwrap_or(&stem).to_string();
        let directory = file
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_raw(raw, &name, directory, file)
    }

    /// Every contract of a solc standard-JSON output
    /// (`contracts.<source>.<name>`), in source then name order.
    pub fn from_solc_output(output: &str) -> Result<Vec<Self>, ArtifactError> {
        #[derive(Deserialize)]
        struct SolcOutput {
            #[serde(default)]
            contracts: BTreeMap<String, BTreeMap<String, RawArtifact>>,
        }
        let place = Path::new("<solc output>");
        let output: SolcOutput =
            serde_json::from_str(output).map_err(|e| malformed(place, e.to_string()))?;
        let mut artifacts = Vec::new();
        for (source, by_name) in output.contracts {
            for (name, raw) in by_name {
                artifacts.push(Self::from_raw(
                    raw,
                    &name,
                    source.clone(),
                    Path::new(&source),
                )?);
            }
        }
        Ok(artifacts)
    }

    fn from_raw(
        raw: RawArtifact,
        name: &str,
        fallback_source: String,
        file: &Path,
    ) -> Result<Self, ArtifactError> {
        let metadata = raw.metadata.as_deref().and_then(RawMetadata::read);
        let source = raw
            .source_path
            .clone()
            .or_else(|| raw.ast.and_then(|ast| ast.absolute_path))
            .or_else(|| {
                metadata.as_ref().and_then(|m| {
                    m.settings["compilationTarget"]
                        .as_object()
                        .and_then(|targets| targets.keys().next().cloned())
                })
            })
            .unwrap_or(fallback_source);
        let (bytecode, deployed) = match raw.evm {
            Some(evm) => (evm.bytecode, evm.deployed_bytecode),
            None => (raw.bytecode, raw.deployed_bytecode),
        };
        let empty = || RawCode::from(RawCodeForm::Text(String::new()));
        let (bytecode, deployed) = (
            bytecode.unwrap_or_else(empty),
            deployed.unwrap_or_else(empty),
        );
        let creation = Code::parse(
            &bytecode.object,
            &bytecode.link_references,
            file,
            "bytecode",
        )?;
        let runtime = Code::parse(
            &deployed.object,
            &deployed.link_references,
            file,
            "deployedBytecode",
        )?;
        let mut immutable_ranges: Vec<(usize, usize)> = deployed
            .immutable_references
            .values()
            .flatten()
            .map(|r| (r.start, r.length))
            .collect();
        immutable_ranges.sort_unstable();
        let (compiler_version, compiler_settings) = match metadata {
            Some(m) => (
                m.compiler.map(|c| c.version).unwrap_or_default(),
                m.settings,
            ),
            None => (String::new(), serde_json::Value::Null),
        };
        Ok(Self {
            id: format!("{source}:{name}"),
            abi: raw.abi,
            creation,
            runtime,
            immutable_ranges,
            compiler_version,
            compiler_settings,
        })
    }

    /// The contract's name.
    pub fn name(&self) -> &str {
        self.id
            .rsplit_once(':')
            .map_or(self.id.as_str(), |(_, name)| name)
    }

    /// The source file, as the build names it.
    pub fn source(&self) -> &str {
        self.id.rsplit_once(':').map_or("", |(source, _)| source)
    }

    /// Whether this is deployable code (not an interface or abstract contract).
    pub fn is_deployable(&self) -> bool {
        !self.creation.bytes.is_empty()
    }

    /// Compares on-chain runtime code with this artifact's, linked with
    /// `libraries`, ignoring the immutable ranges. Returns a description of
    /// the first difference.
    pub fn check_runtime(
        &self,
        on_chain: &[u8],
        libraries: &BTreeMap<String, Address>,
    ) -> Result<Result<(), CodeMismatch>, ArtifactError> {
        let mut expected = self.runtime.link(libraries)?;
        let mut actual = on_chain.to_vec();
        if expected.len() != actual.len() {
            return Ok(Err(CodeMismatch::Length {
                on_chain: actual.len(),
                artifact: expected.len(),
            }));
        }
        // A library's runtime code starts with `PUSH20 <its own address>`
        // (call protection), which solc leaves zeroed and the EVM fills in.
        if is_library_code(&self.runtime.bytes) {
            actual[1..21].fill(0);
        }
        for &(start, length) in &self.immutable_ranges {
            let end = (start + length).min(expected.len());
            expected[start..end].fill(0);
            actual[start..end].fill(0);
        }
        match expected.iter().zip(&actual).position(|(a, b)| a != b) {
            Some(offset) => Ok(Err(CodeMismatch::Byte { offset })),
            None => Ok(Ok(())),
        }
    }
}

/// How on-chain runtime code differs from an artifact's
/// ([`Artifact::check_runtime`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeMismatch {
    #[error("on-chain code is {on_chain} bytes, the artifact's is {artifact} bytes")]
    Length { on_chain: usize, artifact: usize },
    #[error("on-chain code differs from the artifact at byte {offset} (immutables masked)")]
    Byte { offset: usize },
}

/// `PUSH20 0x00…00 ADDRESS`: the prologue solc gives library runtime code.
fn is_library_code(code: &[u8]) -> bool {
    code.len() > 22 && code[0] == 0x73 && code[1..21].iter().all(|b| *b == 0) && code[21] == 0x30
}

/// Every artifact under `out/`, to look contracts up by name.
#[derive(Debug)]
pub struct ArtifactIndex {
    out_dir: PathBuf,
    files: Vec<PathBuf>,
}

impl ArtifactIndex {
    pub fn scan(out_dir: &Path) -> Result<Self, ArtifactError> {
        if !out_dir.is_dir() {
            return Err(ArtifactError::NoArtifacts(out_dir.to_path_buf()));
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ArtifactError::Io { path, source }
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(out_dir).map_err(io(out_dir))? {
            let dir = entry.map_err(io(out_dir))?.path();
            if !dir.is_dir() || dir.extension().is_none_or(|e| e != "sol") {
                continue;
            }
            for file in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let file = file.map_err(io(&dir))?.path();
                if file.extension().is_some_and(|e| e == "json") {
                    files.push(file);
                }
            }
        }
        files.sort();
        Ok(Self {
            out_dir: out_dir.to_path_buf(),
            files,
        })
    }

    /// The directory scanned.
    pub fn dir(&self) -> &Path {
        &self.out_dir
    }

    /// Every artifact file, sorted.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Finds `Name` or `path/File.sol:Name`, with the file it came from.
    pub fn find_file(&self, reference: &str) -> Result<(PathBuf, Artifact), ArtifactError> {
        let (source, name) = match reference.rsplit_once(':') {
            Some((source, name)) => (Some(source), name),
            None => (None, reference),
        };
        let mut found = Vec::new();
        for file in &self.files {
            let stem = file.file_stem().map(|s| s.to_string_lossy());
            if stem.is_none_or(|s| s.split('.').next() != Some(name)) {
                continue;
            }
            let artifact = Artifact::load(file)?;
            let matches = match source {
                Some(source) => artifact.id.rsplit_once(':').is_some_and(|(s, _)| {
                    s == source
                        || Path::new(s).file_name() == Path::new(source).file_name()
                            && !source.contains('/')
                }),
                None => true,
            };
            if matches {
                found.push((file.clone(), artifact));
            }
        }
        match found.len() {
            0 => Err(ArtifactError::NotFound {
                reference: reference.to_string(),
                dir: self.out_dir.clone(),
            }),
            1 => Ok(found.pop().expect("one")),
            _ => Err(ArtifactError::Ambiguous {
                reference: reference.to_string(),
                candidates: found
                    .iter()
                    .map(|(_, a)| a.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Finds `Name` or `path/File.sol:Name`.
    pub fn find(&self, reference: &str) -> Result<Artifact, ArtifactError> {
        self.find_file(reference).map(|(_, artifact)| artifact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_artifact(dir: &Path, source: &str, name: &str, body: serde_json::Value) -> PathBuf {
        let file_dir = dir.join(Path::new(source).file_name().unwrap());
        std::fs::create_dir_all(&file_dir).unwrap();
        let path = file_dir.join(format!("{name}.json"));
        std::fs::write(&path, body.to_string()).unwrap();
        path
    }

    fn library_user() -> serde_json::Value {
        let placeholder = "__$b2c9d3b0e0d66e2bdb5d5d1cb2a48c1e95$__";
        serde_json::json!({
            "abi": [],
            "bytecode": {
                "object": format!("0x6000{placeholder}6001"),
                "linkReferences": { "src/Math.sol": { "Math": [{ "start": 2, "length": 20 }] } }
            },
            "deployedBytecode": {
                "object": format!("0x73{placeholder}7f{}", "00".repeat(32)),
                "linkReferences": { "src/Math.sol": { "Math": [{ "start": 1, "length": 20 }] } },
                "immutableReferences": { "7": [{ "start": 22, "length": 32 }] }
            },
            "metadata": { "compiler": { "version": "0.8.30" }, "settings": { "optimizer": { "enabled": true } } },
            "sourcePath": "src/User.sol"
        })
    }

    #[test]
    fn links_libraries_and_masks_immutables() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_artifact(dir.path(), "src/User.sol", "User", library_user());
        let artifact = Artifact::load(&path).unwrap();
        assert_eq!(artifact.id, "src/User.sol:User");
        assert_eq!(artifact.creation.libraries().collect::<Vec<_>>(), ["Math"]);
        assert!(artifact.creation.link(&BTreeMap::new()).is_err());

        let math = Address::repeat_byte(0xaa);
        let libraries = BTreeMap::from([("Math".to_string(), math)]);
        let linked = artifact.creation.link(&libraries).unwrap();
        assert_eq!(&linked[2..22], math.as_slice());
        assert_eq!(linked[0..2], [0x60, 0x00]);

        let mut on_chain = artifact.runtime.link(&libraries).unwrap();
        on_chain[22..54].fill(0x11); // an immutable's value
        assert_eq!(
            artifact.check_runtime(&on_chain, &libraries).unwrap(),
            Ok(())
        );
        on_chain[0] = 0x74;
        assert!(
            artifact
                .check_runtime(&on_chain, &libraries)
                .unwrap()
                .is_err()
        );
        let other = BTreeMap::from([("Math".to_string(), Address::repeat_byte(0xbb))]);
        assert!(
            artifact
                .check_runtime(&artifact.runtime.link(&libraries).unwrap(), &other)
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn library_call_protection_is_not_a_difference() {
        let runtime = format!("0x73{}3014", "00".repeat(20));
        let body = serde_json::json!({
            "abi": [],
            "bytecode": { "object": "0x6001" },
            "deployedBytecode": { "object": runtime },
        });
        let dir = tempfile::tempdir().unwrap();
        let artifact = Artifact::load(&write_artifact(dir.path(), "src/L.sol", "L", body)).unwrap();
        let mut on_chain = artifact.runtime.bytes.clone();
        on_chain[1..21].copy_from_slice(Address::repeat_byte(0x42).as_slice());
        assert_eq!(
            artifact.check_runtime(&on_chain, &BTreeMap::new()).unwrap(),
            Ok(())
        );
        on_chain[22] = 0x15;
        assert!(
            artifact
                .check_runtime(&on_chain, &BTreeMap::new())
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn finds_by_name_and_reports_ambiguity() {
        let dir = tempfile::tempdir().unwrap();
        write_artifact(dir.path(), "src/User.sol", "User", library_user());
        let mut other = library_user();
        other["sourcePath"] = "src/other/User2.sol".into();
        write_artifact(dir.path(), "src/other/User2.sol", "User", other);
        let index = ArtifactIndex::scan(dir.path()).unwrap();
        let err = index.find("User").unwrap_err().to_string();
        assert!(err.contains("ambiguous"), "{err}");
        assert_eq!(
            index.find("src/User.sol:User").unwrap().id,
            "src/User.sol:User"
        );
        assert!(
            index
                .find("Nope")
                .unwrap_err()
                .to_string()
                .contains("no artifact")
        );
    }
}
