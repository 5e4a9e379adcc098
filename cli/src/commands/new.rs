//! `forja new`: scaffold a project from a template embedded in the binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use include_dir::{Dir, include_dir};

/// The templates, embedded at build time: no network, no files outside the binary.
static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates");

/// The solc version new projects pin.
const DEFAULT_SOLC: &str = "0.8.30";
/// The dev network's chain id (`forja node`'s default).
const DEFAULT_CHAIN_ID: u64 = 1337;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory to create the project in; its name is the project's name.
    #[arg(required_unless_present = "list")]
    pub dir: Option<PathBuf>,
    /// Template to start from (see --list).
    #[arg(long, short, default_value = "basic")]
    pub template: String,
    /// List the templates and exit.
    #[arg(long)]
    pub list: bool,
    /// Do not create a git repository.
    #[arg(long)]
    pub no_git: bool,
    /// Allow a non-empty directory (existing files are never overwritten).
    #[arg(long)]
    pub force: bool,
}

/// A template's files, rendered, with their paths inside the project.
struct Rendered {
    files: Vec<(PathBuf, String)>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        for (name, description) in templates() {
            println!("{name:<10} {description}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let dir = args.dir.clone().expect("clap requires dir without --list");
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| {
            format!(
                "`{}` has no directory name to use as the project name",
                dir.display()
            )
        })?;
    validate_name(&name)?;
    let template = template_dir(&args.template).with_context(|| {
        let names: Vec<String> = templates().into_iter().map(|(n, _)| n).collect();
        format!(
            "unknown template `{}`; available: {}",
            args.template,
            names.join(", ")
        )
    })?;
    let rendered = render(template, &name)?;

    // Check everything before writing anything.
    if dir.exists() {
        let non_empty = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some();
        if non_empty && !args.force {
            bail!(
                "{} is not empty; use --force to add the project to it (existing files are kept)",
                dir.display()
            );
        }
        let conflicts: Vec<String> = rendered
            .files
            .iter()
            .filter(|(path, _)| dir.join(path).exists())
            .map(|(path, _)| path.display().to_string())
            .collect();
        if !conflicts.is_empty() {
            bail!(
                "{} already has files the template would write: {}; nothing was written",
                dir.display(),
                conflicts.join(", ")
            );
        }
    }
    for (path, content) in &rendered.files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().expect("inside the project"))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&target, content)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    if !args.no_git && !dir.join(".git").exists() {
        init_git(&dir).context("creating the git repository (use --no-git to skip)")?;
    }
    println!(
        "Created {} from the `{}` template in {}",
        name,
        args.template,
        dir.display()
    );
    println!("Next: cd {} && forja test", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Files every template gets (CI jobs and their script, `.gitignore`),
/// stored once; a template's own file at the same path wins.
const SHARED: &str = "_shared";

/// A directory of `templates/` is a template when it has a `template.toml`.
fn is_template(dir: &Dir<'static>) -> bool {
    dir.get_file(dir.path().join("template.toml")).is_some()
}

fn template_dir(name: &str) -> Option<&'static Dir<'static>> {
    TEMPLATES.get_dir(name).filter(|dir| is_template(dir))
}

/// `(name, description)` of each embedded template.
fn templates() -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = TEMPLATES
        .dirs()
        .filter(|dir| is_template(dir))
        .map(|dir| {
            let name = dir.path().to_string_lossy().into_owned();
            let description = dir
                .get_file(dir.path().join("template.toml"))
                .and_then(|f| f.contents_utf8())
                .and_then(|text| toml::from_str::<toml::Table>(text).ok())
                .and_then(|t| {
                    t.get("description")
                        .and_then(|d| d.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_default();
            (name, description)
        })
        .collect();
    list.sort();
    list
}

/// Letters, digits, `-` and `_`, starting with a letter: a name that works as
/// a directory, a package name and (in PascalCase) a Solidity identifier.
fn validate_name(name: &str) -> anyhow::Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "invalid project name `{name}`: use letters, digits, `-` and `_`, starting with a letter"
        );
    }
    Ok(())
}

fn pascal_case(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn render(template: &Dir<'static>, name: &str) -> anyhow::Result<Rendered> {
    let mut handlebars = handlebars::Handlebars::new();
    handlebars.set_strict_mode(true);
    handlebars.register_escape_fn(handlebars::no_escape);
    let author = git2::Config::open_default()
        .ok()
        .and_then(|c| c.get_string("user.name").ok())
        .unwrap_or_else(|| "forja".into());
    let data = serde_json::json!({
        "name": name,
        "snake_name": name.replace('-', "_").to_lowercase(),
        "pascal_name": pascal_case(name),
        "solc_version": DEFAULT_SOLC,
        "chain_id": DEFAULT_CHAIN_ID,
        "author": author,
    });
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    let shared = TEMPLATES.get_dir(SHARED).into_iter();
    for root in shared.chain([template]) {
        add_files(root, &handlebars, &data, &mut files)?;
    }
    Ok(Rendered {
        files: files.into_iter().collect(),
    })
}

/// Renders the files under `root` into `files` by project path, replacing
/// any already there.
fn add_files(
    root: &Dir<'static>,
    handlebars: &handlebars::Handlebars<'_>,
    data: &serde_json::Value,
    files: &mut BTreeMap<PathBuf, String>,
) -> anyhow::Result<()> {
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        stack.extend(dir.dirs());
        for file in dir.files() {
            let relative = file
                .path()
                .strip_prefix(root.path())
                .expect("inside the template");
            if relative == Path::new("template.toml") {
                continue;
            }
            let text = file
                .contents_utf8()
                .with_context(|| format!("template file {} is not text", relative.display()))?;
            let (path, content) = match relative.to_string_lossy().strip_suffix(".hbs") {
                Some(stripped) => {
                    let content = handlebars.render_template(text, data).with_context(|| {
                        format!("rendering template file {}", relative.display())
                    })?;
                    (PathBuf::from(stripped), content)
                }
                None => (relative.to_path_buf(), text.to_string()),
            };
            files.insert(dotted(&path), content);
        }
    }
    Ok(())
}

/// Template files are stored without their leading dot (`gitignore`,
/// `github/`) so packaging tools keep them; projects get the real names.
fn dotted(path: &Path) -> PathBuf {
    let mut components = path.components();
    let first = components
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let first = match first.as_str() {
        "gitignore" | "github" | "gitlab-ci.yml" => format!(".{first}"),
        _ => first,
    };
    std::iter::once(PathBuf::from(first))
        .chain(components.map(|c| PathBuf::from(c.as_os_str())))
        .collect()
}

fn init_git(dir: &Path) -> anyhow::Result<()> {
    let repo = git2::Repository::init(dir)?;
    let mut index = repo.index()?;
    index.add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("forja", "forja@localhost"))?;
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        "Initial commit from forja new",
        &tree,
        &[],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_and_cased() {
        assert!(validate_name("my-token_2").is_ok());
        assert!(validate_name("2fast").is_err());
        assert!(validate_name("has space").is_err());
        assert_eq!(pascal_case("my-token_x"), "MyTokenX");
    }

    #[test]
    fn every_template_renders_and_has_the_project_files() {
        for (name, description) in templates() {
            assert!(!description.is_empty(), "{name} has a description");
            let rendered = render(template_dir(&name).unwrap(), "demo").unwrap();
            let paths: Vec<String> = rendered
                .files
                .iter()
                .map(|(p, _)| p.display().to_string())
                .collect();
            for expected in ["forja.toml", "deploy.toml", ".gitignore", "README.md"] {
                assert!(paths.contains(&expected.to_string()), "{name}: {paths:?}");
            }
            let forja_toml = &rendered
                .files
                .iter()
                .find(|(p, _)| p == Path::new("forja.toml"))
                .unwrap()
                .1;
            assert!(forja_toml.contains("name = \"demo\""), "{forja_toml}");
        }
    }

    #[test]
    fn dot_files_get_their_dot() {
        assert_eq!(dotted(Path::new("gitignore")), PathBuf::from(".gitignore"));
        assert_eq!(
            dotted(Path::new("github/workflows/forja.yml")),
            PathBuf::from(".github/workflows/forja.yml")
        );
        assert_eq!(dotted(Path::new("src/A.sol")), PathBuf::from("src/A.sol"));
    }
}
