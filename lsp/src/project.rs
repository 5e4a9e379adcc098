//! The editor's view of a project, built from `forja_compiler`'s project
//! model so that the fast engine resolves imports exactly as the build does:
//! the configured remappings (`forja.toml`/`foundry.toml`, `remappings.txt`),
//! the automatic ones for every `libs` directory (`lib/<dep>`,
//! `node_modules/<pkg>`), and the front end's (the cli's `forja-std/`).
//! A folder without a project file is read with the compiler's defaults.

use forja_compiler::{
    Project, Remapping,
    project::{CompilerSettings, ProjectConfig},
};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

/// Remappings a front end adds to every project (the cli's `forja-std/`),
/// for solc on save and for the fast engine alike.
pub type ExtraRemappings = Arc<dyn Fn(&Project) -> Vec<Remapping> + Send + Sync>;

/// Import resolution of one project, paths absolute.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The project root, as the editor names it (not canonicalized, so
    /// paths from the editor's URIs compare with it).
    pub root: PathBuf,
    /// Remappings in solc's `context:prefix=target` form, targets absolute.
    pub remappings: Vec<String>,
    /// The dependency directories (`libs`): files there are not the user's.
    pub libs: Vec<PathBuf>,
    /// Build output and cache directories, never sources.
    pub outputs: Vec<PathBuf>,
}

/// Files that mark a folder without a project file as a root.
const ROOT_MARKERS: &[&str] = &["remappings.txt", ".git"];

impl Workspace {
    /// The project containing `start` (a file or directory): the nearest
    /// `forja.toml`/`foundry.toml` above it, else the nearest folder with a
    /// `remappings.txt` or `.git`, else `start`'s folder.
    pub fn discover(start: &Path, extra: Option<&ExtraRemappings>) -> Self {
        let dir = if start.is_dir() {
            start
        } else {
            start.parent().unwrap_or(start)
        };
        let root = dir
            .ancestors()
            .find(|d| d.join("forja.toml").is_file() || d.join("foundry.toml").is_file())
            .or_else(|| {
                dir.ancestors()
                    .find(|d| ROOT_MARKERS.iter().any(|m| d.join(m).exists()))
            })
            .unwrap_or(dir);
        Self::for_root(root, extra)
    }

    /// The project whose root is `root`. A project file that does not load
    /// (a syntax error being typed) falls back to the defaults; the build
    /// on save reports the error.
    pub fn for_root(root: &Path, extra: Option<&ExtraRemappings>) -> Self {
        let project = Project::load(root).unwrap_or_else(|_| without_project_file(root));
        let mut remappings = project.remappings();
        if let Some(extra) = extra {
            for r in extra(&project) {
                if !remappings
                    .iter()
                    .any(|existing| existing.prefix == r.prefix)
                {
                    remappings.push(r);
                }
            }
        }
        let remappings = remappings
            .iter()
            .map(|r| {
                let mut target = root.join(&r.target).display().to_string();
                if r.target.ends_with('/') && !target.ends_with('/') {
                    target.push('/');
                }
                format!("{}={target}", r.prefix)
            })
            .collect();
        let config = &project.config;
        Self {
            root: root.to_path_buf(),
            remappings,
            libs: config.libs.iter().map(|l| root.join(l)).collect(),
            outputs: [&config.out, &config.cache]
                .into_iter()
                .map(|d| root.join(d))
                .collect(),
        }
    }

    /// Keeps the discovered root unless the editor's workspace folder is above it.
    pub fn with_root_at_least(self, workspace: &Path, extra: Option<&ExtraRemappings>) -> Self {
        if self.root.starts_with(workspace) || workspace.starts_with(&self.root) {
            self
        } else {
            Self::for_root(workspace, extra)
        }
    }

    /// Whether `path` belongs to a dependency (a `libs` directory, or
    /// outside the project) rather than the project.
    pub fn is_dependency(&self, path: &Path) -> bool {
        !path.starts_with(&self.root) || self.libs.iter().any(|lib| path.starts_with(lib))
    }

    /// The project's own Solidity files (skipping dependencies, build output
    /// and hidden folders).
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
                    let skipped = name.starts_with('.')
                        || name == "target"
                        || self.libs.contains(&path)
                        || self.outputs.contains(&path);
                    if !skipped {
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

/// A folder without `forja.toml`/`foundry.toml`: the compiler's defaults,
/// plus its `remappings.txt`.
fn without_project_file(root: &Path) -> Project {
    let remappings = std::fs::read_to_string(root.join("remappings.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(Remapping::parse)
        .collect();
    Project {
        root: root.to_path_buf(),
        config: ProjectConfig {
            name: String::new(),
            src: "src".into(),
            test: "test".into(),
            script: "script".into(),
            out: "out".into(),
            cache: "cache".into(),
            libs: vec!["lib".into(), "node_modules".into()],
            remappings,
            compiler: CompilerSettings::default(),
            environments: Default::default(),
        },
        config_file: PathBuf::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foundry_remappings_lib_defaults_and_dependencies() {
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
        let workspace = Workspace::discover(&root.join("src/A.sol"), None);
        let r = &workspace.remappings;
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
        assert!(workspace.is_dependency(&root.join("lib/solmate/src/a.sol")));
        assert!(!workspace.is_dependency(&root.join("src/a.sol")));
    }

    #[test]
    fn forja_toml_libs_decide_the_automatic_remappings_and_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("vendor/math/src")).unwrap();
        std::fs::create_dir_all(root.join("lib/ignored/src")).unwrap();
        std::fs::write(
            root.join("forja.toml"),
            "[project]\nname = \"p\"\nlibs = [\"vendor\"]\n",
        )
        .unwrap();
        let workspace = Workspace::discover(root, None);
        assert_eq!(
            workspace.remappings,
            [format!("math/={}/vendor/math/src/", root.display())]
        );
        assert!(workspace.is_dependency(&root.join("vendor/math/src/M.sol")));
        assert!(!workspace.is_dependency(&root.join("lib/ignored/src/I.sol")));
    }
}
