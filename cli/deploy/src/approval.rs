//! Approvals: an approver's EIP-712 signature over a release's digest and
//! the environment it may reach. Each is its own file,
//! `releases/<id>/approvals/<address>-<env>.json`, so approvers on different
//! machines add theirs by pull request and merges never conflict.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, Bytes, Signature};
use alloy::signers::SignerSync as _;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolStruct as _, eip712_domain};
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::bundle::{Release, bundle_dir};
use crate::config::Environment;
use crate::gate::{Gate, GateRefused};

alloy::sol! {
    /// What an approver signs (EIP-712).
    struct ReleaseApproval {
        bytes32 release;
        string environment;
        uint64 chainId;
    }
}

/// The signing domain; the message names the release and its target.
pub fn domain() -> Eip712Domain {
    eip712_domain! {
        name: "forja release",
        version: "1",
    }
}

/// The EIP-712 hash an approval of `release` for `environment` signs.
pub fn signing_hash(digest: B256, environment: &str, chain_id: u64) -> B256 {
    ReleaseApproval {
        release: digest,
        environment: environment.to_string(),
        chainId: chain_id,
    }
    .eip712_signing_hash(&domain())
}

/// One approval file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub release: String,
    pub digest: B256,
    pub environment: String,
    pub chain_id: u64,
    pub approver: Address,
    /// `eip712`.
    pub scheme: String,
    pub signature: Bytes,
    pub signed_at: String,
}

pub fn approvals_dir(root: &Path, id: &str) -> PathBuf {
    bundle_dir(root, id).join("approvals")
}

pub fn approval_path(root: &Path, id: &str, approver: Address, environment: &str) -> PathBuf {
    approvals_dir(root, id).join(format!("{approver:#x}-{environment}.json"))
}

/// What `approve` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Approved {
    New(Approval, PathBuf),
    /// This approver had already approved the release for this environment.
    AlreadyApproved(Approval, PathBuf),
}

fn configured(target: &Environment) -> String {
    if target.approvals.approvers.is_empty() {
        "none configured".to_string()
    } else {
        target
            .approvals
            .approvers
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Approvals apply only to environments that take releases.
pub fn ensure_takes_releases(target: &Environment) -> anyhow::Result<()> {
    if target.promote_from.is_none() {
        bail!(
            "`{}` has no `promote_from`: releases are not promoted to it, so there is nothing to approve",
            target.name
        );
    }
    Ok(())
}

/// Signs `release` for `target` and writes the approval file.
pub fn approve(
    root: &Path,
    release: &Release,
    target: &Environment,
    signer: &PrivateKeySigner,
) -> anyhow::Result<Approved> {
    let address = signer.address();
    ensure_takes_releases(target)?;
    if !target.approvals.approvers.contains(&address) {
        bail!(
            "{address} is not an approver of `{}` (its approvers: {})",
            target.name,
            configured(target)
        );
    }
    let path = approval_path(root, &release.id, address, &target.name);
    if let Ok(existing) = read(&path)
        && check(&existing, release, target).is_ok()
    {
        return Ok(Approved::AlreadyApproved(existing, path));
    }
    let hash = signing_hash(release.digest, &target.name, target.chain_id);
    let signature = signer
        .sign_hash_sync(&hash)
        .context("signing the release")?;
    let approval = Approval {
        release: release.id.clone(),
        digest: release.digest,
        environment: target.name.clone(),
        chain_id: target.chain_id,
        approver: address,
        scheme: "eip712".into(),
        signature: signature.as_bytes().to_vec().into(),
        signed_at: crate::fsutil::rfc3339(crate::fsutil::unix_now()),
    };
    crate::fsutil::write_durably(
        &path,
        (serde_json::to_string_pretty(&approval)? + "\n").as_bytes(),
    )?;
    Ok(Approved::New(approval, path))
}

fn read(path: &Path) -> anyhow::Result<Approval> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not an approval", path.display()))
}

/// Why an approval does not count for a release reaching an environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefused {
    #[error("unknown signature scheme `{0}`")]
    UnknownScheme(String),
    #[error(
        "it approves `{approves}` (chain id {approves_chain_id}), not `{target}` (chain id {target_chain_id})"
    )]
    OtherEnvironment {
        approves: String,
        approves_chain_id: u64,
        target: String,
        target_chain_id: u64,
    },
    #[error("malformed signature ({0})")]
    MalformedSignature(String),
    #[error("unrecoverable signature ({0})")]
    UnrecoverableSignature(String),
    #[error(
        "the signature is not {approver}'s over release {release} for `{target}`: it does not sign this release"
    )]
    NotThisRelease {
        approver: Address,
        release: String,
        target: String,
    },
    #[error("{signer} is not a configured approver of `{target}`")]
    NotAnApprover { signer: Address, target: String },
}

/// Why an approval does not count for `release` reaching `target`.
pub fn check(
    approval: &Approval,
    release: &Release,
    target: &Environment,
) -> Result<(), ApprovalRefused> {
    if approval.scheme != "eip712" {
        return Err(ApprovalRefused::UnknownScheme(approval.scheme.clone()));
    }
    if approval.environment != target.name || approval.chain_id != target.chain_id {
        return Err(ApprovalRefused::OtherEnvironment {
            approves: approval.environment.clone(),
            approves_chain_id: approval.chain_id,
            target: target.name.clone(),
            target_chain_id: target.chain_id,
        });
    }
    let signature = Signature::try_from(approval.signature.as_ref())
        .map_err(|e| ApprovalRefused::MalformedSignature(e.to_string()))?;
    // Recovered over what this release and environment require, whatever
    // the file claims: a signature over anything else names someone else.
    let signer = signature
        .recover_address_from_prehash(&signing_hash(release.digest, &target.name, target.chain_id))
        .map_err(|e| ApprovalRefused::UnrecoverableSignature(e.to_string()))?;
    if signer != approval.approver {
        return Err(ApprovalRefused::NotThisRelease {
            approver: approval.approver,
            release: release.id.clone(),
            target: target.name.clone(),
        });
    }
    if !target.approvals.approvers.contains(&signer) {
        return Err(ApprovalRefused::NotAnApprover {
            signer,
            target: target.name.clone(),
        });
    }
    Ok(())
}

/// The approvals of a release for an environment, sorted out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// One per distinct approver whose signature counts.
    pub valid: Vec<Approval>,
    /// Files that do not count, and why.
    pub rejected: Vec<String>,
    /// Approvers with more than one valid approval (counted once).
    pub duplicates: Vec<Address>,
}

/// Reads every approval of `release` for `target`.
pub fn tally(root: &Path, release: &Release, target: &Environment) -> anyhow::Result<Tally> {
    let dir = approvals_dir(root, &release.id);
    let mut tally = Tally::default();
    if !dir.is_dir() {
        return Ok(tally);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .ends_with(&format!("-{}.json", target.name))
            })
        })
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let approval = match read(&file) {
            Ok(approval) => approval,
            Err(err) => {
                tally.rejected.push(format!("{name}: {err:#}"));
                continue;
            }
        };
        match check(&approval, release, target) {
            Ok(()) if tally.valid.iter().any(|v| v.approver == approval.approver) => {
                if !tally.duplicates.contains(&approval.approver) {
                    tally.duplicates.push(approval.approver);
                }
            }
            Ok(()) => tally.valid.push(approval),
            Err(reason) => tally.rejected.push(format!("{name}: {reason}")),
        }
    }
    Ok(tally)
}

/// The [`Gate::Approvals`] gate: enough distinct configured approvers.
pub fn gate(root: &Path, release: &Release, target: &Environment) -> anyhow::Result<Tally> {
    let tally = tally(root, release, target)?;
    let required = target.approvals.required;
    if tally.valid.len() < required {
        let mut reason = format!(
            "release {} needs {required} approval(s) to reach `{}`, it has {} valid",
            release.id,
            target.name,
            tally.valid.len()
        );
        if !tally.duplicates.is_empty() {
            reason.push_str(&format!(
                " ({} approved more than once, counted once)",
                tally
                    .duplicates
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !tally.rejected.is_empty() {
            reason.push_str(&format!("; rejected: {}", tally.rejected.join("; ")));
        }
        reason.push_str(&format!(
            "; approvers ({}) run `forja approve --release {} --env {}` and commit the file it writes",
            configured(target),
            release.id,
            target.name
        ));
        return Err(GateRefused::new(Gate::Approvals, reason).into());
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Approvals, GasConfig, SignerConfig};
    use crate::signer::dev_account;

    fn environment(
        name: &str,
        chain_id: u64,
        approvers: Vec<Address>,
        required: usize,
    ) -> Environment {
        Environment {
            name: name.into(),
            rpc_url: "http://127.0.0.1:1".into(),
            chain_id,
            signer: SignerConfig::PrivateKeyEnv("K".into()),
            confirmations: 1,
            gas: GasConfig::default(),
            timeout_secs: 1,
            promote_from: Some("dev".into()),
            approvals: Approvals {
                required,
                approvers,
            },
        }
    }

    #[test]
    fn approvals_count_distinct_configured_signers_of_this_release_and_environment() {
        let (dir, index) = crate::bundle::tests::project();
        let root = dir.path();
        let (release, _) = crate::bundle::tests::create_in(root, &index).unwrap();
        let (alice, bob, mallory) = (
            dev_account(1).unwrap(),
            dev_account(2).unwrap(),
            dev_account(3).unwrap(),
        );
        let prod = environment("prod", 9, vec![alice.address(), bob.address()], 2);
        let preprod = environment("preprod", 8, vec![alice.address()], 1);

        assert!(
            approve(root, &release, &prod, &mallory)
                .unwrap_err()
                .to_string()
                .contains("not an approver")
        );
        assert!(matches!(
            approve(root, &release, &prod, &alice).unwrap(),
            Approved::New(..)
        ));
        assert!(matches!(
            approve(root, &release, &prod, &alice).unwrap(),
            Approved::AlreadyApproved(..)
        ));
        let err = gate(root, &release, &prod).unwrap_err();
        let refused = crate::refused_gate(&err).unwrap();
        assert_eq!(refused.gate, Gate::Approvals);
        assert!(
            refused.reason.contains("needs 2 approval(s)")
                && refused.reason.contains("has 1 valid"),
            "{}",
            refused.reason
        );

        // An approval for prod does not count for preprod.
        assert_eq!(tally(root, &release, &preprod).unwrap().valid.len(), 0);

        // Bob's file holding a signature over another release is rejected.
        let path = approval_path(root, &release.id, bob.address(), "prod");
        let forged_hash = signing_hash(B256::repeat_byte(7), "prod", 9);
        let forged = Approval {
            release: release.id.clone(),
            digest: release.digest,
            environment: "prod".into(),
            chain_id: 9,
            approver: bob.address(),
            scheme: "eip712".into(),
            signature: bob
                .sign_hash_sync(&forged_hash)
                .unwrap()
                .as_bytes()
                .to_vec()
                .into(),
            signed_at: String::new(),
        };
        std::fs::write(&path, serde_json::to_string(&forged).unwrap()).unwrap();
        let err = gate(root, &release, &prod).unwrap_err();
        assert!(
            format!("{err}").contains("does not sign this release"),
            "{err}"
        );

        // Alice's approval copied under a second name counts once.
        let alice_file = approval_path(root, &release.id, alice.address(), "prod");
        std::fs::copy(
            &alice_file,
            approvals_dir(root, &release.id).join("copy-prod.json"),
        )
        .unwrap();
        assert!(matches!(
            approve(root, &release, &prod, &bob).unwrap(),
            Approved::New(..)
        ));
        let counted = gate(root, &release, &prod).unwrap();
        assert_eq!(counted.valid.len(), 2);
        assert_eq!(counted.duplicates, vec![alice.address()]);
    }
}
