//! Creation, code and delegation cheatcodes, as forge 1.7.1 has them:
//! `deployCode` (every overload), `getCode`/`getDeployedCode` path forms,
//! `expectCreate`/`expectCreate2`, EIP-7702 (`signDelegation`,
//! `attachDelegation`, `signAndAttachDelegation`), pranks that follow
//! `delegatecall`s, and `broadcast` inside tests (a prank of `msg.sender`
//! and `tx.origin` that spends the broadcaster's nonce, which delegations
//! depend on).

use alloy::{
    eips::eip7702::Authorization,
    primitives::{Address, B256, Bytes, Signature, U256, hex, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolValue,
};
use revm::{
    bytecode::Bytecode,
    context::JournalTr,
    interpreter::{CallInput, CallInputs, CallScheme, CallValue, CreateInputs, CreateOutcome},
    primitives::KECCAK_EMPTY,
};

use crate::{
    backend::{CheatContext, CheatDatabase},
    cheatcodes::{CheatError, CheatResult},
    inspector::TestInspector,
};

alloy::sol! {
    /// The creation, code and delegation part of Foundry's cheatcode interface.
    #[derive(Debug)]
    interface VmCreate {
        struct SignedDelegation { uint8 v; bytes32 r; bytes32 s; uint64 nonce; address implementation; }

        function deployCode(string calldata artifactPath) external returns (address deployedAddress);
        function deployCode(string calldata artifactPath, bytes calldata constructorArgs) external returns (address deployedAddress);
        function deployCode(string calldata artifactPath, uint256 value) external returns (address deployedAddress);
        function deployCode(string calldata artifactPath, bytes calldata constructorArgs, uint256 value) external returns (address deployedAddress);
        function deployCode(string calldata artifactPath, bytes32 salt) external returns (address deployedAddress);
        function deployCode(string calldata artifactPath, bytes calldata constructorArgs, bytes32 salt) external returns (address deployedAddress);
        function deployCode(string calldata artifactPath, uint256 value, bytes32 salt) external returns (address deployedAddress);
        function deployCode(string calldata artifactPath, bytes calldata constructorArgs, uint256 value, bytes32 salt) external returns (address deployedAddress);

        function expectCreate(bytes calldata bytecode, address deployer) external;
        function expectCreate2(bytes calldata bytecode, address deployer) external;

        function signDelegation(address implementation, uint256 privateKey) external returns (SignedDelegation memory signedDelegation);
        function signDelegation(address implementation, uint256 privateKey, uint64 nonce) external returns (SignedDelegation memory signedDelegation);
        function signDelegation(address implementation, uint256 privateKey, bool crossChain) external returns (SignedDelegation memory signedDelegation);
        function attachDelegation(SignedDelegation calldata signedDelegation) external;
        function attachDelegation(SignedDelegation calldata signedDelegation, bool crossChain) external;
        function signAndAttachDelegation(address implementation, uint256 privateKey) external returns (SignedDelegation memory signedDelegation);
        function signAndAttachDelegation(address implementation, uint256 privateKey, uint64 nonce) external returns (SignedDelegation memory signedDelegation);
        function signAndAttachDelegation(address implementation, uint256 privateKey, bool crossChain) external returns (SignedDelegation memory signedDelegation);

        function prank(address msgSender, bool delegateCall) external;
        function startPrank(address msgSender, bool delegateCall) external;
        function prank(address msgSender, address txOrigin, bool delegateCall) external;
        function startPrank(address msgSender, address txOrigin, bool delegateCall) external;

        function broadcast() external;
        function broadcast(address signer) external;
        function broadcast(uint256 privateKey) external;
        function startBroadcast() external;
        function startBroadcast(address signer) external;
        function startBroadcast(uint256 privateKey) external;
        function stopBroadcast() external;
    }
}

pub(crate) use VmCreate::VmCreateCalls;

/// The signature of the cheatcode with this selector.
pub(crate) fn signature(selector: [u8; 4]) -> Option<&'static str> {
    VmCreateCalls::signature_by_selector(selector)
}

/// Runs in place of the cheatcode's code for `deployCode` without a salt,
/// in the creator's context: calldata is `value ‖ init code`; CREATE, then
/// return the address, or revert with what the creation reverted with.
// PUSH1 32 CALLDATASIZE SUB DUP1 PUSH1 32 PUSH0 CALLDATACOPY PUSH0 PUSH0
// CALLDATALOAD CREATE DUP1 PUSH1 24 JUMPI, then RETURNDATACOPY and REVERT,
// then JUMPDEST PUSH0 MSTORE PUSH1 32 PUSH0 RETURN.
const CREATE_STUB: &[u8] = &hex!("602036038060205f375f5f35f0806018573d5f5f3e3d5ffd5b5f5260205ff3");
/// The same with a salt: calldata is `value ‖ salt ‖ init code`, CREATE2.
// The salt is read with PUSH1 32 CALLDATALOAD and sits under CREATE2's
// value, offset and size.
const CREATE2_STUB: &[u8] =
    &hex!("604036038060405f37602035815f5f35f580601c573d5f5f3e3d5ffd5b5f5260205ff3");

/// A `vm.expectCreate`/`expectCreate2` waiting for its creation.
#[derive(Clone, Debug)]
pub(crate) struct ExpectedCreate {
    /// The runtime code the created contract must have.
    bytecode: Bytes,
    /// Who must create it.
    deployer: Address,
    /// CREATE2 (else CREATE).
    create2: bool,
}

/// A `vm.broadcast`/`startBroadcast` under way.
#[derive(Clone, Debug)]
pub(crate) struct Broadcast {
    /// `msg.sender` and `tx.origin` of the broadcast calls.
    new_origin: Address,
    /// The contract whose calls are broadcast.
    original_caller: Address,
    /// Journal depth of the `broadcast` call.
    depth: usize,
    /// `broadcast` (one call) vs `startBroadcast`.
    single_call: bool,
}

/// A `deployCode` whose creation runs in place of the cheatcode's code.
#[derive(Clone, Debug)]
pub(crate) struct PendingDeploy {
    creator: Address,
    calldata: Bytes,
    create2: bool,
}

/// What this module's cheatcodes keep between calls.
#[derive(Clone, Debug, Default)]
pub(crate) struct CreateState {
    /// Pending `expectCreate`s.
    expected_creates: Vec<ExpectedCreate>,
    /// Delegations attached since the last broadcast call: authority and
    /// nonce (the next one an authority signs takes the following nonce).
    active_delegations: Vec<(Address, u64)>,
    /// The broadcast under way.
    broadcast: Option<Broadcast>,
    /// Set by `deployCode` for the inspector's `call` hook.
    pending_deploy: Option<PendingDeploy>,
    /// Depths of the cheatcode calls running a creation stub.
    deploy_frames: Vec<usize>,
    /// forge's `isolate`: each call of the test contract spends its sender's nonce.
    isolate: bool,
    /// forge's `always_use_create_2_factory`.
    create2_factory: bool,
    /// `vm.attachBlob` was called: the next broadcast call carries a blob.
    active_blob: bool,
}

impl CreateState {
    /// `vm.attachBlob`: the next broadcast call carries a blob.
    pub(crate) fn attach_blob(&mut self) {
        self.active_blob = true;
    }

    /// Whether nothing is pending (the common case, checked per call).
    pub(crate) fn is_idle(&self) -> bool {
        self.expected_creates.is_empty()
            && !self.isolate
            && !self.create2_factory
            && self.broadcast.is_none()
            && self.pending_deploy.is_none()
            && self.deploy_frames.is_empty()
    }

    /// Takes the run's `isolate` and `always_use_create_2_factory`.
    pub(crate) fn set_modes(&mut self, config: &crate::config::TestConfig) {
        self.isolate = config.isolate;
        self.create2_factory = config.always_use_create_2_factory;
    }
}

fn ok<T: SolValue>(value: T) -> CheatResult {
    Ok(Bytes::from(value.abi_encode()))
}

fn signer(key: U256) -> Result<PrivateKeySigner, CheatError> {
    PrivateKeySigner::from_bytes(&B256::from(key))
        .map_err(|e| format!("invalid private key: {e}").into())
}

impl TestInspector {
    /// Applies one cheatcode of this module, called by `caller` at `depth`.
    pub(crate) fn apply_create<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        caller: Address,
        depth: usize,
        call: VmCreateCalls,
    ) -> CheatResult {
        use VmCreateCalls as C;
        match call {
            C::deployCode_0(c) => {
                self.deploy_code(caller, depth, &c.artifactPath, None, None, None)
            }
            C::deployCode_1(c) => self.deploy_code(
                caller,
                depth,
                &c.artifactPath,
                Some(c.constructorArgs),
                None,
                None,
            ),
            C::deployCode_2(c) => {
                self.deploy_code(caller, depth, &c.artifactPath, None, Some(c.value), None)
            }
            C::deployCode_3(c) => self.deploy_code(
                caller,
                depth,
                &c.artifactPath,
                Some(c.constructorArgs),
                Some(c.value),
                None,
            ),
            C::deployCode_4(c) => {
                self.deploy_code(caller, depth, &c.artifactPath, None, None, Some(c.salt))
            }
            C::deployCode_5(c) => self.deploy_code(
                caller,
                depth,
                &c.artifactPath,
                Some(c.constructorArgs),
                None,
                Some(c.salt),
            ),
            C::deployCode_6(c) => self.deploy_code(
                caller,
                depth,
                &c.artifactPath,
                None,
                Some(c.value),
                Some(c.salt),
            ),
            C::deployCode_7(c) => self.deploy_code(
                caller,
                depth,
                &c.artifactPath,
                Some(c.constructorArgs),
                Some(c.value),
                Some(c.salt),
            ),
            C::expectCreate(c) => self.expect_create(c.bytecode, c.deployer, false),
            C::expectCreate2(c) => self.expect_create(c.bytecode, c.deployer, true),

            C::signDelegation_0(c) => {
                self.sign_delegation(ctx, c.privateKey, c.implementation, None, false, None)
            }
            C::signDelegation_1(c) => self.sign_delegation(
                ctx,
                c.privateKey,
                c.implementation,
                Some(c.nonce),
                false,
                None,
            ),
            C::signDelegation_2(c) => self.sign_delegation(
                ctx,
                c.privateKey,
                c.implementation,
                None,
                c.crossChain,
                None,
            ),
            C::signAndAttachDelegation_0(c) => self.sign_delegation(
                ctx,
                c.privateKey,
                c.implementation,
                None,
                false,
                Some("signAndAttachDelegation"),
            ),
            C::signAndAttachDelegation_1(c) => self.sign_delegation(
                ctx,
                c.privateKey,
                c.implementation,
                Some(c.nonce),
                false,
                Some("signAndAttachDelegation"),
            ),
            C::signAndAttachDelegation_2(c) => self.sign_delegation(
                ctx,
                c.privateKey,
                c.implementation,
                None,
                c.crossChain,
                Some("signAndAttachDelegation"),
            ),
            C::attachDelegation_0(c) => self.attach_delegation(ctx, c.signedDelegation, false),
            C::attachDelegation_1(c) => {
                self.attach_delegation(ctx, c.signedDelegation, c.crossChain)
            }

            C::prank_0(c) => {
                self.delegate_prank(ctx, caller, depth, c.msgSender, None, true, c.delegateCall)
            }
            C::startPrank_0(c) => {
                self.delegate_prank(ctx, caller, depth, c.msgSender, None, false, c.delegateCall)
            }
            C::prank_1(c) => self.delegate_prank(
                ctx,
                caller,
                depth,
                c.msgSender,
                Some(c.txOrigin),
                true,
                c.delegateCall,
            ),
            C::startPrank_1(c) => self.delegate_prank(
                ctx,
                caller,
                depth,
                c.msgSender,
                Some(c.txOrigin),
                false,
                c.delegateCall,
            ),

            C::broadcast_0(_) => self.start_broadcast(ctx.tx.caller, caller, depth, true),
            C::broadcast_1(c) => self.start_broadcast(c.signer, caller, depth, true),
            C::broadcast_2(c) => {
                let address = signer(c.privateKey)?.address();
                self.start_broadcast(address, caller, depth, true)
            }
            C::startBroadcast_0(_) => self.start_broadcast(ctx.tx.caller, caller, depth, false),
            C::startBroadcast_1(c) => self.start_broadcast(c.signer, caller, depth, false),
            C::startBroadcast_2(c) => {
                let address = signer(c.privateKey)?.address();
                self.start_broadcast(address, caller, depth, false)
            }
            C::stopBroadcast(_) => {
                self.cheats
                    .create
                    .broadcast
                    .take()
                    .ok_or("vm.stopBroadcast: no broadcast in progress to stop")?;
                Ok(Bytes::new())
            }
        }
    }

    /// The code `vm.getCode`/`getDeployedCode`/`deployCode` name: an
    /// artifact file (`out/File.sol/Name.json`, any JSON artifact inside the
    /// project) or a contract of the build (`Name`, `File.sol`,
    /// `path/File.sol:Name`, each with an optional `:0.8.30`).
    pub(crate) fn artifact_code(
        &self,
        cheatcode: &str,
        path: &str,
        deployed: bool,
    ) -> Result<Bytes, CheatError> {
        if path.ends_with(".json") {
            let file = self
                .project_path(path)
                .map_err(|e| format!("vm.{cheatcode}: {e}"))?;
            let bytes = std::fs::read(&file)
                .map_err(|e| format!("vm.{cheatcode}: no matching artifact found ({path}: {e})"))?;
            let artifact = forja_compiler::artifact::Artifact::from_bytes(&file, &bytes)
                .map_err(|e| format!("vm.{cheatcode}: {e}"))?;
            let code = if deployed {
                artifact.runtime
            } else {
                artifact.creation
            };
            if !code.links.is_empty() || code.bytes.is_empty() {
                return Err(format!(
                    "vm.{cheatcode}: no bytecode for contract; is it abstract or unlinked?"
                )
                .into());
            }
            return Ok(code.bytes.into());
        }
        let artifact = self
            .artifacts
            .find(path)
            .map_err(|e| format!("vm.{cheatcode}: {e}"))?
            .ok_or_else(|| format!("vm.{cheatcode}: no matching artifact found"))?;
        let code = if deployed {
            &artifact.deployed_bytecode
        } else {
            &artifact.bytecode
        };
        if code.is_empty() || !artifact.unlinked_libraries.is_empty() {
            return Err(format!(
                "vm.{cheatcode}: no bytecode for contract; is it abstract or unlinked?"
            )
            .into());
        }
        Ok(code.clone())
    }

    /// `deployCode`: the creation runs as the cheatcode call's own frame,
    /// from `caller` (or the sender of a prank it has under way), so its
    /// nonce, balance and traces are the caller's as in forge.
    fn deploy_code(
        &mut self,
        caller: Address,
        depth: usize,
        path: &str,
        args: Option<Bytes>,
        value: Option<U256>,
        salt: Option<B256>,
    ) -> CheatResult {
        let code = self.artifact_code("deployCode", path, false)?;
        let creator = match &self.cheats.prank {
            Some(prank) if prank.depth == depth && prank.prank_caller == caller => prank.sender,
            _ => caller,
        };
        let mut calldata = value.unwrap_or_default().to_be_bytes::<32>().to_vec();
        if let Some(salt) = salt {
            calldata.extend_from_slice(salt.as_slice());
        }
        calldata.extend_from_slice(&code);
        calldata.extend_from_slice(&args.unwrap_or_default());
        self.cheats.create.pending_deploy = Some(PendingDeploy {
            creator,
            calldata: calldata.into(),
            create2: salt.is_some(),
        });
        Ok(Bytes::new())
    }

    /// Turns the cheatcode call that asked for a `deployCode` into the
    /// creation (see [`CREATE_STUB`]); false when none was asked for.
    pub(crate) fn start_pending_deploy(&mut self, inputs: &mut CallInputs, depth: usize) -> bool {
        let Some(deploy) = self.cheats.create.pending_deploy.take() else {
            return false;
        };
        let stub = Bytes::from_static(if deploy.create2 {
            CREATE2_STUB
        } else {
            CREATE_STUB
        });
        inputs.known_bytecode = (keccak256(&stub), Bytecode::new_raw(stub));
        inputs.input = CallInput::Bytes(deploy.calldata);
        inputs.target_address = deploy.creator;
        inputs.caller = deploy.creator;
        inputs.scheme = CallScheme::DelegateCall;
        inputs.value = CallValue::Apparent(U256::ZERO);
        inputs.is_static = false;
        self.cheats.create.deploy_frames.push(depth);
        true
    }

    /// Whether the call ending at `depth` was a `deployCode`'s creation
    /// frame (a cheatcode call, not one of the test's).
    pub(crate) fn end_deploy_frame(&mut self, depth: usize) -> bool {
        if self.cheats.create.deploy_frames.last() == Some(&depth) {
            self.cheats.create.deploy_frames.pop();
            return true;
        }
        false
    }

    fn expect_create(&mut self, bytecode: Bytes, deployer: Address, create2: bool) -> CheatResult {
        self.cheats.create.expected_creates.push(ExpectedCreate {
            bytecode,
            deployer,
            create2,
        });
        Ok(Bytes::new())
    }

    /// Meets the `expectCreate` a finished creation matches.
    pub(crate) fn expected_create_end<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        inputs: &CreateInputs,
        outcome: &CreateOutcome,
    ) {
        if self.cheats.create.expected_creates.is_empty() || !outcome.result.result.is_ok() {
            return;
        }
        let Some(address) = outcome.address else {
            return;
        };
        let Ok(account) = ctx.journaled_state.load_account_with_code(address);
        let code = account
            .data
            .info
            .code
            .as_ref()
            .map(|c| c.original_bytes())
            .unwrap_or_default();
        let create2 = matches!(
            inputs.scheme(),
            revm::context_interface::CreateScheme::Create2 { .. }
        );
        let expected = &mut self.cheats.create.expected_creates;
        if let Some(index) = expected.iter().position(|e| {
            e.deployer == inputs.caller() && e.create2 == create2 && e.bytecode == code
        }) {
            expected.swap_remove(index);
        }
    }

    /// Why the test fails for the `expectCreate`s nothing met.
    pub(crate) fn unmet_creates(&mut self) -> Vec<String> {
        std::mem::take(&mut self.cheats.create.expected_creates)
            .into_iter()
            .map(|e| {
                format!(
                    "expected {} call by address {} for bytecode {} but not found",
                    if e.create2 { "CREATE2" } else { "CREATE" },
                    hex::encode_prefixed(e.deployer),
                    hex::encode_prefixed(&e.bytecode)
                )
            })
            .collect()
    }

    /// The nonce the next delegation of `authority` must carry: one past
    /// its last attached delegation, else its account nonce (plus one when
    /// it is the broadcaster, whose transaction spends that nonce).
    fn next_delegation_nonce<DB: CheatDatabase>(
        &self,
        ctx: &mut CheatContext<DB>,
        authority: Address,
    ) -> Result<u64, CheatError> {
        if let Some((_, nonce)) = self
            .cheats
            .create
            .active_delegations
            .iter()
            .rev()
            .find(|(a, _)| *a == authority)
        {
            return Ok(nonce + 1);
        }
        let account_nonce = ctx
            .journaled_state
            .load_account(authority)
            .map_err(|e| e.to_string())?
            .data
            .info
            .nonce;
        let broadcaster = self
            .cheats
            .create
            .broadcast
            .as_ref()
            .is_some_and(|b| b.new_origin == authority);
        Ok(account_nonce + u64::from(broadcaster))
    }

    fn sign_delegation<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        key: U256,
        implementation: Address,
        nonce: Option<u64>,
        cross_chain: bool,
        attach: Option<&str>,
    ) -> CheatResult {
        let signer = signer(key)?;
        let nonce = match nonce {
            Some(nonce) => nonce,
            None => self.next_delegation_nonce(ctx, signer.address())?,
        };
        let auth = authorization(ctx.cfg.chain_id, cross_chain, implementation, nonce);
        let signature = signer
            .sign_hash_sync(&auth.signature_hash())
            .map_err(|e| e.to_string())?;
        if let Some(cheatcode) = attach {
            self.write_delegation(ctx, cheatcode, signer.address(), implementation, nonce)?;
        }
        ok(VmCreate::SignedDelegation {
            v: u8::from(signature.v()),
            r: signature.r().into(),
            s: signature.s().into(),
            nonce,
            implementation,
        })
    }

    fn attach_delegation<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        delegation: VmCreate::SignedDelegation,
        cross_chain: bool,
    ) -> CheatResult {
        let auth = authorization(
            ctx.cfg.chain_id,
            cross_chain,
            delegation.implementation,
            delegation.nonce,
        );
        let parity = match delegation.v {
            0 => false,
            1 => true,
            v => {
                return Err(format!("vm.attachDelegation: invalid y-parity {v} (0 or 1)").into());
            }
        };
        let signature = Signature::new(
            U256::from_be_bytes(delegation.r.0),
            U256::from_be_bytes(delegation.s.0),
            parity,
        );
        let authority = signature
            .recover_address_from_prehash(&auth.signature_hash())
            .map_err(|e| format!("vm.attachDelegation: {e}"))?;
        self.write_delegation(
            ctx,
            "attachDelegation",
            authority,
            delegation.implementation,
            delegation.nonce,
        )?;
        Ok(Bytes::new())
    }

    /// Gives `authority` the delegation designator of `implementation`
    /// (no code for the zero address), as EIP-7702 would apply it.
    fn write_delegation<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        cheatcode: &str,
        authority: Address,
        implementation: Address,
        nonce: u64,
    ) -> Result<(), CheatError> {
        let expected = self.next_delegation_nonce(ctx, authority)?;
        if expected != nonce {
            return Err(format!(
                "vm.{cheatcode}: invalid nonce for {authority}: expected {expected}, got {nonce}"
            )
            .into());
        }
        if implementation.is_zero() {
            ctx.journaled_state
                .set_code_with_hash(authority, Bytecode::default(), KECCAK_EMPTY);
        } else {
            ctx.journaled_state
                .set_code(authority, Bytecode::new_eip7702(implementation));
        }
        self.cheats
            .create
            .active_delegations
            .push((authority, nonce));
        Ok(())
    }

    /// `prank(…, delegateCall)`: a prank that may also turn the caller's
    /// next `delegatecall` into one that runs in the pranked contract.
    #[allow(clippy::too_many_arguments)]
    fn delegate_prank<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        caller: Address,
        depth: usize,
        sender: Address,
        origin: Option<Address>,
        single_use: bool,
        delegate_call: bool,
    ) -> CheatResult {
        if delegate_call && !TestInspector::has_code(ctx, sender) {
            return Err("vm.prank: cannot `prank` delegate call from an EOA".into());
        }
        self.start_prank(caller, depth, sender, origin, single_use)?;
        if let Some(prank) = self.cheats.prank.as_mut() {
            prank.delegate_call = delegate_call;
        }
        Ok(Bytes::new())
    }

    fn start_broadcast(
        &mut self,
        new_origin: Address,
        caller: Address,
        depth: usize,
        single_call: bool,
    ) -> CheatResult {
        if self.cheats.create.broadcast.is_some() {
            return Err("vm.broadcast: a broadcast is active already".into());
        }
        if self.cheats.prank.is_some() {
            return Err(
                "vm.broadcast: you have an active prank; broadcasting and pranks are not compatible"
                    .into(),
            );
        }
        self.cheats.create.broadcast = Some(Broadcast {
            new_origin,
            original_caller: caller,
            depth,
            single_call,
        });
        Ok(Bytes::new())
    }

    /// The broadcast under way for calls at `depth`: whether it is for one
    /// call, and the broadcaster (`vm.readCallers`).
    pub(crate) fn broadcaster(&self, depth: usize) -> Option<(bool, Address)> {
        self.cheats
            .create
            .broadcast
            .as_ref()
            .filter(|b| b.depth <= depth)
            .map(|b| (b.single_call, b.new_origin))
    }

    /// Applies a broadcast to a call of the broadcasting contract: sender
    /// and origin become the broadcaster, whose nonce the call (and each
    /// of its own delegations attached for it) spends. `Ok(true)` when it
    /// applied; `Err` for what forge refuses.
    pub(crate) fn broadcast_call<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        inputs: &mut CallInputs,
        depth: usize,
    ) -> Result<bool, CheatError> {
        // Under `isolate`, forge runs each of the test's calls as its own
        // transaction; forja keeps them in one but spends the nonce the same
        // (warm accounts and transient storage are not reset).
        if self.cheats.create.isolate
            && depth == 1
            && inputs.scheme == CallScheme::Call
            && !inputs.is_static
            && self.cheats.create.broadcast.is_none()
        {
            let nonce = ctx
                .journaled_state
                .load_account(inputs.caller)
                .map_err(|e| e.to_string())?
                .data
                .info
                .nonce;
            TestInspector::set_nonce(ctx, inputs.caller, nonce + 1)?;
        }
        let Some(broadcast) = self.cheats.create.broadcast.clone() else {
            return Ok(false);
        };
        if broadcast.depth != depth || broadcast.original_caller != inputs.caller {
            return Ok(false);
        }
        if inputs.is_static {
            if broadcast.single_call {
                return Err(
                    "`staticcall`s are not allowed after `broadcast`; use `startBroadcast` instead"
                        .into(),
                );
            }
        } else {
            let delegations = std::mem::take(&mut self.cheats.create.active_delegations);
            // A transaction carries a blob or delegations, never both (forge's check).
            if std::mem::take(&mut self.cheats.create.active_blob) && !delegations.is_empty() {
                return Err("both delegation and blob are active; `attachBlob` and \
                     `attachDelegation` are not compatible"
                    .into());
            }
            let own = delegations
                .iter()
                .filter(|(authority, _)| *authority == broadcast.new_origin)
                .count() as u64;
            let nonce = ctx
                .journaled_state
                .load_account(broadcast.new_origin)
                .map_err(|e| e.to_string())?
                .data
                .info
                .nonce;
            TestInspector::set_nonce(ctx, broadcast.new_origin, nonce + own + 1)?;
        }
        ctx.journaled_state
            .load_account(broadcast.new_origin)
            .map_err(|e| e.to_string())?;
        self.record.origin_restore.push((depth, ctx.tx.caller));
        ctx.tx.caller = broadcast.new_origin;
        inputs.caller = broadcast.new_origin;
        if broadcast.single_call {
            self.cheats.create.broadcast = None;
        }
        Ok(true)
    }

    /// Applies a broadcast to a creation of the broadcasting contract (the
    /// creation itself spends the broadcaster's nonce).
    pub(crate) fn broadcast_create<DB: CheatDatabase>(
        &mut self,
        ctx: &mut CheatContext<DB>,
        inputs: &mut CreateInputs,
        depth: usize,
        pranked: bool,
    ) -> bool {
        // `always_use_create_2_factory`: the test's CREATE2 is made by the
        // deterministic deployer, so its address is the deployer's.
        if self.cheats.create.create2_factory
            && (depth == 1 || pranked)
            && matches!(
                inputs.scheme(),
                revm::context_interface::CreateScheme::Create2 { .. }
            )
        {
            inputs.set_call(crate::vm::CREATE2_DEPLOYER);
            let _ = ctx
                .journaled_state
                .load_account(crate::vm::CREATE2_DEPLOYER);
            return true;
        }
        let Some(broadcast) = self.cheats.create.broadcast.clone() else {
            return false;
        };
        if broadcast.depth != depth || broadcast.original_caller != inputs.caller() {
            return false;
        }
        self.record.origin_restore.push((depth, ctx.tx.caller));
        ctx.tx.caller = broadcast.new_origin;
        inputs.set_call(broadcast.new_origin);
        if broadcast.single_call {
            self.cheats.create.broadcast = None;
        }
        true
    }
}

/// An EIP-7702 authorization for this chain, or for any chain (chain id 0)
/// when `cross_chain`.
fn authorization(chain_id: u64, cross_chain: bool, address: Address, nonce: u64) -> Authorization {
    let chain_id = if cross_chain {
        U256::ZERO
    } else {
        U256::from(chain_id)
    };
    Authorization {
        chain_id,
        address,
        nonce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stubs_jump_to_their_success_branch() {
        // The JUMPI target of each stub is its JUMPDEST (0x5b).
        assert_eq!(CREATE_STUB[0x18], 0x5b);
        assert_eq!(CREATE_STUB[15], 0x18);
        assert_eq!(CREATE2_STUB[0x1c], 0x5b);
        assert_eq!(CREATE2_STUB[19], 0x1c);
    }
}
