//! When analysis and solc run: an edit analyses its file at once (edits
//! that arrive meanwhile coalesce into one more run), importers only when
//! the file's interface changed, and solc after a save, one check at a time.

use super::state::{State, apply_solc_report, lock, merge};
use crate::{
    analysis::{self, AnalysisOutput, Extract, Overlays},
    index::{FileData, SymbolKind},
    project::Workspace,
    solc_check,
};
use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{Arc, Mutex},
};
use tower_lsp::{Client, lsp_types::*};

/// Analyses `path` (and its importers) as soon as no analysis of it is
/// running; edits that arrive meanwhile are coalesced into one more run
/// on the newest text. No timer: the editor sees diagnostics one analysis
/// after its edit (a fixed 120 ms debounce used to come first).
pub(super) fn schedule_analysis(state: Arc<Mutex<State>>, client: Client, path: PathBuf) {
    {
        let mut st = lock(&state);
        if !st.analysing.insert(path.clone()) {
            st.edited_while_analysing.insert(path);
            return;
        }
    }
    tokio::spawn(async move {
        loop {
            let delay = lock(&state).debounce;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            analyze_and_publish(state.clone(), client.clone(), vec![path.clone()]).await;
            let mut st = lock(&state);
            if !st.edited_while_analysing.remove(&path) {
                st.analysing.remove(&path);
                return;
            }
        }
    });
}

/// Runs solc (the project's build) after a save, then republishes the
/// merged diagnostics of every file solc spoke about now or last time.
pub(super) fn schedule_solc_check(
    state: Arc<Mutex<State>>,
    client: Client,
    running: Arc<tokio::sync::Mutex<()>>,
    saved: PathBuf,
) {
    let generation = {
        let mut st = lock(&state);
        st.save_generation += 1;
        st.save_generation
    };
    tokio::spawn(async move {
        let _only_one = running.lock().await;
        let extra = {
            let st = lock(&state);
            if st.save_generation != generation {
                return; // a later save queued its own check
            }
            st.extra_remappings.clone()
        };
        let started = std::time::Instant::now();
        let target = saved.clone();
        let runtime = tokio::runtime::Handle::current();
        let teller = client.clone();
        let tell = move |message: String| {
            let client = teller.clone();
            runtime.spawn(async move {
                client.show_message(MessageType::INFO, message).await;
            });
        };
        let result =
            tokio::task::spawn_blocking(move || solc_check::check(&target, extra.as_ref(), &tell))
                .await;
        let report = match result {
            Ok(Ok(report)) => report,
            Ok(Err(why)) => {
                client
                    .log_message(MessageType::WARNING, format!("solc check skipped: {why}"))
                    .await;
                return;
            }
            Err(e) => {
                client
                    .log_message(MessageType::ERROR, format!("solc check failed: {e}"))
                    .await;
                return;
            }
        };
        let (publish, summary) = apply_solc_report(&state, &saved, report);
        for (uri, diags, version) in publish {
            client.publish_diagnostics(uri, diags, version).await;
        }
        client
            .log_message(
                MessageType::INFO,
                format!("solc check done in {:?}: {summary}", started.elapsed()),
            )
            .await;
    });
}

/// Runs solar on `changed` plus their importers and publishes diagnostics.
pub(super) async fn analyze_and_publish(
    state: Arc<Mutex<State>>,
    client: Client,
    changed: Vec<PathBuf>,
) {
    let (config, overlays, roots, known) = {
        let st = lock(&state);
        let Some(config) = st.config.clone().or_else(|| {
            changed
                .first()
                .map(|p| Workspace::discover(p, st.extra_remappings.as_ref()))
        }) else {
            return;
        };
        let overlays: Overlays = st
            .docs
            .iter()
            .map(|(p, d)| (p.clone(), d.text.clone()))
            .collect();
        let mut roots: Vec<PathBuf> = changed.clone();
        for path in &changed {
            for importer in st.index.direct_importers(path) {
                if !config.is_dependency(&importer)
                    && !roots.contains(&importer)
                    && roots.len() < 64
                {
                    roots.push(importer);
                }
            }
        }
        let known: HashSet<PathBuf> = st.index.files.keys().cloned().collect();
        (config, overlays, roots, known)
    };
    // The edited files first, published as soon as they are analysed. Their
    // importers only when what they can see changed: an edit inside a
    // function body cannot change another file's diagnostics, and
    // re-analysing the 30+ importers of a base contract on every keystroke
    // made the edited file wait for all of them.
    let (edited, importers): (Vec<PathBuf>, Vec<PathBuf>) =
        roots.into_iter().partition(|p| changed.contains(p));
    let before: Vec<Option<Interface>> = {
        let st = lock(&state);
        edited
            .iter()
            .map(|p| st.index.files.get(p).map(|d| interface_of(d)))
            .collect()
    };
    let Some(output) = run_analysis(&client, &config, &overlays, &edited, &known).await else {
        return;
    };
    let after: Vec<Option<Interface>> = edited
        .iter()
        .map(|p| output.files.iter().find(|f| &f.path == p).map(interface_of))
        .collect();
    let publish = merge(&state, output, &edited);
    for (uri, diags, version) in publish {
        client.publish_diagnostics(uri, diags, version).await;
    }
    // A file that did not parse keeps its old interface: nothing to tell.
    let interface_changed = before
        .iter()
        .zip(&after)
        .any(|(before, after)| after.is_some() && before != after);
    if importers.is_empty() || !interface_changed {
        return;
    }
    let Some(mut output) = run_analysis(&client, &config, &overlays, &importers, &known).await
    else {
        return;
    };
    // The edited files were analysed above from the same text; a later edit
    // may have superseded that text, and its own run publishes for it.
    output.diagnostics.retain(|path, _| !edited.contains(path));
    let publish = merge(&state, output, &importers);
    for (uri, diags, version) in publish {
        client.publish_diagnostics(uri, diags, version).await;
    }
}

/// What other files can see of a file: its declarations as written (bodies
/// left out) and what it imports.
type Interface = (Vec<(String, String, Option<String>)>, Vec<PathBuf>);

fn interface_of(data: &FileData) -> Interface {
    let declarations = data
        .symbols
        .iter()
        .filter(|s| {
            !matches!(
                s.kind,
                SymbolKind::Local | SymbolKind::Parameter | SymbolKind::ReturnParameter
            )
        })
        .map(|s| {
            (
                s.name.clone(),
                s.signature.clone(),
                s.container_name.clone(),
            )
        })
        .collect();
    let imports = data.imports.iter().map(|i| i.resolved.clone()).collect();
    (declarations, imports)
}

/// Runs the fast engine on `roots` off the async threads; `None` (logged)
/// when the task itself failed.
async fn run_analysis(
    client: &Client,
    config: &Workspace,
    overlays: &Overlays,
    roots: &[PathBuf],
    known: &HashSet<PathBuf>,
) -> Option<AnalysisOutput> {
    let (config, overlays, roots, known) = (
        config.clone(),
        overlays.clone(),
        roots.to_vec(),
        known.clone(),
    );
    let output = tokio::task::spawn_blocking(move || {
        analysis::analyze(&config, &overlays, &roots, &Extract::Except(known))
    })
    .await;
    match output {
        Ok(output) => {
            if let Some(panic) = &output.panic {
                client.log_message(MessageType::ERROR, panic.clone()).await;
            }
            Some(output)
        }
        Err(e) => {
            client
                .log_message(MessageType::ERROR, format!("analysis task failed: {e}"))
                .await;
            None
        }
    }
}
