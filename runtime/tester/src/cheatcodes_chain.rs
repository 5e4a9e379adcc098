//! `vm.getChain`: a chain by alias or id from alloy-chains' table (the one
//! forge uses), with the RPC URL the project's `[rpc_endpoints]` gives it.

use std::{path::Path, str::FromStr};

use alloy::{
    primitives::{Bytes, U256},
    sol_types::SolValue,
};

use crate::{
    cheatcodes::{CheatError, CheatResult, resolve_env},
    inspector::TestInspector,
};

alloy::sol! {
    /// The chain-table part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmChain {
        struct Chain { string name; uint256 chainId; string chainAlias; string rpcUrl; }
        function getChain(string calldata chainAlias) external view returns (Chain memory chain);
        function getChain(uint256 chainId) external view returns (Chain memory chain);
    }
}

pub(crate) use VmChain::VmChainCalls;

/// The signature of the chain-table cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmChainCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies one chain-table cheatcode.
    pub(crate) fn apply_chain(&mut self, call: VmChainCalls) -> CheatResult {
        let alias = match call {
            VmChainCalls::getChain_0(c) => c.chainAlias,
            VmChainCalls::getChain_1(c) => c.chainId.to_string(),
        };
        let root = self.cheats.project_root.clone();
        Ok(Bytes::from(chain(&alias, root.as_deref())?.abi_encode()))
    }
}

/// The chain `alias` names (a name or a decimal id alloy-chains knows).
/// With an RPC URL configured for its name, the alias is the name; without
/// one, the alias asked for and no URL, as forge answers.
fn chain(alias: &str, root: Option<&Path>) -> Result<VmChain::Chain, CheatError> {
    let invalid = || format!("invalid chain alias: {alias}");
    let known = alloy_chains::Chain::from_str(alias).map_err(|_| invalid())?;
    let name = known.to_string();
    let id = known.id();
    // An id alloy-chains has no name for displays as the id itself.
    if name == id.to_string() {
        return Err(invalid().into());
    }
    let (rpc_url, chain_alias) = match root.and_then(|root| rpc_endpoint(root, &name)) {
        Some(url) => (url, name.clone()),
        None => (String::new(), alias.to_string()),
    };
    Ok(VmChain::Chain {
        name,
        chainId: U256::from(id),
        chainAlias: chain_alias,
        rpcUrl: rpc_url,
    })
}

/// The URL the project's configuration (`forja.toml`, else `foundry.toml`)
/// gives `name` in `[rpc_endpoints]` (or the default profile's), with
/// `${VAR}`s resolved; none when unset or a variable is missing.
fn rpc_endpoint(root: &Path, name: &str) -> Option<String> {
    let text = ["forja.toml", "foundry.toml"]
        .iter()
        .find_map(|file| std::fs::read_to_string(root.join(file)).ok())?;
    let config: toml::Table = text.parse().ok()?;
    let endpoints = config
        .get("rpc_endpoints")
        .or_else(|| config.get("profile")?.get("default")?.get("rpc_endpoints"))?;
    let endpoint = match endpoints.get(name)? {
        toml::Value::String(url) => url.as_str(),
        toml::Value::Table(table) => table
            .get("url")
            .or_else(|| table.get("endpoint"))?
            .as_str()?,
        _ => return None,
    };
    resolve_env(endpoint).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_aliases_as_forge() {
        let mainnet = chain("mainnet", None).unwrap();
        assert_eq!(
            (mainnet.name.as_str(), mainnet.chainId),
            ("mainnet", U256::from(1))
        );
        let bera = chain("80094", None).unwrap();
        assert_eq!(
            (bera.name.as_str(), bera.chainAlias.as_str()),
            ("berachain", "80094")
        );
        assert_eq!(
            chain("12345678", None).unwrap_err().to_string(),
            "invalid chain alias: 12345678"
        );
        assert_eq!(
            chain("", None).unwrap_err().to_string(),
            "invalid chain alias: "
        );
    }

    #[test]
    fn a_configured_endpoint_gives_the_url_and_the_name_as_alias() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("foundry.toml"),
            "[rpc_endpoints]\nsepolia = \"https://rpc.example/sepolia\"\n",
        )
        .unwrap();
        let sepolia = chain("11155111", Some(root.path())).unwrap();
        assert_eq!(sepolia.rpcUrl, "https://rpc.example/sepolia");
        assert_eq!(sepolia.chainAlias, "sepolia");
    }
}
