//! The project model: `forja.toml` (or a Foundry project's `foundry.toml`),
//! its directories, compiler settings and remappings.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A Solidity project on disk.
#[derive(Debug, Clone)]
pub struct Project {
    /// The directory holding `forja.toml` (or `foundry.toml`).
    pub root: PathBuf,
    pub config: ProjectConfig,
    /// Which file the configuration came from.
    pub config_file: PathBuf,
}

/// Settings read from the configuration file, with defaults filled in.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    pub name: String,
    pub src: String,
    pub test: String,
    pub script: String,
    pub out: String,
    pub cache: String,
    pub libs: Vec<String>,
    pub remappings: Vec<Remapping>,
    pub compiler: CompilerSettings,
    /// `[environments.*]`, kept as written for the deploy workflow.
    pub environments: toml::Table,
}

/// How solc is run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CompilerSettings {
    /// A pinned compiler version; otherwise chosen from the pragmas.
    pub version: Option<semver::Version>,
    pub optimizer: bool,
    pub optimizer_runs: u32,
    pub via_ir: bool,
    pub evm_version: Option<String>,
    /// A native solc binary to use instead of the wasm build.
    pub solc: Option<PathBuf>,
    /// Linked libraries, `file:Name=0xaddress`.
    pub libraries: Vec<String>,
}

impl Default for CompilerSettings {
    fn default() -> Self {
        Self {
            version: None,
            optimizer: false,
            optimizer_runs: 200,
            via_ir: false,
            evm_version: None,
            solc: None,
            libraries: vec![],
        }
    }
}

/// `prefix=target`: an import path starting with `prefix` is looked up in
/// `target` instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Remapping {
    pub prefix: String,
    pub target: String,
}

impl Remapping {
    pub fn parse(text: &str) -> Option<Self> {
        // Context-specific remappings (`ctx:prefix=target`) keep their context
        // in the prefix, which solc understands as written.
        let (prefix, target) = text.trim().split_once('=')?;
        if prefix.is_empty() {
            return None;
        }
        Some(Self {
            prefix: prefix.to_string(),
            target: target.to_string(),
        })
    }
}

impl std::fmt::Display for Remapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.prefix, self.target)
    }
}

/// The project could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(
        "no forja.toml or foundry.toml in {0} or any parent directory (create a project with `forja new <dir>`)"
    )]
    NotFound(PathBuf),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ForjaToml {
    #[serde(default)]
    project: ProjectSection,
    #[serde(default)]
    compiler: CompilerSection,
    #[serde(default)]
    environments: toml::Table,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProjectSection {
    name: Option<String>,
    src: Option<String>,
    test: Option<String>,
    script: Option<String>,
    out: Option<String>,
    cache: Option<String>,
    libs: Option<Vec<String>>,
    #[serde(default)]
    remappings: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CompilerSection {
    version: Option<String>,
    optimizer: Option<bool>,
    optimizer_runs: Option<u32>,
    via_ir: Option<bool>,
    evm_version: Option<String>,
    solc: Option<PathBuf>,
    #[serde(default)]
    remappings: Vec<String>,
    #[serde(default)]
    libraries: Vec<String>,
}

/// The subset of `foundry.toml` forja understands; other keys are ignored
/// (Foundry has hundreds and they do not change what solc produces here).
#[derive(Debug, Deserialize, Default)]
struct FoundryToml {
    #[serde(default)]
    profile: std::collections::BTreeMap<String, FoundryProfile>,
}

#[derive(Debug, Deserialize, Default, Clone)]
struct FoundryProfile {
    src: Option<String>,
    test: Option<String>,
    script: Option<String>,
    out: Option<String>,
    libs: Option<Vec<String>>,
    #[serde(default)]
    remappings: Vec<String>,
    solc: Option<String>,
    solc_version: Option<String>,
    optimizer: Option<bool>,
    optimizer_runs: Option<u32>,
    via_ir: Option<bool>,
    evm_version: Option<String>,
    #[serde(default)]
    libraries: Vec<String>,
}

impl Project {
    /// Finds the project that contains `start`: the nearest directory at or
    /// above it with a `forja.toml` (or, failing that, a `foundry.toml`).
    pub fn discover(start: &Path) -> Result<Self, ProjectError> {
        let start = std::fs::canonicalize(start).map_err(|source| ProjectError::Io {
            path: start.to_path_buf(),
            source,
        })?;
        for dir in start.ancestors() {
            if dir.join("forja.toml").is_file() || dir.join("foundry.toml").is_file() {
                return Self::load(dir);
            }
        }
        Err(ProjectError::NotFound(start))
    }

    /// Loads the project whose root is `root`.
    pub fn load(root: &Path) -> Result<Self, ProjectError> {
        let root = std::fs::canonicalize(root).map_err(|source| ProjectError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let forja = root.join("forja.toml");
        let foundry = root.join("foundry.toml");
        let (mut config, config_file) = if forja.is_file() {
            (parse_forja_toml(&forja, &read(&forja)?)?, forja)
        } else if foundry.is_file() {
            (parse_foundry_toml(&foundry, &read(&foundry)?)?, foundry)
        } else {
            return Err(ProjectError::NotFound(root));
        };
        if config.name.is_empty() {
            config.name = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        let remappings_txt = root.join("remappings.txt");
        if remappings_txt.is_file() {
            for line in read(&remappings_txt)?
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
            {
                let remapping = Remapping::parse(line).ok_or_else(|| ProjectError::Invalid {
                    path: remappings_txt.clone(),
                    message: format!("`{line}` is not a remapping (expected `prefix=target`)"),
                })?;
                config.remappings.push(remapping);
            }
        }
        Ok(Self {
            root,
            config,
            config_file,
        })
    }

    pub fn src_dir(&self) -> PathBuf {
        self.root.join(&self.config.src)
    }
    pub fn test_dir(&self) -> PathBuf {
        self.root.join(&self.config.test)
    }
    pub fn script_dir(&self) -> PathBuf {
        self.root.join(&self.config.script)
    }
    pub fn out_dir(&self) -> PathBuf {
        self.root.join(&self.config.out)
    }
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join(&self.config.cache)
    }

    /// Configured remappings, then automatic ones for `lib/<pkg>` and
    /// `node_modules/<pkg>` (a configured prefix wins over an automatic one).
    pub fn remappings(&self) -> Vec<Remapping> {
        let mut all = self.config.remappings.clone();
        for lib in &self.config.libs {
            for auto in auto_remappings(&self.root, lib) {
                if !all.iter().any(|r| r.prefix == auto.prefix) {
                    all.push(auto);
                }
            }
        }
        all
    }
}

/// `lib/<pkg>/` → `lib/<pkg>/src/` when it has one (Foundry's convention);
/// `node_modules/<pkg>/` and `node_modules/@scope/<pkg>/` as they are.
fn auto_remappings(root: &Path, lib: &str) -> Vec<Remapping> {
    let dir = root.join(lib);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    let mut found = vec![];
    let mut names: Vec<_> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if name.starts_with('.') {
            continue;
        }
        if name.starts_with('@') {
            let Ok(scoped) = std::fs::read_dir(dir.join(&name)) else {
                continue;
            };
            let mut packages: Vec<_> = scoped
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            packages.sort();
            for package in packages {
                found.push(Remapping {
                    prefix: format!("{name}/{package}/"),
                    target: format!("{lib}/{name}/{package}/"),
                });
            }
            continue;
        }
        let uses_src = lib != "node_modules" && dir.join(&name).join("src").is_dir();
        let target = if uses_src {
            format!("{lib}/{name}/src/")
        } else {
            format!("{lib}/{name}/")
        };
        found.push(Remapping {
            prefix: format!("{name}/"),
            target,
        });
    }
    found
}

fn read(path: &Path) -> Result<String, ProjectError> {
    std::fs::read_to_string(path).map_err(|source| ProjectError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, message: impl Into<String>) -> ProjectError {
    ProjectError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn parse_version(path: &Path, text: &str) -> Result<semver::Version, ProjectError> {
    semver::Version::parse(text.trim()).map_err(|_| {
        invalid(
            path,
            format!("compiler version `{text}` is not an exact version like \"0.8.30\""),
        )
    })
}

fn parse_remappings(path: &Path, list: &[String]) -> Result<Vec<Remapping>, ProjectError> {
    list.iter()
        .map(|text| {
            Remapping::parse(text).ok_or_else(|| {
                invalid(
                    path,
                    format!("`{text}` is not a remapping (expected `prefix=target`)"),
                )
            })
        })
        .collect()
}

fn parse_forja_toml(path: &Path, text: &str) -> Result<ProjectConfig, ProjectError> {
    // toml's errors say the line, column and offending key.
    let file: ForjaToml = toml::from_str(text)
        .map_err(|err| invalid(path, err.to_string().trim_end().to_string()))?;
    let mut remappings = parse_remappings(path, &file.project.remappings)?;
    remappings.extend(parse_remappings(path, &file.compiler.remappings)?);
    Ok(ProjectConfig {
        name: file.project.name.unwrap_or_default(),
        src: file.project.src.unwrap_or_else(|| "src".into()),
        test: file.project.test.unwrap_or_else(|| "test".into()),
        script: file.project.script.unwrap_or_else(|| "script".into()),
        out: file.project.out.unwrap_or_else(|| "out".into()),
        cache: file.project.cache.unwrap_or_else(|| "cache".into()),
        libs: file
            .project
            .libs
            .unwrap_or_else(|| vec!["lib".into(), "node_modules".into()]),
        remappings,
        compiler: CompilerSettings {
            version: file
                .compiler
                .version
                .as_deref()
                .map(|v| parse_version(path, v))
                .transpose()?,
            optimizer: file.compiler.optimizer.unwrap_or(false),
            optimizer_runs: file.compiler.optimizer_runs.unwrap_or(200),
            via_ir: file.compiler.via_ir.unwrap_or(false),
            evm_version: file.compiler.evm_version,
            solc: file.compiler.solc,
            libraries: file.compiler.libraries,
        },
        environments: file.environments,
    })
}

fn parse_foundry_toml(path: &Path, text: &str) -> Result<ProjectConfig, ProjectError> {
    let file: FoundryToml = toml::from_str(text)
        .map_err(|err| invalid(path, err.to_string().trim_end().to_string()))?;
    let profile = file.profile.get("default").cloned().unwrap_or_default();
    let pinned = profile.solc_version.as_deref().or(profile
        .solc
        .as_deref()
        .filter(|s| s.chars().next().is_some_and(|c| c.is_ascii_digit())));
    Ok(ProjectConfig {
        name: String::new(),
        src: profile.src.unwrap_or_else(|| "src".into()),
        test: profile.test.unwrap_or_else(|| "test".into()),
        script: profile.script.unwrap_or_else(|| "script".into()),
        out: profile.out.unwrap_or_else(|| "out".into()),
        cache: "cache".into(),
        libs: profile.libs.unwrap_or_else(|| vec!["lib".into()]),
        remappings: parse_remappings(path, &profile.remappings)?,
        compiler: CompilerSettings {
            version: pinned.map(|v| parse_version(path, v)).transpose()?,
            optimizer: profile.optimizer.unwrap_or(false),
            optimizer_runs: profile.optimizer_runs.unwrap_or(200),
            via_ir: profile.via_ir.unwrap_or(false),
            evm_version: profile.evm_version,
            solc: None,
            libraries: profile.libraries,
        },
        environments: toml::Table::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_with_their_place() {
        let err = parse_forja_toml(
            Path::new("forja.toml"),
            "[project]\nname = \"x\"\nsrcs = \"src\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("srcs") && text.contains("line 3"), "{text}");
    }

    #[test]
    fn defaults_and_environments() {
        let config = parse_forja_toml(
            Path::new("forja.toml"),
            "[project]\nname = \"x\"\n[compiler]\nversion = \"0.8.30\"\noptimizer = true\n[environments.prod]\nrpc_url = \"http://x\"\n",
        )
        .unwrap();
        assert_eq!(config.src, "src");
        assert_eq!(
            config.compiler.version,
            Some(semver::Version::new(0, 8, 30))
        );
        assert!(config.compiler.optimizer);
        assert!(config.environments.contains_key("prod"));
    }

    #[test]
    fn automatic_remappings_for_lib_and_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib/forge-std/src")).unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules/@openzeppelin/contracts")).unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules/solmate/src")).unwrap();
        std::fs::write(
            dir.path().join("forja.toml"),
            "[project]\nremappings = [\"solmate/=custom/\"]\n",
        )
        .unwrap();
        let project = Project::load(dir.path()).unwrap();
        let remappings: Vec<String> = project
            .remappings()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            remappings.contains(&"forge-std/=lib/forge-std/src/".to_string()),
            "{remappings:?}"
        );
        assert!(remappings.contains(
            &"@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/".to_string()
        ));
        assert!(remappings.contains(&"solmate/=custom/".to_string()));
        assert!(!remappings.contains(&"solmate/=node_modules/solmate/".to_string()));
    }
}
