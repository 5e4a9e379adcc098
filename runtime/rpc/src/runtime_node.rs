//! [`NodeApi`] for a node of a running `forja_runtime::Network`.

use std::sync::Arc;

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, Bytes, U256},
};
use forja_runtime::{
    CallRequest, Error, ExecutionOutcome, NodeHandle, SealedBlock, TxError, TxLocation, TxReceipt,
    TxRef,
    config::{ConsensusMode, parse_node_id},
    execution::CallLimits,
    permissions::{AccessLevel, PermissionChange},
    pool::PoolStatus,
};
use tokio::sync::broadcast;

use crate::backend::{
    AddedNode, Consensus, ConsensusCounters, DevApi, NodeApi, NodeInfo, NodeResult, PeerInfo,
    SignerMetric, TraceApi,
};

/// Serves one node of a runtime network.
pub struct NetworkNode {
    handle: NodeHandle,
    consensus: Consensus,
}

impl NetworkNode {
    pub fn new(handle: NodeHandle, mode: ConsensusMode) -> Self {
        let consensus = match mode {
            ConsensusMode::Qbft => Consensus::Qbft,
            ConsensusMode::Ibft2 => Consensus::Ibft2,
        };
        Self { handle, consensus }
    }

    pub fn handle(&self) -> &NodeHandle {
        &self.handle
    }

    /// Refuses `by` unless it is an admin (access level `full`); `None`
    /// is the node's operator, whom the RPC layer has already authorised.
    fn check_admin(&self, by: Option<Address>) -> NodeResult<()> {
        match by {
            Some(account) if !self.handle.admin().permissions().is_admin(account) => {
                Err(Error::PermissionDenied(format!(
                    "{account} is not an admin account (access level `full`)"
                )))
            }
            _ => Ok(()),
        }
    }

    fn node_ids(enodes: Vec<String>) -> NodeResult<Vec<alloy::primitives::B512>> {
        enodes
            .iter()
            .map(|enode| parse_node_id(enode).map_err(|e| Error::InvalidRequest(e.to_string())))
            .collect()
    }
}

fn at(number: u64) -> BlockId {
    BlockId::Number(BlockNumberOrTag::Number(number))
}

impl NodeApi for NetworkNode {
    fn chain_id(&self) -> u64 {
        self.handle.read().chain_spec().chain_id
    }

    fn consensus(&self) -> Consensus {
        self.consensus
    }

    fn min_gas_price(&self) -> u128 {
        self.handle.read().chain_spec().min_gas_price
    }

    fn block_gas_limit(&self) -> u64 {
        self.handle.read().chain_spec().block_gas_limit
    }

    fn block_number(&self) -> u64 {
        self.handle.read().block_number()
    }

    fn block_by_number(&self, number: u64) -> Option<Arc<SealedBlock>> {
        self.handle.read().block_by_number(number)
    }

    fn block_by_hash(&self, hash: B256) -> Option<Arc<SealedBlock>> {
        self.handle.read().block_by_hash(hash)
    }

    fn receipts_by_block(&self, hash: B256) -> Option<Arc<Vec<TxReceipt>>> {
        self.handle.read().receipts_by_block(hash)
    }

    fn transaction_by_hash(&self, hash: B256) -> Option<TxLocation> {
        self.handle.read().transaction_by_hash(hash)
    }

    fn receipt(&self, hash: B256) -> Option<TxReceipt> {
        self.handle.read().receipt(hash)
    }

    fn balance(&self, address: Address, block: u64) -> NodeResult<U256> {
        self.handle.read().balance(address, at(block))
    }

    fn nonce(&self, address: Address, block: u64) -> NodeResult<u64> {
        self.handle.read().nonce(address, at(block))
    }

    fn pending_nonce(&self, address: Address) -> u64 {
        self.handle.pool().next_nonce(address)
    }

    fn code(&self, address: Address, block: u64) -> NodeResult<Bytes> {
        self.handle.read().code(address, at(block))
    }

    fn storage(&self, address: Address, slot: U256, block: u64) -> NodeResult<U256> {
        self.handle.read().storage(address, slot, at(block))
    }

    fn call(
        &self,
        request: CallRequest,
        block: u64,
        limits: &CallLimits,
    ) -> NodeResult<ExecutionOutcome> {
        self.handle.read().call(&request, at(block), limits)
    }

    fn estimate_gas(
        &self,
        request: CallRequest,
        block: u64,
        limits: &CallLimits,
    ) -> NodeResult<u64> {
        self.handle.read().estimate_gas(&request, at(block), limits)
    }

    fn submit_transaction(&self, raw: Bytes) -> Result<B256, TxError> {
        self.handle.pool().submit_raw_transaction(&raw)
    }

    fn pending_transactions(&self) -> Vec<TxRef> {
        self.handle.pool().pending_transactions()
    }

    fn pending_transaction(&self, hash: B256) -> Option<TxRef> {
        self.handle.pool().pending_transaction(hash)
    }

    fn pool_status(&self) -> PoolStatus {
        self.handle.pool().status()
    }

    fn subscribe_new_blocks(&self) -> broadcast::Receiver<Arc<SealedBlock>> {
        self.handle.read().subscribe_new_blocks()
    }

    fn subscribe_pending_transactions(&self) -> broadcast::Receiver<B256> {
        self.handle.pool().subscribe_pending_transactions()
    }

    fn validators_at(&self, block: u64) -> NodeResult<Vec<Address>> {
        self.handle.admin().validators_at(at(block))
    }

    fn propose_validator_vote(
        &self,
        by: Option<Address>,
        validator: Address,
        add: bool,
    ) -> NodeResult<()> {
        self.check_admin(by)?;
        self.handle.admin().propose_validator_vote(validator, add);
        Ok(())
    }

    fn discard_validator_vote(&self, by: Option<Address>, validator: Address) -> NodeResult<bool> {
        self.check_admin(by)?;
        let pending = self
            .handle
            .admin()
            .pending_votes()
            .iter()
            .any(|(address, _)| *address == validator);
        self.handle.admin().discard_validator_vote(validator);
        Ok(pending)
    }

    fn pending_votes(&self) -> Vec<(Address, bool)> {
        self.handle.admin().pending_votes()
    }

    fn signer_metrics(&self, from: u64, to: u64) -> NodeResult<Vec<SignerMetric>> {
        Ok(self
            .handle
            .admin()
            .signer_metrics(at(from), at(to))?
            .into_iter()
            .map(|m| SignerMetric {
                address: m.address,
                proposed_block_count: m.proposed_block_count,
                last_proposed_block_number: m.last_proposed_block_number,
            })
            .collect())
    }

    fn consensus_counters(&self) -> ConsensusCounters {
        let metrics = self.handle.admin().metrics();
        ConsensusCounters {
            rounds: metrics.rounds_started,
            round_changes: metrics.round_changes,
        }
    }

    fn accounts_allowlist(&self) -> Vec<Address> {
        self.handle
            .admin()
            .accounts_allowlist()
            .into_iter()
            .map(|(address, _)| address)
            .collect()
    }

    fn add_accounts_to_allowlist(
        &self,
        by: Option<Address>,
        accounts: Vec<Address>,
    ) -> NodeResult<()> {
        let current = self.handle.admin().permissions().accounts;
        // Besu's allowlist has no levels: a listed account may transact and
        // deploy. Accounts already listed keep their level.
        let accounts = accounts
            .into_iter()
            .filter(|a| !current.contains_key(a))
            .map(|a| (a, AccessLevel::ContractDeploy))
            .collect();
        self.handle
            .admin()
            .change_permissions(by, PermissionChange::SetAccounts(accounts))
    }

    fn remove_accounts_from_allowlist(
        &self,
        by: Option<Address>,
        accounts: Vec<Address>,
    ) -> NodeResult<()> {
        self.handle
            .admin()
            .change_permissions(by, PermissionChange::RemoveAccounts(accounts))
    }

    fn nodes_allowlist(&self) -> Vec<String> {
        self.handle
            .admin()
            .nodes_allowlist()
            .iter()
            .map(|id| forja_runtime::config::enode(id, 30303))
            .collect()
    }

    fn add_nodes_to_allowlist(&self, by: Option<Address>, enodes: Vec<String>) -> NodeResult<()> {
        self.handle
            .admin()
            .change_permissions(by, PermissionChange::AddNodes(Self::node_ids(enodes)?))
    }

    fn remove_nodes_from_allowlist(
        &self,
        by: Option<Address>,
        enodes: Vec<String>,
    ) -> NodeResult<()> {
        self.handle
            .admin()
            .change_permissions(by, PermissionChange::RemoveNodes(Self::node_ids(enodes)?))
    }

    fn node_info(&self) -> NodeInfo {
        let id = self.handle.node_id();
        NodeInfo {
            id: alloy::hex::encode(id),
            enode: self.handle.enode(),
            name: format!(
                "forja/v{}/node-{}",
                env!("CARGO_PKG_VERSION"),
                self.handle.index()
            ),
            listen_addr: format!("127.0.0.1:{}", 30303 + self.handle.index()),
        }
    }

    fn add_node(&self, by: Option<Address>) -> NodeResult<AddedNode> {
        self.check_admin(by)?;
        let added = self
            .handle
            .admin()
            .add_node(alloy::signers::local::PrivateKeySigner::random())?;
        Ok(AddedNode {
            index: added.index,
            enode: added.enode,
            address: added.address,
            key_file: added.key_file,
        })
    }

    fn backup(&self, name: Option<&str>) -> NodeResult<forja_runtime::backup::Backup> {
        self.handle.admin().backup(name)
    }

    fn peers(&self) -> Vec<PeerInfo> {
        self.handle
            .admin()
            .peers()
            .into_iter()
            .map(|peer| PeerInfo {
                id: alloy::hex::encode(peer.node_id),
                enode: peer.enode,
                remote_address: format!("127.0.0.1:{}", 30303 + peer.index),
            })
            .collect()
    }

    fn dev(&self) -> Option<&dyn DevApi> {
        Some(self)
    }

    fn tracer(&self) -> Option<&dyn TraceApi> {
        Some(self)
    }
}
