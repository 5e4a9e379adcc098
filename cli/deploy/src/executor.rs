//! Executes a deploy manifest against an environment: plans what to deploy
//! from the record and the artifacts, finishes any transaction the journal
//! left in flight, then sends the rest one transaction at a time, journaling
//! each before it is broadcast.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::eips::{BlockNumberOrTag, Encodable2718 as _};
use alloy::network::{EthereumWallet, NetworkTransactionBuilder as _, TransactionBuilder as _};
use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context as _, bail};

use crate::config::{Environment, GasPricing, SignerConfig};
use crate::git::TreeState;
use crate::journal::{Journal, PendingAction, PendingTx};
use crate::manifest::{self, Manifest, Pending, Scope};
use crate::record::{CallRecord, CompilerRecord, ContractRecord, DeploymentRecord};
use forja_compiler::artifact::{Artifact, ArtifactIndex};

/// Progress, for the command to render.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Connected {
        environment: String,
        chain_id: u64,
        deployer: Address,
        block: u64,
    },
    UpToDate {
        name: String,
        address: Address,
    },
    /// A transaction was journaled and broadcast.
    Sent {
        what: String,
        nonce: u64,
        tx_hash: B256,
    },
    /// A transaction the journal had in flight is being finished.
    Resuming {
        what: String,
        tx_hash: B256,
    },
    /// The node no longer knew the journaled transaction; the same signed
    /// bytes were sent again.
    Rebroadcast {
        what: String,
        tx_hash: B256,
    },
    /// The journaled transaction's nonce was used by another transaction, so
    /// it can never be mined; the step will be sent again.
    Dropped {
        what: String,
        tx_hash: B256,
    },
    Confirming {
        what: String,
        confirmations: u64,
        required: u64,
    },
    /// Mined and confirmed.
    Deployed {
        name: String,
        address: Address,
        block: u64,
        tx_hash: B256,
        confirmations: u64,
    },
    CodeVerified {
        name: String,
    },
    Called {
        what: String,
        block: u64,
        tx_hash: B256,
        confirmations: u64,
    },
    /// A recorded contract's code is not on the chain (gone, or different).
    /// On a dev environment it is deployed again.
    Vanished {
        name: String,
        address: Address,
        problem: String,
        redeploying: bool,
    },
    /// No new block came for a while during a wait.
    Stalled {
        what: String,
        head: u64,
        waited_secs: u64,
        hint: String,
    },
    /// A promotion gate passed.
    GatePassed {
        gate: crate::gate::Gate,
        detail: String,
    },
}

/// What a run would do or did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Deploy { name: String, redeploy: bool },
    Call { contract: String, function: String },
}

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub dry_run: bool,
    /// Contracts to deploy again although a deployment is recorded.
    pub redeploy: BTreeSet<String>,
    /// Redeploy every contract whose artifact changed (promotion of an
    /// approved release) instead of refusing.
    pub redeploy_changed: bool,
    /// The release being promoted, recorded with the deployment. Only
    /// `forja promote` sets it; it opens the promote-only gate.
    pub release: Option<String>,
    /// Why an environment that takes releases is deployed to directly (the
    /// emergency path, recorded in the audit log as an exception).
    pub emergency: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeployOutcome {
    pub deployer: Address,
    /// The steps taken (or, for a dry run, that would be taken).
    pub steps: Vec<Step>,
    pub record: DeploymentRecord,
}

impl DeployOutcome {
    pub fn nothing_to_do(&self) -> bool {
        self.steps.is_empty()
    }

    /// Appends the run to the audit log: `action` is `deploy`, `promote` or
    /// [`crate::audit::EMERGENCY_ACTION`].
    pub fn log(
        &self,
        root: &Path,
        action: &str,
        environment: &Environment,
        release: Option<String>,
        extra: serde_json::Value,
    ) -> anyhow::Result<crate::audit::AuditEntry> {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .map(|step| match step {
                Step::Deploy { name, redeploy } => {
                    let contract = self.record.contract(name);
                    serde_json::json!({
                        "deploy": name,
                        "redeploy": redeploy,
                        "address": contract.map(|c| c.address),
                        "tx_hash": contract.map(|c| c.tx_hash),
                        "runtime_code_hash": contract.map(|c| c.runtime_code_hash),
                    })
                }
                Step::Call { contract, function } => {
                    serde_json::json!({ "call": format!("{contract}.{function}") })
                }
            })
            .collect();
        crate::audit::append(
            root,
            action,
            &environment.name,
            self.record.commit.clone(),
            release,
            self.deployer.to_string(),
            serde_json::json!({ "chain_id": environment.chain_id, "steps": steps, "extra": extra }),
        )
    }
}

/// The [`Gate::PromoteOnly`](crate::gate::Gate::PromoteOnly) gate: an
/// environment with `promote_from` takes code only from `forja promote`
/// (which sets `release`), or on the recorded emergency path. A dry run
/// sends nothing and passes.
pub fn check_direct_deploy(
    env: &Environment,
    options: &DeployOptions,
) -> Result<(), crate::gate::GateRefused> {
    match &env.promote_from {
        Some(from)
            if options.release.is_none() && options.emergency.is_none() && !options.dry_run =>
        {
            Err(crate::gate::GateRefused::new(
                crate::gate::Gate::PromoteOnly,
                format!(
                    "`{}` takes code only through `forja promote --to {}` (it promotes from `{from}`); nothing was sent. In an emergency, `forja deploy --env {} --emergency \"REASON\"` deploys anyway and is recorded in the audit log as an exception",
                    env.name, env.name, env.name
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The code at `addresses` on `env`'s chain (after checking its chain id).
pub async fn code_at(env: &Environment, addresses: &[Address]) -> anyhow::Result<Vec<Bytes>> {
    let url = env
        .rpc_url
        .parse()
        .with_context(|| format!("rpc_url `{}`", env.rpc_url))?;
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(url);
    let chain_id = provider
        .get_chain_id()
        .await
        .with_context(|| format!("cannot reach environment `{}` at {}", env.name, env.rpc_url))?;
    if chain_id != env.chain_id {
        bail!(
            "environment `{}` expects chain id {}, but {} reports chain id {chain_id}",
            env.name,
            env.chain_id,
            env.rpc_url
        );
    }
    let mut codes = Vec::new();
    for address in addresses {
        codes.push(
            provider
                .get_code_at(*address)
                .await
                .with_context(|| format!("RPC {} (`{}`)", env.rpc_url, env.name))?,
        );
    }
    Ok(codes)
}

/// Everything a run needs, gathered by the command.
pub struct Deployment<'a> {
    pub root: &'a Path,
    pub environment: &'a Environment,
    pub manifest: &'a Manifest,
    pub artifacts: &'a ArtifactIndex,
    pub signer: PrivateKeySigner,
    pub tree: Option<TreeState>,
}

#[derive(Debug)]
struct Planned {
    spec_index: usize,
    artifact: Artifact,
    redeploy: bool,
}

/// A contract whose recorded deployment no longer matches deploy.toml and
/// the artifacts; listed when the run refuses.
fn changes(
    record: &ContractRecord,
    artifact: &Artifact,
    args: &Result<Vec<String>, Pending>,
    libraries: &Result<BTreeMap<String, Address>, Pending>,
) -> Vec<String> {
    let mut found = Vec::new();
    if record.artifact != artifact.id {
        found.push(format!("artifact {} → {}", record.artifact, artifact.id));
    }
    if record.creation_code_hash != artifact.creation.hash() {
        found.push(format!(
            "creation code {} → {}",
            short(record.creation_code_hash),
            short(artifact.creation.hash())
        ));
    }
    if record.runtime_code_hash != artifact.runtime.hash() {
        found.push(format!(
            "runtime code {} → {}",
            short(record.runtime_code_hash),
            short(artifact.runtime.hash())
        ));
    }
    if record.compiler.version != artifact.compiler_version {
        found.push(format!(
            "compiler {} → {}",
            record.compiler.version, artifact.compiler_version
        ));
    }
    match args {
        Ok(args) if *args != record.constructor_args => found.push(format!(
            "constructor args [{}] → [{}]",
            record.constructor_args.join(", "),
            args.join(", ")
        )),
        Err(Pending(other)) => found.push(format!(
            "constructor args use {other}, which is being redeployed"
        )),
        Ok(_) => {}
    }
    match libraries {
        Ok(libraries) if *libraries != record.libraries => {
            found.push("linked libraries changed".into())
        }
        Err(Pending(other)) => found.push(format!("links {other}, which is being redeployed")),
        Ok(_) => {}
    }
    found
}

fn short(hash: B256) -> String {
    let text = hash.to_string();
    format!("{}…", &text[..10])
}

impl Deployment<'_> {
    fn scope<'s>(&'s self, addresses: &'s BTreeMap<String, Address>) -> Scope<'s> {
        Scope {
            environment: &self.environment.name,
            addresses,
            deployer: self.signer.address(),
            dev_accounts: matches!(self.environment.signer, SignerConfig::DevAccount(_)),
        }
    }

    fn libraries_of(
        &self,
        spec: &manifest::ContractSpec,
        artifact: &Artifact,
        addresses: &BTreeMap<String, Address>,
    ) -> anyhow::Result<Result<BTreeMap<String, Address>, Pending>> {
        let scope = self.scope(addresses);
        let mut linked = BTreeMap::new();
        for library in artifact
            .creation
            .libraries()
            .chain(artifact.runtime.libraries())
        {
            let address = match spec.libraries.get(library) {
                Some(expression) => match scope.interpolate(expression)? {
                    Ok(text) => text.parse::<Address>().with_context(|| {
                        format!(
                            "{}: library {library} = `{expression}` is not an address",
                            spec.name
                        )
                    })?,
                    Err(pending) => return Ok(Err(pending)),
                },
                // A library deployed earlier under its own name links itself.
                None => match addresses.get(library) {
                    Some(address) => *address,
                    None if self.manifest.contracts.iter().any(|c| c.name == library) => {
                        return Ok(Err(Pending(library.to_string())));
                    }
                    None => bail!(
                        "{} needs library {library}: deploy it earlier in deploy.toml or set `libraries = {{ {library} = \"0x…\" }}`",
                        spec.name
                    ),
                },
            };
            linked.insert(library.to_string(), address);
        }
        Ok(Ok(linked))
    }

    /// Decides what to deploy. Refuses, listing every difference, when a
    /// recorded contract changed and is not to be redeployed.
    fn plan(
        &self,
        record: &DeploymentRecord,
        options: &DeployOptions,
    ) -> anyhow::Result<Vec<Planned>> {
        for name in &options.redeploy {
            if !self.manifest.contracts.iter().any(|c| &c.name == name) {
                bail!("--redeploy {name}: deploy.toml has no contract named {name}");
            }
        }
        // Addresses as they will be once earlier steps ran: a redeployed
        // contract has no address yet.
        let mut addresses = record.addresses();
        let mut planned = Vec::new();
        let mut refused = Vec::new();
        for (index, spec) in self.manifest.contracts.iter().enumerate() {
            let artifact = self
                .artifacts
                .find(spec.artifact_ref())
                .with_context(|| format!("deploy.toml: {}", spec.name))?;
            spec.check_deployable(&artifact)?;
            let Some(recorded) = record.contract(&spec.name) else {
                addresses.remove(&spec.name);
                planned.push(Planned {
                    spec_index: index,
                    artifact,
                    redeploy: false,
                });
                continue;
            };
            let args = self.scope(&addresses).render_all(&spec.args)?;
            let libraries = self.libraries_of(spec, &artifact, &addresses)?;
            let differences = changes(recorded, &artifact, &args, &libraries);
            let forced = options.redeploy.contains(&spec.name);
            if forced || (!differences.is_empty() && options.redeploy_changed) {
                addresses.remove(&spec.name);
                planned.push(Planned {
                    spec_index: index,
                    artifact,
                    redeploy: true,
                });
            } else if !differences.is_empty() {
                refused.push(format!(
                    "  {} (deployed at {}): {}",
                    spec.name,
                    recorded.address,
                    differences.join("; ")
                ));
            }
        }
        if !refused.is_empty() {
            bail!(
                "deployed contracts changed since their recorded deployment in `{}`:\n{}\nnothing was sent; pass `--redeploy NAME` for each contract to deploy again",
                self.environment.name,
                refused.join("\n")
            );
        }
        Ok(planned)
    }

    /// Runs the deployment.
    pub async fn run(
        &self,
        options: &DeployOptions,
        events: &(dyn Fn(Event) + Sync),
    ) -> anyhow::Result<DeployOutcome> {
        let env = self.environment;
        check_direct_deploy(env, options)?;
        let mut record = DeploymentRecord::load_or_default(self.root, &env.name, env.chain_id)?;
        let mut journal = Journal::load_or_new(self.root, &env.name, env.chain_id)?;
        // Plan before touching the network: refusals need no node.
        self.plan(&record, options)?;

        let chain = Chain::connect(env, self.signer.clone()).await?;
        let block = chain.block_number().await?;
        events(Event::Connected {
            environment: env.name.clone(),
            chain_id: env.chain_id,
            deployer: self.signer.address(),
            block,
        });
        // The record says what was deployed; the chain says what is there.
        self.check_chain(&chain, &mut record, events).await?;
        let planned = self.plan(&record, options)?;

        if options.dry_run {
            let mut steps: Vec<Step> = planned
                .iter()
                .map(|p| Step::Deploy {
                    name: self.manifest.contracts[p.spec_index].name.clone(),
                    redeploy: p.redeploy,
                })
                .collect();
            let redeployed: BTreeSet<&str> = planned
                .iter()
                .map(|p| self.manifest.contracts[p.spec_index].name.as_str())
                .collect();
            for call in &self.manifest.calls {
                let made = !redeployed.contains(call.contract.as_str())
                    && self
                        .call_key(call, &record.addresses())?
                        .is_some_and(|key| record.has_call(&key));
                if !made {
                    steps.push(Step::Call {
                        contract: call.contract.clone(),
                        function: call.function.clone(),
                    });
                }
            }
            for spec in &self.manifest.contracts {
                if let (Some(c), false) = (
                    record.contract(&spec.name),
                    redeployed.contains(spec.name.as_str()),
                ) {
                    events(Event::UpToDate {
                        name: c.name.clone(),
                        address: c.address,
                    });
                }
            }
            if let Some(pending) = &journal.pending {
                events(Event::Resuming {
                    what: pending.action.describe(),
                    tx_hash: pending.tx_hash,
                });
            }
            return Ok(DeployOutcome {
                deployer: self.signer.address(),
                steps,
                record,
            });
        }

        let mut steps = Vec::new();
        if let Some(pending) = journal.pending.clone() {
            events(Event::Resuming {
                what: pending.action.describe(),
                tx_hash: pending.tx_hash,
            });
            if let Some(step) = self
                .finish_pending(&chain, &mut journal, &mut record, pending, events)
                .await?
            {
                steps.push(step);
            }
        }
        // The journal may have finished a step: plan again against the record.
        let planned = self.plan(
            &record,
            &DeployOptions {
                redeploy: options
                    .redeploy
                    .iter()
                    .filter(|n| {
                        !steps.contains(&Step::Deploy {
                            name: (*n).clone(),
                            redeploy: true,
                        })
                    })
                    .cloned()
                    .collect(),
                ..options.clone()
            },
        )?;
        let planned_names: BTreeSet<String> = planned
            .iter()
            .map(|p| self.manifest.contracts[p.spec_index].name.clone())
            .collect();
        for spec in &self.manifest.contracts {
            let resumed = steps
                .iter()
                .any(|s| matches!(s, Step::Deploy { name, .. } if name == &spec.name));
            if let (Some(c), false, false) = (
                record.contract(&spec.name),
                planned_names.contains(&spec.name),
                resumed,
            ) {
                events(Event::UpToDate {
                    name: c.name.clone(),
                    address: c.address,
                });
            }
        }

        for plan in planned {
            let spec = &self.manifest.contracts[plan.spec_index];
            let addresses = record.addresses();
            let mut scope_addresses = addresses.clone();
            scope_addresses.remove(&spec.name);
            let args = self
                .scope(&scope_addresses)
                .render_all(&spec.args)?
                .map_err(|Pending(other)| {
                    anyhow::anyhow!("{}: {other} has no address", spec.name)
                })?;
            let libraries = self
                .libraries_of(spec, &plan.artifact, &scope_addresses)?
                .map_err(|Pending(other)| {
                    anyhow::anyhow!("{}: library {other} has no address", spec.name)
                })?;
            let params = plan
                .artifact
                .abi
                .constructor
                .as_ref()
                .map(|c| c.inputs.as_slice())
                .unwrap_or_default();
            let encoded =
                manifest::encode_params(params, &args, &format!("{} constructor", spec.name))?;
            let mut code = plan.artifact.creation.link(&libraries)?;
            code.extend_from_slice(&encoded);
            let contract = ContractRecord {
                name: spec.name.clone(),
                artifact: plan.artifact.id.clone(),
                address: Address::ZERO,
                tx_hash: B256::ZERO,
                block: 0,
                creation_code_hash: plan.artifact.creation.hash(),
                runtime_code_hash: plan.artifact.runtime.hash(),
                compiler: CompilerRecord {
                    version: plan.artifact.compiler_version.clone(),
                    settings: plan.artifact.compiler_settings.clone(),
                },
                constructor_args: args,
                constructor_args_encoded: encoded.into(),
                libraries,
                deployer: self.signer.address(),
                commit: self.tree.as_ref().and_then(|t| t.commit.clone()),
                dirty: self.tree.as_ref().is_some_and(|t| t.is_dirty()),
                deployed_at: String::new(),
            };
            let request = TransactionRequest::default().with_deploy_code(code);
            let pending = chain
                .sign(request, PendingAction::Deploy(Box::new(contract)))
                .await?;
            self.send(&chain, &mut journal, &mut record, pending, events)
                .await?;
            steps.push(Step::Deploy {
                name: spec.name.clone(),
                redeploy: plan.redeploy,
            });
        }

        for call in &self.manifest.calls {
            let addresses = record.addresses();
            let key = self
                .call_key(call, &addresses)?
                .context("call target has no address")?;
            if record.has_call(&key) {
                continue;
            }
            let target = addresses[&call.contract];
            let spec = self
                .manifest
                .contracts
                .iter()
                .find(|c| c.name == call.contract)
                .expect("validated");
            let artifact = self.artifacts.find(spec.artifact_ref())?;
            let function = manifest::find_function(&artifact.abi, &call.function, &call.contract)?;
            let args = self
                .scope(&addresses)
                .render_all(&call.args)?
                .map_err(|Pending(o)| anyhow::anyhow!("{o} has no address"))?;
            let data = manifest::encode_call(
                function,
                &args,
                &format!("{}.{}", call.contract, call.function),
            )?;
            let request = TransactionRequest::default()
                .with_to(target)
                .with_input(data);
            let action = PendingAction::Call(CallRecord {
                key,
                contract: call.contract.clone(),
                function: function.signature(),
                args,
                tx_hash: B256::ZERO,
                block: 0,
                made_at: String::new(),
            });
            let pending = chain.sign(request, action).await?;
            self.send(&chain, &mut journal, &mut record, pending, events)
                .await?;
            steps.push(Step::Call {
                contract: call.contract.clone(),
                function: call.function.clone(),
            });
        }

        // The deployment is current at this commit.
        let tree_changed =
            record_provenance(&mut record, self.tree.as_ref(), options.release.clone());
        if tree_changed || !steps.is_empty() {
            record.save(self.root)?;
        }
        Ok(DeployOutcome {
            deployer: self.signer.address(),
            steps,
            record,
        })
    }

    /// Compares every recorded contract of the manifest with the chain. A
    /// contract whose code is gone or different is dropped from the record
    /// (with the calls made to it) on a dev environment, so that it is
    /// deployed again; elsewhere it is an error.
    async fn check_chain(
        &self,
        chain: &Chain,
        record: &mut DeploymentRecord,
        events: &(dyn Fn(Event) + Sync),
    ) -> anyhow::Result<()> {
        let mut missing = Vec::new();
        for spec in &self.manifest.contracts {
            let Some(recorded) = record.contract(&spec.name) else {
                continue;
            };
            let code = chain.code(recorded.address).await?;
            let problem = if code.is_empty() {
                Some("the chain has no code there".to_string())
            } else {
                // Only an unchanged artifact can say what the code should be;
                // a changed one is the planner's to report.
                match self.artifacts.find(spec.artifact_ref()) {
                    Ok(artifact) if artifact.runtime.hash() == recorded.runtime_code_hash => {
                        artifact
                            .check_runtime(&code, &recorded.libraries)?
                            .err()
                            .map(|mismatch| mismatch.to_string())
                    }
                    _ => None,
                }
            };
            if let Some(problem) = problem {
                missing.push((spec.name.clone(), recorded.address, problem));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let env = self.environment;
        if !env.is_dev() {
            bail!(
                "deployments/{}.json records contracts that `{}` ({}) does not run:\n{}\nnothing was sent. If the chain was replaced, move deployments/{}.json away and deploy again; if the record was edited, restore it from git; otherwise check `rpc_url`",
                env.name,
                env.name,
                env.rpc_url,
                missing
                    .iter()
                    .map(|(name, address, problem)| format!("  {name} at {address}: {problem}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                env.name
            );
        }
        for (name, address, problem) in missing {
            events(Event::Vanished {
                name: name.clone(),
                address,
                problem,
                redeploying: true,
            });
            record.contracts.retain(|c| c.name != name);
            let prefix = format!("{address}:");
            record.calls.retain(|c| !c.key.starts_with(&prefix));
        }
        Ok(())
    }

    /// `address:signature(args)` of a post-deploy call; `None` while its
    /// target or an argument has no address.
    fn call_key(
        &self,
        call: &manifest::CallSpec,
        addresses: &BTreeMap<String, Address>,
    ) -> anyhow::Result<Option<String>> {
        let Some(target) = addresses.get(&call.contract) else {
            return Ok(None);
        };
        let Ok(args) = self.scope(addresses).render_all(&call.args)? else {
            return Ok(None);
        };
        Ok(Some(format!(
            "{target}:{}({})",
            call.function,
            args.join(",")
        )))
    }

    /// Journals `pending`, broadcasts it and finishes it.
    async fn send(
        &self,
        chain: &Chain,
        journal: &mut Journal,
        record: &mut DeploymentRecord,
        pending: PendingTx,
        events: &(dyn Fn(Event) + Sync),
    ) -> anyhow::Result<()> {
        journal.pending = Some(pending.clone());
        journal.save(self.root)?;
        chain.broadcast(&pending).await?;
        events(Event::Sent {
            what: pending.action.describe(),
            nonce: pending.nonce,
            tx_hash: pending.tx_hash,
        });
        let receipt = chain.wait_for_receipt(&pending, events).await?;
        self.finish(chain, journal, record, pending, receipt, events)
            .await
    }

    /// Brings the journaled transaction to an end. Returns the step it
    /// completed, `None` if it was dropped.
    async fn finish_pending(
        &self,
        chain: &Chain,
        journal: &mut Journal,
        record: &mut DeploymentRecord,
        pending: PendingTx,
        events: &(dyn Fn(Event) + Sync),
    ) -> anyhow::Result<Option<Step>> {
        let step = match &pending.action {
            PendingAction::Deploy(c) => Step::Deploy {
                name: c.name.clone(),
                redeploy: record.contract(&c.name).is_some(),
            },
            PendingAction::Call(c) => Step::Call {
                contract: c.contract.clone(),
                function: c.function.clone(),
            },
        };
        let receipt = match chain.receipt(pending.tx_hash).await? {
            Some(receipt) => receipt,
            None if chain.knows(pending.tx_hash).await? => {
                chain.wait_for_receipt(&pending, events).await?
            }
            None => {
                let nonce = chain.nonce(pending.from).await?;
                if nonce > pending.nonce {
                    // Another transaction used the nonce: ours can never be mined.
                    events(Event::Dropped {
                        what: pending.action.describe(),
                        tx_hash: pending.tx_hash,
                    });
                    journal.pending = None;
                    journal.save(self.root)?;
                    return Ok(None);
                }
                chain.broadcast(&pending).await?;
                events(Event::Rebroadcast {
                    what: pending.action.describe(),
                    tx_hash: pending.tx_hash,
                });
                chain.wait_for_receipt(&pending, events).await?
            }
        };
        self.finish(chain, journal, record, pending, receipt, events)
            .await?;
        Ok(Some(step))
    }

    /// Records a mined transaction, then clears the journal.
    async fn finish(
        &self,
        chain: &Chain,
        journal: &mut Journal,
        record: &mut DeploymentRecord,
        pending: PendingTx,
        receipt: TransactionReceipt,
        events: &(dyn Fn(Event) + Sync),
    ) -> anyhow::Result<()> {
        let what = pending.action.describe();
        if !receipt.status() {
            journal.pending = None;
            journal.save(self.root)?;
            bail!(
                "{what} reverted in transaction {} (block {})",
                pending.tx_hash,
                receipt.block_number.unwrap_or_default()
            );
        }
        let block = receipt
            .block_number
            .context("receipt without a block number")?;
        chain
            .wait_for_confirmations(&what, block, self.environment.confirmations, events)
            .await?;
        let now = crate::fsutil::rfc3339(crate::fsutil::unix_now());
        match pending.action {
            PendingAction::Deploy(mut contract) => {
                let address = receipt
                    .contract_address
                    .context("deployment receipt without a contract address")?;
                contract.address = address;
                contract.tx_hash = pending.tx_hash;
                contract.block = block;
                contract.deployed_at = now;
                events(Event::Deployed {
                    name: contract.name.clone(),
                    address,
                    block,
                    tx_hash: pending.tx_hash,
                    confirmations: self.environment.confirmations,
                });
                let artifact = self
                    .manifest
                    .contracts
                    .iter()
                    .find(|c| c.name == contract.name)
                    .map(|spec| self.artifacts.find(spec.artifact_ref()))
                    .transpose()?;
                let on_chain = chain.code(address).await?;
                let name = contract.name.clone();
                let libraries = contract.libraries.clone();
                record.upsert(*contract);
                record.save(self.root)?;
                journal.pending = None;
                journal.save(self.root)?;
                if let Some(artifact) = artifact
                    .filter(|a| a.id == record.contract(&name).expect("just recorded").artifact)
                {
                    if let Err(difference) = artifact.check_runtime(&on_chain, &libraries)? {
                        bail!(
                            "{name} at {address}: {difference}; the chain does not run the code that was built (recorded in deployments/{}.json so it is not sent again)",
                            self.environment.name
                        );
                    }
                    events(Event::CodeVerified { name });
                }
            }
            PendingAction::Call(mut call) => {
                call.tx_hash = pending.tx_hash;
                call.block = block;
                call.made_at = now;
                events(Event::Called {
                    what: format!("{}.{}", call.contract, call.function),
                    block,
                    tx_hash: pending.tx_hash,
                    confirmations: self.environment.confirmations,
                });
                if !record.has_call(&call.key) {
                    record.calls.push(call);
                }
                record.save(self.root)?;
                journal.pending = None;
                journal.save(self.root)?;
            }
        }
        Ok(())
    }
}

/// Records the commit the environment's deployment is current at. Returns
/// whether anything changed.
fn record_provenance(
    record: &mut DeploymentRecord,
    tree: Option<&TreeState>,
    release: Option<String>,
) -> bool {
    let commit = tree.and_then(|t| t.commit.clone());
    let dirty = tree.is_some_and(|t| t.is_dirty());
    let changed = record.commit != commit
        || record.dirty != dirty
        || (release.is_some() && record.release != release);
    record.commit = commit;
    record.dirty = dirty;
    if release.is_some() {
        record.release = release;
    }
    changed
}

/// The environment's chain, reached through alloy.
struct Chain {
    provider: DynProvider,
    wallet: EthereumWallet,
    env: Environment,
    from: Address,
}

impl Chain {
    async fn connect(env: &Environment, signer: PrivateKeySigner) -> anyhow::Result<Self> {
        let from = signer.address();
        let wallet = EthereumWallet::from(signer);
        let url = env
            .rpc_url
            .parse()
            .with_context(|| format!("rpc_url `{}`", env.rpc_url))?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .wallet(wallet.clone())
            .connect_http(url)
            .erased();
        let chain_id = provider.get_chain_id().await.with_context(|| {
            format!("cannot reach environment `{}` at {}", env.name, env.rpc_url)
        })?;
        if chain_id != env.chain_id {
            bail!(
                "environment `{}` expects chain id {}, but {} reports chain id {chain_id}: wrong network or wrong rpc_url; nothing was sent",
                env.name,
                env.chain_id,
                env.rpc_url
            );
        }
        Ok(Self {
            provider,
            wallet,
            env: env.clone(),
            from,
        })
    }

    fn rpc_error(&self) -> String {
        format!("RPC {} (`{}`)", self.env.rpc_url, self.env.name)
    }

    async fn block_number(&self) -> anyhow::Result<u64> {
        self.provider
            .get_block_number()
            .await
            .with_context(|| self.rpc_error())
    }

    async fn nonce(&self, address: Address) -> anyhow::Result<u64> {
        self.provider
            .get_transaction_count(address)
            .await
            .with_context(|| self.rpc_error())
    }

    async fn code(&self, address: Address) -> anyhow::Result<Bytes> {
        self.provider
            .get_code_at(address)
            .await
            .with_context(|| self.rpc_error())
    }

    async fn receipt(&self, hash: B256) -> anyhow::Result<Option<TransactionReceipt>> {
        self.provider
            .get_transaction_receipt(hash)
            .await
            .with_context(|| self.rpc_error())
    }

    async fn knows(&self, hash: B256) -> anyhow::Result<bool> {
        Ok(self
            .provider
            .get_transaction_by_hash(hash)
            .await
            .with_context(|| self.rpc_error())?
            .is_some())
    }

    /// Fills nonce, gas and fees, and signs: the result can be journaled
    /// before anything leaves this process.
    async fn sign(
        &self,
        request: TransactionRequest,
        action: PendingAction,
    ) -> anyhow::Result<PendingTx> {
        let nonce = self
            .provider
            .get_transaction_count(self.from)
            .pending()
            .await
            .with_context(|| self.rpc_error())?;
        let mut request = request
            .with_from(self.from)
            .with_nonce(nonce)
            .with_chain_id(self.env.chain_id);
        match &self.env.gas.pricing {
            GasPricing::Legacy { price } => {
                let price = match price {
                    Some(price) => *price,
                    None => self
                        .provider
                        .get_gas_price()
                        .await
                        .with_context(|| self.rpc_error())?,
                };
                request.set_gas_price(price);
            }
            GasPricing::Eip1559 {
                max_fee,
                max_priority_fee,
            } => {
                let (max_fee, tip) = match (max_fee, max_priority_fee) {
                    (Some(max), Some(tip)) => (*max, *tip),
                    _ => {
                        let estimate = self
                            .provider
                            .estimate_eip1559_fees()
                            .await
                            .with_context(|| self.rpc_error())?;
                        (
                            max_fee.unwrap_or(estimate.max_fee_per_gas),
                            max_priority_fee.unwrap_or(estimate.max_priority_fee_per_gas),
                        )
                    }
                };
                request.set_max_fee_per_gas(max_fee);
                request.set_max_priority_fee_per_gas(tip.min(max_fee));
            }
            GasPricing::Auto => {
                let latest = self
                    .provider
                    .get_block_by_number(BlockNumberOrTag::Latest)
                    .await
                    .with_context(|| self.rpc_error())?
                    .context("the node has no latest block")?;
                if latest.header.base_fee_per_gas.is_some() {
                    let estimate = self
                        .provider
                        .estimate_eip1559_fees()
                        .await
                        .with_context(|| self.rpc_error())?;
                    request.set_max_fee_per_gas(estimate.max_fee_per_gas);
                    request.set_max_priority_fee_per_gas(estimate.max_priority_fee_per_gas);
                } else {
                    request.set_gas_price(
                        self.provider
                            .get_gas_price()
                            .await
                            .with_context(|| self.rpc_error())?,
                    );
                }
            }
        }
        let gas = match self.env.gas.limit {
            Some(limit) => limit,
            None => {
                let estimate = self
                    .provider
                    .estimate_gas(request.clone())
                    .await
                    .with_context(|| {
                        format!(
                            "estimating gas for the {} (it would revert?)",
                            action.describe()
                        )
                    })?;
                // Headroom: estimates are exact for the state they ran on.
                estimate + estimate / 5
            }
        };
        let request = request.with_gas_limit(gas);
        let envelope = request
            .build(&self.wallet)
            .await
            .map_err(|e| anyhow::anyhow!("signing the {}: {e}", action.describe()))?;
        Ok(PendingTx {
            from: self.from,
            nonce,
            tx_hash: *envelope.tx_hash(),
            raw: envelope.encoded_2718().into(),
            action,
        })
    }

    async fn broadcast(&self, pending: &PendingTx) -> anyhow::Result<()> {
        match self.provider.send_raw_transaction(&pending.raw).await {
            Ok(_) => Ok(()),
            Err(err) => {
                // The node may already have it (a rerun after a timeout).
                if self.knows(pending.tx_hash).await.unwrap_or(false)
                    || self.receipt(pending.tx_hash).await.ok().flatten().is_some()
                {
                    return Ok(());
                }
                Err(err).with_context(|| {
                    format!(
                        "sending the {} ({})",
                        pending.action.describe(),
                        pending.tx_hash
                    )
                })
            }
        }
    }

    async fn wait_for_receipt(
        &self,
        pending: &PendingTx,
        events: &(dyn Fn(Event) + Sync),
    ) -> anyhow::Result<TransactionReceipt> {
        let deadline = Instant::now() + Duration::from_secs(self.env.timeout_secs);
        let what = pending.action.describe();
        let mut stall = StallWatch::new(self.block_number().await?, &self.env);
        loop {
            if let Some(receipt) = self.receipt(pending.tx_hash).await.with_context(|| {
                format!(
                    "waiting for {} ({}); run `forja deploy` again to resume",
                    pending.action.describe(),
                    pending.tx_hash
                )
            })? {
                return Ok(receipt);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} ({}) was not mined within {}s (`timeout_secs` of `{}`){}; it stays in the journal: run `forja deploy --env {}` again to resume",
                    what,
                    pending.tx_hash,
                    self.env.timeout_secs,
                    self.env.name,
                    stall.note(),
                    self.env.name
                );
            }
            stall.observe(self.block_number().await?, &what, events);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_for_confirmations(
        &self,
        what: &str,
        block: u64,
        required: u64,
        events: &(dyn Fn(Event) + Sync),
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(self.env.timeout_secs);
        let mut reported = 0;
        let mut stall = StallWatch::new(self.block_number().await?, &self.env);
        loop {
            let head = self.block_number().await?;
            stall.observe(head, what, events);
            let confirmations = head.saturating_sub(block) + 1;
            if confirmations != reported {
                reported = confirmations;
                events(Event::Confirming {
                    what: what.to_string(),
                    confirmations: confirmations.min(required),
                    required,
                });
            }
            if confirmations >= required {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{what}: only {confirmations}/{required} confirmations after {}s (`timeout_secs` of `{}`){}; run `forja deploy --env {}` again to resume",
                    self.env.timeout_secs,
                    self.env.name,
                    stall.note(),
                    self.env.name
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Notices a chain that stopped making blocks during a wait and says why
/// that may be, once.
struct StallWatch {
    head: u64,
    since: Instant,
    after: Duration,
    hint: String,
    reported: bool,
}

impl StallWatch {
    fn new(head: u64, env: &Environment) -> Self {
        Self {
            head,
            since: Instant::now(),
            // A quarter of the timeout, between 2 and 10 seconds.
            after: Duration::from_secs((env.timeout_secs / 4).clamp(2, 10)),
            hint: format!(
                "the chain makes no blocks while nothing is sent (a network that seals blocks only for transactions, as `forja node` does by default): start it with `forja node --block-period 2`, or set `confirmations = 1` for `{}` in forja.toml",
                env.name
            ),
            reported: false,
        }
    }

    fn observe(&mut self, head: u64, what: &str, events: &(dyn Fn(Event) + Sync)) {
        if head != self.head {
            self.head = head;
            self.since = Instant::now();
            return;
        }
        if !self.reported && self.since.elapsed() >= self.after {
            self.reported = true;
            events(Event::Stalled {
                what: what.to_string(),
                head,
                waited_secs: self.since.elapsed().as_secs(),
                hint: self.hint.clone(),
            });
        }
    }

    /// Appended to a timeout error.
    fn note(&self) -> String {
        if self.since.elapsed() >= self.after {
            format!(
                "; no new block for {}s at block {}: {}",
                self.since.elapsed().as_secs(),
                self.head,
                self.hint
            )
        } else {
            String::new()
        }
    }
}

/// keccak256 of a file's bytes (deploy.toml in release manifests).
pub fn file_hash(path: &Path) -> anyhow::Result<B256> {
    Ok(keccak256(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Approvals, GasConfig};

    const CTOR_ABI: &str = r#"[{"type":"constructor","inputs":[{"name":"x","type":"uint256"}],"stateMutability":"nonpayable"}]"#;
    const USER_ABI: &str = r#"[{"type":"constructor","inputs":[{"name":"c","type":"address"}],"stateMutability":"nonpayable"}]"#;

    fn write_artifact(out: &Path, name: &str, abi: &str, code: &str) {
        let dir = out.join(format!("{name}.sol"));
        std::fs::create_dir_all(&dir).unwrap();
        let body = serde_json::json!({
            "abi": serde_json::from_str::<serde_json::Value>(abi).unwrap(),
            "bytecode": { "object": code },
            "deployedBytecode": { "object": "0x6001" },
            "metadata": { "compiler": { "version": "0.8.30" }, "settings": {} },
            "sourcePath": format!("src/{name}.sol"),
        });
        std::fs::write(dir.join(format!("{name}.json")), body.to_string()).unwrap();
    }

    fn recorded(
        artifact: &Artifact,
        name: &str,
        address: Address,
        args: Vec<String>,
    ) -> ContractRecord {
        ContractRecord {
            name: name.into(),
            artifact: artifact.id.clone(),
            address,
            tx_hash: B256::ZERO,
            block: 1,
            creation_code_hash: artifact.creation.hash(),
            runtime_code_hash: artifact.runtime.hash(),
            compiler: CompilerRecord {
                version: artifact.compiler_version.clone(),
                settings: serde_json::json!({}),
            },
            constructor_args: args,
            constructor_args_encoded: Bytes::new(),
            libraries: BTreeMap::new(),
            deployer: Address::ZERO,
            commit: None,
            dirty: false,
            deployed_at: String::new(),
        }
    }

    fn names(planned: &[Planned], manifest: &Manifest) -> Vec<(String, bool)> {
        planned
            .iter()
            .map(|p| (manifest.contracts[p.spec_index].name.clone(), p.redeploy))
            .collect()
    }

    #[test]
    fn plans_new_contracts_and_refuses_changed_ones_with_dependents() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_artifact(&out, "Counter", CTOR_ABI, "0x6080");
        write_artifact(&out, "User", USER_ABI, "0x6081");
        let manifest = Manifest::parse(
            "[[contracts]]\nname = \"Counter\"\nargs = [1]\n[[contracts]]\nname = \"User\"\nargs = [\"${Counter.address}\"]\n",
        )
        .unwrap();
        let environment = Environment {
            name: "dev".into(),
            rpc_url: "http://127.0.0.1:1".into(),
            chain_id: 1,
            signer: SignerConfig::DevAccount(0),
            confirmations: 1,
            gas: GasConfig::default(),
            timeout_secs: 1,
            promote_from: None,
            approvals: Approvals::default(),
        };
        let artifacts = ArtifactIndex::scan(&out).unwrap();
        let deployment = Deployment {
            root: dir.path(),
            environment: &environment,
            manifest: &manifest,
            artifacts: &artifacts,
            signer: crate::signer::dev_account(0).unwrap(),
            tree: None,
        };
        let empty = DeploymentRecord::default();
        let plan = deployment.plan(&empty, &DeployOptions::default()).unwrap();
        assert_eq!(
            names(&plan, &manifest),
            [("Counter".into(), false), ("User".into(), false)]
        );

        let counter_address = Address::repeat_byte(0xc0);
        let mut record = DeploymentRecord::default();
        record.upsert(recorded(
            &artifacts.find("Counter").unwrap(),
            "Counter",
            counter_address,
            vec!["1".into()],
        ));
        record.upsert(recorded(
            &artifacts.find("User").unwrap(),
            "User",
            Address::repeat_byte(0xd0),
            vec![counter_address.to_string()],
        ));
        assert!(
            deployment
                .plan(&record, &DeployOptions::default())
                .unwrap()
                .is_empty()
        );

        // Counter's code changes: refused, listing what changed.
        write_artifact(&out, "Counter", CTOR_ABI, "0x6082");
        let err = deployment
            .plan(&record, &DeployOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Counter (deployed at") && err.contains("creation code"),
            "{err}"
        );
        assert!(!err.contains("User"), "{err}");

        // Redeploying Counter changes User's constructor argument too.
        let only_counter = DeployOptions {
            redeploy: BTreeSet::from(["Counter".to_string()]),
            ..Default::default()
        };
        let err = deployment
            .plan(&record, &only_counter)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("User") && err.contains("args use Counter, which is being redeployed"),
            "{err}"
        );
        let both = DeployOptions {
            redeploy: BTreeSet::from(["Counter".to_string(), "User".to_string()]),
            ..Default::default()
        };
        let plan = deployment.plan(&record, &both).unwrap();
        assert_eq!(
            names(&plan, &manifest),
            [("Counter".into(), true), ("User".into(), true)]
        );

        // A promotion redeploys whatever changed.
        let promotion = DeployOptions {
            redeploy_changed: true,
            ..Default::default()
        };
        assert_eq!(deployment.plan(&record, &promotion).unwrap().len(), 2);

        let unknown = DeployOptions {
            redeploy: BTreeSet::from(["Nope".to_string()]),
            ..Default::default()
        };
        assert!(
            deployment
                .plan(&record, &unknown)
                .unwrap_err()
                .to_string()
                .contains("no contract named Nope")
        );
    }
}
