//! Besu-style local permissioning with GoQuorum access levels: a node
//! allowlist, an account allowlist and per-account access levels.
//!
//! Each node holds its own lists (in its store). forja's network-wide
//! operations apply a change to every node's lists directly (see
//! `NodeAdmin::change_permissions`); nothing travels as a message that
//! could be lost. The lists import from and export to Besu's
//! `permissions_config.toml` ([`Permissions::from_besu_toml`]).

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B512};
use serde::{Deserialize, Serialize};

use crate::error::{Error, TxError};

/// What an account may do (GoQuorum's access levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessLevel {
    /// May only read (calls); transactions are refused.
    ReadOnly,
    /// May send transactions that call contracts or move value.
    Transact,
    /// May also deploy contracts.
    ContractDeploy,
    /// May do everything, including changing the allowlists.
    Full,
}

impl AccessLevel {
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::Transact => "transact",
            Self::ContractDeploy => "contract-deploy",
            Self::Full => "full",
        }
    }
}

/// The permissioning state of a network, identical on every node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// When off, every account and node is allowed (Besu's default).
    pub enabled: bool,
    /// Allowed accounts and what each may do.
    pub accounts: BTreeMap<Address, AccessLevel>,
    /// Allowed nodes by node id (the 64-byte uncompressed public key).
    pub nodes: BTreeSet<B512>,
}

impl Permissions {
    /// Allowed: Ok; refused: the error that names the rule.
    pub fn check_transaction(&self, sender: Address, is_create: bool) -> Result<(), TxError> {
        if !self.enabled {
            return Ok(());
        }
        let Some(level) = self.accounts.get(&sender) else {
            return Err(TxError::AccountNotAllowed(sender));
        };
        let (needed, action) = if is_create {
            (AccessLevel::ContractDeploy, "deploy contracts")
        } else {
            (AccessLevel::Transact, "send transactions")
        };
        if *level < needed {
            return Err(TxError::AccessLevelTooLow {
                sender,
                level: level.name(),
                action,
            });
        }
        Ok(())
    }

    /// Whether `admin` may change the lists.
    pub fn is_admin(&self, admin: Address) -> bool {
        !self.enabled || self.accounts.get(&admin) == Some(&AccessLevel::Full)
    }

    fn admin_count(&self) -> usize {
        self.accounts
            .values()
            .filter(|level| **level == AccessLevel::Full)
            .count()
    }

    /// The lists after `change`, or why it is refused: a change that would
    /// remove (or demote) the last admin is, since no later change could
    /// then be made by anyone with an account.
    pub fn changed_by(&self, change: &PermissionChange) -> Result<Permissions, Error> {
        let mut changed = self.clone();
        changed.apply(change);
        if self.enabled && self.admin_count() > 0 && changed.admin_count() == 0 {
            return Err(Error::PermissionDenied(
                "the change would leave no admin (an account with `full` access), after which nobody could change the allowlists; add another admin first".into(),
            ));
        }
        Ok(changed)
    }

    pub fn node_allowed(&self, node: &B512) -> bool {
        !self.enabled || self.nodes.contains(node)
    }

    pub fn apply(&mut self, change: &PermissionChange) {
        match change {
            PermissionChange::SetAccounts(accounts) => {
                for (address, level) in accounts {
                    self.accounts.insert(*address, *level);
                }
            }
            PermissionChange::RemoveAccounts(accounts) => {
                for address in accounts {
                    self.accounts.remove(address);
                }
            }
            PermissionChange::AddNodes(nodes) => self.nodes.extend(nodes.iter().copied()),
            PermissionChange::RemoveNodes(nodes) => {
                for node in nodes {
                    self.nodes.remove(node);
                }
            }
            PermissionChange::Replace { accounts, nodes } => {
                if let Some(accounts) = accounts {
                    self.accounts = accounts.clone();
                }
                if let Some(nodes) = nodes {
                    self.nodes = nodes.clone();
                }
            }
        }
    }
}

/// A change an admin makes to the lists; every node applies the same changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PermissionChange {
    SetAccounts(Vec<(Address, AccessLevel)>),
    RemoveAccounts(Vec<Address>),
    AddNodes(Vec<B512>),
    RemoveNodes(Vec<B512>),
    /// Replaces the lists given (an imported `permissions_config.toml`).
    Replace {
        accounts: Option<BTreeMap<Address, AccessLevel>>,
        nodes: Option<BTreeSet<B512>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_their_rule() {
        let deployer = Address::repeat_byte(1);
        let user = Address::repeat_byte(2);
        let reader = Address::repeat_byte(3);
        let mut permissions = Permissions {
            enabled: true,
            ..Default::default()
        };
        permissions.apply(&PermissionChange::SetAccounts(vec![
            (deployer, AccessLevel::ContractDeploy),
            (user, AccessLevel::Transact),
            (reader, AccessLevel::ReadOnly),
        ]));
        assert!(permissions.check_transaction(deployer, true).is_ok());
        assert!(permissions.check_transaction(user, false).is_ok());
        let err = permissions.check_transaction(user, true).unwrap_err();
        assert!(
            err.to_string().contains("may not deploy contracts"),
            "{err}"
        );
        let err = permissions.check_transaction(reader, false).unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
        let stranger = Address::repeat_byte(9);
        assert_eq!(
            permissions.check_transaction(stranger, false),
            Err(TxError::AccountNotAllowed(stranger))
        );
        permissions.enabled = false;
        assert!(permissions.check_transaction(stranger, true).is_ok());
    }

    #[test]
    fn the_last_admin_cannot_be_removed_or_demoted() {
        let (first, second) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut permissions = Permissions {
            enabled: true,
            ..Default::default()
        };
        permissions.apply(&PermissionChange::SetAccounts(vec![
            (first, AccessLevel::Full),
            (second, AccessLevel::Full),
        ]));
        let permissions = permissions
            .changed_by(&PermissionChange::RemoveAccounts(vec![first]))
            .unwrap();
        for change in [
            PermissionChange::RemoveAccounts(vec![second]),
            PermissionChange::SetAccounts(vec![(second, AccessLevel::Transact)]),
            PermissionChange::Replace {
                accounts: Some(BTreeMap::new()),
                nodes: None,
            },
        ] {
            let err = permissions.changed_by(&change).unwrap_err();
            assert!(err.to_string().contains("leave no admin"), "{err}");
        }
    }
}
