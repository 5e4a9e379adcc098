//! The ide layer called directly, without a client or the transport: one
//! analysis of the fixture project, then plain function calls with byte offsets.
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

mod common;

use forja_lsp::{
    analysis::{Extract, Overlays, analyze},
    ide::{self, completion::CompletionKind},
    index::Index,
    project::Workspace,
};
use std::sync::Arc;

#[test]
fn features_answer_from_an_index_without_a_server() {
    let dir = common::fixture_project();
    let workspace = Workspace::for_root(dir.path(), None);
    let files = workspace.source_files();
    let out = analyze(&workspace, &Overlays::new(), &files, &Extract::All);
    assert!(out.panic.is_none());
    let mut index = Index::default();
    for file in out.files {
        index.files.insert(file.path.clone(), Arc::new(file));
    }
    index.imports = out.imports;
    let vault = dir.path().join("src/Vault.sol");
    let data = index.files[&vault].clone();
    let text = &*data.text;
    let at = |needle: &str, shift: usize| text.find(needle).unwrap() + shift;

    let (hover, range) = ide::hover::hover(&index, &data, at("totalDeposits =", 2)).unwrap();
    assert!(hover.contains("uint256 public totalDeposits"), "{hover}");
    assert_eq!(&text[range], "totalDeposits");

    let definition = ide::navigation::definition(&index, &data, at("Math.max(x, y)", 0)).unwrap();
    assert!(definition.path.ends_with("src/Math.sol"));

    let completions = ide::completion::completions(
        &index,
        Some(&workspace),
        &vault,
        Some(&data),
        text,
        at("position.amount +=", 9),
    );
    assert!(
        completions
            .iter()
            .any(|c| c.label == "since" && c.kind != CompletionKind::Keyword),
        "struct members after `.`: {completions:?}"
    );

    let edits = ide::rename::rename(
        &index,
        Some(&workspace),
        &data,
        at("totalDeposits =", 0),
        "total",
    )
    .unwrap();
    let in_vault: usize = edits
        .iter()
        .filter(|(p, _)| *p == vault)
        .map(|(_, r)| r.len())
        .sum();
    assert_eq!(in_vault, text.matches("totalDeposits").count());
    assert!(
        ide::rename::rename(
            &index,
            Some(&workspace),
            &data,
            at("totalDeposits =", 0),
            "uint256"
        )
        .is_err(),
        "a type name is refused"
    );
    let owned = at("Owned(msg.sender)", 0);
    assert!(
        ide::rename::prepare_rename(&index, Some(&workspace), &data, owned)
            .unwrap_err()
            .0
            .contains("dependency")
    );
}
