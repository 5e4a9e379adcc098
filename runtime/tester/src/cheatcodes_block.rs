//! Block and blob cheatcodes: `vm.setBlockhash`, `vm.blobBaseFee` /
//! `getBlobBaseFee`, `vm.blobhashes` / `getBlobhashes` and `vm.attachBlob`,
//! as forge 1.7.1 has them (the blob base fee is kept as the block's excess
//! blob gas, and read back as that, as forge does).

use alloy::{
    eips::eip4844::builder::{SidecarBuilder, SimpleCoder},
    primitives::{Bytes, U256},
    sol_types::SolValue,
};
use revm::primitives::{
    eip4844::{BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE},
    hardfork::SpecId,
};

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The block and blob part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmBlock {
        function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
        function blobBaseFee(uint256 newBlobBaseFee) external;
        function getBlobBaseFee() external view returns (uint256 blobBaseFee);
        function blobhashes(bytes32[] calldata hashes) external;
        function getBlobhashes() external view returns (bytes32[] memory hashes);
        function attachBlob(bytes calldata blob) external;
    }
}

pub(crate) use VmBlock::VmBlockCalls;

/// The signature of the block cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmBlockCalls::signature_by_selector(selector)
}

/// EIP-4844 cheatcodes need Cancun or later.
fn ensure_cancun<DB: CheatDatabase>(ctx: &CheatContext<DB>, name: &str) -> Result<(), CheatError> {
    if ctx.cfg.spec.is_enabled_in(SpecId::CANCUN) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not supported before the Cancun hard fork; \
             see EIP-4844: https://eips.ethereum.org/EIPS/eip-4844"
        )
        .into())
    }
}

impl TestInspector {
    /// Applies one block cheatcode.
    pub(crate) fn apply_block<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        call: VmBlockCalls,
    ) -> CheatResult {
        use VmBlockCalls as C;
        let encoded = match call {
            C::setBlockhash(c) => {
                let number = u64::try_from(c.blockNumber)
                    .map_err(|_| "blockNumber must be less than 2^64".to_string())?;
                if c.blockNumber > ctx.block.number {
                    return Err(
                        "block number must be less than or equal to the current block number"
                            .into(),
                    );
                }
                ctx.journaled_state
                    .database
                    .set_block_hash(number, c.blockHash);
                Vec::new()
            }
            C::blobBaseFee(c) => {
                ensure_cancun(ctx, "blobBaseFee")?;
                let excess = u64::try_from(c.newBlobBaseFee)
                    .map_err(|_| "newBlobBaseFee must be less than 2^64".to_string())?;
                let fraction = if ctx.cfg.spec.is_enabled_in(SpecId::PRAGUE) {
                    BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE
                } else {
                    BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
                };
                ctx.block.set_blob_excess_gas_and_price(excess, fraction);
                Vec::new()
            }
            C::getBlobBaseFee(_) => U256::from(
                ctx.block
                    .blob_excess_gas_and_price
                    .map(|blob| blob.excess_blob_gas)
                    .unwrap_or_default(),
            )
            .abi_encode(),
            C::blobhashes(c) => {
                ensure_cancun(ctx, "blobhashes")?;
                ctx.tx.blob_hashes = c.hashes;
                // BLOBHASH reads them as those of an EIP-4844 transaction.
                ctx.tx.tx_type = alloy::consensus::TxType::Eip4844 as u8;
                Vec::new()
            }
            C::getBlobhashes(_) => {
                ensure_cancun(ctx, "getBlobhashes")?;
                ctx.tx.blob_hashes.clone().abi_encode()
            }
            C::attachBlob(c) => {
                ensure_cancun(ctx, "attachBlob")?;
                // The sidecar (blobs, KZG commitments and proofs) is built as
                // forge builds it, so a blob it refuses is refused here; a
                // test sends no transaction, so only the attachment is kept:
                // the next broadcast call takes it.
                SidecarBuilder::<SimpleCoder>::from_slice(&c.blob)
                    .build_4844()
                    .map_err(|e| e.to_string())?;
                self.cheats.create.attach_blob();
                Vec::new()
            }
        };
        Ok(Bytes::from(encoded))
    }
}
