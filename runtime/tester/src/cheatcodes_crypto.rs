//! `vm.ensNamehash`, P-256 keys (`signP256`, `publicKeyP256`) and
//! `vm.getRecordedLogsJson`: cheatcodes that only compute from their
//! arguments or from what the test recorded.

use alloy::{
    primitives::{B256, Bytes, U256, hex, keccak256},
    sol_types::SolValue,
};
use p256::{
    NistP256,
    ecdsa::{Signature, SigningKey, signature::hazmat::PrehashSigner},
    elliptic_curve::{Curve, bigint::ArrayEncoding, sec1::ToEncodedPoint},
};

use crate::{
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The computing part of Foundry's cheatcode interface served here.
    #[derive(Debug)]
    interface VmCrypto {
        function ensNamehash(string calldata name) external pure returns (bytes32);
        function signP256(uint256 privateKey, bytes32 digest) external pure returns (bytes32 r, bytes32 s);
        function publicKeyP256(uint256 privateKey) external pure returns (uint256 publicKeyX, uint256 publicKeyY);
        function getRecordedLogsJson() external view returns (string memory logsJson);
    }
}

pub(crate) use VmCrypto::VmCryptoCalls;

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmCryptoCalls::signature_by_selector(selector)
}

/// ENS's namehash (EIP-137): labels hashed from the right; "" is zero.
fn namehash(name: &str) -> B256 {
    if name.is_empty() {
        return B256::ZERO;
    }
    name.rsplit('.').fold(B256::ZERO, |node, label| {
        keccak256([node.as_slice(), keccak256(label.as_bytes()).as_slice()].concat())
    })
}

/// A P-256 private key: non-zero and below the curve order, as forge checks.
fn p256_key(private_key: U256) -> Result<SigningKey, CheatError> {
    if private_key.is_zero() {
        return Err("private key cannot be 0".into());
    }
    let order = U256::from_be_slice(&NistP256::ORDER.to_be_byte_array());
    if private_key >= order {
        return Err(
            format!("private key must be less than the NistP256 curve order ({order})").into(),
        );
    }
    SigningKey::from_bytes(&private_key.to_be_bytes::<32>().into())
        .map_err(|e| CheatError::from(e.to_string()))
}

/// One recorded log as `getRecordedLogsJson` lists it.
#[derive(serde::Serialize)]
struct LogJson {
    topics: Vec<String>,
    data: String,
    emitter: String,
}

impl TestInspector {
    /// Applies one computing cheatcode.
    pub(crate) fn apply_crypto(&mut self, call: VmCryptoCalls) -> CheatResult {
        use VmCryptoCalls as C;
        let encoded = match call {
            C::ensNamehash(c) => namehash(&c.name).abi_encode(),
            C::signP256(c) => {
                let signature: Signature = p256_key(c.privateKey)?
                    .sign_prehash(c.digest.as_slice())
                    .map_err(|e| e.to_string())?;
                // The low-s form, as forge returns.
                let signature = signature.normalize_s().unwrap_or(signature);
                let r: [u8; 32] = signature.r().to_bytes().into();
                let s: [u8; 32] = signature.s().to_bytes().into();
                (B256::from(r), B256::from(s)).abi_encode_params()
            }
            C::publicKeyP256(c) => {
                let point = p256_key(c.privateKey)?
                    .verifying_key()
                    .as_affine()
                    .to_encoded_point(false);
                let coordinate = |bytes: Option<&p256::FieldBytes>| {
                    bytes.map(|b| U256::from_be_slice(b)).unwrap_or_default()
                };
                (coordinate(point.x()), coordinate(point.y())).abi_encode_params()
            }
            C::getRecordedLogsJson(_) => {
                // Consumes the recorded logs, as `getRecordedLogs` does.
                let logs = self
                    .cheats
                    .recorded_logs
                    .replace(Vec::new())
                    .unwrap_or_default();
                let logs: Vec<LogJson> = logs
                    .iter()
                    .map(|log| LogJson {
                        topics: log.topics().iter().map(|t| t.to_string()).collect(),
                        data: hex::encode_prefixed(&log.data.data),
                        emitter: log.address.to_checksum(None),
                    })
                    .collect();
                serde_json::to_string(&logs)
                    .map_err(|e| e.to_string())?
                    .abi_encode()
            }
        };
        Ok(Bytes::from(encoded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namehash_as_ens() {
        assert_eq!(namehash(""), B256::ZERO);
        assert_eq!(
            namehash("eth"),
            "0x93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
                .parse::<B256>()
                .unwrap()
        );
    }

    #[test]
    fn p256_keys_refuse_zero_and_the_order() {
        assert_eq!(
            p256_key(U256::ZERO).unwrap_err().to_string(),
            "private key cannot be 0"
        );
        let order = U256::from_be_slice(&NistP256::ORDER.to_be_byte_array());
        assert!(
            p256_key(order)
                .unwrap_err()
                .to_string()
                .contains("curve order")
        );
        assert!(p256_key(U256::from(1)).is_ok());
    }
}
