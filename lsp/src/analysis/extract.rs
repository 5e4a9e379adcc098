//! Copies what solar found (HIR, types) into the owned index data, file by file.

use crate::{index::FileData, line_index::LineIndex};
use solar::sema::{
    Gcx,
    hir::{self, Visit},
};
use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{references::RefVisitor, symbols::Extractor};

/// Copies the HIR of every wanted, parsed file into owned data.
pub(super) fn extract_files(
    gcx: Gcx<'_>,
    parsed: &HashSet<PathBuf>,
    wanted: &dyn Fn(&Path) -> bool,
) -> Vec<FileData> {
    let mut by_source: HashMap<hir::SourceId, FileData> = HashMap::new();
    let mut extractor = Extractor {
        gcx,
        files: &mut by_source,
        member_cache: HashMap::new(),
    };
    for (id, source) in gcx.hir.sources_enumerated() {
        let Some(path) = source.file.name.as_real() else {
            continue;
        };
        if !parsed.contains(path) || !wanted(path) {
            continue;
        }
        extractor.files.insert(
            id,
            FileData {
                path: path.to_path_buf(),
                text: Arc::from(source.file.src.as_str()),
                line_index: LineIndex::new(&source.file.src),
                ..Default::default()
            },
        );
    }
    let ids: Vec<_> = extractor.files.keys().copied().collect();
    for id in ids {
        extract_source(&mut extractor, id);
    }
    let mut files: Vec<FileData> = by_source.into_values().collect();
    for f in &mut files {
        f.symbols.sort_by_key(|s| s.name_range.start);
        f.symbols.dedup_by_key(|s| s.name_range.start);
        f.references.sort_by_key(|r| (r.range.start, r.range.end));
        f.references
            .dedup_by(|a, b| a.range == b.range && a.target == b.target);
        f.calls.sort_by_key(|c| c.range.start);
        f.typed_exprs.sort_by_key(|e| e.range.start);
    }
    files
}

/// One file's declarations, then every name occurrence in it.
fn extract_source(ex: &mut Extractor<'_, '_>, id: hir::SourceId) {
    let gcx = ex.gcx;
    let source = gcx.hir.source(id);
    for &item in source.items {
        ex.extract_item(id, item, None);
    }
    let mut visitor = RefVisitor {
        ex,
        source: id,
        contract: None,
    };
    let _ = visitor.visit_nested_source(id);
    for using in source.usings {
        ex.using_refs(id, using);
    }
    ex.import_refs(id);
}
