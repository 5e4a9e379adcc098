//! `forja network export --besu`, then the exported genesis.json run by
//! `forja node --genesis`: the same genesis block as the network it came from.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use super::{assert_success, forja, forja_home, text};

/// A `forja node` with `args`, stopped on drop.
struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_forja"))
            .arg("node")
            .args(args)
            .args(["--port", "0", "--quiet"])
            .current_dir(dir)
            .env("FORJA_HOME", forja_home())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("forja node starts");
        let (tx, rx) = mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let mut seen = Vec::new();
        let port = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("Listening on 127.0.0.1:") {
                        let digits: String =
                            rest.chars().take_while(char::is_ascii_digit).collect();
                        break digits.parse().unwrap();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("forja node did not start:\n{}", seen.join("\n"));
                }
            }
        };
        Self { child, port }
    }

    /// A JSON-RPC call's `result`, over a plain HTTP/1.1 request.
    fn call(&self, method: &str, params: &str) -> serde_json::Value {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let json = &response[response.find("\r\n\r\n").unwrap() + 4..];
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        value["result"].clone()
    }

    fn genesis_hash(&self) -> String {
        self.call("eth_getBlockByNumber", r#"["0x0", false]"#)["hash"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_exported_network_reimported_by_forja_node_has_the_same_genesis() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("network.toml"),
        "chain_id = 2020\nhardfork = \"london\"\n[consensus]\nmode = \"ibft2\"\nblock_period_seconds = 1\n[nodes]\nvalidators = 3\n",
    )
    .unwrap();
    let export = forja(tmp.path(), &["network", "export", "--besu", "besu"]);
    assert_success(&export);
    let printed = text(&export);
    assert!(printed.contains("Besu 26.2.0"), "{printed}");
    assert!(printed.contains("enode://"), "{printed}");
    assert!(tmp.path().join("besu/node-2/key").is_file());

    let original = Node::start(tmp.path(), &["--network", "network.toml"]);
    let original_hash = original.genesis_hash();
    drop(original);
    let reimported = Node::start(tmp.path(), &["--genesis", "besu/genesis.json"]);
    assert_eq!(reimported.genesis_hash(), original_hash);
    assert_eq!(reimported.call("eth_chainId", "[]"), "0x7e4");

    // A second export into the same directory is refused, naming it.
    let again = forja(tmp.path(), &["network", "export", "--besu", "besu"]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("besu is not empty"),
        "{}",
        text(&again)
    );
}

/// Deploy as to a Besu endpoint: a network from a file with no dev methods
/// (`--no-dev`), blocks on a 1 s timer, free gas and permissioning on, so
/// `forja deploy` works without any dev shortcut.
#[test]
fn deploy_to_a_besu_like_node_without_dev_methods() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = tmp.path().join("chain");
    std::fs::create_dir_all(&chain).unwrap();
    std::fs::write(
        chain.join("network.toml"),
        "chain_id = 31350\n[nodes]\nvalidators = 4\n[permissioning]\nenabled = true\nadmins = [\"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"]\n",
    )
    .unwrap();
    let node = Node::start(
        &chain,
        &[
            "--network",
            "network.toml",
            "--no-dev",
            "--block-period",
            "1",
        ],
    );
    // No dev method answers (the DEV group is neither served nor registered).
    let mut stream = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"evm_snapshot","params":[]}"#;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.contains(r#""error""#) && !response.contains(r#""result""#),
        "{response}"
    );

    assert_success(&forja(tmp.path(), &["new", "app"]));
    let root = tmp.path().join("app");
    let config = std::fs::read_to_string(root.join("forja.toml")).unwrap();
    let head = &config[..config.find("[environments.dev]").unwrap()];
    std::fs::write(
        root.join("forja.toml"),
        format!(
            "{head}[environments.staging]\nrpc_url = \"http://127.0.0.1:{}\"\nchain_id = 31350\nsigner = {{ private_key_env = \"E2E_KEY\" }}\n",
            node.port
        ),
    )
    .unwrap();
    // Dev account 0 ("test test ... junk"), the network's admin, signing locally.
    let deploy = Command::new(env!("CARGO_BIN_EXE_forja"))
        .args(["deploy", "--env", "staging"])
        .current_dir(&root)
        .env("FORJA_HOME", forja_home())
        .env("NO_COLOR", "1")
        .env(
            "E2E_KEY",
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .output()
        .unwrap();
    assert_success(&deploy);
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deployments/staging.json")).unwrap(),
    )
    .unwrap();
    let address = record["contracts"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = node.call("eth_getCode", &format!(r#"["{address}", "latest"]"#));
    assert!(code.as_str().unwrap().len() > 2, "no code at {address}");
}
