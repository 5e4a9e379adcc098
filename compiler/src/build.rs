//! The build: sources → compilation units (one per solc version) → solc →
//! artifacts in Foundry's layout, skipping units whose inputs did not change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::artifact::{ArtifactFile, BytecodeFile, CompilerFile};
use sha2::{Digest, Sha256};

use crate::diagnostics::{Diagnostic, Severity, locate};
use crate::project::{Project, ProjectError, Remapping};
use crate::solc::{MIN_SUPPORTED, Solc, SolcError, SolcEvent, SolcManager};
use crate::sources::{SourceGraph, SourceReadError, parse_pragma, pragma_allows};

/// What to build beyond the project's own settings.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Remappings added by the caller, e.g. `forja-std/` → its materialised copy.
    pub extra_remappings: Vec<Remapping>,
    /// Ignore the cache and compile everything.
    pub force: bool,
    /// Also ask solc for its gas estimates (`evm.gasEstimates`), written to
    /// the artifacts as `gasEstimates` (the language server's gas hints).
    /// Not part of the cache key: they change no bytecode, and a later build
    /// without them must not recompile everything.
    pub gas_estimates: bool,
    /// Build for `forja coverage`, as forge does: optimizer and viaIR off
    /// (accurate source maps), each source's AST in its artifacts, written
    /// to [`coverage_out_dir`] with a cache of their own so that `out/` and
    /// its cache are left alone.
    pub coverage: bool,
}

/// Where a coverage build writes its artifacts (relative to the project root).
pub fn coverage_out_dir(project: &Project) -> PathBuf {
    Path::new(&project.config.cache)
        .join("coverage")
        .join("out")
}

/// Progress of a build, for the caller to show.
#[derive(Debug, Clone)]
pub enum BuildEvent {
    Solc(SolcEvent),
    Compiling { version: Version, files: usize },
}

/// One compilation unit that solc compiled in this build.
#[derive(Debug, Clone)]
pub struct CompiledUnit {
    pub version: Version,
    /// How many files were compiled (`sources.len()`).
    pub files: usize,
    /// The files whose artifacts this build rewrote: the changed ones and
    /// their importers, sorted unit names.
    pub sources: Vec<String>,
    /// How many files solc read (all the unit's: see [`build`]).
    pub inputs: usize,
}

/// The result of a build that ran (it may still have found errors).
#[derive(Debug, Clone, Default)]
pub struct BuildOutput {
    pub diagnostics: Vec<Diagnostic>,
    /// Units solc compiled; empty when the cache had everything.
    pub compiled: Vec<CompiledUnit>,
    /// Source files in the build.
    pub source_count: usize,
    /// Artifacts written or kept, relative to the project root.
    pub artifacts: Vec<PathBuf>,
}

impl BuildOutput {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The build could not run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Solc(#[from] SolcError),
    #[error(transparent)]
    Source(#[from] SourceReadError),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("solc {version} returned output that is not JSON: {source}")]
    SolcOutput {
        version: Version,
        #[source]
        source: serde_json::Error,
    },
    /// The first error a build would report, for callers that want the
    /// standard-JSON input rather than a build.
    #[error("{}", located(.0))]
    Invalid(Box<Diagnostic>),
    #[error("no solc version satisfies these pragmas together:\n{0}")]
    Unsatisfiable(String),
}

const CACHE_FILE: &str = "forja-cache.json";
/// 3: one entry per source file (its hash, imports and artifacts), so an
/// edit recompiles only that file and its importers.
const CACHE_FORMAT: u32 = 3;

/// What the last good build left, per source file: a file is recompiled
/// when it, or anything it imports (transitively), changed since.
#[derive(Debug, Serialize, Deserialize, Default)]
struct BuildCache {
    format: u32,
    /// [`settings_key`] of the build that wrote this cache: when it
    /// changes, every file is recompiled.
    settings: String,
    /// solc version → source unit name → that file's entry.
    versions: BTreeMap<String, BTreeMap<String, CachedSource>>,
}

/// One source file as the build last compiled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedSource {
    /// sha256 of the file's content, hex.
    sha256: String,
    /// The unit names its imports resolved to.
    imports: Vec<String>,
    /// The artifacts of its contracts.
    artifacts: Vec<CachedArtifact>,
}

/// An artifact as the build wrote it: a file is reused only while every one
/// of its artifacts still has these bytes, so an edited or deleted artifact
/// is rebuilt rather than trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedArtifact {
    /// Relative to the project root.
    path: PathBuf,
    /// sha256 of the file, hex.
    sha256: String,
}

impl CachedArtifact {
    fn new(path: PathBuf, bytes: &[u8]) -> Self {
        Self {
            path,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }

    fn is_intact(&self, root: &Path) -> bool {
        std::fs::read(root.join(&self.path))
            .is_ok_and(|bytes| hex::encode(Sha256::digest(&bytes)) == self.sha256)
    }
}

/// What one solc version's unit needs compiled in this build.
struct UnitPlan<'a> {
    version: &'a Version,
    /// Files whose artifacts are rewritten: the changed files and every
    /// file that imports one of them, transitively.
    dirty: BTreeSet<String>,
}

/// Builds the project: compiles what changed, writes artifacts, returns
/// diagnostics. Artifacts are written only when every unit compiled without
/// errors, so `out/` always holds the last good build.
///
/// Incremental as forge is: a file is recompiled when its content or its
/// resolved imports changed, when anything it imports (transitively) was
/// recompiled, or when one of its artifacts was altered or removed. solc
/// gets all the unit's sources and is asked for output only for the
/// recompiled files; the other artifacts stay as they are. What is written
/// is byte for byte what a clean build writes (one exception: when two
/// files' artifacts would share a path, the one already there keeps it).
/// Other settings, another solc version or `force` recompile everything.
pub fn build(
    project: &Project,
    options: &BuildOptions,
    solc: &SolcManager,
    events: &dyn Fn(BuildEvent),
) -> Result<BuildOutput, BuildError> {
    let mut output = BuildOutput::default();
    let mut remappings = project.remappings();
    remappings.extend(options.extra_remappings.iter().cloned());
    let dirs = [project.src_dir(), project.test_dir(), project.script_dir()];
    let (graph, missing) = SourceGraph::load(&project.root, &dirs, &remappings)?;
    output.source_count = graph.files.len();
    output.diagnostics.extend(missing);
    if output.has_errors() {
        return Ok(output);
    }

    let units = plan_units(project, &graph, solc, &mut output.diagnostics)?;
    if output.has_errors() {
        return Ok(output);
    }

    let mut settings = solc_settings(project, &remappings);
    let (out_dir, cache_file) = if options.coverage {
        settings = for_coverage(&settings);
        let out = coverage_out_dir(project);
        let cache = project
            .root
            .join(out.parent().unwrap_or(&out))
            .join(CACHE_FILE);
        (out, cache)
    } else {
        (
            PathBuf::from(&project.config.out),
            project.cache_dir().join(CACHE_FILE),
        )
    };
    let (old_cache, cache_warning) = load_cache(&cache_file);
    output.diagnostics.extend(cache_warning);
    let settings_key = settings_key(project, &settings);
    let nothing = BTreeMap::new();
    let previous = if old_cache.settings == settings_key && !options.force {
        &old_cache.versions
    } else {
        &nothing
    };
    let hashes: BTreeMap<&str, String> = graph
        .files
        .iter()
        .map(|(unit, file)| (unit.as_str(), hex::encode(Sha256::digest(&file.content))))
        .collect();
    let imports_of = |unit: &str| -> Vec<String> {
        graph.files[unit]
            .imports
            .iter()
            .map(|(import, _)| import.clone())
            .collect()
    };

    // Decide, per unit, what is dirty; keep the entries of everything else.
    let mut new_cache = BuildCache {
        format: CACHE_FORMAT,
        settings: settings_key,
        versions: BTreeMap::new(),
    };
    // Artifact path → the file that owns it, so that a recompiled file whose
    // artifact name clashes with a kept one's takes the longer path.
    let mut written_names: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut plans = vec![];
    for (version, sources) in &units {
        let cached = previous.get(&version.to_string());
        let entry_of = |unit: &str| cached.and_then(|entries| entries.get(unit));
        let mut changed = BTreeSet::new();
        let mut damaged = BTreeSet::new();
        for unit in sources {
            match entry_of(unit) {
                Some(entry)
                    if entry.sha256 == hashes[unit.as_str()]
                        && entry.imports == imports_of(unit) =>
                {
                    if !entry.artifacts.iter().all(|a| a.is_intact(&project.root)) {
                        damaged.insert(unit.clone());
                    }
                }
                _ => {
                    changed.insert(unit.clone());
                }
            }
        }
        // An altered artifact is its own file's business; a changed source
        // is also every importer's.
        let mut dirty: BTreeSet<String> = graph
            .importers(&changed)
            .into_iter()
            .filter(|unit| sources.contains(unit))
            .collect();
        dirty.extend(damaged);
        let kept = new_cache.versions.entry(version.to_string()).or_default();
        for unit in sources.iter().filter(|u| !dirty.contains(*u)) {
            let entry = entry_of(unit).expect("a clean file has an entry").clone();
            for artifact in &entry.artifacts {
                written_names.insert(artifact.path.clone(), unit.clone());
            }
            kept.insert(unit.clone(), entry);
        }
        plans.push(UnitPlan { version, dirty });
    }

    let mut pending_writes: Vec<(PathBuf, Vec<u8>)> = vec![];
    for plan in plans.iter().filter(|p| !p.dirty.is_empty()) {
        let version = plan.version;
        // Every source of the unit, not only what the dirty files import:
        // solc numbers sources in name order, so the source ids in the new
        // artifacts (their `id` and source maps) are those a clean build
        // gives, and out/ never depends on which edits came before.
        let inputs = &units[version];
        let compiler = load_solc(project, solc, version, events)?;
        events(BuildEvent::Compiling {
            version: version.clone(),
            files: plan.dirty.len(),
        });
        let mut unit_settings = if options.gas_estimates {
            with_gas_estimates(&settings)
        } else {
            settings.clone()
        };
        if *inputs != plan.dirty {
            unit_settings = select_outputs(&unit_settings, &plan.dirty);
        }
        let input = standard_json_input(&graph, inputs, &unit_settings);
        let raw = compiler.compile_standard_json(&input.to_string())?;
        let solc_output: Value =
            serde_json::from_str(&raw).map_err(|source| BuildError::SolcOutput {
                version: version.clone(),
                source,
            })?;
        output
            .diagnostics
            .extend(solc_diagnostics(&solc_output, &graph));
        output.compiled.push(CompiledUnit {
            version: version.clone(),
            files: plan.dirty.len(),
            sources: plan.dirty.iter().cloned().collect(),
            inputs: inputs.len(),
        });
        let mut by_source: BTreeMap<String, Vec<CachedArtifact>> = BTreeMap::new();
        for (unit, relative, bytes) in artifacts_of(
            &out_dir,
            &solc_output,
            compiler.long_version(),
            &mut written_names,
        ) {
            if !plan.dirty.contains(&unit) {
                continue;
            }
            by_source
                .entry(unit)
                .or_default()
                .push(CachedArtifact::new(relative.clone(), &bytes));
            pending_writes.push((relative, bytes));
        }
        let entries = new_cache.versions.entry(version.to_string()).or_default();
        for unit in &plan.dirty {
            entries.insert(
                unit.clone(),
                CachedSource {
                    sha256: hashes[unit.as_str()].clone(),
                    imports: imports_of(unit),
                    artifacts: by_source.remove(unit).unwrap_or_default(),
                },
            );
        }
    }
    if output.has_errors() {
        return Ok(output);
    }

    // Everything compiled: now, and only now, touch out/ and the cache.
    for (relative, bytes) in &pending_writes {
        write_atomic(&project.root.join(relative), bytes)?;
    }
    let kept: BTreeSet<&PathBuf> = new_cache
        .versions
        .values()
        .flat_map(BTreeMap::values)
        .flat_map(|entry| &entry.artifacts)
        .map(|a| &a.path)
        .collect();
    for stale in old_cache
        .versions
        .values()
        .flat_map(BTreeMap::values)
        .flat_map(|entry| &entry.artifacts)
        .map(|a| &a.path)
        .filter(|a| !kept.contains(a))
    {
        let _ = std::fs::remove_file(project.root.join(stale));
        if let Some(dir) = project.root.join(stale).parent() {
            let _ = std::fs::remove_dir(dir); // only if now empty
        }
    }
    output.artifacts = kept.into_iter().cloned().collect();
    let text = serde_json::to_vec_pretty(&new_cache).expect("cache serialises");
    write_atomic(&cache_file, &text)?;
    Ok(output)
}

/// The standard-JSON inputs [`build`] gives solc for this project, one per
/// compilation unit, cache ignored: for running the same compile elsewhere
/// (the benchmark against solc-js, bytecode comparisons).
pub fn standard_json_inputs(
    project: &Project,
    options: &BuildOptions,
    solc: &SolcManager,
) -> Result<Vec<(Version, String)>, BuildError> {
    let mut remappings = project.remappings();
    remappings.extend(options.extra_remappings.iter().cloned());
    let dirs = [project.src_dir(), project.test_dir(), project.script_dir()];
    let (graph, mut diagnostics) = SourceGraph::load(&project.root, &dirs, &remappings)?;
    let units = plan_units(project, &graph, solc, &mut diagnostics)?;
    if let Some(error) = diagnostics.into_iter().find(Diagnostic::is_error) {
        return Err(BuildError::Invalid(Box::new(error)));
    }
    let mut settings = solc_settings(project, &remappings);
    if options.gas_estimates {
        settings = with_gas_estimates(&settings);
    }
    Ok(units
        .iter()
        .map(|(version, sources)| {
            let input = standard_json_input(&graph, sources, &settings);
            (version.clone(), input.to_string())
        })
        .collect())
}

fn load_solc(
    project: &Project,
    manager: &SolcManager,
    version: &Version,
    events: &dyn Fn(BuildEvent),
) -> Result<Arc<dyn Solc>, BuildError> {
    let manager = match &project.config.compiler.solc {
        Some(path) => manager.clone().with_native(project.root.join(path)),
        None => manager.clone(),
    };
    Ok(manager.load(version, &|event| events(BuildEvent::Solc(event)))?)
}

/// Groups the project's files by the solc version that will compile them:
/// for each file, the newest version that every file in its import closure
/// allows (installed versions first, then those npm offers).
fn plan_units(
    project: &Project,
    graph: &SourceGraph,
    solc: &SolcManager,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<BTreeMap<Version, BTreeSet<String>>, BuildError> {
    let mut requirements = BTreeMap::new();
    for file in graph.files.values() {
        let Some(text) = &file.pragma else { continue };
        match parse_pragma(text) {
            Some(reqs) => {
                requirements.insert(file.unit_name.clone(), reqs);
            }
            None => {
                let offset = file.content.find(text.as_str()).unwrap_or(0);
                diagnostics.push(
                    Diagnostic::error(format!(
                        "cannot read the version requirement `pragma solidity {text};`"
                    ))
                    .with_location(
                        &file.unit_name,
                        &file.content,
                        offset,
                        offset + text.len(),
                    ),
                );
            }
        }
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Ok(BTreeMap::new());
    }
    let pinned = project.config.compiler.version.clone();
    if let Some(pin) = &pinned
        && *pin < MIN_SUPPORTED
    {
        return Err(SolcError::Message(format!(
            "solc {pin} is not supported yet (forja supports {MIN_SUPPORTED} and newer)"
        ))
        .into());
    }
    let installed = solc.installed_versions();
    let mut available: Option<Vec<Version>> = None;
    let mut units: BTreeMap<Version, BTreeSet<String>> = BTreeMap::new();
    for root in &graph.roots {
        let closure = graph.closure(root);
        let allows = |v: &Version| {
            closure
                .iter()
                .all(|u| requirements.get(u).is_none_or(|r| pragma_allows(r, v)))
        };
        let chosen = match &pinned {
            Some(pin) => allows(pin).then(|| pin.clone()),
            None => match installed
                .iter()
                .rev()
                .find(|v| allows(v) && **v >= MIN_SUPPORTED)
            {
                Some(v) => Some(v.clone()),
                None => {
                    if available.is_none() {
                        available = Some(solc.available_versions()?);
                    }
                    available
                        .as_ref()
                        .and_then(|list| list.iter().rev().find(|v| allows(v)).cloned())
                }
            },
        };
        let Some(version) = chosen else {
            let listing: Vec<String> = closure
                .iter()
                .filter_map(|u| {
                    graph.files[u]
                        .pragma
                        .as_ref()
                        .map(|p| format!("  {u}: pragma solidity {p};"))
                })
                .collect();
            let mut message = listing.join("\n");
            if let Some(pin) = &pinned {
                message.push_str(&format!("\n  (forja.toml pins solc {pin})"));
            } else if requirements.values().flatten().all(|r| {
                r.comparators
                    .iter()
                    .all(|c| c.major == 0 && c.minor.is_some_and(|m| m < 8))
            }) {
                message.push_str(&format!(
                    "\n  (forja supports solc {MIN_SUPPORTED} and newer)"
                ));
            }
            return Err(BuildError::Unsatisfiable(message));
        };
        units.entry(version).or_default().extend(closure);
    }
    Ok(units)
}

/// The `settings` object of the standard-JSON input, minus sources.
fn solc_settings(project: &Project, remappings: &[Remapping]) -> Value {
    let compiler = &project.config.compiler;
    let mut libraries: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for entry in &compiler.libraries {
        // `path/File.sol:Name:0xaddress` (Foundry's form) or `…:Name=0x…`.
        let normalized = entry.replacen('=', ":", 1);
        let mut parts = normalized.rsplitn(3, ':');
        if let (Some(address), Some(name), Some(file)) = (parts.next(), parts.next(), parts.next())
        {
            libraries
                .entry(file.to_string())
                .or_default()
                .insert(name.to_string(), address.to_string());
        }
    }
    let mut settings = json!({
        "remappings": remappings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "optimizer": { "enabled": compiler.optimizer, "runs": compiler.optimizer_runs },
        "metadata": { "bytecodeHash": "ipfs" },
        "libraries": libraries,
        "outputSelection": { "*": { "*": [
            "abi", "evm.bytecode.object", "evm.bytecode.sourceMap", "evm.bytecode.linkReferences",
            "evm.deployedBytecode.object", "evm.deployedBytecode.sourceMap", "evm.deployedBytecode.linkReferences",
            "evm.deployedBytecode.immutableReferences", "evm.methodIdentifiers", "storageLayout", "metadata",
            "devdoc", "userdoc"
        ] } }
    });
    if compiler.via_ir {
        settings["viaIR"] = json!(true);
    }
    if let Some(evm) = &compiler.evm_version {
        settings["evmVersion"] = json!(evm);
    }
    settings
}

/// `settings` for a coverage build: no optimizer, no viaIR, and every
/// source's AST (what coverage finds statements, branches and functions in).
fn for_coverage(settings: &Value) -> Value {
    let mut settings = settings.clone();
    settings["optimizer"] = json!({ "enabled": false, "runs": 200 });
    if let Some(object) = settings.as_object_mut() {
        object.remove("viaIR");
    }
    settings["outputSelection"]["*"][""] = json!(["ast"]);
    settings
}

/// `settings` with `evm.gasEstimates` added to the output selection.
fn with_gas_estimates(settings: &Value) -> Value {
    let mut settings = settings.clone();
    if let Some(selection) = settings["outputSelection"]["*"]["*"].as_array_mut() {
        selection.push(json!("evm.gasEstimates"));
    }
    settings
}

fn standard_json_input(graph: &SourceGraph, sources: &BTreeSet<String>, settings: &Value) -> Value {
    let sources: serde_json::Map<String, Value> = sources
        .iter()
        .map(|u| (u.clone(), json!({ "content": graph.files[u].content })))
        .collect();
    json!({ "language": "Solidity", "sources": sources, "settings": settings })
}

/// Everything but the sources that decides what solc produces: forja's
/// cache format, the settings (optimizer, EVM version, remappings,
/// libraries…) and a native solc's path. The solc version is the cache's
/// own key.
fn settings_key(project: &Project, settings: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("forja-cache-v{CACHE_FORMAT}\n{settings}\n"));
    if let Some(native) = &project.config.compiler.solc {
        hasher.update(native.to_string_lossy().as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// `settings` asking for output only for `units` (solc still reads every
/// source it is given, but generates code only for what is selected).
fn select_outputs(settings: &Value, units: &BTreeSet<String>) -> Value {
    let mut settings = settings.clone();
    let every_file = settings["outputSelection"]["*"].clone();
    settings["outputSelection"] = Value::Object(
        units
            .iter()
            .map(|unit| (unit.clone(), every_file.clone()))
            .collect(),
    );
    settings
}

/// `file:line:column: message`.
fn located(diagnostic: &Diagnostic) -> String {
    let place = diagnostic
        .location
        .as_ref()
        .map(|l| format!("{}:{}:{}: ", l.file, l.line, l.column))
        .unwrap_or_default();
    format!("{place}{}", diagnostic.message)
}

fn load_cache(path: &Path) -> (BuildCache, Option<Diagnostic>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (BuildCache::default(), None);
    };
    match serde_json::from_str::<BuildCache>(&text) {
        Ok(cache) if cache.format == CACHE_FORMAT => (cache, None),
        Ok(_) | Err(_) => (
            BuildCache::default(),
            Some(Diagnostic::warning(format!(
                "discarded the build cache {}: it is corrupt or from another forja version; rebuilding everything",
                path.display()
            ))),
        ),
    }
}

fn solc_diagnostics(output: &Value, graph: &SourceGraph) -> Vec<Diagnostic> {
    let Some(errors) = output.get("errors").and_then(Value::as_array) else {
        return vec![];
    };
    errors
        .iter()
        .map(|error| {
            let severity = match error["severity"].as_str() {
                Some("error") => Severity::Error,
                Some("warning") => Severity::Warning,
                _ => Severity::Info,
            };
            let located = |loc: &Value| {
                let file = loc["file"].as_str()?;
                let content = &graph.files.get(file)?.content;
                let start = loc["start"].as_i64().filter(|s| *s >= 0)? as usize;
                let end = loc["end"]
                    .as_i64()
                    .filter(|e| *e >= 0)
                    .map_or(start, |e| e as usize);
                Some(locate(file, content, start, end))
            };
            let notes = error["secondarySourceLocations"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|loc| {
                            (
                                loc["message"].as_str().unwrap_or("").to_string(),
                                located(loc),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Diagnostic {
                severity,
                code: error["errorCode"].as_str().map(str::to_string),
                kind: error["type"].as_str().map(str::to_string),
                message: error["message"]
                    .as_str()
                    .unwrap_or("solc reported a problem")
                    .to_string(),
                location: located(&error["sourceLocation"]),
                notes,
            }
        })
        .collect()
}

/// Artifacts as Foundry writes them: `out/<File>.sol/<Contract>.json`,
/// with the source file each belongs to.
fn artifacts_of(
    out_dir: &Path,
    output: &Value,
    long_version: &str,
    written: &mut BTreeMap<PathBuf, String>,
) -> Vec<(String, PathBuf, Vec<u8>)> {
    let mut artifacts = vec![];
    let Some(contracts) = output.get("contracts").and_then(Value::as_object) else {
        return artifacts;
    };
    for (unit, by_name) in contracts {
        let Some(by_name) = by_name.as_object() else {
            continue;
        };
        let file_name = Path::new(unit)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (name, contract) in by_name {
            let mut relative = out_dir.join(&file_name).join(format!("{name}.json"));
            // Two files with the same name and contract: the second keeps its
            // directory, as Foundry does.
            if written.get(&relative).is_some_and(|owner| owner != unit) {
                relative = out_dir
                    .join(unit.trim_start_matches('/'))
                    .join(format!("{name}.json"));
            }
            written.insert(relative.clone(), unit.clone());
            let evm = &contract["evm"];
            let raw_metadata = contract["metadata"].as_str().unwrap_or("");
            let with_0x = |v: &Value| {
                v.as_str()
                    .map(|s| format!("0x{s}"))
                    .unwrap_or_else(|| "0x".into())
            };
            let code = |part: &Value, immutables: bool| BytecodeFile {
                object: with_0x(&part["object"]),
                source_map: part["sourceMap"].clone(),
                link_references: part["linkReferences"].clone(),
                immutable_references: immutables.then(|| part["immutableReferences"].clone()),
            };
            let artifact = ArtifactFile {
                abi: contract["abi"].clone(),
                bytecode: code(&evm["bytecode"], false),
                deployed_bytecode: code(&evm["deployedBytecode"], true),
                method_identifiers: evm["methodIdentifiers"].clone(),
                storage_layout: contract["storageLayout"].clone(),
                raw_metadata: raw_metadata.to_string(),
                metadata: serde_json::from_str::<Value>(raw_metadata).unwrap_or(Value::Null),
                userdoc: contract["userdoc"].clone(),
                devdoc: contract["devdoc"].clone(),
                id: output["sources"][unit]["id"].clone(),
                source_path: Some(unit.clone()),
                compiler: Some(CompilerFile {
                    version: long_version.to_string(),
                }),
                gas_estimates: (!evm["gasEstimates"].is_null())
                    .then(|| evm["gasEstimates"].clone()),
                ast: output["sources"][unit]
                    .get("ast")
                    .filter(|ast| !ast.is_null())
                    .cloned(),
            };
            artifacts.push((unit.clone(), relative, artifact.to_bytes()));
        }
    }
    artifacts
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let io = |source: std::io::Error| BuildError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
