//! Declarations: symbols with their signatures, types, members, bases and
//! overrides, plus the references that declarations themselves make
//! (bases, `using for`, imports).

use crate::index::{
    FileData, ImportPath, MemberItem, Reference, Symbol, SymbolKey, SymbolKind, Target,
};
use solar::{
    ast,
    interface::{Span, source_map::SourceFile},
    sema::{Gcx, hir, ty::TyKind},
};
use std::{collections::HashMap, ops::Range, sync::Arc};

use super::natspec::doc_above;

/// Copies one run's HIR into owned [`FileData`], file by file.
pub(super) struct Extractor<'a, 'gcx> {
    pub(super) gcx: Gcx<'gcx>,
    pub(super) files: &'a mut HashMap<hir::SourceId, FileData>,
    /// (type, source, contract) -> member list index, per file.
    pub(super) member_cache: HashMap<(hir::SourceId, String, Option<hir::ContractId>), u32>,
}

/// The byte range of `span` inside `file`.
pub(super) fn file_range(file: &SourceFile, span: Span) -> Range<usize> {
    let start = span.lo().0.saturating_sub(file.start_pos.0) as usize;
    let end = span.hi().0.saturating_sub(file.start_pos.0) as usize;
    start..end.max(start)
}

/// Collapses whitespace runs to single spaces.
pub(super) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The declaration header: text up to the body's `{` or the closing `;`.
pub(super) fn header(text: &str) -> &str {
    let mut depth = 0i32;
    for (i, ch) in text.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '{' if depth == 0 => return text[..i].trim_end(),
            ';' if depth == 0 => return &text[..i],
            _ => {}
        }
    }
    text
}

impl<'gcx> Extractor<'_, 'gcx> {
    pub(super) fn file_of(&self, source: hir::SourceId) -> &'gcx Arc<SourceFile> {
        &self.gcx.hir.source(source).file
    }

    pub(super) fn key_of(&self, id: hir::ItemId) -> Option<SymbolKey> {
        // A public state variable's getter is the variable itself for the editor.
        if let hir::ItemId::Function(f) = id
            && let Some(var) = self.gcx.hir.function(f).gettee
        {
            return self.key_of(var.into());
        }
        let item = self.gcx.hir.item(id);
        let file = self.file_of(item.source());
        let path = file.name.as_real()?;
        let span = self.name_span(id)?;
        Some(SymbolKey {
            path: Arc::from(path),
            offset: file_range(file, span).start as u32,
        })
    }

    pub(super) fn name_span(&self, id: hir::ItemId) -> Option<Span> {
        let item = self.gcx.hir.item(id);
        if let Some(name) = item.name() {
            return Some(name.span);
        }
        match id {
            hir::ItemId::Function(f) => Some(self.gcx.hir.function(f).keyword_span()),
            _ => None,
        }
    }

    pub(super) fn push_symbol(&mut self, source: hir::SourceId, symbol: Symbol) {
        let file = self
            .files
            .get_mut(&source)
            .expect("extracting a known file");
        file.references.push(Reference {
            range: symbol.name_range.clone(),
            target: Target::Symbol(symbol.key.clone()),
        });
        file.symbols.push(symbol);
    }

    pub(super) fn push_ref(&mut self, source: hir::SourceId, range: Range<usize>, target: Target) {
        if range.is_empty() {
            return;
        }
        // References name exactly one identifier (spans of synthesized items such
        // as public getters cover whole declarations).
        let text = self.text(source);
        if !text.get(range.clone()).is_some_and(|t| {
            t.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        }) {
            return;
        }
        if let Some(file) = self.files.get_mut(&source) {
            file.references.push(Reference { range, target });
        }
    }

    pub(super) fn text(&self, source: hir::SourceId) -> &'gcx str {
        self.file_of(source).src.as_str()
    }

    pub(super) fn make_symbol(
        &mut self,
        source: hir::SourceId,
        id: hir::ItemId,
        kind: SymbolKind,
        container: Option<hir::ContractId>,
        scope: Range<usize>,
    ) -> Option<Symbol> {
        let gcx = self.gcx;
        let file = self.file_of(source);
        let text = file.src.as_str();
        let key = self.key_of(id)?;
        let name_span = self.name_span(id)?;
        let name_range = file_range(file, name_span);
        let full_range = file_range(file, gcx.item_span(id));
        let decl = text.get(full_range.clone()).unwrap_or("");
        let signature = match id {
            hir::ItemId::Variable(_) => {
                // Cut the initializer, not a mapping's `=>`.
                let bytes = decl.as_bytes();
                let cut = (0..bytes.len()).find(|&i| {
                    bytes[i] == b'='
                        && bytes.get(i + 1) != Some(&b'>')
                        && bytes.get(i + 1) != Some(&b'=')
                        && (i == 0 || !b"=!<>".contains(&bytes[i - 1]))
                });
                let d = cut.map_or(decl, |i| &decl[..i]);
                collapse(d.trim_end_matches(';'))
            }
            hir::ItemId::Struct(_) | hir::ItemId::Enum(_) => collapse(decl),
            _ => collapse(header(decl)),
        };
        let name = text.get(name_range.clone()).unwrap_or("").to_string();
        let name = if name.is_empty() {
            kind.describe().to_string()
        } else {
            name
        };
        let (params, param_labels) = match gcx.hir.item(id).parameters() {
            Some(ps) => ps
                .iter()
                .map(|&p| {
                    let v = gcx.hir.variable(p);
                    let label = text
                        .get(file_range(file, v.span))
                        .map(collapse)
                        .unwrap_or_default();
                    (
                        v.name.map(|n| n.name.to_string()).unwrap_or_default(),
                        label,
                    )
                })
                .unzip(),
            None => (Vec::new(), Vec::new()),
        };
        let (ty, type_target, members) = match id {
            hir::ItemId::Variable(v) => {
                let var = gcx.hir.variable(v);
                let ty = gcx.type_of_item(id);
                let members = self.members_for(source, ty, container);
                (
                    Some(ty.display(gcx).to_string()),
                    self.type_target(&var.ty),
                    members,
                )
            }
            hir::ItemId::Contract(_) | hir::ItemId::Enum(_) => {
                let ty = gcx.type_of_item(id);
                let members = self.members_for(source, gcx.mk_ty(TyKind::Type(ty)), container);
                (None, None, members)
            }
            _ => (None, None, None),
        };
        let (is_virtual, is_override) = match id {
            hir::ItemId::Function(f) => {
                let f = gcx.hir.function(f);
                (f.marked_virtual, f.override_)
            }
            hir::ItemId::Variable(v) => (false, gcx.hir.variable(v).override_),
            _ => (false, false),
        };
        Some(Symbol {
            key,
            name,
            kind,
            doc: doc_above(text, full_range.start),
            name_range,
            full_range,
            signature,
            ty,
            container: container.and_then(|c| self.key_of(c.into())),
            container_name: container.map(|c| gcx.item_name(c).to_string()),
            scope,
            params,
            param_labels,
            supers: Vec::new(),
            type_target,
            members,
            is_virtual,
            is_override,
        })
    }

    pub(super) fn type_target(&self, ty: &hir::Type<'_>) -> Option<SymbolKey> {
        match &ty.kind {
            hir::TypeKind::Custom(item) => self.key_of(*item),
            hir::TypeKind::Array(a) => self.type_target(&a.element),
            hir::TypeKind::Mapping(m) => self.type_target(&m.value),
            _ => None,
        }
    }

    /// Member list of values of type `ty`, cached per file.
    pub(super) fn members_for(
        &mut self,
        source: hir::SourceId,
        ty: solar::sema::Ty<'gcx>,
        contract: Option<hir::ContractId>,
    ) -> Option<u32> {
        let gcx = self.gcx;
        if matches!(ty.kind, TyKind::Err(_)) {
            return None;
        }
        let cache_key = (source, format!("{:?}", ty.kind), contract);
        if let Some(&i) = self.member_cache.get(&cache_key) {
            return Some(i);
        }
        let mut items: Vec<MemberItem> = gcx
            .members_of(ty, source, contract)
            .map(|m| {
                let kind = match m.res {
                    Some(hir::Res::Item(item)) => Some(item_kind(gcx, item)),
                    _ => None,
                };
                MemberItem {
                    name: m.name.to_string(),
                    detail: m.ty.display(gcx).to_string(),
                    kind,
                    callable: matches!(m.ty.kind, TyKind::Fn(_)),
                }
            })
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name).then(a.detail.cmp(&b.detail)));
        items.dedup_by(|a, b| a.name == b.name && a.detail == b.detail);
        let file = self.files.get_mut(&source)?;
        let index = file.member_lists.len() as u32;
        file.member_lists.push(items);
        self.member_cache.insert(cache_key, index);
        Some(index)
    }

    pub(super) fn extract_item(
        &mut self,
        source: hir::SourceId,
        id: hir::ItemId,
        container: Option<hir::ContractId>,
    ) {
        let gcx = self.gcx;
        let file = self.file_of(source);
        let whole_file = 0..file.src.len();
        let kind = item_kind(gcx, id);
        match id {
            hir::ItemId::Contract(c) => {
                let contract = gcx.hir.contract(c);
                if let Some(mut sym) = self.make_symbol(source, id, kind, None, whole_file.clone())
                {
                    sym.supers = contract
                        .bases
                        .iter()
                        .filter_map(|b| self.key_of((*b).into()))
                        .collect();
                    let header_range = sym.name_range.end..sym.full_range.end;
                    self.push_symbol(source, sym);
                    self.base_refs(source, header_range, contract.bases);
                }
                for &item in contract.items {
                    self.extract_item(source, item, Some(c));
                }
            }
            hir::ItemId::Function(f) => {
                let func = gcx.hir.function(f);
                if func.gettee.is_some() {
                    return;
                }
                if let Some(mut sym) = self.make_symbol(source, id, kind, container, whole_file) {
                    sym.supers = self.overridden(f);
                    self.push_symbol(source, sym);
                }
                let scope = file_range(file, func.span);
                for &p in func.parameters.iter().chain(func.returns) {
                    let k = if func.returns.contains(&p) {
                        SymbolKind::ReturnParameter
                    } else {
                        SymbolKind::Parameter
                    };
                    if let Some(sym) =
                        self.make_symbol(source, p.into(), k, container, scope.clone())
                    {
                        self.push_symbol(source, sym);
                    }
                }
            }
            hir::ItemId::Struct(s) => {
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file.clone())
                {
                    self.push_symbol(source, sym);
                }
                for &field in gcx.hir.strukt(s).fields {
                    if let Some(sym) = self.make_symbol(
                        source,
                        field.into(),
                        SymbolKind::Field,
                        container,
                        whole_file.clone(),
                    ) {
                        self.push_symbol(source, sym);
                    }
                }
            }
            hir::ItemId::Enum(e) => {
                let enumm = gcx.hir.enumm(e);
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file.clone())
                {
                    let enum_key = sym.key.clone();
                    self.push_symbol(source, sym);
                    for variant in enumm.variants {
                        let range = file_range(file, variant.span);
                        let key = SymbolKey {
                            path: enum_key.path.clone(),
                            offset: range.start as u32,
                        };
                        let sym = Symbol {
                            key,
                            name: variant.name.to_string(),
                            kind: SymbolKind::EnumVariant,
                            name_range: range.clone(),
                            full_range: range,
                            signature: format!("{}.{}", enumm.name, variant.name),
                            ty: Some(format!("enum {}", enumm.name)),
                            doc: None,
                            container: Some(enum_key.clone()),
                            container_name: Some(enumm.name.to_string()),
                            scope: whole_file.clone(),
                            params: Vec::new(),
                            param_labels: Vec::new(),
                            supers: Vec::new(),
                            type_target: None,
                            members: None,
                            is_virtual: false,
                            is_override: false,
                        };
                        self.push_symbol(source, sym);
                    }
                }
            }
            hir::ItemId::Event(_) | hir::ItemId::Error(_) | hir::ItemId::Udvt(_) => {
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file) {
                    self.push_symbol(source, sym);
                }
                if let Some(params) = gcx.hir.item(id).parameters() {
                    for &p in params {
                        if let Some(sym) = self.make_symbol(
                            source,
                            p.into(),
                            SymbolKind::Parameter,
                            container,
                            file_range(file, gcx.item_span(id)),
                        ) {
                            self.push_symbol(source, sym);
                        }
                    }
                }
            }
            hir::ItemId::Variable(_) => {
                if let Some(sym) = self.make_symbol(source, id, kind, container, whole_file) {
                    self.push_symbol(source, sym);
                }
            }
        }
    }

    /// Functions in base contracts that `f` overrides (same name and parameter types).
    pub(super) fn overridden(&self, f: hir::FunctionId) -> Vec<SymbolKey> {
        let gcx = self.gcx;
        let func = gcx.hir.function(f);
        let (Some(name), Some(contract)) = (func.name, func.contract) else {
            return Vec::new();
        };
        if !func.override_ {
            return Vec::new();
        }
        let param_tys: Vec<String> = func
            .parameters
            .iter()
            .map(|&p| gcx.type_of_item(p.into()).display(gcx).to_string())
            .collect();
        let bases = gcx.hir.contract(contract).linearized_bases;
        let mut out = Vec::new();
        for &base in bases.iter().skip(1) {
            for other in gcx.hir.contract(base).functions() {
                let of = gcx.hir.function(other);
                if of.name.map(|n| n.name) != Some(name.name)
                    || of.parameters.len() != param_tys.len()
                {
                    continue;
                }
                let same = of
                    .parameters
                    .iter()
                    .zip(&param_tys)
                    .all(|(&p, t)| gcx.type_of_item(p.into()).display(gcx).to_string() == *t);
                if same && let Some(k) = self.key_of(other.into()) {
                    out.push(k);
                }
            }
        }
        out
    }

    /// `contract A is B, C(1)`: base names have no spans in HIR; find them in the header text.
    pub(super) fn base_refs(
        &mut self,
        source: hir::SourceId,
        header: Range<usize>,
        bases: &[hir::ContractId],
    ) {
        let text = self.text(source);
        let Some(header_text) = text.get(header.clone()) else {
            return;
        };
        let header_text = header_text.split('{').next().unwrap_or("");
        for &base in bases {
            let name = self.gcx.item_name(base).to_string();
            let Some(key) = self.key_of(base.into()) else {
                continue;
            };
            for (i, _) in header_text.match_indices(&name) {
                let before = header_text[..i].chars().next_back();
                let after = header_text[i + name.len()..].chars().next();
                let is_ident = |c: Option<char>| {
                    c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
                };
                if !is_ident(before) && !is_ident(after) {
                    let start = header.start + i;
                    self.push_ref(
                        source,
                        start..start + name.len(),
                        Target::Symbol(key.clone()),
                    );
                }
            }
        }
    }

    pub(super) fn using_refs(&mut self, source: hir::SourceId, using: &hir::UsingDirective<'_>) {
        let file = self.file_of(source);
        for entry in using.entries {
            let range = file_range(file, entry.span);
            let text = self.text(source).get(range.clone()).unwrap_or("");
            match entry.kind {
                hir::UsingEntryKind::Library(lib) => {
                    if let Some(key) = self.key_of(lib.into()) {
                        let range = last_segment(text, range);
                        self.push_ref(source, range, Target::Symbol(key));
                    }
                }
                hir::UsingEntryKind::Functions(fs) => {
                    if let Some(&f) = fs.first()
                        && let Some(key) = self.key_of(f.into())
                    {
                        let name_part = text.split(" as ").next().unwrap_or(text).trim_end();
                        let range =
                            last_segment(name_part, range.start..range.start + name_part.len());
                        self.push_ref(source, range, Target::Symbol(key));
                    }
                }
                hir::UsingEntryKind::Err(_) => {}
            }
        }
        if let Some(ty) = &using.ty {
            self.type_ref(source, ty);
        }
    }

    pub(super) fn type_ref(&mut self, source: hir::SourceId, ty: &hir::Type<'_>) {
        if let hir::TypeKind::Custom(item) = ty.kind
            && let Some(key) = self.key_of(item)
        {
            let file = self.file_of(source);
            let range = file_range(file, ty.span);
            let text = self.text(source).get(range.clone()).unwrap_or("");
            self.push_ref(source, last_segment(text, range), Target::Symbol(key));
        }
    }

    /// `import {A as B} from "x.sol";`: names and the path literal.
    pub(super) fn import_refs(&mut self, id: hir::SourceId) {
        let gcx = self.gcx;
        let Some(ast_source) = gcx.sources.get(id) else {
            return;
        };
        let Some(unit) = &ast_source.ast else { return };
        let file = &ast_source.file;
        for (item_id, item) in unit.items.iter_enumerated() {
            let ast::ItemKind::Import(import) = &item.kind else {
                continue;
            };
            let Some(&(_, imported)) = ast_source.imports.iter().find(|(i, _)| *i == item_id)
            else {
                continue;
            };
            let imported_file = &gcx.hir.source(imported).file;
            if let Some(path) = imported_file.name.as_real() {
                let lit = file_range(file, import.path.span);
                let inner = lit.start + 1..lit.end.saturating_sub(1).max(lit.start + 1);
                if let Some(f) = self.files.get_mut(&id) {
                    f.imports.push(ImportPath {
                        range: inner,
                        resolved: path.to_path_buf(),
                    });
                }
            }
            if let ast::ImportItems::Aliases(aliases) = &import.items {
                for (original, alias) in aliases.iter() {
                    let target = gcx
                        .hir
                        .source(imported)
                        .items
                        .iter()
                        .copied()
                        .find(|&it| {
                            gcx.hir
                                .item(it)
                                .name()
                                .is_some_and(|n| n.name == original.name)
                        })
                        .or_else(|| {
                            // Re-exported through the imported file's own imports.
                            exported_by_name(gcx, imported, original.name, 0)
                        });
                    if let Some(target) = target
                        && let Some(key) = self.key_of(target)
                    {
                        self.push_ref(
                            id,
                            file_range(file, original.span),
                            Target::Symbol(key.clone()),
                        );
                        if let Some(alias) = alias {
                            self.push_ref(id, file_range(file, alias.span), Target::Symbol(key));
                        }
                    }
                }
            }
        }
    }
}

/// Finds a top-level item named `name` visible in `source` through its imports.
pub(super) fn exported_by_name(
    gcx: Gcx<'_>,
    source: hir::SourceId,
    name: solar::interface::Symbol,
    depth: usize,
) -> Option<hir::ItemId> {
    if depth > 8 {
        return None;
    }
    for &(_, imported) in gcx.hir.source(source).imports {
        if let Some(it) = gcx
            .hir
            .source(imported)
            .items
            .iter()
            .copied()
            .find(|&it| gcx.hir.item(it).name().is_some_and(|n| n.name == name))
        {
            return Some(it);
        }
        if let Some(it) = exported_by_name(gcx, imported, name, depth + 1) {
            return Some(it);
        }
    }
    None
}

/// For a path like `Lib.Struct`, the range of `Struct`.
pub(super) fn last_segment(text: &str, range: Range<usize>) -> Range<usize> {
    let ident_end = text
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$' || *c == '.'))
        .map_or(text.len(), |(i, _)| i);
    let path = &text[..ident_end];
    let start = path.rfind('.').map_or(0, |i| i + 1);
    range.start + start..range.start + ident_end
}

pub(super) fn item_kind(gcx: Gcx<'_>, id: hir::ItemId) -> SymbolKind {
    match id {
        hir::ItemId::Contract(c) => match gcx.hir.contract(c).kind {
            ast::ContractKind::Contract => SymbolKind::Contract,
            ast::ContractKind::AbstractContract => SymbolKind::AbstractContract,
            ast::ContractKind::Interface => SymbolKind::Interface,
            ast::ContractKind::Library => SymbolKind::Library,
        },
        hir::ItemId::Function(f) => match gcx.hir.function(f).kind {
            ast::FunctionKind::Constructor => SymbolKind::Constructor,
            ast::FunctionKind::Function => SymbolKind::Function,
            ast::FunctionKind::Fallback => SymbolKind::Fallback,
            ast::FunctionKind::Receive => SymbolKind::Receive,
            ast::FunctionKind::Modifier => SymbolKind::Modifier,
        },
        hir::ItemId::Variable(v) => {
            let var = gcx.hir.variable(v);
            match var.kind {
                hir::VarKind::Global => SymbolKind::FileVariable,
                hir::VarKind::State if var.is_constant() => SymbolKind::Constant,
                hir::VarKind::State => SymbolKind::StateVariable,
                hir::VarKind::Struct => SymbolKind::Field,
                hir::VarKind::FunctionReturn | hir::VarKind::FunctionTyReturn => {
                    SymbolKind::ReturnParameter
                }
                hir::VarKind::Statement | hir::VarKind::TryCatch => SymbolKind::Local,
                _ => SymbolKind::Parameter,
            }
        }
        hir::ItemId::Struct(_) => SymbolKind::Struct,
        hir::ItemId::Enum(_) => SymbolKind::Enum,
        hir::ItemId::Udvt(_) => SymbolKind::Udvt,
        hir::ItemId::Error(_) => SymbolKind::Error,
        hir::ItemId::Event(_) => SymbolKind::Event,
    }
}
