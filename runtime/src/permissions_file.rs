//! Besu's `permissions_config.toml`: the account and node allowlists as
//! Besu's local permissioning reads them (`accounts-allowlist`,
//! `nodes-allowlist`, and the older `-whitelist` names), with forja's
//! access levels beside. The file format's one owner.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B512};
use serde::{Deserialize, Serialize};

use crate::{
    config::{enode, parse_node_id},
    error::Error,
    permissions::{AccessLevel, PermissionChange, Permissions},
};

impl Permissions {
    /// The lists as Besu's `permissions_config.toml`: `accounts-allowlist`
    /// and `nodes-allowlist` (enode URLs, port `node_port(id)`), plus
    /// forja's `access-levels` table for accounts whose level is not the
    /// default `contract-deploy` (Besu reads only its own two keys).
    pub fn to_besu_toml(&self, node_port: impl Fn(&B512) -> u16) -> String {
        self.to_besu_toml_with(|id| enode(id, node_port(id)))
    }

    /// [`Permissions::to_besu_toml`] with each node's enode URL from `enode_url`.
    pub fn to_besu_toml_with(&self, enode_url: impl Fn(&B512) -> String) -> String {
        let file = BesuPermissionsFile {
            accounts_allowlist: Some(self.accounts.keys().map(|a| a.to_checksum(None)).collect()),
            nodes_allowlist: Some(self.nodes.iter().map(enode_url).collect()),
            access_levels: self
                .accounts
                .iter()
                .filter(|(_, level)| **level != AccessLevel::ContractDeploy)
                .map(|(address, level)| (address.to_checksum(None), *level))
                .collect(),
        };
        toml::to_string(&file).expect("the permissions file always serialises")
    }

    /// Reads Besu's `permissions_config.toml` as a change that replaces the
    /// lists it names (a key that is absent leaves that list alone).
    /// Accounts take their level from forja's `access-levels` table, else
    /// `contract-deploy` (Besu's allowlist has no levels: a listed account
    /// may transact and deploy). `source` names the file in errors.
    pub fn from_besu_toml(text: &str, source: &str) -> Result<PermissionChange, Error> {
        let invalid = |message: String| Error::InvalidRequest(format!("{source}: {message}"));
        let file: BesuPermissionsFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let parse_address = |text: &str| {
            text.parse::<Address>()
                .map_err(|e| invalid(format!("`{text}` is not an account address: {e}")))
        };
        let mut levels = BTreeMap::new();
        for (address, level) in &file.access_levels {
            levels.insert(parse_address(address)?, *level);
        }
        let accounts = match &file.accounts_allowlist {
            None => None,
            Some(list) => {
                let mut accounts = BTreeMap::new();
                for text in list {
                    let address = parse_address(text)?;
                    let level = levels
                        .remove(&address)
                        .unwrap_or(AccessLevel::ContractDeploy);
                    accounts.insert(address, level);
                }
                Some(accounts)
            }
        };
        if let Some(address) = levels.keys().next() {
            return Err(invalid(format!(
                "access-levels names {address}, which is not in accounts-allowlist"
            )));
        }
        let nodes = match &file.nodes_allowlist {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|text| {
                        parse_node_id(text).map_err(|_| {
                            invalid(format!(
                                "`{text}` in nodes-allowlist is not an enode URL (enode://<128 hex digits>@host:port)"
                            ))
                        })
                    })
                    .collect::<Result<BTreeSet<B512>, Error>>()?,
            ),
        };
        Ok(PermissionChange::Replace { accounts, nodes })
    }
}

/// Besu's `permissions_config.toml` (its older `-whitelist` names are
/// read too), with forja's access levels beside.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct BesuPermissionsFile {
    #[serde(
        default,
        alias = "accounts-whitelist",
        skip_serializing_if = "Option::is_none"
    )]
    accounts_allowlist: Option<Vec<String>>,
    #[serde(
        default,
        alias = "nodes-whitelist",
        skip_serializing_if = "Option::is_none"
    )]
    nodes_allowlist: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    access_levels: BTreeMap<String, AccessLevel>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn besu_permissions_config_round_trips() {
        let mut permissions = Permissions {
            enabled: true,
            ..Default::default()
        };
        permissions
            .accounts
            .insert(Address::repeat_byte(1), AccessLevel::Full);
        permissions
            .accounts
            .insert(Address::repeat_byte(2), AccessLevel::ContractDeploy);
        permissions.nodes.insert(B512::repeat_byte(7));
        let text = permissions.to_besu_toml(|_| 30303);
        assert!(text.contains("accounts-allowlist = ["), "{text}");
        assert!(text.contains("nodes-allowlist = [\"enode://0707"), "{text}");
        let mut imported = Permissions {
            enabled: true,
            ..Default::default()
        };
        imported.apply(&Permissions::from_besu_toml(&text, "permissions_config.toml").unwrap());
        assert_eq!(imported, permissions);

        // Besu's own file: no levels, so listed accounts may deploy; the
        // old `-whitelist` names are read too.
        let besu = r#"accounts-whitelist=["0x0101010101010101010101010101010101010101"]"#;
        let change = Permissions::from_besu_toml(besu, "p.toml").unwrap();
        let mut from_besu = permissions.clone();
        from_besu.apply(&change);
        assert_eq!(
            from_besu.accounts.into_iter().collect::<Vec<_>>(),
            vec![(Address::repeat_byte(1), AccessLevel::ContractDeploy)]
        );
        assert_eq!(from_besu.nodes, permissions.nodes, "absent list kept");
        let err =
            Permissions::from_besu_toml("nodes-allowlist=[\"enode://zz\"]", "p.toml").unwrap_err();
        assert!(err.to_string().starts_with("p.toml: `enode://zz`"), "{err}");
    }
}
