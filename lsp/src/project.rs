//! Where a project starts and how its imports resolve.
//!
//! Remappings come from `remappings.txt`, the `remappings` arrays of
//! `forja.toml`/`foundry.toml`, and the automatic ones for `lib/<dep>` (like
//! Foundry: `dep/=lib/dep/src/` when that exists, `dep/=lib/dep/` otherwise).
//! `node_modules/` is an include path so `@scope/pkg/...` imports resolve.

use std::path::{Path, PathBuf};

/// Import resolution settings of one project.
#[derive(Debug, Clone, Default)]
pub struct ProjectConfig {
    /// The project root (absolute).
    pub root: PathBuf,
    /// Remappings in solc's `context:prefix=target` form, targets absolute.
    pub remappings: Vec<String>,
    /// Extra directories searched for non-relative imports.
    pub include_paths: Vec<PathBuf>,
}

/// Files that mark a project root, in order of preference.
const ROOT_MARKERS: &[&str] = &["forja.toml", "foundry.toml", "remappings.txt", ".git"];

impl ProjectConfig {
    /// Finds the project containing `start` (a file or directory) and reads its remappings.
    pub fn discover(start: &Path) -> Self {
        let dir = if start.is_dir() {
            start
        } else {
            start.parent().unwrap_or(start)
        };
        let root = dir
            .ancestors()
            .find(|d| ROOT_MARKERS.iter().any(|m| d.join(m).exists()))
            .unwrap_or(dir)
            .to_path_buf();
        Self::for_root(root)
    }

    /// Reads the remappings of the project at `root`.
    pub fn for_root(root: PathBuf) -> Self {
        let mut remappings = Vec::new();
        if let Ok(text) = std::fs::read_to_string(root.join("remappings.txt")) {
            remappings.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        for config in ["forja.toml", "foundry.toml"] {
            if let Ok(text) = std::fs::read_to_string(root.join(config)) {
                remappings.extend(toml_remappings(&text));
            }
        }
        // Automatic `lib/` remappings for names not remapped explicitly.
        if let Ok(entries) = std::fs::read_dir(root.join("lib")) {
            let mut libs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            libs.sort();
            for lib in libs {
                let Some(name) = lib.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let prefix = format!("{name}/");
                if remappings
                    .iter()
                    .any(|r| r.split(['=', ':']).any(|p| p == prefix || p == name))
                {
                    continue;
                }
                let target = if lib.join("src").is_dir() {
                    lib.join("src")
                } else {
                    lib.clone()
                };
                remappings.push(format!("{prefix}={}/", target.display()));
            }
        }
        // Make relative targets absolute so resolution does not depend on the cwd.
        let remappings = remappings
            .into_iter()
            .filter_map(|r| {
                let (lhs, target) = r.split_once('=')?;
                let target_path = Path::new(target);
                let target = if target_path.is_absolute() {
                    target.to_string()
                } else {
                    let mut t = root.join(target).display().to_string();
                    if target.ends_with('/') && !t.ends_with('/') {
                        t.push('/');
                    }
                    t
                };
                Some(format!("{lhs}={target}"))
            })
            .collect();
        let mut include_paths = Vec::new();
        for dir in ["node_modules", "lib"] {
            if root.join(dir).is_dir() {
                include_paths.push(root.join(dir));
            }
        }
        Self {
            root,
            remappings,
            include_paths,
        }
    }

    /// Keeps the discovered root unless the editor's workspace folder is above it.
    pub fn with_root_at_least(self, workspace: &Path) -> Self {
        if self.root.starts_with(workspace) || workspace.starts_with(&self.root) {
            self
        } else {
            Self::for_root(workspace.to_path_buf())
        }
    }

    /// Whether `path` belongs to a dependency (lib/ or node_modules/) rather than the project.
    pub fn is_dependency(&self, path: &Path) -> bool {
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel.components().any(|c| {
                let c = c.as_os_str();
                c == "lib" || c == "node_modules"
            }),
            Err(_) => true,
        }
    }

    /// The project's own Solidity files (skipping dependencies and build output).
    pub fn source_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if path.is_dir() {
                    if !name.starts_with('.')
                        && !matches!(
                            &*name,
                            "lib" | "node_modules" | "out" | "cache" | "target" | "artifacts"
                        )
                    {
                        stack.push(path);
                    }
                } else if name.ends_with(".sol") {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }
}

/// Extracts `remappings = ["a=b", ...]` entries from a TOML file's text.
fn toml_remappings(text: &str) -> Vec<String> {
    let Ok(value) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut collect = |table: &toml::Table| {
        if let Some(toml::Value::Array(items)) = table.get("remappings") {
            out.extend(items.iter().filter_map(|v| v.as_str().map(String::from)));
        }
    };
    collect(&value);
    for (_, v) in &value {
        if let toml::Value::Table(t) = v {
            collect(t);
            for (_, inner) in t {
                if let toml::Value::Table(t2) = inner {
                    collect(t2);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_remappings_and_lib_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("lib/solmate/src")).unwrap();
        std::fs::create_dir_all(root.join("lib/forge-std/src")).unwrap();
        std::fs::write(
            root.join("foundry.toml"),
            "[profile.default]\nremappings = [\"@oz/=lib/oz/contracts/\"]\n",
        )
        .unwrap();
        std::fs::write(
            root.join("remappings.txt"),
            "forge-std/=lib/forge-std/src/\n",
        )
        .unwrap();
        let config = ProjectConfig::discover(root);
        let r = &config.remappings;
        assert!(
            r.contains(&format!("forge-std/={}/lib/forge-std/src/", root.display())),
            "{r:?}"
        );
        assert!(
            r.contains(&format!("@oz/={}/lib/oz/contracts/", root.display())),
            "{r:?}"
        );
        assert!(
            r.contains(&format!("solmate/={}/lib/solmate/src/", root.display())),
            "{r:?}"
        );
        assert_eq!(r.iter().filter(|x| x.starts_with("forge-std/")).count(), 1);
        assert!(config.is_dependency(&root.join("lib/solmate/src/a.sol")));
        assert!(!config.is_dependency(&root.join("src/a.sol")));
    }
}
