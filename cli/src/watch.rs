//! Re-running a command when files change (`--watch`).

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use notify_debouncer_full::{new_debouncer, notify::RecursiveMode};

/// Runs `action` once, then again after every burst of changes under
/// `paths` (debounced), until the process is interrupted.
pub(crate) fn on_change(paths: &[PathBuf], mut action: impl FnMut()) -> anyhow::Result<()> {
    action();
    let (tx, rx) = mpsc::channel();
    let mut debouncer = new_debouncer(Duration::from_millis(200), None, tx)?;
    for path in paths {
        debouncer.watch(path, RecursiveMode::Recursive)?;
    }
    eprintln!("Watching for changes… (Ctrl-C to stop)");
    for result in rx {
        match result {
            Ok(events) if events.iter().any(|e| !e.kind.is_access()) => action(),
            Ok(_) => {}
            Err(errors) => {
                for error in errors {
                    eprintln!("warning: file watcher: {error}");
                }
            }
        }
    }
    Ok(())
}
