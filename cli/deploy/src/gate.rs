//! The gates code passes on its way to an environment that takes releases.
//! A refusal is a value: [`GateRefused`] says which [`Gate`] and why, and
//! travels inside `anyhow::Error` chains ([`refused_gate`] finds it).

use std::fmt;

/// One check a promotion (or a deploy to a promoted environment) must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gate {
    /// Environments with `promote_from` take code only through `forja promote`.
    PromoteOnly,
    /// The release bundle's content still hashes to its id.
    Bundle,
    /// The bundle carries a passing, full (unfiltered) test run at its commit.
    Evidence,
    /// Enough distinct configured approvers signed the release for this environment.
    Approvals,
    /// The previous environment's chain runs exactly the bundle's code.
    SourceChain,
    /// The audit log verifies against every anchor kept in git.
    AuditLog,
}

impl Gate {
    /// The name messages and `--json` output use.
    pub fn name(self) -> &'static str {
        match self {
            Self::PromoteOnly => "promote-only",
            Self::Bundle => "bundle",
            Self::Evidence => "test evidence",
            Self::Approvals => "approvals",
            Self::SourceChain => "source chain",
            Self::AuditLog => "audit log",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A gate said no.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gate `{gate}` refused: {reason}")]
pub struct GateRefused {
    pub gate: Gate,
    /// What failed and what to do about it.
    pub reason: String,
}

impl GateRefused {
    pub fn new(gate: Gate, reason: impl Into<String>) -> Self {
        Self {
            gate,
            reason: reason.into(),
        }
    }
}

/// The gate refusal inside an error chain, if that is what it is.
pub fn refused_gate(err: &anyhow::Error) -> Option<&GateRefused> {
    err.chain().find_map(|e| e.downcast_ref::<GateRefused>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_found_through_context() {
        let err = anyhow::Error::new(GateRefused::new(Gate::Approvals, "needs 2, has 1"))
            .context("promoting to prod");
        assert_eq!(refused_gate(&err).unwrap().gate, Gate::Approvals);
        assert!(format!("{err:#}").contains("gate `approvals` refused: needs 2, has 1"));
        assert!(refused_gate(&anyhow::anyhow!("other")).is_none());
    }
}
