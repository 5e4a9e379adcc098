//! The chain's rules: chain id, EVM hardfork, gas limits and fees.

use std::{fmt, str::FromStr};

use revm::primitives::hardfork::SpecId;
use serde::{Deserialize, Serialize};

/// EVM hardforks a forja chain can run. Permissioned networks pin one for
/// the chain's life (Alastria's Red T runs byzantium).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Hardfork {
    Byzantium,
    Petersburg,
    Istanbul,
    Berlin,
    London,
    Shanghai,
    Cancun,
    #[default]
    Prague,
}

impl Hardfork {
    pub const ALL: [Hardfork; 8] = [
        Self::Byzantium,
        Self::Petersburg,
        Self::Istanbul,
        Self::Berlin,
        Self::London,
        Self::Shanghai,
        Self::Cancun,
        Self::Prague,
    ];

    /// revm's name for the same rules.
    pub fn spec_id(self) -> SpecId {
        match self {
            Self::Byzantium => SpecId::BYZANTIUM,
            Self::Petersburg => SpecId::PETERSBURG,
            Self::Istanbul => SpecId::ISTANBUL,
            Self::Berlin => SpecId::BERLIN,
            Self::London => SpecId::LONDON,
            Self::Shanghai => SpecId::SHANGHAI,
            Self::Cancun => SpecId::CANCUN,
            Self::Prague => SpecId::PRAGUE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Byzantium => "byzantium",
            Self::Petersburg => "petersburg",
            Self::Istanbul => "istanbul",
            Self::Berlin => "berlin",
            Self::London => "london",
            Self::Shanghai => "shanghai",
            Self::Cancun => "cancun",
            Self::Prague => "prague",
        }
    }
}

impl fmt::Display for Hardfork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hardfork {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown hardfork `{s}`; expected one of {}",
                    Self::ALL.map(Hardfork::name).join(", ")
                )
            })
    }
}

/// Besu's genesis gas limit for permissioned networks (`0x1fffffffffffff`).
pub(crate) const DEFAULT_BLOCK_GAS_LIMIT: u64 = 0x1f_ffff_ffff_ffff;

/// The chain's rules, shared by every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSpec {
    pub chain_id: u64,
    pub hardfork: Hardfork,
    pub block_gas_limit: u64,
    /// Lowest gas price (legacy) or max fee per gas (EIP-1559) a transaction
    /// may offer. 0 on free-gas networks, which then accept zero-priced
    /// transactions of every type. The base fee is always 0, as with Besu's
    /// `zeroBaseFee`.
    pub min_gas_price: u128,
    /// Most transactions one block carries, whatever their gas (keeps
    /// period-0 latency low under load).
    pub max_block_transactions: usize,
}

impl Default for ChainSpec {
    fn default() -> Self {
        Self {
            chain_id: 1337,
            hardfork: Hardfork::default(),
            block_gas_limit: DEFAULT_BLOCK_GAS_LIMIT,
            min_gas_price: 0,
            max_block_transactions: 8192,
        }
    }
}

impl ChainSpec {
    pub fn spec_id(&self) -> SpecId {
        self.hardfork.spec_id()
    }

    pub fn is_active(&self, fork: Hardfork) -> bool {
        self.hardfork >= fork
    }
}
