//! Foundry's Ed25519 cheatcodes: `createEd25519Key`, `publicKeyEd25519`,
//! `signEd25519` and `verifyEd25519`. As in forge, a private key is any 32
//! bytes (the salt is the key) and a signature covers `namespace ‖ message`.

use alloy::{
    primitives::{B256, Bytes},
    sol_types::SolValue,
};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::{cheatcodes::CheatResult, inspector::TestInspector};

alloy::sol! {
    /// The Ed25519 part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmEd25519 {
        function createEd25519Key(bytes32 salt) external pure returns (bytes32 publicKey, bytes32 privateKey);
        function publicKeyEd25519(bytes32 privateKey) external pure returns (bytes32 publicKey);
        function signEd25519(bytes calldata namespace, bytes calldata message, bytes32 privateKey) external pure returns (bytes memory signature);
        function verifyEd25519(bytes calldata signature, bytes calldata namespace, bytes calldata message, bytes32 publicKey) external pure returns (bool valid);
    }
}

pub(crate) use VmEd25519::VmEd25519Calls;

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmEd25519Calls::signature_by_selector(selector)
}

fn public_key(private_key: &B256) -> B256 {
    B256::from(
        SigningKey::from_bytes(&private_key.0)
            .verifying_key()
            .to_bytes(),
    )
}

impl TestInspector {
    /// Applies one Ed25519 cheatcode.
    pub(crate) fn apply_ed25519(&mut self, call: VmEd25519Calls) -> CheatResult {
        use VmEd25519Calls as C;
        let encoded = match call {
            C::createEd25519Key(c) => (public_key(&c.salt), c.salt).abi_encode_params(),
            C::publicKeyEd25519(c) => public_key(&c.privateKey).abi_encode(),
            C::signEd25519(c) => {
                let key = SigningKey::from_bytes(&c.privateKey.0);
                let signed = [c.namespace.as_ref(), c.message.as_ref()].concat();
                Bytes::from(key.sign(&signed).to_bytes().to_vec()).abi_encode()
            }
            C::verifyEd25519(c) => {
                let valid = <[u8; 64]>::try_from(c.signature.as_ref())
                    .ok()
                    .zip(VerifyingKey::from_bytes(&c.publicKey.0).ok())
                    .is_some_and(|(signature, key)| {
                        let signed = [c.namespace.as_ref(), c.message.as_ref()].concat();
                        key.verify(&signed, &Signature::from_bytes(&signature))
                            .is_ok()
                    });
                valid.abi_encode()
            }
        };
        Ok(Bytes::from(encoded))
    }
}
