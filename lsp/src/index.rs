//! The owned semantic index the server answers queries from.
//!
//! Solar's compiler state borrows from its own arenas and lives only inside
//! `Compiler::enter`, so every analysis run copies what the editor features
//! need (definitions, references, types, member lists) into these plain
//! structures. Queries then never touch the engine and stay sub-millisecond.

use crate::line_index::LineIndex;
use std::{
    collections::{HashMap, HashSet},
    ops::Range,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Identity of a declaration: the file and byte offset of its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolKey {
    /// Absolute path of the declaring file.
    pub path: Arc<Path>,
    /// Byte offset of the declaration's name in that file.
    pub offset: u32,
}

/// What a declaration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    Contract,
    AbstractContract,
    Interface,
    Library,
    Function,
    Constructor,
    Fallback,
    Receive,
    Modifier,
    Event,
    Error,
    Struct,
    Field,
    Enum,
    EnumVariant,
    Udvt,
    StateVariable,
    Constant,
    FileVariable,
    Parameter,
    ReturnParameter,
    Local,
}

impl SymbolKind {
    /// Whether this is a contract-like container.
    pub fn is_contract_like(self) -> bool {
        matches!(
            self,
            Self::Contract | Self::AbstractContract | Self::Interface | Self::Library
        )
    }

    /// Whether this is a callable declaration.
    pub fn is_function_like(self) -> bool {
        matches!(
            self,
            Self::Function | Self::Constructor | Self::Fallback | Self::Receive | Self::Modifier
        )
    }

    /// Human name used in hovers.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Contract => "contract",
            Self::AbstractContract => "abstract contract",
            Self::Interface => "interface",
            Self::Library => "library",
            Self::Function => "function",
            Self::Constructor => "constructor",
            Self::Fallback => "fallback",
            Self::Receive => "receive",
            Self::Modifier => "modifier",
            Self::Event => "event",
            Self::Error => "error",
            Self::Struct => "struct",
            Self::Field => "field",
            Self::Enum => "enum",
            Self::EnumVariant => "enum variant",
            Self::Udvt => "user-defined value type",
            Self::StateVariable => "state variable",
            Self::Constant => "constant",
            Self::FileVariable => "file-level constant",
            Self::Parameter => "parameter",
            Self::ReturnParameter => "return parameter",
            Self::Local => "local variable",
        }
    }
}

/// One declaration.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub key: SymbolKey,
    pub name: String,
    pub kind: SymbolKind,
    /// Byte range of the name.
    pub name_range: Range<usize>,
    /// Byte range of the whole declaration.
    pub full_range: Range<usize>,
    /// The declaration as written, whitespace collapsed, body removed.
    pub signature: String,
    /// The declared type (variables) as solar prints it.
    pub ty: Option<String>,
    /// NatSpec / doc comment text found right above the declaration.
    pub doc: Option<String>,
    /// Enclosing contract-like declaration.
    pub container: Option<SymbolKey>,
    /// Name of the enclosing contract, for display.
    pub container_name: Option<String>,
    /// Where the name is visible (function body for locals, file otherwise).
    pub scope: Range<usize>,
    /// Parameter names, for signature help and inlay hints.
    pub params: Vec<String>,
    /// Parameter declarations as written, for signature help.
    pub param_labels: Vec<String>,
    /// Declarations this one overrides (functions) or inherits from (contracts).
    pub supers: Vec<SymbolKey>,
    /// The declaration of this symbol's type (variables with user-defined types).
    pub type_target: Option<SymbolKey>,
    /// Member list of a value of this symbol's type (index into `FileData::member_lists`).
    pub members: Option<u32>,
    /// Whether the declaration has `virtual`.
    pub is_virtual: bool,
    /// Whether the declaration has `override`.
    pub is_override: bool,
}

/// What a reference points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A declaration in the workspace or its dependencies.
    Symbol(SymbolKey),
    /// A language builtin (`msg.sender`, `keccak256`, …) with its type.
    Builtin { name: String, ty: String },
}

/// One occurrence of a name in a file.
#[derive(Debug, Clone)]
pub struct Reference {
    pub range: Range<usize>,
    pub target: Target,
}

/// A call site, for inlay hints and signature help.
#[derive(Debug, Clone)]
pub struct CallSite {
    /// Range of the whole call expression.
    pub range: Range<usize>,
    /// Range of the argument list including parentheses.
    pub args_range: Range<usize>,
    /// Argument ranges (positional calls only).
    pub args: Vec<Range<usize>>,
    /// Parameter names visible at the call site.
    pub params: Vec<String>,
    /// Called declaration.
    pub callee: Option<SymbolKey>,
}

/// A member offered after `.`.
#[derive(Debug, Clone)]
pub struct MemberItem {
    pub name: String,
    /// Type or signature shown next to the name.
    pub detail: String,
    /// Kind, when the member is a declaration.
    pub kind: Option<SymbolKind>,
    /// Whether the member is callable.
    pub callable: bool,
}

/// An expression whose type is known, for completion after `.`.
#[derive(Debug, Clone)]
pub struct TypedExpr {
    pub range: Range<usize>,
    /// Index into `FileData::member_lists`.
    pub members: u32,
}

/// An import directive's path literal.
#[derive(Debug, Clone)]
pub struct ImportPath {
    /// Byte range of the string literal (without quotes).
    pub range: Range<usize>,
    /// The resolved file.
    pub resolved: PathBuf,
}

/// Everything known about one file after analysis.
#[derive(Debug, Clone, Default)]
pub struct FileData {
    pub path: PathBuf,
    pub text: Arc<str>,
    pub line_index: LineIndex,
    /// Declarations, sorted by `name_range.start`.
    pub symbols: Vec<Symbol>,
    /// References (including each declaration's own name), sorted by start.
    pub references: Vec<Reference>,
    pub calls: Vec<CallSite>,
    pub typed_exprs: Vec<TypedExpr>,
    pub member_lists: Vec<Vec<MemberItem>>,
    pub imports: Vec<ImportPath>,
}

impl FileData {
    /// The declaration whose name starts at `offset`.
    pub fn symbol_at_key(&self, offset: u32) -> Option<&Symbol> {
        let i = self
            .symbols
            .partition_point(|s| (s.name_range.start as u32) < offset);
        self.symbols
            .get(i)
            .filter(|s| s.name_range.start as u32 == offset)
    }

    /// The reference covering `offset` (end inclusive, so a cursor right after
    /// a name still finds it).
    pub fn reference_at(&self, offset: usize) -> Option<&Reference> {
        let i = self.references.partition_point(|r| r.range.start <= offset);
        self.references[..i]
            .iter()
            .rev()
            .take(8)
            .filter(|r| r.range.start <= offset && offset <= r.range.end)
            .min_by_key(|r| r.range.len())
    }

    /// The import path literal covering `offset`.
    pub fn import_at(&self, offset: usize) -> Option<&ImportPath> {
        self.imports
            .iter()
            .find(|i| i.range.start <= offset && offset <= i.range.end)
    }

    /// Shifts everything after an edit so navigation keeps working while the
    /// new text does not parse. Entries inside the edited region are dropped.
    pub fn rebase(&self, new_text: Arc<str>) -> FileData {
        let old = self.text.as_bytes();
        let new = new_text.as_bytes();
        let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let max_suffix = old.len().min(new.len()) - prefix;
        let suffix = old
            .iter()
            .rev()
            .zip(new.iter().rev())
            .take(max_suffix)
            .take_while(|(a, b)| a == b)
            .count();
        let old_end = old.len() - suffix;
        let delta = new.len() as isize - old.len() as isize;
        let map = |r: &Range<usize>| -> Option<Range<usize>> {
            if r.end <= prefix {
                Some(r.clone())
            } else if r.start >= old_end {
                Some((r.start as isize + delta) as usize..(r.end as isize + delta) as usize)
            } else {
                None
            }
        };
        // Enclosing ranges (scopes, declarations, calls) may contain the edit: grow them.
        let map_outer = |r: &Range<usize>| -> Range<usize> {
            let start = if r.start >= old_end {
                (r.start as isize + delta) as usize
            } else {
                r.start
            };
            let end = if r.end >= old_end {
                (r.end as isize + delta) as usize
            } else {
                r.end.min(new.len())
            };
            start..end.max(start)
        };
        let mut out = FileData {
            path: self.path.clone(),
            line_index: LineIndex::new(&new_text),
            text: new_text.clone(),
            member_lists: self.member_lists.clone(),
            ..Default::default()
        };
        // Symbol keys of this file move too; references elsewhere keep the
        // old keys until their files are analysed again.
        let shift_key = |k: &SymbolKey| -> SymbolKey {
            if *k.path == *self.path && k.offset as usize >= old_end {
                SymbolKey {
                    path: k.path.clone(),
                    offset: (k.offset as isize + delta) as u32,
                }
            } else {
                k.clone()
            }
        };
        for s in &self.symbols {
            let Some(name_range) = map(&s.name_range) else {
                continue;
            };
            let mut s = s.clone();
            s.key = SymbolKey {
                path: s.key.path.clone(),
                offset: name_range.start as u32,
            };
            s.name_range = name_range;
            s.full_range = map_outer(&s.full_range);
            s.scope = map_outer(&s.scope);
            s.container = s.container.as_ref().map(shift_key);
            out.symbols.push(s);
        }
        for r in &self.references {
            let Some(range) = map(&r.range) else { continue };
            let target = match &r.target {
                Target::Symbol(k) => Target::Symbol(shift_key(k)),
                t => t.clone(),
            };
            out.references.push(Reference { range, target });
        }
        for c in &self.calls {
            let Some(args_range) = map(&c.args_range) else {
                continue;
            };
            let args = c.args.iter().filter_map(map).collect::<Vec<_>>();
            out.calls.push(CallSite {
                range: map_outer(&c.range),
                args_range,
                args,
                params: c.params.clone(),
                callee: c.callee.as_ref().map(shift_key),
            });
        }
        for e in &self.typed_exprs {
            if let Some(range) = map(&e.range) {
                out.typed_exprs.push(TypedExpr {
                    range,
                    members: e.members,
                });
            }
        }
        for i in &self.imports {
            if let Some(range) = map(&i.range) {
                out.imports.push(ImportPath {
                    range,
                    resolved: i.resolved.clone(),
                });
            }
        }
        out
    }
}

/// The workspace-wide index: the latest data of every analysed file.
#[derive(Debug, Default, Clone)]
pub struct Index {
    pub files: HashMap<PathBuf, Arc<FileData>>,
    /// file -> files it imports.
    pub imports: HashMap<PathBuf, Vec<PathBuf>>,
}

impl Index {
    /// The declaration identified by `key`.
    pub fn symbol(&self, key: &SymbolKey) -> Option<&Symbol> {
        self.files.get(&*key.path)?.symbol_at_key(key.offset)
    }

    /// Files that import `path`, directly.
    pub fn direct_importers(&self, path: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .imports
            .iter()
            .filter(|(_, deps)| deps.iter().any(|d| d == path))
            .map(|(f, _)| f.clone())
            .collect();
        out.sort();
        out
    }

    /// Every reference to `key` in the index, including the declaration.
    pub fn references(&self, key: &SymbolKey) -> Vec<(PathBuf, Range<usize>)> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut files: Vec<_> = self.files.values().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for file in files {
            for r in &file.references {
                if r.target == Target::Symbol(key.clone())
                    && seen.insert((file.path.clone(), r.range.start))
                {
                    out.push((file.path.clone(), r.range.clone()));
                }
            }
        }
        out
    }

    /// Declarations that override `key` (functions) or derive from it (contracts).
    pub fn implementations(&self, key: &SymbolKey) -> Vec<&Symbol> {
        let mut out: Vec<&Symbol> = self
            .files
            .values()
            .flat_map(|f| f.symbols.iter())
            .filter(|s| s.supers.contains(key))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}
