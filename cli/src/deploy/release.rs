//! Releases: what `forja promote` moves from one environment to the next,
//! the four gates it must pass, and approvers' signatures over it.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, Bytes, Signature, keccak256};
use alloy::signers::SignerSync as _;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use super::artifact::ArtifactIndex;
use super::config::{Approvals, Environment};
use super::git::TreeState;
use super::manifest::Manifest;
use super::record::DeploymentRecord;

/// What an approver signs: the contracts deployed in the source environment
/// (by code hash), the commit they were built from and the manifest that
/// deploys them, and where they go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseManifest {
    pub project: String,
    pub from: String,
    pub from_chain_id: u64,
    pub to: String,
    pub to_chain_id: u64,
    pub commit: String,
    /// keccak256 of deploy.toml.
    pub deploy_manifest_hash: B256,
    pub contracts: Vec<ReleaseContract>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseContract {
    pub name: String,
    pub artifact: String,
    pub creation_code_hash: B256,
    pub runtime_code_hash: B256,
    pub compiler_version: String,
    /// Where it runs in the source environment.
    pub source_address: Address,
}

impl ReleaseManifest {
    /// keccak256 of the manifest's JSON: what approvers sign.
    pub fn hash(&self) -> B256 {
        keccak256(serde_json::to_vec(self).expect("a manifest serialises"))
    }

    /// The release id: the first 6 bytes of the hash, in hex.
    pub fn id(&self) -> String {
        hex::encode(&self.hash()[..6])
    }
}

/// The release `target` would receive now: the deployment recorded in its
/// `promote_from` environment.
pub fn candidate(
    root: &Path,
    project: &str,
    target: &Environment,
    source: &Environment,
    manifest: &Manifest,
) -> anyhow::Result<ReleaseManifest> {
    let record_path = super::record::record_path(root, &source.name);
    if !record_path.exists() {
        bail!(
            "nothing to promote: `{}` has no deployment ({} is missing); run `forja deploy --env {}` first",
            source.name,
            record_path.display(),
            source.name
        );
    }
    let record = DeploymentRecord::load(&record_path)?;
    let commit = record.commit.clone().with_context(|| {
        format!(
            "{} records no git commit: `{}` was not deployed from a git repository",
            record_path.display(),
            source.name
        )
    })?;
    let mut contracts = Vec::new();
    for spec in &manifest.contracts {
        let deployed = record.contract(&spec.name).with_context(|| {
            format!(
                "deploy.toml deploys {}, which is not deployed in `{}`; run `forja deploy --env {}` first",
                spec.name, source.name, source.name
            )
        })?;
        contracts.push(ReleaseContract {
            name: deployed.name.clone(),
            artifact: deployed.artifact.clone(),
            creation_code_hash: deployed.creation_code_hash,
            runtime_code_hash: deployed.runtime_code_hash,
            compiler_version: deployed.compiler.version.clone(),
            source_address: deployed.address,
        });
    }
    Ok(ReleaseManifest {
        project: project.to_string(),
        from: source.name.clone(),
        from_chain_id: source.chain_id,
        to: target.name.clone(),
        to_chain_id: target.chain_id,
        commit,
        deploy_manifest_hash: super::executor::file_hash(&root.join("deploy.toml"))?,
        contracts,
    })
}

/// Gate 1: the tree is clean and HEAD is the commit the source environment
/// was deployed from (from a clean tree).
pub fn gate_tree(
    tree: Option<&TreeState>,
    source: &DeploymentRecord,
    release: &ReleaseManifest,
) -> anyhow::Result<()> {
    let tree = tree.context("gate 1 (clean tree) refused: the project is not in a git repository, so there is no commit to promote")?;
    if tree.is_dirty() {
        let mut listed: Vec<&str> = tree.changes.iter().map(String::as_str).take(10).collect();
        if tree.changes.len() > 10 {
            listed.push("…");
        }
        bail!(
            "gate 1 (clean tree) refused: the work tree has uncommitted changes ({}); commit or stash them",
            listed.join(", ")
        );
    }
    let head = tree.commit.as_deref().unwrap_or("(no commit)");
    if head != release.commit {
        bail!(
            "gate 1 (commit) refused: HEAD is {head}, but `{}` was deployed from {}; check that commit out, or deploy `{}` again at HEAD",
            release.from,
            release.commit,
            release.from
        );
    }
    if source.dirty {
        bail!(
            "gate 1 (clean tree) refused: `{}` was deployed from a tree with uncommitted changes; deploy it again from a clean tree",
            release.from
        );
    }
    Ok(())
}

/// The report `forja test` writes.
#[derive(Debug, Deserialize)]
struct TestReport {
    commit: Option<String>,
    dirty: Option<bool>,
    passed: usize,
    failed: usize,
}

pub fn test_report_path(root: &Path) -> PathBuf {
    root.join("cache").join("test-report.json")
}

/// Gate 2: a passing `forja test` report for the release's commit.
pub fn gate_tests(root: &Path, release: &ReleaseManifest) -> anyhow::Result<()> {
    let path = test_report_path(root);
    let fix = format!("run `forja test` at commit {}", release.commit);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        anyhow::anyhow!(
            "gate 2 (tests) refused: no test report ({} is missing); {fix}",
            path.display()
        )
    })?;
    let report: TestReport = serde_json::from_str(&text).with_context(|| {
        format!(
            "gate 2 (tests) refused: {} is not a test report; {fix}",
            path.display()
        )
    })?;
    if report.commit.as_deref() != Some(release.commit.as_str()) {
        bail!(
            "gate 2 (tests) refused: the last test run was at commit {}, not {}; {fix}",
            report.commit.as_deref().unwrap_or("(none)"),
            release.commit
        );
    }
    if report.dirty == Some(true) {
        bail!(
            "gate 2 (tests) refused: the last test run had uncommitted changes; {fix} with a clean tree"
        );
    }
    if report.failed > 0 {
        bail!(
            "gate 2 (tests) refused: {} test(s) failed at {}",
            report.failed,
            release.commit
        );
    }
    if report.passed == 0 {
        bail!("gate 2 (tests) refused: the last test run passed no tests");
    }
    Ok(())
}

/// Gate 3: the artifacts in `out/` are byte-identical to what the source
/// environment runs.
pub fn gate_artifacts(
    release: &ReleaseManifest,
    manifest: &Manifest,
    artifacts: &ArtifactIndex,
) -> anyhow::Result<()> {
    let mut differences = Vec::new();
    for (spec, released) in manifest.contracts.iter().zip(&release.contracts) {
        let artifact = artifacts.find(spec.artifact_ref())?;
        if artifact.creation.hash() != released.creation_code_hash
            || artifact.runtime.hash() != released.runtime_code_hash
        {
            differences.push(format!(
                "{} (creation {} vs {} in `{}`)",
                spec.name,
                artifact.creation.hash(),
                released.creation_code_hash,
                release.from
            ));
        }
    }
    if !differences.is_empty() {
        bail!(
            "gate 3 (identical artifacts) refused: these artifacts differ from what `{}` runs: {}; rebuild at commit {} with the same compiler settings",
            release.from,
            differences.join(", "),
            release.commit
        );
    }
    Ok(())
}

/// One approver's signature over a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub approver: Address,
    /// EIP-191 (`personal_sign`) signature over the release manifest hash.
    pub signature: Bytes,
    pub signed_at: String,
}

pub fn releases_dir(root: &Path) -> PathBuf {
    root.join("releases")
}

pub fn approvals_path(root: &Path, id: &str) -> PathBuf {
    releases_dir(root).join(format!("{id}.approvals.json"))
}

pub fn load_approvals(root: &Path, id: &str) -> anyhow::Result<Vec<Approval>> {
    let path = approvals_path(root, id);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of approvals", path.display()))
}

/// Signs `release` and adds the approval (replacing an earlier one by the
/// same approver).
pub fn approve(
    root: &Path,
    release: &ReleaseManifest,
    approvers: &Approvals,
    signer: &PrivateKeySigner,
) -> anyhow::Result<Approval> {
    let address = signer.address();
    if !approvers.approvers.contains(&address) {
        bail!(
            "{address} is not an approver of `{}` (its approvers: {})",
            release.to,
            if approvers.approvers.is_empty() {
                "none configured".to_string()
            } else {
                approvers
                    .approvers
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    let signature = signer
        .sign_message_sync(release.hash().as_slice())
        .context("signing the release")?;
    let approval = Approval {
        approver: address,
        signature: signature.as_bytes().to_vec().into(),
        signed_at: super::fsutil::rfc3339(super::fsutil::unix_now()),
    };
    let id = release.id();
    let mut approvals = load_approvals(root, &id)?;
    approvals.retain(|a| a.approver != address);
    approvals.push(approval.clone());
    super::fsutil::write_durably(
        &approvals_path(root, &id),
        (serde_json::to_string_pretty(&approvals)? + "\n").as_bytes(),
    )?;
    Ok(approval)
}

/// Why an approval does not count.
fn check(release_hash: B256, approval: &Approval, config: &Approvals) -> Result<(), String> {
    let signature = Signature::try_from(approval.signature.as_ref())
        .map_err(|e| format!("malformed signature ({e})"))?;
    let signer = signature
        .recover_address_from_msg(release_hash.as_slice())
        .map_err(|e| format!("unrecoverable signature ({e})"))?;
    if signer != approval.approver {
        return Err(format!(
            "the signature is by {signer}, not {}: it does not sign this release",
            approval.approver
        ));
    }
    if !config.approvers.contains(&signer) {
        return Err(format!("{signer} is not a configured approver"));
    }
    Ok(())
}

/// The approvals of `release` that count (distinct configured approvers
/// whose signature verifies), and why the others do not.
pub fn valid_approvals(
    root: &Path,
    release: &ReleaseManifest,
    config: &Approvals,
) -> anyhow::Result<(Vec<Approval>, Vec<String>)> {
    let hash = release.hash();
    let mut valid: Vec<Approval> = Vec::new();
    let mut rejected = Vec::new();
    for approval in load_approvals(root, &release.id())? {
        match check(hash, &approval, config) {
            Ok(()) if !valid.iter().any(|v| v.approver == approval.approver) => {
                valid.push(approval)
            }
            Ok(()) => {}
            Err(reason) => rejected.push(format!("{}: {reason}", approval.approver)),
        }
    }
    Ok((valid, rejected))
}

/// Gate 4: enough distinct, valid approver signatures. Returns the approvals
/// that count.
pub fn gate_approvals(
    root: &Path,
    release: &ReleaseManifest,
    config: &Approvals,
) -> anyhow::Result<Vec<Approval>> {
    let id = release.id();
    let (valid, rejected) = valid_approvals(root, release, config)?;
    if valid.len() < config.required {
        let mut message = format!(
            "gate 4 (approvals) refused: release {id} needs {} approval(s) to reach `{}`, it has {} valid",
            config.required,
            release.to,
            valid.len()
        );
        if !rejected.is_empty() {
            message.push_str(&format!("; rejected: {}", rejected.join("; ")));
        }
        message.push_str(&format!(
            "; approvers ({}) run `forja approve --release {id}`",
            config
                .approvers
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        bail!(message);
    }
    Ok(valid)
}

/// `releases/<id>.json`, written when a promotion completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub id: String,
    pub manifest_hash: B256,
    pub manifest: ReleaseManifest,
    pub approvals: Vec<Approval>,
    pub deployed: Vec<ReleasedContract>,
    pub tag: String,
    pub promoted_at: String,
    /// The audit log entry that records this promotion.
    pub audit_entry: B256,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleasedContract {
    pub name: String,
    pub address: Address,
    pub tx_hash: B256,
    pub block: u64,
}

pub fn release_path(root: &Path, id: &str) -> PathBuf {
    releases_dir(root).join(format!("{id}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> ReleaseManifest {
        ReleaseManifest {
            project: "demo".into(),
            from: "dev".into(),
            from_chain_id: 1,
            to: "prod".into(),
            to_chain_id: 2,
            commit: "c0ffee".into(),
            deploy_manifest_hash: B256::repeat_byte(1),
            contracts: vec![],
        }
    }

    #[test]
    fn approvals_count_distinct_configured_signers_of_this_release() {
        let dir = tempfile::tempdir().unwrap();
        let alice = super::super::signer::dev_account(1).unwrap();
        let bob = super::super::signer::dev_account(2).unwrap();
        let mallory = super::super::signer::dev_account(3).unwrap();
        let config = Approvals {
            required: 2,
            approvers: vec![alice.address(), bob.address()],
        };
        let release = release();

        assert!(
            approve(dir.path(), &release, &config, &mallory)
                .unwrap_err()
                .to_string()
                .contains("not an approver")
        );
        approve(dir.path(), &release, &config, &alice).unwrap();
        approve(dir.path(), &release, &config, &alice).unwrap();
        let err = gate_approvals(dir.path(), &release, &config)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("needs 2 approval(s)") && err.contains("has 1 valid"),
            "{err}"
        );

        // A signature over another release does not count.
        let mut other = release.clone();
        other.commit = "bad".into();
        let forged = Approval {
            approver: bob.address(),
            signature: bob
                .sign_message_sync(other.hash().as_slice())
                .unwrap()
                .as_bytes()
                .to_vec()
                .into(),
            signed_at: String::new(),
        };
        let mut approvals = load_approvals(dir.path(), &release.id()).unwrap();
        approvals.push(forged);
        std::fs::write(
            approvals_path(dir.path(), &release.id()),
            serde_json::to_string(&approvals).unwrap(),
        )
        .unwrap();
        let err = gate_approvals(dir.path(), &release, &config)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not sign this release"), "{err}");

        approve(dir.path(), &release, &config, &bob).unwrap();
        let valid = gate_approvals(dir.path(), &release, &config).unwrap();
        assert_eq!(valid.len(), 2);
    }

    #[test]
    fn tree_gate_refuses_dirty_trees_and_other_commits() {
        let release = release();
        let record = DeploymentRecord::default();
        let clean = TreeState {
            commit: Some("c0ffee".into()),
            changes: vec![],
        };
        gate_tree(Some(&clean), &record, &release).unwrap();
        let dirty = TreeState {
            changes: vec!["src/A.sol".into()],
            ..clean.clone()
        };
        assert!(
            gate_tree(Some(&dirty), &record, &release)
                .unwrap_err()
                .to_string()
                .contains("src/A.sol")
        );
        let other = TreeState {
            commit: Some("beef".into()),
            ..clean.clone()
        };
        assert!(
            gate_tree(Some(&other), &record, &release)
                .unwrap_err()
                .to_string()
                .contains("HEAD is beef")
        );
        let dirty_source = DeploymentRecord {
            dirty: true,
            ..Default::default()
        };
        assert!(gate_tree(Some(&clean), &dirty_source, &release).is_err());
        assert!(gate_tree(None, &record, &release).is_err());
    }

    #[test]
    fn test_gate_needs_a_passing_report_for_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let release = release();
        assert!(
            gate_tests(dir.path(), &release)
                .unwrap_err()
                .to_string()
                .contains("no test report")
        );
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        let write = |json: serde_json::Value| {
            std::fs::write(test_report_path(dir.path()), json.to_string()).unwrap()
        };
        write(serde_json::json!({ "commit": "other", "dirty": false, "passed": 3, "failed": 0 }));
        assert!(
            gate_tests(dir.path(), &release)
                .unwrap_err()
                .to_string()
                .contains("not c0ffee")
        );
        write(serde_json::json!({ "commit": "c0ffee", "dirty": false, "passed": 3, "failed": 1 }));
        assert!(
            gate_tests(dir.path(), &release)
                .unwrap_err()
                .to_string()
                .contains("1 test(s) failed")
        );
        write(serde_json::json!({ "commit": "c0ffee", "dirty": false, "passed": 3, "failed": 0 }));
        gate_tests(dir.path(), &release).unwrap();
    }
}
