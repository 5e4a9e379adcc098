//! `forja promote`: a release bundle reaches an environment only through
//! every gate, in this order: the audit log verifies against its anchors,
//! the bundle hashes to its id, its test evidence holds, enough approvers
//! signed it for this environment, and the previous environment's chain
//! runs exactly its code. Then the bundle (never the work tree) is
//! deployed, the promotion is logged, recorded in the bundle and tagged,
//! each carrying the audit log's new head.

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context as _;

use crate::audit::{self, AuditAnchor};
use crate::bundle::{self, PromotedContract, PromotionRecord, Release, VerifiedBundle};
use crate::config::Environment;
use crate::executor::{DeployOptions, DeployOutcome, Deployment, Event};
use crate::gate::{Gate, GateRefused};
use crate::git::TreeState;
use crate::record::{self, DeploymentRecord};

/// The release `target` takes: the one named, else the one its source
/// environment runs (when that is itself promoted), else the newest bundle.
pub fn select(
    root: &Path,
    source: &Environment,
    explicit: Option<&str>,
) -> anyhow::Result<Release> {
    if let Some(id) = explicit {
        return bundle::load(root, id);
    }
    let record_path = record::record_path(root, &source.name);
    if source.promote_from.is_some()
        && let Ok(record) = DeploymentRecord::load(&record_path)
        && let Some(id) = &record.release
    {
        return bundle::load(root, id);
    }
    bundle::list(root)?.pop().with_context(|| {
        "no release to promote: releases/ has none; create one with `forja release` (after a full `forja test` run) and commit it".to_string()
    })
}

/// One promotion, as the command set it up.
pub struct Promotion<'a> {
    pub root: &'a Path,
    pub target: &'a Environment,
    /// `target`'s `promote_from`.
    pub source: &'a Environment,
    pub release: &'a Release,
    /// Loads the target's signer; called only once every gate passed, so a
    /// refused promotion never asks for a key.
    pub signer: &'a (dyn Fn() -> anyhow::Result<PrivateKeySigner> + Sync),
}

#[derive(Debug)]
pub enum PromoteOutcome {
    /// The release already runs there (its promotion is recorded).
    AlreadyPromoted(PromotionRecord),
    Promoted {
        record: PromotionRecord,
        path: PathBuf,
        deployment: Box<DeployOutcome>,
    },
}

impl Promotion<'_> {
    pub async fn run(&self, events: &(dyn Fn(Event) + Sync)) -> anyhow::Result<PromoteOutcome> {
        let (root, target, release) = (self.root, self.target, self.release);
        let id = &release.id;
        let promotion_path = bundle::promotion_path(root, id, &target.name);
        if let Ok(text) = std::fs::read_to_string(&promotion_path)
            && let Ok(done) = serde_json::from_str::<PromotionRecord>(&text)
            && DeploymentRecord::load(&record::record_path(root, &target.name))
                .is_ok_and(|r| r.release.as_deref() == Some(id.as_str()))
        {
            return Ok(PromoteOutcome::AlreadyPromoted(done));
        }
        let passed = |gate: Gate, detail: String| events(Event::GatePassed { gate, detail });

        let verification = crate::audit_check::verify_all(root)?;
        if !verification.problems.is_empty() {
            return Err(GateRefused::new(
                Gate::AuditLog,
                format!(
                    "the audit log does not verify ({}); find out what happened to deployments/audit.log before promoting anything",
                    verification.problems.join("; ")
                ),
            )
            .into());
        }
        passed(
            Gate::AuditLog,
            format!(
                "{} entries, {} anchor(s) hold",
                verification.report.entries, verification.anchors_checked
            ),
        );

        let bundle = bundle::verify(root, release)?;
        passed(
            Gate::Bundle,
            format!(
                "releases/{id}/ hashes to {} ({} contract(s), commit {})",
                release.digest,
                release.content.contracts.len(),
                release.content.commit
            ),
        );
        let evidence = bundle::check_evidence(&bundle)?;
        passed(
            Gate::Evidence,
            format!(
                "{} passed, 0 failed, full run at {} (forja {})",
                evidence.passed, evidence.commit, evidence.runner_version
            ),
        );
        let tally = crate::approval::gate(root, release, target)?;
        passed(
            Gate::Approvals,
            format!(
                "{} of {} required{}",
                tally.valid.len(),
                target.approvals.required,
                if tally.duplicates.is_empty() {
                    String::new()
                } else {
                    format!(" ({} duplicate(s) counted once)", tally.duplicates.len())
                }
            ),
        );
        check_source_chain(root, self.source, &bundle).await?;
        passed(
            Gate::SourceChain,
            format!(
                "`{}` runs the release's code at its recorded addresses (immutables masked)",
                self.source.name
            ),
        );

        let commit = release.content.commit.clone();
        let deployment = Deployment {
            root,
            environment: target,
            manifest: &bundle.manifest,
            artifacts: &bundle.artifacts,
            signer: (self.signer)()
                .with_context(|| format!("loading the signer of `{}`", target.name))?,
            // The deployment is of the release's commit, whatever is checked out.
            tree: Some(TreeState {
                commit: Some(commit.clone()),
                changes: Vec::new(),
            }),
        };
        let options = DeployOptions {
            redeploy_changed: true,
            release: Some(id.clone()),
            ..Default::default()
        };
        let outcome = deployment.run(&options, events).await?;
        let approvers: Vec<Address> = tally.valid.iter().map(|a| a.approver).collect();
        outcome.log(
            root,
            "promote",
            target,
            Some(id.clone()),
            serde_json::json!({
                "from": self.source.name,
                "digest": release.digest,
                "approvers": approvers,
            }),
        )?;
        let anchor = audit::anchor(root)?;
        let tag = format!("forja/{}/{id}", target.name);
        crate::git::annotated_tag(root, &tag, &commit, &tag_message(release, target, &anchor))?;
        let record = PromotionRecord {
            release: id.clone(),
            environment: target.name.clone(),
            chain_id: target.chain_id,
            from: self.source.name.clone(),
            commit,
            contracts: release
                .content
                .contracts
                .iter()
                .filter_map(|c| outcome.record.contract(&c.name))
                .map(|c| PromotedContract {
                    name: c.name.clone(),
                    address: c.address,
                    tx_hash: c.tx_hash,
                    block: c.block,
                })
                .collect(),
            approvers,
            tag,
            promoted_at: crate::fsutil::rfc3339(crate::fsutil::unix_now()),
            audit_anchor: anchor,
        };
        let path = record.save(root)?;
        Ok(PromoteOutcome::Promoted {
            record,
            path,
            deployment: Box::new(outcome),
        })
    }
}

fn tag_message(release: &Release, target: &Environment, anchor: &AuditAnchor) -> String {
    format!(
        "forja release {} promoted to `{}` (chain id {})\n\ndigest: {}\n{}\n",
        release.id,
        target.name,
        target.chain_id,
        release.digest,
        anchor.tag_line()
    )
}

/// The [`Gate::SourceChain`] gate: the environment the release comes from
/// runs exactly the bundle's code at the addresses its record names.
pub async fn check_source_chain(
    root: &Path,
    source: &Environment,
    bundle: &VerifiedBundle,
) -> Result<(), GateRefused> {
    let refuse = |reason: String| GateRefused::new(Gate::SourceChain, reason);
    let release = &bundle.release;
    let record_path = record::record_path(root, &source.name);
    if !record_path.exists() {
        return Err(refuse(format!(
            "`{}` has no deployment record ({} is missing): deploy the release's commit there and commit the record",
            source.name,
            record_path.display()
        )));
    }
    let record = DeploymentRecord::load(&record_path).map_err(|e| refuse(format!("{e:#}")))?;
    if source.promote_from.is_some() && record.release.as_deref() != Some(release.id.as_str()) {
        return Err(refuse(format!(
            "`{}` runs release {}, not {}: promote {} to `{}` first",
            source.name,
            record.release.as_deref().unwrap_or("(none)"),
            release.id,
            release.id,
            source.name
        )));
    }
    let mut expected = Vec::new();
    for contract in &release.content.contracts {
        let recorded = record.contract(&contract.name).ok_or_else(|| {
            refuse(format!(
                "{} is not deployed in `{}`: the release's code was never run there",
                contract.name, source.name
            ))
        })?;
        if recorded.runtime_code_hash != contract.runtime_code_hash
            || recorded.creation_code_hash != contract.creation_code_hash
        {
            return Err(refuse(format!(
                "`{}` runs another build of {} (runtime code {}, the release's {}): deploy the release's commit to `{}` first",
                source.name,
                contract.name,
                recorded.runtime_code_hash,
                contract.runtime_code_hash,
                source.name
            )));
        }
        expected.push((contract, recorded));
    }
    let addresses: Vec<Address> = expected.iter().map(|(_, r)| r.address).collect();
    let codes = crate::executor::code_at(source, &addresses)
        .await
        .map_err(|e| refuse(format!("cannot read `{}`'s chain: {e:#}", source.name)))?;
    for ((contract, recorded), code) in expected.iter().zip(codes) {
        let artifact = bundle
            .artifact(contract)
            .map_err(|e| refuse(format!("{e:#}")))?;
        let difference = if code.is_empty() {
            Some("the chain has no code there".to_string())
        } else {
            artifact
                .check_runtime(&code, &recorded.libraries)
                .map_err(|e| refuse(e.to_string()))?
                .err()
                .map(|mismatch| mismatch.to_string())
        };
        if let Some(difference) = difference {
            return Err(refuse(format!(
                "{} at {} on `{}`: {difference}; what runs there is not the release",
                contract.name, recorded.address, source.name
            )));
        }
    }
    Ok(())
}
