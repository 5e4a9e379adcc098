//! API groups as Besu's `--rpc-http-api`/`--rpc-ws-api`: which method
//! namespaces a server answers. A method outside them gets Besu's
//! "Method not enabled" (-32604).

use std::{collections::BTreeSet, fmt, str::FromStr};

/// One group of methods, named as Besu names it (plus forja's `DEV` and
/// Otterscan's `OTS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiGroup {
    Eth,
    Net,
    Web3,
    Txpool,
    Debug,
    Trace,
    Admin,
    Perm,
    Qbft,
    Ibft,
    /// forja's dev methods: `evm_*`, `anvil_*`, `hardhat_*`.
    Dev,
    /// Otterscan's `ots_*`, and `erigon_getHeaderByNumber`, the one Erigon
    /// method Otterscan's connection probe calls: a node that serves one
    /// without the other is no use to Otterscan, so they are enabled
    /// together (Erigon itself puts `ots` in its own group too).
    Ots,
}

impl ApiGroup {
    pub const ALL: [ApiGroup; 12] = [
        Self::Eth,
        Self::Net,
        Self::Web3,
        Self::Txpool,
        Self::Debug,
        Self::Trace,
        Self::Admin,
        Self::Perm,
        Self::Qbft,
        Self::Ibft,
        Self::Dev,
        Self::Ots,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Eth => "ETH",
            Self::Net => "NET",
            Self::Web3 => "WEB3",
            Self::Txpool => "TXPOOL",
            Self::Debug => "DEBUG",
            Self::Trace => "TRACE",
            Self::Admin => "ADMIN",
            Self::Perm => "PERM",
            Self::Qbft => "QBFT",
            Self::Ibft => "IBFT",
            Self::Dev => "DEV",
            Self::Ots => "OTS",
        }
    }

    /// The group a method belongs to, from its namespace (the part before
    /// the first `_`). `personal_sign` is `eth_sign` with its arguments
    /// swapped, so it is ETH. `None` for a namespace forja does not serve
    /// (the method is then simply not found).
    pub fn of_method(method: &str) -> Option<ApiGroup> {
        let namespace = method.split('_').next().unwrap_or(method);
        Some(match namespace {
            "eth" | "personal" => Self::Eth,
            "net" => Self::Net,
            "web3" => Self::Web3,
            "txpool" => Self::Txpool,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            "admin" => Self::Admin,
            "perm" => Self::Perm,
            "qbft" => Self::Qbft,
            "ibft" => Self::Ibft,
            "evm" | "anvil" | "hardhat" => Self::Dev,
            "ots" | "erigon" => Self::Ots,
            _ => return None,
        })
    }
}

impl fmt::Display for ApiGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is none of Besu's API groups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown API group `{name}`; expected one of {}", ApiGroup::ALL.map(ApiGroup::name).join(", "))]
pub struct UnknownApiGroup {
    pub name: String,
}

impl FromStr for ApiGroup {
    type Err = UnknownApiGroup;

    fn from_str(text: &str) -> Result<Self, UnknownApiGroup> {
        let upper = text.trim().to_ascii_uppercase();
        Self::ALL
            .into_iter()
            .find(|group| group.name() == upper)
            .ok_or_else(|| UnknownApiGroup {
                name: text.to_owned(),
            })
    }
}

/// The groups a server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiGroups(BTreeSet<ApiGroup>);

impl ApiGroups {
    /// Every group: the built-in dev network's default.
    pub fn all() -> Self {
        Self(ApiGroup::ALL.into_iter().collect())
    }

    /// Besu's default, and forja's for a network defined by a file.
    pub fn besu_default() -> Self {
        Self([ApiGroup::Eth, ApiGroup::Net, ApiGroup::Web3].into())
    }

    pub fn contains(&self, group: ApiGroup) -> bool {
        self.0.contains(&group)
    }

    /// Whether `method` may be answered: its group is enabled, or it is
    /// in no group forja knows.
    pub fn allows(&self, method: &str) -> bool {
        ApiGroup::of_method(method).is_none_or(|group| self.contains(group))
    }

    pub fn iter(&self) -> impl Iterator<Item = ApiGroup> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<ApiGroup> for ApiGroups {
    fn from_iter<I: IntoIterator<Item = ApiGroup>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ApiGroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(ApiGroup::name).collect();
        f.write_str(&names.join(","))
    }
}

/// Comma-separated group names, any case (`ETH,NET,perm`).
impl FromStr for ApiGroups {
    type Err = UnknownApiGroup;

    fn from_str(text: &str) -> Result<Self, UnknownApiGroup> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(str::parse)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_fall_in_besus_groups() {
        let groups: ApiGroups = "eth,NET,Web3".parse().unwrap();
        assert_eq!(groups, ApiGroups::besu_default());
        assert!(groups.allows("eth_blockNumber") && groups.allows("personal_sign"));
        assert!(!groups.allows("perm_addAccountsToAllowlist"));
        assert!(!groups.allows("qbft_proposeValidatorVote"));
        assert!(!groups.allows("evm_mine") && !groups.allows("anvil_setBalance"));
        assert!(!groups.allows("ots_getApiLevel") && !groups.allows("erigon_getHeaderByNumber"));
        assert!(
            groups.allows("rpc_modules"),
            "unknown namespaces are not found, not refused"
        );
        let err = "ETH,EHT".parse::<ApiGroups>().unwrap_err();
        assert_eq!(err.name, "EHT");
        assert!(err.to_string().contains("unknown API group `EHT`"), "{err}");
        assert_eq!(
            ApiGroups::all().to_string(),
            "ETH,NET,WEB3,TXPOOL,DEBUG,TRACE,ADMIN,PERM,QBFT,IBFT,DEV,OTS"
        );
    }
}
