//! `forja solc`: install, list and locate Solidity compilers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use forja_compiler::solc::{SolcEvent, SolcKind, SolcManager};
use semver::Version;

use crate::render::Spinner;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum SolcCommand {
    /// Install a solc version (solc's wasm build, fetched with npm), or one
    /// from a local soljson.js or npm solc tarball with --from.
    Install {
        /// The version, e.g. 0.8.30 (optional with --from).
        version: Option<Version>,
        /// A soljson.js or an npm `solc-<version>.tgz`, for offline machines.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// List installed compilers (--available: the versions npm offers).
    List {
        #[arg(long)]
        available: bool,
    },
    /// Print where an installed version lives.
    Which { version: Version },
}

pub(crate) fn run(cmd: SolcCommand) -> anyhow::Result<ExitCode> {
    let manager = SolcManager::from_env()?;
    match cmd {
        SolcCommand::Install { version, from } => {
            let spinner = Spinner::new(true);
            let events = |event: SolcEvent| match event {
                SolcEvent::Installing { version } => {
                    spinner.set(format!("Installing solc {version} (npm solc)…"))
                }
                SolcEvent::Precompiling { version } => spinner.set(format!(
                    "Precompiling solc {version} for this machine (once; 20-45 s)…"
                )),
                _ => {}
            };
            let installed = match (&from, &version) {
                (Some(file), _) => manager.install_from_file(file, &events),
                (None, Some(version)) => manager.install(version, &events),
                (None, None) => anyhow::bail!("say which version to install, or give --from FILE"),
            };
            let installed = installed.inspect_err(|_| spinner.finish())?;
            if let Some(wanted) = version.filter(|v| *v != installed.version) {
                spinner.finish();
                anyhow::bail!(
                    "{} holds solc {}, not {wanted}",
                    from.unwrap_or_default().display(),
                    installed.version
                );
            }
            // Load once so the precompiled module is ready for the first build.
            manager.load(&installed.version, &events)?;
            spinner.finish();
            println!(
                "Installed solc {} at {}",
                installed.version,
                installed.path.display()
            );
        }
        SolcCommand::List { available } => {
            if available {
                let versions = manager
                    .available_versions()
                    .context("listing the versions npm offers")?;
                for version in versions.iter().rev() {
                    println!("{version}");
                }
            } else {
                let installed = manager.installed();
                if installed.is_empty() {
                    println!(
                        "No compilers installed; `forja build` installs the one a project needs."
                    );
                }
                for solc in installed {
                    let kind = match solc.kind {
                        SolcKind::Native => "native",
                        SolcKind::Wasm => "wasm",
                    };
                    println!("{:<10} {kind:<7} {}", solc.version, solc.path.display());
                }
            }
        }
        SolcCommand::Which { version } => match manager.which(&version) {
            Some(solc) => println!("{}", solc.path.display()),
            None => {
                anyhow::bail!("solc {version} is not installed (`forja solc install {version}`)")
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
