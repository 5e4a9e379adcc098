//! The project's git state as the deploy workflow sees it (git2).

use std::path::{Path, PathBuf};

use alloy::primitives::{B256, keccak256};
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
    let prefix = project_prefix(&repo, root);
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

/// The project's directory inside the repository's work tree (empty at the
/// root).
fn project_prefix(repo: &git2::Repository, root: &Path) -> PathBuf {
    repo.workdir()
        .and_then(|w| {
            root.canonicalize()
                .ok()?
                .strip_prefix(w.canonicalize().ok()?)
                .ok()
                .map(Path::to_path_buf)
        })
        .unwrap_or_default()
}

/// A digest of the project's sources as committed at `commit`: every file
/// under the project (path and blob id) except forja's records. Two commits
/// that differ only in records have the same digest, so tests run before
/// records were committed are evidence for the commit after.
pub fn source_digest(root: &Path, commit: &str) -> anyhow::Result<B256> {
    let repo = git2::Repository::discover(root).context("opening the git repository")?;
    let oid =
        git2::Oid::from_str(commit).with_context(|| format!("`{commit}` is not a commit id"))?;
    let tree = repo
        .find_commit(oid)
        .with_context(|| format!("commit {commit} is not in the repository"))?
        .tree()?;
    let prefix = project_prefix(&repo, root);
    let mut listed = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let path = Path::new(dir).join(entry.name().unwrap_or(""));
        let Ok(inside) = path.strip_prefix(&prefix) else {
            return git2::TreeWalkResult::Ok;
        };
        let inside = inside.to_string_lossy().replace('\\', "/");
        if !RECORD_DIRS.iter().any(|d| inside.starts_with(d)) {
            listed.push(format!("{inside}\0{}\n", entry.id()));
        }
        git2::TreeWalkResult::Ok
    })?;
    listed.sort();
    Ok(keccak256(listed.concat()))
}

/// Creates the annotated tag `name` on `commit` with `message`; an existing
/// tag on the same commit is kept, one on another commit is an error.
pub fn annotated_tag(root: &Path, name: &str, commit: &str, message: &str) -> anyhow::Result<()> {
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
    // CI checkouts often have no user.name: the tag is still forja's.
    let tagger = repo
        .signature()
        .or_else(|_| git2::Signature::now("forja", "forja@localhost"))?;
    repo.tag(name, &object, &tagger, message, false)
        .with_context(|| format!("creating tag {name}"))?;
    Ok(())
}

/// Every annotated tag under `forja/` with its message.
pub fn forja_tags(root: &Path) -> Vec<(String, String)> {
    let Ok(repo) = git2::Repository::discover(root) else {
        return Vec::new();
    };
    let mut tags = Vec::new();
    let Ok(names) = repo.tag_names(Some("forja/*")) else {
        return tags;
    };
    for index in 0..names.len() {
        let Ok(Some(name)) = names.get(index) else {
            continue;
        };
        let Ok(reference) = repo.find_reference(&format!("refs/tags/{name}")) else {
            continue;
        };
        if let Ok(tag) = reference.peel_to_tag() {
            let message = tag.message().ok().flatten().unwrap_or("");
            tags.push((name.to_string(), message.to_string()));
        }
    }
    tags
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Commits every file of the work tree (the other modules' tests use it too).
    pub(crate) fn commit_all(repo: &git2::Repository) -> git2::Oid {
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

        let digest = source_digest(dir.path(), &oid.to_string()).unwrap();
        std::fs::write(dir.path().join("deployments/dev.json"), "{\"a\":1}").unwrap();
        std::fs::write(dir.path().join("a.sol"), "x").unwrap();
        let with_records = commit_all(&repo);
        assert_eq!(
            source_digest(dir.path(), &with_records.to_string()).unwrap(),
            digest,
            "committing records does not change the sources"
        );
        std::fs::write(dir.path().join("a.sol"), "y").unwrap();
        let changed = commit_all(&repo);
        assert_ne!(
            source_digest(dir.path(), &changed.to_string()).unwrap(),
            digest
        );

        annotated_tag(
            dir.path(),
            "forja/prod/abc",
            &oid.to_string(),
            "audit-head: 1 0x00",
        )
        .unwrap();
        annotated_tag(dir.path(), "forja/prod/abc", &oid.to_string(), "again").unwrap();
        assert!(annotated_tag(dir.path(), "forja/prod/abc", &changed.to_string(), "x").is_err());
        assert_eq!(
            forja_tags(dir.path()),
            vec![(
                "forja/prod/abc".to_string(),
                "audit-head: 1 0x00".to_string()
            )]
        );
    }
}
