//! A definition's genesis: its BFT parameters, genesis state and block.

use std::sync::Arc;

use alloy::primitives::{Address, B256, KECCAK256_EMPTY, U256};
use forja_consensus::{BftConfig, BftExtraData, BftMode, Transition, bft_block_hash};

use crate::{
    block::SealedBlock,
    config::{ConsensusMode, NetworkConfig, NodeKey},
    error::{ConfigError, Result},
    execution::{BlockContext, ExecutedBlock, seal_header},
    state::{AccountChange, AccountFields, StateChanges, WorldState},
};

/// The BFT parameters of a network definition.
pub fn bft_config(config: &NetworkConfig) -> BftConfig {
    let mode = match config.consensus.mode {
        ConsensusMode::Qbft => BftMode::Qbft,
        ConsensusMode::Ibft2 => BftMode::Ibft2,
    };
    let mut bft = BftConfig::new(mode);
    bft.epoch_length = config.consensus.epoch_length;
    bft.block_period_seconds = config.consensus.block_period_seconds;
    bft.request_timeout_ms = config
        .consensus
        .request_timeout_seconds
        .saturating_mul(1000)
        .max(1);
    bft.transitions = config
        .consensus
        .transitions
        .iter()
        .map(|t| Transition {
            block: t.block,
            block_period_seconds: t.block_period_seconds,
            request_timeout_ms: t.request_timeout_seconds.map(|s| s.saturating_mul(1000)),
        })
        .collect();
    bft.validator_overrides = config
        .consensus
        .transitions
        .iter()
        .filter_map(|t| t.validators.clone().map(|v| (t.block, v)))
        .collect();
    if let Some(validators) = dev_twin_takeover(config) {
        bft.validator_overrides.push((1, validators));
    }
    bft.future_messages_limit = config.consensus.future_messages_limit;
    bft.future_messages_max_distance = config.consensus.future_messages_max_distance;
    bft.message_queue_limit = config.consensus.message_queue_limit;
    bft.duplicate_message_limit = config.consensus.duplicate_message_limit;
    bft.early_round_change = config.consensus.early_round_change;
    bft
}

/// The validators that take over from block 1 when a definition from a
/// Besu genesis.json names validators whose keys this process does not
/// hold (a real network's, e.g. Alastria's): the genesis block stays the
/// one Besu builds (same hash), and the network's own validators seal
/// every block after it, as a Besu `validators` transition at block 1
/// would have them. `None` when the genesis validators are the network's
/// own, or the definition sets block 1's validators itself.
fn dev_twin_takeover(config: &NetworkConfig) -> Option<Vec<Address>> {
    let header = config.genesis_header.as_ref()?;
    let named = header.validators().ok()?;
    let mut own: Vec<Address> = config
        .node_keys()
        .ok()?
        .iter()
        .filter(|k| k.is_validator)
        .map(NodeKey::address)
        .collect();
    own.sort();
    let set_at_block_1 = config
        .consensus
        .transitions
        .iter()
        .any(|t| t.block == 1 && t.validators.is_some());
    (own != named && !set_at_block_1).then_some(own)
}

/// The genesis state of a definition: its dev accounts and its accounts.
pub fn genesis_world(config: &NetworkConfig) -> Result<WorldState> {
    let mut world = WorldState::default();
    let mut changes = StateChanges::default();
    let ether = U256::from(10u64).pow(U256::from(18));
    for signer in config.dev_accounts()? {
        changes.accounts.insert(
            signer.address(),
            AccountChange {
                fields: Some(AccountFields {
                    nonce: 0,
                    balance: U256::from(config.dev_accounts.balance_ether) * ether,
                    code_hash: KECCAK256_EMPTY,
                }),
                storage_cleared: false,
                storage: Default::default(),
            },
        );
    }
    for account in &config.accounts {
        let code_hash = match &account.code {
            Some(code) => world.insert_code(code.clone()),
            None => KECCAK256_EMPTY,
        };
        changes.accounts.insert(
            account.address,
            AccountChange {
                fields: Some(AccountFields {
                    nonce: account.nonce,
                    balance: account.balance,
                    code_hash,
                }),
                storage_cleared: false,
                storage: account.storage.iter().map(|(k, v)| (*k, *v)).collect(),
            },
        );
    }
    world.apply(&changes);
    Ok(world)
}

/// Genesis block and state of a network definition.
pub fn genesis(config: &NetworkConfig, keys: &[NodeKey]) -> Result<(Arc<SealedBlock>, WorldState)> {
    let spec = config.spec();
    let bft = bft_config(config);
    let world = genesis_world(config)?;
    let validators: Vec<Address> = keys
        .iter()
        .filter(|k| k.is_validator)
        .map(NodeKey::address)
        .collect();
    let header = match &config.genesis_header {
        Some(besu) => besu.header(
            world.state_root(),
            spec.block_gas_limit,
            config.genesis_timestamp,
        ),
        None => {
            let extra_data = BftExtraData::genesis(validators).encode(bft.mode);
            let context = BlockContext {
                number: 0,
                timestamp: config.genesis_timestamp,
                beneficiary: Address::ZERO,
                gas_limit: spec.block_gas_limit,
                parent_hash: B256::ZERO,
            };
            seal_header(
                &spec,
                &context,
                &ExecutedBlock::default(),
                world.state_root(),
                extra_data,
            )
        }
    };
    let hash = bft_block_hash(bft.mode, &header)
        .map_err(|e| ConfigError::Invalid(format!("genesis extraData: {e}")))?;
    Ok((
        Arc::new(SealedBlock::with_hash(header, hash, Vec::new())),
        world,
    ))
}
