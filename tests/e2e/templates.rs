//! Every template: `forja new` → `forja build` → `forja test` green, with
//! the generated files checked; `--no-git` and `--force`. Every project under
//! `examples/`: `forja build` and `forja test` green with this binary.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{assert_success, forja, text};

/// The repository's `templates/` and `examples/`.
fn repo_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// `(name, description)` of every template directory, from its template.toml.
fn template_descriptions() -> Vec<(String, String)> {
    let mut templates: Vec<(String, String)> = std::fs::read_dir(repo_dir("templates"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("template.toml").is_file())
        .map(|path| {
            let table: toml::Table =
                toml::from_str(&std::fs::read_to_string(path.join("template.toml")).unwrap())
                    .unwrap();
            let description = table["description"].as_str().unwrap().to_string();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                description,
            )
        })
        .collect();
    templates.sort();
    templates
}

/// Project files (relative, sorted), without `.git/`.
fn project_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                files.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut files = vec![];
    walk(root, root, &mut files);
    files.sort();
    files
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The "N tests passed, 0 failed" summary of a green run, with N > 0.
#[track_caller]
fn assert_all_tests_pass(report: &str) {
    let summary = report
        .lines()
        .find(|l| l.contains(" tests passed, "))
        .unwrap_or_else(|| panic!("no summary line:\n{report}"));
    assert!(summary.contains(", 0 failed"), "{report}");
    assert!(!summary.contains(": 0 tests passed"), "{report}");
    assert!(!report.contains("[FAIL"), "{report}");
}

#[test]
fn new_lists_every_template_with_its_description() {
    let tmp = tempfile::tempdir().unwrap();
    let list = forja(tmp.path(), &["new", "--list"]);
    assert_success(&list);
    let output = text(&list);
    let templates = template_descriptions();
    let names: Vec<&str> = templates.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["basic", "network", "notary", "token"]);
    for (name, description) in &templates {
        assert!(
            output
                .lines()
                .any(|l| l.starts_with(name.as_str()) && l.ends_with(description.as_str())),
            "{name}: {description}\n{output}"
        );
    }
}

/// `forja new my-<template>` → generated files checked → build → test.
fn new_build_test(template: &str, expected_files: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("my-{template}");
    assert_success(&forja(tmp.path(), &["new", &name, "--template", template]));
    let project = tmp.path().join(&name);

    let files = project_files(&project);
    for expected in [
        "forja.toml",
        "deploy.toml",
        ".gitignore",
        "README.md",
        ".github/workflows/forja.yml",
        ".gitlab-ci.yml",
    ]
    .iter()
    .chain(expected_files)
    {
        assert!(
            files.contains(&expected.to_string()),
            "{template}: {expected} in {files:?}"
        );
    }
    assert!(
        !files
            .iter()
            .any(|f| f.ends_with(".hbs") || f == "template.toml"),
        "{files:?}"
    );
    insta::assert_snapshot!(format!("{template}_files"), files.join("\n"));

    // The project name in the forms each file needs; no handlebars left.
    assert!(read(project.join("forja.toml")).contains(&format!("name = \"{name}\"")));
    assert!(read(project.join("README.md")).starts_with(&format!("# {name}\n")));
    for file in &files {
        // `${{ … }}` is GitHub Actions' own syntax, not a template variable.
        let content = read(project.join(file));
        let unrendered = content
            .match_indices("{{")
            .any(|(at, _)| !content[..at].ends_with('$'));
        assert!(!unrendered, "{file} has an unrendered variable");
    }
    let gitignore = read(project.join(".gitignore"));
    for ignored in ["out/", "cache/", "node_modules/"] {
        assert!(gitignore.lines().any(|l| l == ignored), "{gitignore}");
    }
    // CI: install forja, then the job steps of ci/forja.sh: build, a full
    // test run with a JUnit report, deploy to dev, promote.
    for ci in [".github/workflows/forja.yml", ".gitlab-ci.yml"] {
        let job = read(project.join(ci));
        for step in [
            "cargo install --locked --git https://github.com/forja-rs/forja",
            "sh ci/forja.sh test",
            "sh ci/forja.sh deploy-dev",
            "sh ci/forja.sh promote",
        ] {
            assert!(job.contains(step), "{ci} lacks `{step}`");
        }
    }
    let script = read(project.join("ci/forja.sh"));
    for step in [
        "forja build",
        "forja test --junit report.xml",
        "forja deploy --env dev",
        "forja promote --to",
        "forja audit verify",
    ] {
        assert!(script.contains(step), "ci/forja.sh lacks `{step}`");
    }

    // A git repository with one commit holding every generated file and a
    // clean work tree.
    let repo = git2::Repository::open(&project).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_count(), 0, "the first commit");
    let mut walk = repo.revwalk().unwrap();
    walk.push_head().unwrap();
    assert_eq!(walk.count(), 1);
    let tree = head.tree().unwrap();
    for file in &files {
        assert!(
            tree.get_path(Path::new(file)).is_ok(),
            "{file} is committed"
        );
    }
    assert!(repo.statuses(None).unwrap().is_empty(), "clean work tree");

    let build = forja(&project, &["build"]);
    assert_success(&build);
    assert!(
        text(&build).contains("Compiler run successful"),
        "{}",
        text(&build)
    );
    let junit = project.join("report.xml");
    let test = forja(&project, &["test", "--junit", junit.to_str().unwrap()]);
    assert_success(&test);
    assert_all_tests_pass(&text(&test));
    assert!(read(&junit).contains("<testsuite"), "JUnit report written");
}

#[test]
fn basic_template_builds_and_tests() {
    new_build_test("basic", &["src/Counter.sol", "test/Counter.t.sol"]);
}

#[test]
fn test_json_is_one_document_on_stdout_even_when_it_compiles_first() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(tmp.path(), &["new", "json"]));
    let project = tmp.path().join("json");
    // Nothing is compiled yet: the build's report must stay off stdout.
    let run = forja(&project, &["test", "--json"]);
    assert_success(&run);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", text(&run)));
    assert!(!report["suites"].as_array().unwrap().is_empty(), "{report}");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("Compiled"),
        "the build summary goes to stderr: {}",
        text(&run)
    );
}

#[test]
fn token_template_builds_and_tests() {
    new_build_test(
        "token",
        &["src/PermissionedToken.sol", "test/PermissionedToken.t.sol"],
    );
}

#[test]
fn notary_template_builds_and_tests() {
    new_build_test(
        "notary",
        &["src/DocumentRegistry.sol", "test/DocumentRegistry.t.sol"],
    );
}

#[test]
fn network_template_builds_and_tests() {
    new_build_test(
        "network",
        &[
            "network.toml",
            "src/Counter.sol",
            "test/Counter.t.sol",
            "test/AccessLevels.t.sol",
        ],
    );
}

#[test]
fn token_deploy_manifest_names_the_token_after_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(
        tmp.path(),
        &["new", "euro-coin", "--template", "token", "--no-git"],
    ));
    let manifest = read(tmp.path().join("euro-coin/deploy.toml"));
    assert!(
        manifest.contains(r#"args = ["EuroCoin", "TKN", "${deployer}"]"#),
        "{manifest}"
    );
}

#[test]
fn network_toml_describes_the_consortium() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(
        tmp.path(),
        &["new", "consortium", "--template", "network", "--no-git"],
    ));
    let network: toml::Table =
        toml::from_str(&read(tmp.path().join("consortium/network.toml"))).unwrap();
    assert_eq!(network["chain_id"].as_integer(), Some(1337));
    assert_eq!(network["min_gas_price"].as_integer(), Some(0), "free gas");
    assert_eq!(network["consensus"]["mode"].as_str(), Some("qbft"));
    assert_eq!(network["nodes"]["validators"].as_integer(), Some(4));
    assert_eq!(network["nodes"]["regular"].as_integer(), Some(2));
    assert_eq!(network["nodes"]["key_seed"].as_str(), Some("consortium"));
    let permissioning = &network["permissioning"];
    assert_eq!(permissioning["enabled"].as_bool(), Some(true));
    assert_eq!(permissioning["admins"].as_array().unwrap().len(), 2);
    let mut levels: Vec<&str> = permissioning["accounts"]
        .as_table()
        .unwrap()
        .values()
        .map(|l| l.as_str().unwrap())
        .collect();
    levels.sort();
    assert_eq!(levels, ["contract-deploy", "read-only", "transact"]);
    // The dev environment deploys to this network, compiled for its EVM.
    let forja_toml: toml::Table =
        toml::from_str(&read(tmp.path().join("consortium/forja.toml"))).unwrap();
    assert_eq!(
        forja_toml["environments"]["dev"]["chain_id"].as_integer(),
        Some(1337)
    );
    assert_eq!(
        forja_toml["compiler"]["evm_version"].as_str(),
        network["hardfork"].as_str()
    );
}

/// A `forja node` on a free loopback port, stopped when dropped.
struct Node {
    child: Child,
    rpc_url: String,
}

impl Node {
    /// Starts `forja node --port 0` in `dir` (which picks up a network.toml
    /// there) and waits for the port it prints.
    fn start(dir: &Path) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_forja"))
            .args(["node", "--port", "0", "--quiet"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("forja node starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut rpc_url = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("Listening on ") {
                let address = rest.split_whitespace().next().unwrap();
                rpc_url = Some(format!("http://{address}"));
                break;
            }
        }
        let Some(rpc_url) = rpc_url else {
            let _ = child.kill();
            panic!("forja node exited without listening");
        };
        // Keep reading, so the node never writes to a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Node { child, rpc_url }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `forja deploy --env dev` of the project against a node started here;
/// returns the deploy's output.
fn deploy_to_a_fresh_node(project: &Path, env: &[(&str, &str)]) -> String {
    let node = Node::start(project);
    let config = project.join("forja.toml");
    let original = read(&config);
    assert!(original.contains("http://127.0.0.1:8545"));
    std::fs::write(
        &config,
        original.replace("http://127.0.0.1:8545", &node.rpc_url),
    )
    .unwrap();
    let mut deploy = Command::new(env!("CARGO_BIN_EXE_forja"));
    deploy
        .args(["deploy", "--env", "dev"])
        .current_dir(project)
        .env("FORJA_HOME", super::forja_home())
        .env("NO_COLOR", "1");
    for (key, value) in env {
        deploy.env(key, value);
    }
    let output = deploy.output().expect("forja deploy runs");
    std::fs::write(&config, original).unwrap();
    assert_success(&output);
    text(&output)
}

#[test]
fn every_template_deploys_to_a_forja_node() {
    let tmp = tempfile::tempdir().unwrap();
    for (template, deployed) in [
        ("basic", &["deploy Counter at 0x"][..]),
        (
            "token",
            &[
                "deploy PermissionedToken at 0x",
                "call PermissionedToken.mint(address,uint256)",
            ][..],
        ),
        (
            "notary",
            &[
                "deploy DocumentRegistry at 0x",
                "call DocumentRegistry.setIssuer(address,bool)",
            ][..],
        ),
        // network.toml's node: permissioned, london EVM, deployer at `full`.
        ("network", &["deploy Counter at 0x"][..]),
    ] {
        let name = format!("deployed-{template}");
        assert_success(&forja(
            tmp.path(),
            &["new", &name, "--template", template, "--no-git"],
        ));
        let report = deploy_to_a_fresh_node(&tmp.path().join(&name), &[]);
        for line in deployed {
            assert!(report.contains(line), "{template}: `{line}` in\n{report}");
        }
    }
}

/// POSTs `body` to `path` of `url` (`http://127.0.0.1:PORT`), with an
/// optional bearer token; returns the status and the body as JSON.
fn post(url: &str, path: &str, token: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    use std::io::{Read as _, Write as _};
    let address = url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn the_network_templates_node_changes_allowlists_only_for_logged_in_admins() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(
        tmp.path(),
        &["new", "consortium", "--template", "network", "--no-git"],
    ));
    let project = tmp.path().join("consortium");
    let hashed = forja(&project, &["password", "hash", "--password", "s3cret"]);
    assert_success(&hashed);
    let hash = String::from_utf8_lossy(&hashed.stdout).trim().to_owned();
    assert!(hash.starts_with("$2"), "{hash}");
    std::fs::write(
        project.join("auth.toml"),
        format!(
            "[Users.admin]\npassword = \"{hash}\"\npermissions = [\"perm:*\", \"eth:*\"]\naccount = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"\n"
        ),
    )
    .unwrap();
    // The template's commented [rpc] block, turned on.
    let network = read(project.join("network.toml"))
        .replace("# [rpc]", "[rpc]")
        .replace("# rpc-http-", "rpc-http-");
    std::fs::write(project.join("network.toml"), network).unwrap();

    let node = Node::start(&project);
    let add = r#"{"jsonrpc":"2.0","id":1,"method":"perm_addAccountsToAllowlist","params":[["0x000000000000000000000000000000000000dEaD"]]}"#;
    let (_, refused) = post(&node.rpc_url, "/", None, add);
    assert_eq!(refused["error"]["code"], -40100, "{refused}");
    let (status, _) = post(
        &node.rpc_url,
        "/login",
        None,
        r#"{"username":"admin","password":"wrong"}"#,
    );
    assert_eq!(status, 401);
    let (status, login) = post(
        &node.rpc_url,
        "/login",
        None,
        r#"{"username":"admin","password":"s3cret"}"#,
    );
    assert_eq!(status, 200, "{login}");
    let token = login["token"].as_str().unwrap();
    let (_, added) = post(&node.rpc_url, "/", Some(token), add);
    assert_eq!(added["result"], "Success", "{added}");
    let (_, disabled) = post(
        &node.rpc_url,
        "/",
        Some(token),
        r#"{"jsonrpc":"2.0","id":2,"method":"admin_peers","params":[]}"#,
    );
    assert_eq!(disabled["error"]["code"], -32604, "{disabled}");
}

#[test]
fn no_git_leaves_out_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    assert_success(&forja(
        tmp.path(),
        &["new", "plain", "--template", "notary", "--no-git"],
    ));
    let project = tmp.path().join("plain");
    assert!(project.join("forja.toml").is_file());
    assert!(!project.join(".git").exists());
}

#[test]
fn force_adds_to_a_non_empty_directory_but_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("existing");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("NOTES.txt"), "mine").unwrap();

    let refused = forja(tmp.path(), &["new", "existing", "--template", "token"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    assert_eq!(project_files(&project), ["NOTES.txt"]);

    assert_success(&forja(
        tmp.path(),
        &[
            "new",
            "existing",
            "--template",
            "token",
            "--force",
            "--no-git",
        ],
    ));
    assert_eq!(read(project.join("NOTES.txt")), "mine");
    assert!(project.join("src/PermissionedToken.sol").is_file());

    // A second run would overwrite the template's files: refused, and it
    // names them; nothing is written.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("README.md"), "my readme").unwrap();
    let conflict = forja(
        tmp.path(),
        &["new", "other", "--template", "notary", "--force"],
    );
    assert!(!conflict.status.success());
    let message = text(&conflict);
    assert!(
        message.contains("README.md") && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(read(other.join("README.md")), "my readme");
    assert_eq!(project_files(&other), ["README.md"]);
}

/// Builds and tests `examples/<name>`, in place (its out/ and cache/ are
/// git-ignored). An example with a package.json needs its node_modules
/// (`npm ci`); without it the test says why and skips.
fn example_builds_and_tests(name: &str) {
    let project = repo_dir("examples").join(name);
    assert!(
        project.join("forja.toml").is_file(),
        "{}",
        project.display()
    );
    if project.join("package.json").is_file() && !project.join("node_modules").is_dir() {
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&project)
            .output();
        match npm {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true and `npm ci` failed for example {name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                eprintln!(
                    "skipping example {name}: `npm ci` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            Err(e) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true and npm is not available for example {name}: {e}"
                );
                eprintln!(
                    "skipping example {name}: npm is not available ({e}); run `npm ci` in {}",
                    project.display()
                );
                return;
            }
        }
    }
    let build = forja(&project, &["build"]);
    assert_success(&build);
    // Fewer invariant runs than the default keep this test short; the
    // example's own CI runs the default.
    let test = forja(&project, &["test", "--invariant-runs", "32"]);
    assert_success(&test);
    assert_all_tests_pass(&text(&test));
}

#[test]
fn every_example_has_a_test_here() {
    let mut examples: Vec<String> = std::fs::read_dir(repo_dir("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("forja.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    examples.sort();
    assert_eq!(
        examples,
        [
            "consortium-permissioning",
            "notary-network",
            "openzeppelin-token"
        ]
    );
}

#[test]
fn example_notary_network() {
    example_builds_and_tests("notary-network");
}

#[test]
fn example_openzeppelin_token() {
    example_builds_and_tests("openzeppelin-token");
}

#[test]
fn example_consortium_permissioning() {
    example_builds_and_tests("consortium-permissioning");
}
