//! The setup's contracts from the project: `deploy.toml` (owned by
//! forja-deploy: constructor arguments, libraries, calls) and artifacts by
//! name from `out/` (owned by forja-compiler).

use std::{collections::BTreeMap, path::Path};

use alloy::primitives::{Address, Bytes};
use anyhow::{Context as _, bail};
use forja_compiler::ArtifactIndex;
use forja_deploy::manifest::{self, Manifest};

use crate::{
    BenchConfig,
    workload::{Contracts, Deployment, Scope, SetupCall},
};

impl Contracts {
    /// The setup's contracts: deploy.toml's (with its constructor arguments,
    /// libraries and calls) and/or `[setup] contracts` by name, from `out/`.
    pub fn from_project(root: &Path, out_dir: &Path, config: &BenchConfig) -> anyhow::Result<Self> {
        let index = ArtifactIndex::scan(out_dir)?;
        let mut contracts = Contracts::default();
        if config.setup.deploy {
            let manifest = Manifest::load(&root.join("deploy.toml"))?;
            for spec in manifest.contracts {
                let artifact = index
                    .find(spec.artifact_ref())
                    .with_context(|| format!("deploy.toml: {}", spec.name))?;
                let what = format!("deploy.toml: {} constructor", spec.name);
                contracts.deployments.push(Deployment {
                    name: spec.name.clone(),
                    abi: artifact.abi.clone(),
                    init_code: Box::new(move |scope| {
                        let scope = deploy_scope(scope);
                        let args = resolved(scope.render_all(&spec.args)?, &what)?;
                        let mut libraries = BTreeMap::new();
                        for (library, expression) in &spec.libraries {
                            let address: Address = resolved(scope.interpolate(expression)?, &what)?
                                .parse()
                                .with_context(|| format!("{what}: library {library} address"))?;
                            libraries.insert(library.clone(), address);
                        }
                        let mut code = artifact.creation.link(&libraries)?;
                        let params = artifact
                            .abi
                            .constructor
                            .as_ref()
                            .map_or(&[][..], |c| &c.inputs);
                        code.extend(manifest::encode_params(params, &args, &what)?);
                        Ok(Bytes::from(code))
                    }),
                });
            }
            for call in manifest.calls {
                let abi = contracts
                    .deployments
                    .iter()
                    .find(|d| d.name == call.contract)
                    .map(|d| d.abi.clone())
                    .context("deploy.toml calls name contracts it deploys")?;
                let what = format!("deploy.toml: {}.{}", call.contract, call.function);
                contracts.calls.push(SetupCall {
                    contract: call.contract.clone(),
                    what: what.clone(),
                    input: Box::new(move |scope| {
                        let scope = deploy_scope(scope);
                        let function =
                            manifest::find_function(&abi, &call.function, &call.contract)?;
                        let args = resolved(scope.render_all(&call.args)?, &what)?;
                        Ok(manifest::encode_call(function, &args, &what)?.into())
                    }),
                });
            }
        }
        for name in &config.setup.contracts {
            let artifact = index
                .find(name)
                .with_context(|| format!("[setup] contracts: {name}"))?;
            if artifact
                .abi
                .constructor
                .as_ref()
                .is_some_and(|c| !c.inputs.is_empty())
            {
                bail!(
                    "[setup] contracts: {name}'s constructor takes arguments; deploy it from deploy.toml (`deploy = true`) instead"
                );
            }
            let code = artifact.creation.link(&BTreeMap::new())?;
            contracts.deployments.push(Deployment {
                name: name.clone(),
                abi: artifact.abi.clone(),
                init_code: Box::new(move |_| Ok(Bytes::from(code.clone()))),
            });
        }
        if contracts.deployments.is_empty() {
            bail!(
                "bench.toml deploys nothing: set `[setup] deploy = true` (deploy.toml) or `contracts = [\"Name\"]`"
            );
        }
        Ok(contracts)
    }
}

fn deploy_scope<'a>(scope: &'a Scope<'a>) -> manifest::Scope<'a> {
    manifest::Scope {
        environment: "bench",
        addresses: scope.addresses,
        deployer: scope.deployer,
        dev_accounts: true,
    }
}

fn resolved<T>(value: Result<T, manifest::Pending>, what: &str) -> anyhow::Result<T> {
    value.map_err(|manifest::Pending(name)| {
        anyhow::anyhow!("{what}: refers to {name}, which is not deployed before it")
    })
}
