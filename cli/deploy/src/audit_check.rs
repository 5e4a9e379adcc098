//! `forja audit verify`: the audit log checked against every anchor of its
//! head that git holds (release bundles, promotion records, tags). Above
//! both `audit` (the log) and `bundle` (where the anchors are written).

use std::path::Path;

use crate::{
    audit::{
        AuditAnchor, AuditEntry, EMERGENCY_ACTION, VerifyReport, audit_log_path, entries, verify,
    },
    bundle, git,
};

/// Where an anchor was found, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAnchor {
    pub place: String,
    pub anchor: AuditAnchor,
}

/// Every anchor of the project: release bundles, promotion records, tags.
pub fn anchors(root: &Path) -> anyhow::Result<Vec<FoundAnchor>> {
    let mut found = Vec::new();
    for bundle in bundle::list(root)? {
        let place = |file: &str| format!("releases/{}/{file}", bundle.id);
        found.push(FoundAnchor {
            place: place(bundle::RELEASE_FILE),
            anchor: bundle.audit_anchor,
        });
        for promotion in bundle::promotions(root, &bundle.id)? {
            found.push(FoundAnchor {
                place: place(&format!("promotions/{}.json", promotion.environment)),
                anchor: promotion.audit_anchor,
            });
        }
    }
    for (name, message) in git::forja_tags(root) {
        if let Some(anchor) = AuditAnchor::from_tag_message(&message) {
            found.push(FoundAnchor {
                place: format!("tag {name}"),
                anchor,
            });
        }
    }
    Ok(found)
}

/// What `forja audit verify` found.
#[derive(Debug, Clone)]
pub struct Verification {
    pub report: VerifyReport,
    pub anchors_checked: usize,
    /// Chain breaks and anchors the log does not contain.
    pub problems: Vec<String>,
    /// Entries that record a deliberate bypass (emergency deploys).
    pub exceptions: Vec<AuditEntry>,
}

/// Checks the log's chain and the log against every anchor.
pub fn verify_all(root: &Path) -> anyhow::Result<Verification> {
    let path = audit_log_path(root);
    let report = verify(&path)?;
    let mut problems = Vec::new();
    if let Some(problem) = &report.problem {
        problems.push(format!("{}: {problem}", path.display()));
    }
    let anchors = anchors(root)?;
    for found in &anchors {
        if let Err(why) = found.anchor.check(&report) {
            problems.push(format!(
                "{} anchors entry {}: {why}",
                found.place, found.anchor.entries
            ));
        }
    }
    let exceptions = entries(&path)?
        .into_iter()
        .take(report.entries as usize)
        .filter(|e| e.action == EMERGENCY_ACTION)
        .collect();
    Ok(Verification {
        report,
        anchors_checked: anchors.len(),
        problems,
        exceptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{append, tests::log_three};

    #[test]
    fn emergency_deploys_are_listed_as_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        log_three(dir.path());
        append(
            dir.path(),
            EMERGENCY_ACTION,
            "prod",
            None,
            None,
            "0x1".into(),
            serde_json::json!({ "extra": { "reason": "hotfix" } }),
        )
        .unwrap();
        let verification = verify_all(dir.path()).unwrap();
        assert!(
            verification.problems.is_empty(),
            "{:?}",
            verification.problems
        );
        assert_eq!(verification.exceptions.len(), 1);
        assert_eq!(verification.exceptions[0].seq, 4);
        assert_eq!(
            verification.exceptions[0].detail["extra"]["reason"],
            "hotfix"
        );
    }
}
