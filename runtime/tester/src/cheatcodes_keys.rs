//! Foundry's key cheatcodes: `deriveKey` (BIP-39 mnemonic, BIP-32 path),
//! `rememberKey(s)`/`getWallets` and `createWallet`.

use alloy::{
    primitives::{B256, Bytes, U256, keccak256},
    signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English},
    sol_types::SolValue,
};

use crate::{
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The key part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmKeys {
        struct Wallet { address addr; uint256 publicKeyX; uint256 publicKeyY; uint256 privateKey; }

        function deriveKey(string calldata mnemonic, uint32 index) external pure returns (uint256 privateKey);
        function deriveKey(string calldata mnemonic, string calldata derivationPath, uint32 index) external pure returns (uint256 privateKey);
        function deriveKey(string calldata mnemonic, uint32 index, string calldata language) external pure returns (uint256 privateKey);
        function deriveKey(string calldata mnemonic, string calldata derivationPath, uint32 index, string calldata language) external pure returns (uint256 privateKey);
        function rememberKey(uint256 privateKey) external returns (address keyAddr);
        function rememberKeys(string calldata mnemonic, string calldata derivationPath, uint32 count) external returns (address[] memory keyAddrs);
        function rememberKeys(string calldata mnemonic, string calldata derivationPath, string calldata language, uint32 count) external returns (address[] memory keyAddrs);
        function getWallets() external view returns (address[] memory wallets);
        function createWallet(string calldata walletLabel) external returns (Wallet memory wallet);
        function createWallet(uint256 privateKey) external returns (Wallet memory wallet);
        function createWallet(uint256 privateKey, string calldata walletLabel) external returns (Wallet memory wallet);
        function sign(Wallet calldata wallet, bytes32 digest) external returns (uint8 v, bytes32 r, bytes32 s);
        function signCompact(Wallet calldata wallet, bytes32 digest) external returns (bytes32 r, bytes32 vs);
        function signCompact(uint256 privateKey, bytes32 digest) external pure returns (bytes32 r, bytes32 vs);
        function signWithNonceUnsafe(uint256 privateKey, bytes32 digest, uint256 nonce) external pure returns (uint8 v, bytes32 r, bytes32 s);
    }
}

pub(crate) use VmKeys::VmKeysCalls;

/// The derivation path `deriveKey(mnemonic, index)` appends its index to.
const DEFAULT_DERIVATION_PATH: &str = "m/44'/60'/0'/0/";

/// The signature of the key cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmKeysCalls::signature_by_selector(selector)
}

impl TestInspector {
    /// Applies one key cheatcode.
    pub(crate) fn apply_keys(&mut self, call: VmKeysCalls) -> CheatResult {
        use VmKeysCalls as C;
        match call {
            C::deriveKey_0(c) => ok(derive(&c.mnemonic, DEFAULT_DERIVATION_PATH, c.index, None)?),
            C::deriveKey_1(c) => ok(derive(&c.mnemonic, &c.derivationPath, c.index, None)?),
            C::deriveKey_2(c) => ok(derive(
                &c.mnemonic,
                DEFAULT_DERIVATION_PATH,
                c.index,
                Some(&c.language),
            )?),
            C::deriveKey_3(c) => ok(derive(
                &c.mnemonic,
                &c.derivationPath,
                c.index,
                Some(&c.language),
            )?),
            C::rememberKey(c) => {
                let address = signer(c.privateKey)?.address();
                self.cheats.wallets.push(address);
                ok(address)
            }
            C::rememberKeys_0(c) => {
                self.remember_keys(&c.mnemonic, &c.derivationPath, None, c.count)
            }
            C::rememberKeys_1(c) => {
                self.remember_keys(&c.mnemonic, &c.derivationPath, Some(&c.language), c.count)
            }
            C::getWallets(_) => ok(self.cheats.wallets.clone()),
            C::signWithNonceUnsafe(c) => sign_with_nonce(c.privateKey, c.digest, c.nonce),
            C::createWallet_0(c) => {
                let key = U256::from_be_bytes(keccak256(c.walletLabel.as_bytes()).0);
                self.create_wallet(key, Some(c.walletLabel))
            }
            C::createWallet_1(c) => self.create_wallet(c.privateKey, None),
            C::createWallet_2(c) => self.create_wallet(c.privateKey, Some(c.walletLabel)),
            C::sign(c) => {
                let signature = sign(c.wallet.privateKey, c.digest)?;
                let v = 27u8 + u8::from(signature.v());
                Ok(Bytes::from(
                    (
                        U256::from(v),
                        B256::from(signature.r()),
                        B256::from(signature.s()),
                    )
                        .abi_encode_params(),
                ))
            }
            C::signCompact_0(c) => sign_compact(c.wallet.privateKey, c.digest),
            C::signCompact_1(c) => sign_compact(c.privateKey, c.digest),
        }
    }

    fn remember_keys(
        &mut self,
        mnemonic: &str,
        path: &str,
        language: Option<&str>,
        count: u32,
    ) -> CheatResult {
        let mut addresses = Vec::with_capacity(count as usize);
        for index in 0..count {
            let key = derive(mnemonic, path, index, language)?;
            addresses.push(signer(key)?.address());
        }
        self.cheats.wallets.extend(&addresses);
        ok(addresses)
    }

    fn create_wallet(&mut self, key: U256, label: Option<String>) -> CheatResult {
        let signer = signer(key)?;
        let public = signer.public_key();
        let wallet = VmKeys::Wallet {
            addr: signer.address(),
            publicKeyX: U256::from_be_slice(&public[..32]),
            publicKeyY: U256::from_be_slice(&public[32..]),
            privateKey: key,
        };
        if let Some(label) = label {
            self.cheats.labels.insert(wallet.addr, label);
        }
        ok(wallet)
    }
}

fn ok<T: SolValue>(value: T) -> CheatResult {
    Ok(Bytes::from(value.abi_encode()))
}

fn sign(key: U256, digest: B256) -> Result<alloy::primitives::Signature, CheatError> {
    use alloy::signers::SignerSync;
    signer(key)?
        .sign_hash_sync(&digest)
        .map_err(|e| e.to_string().into())
}

/// `signWithNonceUnsafe`: an ECDSA signature with the caller's nonce `k`
/// (for tests of signature malleability and nonce reuse), low-s as
/// `sign`'s, with forge's checks and wording.
fn sign_with_nonce(key: U256, digest: B256, nonce: U256) -> CheatResult {
    use alloy::signers::k256::{
        FieldBytes, Scalar, Secp256k1, ecdsa::hazmat::SignPrimitive, elliptic_curve::PrimeField,
    };
    let fail = |why: String| CheatError::from(format!("vm.signWithNonceUnsafe: {why}"));
    let scalar = |value: U256, what: &str| {
        Option::<Scalar>::from(Scalar::from_repr(value.to_be_bytes().into()))
            .ok_or_else(|| fail(format!("invalid {what} scalar")))
    };
    let d = scalar(key, "private key")?;
    if bool::from(d.is_zero()) {
        return Err(fail("private key cannot be 0".into()));
    }
    let k = scalar(nonce, "nonce")?;
    if bool::from(k.is_zero()) {
        return Err(fail("nonce cannot be 0".into()));
    }
    let (raw, _) = <Scalar as SignPrimitive<Secp256k1>>::try_sign_prehashed(
        &d,
        k,
        &FieldBytes::from(digest.0),
    )
    .map_err(|e| fail(format!("cannot sign: {e}")))?;
    let low = raw.normalize_s().unwrap_or(raw);
    let r = U256::from_be_slice(&low.r().to_bytes());
    let s = U256::from_be_slice(&low.s().to_bytes());
    // The parity is the one that recovers the signer.
    let signer = signer(key)?.address();
    let parity = [false, true]
        .into_iter()
        .find(|&parity| {
            alloy::primitives::Signature::new(r, s, parity)
                .recover_address_from_prehash(&digest)
                .is_ok_and(|a| a == signer)
        })
        .ok_or_else(|| fail("no recovery id recovers the signer".into()))?;
    Ok(Bytes::from(
        (
            U256::from(27 + u8::from(parity)),
            B256::from(r),
            B256::from(s),
        )
            .abi_encode_params(),
    ))
}

/// An EIP-2098 compact signature: `r` and `s` with the parity in the top bit.
fn sign_compact(key: U256, digest: B256) -> CheatResult {
    let signature = sign(key, digest)?;
    let mut vs = signature.s();
    if signature.v() {
        vs |= U256::from(1) << 255;
    }
    Ok(Bytes::from(
        (B256::from(signature.r()), B256::from(vs)).abi_encode_params(),
    ))
}

fn signer(key: U256) -> Result<PrivateKeySigner, CheatError> {
    if key.is_zero() {
        return Err("private key cannot be 0".into());
    }
    PrivateKeySigner::from_bytes(&B256::from(key))
        .map_err(|_| "private key must be less than the secp256k1 curve order".into())
}

/// The private key at `path` + `index` of a BIP-39 mnemonic (English; the
/// only word list forja reads).
fn derive(
    mnemonic: &str,
    path: &str,
    index: u32,
    language: Option<&str>,
) -> Result<U256, CheatError> {
    if let Some(language) = language.filter(|l| !l.eq_ignore_ascii_case("english")) {
        return Err(format!(
            "deriveKey: the {language} word list is not supported by forja (English is)"
        )
        .into());
    }
    let signer = MnemonicBuilder::<English>::default()
        .phrase(mnemonic)
        .derivation_path(format!("{path}{index}"))
        .and_then(|b| b.build())
        .map_err(|e| format!("deriveKey: {e}"))?;
    Ok(U256::from_be_bytes(signer.credential().to_bytes().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anvils_mnemonic_derives_its_first_key() {
        let mnemonic = "test test test test test test test test test test test junk";
        assert_eq!(
            derive(mnemonic, DEFAULT_DERIVATION_PATH, 0, None).unwrap(),
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
                .parse::<U256>()
                .unwrap()
        );
        assert!(derive(mnemonic, DEFAULT_DERIVATION_PATH, 0, Some("klingon")).is_err());
    }
}
