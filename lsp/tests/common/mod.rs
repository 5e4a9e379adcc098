//! A minimal LSP client speaking framed JSON-RPC to the server over an
//! in-memory duplex pipe, as an editor would over stdio.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, WriteHalf},
    sync::{mpsc, oneshot},
};
use tower_lsp::lsp_types::Url;

type Pending = Arc<Mutex<std::collections::HashMap<i64, oneshot::Sender<Value>>>>;

pub(crate) struct TestClient {
    writer: tokio::sync::Mutex<tokio::io::WriteHalf<DuplexStream>>,
    pending: Pending,
    next_id: Mutex<i64>,
    notifications: tokio::sync::Mutex<mpsc::UnboundedReceiver<Value>>,
    pub root: PathBuf,
}

async fn write_message(w: &mut WriteHalf<DuplexStream>, msg: &Value) {
    let body = serde_json::to_string(msg).unwrap();
    let frame = format!("Content-Length: {}\r\n\r\n{}", body.len(), body);
    w.write_all(frame.as_bytes()).await.unwrap();
    w.flush().await.unwrap();
}

impl TestClient {
    /// Starts a server in-process and initializes it on `root`.
    pub(crate) async fn start(root: &Path) -> TestClient {
        Self::start_with(root, forja_lsp::ServerOptions::default()).await
    }

    /// Starts a server configured as a front end would, initialized on `root`.
    pub(crate) async fn start_with(root: &Path, options: forja_lsp::ServerOptions) -> TestClient {
        let (client_side, server_side) = tokio::io::duplex(1 << 22);
        let (server_read, server_write) = tokio::io::split(server_side);
        tokio::spawn(forja_lsp::serve(server_read, server_write, options));
        let (client_read, client_write) = tokio::io::split(client_side);
        let pending: Pending = Default::default();
        let (tx, rx) = mpsc::unbounded_channel();
        let pending2 = pending.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(client_read);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).await.unwrap();
                let msg: Value = serde_json::from_slice(&body).unwrap();
                if msg.get("method").is_none() {
                    let id = msg["id"].as_i64().unwrap();
                    if let Some(sender) = pending2.lock().unwrap().remove(&id) {
                        let _ = sender.send(msg);
                    }
                } else {
                    let _ = tx.send(msg);
                }
            }
        });
        let client = TestClient {
            writer: tokio::sync::Mutex::new(client_write),
            pending,
            next_id: Mutex::new(1),
            notifications: tokio::sync::Mutex::new(rx),
            root: root.to_path_buf(),
        };
        let init = client
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": Url::from_file_path(root).unwrap(),
                    // What VS Code announces for the features the tests look at.
                    "capabilities": {"workspace": {"workspaceEdit": {"documentChanges": true}}},
                    "initializationOptions": {}
                }),
            )
            .await;
        assert!(
            init["result"]["capabilities"]["hoverProvider"]
                .as_bool()
                .unwrap()
        );
        client.notify("initialized", json!({})).await;
        client
    }

    pub(crate) async fn request(&self, method: &str, params: Value) -> Value {
        let id = {
            let mut n = self.next_id.lock().unwrap();
            *n += 1;
            *n
        };
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        write_message(&mut *self.writer.lock().await, &msg).await;
        tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("server answered")
            .unwrap()
    }

    pub(crate) async fn notify(&self, method: &str, params: Value) {
        let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
        write_message(&mut *self.writer.lock().await, &msg).await;
    }

    pub(crate) fn uri(&self, rel: &str) -> Url {
        Url::from_file_path(self.root.join(rel)).unwrap()
    }

    pub(crate) fn text(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// Waits for the next publishDiagnostics for `uri`.
    pub(crate) async fn diagnostics_for(&self, uri: &Url) -> Value {
        let mut rx = self.notifications.lock().await;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(120), rx.recv())
                .await
                .expect("diagnostics arrive")
                .expect("server alive");
            if msg["method"] == "textDocument/publishDiagnostics"
                && msg["params"]["uri"] == uri.as_str()
            {
                return msg["params"]["diagnostics"].clone();
            }
        }
    }

    /// Waits for a publishDiagnostics for `uri` that satisfies `accept`.
    pub(crate) async fn diagnostics_until(
        &self,
        uri: &Url,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        loop {
            let diags = self.diagnostics_for(uri).await;
            if accept(&diags) {
                return diags;
            }
        }
    }

    /// Waits for a log message containing `needle`.
    pub(crate) async fn log_containing(&self, needle: &str) -> Value {
        let mut rx = self.notifications.lock().await;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(120), rx.recv())
                .await
                .expect("log arrives")
                .expect("server alive");
            if msg["method"] == "window/logMessage"
                && msg["params"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(needle))
            {
                return msg;
            }
        }
    }

    /// Opens `rel` with its disk text and returns its diagnostics.
    pub(crate) async fn open(&self, rel: &str) -> Value {
        let uri = self.uri(rel);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "solidity", "version": 1, "text": self.text(rel)}}),
        )
        .await;
        self.diagnostics_for(&uri).await
    }

    /// The position of the `nth` occurrence of `needle` in `rel`, plus `shift` characters.
    pub(crate) fn pos(&self, rel: &str, needle: &str, nth: usize, shift: usize) -> Value {
        let text = self.text(rel);
        let offset = text
            .match_indices(needle)
            .nth(nth)
            .expect("needle present")
            .0
            + shift;
        let line = text[..offset].matches('\n').count();
        let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
        json!({"line": line, "character": col})
    }

    pub(crate) async fn at(
        &self,
        method: &str,
        rel: &str,
        needle: &str,
        nth: usize,
        shift: usize,
    ) -> Value {
        let params = json!({
            "textDocument": {"uri": self.uri(rel)},
            "position": self.pos(rel, needle, nth, shift),
        });
        self.request(method, params).await
    }

    /// Replaces machine-specific paths so snapshots are stable.
    pub(crate) fn redact(&self, v: &Value) -> String {
        let s = serde_json::to_string_pretty(v).unwrap();
        let root_uri = Url::from_file_path(&self.root).unwrap().to_string();
        s.replace(&root_uri, "file:///ROOT")
            .replace(&self.root.display().to_string(), "/ROOT")
    }
}

/// Copies the fixture project into a fresh temp dir (tests may edit files).
pub(crate) fn fixture_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/project");
    copy_dir(&src, dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Prints a line that `cargo test` shows even though it captures test output,
/// so a skipped check is visible in CI logs.
pub(crate) fn announce(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// The environment variable naming an unpacked `@openzeppelin/contracts` 5.x
/// package (the directory holding `token/`, `utils/`, …). CI provides it:
/// `npm pack @openzeppelin/contracts@5.7.0 && tar xzf openzeppelin-contracts-5.7.0.tgz`
/// then `FORJA_LSP_OPENZEPPELIN=$PWD/package`.
pub(crate) const OPENZEPPELIN_ENV: &str = "FORJA_LSP_OPENZEPPELIN";

/// OpenZeppelin Contracts 5.x: from `$FORJA_LSP_OPENZEPPELIN`, else unpacked
/// from `npm pack` into a cache dir; `None` (with the reason printed) when
/// neither is available. A set but wrong variable is an error, not a skip.
pub(crate) fn openzeppelin(test: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(OPENZEPPELIN_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        let dir = if dir.join("package/token/ERC20/ERC20.sol").exists() {
            dir.join("package")
        } else {
            dir
        };
        assert!(
            dir.join("token/ERC20/ERC20.sol").exists(),
            "{OPENZEPPELIN_ENV}={} does not hold an unpacked @openzeppelin/contracts package \
             (expected token/ERC20/ERC20.sol inside it)",
            dir.display()
        );
        return Some(dir.canonicalize().unwrap());
    }
    let skip = |why: String| {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and OpenZeppelin is unavailable for {test}: {why}"
        );
        announce(&format!(
            "SKIPPED {test}: OpenZeppelin unavailable ({why}); set {OPENZEPPELIN_ENV} to an \
             unpacked @openzeppelin/contracts@5 package"
        ));
        None
    };
    let cache = std::env::temp_dir().join("forja-lsp-oz-cache");
    let pkg = cache.join("package");
    if pkg.join("token/ERC20/ERC20.sol").exists() {
        return Some(pkg);
    }
    if let Err(e) = std::fs::create_dir_all(&cache) {
        return skip(format!("cannot create {}: {e}", cache.display()));
    }
    let out = match std::process::Command::new("npm")
        .args(["pack", "@openzeppelin/contracts@5", "--silent"])
        .current_dir(&cache)
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            return skip(format!(
                "npm pack failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(e) => return skip(format!("npm not runnable: {e}")),
    };
    let Some(tgz) = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| l.trim().to_string())
    else {
        return skip("npm pack printed no file name".into());
    };
    match std::process::Command::new("tar")
        .args(["xzf", &tgz])
        .current_dir(&cache)
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => return skip(format!("tar xzf {tgz} failed: {s}")),
        Err(e) => return skip(format!("tar not runnable: {e}")),
    }
    if pkg.join("token/ERC20/ERC20.sol").exists() {
        Some(pkg)
    } else {
        skip(format!("{tgz} has no token/ERC20/ERC20.sol"))
    }
}
