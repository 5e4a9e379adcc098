//! `forja deploy --env E`: deploy what deploy.toml lists to environment E.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use forja_compiler::{ArtifactIndex, Project};
use forja_deploy::config::{self, Environment};
use forja_deploy::executor::{self, DeployOptions, DeployOutcome, Deployment, Event, Step};
use forja_deploy::manifest::Manifest;
use forja_deploy::{audit, git, signer};

use crate::render::Spinner;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The environment (a `[environments.<name>]` of forja.toml).
    #[arg(long, short)]
    pub env: String,
    /// Show what would be deployed and called, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Deploy this contract again although a deployment is recorded
    /// (repeatable).
    #[arg(long, value_name = "NAME")]
    pub redeploy: Vec<String>,
    /// Deploy to an environment that takes code only through `forja
    /// promote`, bypassing its gates. The reason is recorded in the audit log
    /// and `forja audit verify` lists the deploy as an exception.
    #[arg(long, value_name = "REASON")]
    pub emergency: Option<String>,
    /// Use the artifacts in out/ as they are instead of building first.
    #[arg(long)]
    pub no_build: bool,
    /// Project directory (or any directory inside it).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::discover(&args.root)?;
    let environment = config::environment(&project.config.environments, &args.env)?;
    if let Some(reason) = &args.emergency {
        if environment.promote_from.is_none() {
            bail!(
                "--emergency is for environments that take releases (with `promote_from`); `{}` takes deploys directly",
                environment.name
            );
        }
        if reason.trim().is_empty() {
            bail!("--emergency needs a reason, recorded in the audit log");
        }
    }
    let options = DeployOptions {
        dry_run: args.dry_run,
        redeploy: args.redeploy.iter().cloned().collect::<BTreeSet<_>>(),
        emergency: args.emergency.clone(),
        ..Default::default()
    };
    // Refused before anything is built or any key is asked for.
    executor::check_direct_deploy(&environment, &options)?;
    if !args.no_build && !super::build::compile(&project, false, super::build::BuildReport::Human)?
    {
        bail!("the build failed; nothing was deployed");
    }
    let outcome = execute(&project, &environment, &options)?;
    report(&environment, &outcome, args.dry_run);
    if !args.dry_run && !outcome.nothing_to_do() {
        match &args.emergency {
            Some(reason) => {
                outcome.log(
                    &project.root,
                    audit::EMERGENCY_ACTION,
                    &environment,
                    None,
                    serde_json::json!({ "reason": reason }),
                )?;
                eprintln!(
                    "warning: emergency deploy to `{}` recorded in deployments/audit.log (reason: {reason}); `forja audit verify` lists it as an exception",
                    environment.name
                );
            }
            None => {
                outcome.log(
                    &project.root,
                    "deploy",
                    &environment,
                    None,
                    serde_json::Value::Null,
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the manifest, artifacts and signer and runs the deployment with
/// progress on stderr.
fn execute(
    project: &Project,
    environment: &Environment,
    options: &DeployOptions,
) -> anyhow::Result<DeployOutcome> {
    let manifest = Manifest::load(&project.root.join("deploy.toml"))?;
    let artifacts = ArtifactIndex::scan(&project.out_dir())?;
    let signer = signer::load(
        &environment.signer,
        &project.root,
        &crate::prompt::keystore_password,
    )
    .with_context(|| format!("loading the signer of `{}`", environment.name))?;
    let deployment = Deployment {
        root: &project.root,
        environment,
        manifest: &manifest,
        artifacts: &artifacts,
        signer,
        tree: git::tree_state(&project.root),
    };
    let spinner = Spinner::new(true);
    let on_event = |event: Event| render_event(&spinner, event);
    let outcome = super::block_on(deployment.run(options, &on_event))?;
    spinner.finish();
    outcome
}

pub(crate) fn render_event(spinner: &Spinner, event: Event) {
    match event {
        Event::Connected { environment, chain_id, deployer, block } => spinner.println(format!(
            "Connected to `{environment}` (chain id {chain_id}, block {block}); deployer {deployer}"
        )),
        Event::UpToDate { name, address } => spinner.println(format!("  {name}: up to date at {address}")),
        Event::Sent { what, nonce, tx_hash } => spinner.println(format!("  {what}: sent tx {tx_hash} (nonce {nonce})")),
        Event::Resuming { what, tx_hash } => {
            spinner.println(format!("  resuming the {what} from the journal: tx {tx_hash}"))
        }
        Event::Rebroadcast { what, tx_hash } => spinner.println(format!(
            "  {what}: the node had forgotten tx {tx_hash}; sent the same signed transaction again"
        )),
        Event::Dropped { what, tx_hash } => spinner.println(format!(
            "  {what}: tx {tx_hash} was superseded (its nonce was used by another transaction); sending it anew"
        )),
        // A line per new confirmation, so CI logs show the wait too.
        Event::Confirming { what, confirmations, required } => {
            spinner.println(format!("  {what}: {confirmations}/{required} confirmations"))
        }
        Event::Deployed { name, address, block, tx_hash, confirmations } => spinner.println(format!(
            "  {name}: deployed at {address} in block {block} (tx {tx_hash}, {confirmations} confirmation(s))"
        )),
        Event::CodeVerified { name } => {
            spinner.println(format!("  {name}: on-chain code matches the artifact (immutables masked)"))
        }
        Event::Called { what, block, tx_hash, confirmations } => spinner.println(format!(
            "  {what}: called in block {block} (tx {tx_hash}, {confirmations} confirmation(s))"
        )),
        Event::Vanished { name, address, problem, redeploying } => spinner.println(format!(
            "  {name}: recorded at {address}, but {problem}{}",
            if redeploying { "; deploying it again (dev environment)" } else { "" }
        )),
        Event::Stalled { what, head, waited_secs, hint } => spinner.println(format!(
            "  {what}: still waiting, no new block for {waited_secs}s (head {head}): {hint}"
        )),
        Event::GatePassed { gate, detail } => {
            spinner.println(format!("  gate `{gate}` passed: {detail}"))
        }
    }
}

/// The closing summary on stdout.
pub(crate) fn report(environment: &Environment, outcome: &DeployOutcome, dry_run: bool) {
    if outcome.nothing_to_do() {
        println!(
            "Nothing to deploy: `{}` already runs every contract of deploy.toml unchanged ({} contract(s), {} call(s) recorded).",
            environment.name,
            outcome.record.contracts.len(),
            outcome.record.calls.len()
        );
        return;
    }
    if dry_run {
        println!("Plan for `{}`:", environment.name);
    } else {
        println!("Done on `{}`:", environment.name);
    }
    for step in &outcome.steps {
        match step {
            Step::Deploy { name, redeploy } => {
                let address = outcome
                    .record
                    .contract(name)
                    .filter(|_| !dry_run)
                    .map(|c| format!(" at {}", c.address))
                    .unwrap_or_default();
                println!(
                    "  {} {name}{address}",
                    if *redeploy { "redeploy" } else { "deploy" }
                );
            }
            Step::Call { contract, function } => println!("  call {contract}.{function}"),
        }
    }
    if dry_run {
        println!("Dry run: nothing was sent.");
    } else {
        println!("Recorded in deployments/{}.json.", environment.name);
    }
}
