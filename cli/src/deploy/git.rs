//! The project's git state as the deploy workflow sees it (git2).

use std::path::Path;

use anyhow::{Context as _, bail};

/// Directories forja itself writes during deploy/promote; changes there do
/// not make a tree dirty (they are the records of the release being made).
pub const RECORD_DIRS: [&str; 2] = ["deployments/", "releases/"];

/// HEAD and whether the work tree has changes outside forja's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeState {
    pub commit: Option<String>,
    /// Paths with uncommitted changes (untracked files included).
    pub changes: Vec<String>,
}

impl TreeState {
    pub fn is_dirty(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// The state of the repository containing `root`, `None` outside git.
pub fn tree_state(root: &Path) -> Option<TreeState> {
    let repo = git2::Repository::discover(root).ok()?;
    let commit = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string());
    let prefix = repo
        .workdir()
        .and_then(|w| {
            root.canonicalize()
                .ok()?
                .strip_prefix(w.canonicalize().ok()?)
                .ok()
                .map(|p| p.to_path_buf())
        })
        .unwrap_or_default();
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true);
    let changes = repo
        .statuses(Some(&mut options))
        .map(|statuses| {
            statuses
                .iter()
                .filter(|e| !e.status().is_ignored())
                .filter_map(|e| e.path().ok().map(str::to_string))
                .filter(|path| {
                    let inside = Path::new(path).strip_prefix(&prefix).ok();
                    !inside.is_some_and(|p| {
                        let p = p.to_string_lossy();
                        RECORD_DIRS.iter().any(|dir| p.starts_with(dir))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(TreeState { commit, changes })
}

/// Creates the lightweight tag `name` on `commit`; an existing tag on the
/// same commit is fine, one on another commit is an error.
pub fn tag(root: &Path, name: &str, commit: &str) -> anyhow::Result<()> {
    let repo = git2::Repository::discover(root).context("opening the git repository")?;
    let oid =
        git2::Oid::from_str(commit).with_context(|| format!("`{commit}` is not a commit id"))?;
    if let Ok(existing) = repo.revparse_single(&format!("refs/tags/{name}")) {
        let existing = existing.peel_to_commit()?.id();
        if existing == oid {
            return Ok(());
        }
        bail!("tag {name} already exists on commit {existing}");
    }
    let object = repo
        .find_object(oid, None)
        .with_context(|| format!("commit {commit} is not in the repository"))?;
    repo.tag_lightweight(name, &object, false)
        .with_context(|| format!("creating tag {name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_all(repo: &git2::Repository) -> git2::Oid {
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.org").unwrap();
        let parents: Vec<git2::Commit> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, "c", &tree, &parents)
            .unwrap()
    }

    #[test]
    fn records_do_not_dirty_the_tree_but_sources_do() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.sol"), "x").unwrap();
        let oid = commit_all(&repo);
        let state = tree_state(dir.path()).unwrap();
        assert_eq!(state.commit, Some(oid.to_string()));
        assert!(!state.is_dirty());

        std::fs::create_dir_all(dir.path().join("deployments")).unwrap();
        std::fs::write(dir.path().join("deployments/dev.json"), "{}").unwrap();
        assert!(!tree_state(dir.path()).unwrap().is_dirty());

        std::fs::write(dir.path().join("a.sol"), "y").unwrap();
        assert_eq!(
            tree_state(dir.path()).unwrap().changes,
            vec!["a.sol".to_string()]
        );

        tag(dir.path(), "forja/prod/abc", &oid.to_string()).unwrap();
        tag(dir.path(), "forja/prod/abc", &oid.to_string()).unwrap();
        assert!(repo.revparse_single("refs/tags/forja/prod/abc").is_ok());
    }
}
