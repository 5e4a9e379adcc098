//! Release bundles: `releases/<id>/` holds everything a promotion deploys,
//! so that a fresh checkout (no `out/`, no test cache) can promote it:
//!
//! ```text
//! releases/<id>/release.json        the content below, its digest, the audit anchor
//!               deploy.toml         the deploy manifest
//!               artifacts/…         the compiler's artifacts of the contracts it deploys
//!               test-report.json    the full test run at the source commit
//!               approvals/<address>-<env>.json
//!               promotions/<env>.json
//! ```
//!
//! The id is the digest of the content (commit, manifest, artifacts,
//! evidence); approvals, promotion records and the audit anchor sit beside
//! it, so adding them never changes the id.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, keccak256};
use anyhow::{Context as _, bail};
use forja_compiler::artifact::{Artifact, ArtifactIndex};
use serde::{Deserialize, Serialize};

use crate::audit::AuditAnchor;
use crate::evidence::{self, Evidence};
use crate::gate::{Gate, GateRefused};
use crate::manifest::Manifest;

pub const RELEASE_FILE: &str = "release.json";
pub const MANIFEST_FILE: &str = "deploy.toml";
pub const REPORT_FILE: &str = "test-report.json";
pub const ARTIFACTS_DIR: &str = "artifacts";

/// What a release is; its digest is the release's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseContent {
    pub project: String,
    /// The commit the artifacts were built and tested from.
    pub commit: String,
    /// keccak256 of the bundle's deploy.toml.
    pub deploy_manifest: B256,
    /// One per contract of deploy.toml, in its order.
    pub contracts: Vec<BundledContract>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundledContract {
    /// The deployment's name in deploy.toml.
    pub name: String,
    /// `path/File.sol:Name`.
    pub artifact: String,
    /// The artifact file, relative to the bundle's `artifacts/`.
    pub file: String,
    /// keccak256 of the artifact file's bytes.
    pub file_digest: B256,
    /// keccak256 of the creation and runtime code (library placeholders zeroed).
    pub creation_code_hash: B256,
    pub runtime_code_hash: B256,
    pub compiler_version: String,
    pub compiler_settings: serde_json::Value,
}

impl ReleaseContent {
    /// keccak256 of the content's JSON: what approvers sign.
    pub fn digest(&self) -> B256 {
        keccak256(serde_json::to_vec(self).expect("release content serialises"))
    }

    /// The release id: the digest's first 10 bytes in hex.
    pub fn id(&self) -> String {
        id_of(self.digest())
    }
}

fn id_of(digest: B256) -> String {
    hex::encode(&digest[..10])
}

/// `releases/<id>/release.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: String,
    pub digest: B256,
    pub content: ReleaseContent,
    pub created_at: String,
    /// The audit log's head once the release was logged.
    pub audit_anchor: AuditAnchor,
}

pub fn releases_dir(root: &Path) -> PathBuf {
    root.join("releases")
}

pub fn bundle_dir(root: &Path, id: &str) -> PathBuf {
    releases_dir(root).join(id)
}

/// Every release bundle, oldest first.
pub fn list(root: &Path) -> anyhow::Result<Vec<Release>> {
    let dir = releases_dir(root);
    let mut releases = Vec::new();
    if !dir.is_dir() {
        return Ok(releases);
    }
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path().join(RELEASE_FILE);
        if path.is_file() {
            releases.push(read_release(&path)?);
        }
    }
    releases.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(releases)
}

fn read_release(path: &Path) -> anyhow::Result<Release> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a release", path.display()))
}

/// Loads a release by id (or a unique prefix of one).
pub fn load(root: &Path, id: &str) -> anyhow::Result<Release> {
    let releases = list(root)?;
    let matching: Vec<&Release> = releases.iter().filter(|r| r.id.starts_with(id)).collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] if releases.is_empty() => {
            bail!("no release {id}: releases/ has none (create one with `forja release`)")
        }
        [] => bail!(
            "no release {id} in releases/ (there are: {})",
            releases
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => bail!("release id {id} is ambiguous; give more of it"),
    }
}

/// A bundle whose content was checked against its digest.
#[derive(Debug)]
pub struct VerifiedBundle {
    pub release: Release,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub artifacts: ArtifactIndex,
    pub report: Vec<u8>,
}

impl VerifiedBundle {
    /// The bundled artifact of a deploy.toml contract.
    pub fn artifact(&self, contract: &BundledContract) -> anyhow::Result<Artifact> {
        Ok(Artifact::load(
            &self.dir.join(ARTIFACTS_DIR).join(&contract.file),
        )?)
    }
}

/// The [`Gate::Bundle`] gate: the content hashes to the id, and every file
/// it names hashes to what the content says.
pub fn verify(root: &Path, release: &Release) -> Result<VerifiedBundle, GateRefused> {
    let refuse = |reason: String| GateRefused::new(Gate::Bundle, reason);
    let dir = bundle_dir(root, &release.id);
    let digest = release.content.digest();
    if digest != release.digest || id_of(digest) != release.id {
        return Err(refuse(format!(
            "releases/{}/{RELEASE_FILE} was edited: its content hashes to {digest}, not to its id {} (digest {})",
            release.id, release.id, release.digest
        )));
    }
    let read = |relative: &str| {
        let path = dir.join(relative);
        std::fs::read(&path).map_err(|e| {
            refuse(format!(
                "releases/{}/{relative} cannot be read ({e}); the bundle is incomplete",
                release.id
            ))
        })
    };
    let manifest_bytes = read(MANIFEST_FILE)?;
    if keccak256(&manifest_bytes) != release.content.deploy_manifest {
        return Err(refuse(format!(
            "releases/{}/{MANIFEST_FILE} differs from the released manifest (it was edited after the release was made)",
            release.id
        )));
    }
    let manifest = std::str::from_utf8(&manifest_bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| Manifest::parse(text).map_err(|e| format!("{e:#}")))
        .map_err(|e| refuse(format!("releases/{}/{MANIFEST_FILE}: {e}", release.id)))?;
    for contract in &release.content.contracts {
        let relative = format!("{ARTIFACTS_DIR}/{}", contract.file);
        let bytes = read(&relative)?;
        if keccak256(&bytes) != contract.file_digest {
            return Err(refuse(format!(
                "releases/{}/{relative} (artifact of {}) differs from the released artifact (tampered or edited after the release was made)",
                release.id, contract.name
            )));
        }
        let artifact = Artifact::from_bytes(&dir.join(&relative), &bytes)
            .map_err(|e| refuse(e.to_string()))?;
        if artifact.creation.hash() != contract.creation_code_hash
            || artifact.runtime.hash() != contract.runtime_code_hash
        {
            return Err(refuse(format!(
                "releases/{}/{relative}: its code does not hash to the released code of {}",
                release.id, contract.name
            )));
        }
    }
    let report = read(REPORT_FILE)?;
    let artifacts =
        ArtifactIndex::scan(&dir.join(ARTIFACTS_DIR)).map_err(|e| refuse(e.to_string()))?;
    Ok(VerifiedBundle {
        release: release.clone(),
        dir,
        manifest,
        artifacts,
        report,
    })
}

/// The [`Gate::Evidence`] gate over a verified bundle: its test report is
/// the one the content names, and is evidence for the release's commit.
pub fn check_evidence(bundle: &VerifiedBundle) -> Result<&Evidence, GateRefused> {
    let content = &bundle.release.content;
    let place = bundle.dir.join(REPORT_FILE);
    let found = evidence::evidence(&bundle.report, &content.commit, &place)?;
    if found != content.evidence {
        return Err(GateRefused::new(
            Gate::Evidence,
            format!(
                "releases/{}/{REPORT_FILE} is not the report the release was made with",
                bundle.release.id
            ),
        ));
    }
    Ok(&content.evidence)
}

/// What `create` needs from the project.
pub struct ReleaseInput<'a> {
    pub root: &'a Path,
    pub project: &'a str,
    /// The project's `out/`, freshly built from the commit's sources.
    pub artifacts: &'a ArtifactIndex,
    /// Who creates it, for the audit log.
    pub actor: String,
}

/// Creates the bundle of what the project's HEAD would release: the clean
/// tree's artifacts, deploy.toml, and the test report of a full run at a
/// commit with the same sources. Returns it and whether it is new (the same
/// content is the same release).
pub fn create(input: &ReleaseInput<'_>) -> anyhow::Result<(Release, bool)> {
    let root = input.root;
    let tree = crate::git::tree_state(root).context(
        "the project is not in a git repository: a release names the commit it comes from",
    )?;
    if tree.is_dirty() {
        bail!(
            "the work tree has uncommitted changes ({}); a release is made from committed sources: commit or stash them",
            tree.changes.join(", ")
        );
    }
    let head = tree.commit.context("the repository has no commit yet")?;
    let report_path = evidence::report_path(root);
    let report = std::fs::read(&report_path).map_err(|_| {
        GateRefused::new(
            Gate::Evidence,
            format!(
                "no test report ({} is missing); run `forja test` first",
                report_path.display()
            ),
        )
    })?;
    // The tests may have run before the dev records were committed: any
    // commit with the same sources as HEAD is this release's commit.
    let tested = evidence::TestReportFile::parse(&report, &report_path)
        .map_err(|e| GateRefused::new(Gate::Evidence, format!("{e:#}")))?
        .commit
        .unwrap_or_default();
    let commit = if tested != head
        && crate::git::source_digest(root, &tested).ok()
            == Some(crate::git::source_digest(root, &head)?)
    {
        tested
    } else {
        head
    };
    let evidence = evidence::evidence(&report, &commit, &report_path)?;

    let manifest_path = root.join(MANIFEST_FILE);
    let manifest_bytes = std::fs::read(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let manifest = Manifest::load(&manifest_path)?;
    let mut contracts = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for spec in &manifest.contracts {
        let (file, artifact) = input
            .artifacts
            .find_file(spec.artifact_ref())
            .with_context(|| format!("deploy.toml: {}", spec.name))?;
        spec.check_deployable(&artifact)?;
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let relative = file
            .strip_prefix(input.artifacts.dir())
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        contracts.push(BundledContract {
            name: spec.name.clone(),
            artifact: artifact.id.clone(),
            file: relative.clone(),
            file_digest: keccak256(&bytes),
            creation_code_hash: artifact.creation.hash(),
            runtime_code_hash: artifact.runtime.hash(),
            compiler_version: artifact.compiler_version.clone(),
            compiler_settings: artifact.compiler_settings.clone(),
        });
        if !files.iter().any(|(f, _)| *f == relative) {
            files.push((relative, bytes));
        }
    }
    let content = ReleaseContent {
        project: input.project.to_string(),
        commit,
        deploy_manifest: keccak256(&manifest_bytes),
        contracts,
        evidence,
    };
    let id = content.id();
    let dir = bundle_dir(root, &id);
    if let Ok(existing) = read_release(&dir.join(RELEASE_FILE))
        && existing.content == content
    {
        return Ok((existing, false));
    }
    let write =
        |relative: &str, bytes: &[u8]| crate::fsutil::write_durably(&dir.join(relative), bytes);
    for (relative, bytes) in &files {
        write(&format!("{ARTIFACTS_DIR}/{relative}"), bytes)?;
    }
    write(MANIFEST_FILE, &manifest_bytes)?;
    write(REPORT_FILE, &report)?;
    crate::audit::append(
        root,
        "release",
        "",
        Some(content.commit.clone()),
        Some(id.clone()),
        input.actor.clone(),
        serde_json::json!({
            "digest": content.digest(),
            "contracts": content.contracts.iter().map(|c| serde_json::json!({
                "name": c.name, "runtime_code_hash": c.runtime_code_hash,
            })).collect::<Vec<_>>(),
            "tests": { "passed": content.evidence.passed, "report_digest": content.evidence.report_digest },
        }),
    )?;
    let release = Release {
        id: id.clone(),
        digest: content.digest(),
        content,
        created_at: crate::fsutil::rfc3339(crate::fsutil::unix_now()),
        audit_anchor: crate::audit::anchor(root)?,
    };
    write(
        RELEASE_FILE,
        (serde_json::to_string_pretty(&release)? + "\n").as_bytes(),
    )?;
    Ok((release, true))
}

/// `releases/<id>/promotions/<env>.json`: a release reached an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionRecord {
    pub release: String,
    pub environment: String,
    pub chain_id: u64,
    /// The environment it was promoted from.
    pub from: String,
    pub commit: String,
    pub contracts: Vec<PromotedContract>,
    /// The approvers whose signatures counted.
    pub approvers: Vec<Address>,
    pub tag: String,
    pub promoted_at: String,
    /// The audit log's head once the promotion was logged.
    pub audit_anchor: AuditAnchor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotedContract {
    pub name: String,
    pub address: Address,
    pub tx_hash: B256,
    pub block: u64,
}

pub fn promotion_path(root: &Path, id: &str, environment: &str) -> PathBuf {
    bundle_dir(root, id)
        .join("promotions")
        .join(format!("{environment}.json"))
}

impl PromotionRecord {
    pub fn save(&self, root: &Path) -> anyhow::Result<PathBuf> {
        let path = promotion_path(root, &self.release, &self.environment);
        crate::fsutil::write_durably(
            &path,
            (serde_json::to_string_pretty(self)? + "\n").as_bytes(),
        )?;
        Ok(path)
    }
}

/// The promotions of release `id`.
pub fn promotions(root: &Path, id: &str) -> anyhow::Result<Vec<PromotionRecord>> {
    let dir = bundle_dir(root, id).join("promotions");
    let mut records = Vec::new();
    if !dir.is_dir() {
        return Ok(records);
    }
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)?;
            records.push(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a promotion record", path.display()))?,
            );
        }
    }
    records.sort_by(|a: &PromotionRecord, b| a.promoted_at.cmp(&b.promoted_at));
    Ok(records)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A committed project with one artifact, deploy.toml and a passing
    /// report at HEAD.
    pub(crate) fn project() -> (tempfile::TempDir, ArtifactIndex) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let artifact = serde_json::json!({
            "abi": [],
            "bytecode": { "object": "0x6080604052" },
            "deployedBytecode": { "object": "0x6080" },
            "metadata": { "compiler": { "version": "0.8.30" }, "settings": { "optimizer": { "enabled": true } } },
            "sourcePath": "src/Counter.sol",
        });
        std::fs::create_dir_all(root.join("out/Counter.sol")).unwrap();
        std::fs::write(
            root.join("out/Counter.sol/Counter.json"),
            artifact.to_string(),
        )
        .unwrap();
        std::fs::write(
            root.join("deploy.toml"),
            "[[contracts]]\nname = \"Counter\"\n",
        )
        .unwrap();
        std::fs::write(root.join(".gitignore"), "out/\ncache/\n").unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/Counter.sol"), "contract Counter {}").unwrap();
        let repo = git2::Repository::init(root).unwrap();
        let commit = commit_all(&repo);
        write_report(root, &commit);
        let index = ArtifactIndex::scan(&root.join("out")).unwrap();
        (dir, index)
    }

    fn write_report(root: &Path, commit: &str) {
        crate::evidence::write_report(&crate::evidence::tests::passing(commit), root).unwrap();
    }

    fn commit_all(repo: &git2::Repository) -> String {
        crate::git::tests::commit_all(repo).to_string()
    }

    pub(crate) fn create_in(root: &Path, index: &ArtifactIndex) -> anyhow::Result<(Release, bool)> {
        create(&ReleaseInput {
            root,
            project: "demo",
            artifacts: index,
            actor: "t".into(),
        })
    }

    #[test]
    fn the_id_is_the_content_digest_and_records_do_not_change_it() {
        let (dir, index) = project();
        let root = dir.path();
        let (release, created) = create_in(root, &index).unwrap();
        assert!(created);
        assert_eq!(release.id, hex::encode(&release.content.digest()[..10]));
        assert_eq!(
            release.content.contracts[0].file,
            "Counter.sol/Counter.json"
        );
        let bundle = verify(root, &release).unwrap();
        check_evidence(&bundle).unwrap();
        assert_eq!(bundle.manifest.contracts[0].name, "Counter");
        // The release was logged and its anchor is the log's head.
        assert_eq!(release.audit_anchor, crate::audit::anchor(root).unwrap());

        // Records and approvals committed afterwards: same release.
        std::fs::create_dir_all(root.join("deployments")).unwrap();
        std::fs::write(root.join("deployments/dev.json"), "{}").unwrap();
        let repo = git2::Repository::open(root).unwrap();
        commit_all(&repo);
        let (again, created) = create_in(root, &index).unwrap();
        assert!(!created);
        assert_eq!(again.id, release.id);
        assert_eq!(load(root, &release.id[..6]).unwrap().id, release.id);

        // Changed sources without a new test run: refused, naming the gate.
        std::fs::write(root.join("src/Counter.sol"), "contract Counter { uint x; }").unwrap();
        commit_all(&repo);
        let err = create_in(root, &index).unwrap_err();
        assert_eq!(crate::refused_gate(&err).unwrap().gate, Gate::Evidence);
    }

    #[test]
    fn tampering_with_any_bundled_file_is_refused_by_the_bundle_gate() {
        let (dir, index) = project();
        let root = dir.path();
        let (release, _) = create_in(root, &index).unwrap();
        let bundle = bundle_dir(root, &release.id);
        let tamper = |relative: &str, from: &str, to: &str| {
            let path = bundle.join(relative);
            let saved = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, saved.replacen(from, to, 1)).unwrap();
            let refused = verify(root, &release).unwrap_err();
            std::fs::write(&path, saved).unwrap();
            refused
        };
        for (file, from, to, expected) in [
            (
                "artifacts/Counter.sol/Counter.json",
                "0x6080",
                "0x6081",
                "differs from the released artifact",
            ),
            (
                "deploy.toml",
                "Counter",
                "Counter2",
                "differs from the released manifest",
            ),
        ] {
            let refused = tamper(file, from, to);
            assert_eq!(refused.gate, Gate::Bundle);
            assert!(refused.reason.contains(expected), "{}", refused.reason);
        }
        // Edited content no longer hashes to the id.
        let mut edited = release.clone();
        edited.content.commit = "0".repeat(40);
        assert!(
            verify(root, &edited)
                .unwrap_err()
                .reason
                .contains("was edited")
        );
        // A swapped test report is caught by the evidence gate.
        let report = bundle.join(REPORT_FILE);
        let text = std::fs::read_to_string(&report).unwrap();
        let swapped = text.replace("\"passed\": 4", "\"passed\": 40");
        assert_ne!(swapped, text, "the test must change the report");
        std::fs::write(&report, swapped).unwrap();
        let verified = verify(root, &release).unwrap();
        assert_eq!(check_evidence(&verified).unwrap_err().gate, Gate::Evidence);
    }
}
