//! Which compilers exist on this machine, installing more, and loading one.
//!
//! Layout of the cache (`FORJA_HOME`, default `~/.forja`):
//! `solc/<version>/soljson.js` (from the npm `solc` package) and next to it
//! `solc-<soljson hash>-<engine hash>.cwasm`, the module precompiled by
//! wasmtime for this engine, so the seconds-long compile happens once.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use semver::Version;
use sha2::{Digest, Sha256};

use super::native::NativeSolc;
use super::soljson::Soljson;
use super::wasm::{self, WasmSolc};
use super::{Solc, SolcError};

/// The oldest solc forja runs.
pub const MIN_SUPPORTED: Version = Version::new(0, 8, 6);

/// Progress of slow steps, for the caller to show (the library never prints).
#[derive(Debug, Clone)]
pub enum SolcEvent {
    Installing { version: Version },
    Installed { version: Version, path: PathBuf },
    Precompiling { version: Version },
    Precompiled { version: Version, elapsed: Duration },
    DiscardedCache { path: PathBuf, reason: String },
}

/// How an installed compiler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolcKind {
    Native,
    Wasm,
}

/// A compiler present on this machine.
#[derive(Debug, Clone)]
pub struct InstalledSolc {
    pub version: Version,
    pub kind: SolcKind,
    /// The native binary, or the `soljson.js`.
    pub path: PathBuf,
}

/// Finds, installs and loads solc builds.
#[derive(Debug, Clone)]
pub struct SolcManager {
    home: PathBuf,
    native: Option<PathBuf>,
}

/// Loaded compilers, per process: a second `load` of the same build is free.
fn loaded() -> &'static Mutex<HashMap<PathBuf, Arc<dyn Solc>>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<dyn Solc>>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

impl SolcManager {
    /// `FORJA_HOME`, or `~/.forja`.
    pub fn from_env() -> Result<Self, SolcError> {
        let home = match std::env::var_os("FORJA_HOME") {
            Some(home) if !home.is_empty() => PathBuf::from(home),
            _ => dirs::home_dir()
                .ok_or_else(|| {
                    SolcError::Message("cannot find the home directory: set FORJA_HOME".into())
                })?
                .join(".forja"),
        };
        Ok(Self::with_home(home))
    }

    pub fn with_home(home: PathBuf) -> Self {
        Self { home, native: None }
    }

    /// Uses this native solc binary (forja.toml `[compiler] solc = "…"`).
    pub fn with_native(mut self, solc_path: PathBuf) -> Self {
        self.native = Some(solc_path);
        self
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    fn solc_dir(&self) -> PathBuf {
        self.home.join("solc")
    }

    fn soljson_path(&self, version: &Version) -> PathBuf {
        self.solc_dir().join(version.to_string()).join("soljson.js")
    }

    /// Native compilers: the configured one, else `solc` on PATH.
    fn natives(&self) -> Vec<InstalledSolc> {
        let candidate = self.native.clone().unwrap_or_else(|| PathBuf::from("solc"));
        match NativeSolc::probe(&candidate) {
            Ok(native) => vec![InstalledSolc {
                version: native.version().clone(),
                kind: SolcKind::Native,
                path: candidate,
            }],
            Err(_) => vec![],
        }
    }

    fn wasm_builds(&self) -> Vec<InstalledSolc> {
        let Ok(entries) = std::fs::read_dir(self.solc_dir()) else {
            return vec![];
        };
        let mut builds: Vec<_> = entries
            .flatten()
            .filter_map(|entry| {
                let version = Version::parse(entry.file_name().to_str()?).ok()?;
                let path = entry.path().join("soljson.js");
                path.is_file().then_some(InstalledSolc {
                    version,
                    kind: SolcKind::Wasm,
                    path,
                })
            })
            .collect();
        builds.sort_by(|a, b| a.version.cmp(&b.version));
        builds
    }

    /// Every compiler present, native first, oldest to newest.
    pub fn installed(&self) -> Vec<InstalledSolc> {
        let mut all = self.natives();
        all.extend(self.wasm_builds());
        all
    }

    pub fn installed_versions(&self) -> Vec<Version> {
        let mut versions: Vec<_> = self.installed().into_iter().map(|s| s.version).collect();
        versions.sort();
        versions.dedup();
        versions
    }

    /// Versions the npm registry offers, remembered for a day.
    pub fn available_versions(&self) -> Result<Vec<Version>, SolcError> {
        let cache = self.solc_dir().join("npm-versions.json");
        let fresh = std::fs::metadata(&cache)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < Duration::from_secs(24 * 3600));
        let text = match fresh
            .then(|| std::fs::read_to_string(&cache).ok())
            .flatten()
        {
            Some(text) => text,
            None => {
                let output = Command::new("npm")
                    .args(["view", "solc", "versions", "--json"])
                    .output()
                    .map_err(|err| io("running `npm view solc versions`", err))?;
                if !output.status.success() {
                    return Err(SolcError::Message(format!(
                        "`npm view solc versions` failed: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    )));
                }
                let text = String::from_utf8_lossy(&output.stdout).into_owned();
                std::fs::create_dir_all(self.solc_dir())
                    .map_err(|e| io("creating the solc cache", e))?;
                write_atomic(&cache, text.as_bytes())?;
                text
            }
        };
        let names: Vec<String> = serde_json::from_str(&text).map_err(|err| {
            SolcError::Message(format!("npm returned an unreadable version list: {err}"))
        })?;
        let mut versions: Vec<Version> = names
            .iter()
            .filter_map(|name| Version::parse(name).ok())
            .filter(|v| v.pre.is_empty() && *v >= MIN_SUPPORTED)
            .collect();
        versions.sort();
        Ok(versions)
    }

    pub fn which(&self, version: &Version) -> Option<InstalledSolc> {
        self.installed().into_iter().find(|s| &s.version == version)
    }

    /// Fetches solc's wasm build from npm (`npm pack solc@<version>`).
    pub fn install(
        &self,
        version: &Version,
        events: &dyn Fn(SolcEvent),
    ) -> Result<InstalledSolc, SolcError> {
        check_supported(version)?;
        events(SolcEvent::Installing {
            version: version.clone(),
        });
        let scratch = tempfile::tempdir().map_err(|e| io("creating a temporary directory", e))?;
        let output = Command::new("npm")
            .args(["pack", &format!("solc@{version}"), "--silent"])
            .current_dir(scratch.path())
            .output()
            .map_err(|err| {
                io(
                    &format!(
                        "running npm to fetch solc {version} (forja fetches solc's wasm build with npm; is it installed?)"
                    ),
                    err,
                )
            })?;
        if !output.status.success() {
            return Err(SolcError::Message(format!(
                "could not fetch solc {version} with npm: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let tarball = std::fs::read_dir(scratch.path())
            .map_err(|e| io("reading npm's output", e))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "tgz"))
            .ok_or_else(|| {
                SolcError::Message(format!("npm pack solc@{version} produced no tarball"))
            })?;
        let installed = self.install_from_file(&tarball, events)?;
        if &installed.version != version {
            return Err(SolcError::Message(format!(
                "npm's solc@{version} contains solc {}",
                installed.version
            )));
        }
        Ok(installed)
    }

    /// Installs from a local `soljson.js` or npm `solc-*.tgz` (offline use).
    pub fn install_from_file(
        &self,
        path: &Path,
        events: &dyn Fn(SolcEvent),
    ) -> Result<InstalledSolc, SolcError> {
        let (glue, package_version) = read_soljson(path)?;
        let parsed = Soljson::parse(&glue)?;
        let known = read_glue_version(&glue).or(package_version);
        let version = known.clone().map(Ok).unwrap_or_else(|| {
            self.load_wasm_glue(&glue, parsed, None, events)
                .map(|s| s.version().clone())
        })?;
        check_supported(&version)?;
        let dest = self.soljson_path(&version);
        std::fs::create_dir_all(dest.parent().expect("has a parent"))
            .map_err(|e| io("creating the solc cache", e))?;
        write_atomic(&dest, glue.as_bytes())?;
        events(SolcEvent::Installed {
            version: version.clone(),
            path: dest.clone(),
        });
        Ok(InstalledSolc {
            version,
            kind: SolcKind::Wasm,
            path: dest,
        })
    }

    /// Installs if needed, precompiles if needed, and loads a compiler.
    pub fn load(
        &self,
        version: &Version,
        events: &dyn Fn(SolcEvent),
    ) -> Result<Arc<dyn Solc>, SolcError> {
        check_supported(version)?;
        if let Some(native) = self.natives().into_iter().find(|s| &s.version == version) {
            return self.memoised(&native.path, || {
                Ok(Arc::new(NativeSolc::probe(&native.path)?) as Arc<dyn Solc>)
            });
        }
        let soljson = self.soljson_path(version);
        if !soljson.is_file() {
            self.install(version, events)?;
        }
        self.memoised(&soljson, || {
            let (glue, _) = read_soljson(&soljson)?;
            let parsed = Soljson::parse(&glue).map_err(|err| {
                SolcError::Message(format!(
                    "{}: {err} (delete it and run `forja solc install {version}`)",
                    soljson.display()
                ))
            })?;
            self.load_wasm_glue(&glue, parsed, Some(version.clone()), events)
                .map(|s| Arc::new(s) as Arc<dyn Solc>)
        })
    }

    fn memoised(
        &self,
        key: &Path,
        load: impl FnOnce() -> Result<Arc<dyn Solc>, SolcError>,
    ) -> Result<Arc<dyn Solc>, SolcError> {
        if let Some(solc) = loaded().lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Ok(solc.clone());
        }
        let solc = load()?;
        loaded()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_path_buf(), solc.clone());
        Ok(solc)
    }

    /// Loads (precompiling once into the cache) a wasm build from its glue.
    fn load_wasm_glue(
        &self,
        glue: &str,
        parsed: Soljson,
        version: Option<Version>,
        events: &dyn Fn(SolcEvent),
    ) -> Result<WasmSolc, SolcError> {
        let engine = wasm::engine()?;
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let glue_hash = hex::encode(&Sha256::digest(glue.as_bytes())[..8]);
        // Only for progress events: older glue does not name its version,
        // and a lone soljson.js has no package.json beside it.
        let version_hint = version
            .or_else(|| read_glue_version(glue))
            .unwrap_or(Version::new(0, 0, 0));
        let dir = self.solc_dir().join("precompiled");
        // Keyed by the glue (hence the module), every engine setting that
        // affects code (wasmtime's own compatibility hash), and forja's
        // rewrite of the module.
        let cwasm = dir.join(format!(
            "solc-{glue_hash}-{:016x}-p{}.cwasm",
            engine_hash.finish(),
            wasm::MODULE_PREPARATION
        ));
        if cwasm.is_file() {
            match wasm::load_precompiled(&engine, &cwasm) {
                Ok(module) => return WasmSolc::new(engine, module, parsed),
                Err(err) => {
                    events(SolcEvent::DiscardedCache {
                        path: cwasm.clone(),
                        reason: err.to_string(),
                    });
                    let _ = std::fs::remove_file(&cwasm);
                }
            }
        }
        events(SolcEvent::Precompiling {
            version: version_hint.clone(),
        });
        let started = Instant::now();
        let module = wasm::prepare_module(&parsed.wasm(glue)?, parsed.export("stackSave")?)?;
        let bytes = wasm::precompile(&engine, &module)?;
        std::fs::create_dir_all(&dir).map_err(|e| io("creating the solc cache", e))?;
        write_atomic(&cwasm, &bytes)?;
        events(SolcEvent::Precompiled {
            version: version_hint,
            elapsed: started.elapsed(),
        });
        let module = wasm::load_precompiled(&engine, &cwasm)?;
        WasmSolc::new(engine, module, parsed)
    }
}

fn check_supported(version: &Version) -> Result<(), SolcError> {
    if *version < MIN_SUPPORTED {
        return Err(SolcError::Message(format!(
            "solc {version} is not supported yet (forja supports {MIN_SUPPORTED} and newer)"
        )));
    }
    Ok(())
}

/// The version the glue was built for, when its text says it
/// (`Module["version"]`-style strings are absent; the npm wrapper's
/// `solidity_version` is authoritative, so this is only a hint read from
/// the `soljson-v<version>+commit` file name that Emscripten builds embed).
fn read_glue_version(glue: &str) -> Option<Version> {
    let re = regex::Regex::new(r"soljson-v(\d+\.\d+\.\d+)\+commit").expect("valid regex");
    re.captures(glue).and_then(|c| Version::parse(&c[1]).ok())
}

/// Reads a `soljson.js`, or extracts `package/soljson.js` from an npm
/// tarball, with the version its `package.json` declares (older glue does
/// not name its own version).
fn read_soljson(path: &Path) -> Result<(String, Option<Version>), SolcError> {
    let bytes = std::fs::read(path).map_err(|e| io(&format!("reading {}", path.display()), e))?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        let text = String::from_utf8(bytes).map_err(|_| {
            SolcError::Message(format!("{} is not a soljson.js (not text)", path.display()))
        })?;
        return Ok((text, None));
    }
    let reading = |e| io(&format!("reading {}", path.display()), e);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let (mut glue, mut version) = (None, None);
    for entry in archive.entries().map_err(reading)? {
        let mut entry = entry.map_err(reading)?;
        let Ok(entry_path) = entry.path().map(|p| p.into_owned()) else {
            continue;
        };
        if entry_path.ends_with("soljson.js") {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| io(&format!("reading soljson.js in {}", path.display()), e))?;
            glue = Some(text);
        } else if entry_path == Path::new("package/package.json") {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(reading)?;
            version = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|json| {
                    json["version"]
                        .as_str()
                        .and_then(|v| Version::parse(v).ok())
                });
        }
    }
    match glue {
        Some(glue) => Ok((glue, version)),
        None => Err(SolcError::Message(format!(
            "{} has no soljson.js: not an npm solc package",
            path.display()
        ))),
    }
}

/// Writes via a temporary file and a rename, so a reader never sees half a
/// file and two processes racing both end with a whole one.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SolcError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| io(&format!("writing {}", path.display()), e))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .map_err(|e| io(&format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| io(&format!("writing {}", path.display()), e.error))?;
    Ok(())
}

fn io(context: &str, source: std::io::Error) -> SolcError {
    SolcError::Io {
        context: context.to_string(),
        source,
    }
}
