//! `deployments/audit.log`: one JSON object per line, each carrying the hash
//! of the previous line's entry, so that editing, removing or reordering a
//! line breaks the chain from there on. The chain alone cannot show that
//! entries were cut from its end, or that the whole log was rewritten, so
//! its head is anchored where git keeps it: in every release bundle, every
//! promotion record and every `forja/…` annotated tag. `forja audit verify`
//! checks the log against each anchor.

use std::path::{Path, PathBuf};

use alloy::primitives::{B256, keccak256};
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

pub fn audit_log_path(root: &Path) -> PathBuf {
    crate::record::deployments_dir(root).join("audit.log")
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub time: String,
    /// `deploy` or `promote`.
    pub action: String,
    pub environment: String,
    pub commit: Option<String>,
    #[serde(default)]
    pub release: Option<String>,
    /// Who signed the transactions.
    pub actor: String,
    /// What happened (contracts and addresses, approvals…).
    pub detail: serde_json::Value,
    /// The previous entry's `hash` (zero for the first).
    pub prev: B256,
    /// keccak256(prev ‖ this entry serialised without `hash`).
    pub hash: B256,
}

fn entry_hash(prev: B256, without_hash: &serde_json::Value) -> B256 {
    let mut bytes = prev.to_vec();
    bytes.extend_from_slice(without_hash.to_string().as_bytes());
    keccak256(bytes)
}

/// The chain's state after the last entry: (entries, last hash).
fn tip(path: &Path) -> anyhow::Result<(u64, B256)> {
    let report = verify(path)?;
    if let Some(problem) = report.problem {
        bail!(
            "{} is broken ({problem}); refusing to append to a log that does not verify",
            path.display()
        );
    }
    Ok((report.entries, report.tip))
}

/// Appends an entry (fsync'd) and returns it.
pub fn append(
    root: &Path,
    action: &str,
    environment: &str,
    commit: Option<String>,
    release: Option<String>,
    actor: String,
    detail: serde_json::Value,
) -> anyhow::Result<AuditEntry> {
    let path = audit_log_path(root);
    let (count, prev) = tip(&path)?;
    let mut entry = AuditEntry {
        seq: count + 1,
        time: crate::fsutil::rfc3339(crate::fsutil::unix_now()),
        action: action.to_string(),
        environment: environment.to_string(),
        commit,
        release,
        actor,
        detail,
        prev,
        hash: B256::ZERO,
    };
    let mut value = serde_json::to_value(&entry)?;
    value.as_object_mut().expect("an object").remove("hash");
    entry.hash = entry_hash(prev, &value);
    crate::fsutil::append_line_durably(&path, &serde_json::to_string(&entry)?)?;
    Ok(entry)
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub entries: u64,
    /// The hash of every verified entry, in order.
    pub hashes: Vec<B256>,
    pub tip: B256,
    /// The first inconsistency, with its line number.
    pub problem: Option<String>,
}

/// Checks every line's hash and link to its predecessor. A missing log is
/// an empty, valid one.
pub fn verify(path: &Path) -> anyhow::Result<VerifyReport> {
    let mut report = VerifyReport {
        entries: 0,
        hashes: Vec::new(),
        tip: B256::ZERO,
        problem: None,
    };
    if !path.exists() {
        return Ok(report);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let fail = |report: &mut VerifyReport, message: String| {
            report.problem = Some(format!("line {line_no}: {message}"));
        };
        let mut value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(err) => {
                fail(&mut report, format!("not a JSON entry ({err})"));
                return Ok(report);
            }
        };
        let entry: AuditEntry = match serde_json::from_value(value.clone()) {
            Ok(e) => e,
            Err(err) => {
                fail(&mut report, format!("not an audit entry ({err})"));
                return Ok(report);
            }
        };
        let expected_seq = report.entries + 1;
        if entry.seq != expected_seq {
            fail(
                &mut report,
                format!(
                    "sequence number {} where {expected_seq} was expected (an entry was removed or reordered)",
                    entry.seq
                ),
            );
            return Ok(report);
        }
        if entry.prev != report.tip {
            fail(
                &mut report,
                "does not link to the previous entry (an entry was removed, inserted or edited)"
                    .to_string(),
            );
            return Ok(report);
        }
        value.as_object_mut().expect("an object").remove("hash");
        if entry_hash(entry.prev, &value) != entry.hash {
            fail(
                &mut report,
                "its content does not match its hash (the entry was edited)".to_string(),
            );
            return Ok(report);
        }
        report.entries += 1;
        report.tip = entry.hash;
        report.hashes.push(entry.hash);
    }
    Ok(report)
}

/// The log's head at some moment: how many entries it had and the last
/// one's hash. A later log must still have that entry at that place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    pub entries: u64,
    pub head: B256,
}

impl AuditAnchor {
    /// The line kept in an annotated tag's message.
    pub fn tag_line(&self) -> String {
        format!("audit-head: {} {}", self.entries, self.head)
    }

    /// Reads [`Self::tag_line`] back from a tag message.
    pub fn from_tag_message(message: &str) -> Option<Self> {
        let line = message
            .lines()
            .find_map(|l| l.strip_prefix("audit-head: "))?;
        let (entries, head) = line.trim().split_once(' ')?;
        Some(Self {
            entries: entries.parse().ok()?,
            head: head.parse().ok()?,
        })
    }

    /// Why `report` (a verified log) does not contain this anchor.
    pub fn check(&self, report: &VerifyReport) -> Result<(), AnchorBroken> {
        if self.entries == 0 {
            return Ok(());
        }
        match report.hashes.get(self.entries as usize - 1) {
            None => Err(AnchorBroken::Truncated {
                now: report.entries,
                anchored: self.entries,
            }),
            Some(hash) if *hash != self.head => Err(AnchorBroken::Rewritten {
                entry: self.entries,
                now: *hash,
                anchored: self.head,
            }),
            Some(_) => Ok(()),
        }
    }
}

/// How a log no longer holds what an anchor recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorBroken {
    #[error("the log has {now} entries but had {anchored} (entries were removed from its end)")]
    Truncated { now: u64, anchored: u64 },
    #[error("entry {entry} is {now}, but was {anchored} (the log was rewritten)")]
    Rewritten {
        entry: u64,
        now: B256,
        anchored: B256,
    },
}

/// The head of the log now; refuses a log that does not verify.
pub fn anchor(root: &Path) -> anyhow::Result<AuditAnchor> {
    let (entries, head) = tip(&audit_log_path(root))?;
    Ok(AuditAnchor { entries, head })
}

/// The action of a deploy that bypassed the promote-only gate.
pub const EMERGENCY_ACTION: &str = "emergency-deploy";

/// The log's entries as written (unverified).
pub fn entries(path: &Path) -> anyhow::Result<Vec<AuditEntry>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map_while(|line| serde_json::from_str(line).ok())
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn log_three(root: &Path) {
        for env in ["dev", "preprod", "prod"] {
            append(
                root,
                "deploy",
                env,
                Some("abc".into()),
                None,
                "0x1".into(),
                serde_json::json!({ "n": 1 }),
            )
            .unwrap();
        }
    }

    #[test]
    fn a_written_log_verifies() {
        let dir = tempfile::tempdir().unwrap();
        log_three(dir.path());
        let report = verify(&audit_log_path(dir.path())).unwrap();
        assert_eq!(report.entries, 3);
        assert_eq!(report.problem, None);
    }

    #[test]
    fn detects_edits_removals_and_refuses_to_append() {
        let dir = tempfile::tempdir().unwrap();
        log_three(dir.path());
        let path = audit_log_path(dir.path());
        let original = std::fs::read_to_string(&path).unwrap();

        std::fs::write(&path, original.replacen("preprod", "staging", 1)).unwrap();
        let problem = verify(&path).unwrap().problem.unwrap();
        assert!(
            problem.starts_with("line 2:") && problem.contains("edited"),
            "{problem}"
        );
        assert!(
            append(
                dir.path(),
                "deploy",
                "x",
                None,
                None,
                "a".into(),
                serde_json::Value::Null
            )
            .is_err()
        );

        let lines: Vec<&str> = original.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        let problem = verify(&path).unwrap().problem.unwrap();
        assert!(problem.starts_with("line 2:"), "{problem}");
    }

    #[test]
    fn anchors_catch_truncation_and_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        log_three(dir.path());
        let anchor = anchor(dir.path()).unwrap();
        assert_eq!(anchor.entries, 3);
        assert_eq!(
            AuditAnchor::from_tag_message(&format!("release x\n{}\n", anchor.tag_line())),
            Some(anchor)
        );
        let path = audit_log_path(dir.path());
        assert_eq!(anchor.check(&verify(&path).unwrap()), Ok(()));

        // Cut short: the chain still verifies, the anchor does not.
        let original = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = original.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        let cut = verify(&path).unwrap();
        assert_eq!(cut.problem, None);
        let broken = anchor.check(&cut).unwrap_err();
        assert_eq!(
            broken,
            AnchorBroken::Truncated {
                now: 2,
                anchored: 3
            }
        );
        assert!(broken.to_string().contains("removed from its end"));

        // Rewritten from scratch: a valid chain with other hashes.
        std::fs::remove_file(&path).unwrap();
        for env in ["dev", "preprod", "qa"] {
            append(
                dir.path(),
                "deploy",
                env,
                None,
                None,
                "0x1".into(),
                serde_json::Value::Null,
            )
            .unwrap();
        }
        let rewritten = verify(&path).unwrap();
        assert_eq!(rewritten.problem, None);
        let broken = anchor.check(&rewritten).unwrap_err();
        assert!(matches!(broken, AnchorBroken::Rewritten { entry: 3, .. }));
        assert!(broken.to_string().contains("rewritten"));
    }
}
