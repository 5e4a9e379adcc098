//! Coverage as `forge coverage` measures it: which instructions the tests
//! ran ([`HitMaps`], filled by the inspector), mapped through solc's source
//! maps onto the lines, statements, branches and functions found in solc's
//! AST ([`CoverageReport`]). Owns the lcov format `forja coverage --report
//! lcov` writes ([`CoverageReport::lcov`], Foundry's LCOV 1 tracefile).
//!
//! Items and their anchors follow forge 1.7.1: a statement, line or function
//! is hit when the first instruction the source map places inside it runs;
//! an `if`'s paths and a `require`'s two outcomes are the two sides of the
//! last `PUSH <dest>; JUMPI` inside them.

use std::{
    collections::{BTreeMap, HashMap},
    ops::Range,
    path::Path,
    sync::Mutex,
};

use alloy::primitives::{B256, Bytes};
use forja_compiler::artifact::{Artifact, ArtifactFile, Code};
use revm::interpreter::{Interpreter, interpreter_types::Jumps};
use serde_json::Value;

use crate::error::TesterError;

/// Instruction hit counts of one piece of code (creation or runtime).
#[derive(Clone, Debug)]
pub(crate) struct HitMap {
    /// The code as it ran (linked, immutables filled).
    pub(crate) code: Bytes,
    /// Hits per program counter.
    pub(crate) hits: Vec<u32>,
}

/// Hit counts of every piece of code a run executed, by code hash.
#[derive(Clone, Debug, Default)]
pub struct HitMaps {
    maps: Vec<HitMap>,
    index: HashMap<B256, usize>,
    /// The map of the code executing now: instructions of one frame follow
    /// each other, so most steps find it here.
    current: Option<(B256, usize)>,
}

impl HitMaps {
    /// Counts the instruction `interp` is about to run.
    #[inline]
    pub(crate) fn hit(&mut self, interp: &mut Interpreter) {
        let hash = interp.bytecode.get_or_calculate_hash();
        let slot = match self.current {
            Some((current, slot)) if current == hash => slot,
            _ => self.select(hash, interp),
        };
        let pc = interp.bytecode.pc();
        if let Some(count) = self.maps[slot].hits.get_mut(pc) {
            *count = count.saturating_add(1);
        }
    }

    #[cold]
    #[inline(never)]
    fn select(&mut self, hash: B256, interp: &Interpreter) -> usize {
        let slot = *self.index.entry(hash).or_insert_with(|| {
            let code = interp.bytecode.original_bytes();
            self.maps.push(HitMap {
                hits: vec![0; code.len()],
                code,
            });
            self.maps.len() - 1
        });
        self.current = Some((hash, slot));
        slot
    }

    /// Adds `other`'s counts to these.
    pub(crate) fn merge(&mut self, other: HitMaps) {
        let HitMaps { maps, index, .. } = other;
        for (hash, slot) in index {
            let map = &maps[slot];
            match self.index.get(&hash) {
                Some(&mine) => {
                    for (count, more) in self.maps[mine].hits.iter_mut().zip(&map.hits) {
                        *count = count.saturating_add(*more);
                    }
                }
                None => {
                    self.maps.push(map.clone());
                    self.index.insert(hash, self.maps.len() - 1);
                }
            }
        }
        self.current = None;
    }

    /// Every piece of code that ran.
    pub(crate) fn maps(&self) -> &[HitMap] {
        &self.maps
    }
}

/// Where the test threads leave their hit counts (one lock per transaction).
#[derive(Debug, Default)]
pub struct CoverageCollector(Mutex<HitMaps>);

impl CoverageCollector {
    pub(crate) fn add(&self, hits: HitMaps) {
        let mut all = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.merge(hits);
    }

    /// Everything collected so far.
    pub fn hits(&self) -> HitMaps {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// What a coverage item is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Line,
    Statement,
    /// One path of a branch; `first_opcode` says its anchor is the first
    /// instruction inside it rather than a side of a `JUMPI`.
    Branch {
        branch_id: u32,
        path_id: u32,
        first_opcode: bool,
    },
    Function {
        name: String,
    },
}

impl ItemKind {
    fn rank(&self) -> u8 {
        match self {
            Self::Line => 0,
            Self::Statement => 1,
            Self::Branch { .. } => 2,
            Self::Function { .. } => 3,
        }
    }
}

/// A line, statement, branch path or function of a source file.
#[derive(Clone, Debug)]
pub struct CoverageItem {
    pub kind: ItemKind,
    /// The contract it is in.
    pub contract: String,
    /// Byte range in the source.
    pub bytes: Range<u32>,
    /// Lines, 1-based, end exclusive.
    pub lines: Range<u32>,
    /// Times it ran.
    pub hits: u64,
}

impl CoverageItem {
    fn order(&self) -> (u32, u32, u8, u32, u32) {
        (
            self.lines.start,
            self.lines.end,
            self.kind.rank(),
            self.bytes.start,
            self.bytes.end,
        )
    }
}

/// Counts of one file (or of all), as forge's summary table shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoverageSummary {
    pub lines: (usize, usize),
    pub statements: (usize, usize),
    pub branches: (usize, usize),
    pub functions: (usize, usize),
}

impl CoverageSummary {
    fn add(&mut self, item: &CoverageItem) {
        let counter = match item.kind {
            ItemKind::Line => &mut self.lines,
            ItemKind::Statement => &mut self.statements,
            ItemKind::Branch { .. } => &mut self.branches,
            ItemKind::Function { .. } => &mut self.functions,
        };
        counter.1 += 1;
        if item.hits > 0 {
            counter.0 += 1;
        }
    }

    /// Adds another summary's counts (the Total row).
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in [
            (&mut self.lines, other.lines),
            (&mut self.statements, other.statements),
            (&mut self.branches, other.branches),
            (&mut self.functions, other.functions),
        ] {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
        }
    }
}

/// Which sources the report covers.
#[derive(Clone, Debug)]
pub struct SourceFilter {
    /// Library directories (`lib`, `node_modules`): left out unless `include_libs`.
    pub libs: Vec<String>,
    pub include_libs: bool,
    /// The test directory: left out with `exclude_tests` (test contracts,
    /// those with test functions, are always left out).
    pub test_dir: String,
    pub exclude_tests: bool,
}

impl SourceFilter {
    fn includes(&self, path: &str) -> bool {
        let under = |dir: &str| {
            let dir = dir.trim_end_matches('/');
            !dir.is_empty() && Path::new(path).starts_with(dir)
        };
        // Sources outside the project (forja-std, absolute remappings) are libraries.
        let outside = Path::new(path).is_absolute() || path.starts_with("..");
        if !self.include_libs && (outside || self.libs.iter().any(|l| under(l))) {
            return false;
        }
        !(self.exclude_tests && under(&self.test_dir))
    }
}

/// A source file's items.
#[derive(Clone, Debug)]
struct SourceItems {
    path: String,
    items: Vec<CoverageItem>,
}

/// One compiled piece of code and where its items' anchors are.
#[derive(Debug)]
struct AnchoredCode {
    code: Code,
    /// Byte ranges that differ between deployments (immutables, library
    /// addresses, a library's own address).
    masks: Vec<Range<usize>>,
    creation: bool,
    /// `(pc, source key, item index)`.
    anchors: Vec<(usize, (String, u32), usize)>,
}

/// The coverage of a test run, by source file.
#[derive(Clone, Debug, Default)]
pub struct CoverageReport {
    /// Source path → items, sorted by path.
    pub files: BTreeMap<String, Vec<CoverageItem>>,
}

/// The analysis of a coverage build: items, and their anchors in each
/// contract's code.
#[derive(Debug)]
pub struct CoverageAnalysis {
    /// `(compiler version, source id)` → the source's items.
    sources: HashMap<(String, u32), SourceItems>,
    codes: Vec<AnchoredCode>,
}

impl CoverageAnalysis {
    /// Reads a coverage build's artifacts (with ASTs and source maps) under
    /// `out_dir`, and the sources under `root`.
    pub fn load(root: &Path, out_dir: &Path, filter: &SourceFilter) -> Result<Self, TesterError> {
        let index =
            forja_compiler::ArtifactIndex::scan(out_dir).map_err(|e| TesterError::Artifact {
                path: out_dir.to_path_buf(),
                message: e.to_string(),
            })?;
        let mut artifacts = Vec::new();
        for file in index.files() {
            let bytes = std::fs::read(file).map_err(|source| TesterError::Io {
                path: file.clone(),
                source,
            })?;
            let broken = |message: String| TesterError::Artifact {
                path: file.clone(),
                message,
            };
            let raw: ArtifactFile =
                serde_json::from_slice(&bytes).map_err(|e| broken(e.to_string()))?;
            let artifact = Artifact::from_bytes(file, &bytes).map_err(|e| broken(e.to_string()))?;
            artifacts.push((raw, artifact));
        }
        let mut sources: HashMap<(String, u32), SourceItems> = HashMap::new();
        for (raw, _) in &artifacts {
            let (Some(path), Some(id), Some(ast)) = (
                raw.source_path.as_deref(),
                raw.id.as_u64(),
                raw.ast.as_ref(),
            ) else {
                continue;
            };
            let key = (version_of(raw), id as u32);
            if sources.contains_key(&key) || !filter.includes(path) {
                continue;
            }
            let file = root.join(path);
            let content = std::fs::read_to_string(&file)
                .map_err(|source| TesterError::Io { path: file, source })?;
            let items = analyse_source(ast, &content);
            sources.insert(
                key,
                SourceItems {
                    path: path.to_string(),
                    items,
                },
            );
        }
        let mut codes = Vec::new();
        for (raw, artifact) in &artifacts {
            let version = version_of(raw);
            for (creation, code, source_map) in [
                (true, &artifact.creation, &raw.bytecode.source_map),
                (false, &artifact.runtime, &raw.deployed_bytecode.source_map),
            ] {
                let Some(source_map) = source_map.as_str().filter(|m| !m.is_empty()) else {
                    continue;
                };
                if code.bytes.is_empty() {
                    continue;
                }
                let elements = parse_source_map(source_map);
                let anchors = find_anchors(&code.bytes, &elements, &version, &sources);
                if anchors.is_empty() {
                    continue;
                }
                let mut masks: Vec<Range<usize>> = code
                    .links
                    .iter()
                    .flat_map(|l| l.offsets.iter().map(|&o| o..o + 20))
                    .collect();
                if !creation {
                    masks.extend(artifact.immutable_ranges.iter().map(|&(s, l)| s..s + l));
                    if is_library_code(&code.bytes) {
                        masks.push(1..21);
                    }
                }
                codes.push(AnchoredCode {
                    code: code.clone(),
                    masks,
                    creation,
                    anchors,
                });
            }
        }
        Ok(Self { sources, codes })
    }

    /// Maps `hits` onto the items.
    pub fn report(&self, hits: &HitMaps) -> CoverageReport {
        let mut sources = self.sources.clone();
        for map in hits.maps() {
            for code in self.codes.iter().filter(|c| c.runs_as(&map.code)) {
                for (pc, key, item) in &code.anchors {
                    let count = map.hits.get(*pc).copied().unwrap_or(0);
                    if count > 0
                        && let Some(source) = sources.get_mut(key)
                    {
                        source.items[*item].hits += u64::from(count);
                    }
                }
            }
        }
        let mut files: BTreeMap<String, Vec<CoverageItem>> = BTreeMap::new();
        for source in sources.into_values() {
            if !source.items.is_empty() {
                files.entry(source.path).or_default().extend(source.items);
            }
        }
        CoverageReport { files }
    }
}

impl AnchoredCode {
    /// Whether `ran` is this code: the same bytes apart from the masked
    /// ranges (creation code runs with constructor arguments after it).
    fn runs_as(&self, ran: &[u8]) -> bool {
        let expected = &self.code.bytes;
        let fits = if self.creation {
            ran.len() >= expected.len()
        } else {
            ran.len() == expected.len()
        };
        if !fits {
            return false;
        }
        let mut at = 0;
        let mut masks: Vec<&Range<usize>> = self.masks.iter().collect();
        masks.sort_by_key(|m| m.start);
        for mask in masks {
            let start = mask.start.min(expected.len());
            if at < start && expected[at..start] != ran[at..start] {
                return false;
            }
            at = at.max(mask.end.min(expected.len()));
        }
        expected[at..] == ran[at..expected.len()]
    }
}

fn version_of(raw: &ArtifactFile) -> String {
    raw.compiler
        .as_ref()
        .map(|c| c.version.clone())
        .unwrap_or_default()
}

/// `PUSH20 0x00…00 ADDRESS`: the prologue solc gives library runtime code.
fn is_library_code(code: &[u8]) -> bool {
    code.len() > 22 && code[0] == 0x73 && code[1..21].iter().all(|b| *b == 0) && code[21] == 0x30
}

impl CoverageReport {
    /// Each file's counts, by path.
    pub fn summaries(&self) -> Vec<(String, CoverageSummary)> {
        self.files
            .iter()
            .map(|(path, items)| {
                let mut summary = CoverageSummary::default();
                for item in items {
                    summary.add(item);
                }
                (path.clone(), summary)
            })
            .collect()
    }

    /// The report as an LCOV tracefile, as forge writes it (`lcov.info`).
    pub fn lcov(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for (path, items) in &self.files {
            let mut summary = CoverageSummary::default();
            let mut line_hits: HashMap<u32, u64> = HashMap::new();
            for item in items {
                summary.add(item);
                if matches!(item.kind, ItemKind::Line | ItemKind::Statement) {
                    let hits = line_hits.entry(item.lines.start).or_default();
                    *hits = (*hits).max(item.hits);
                }
            }
            let _ = writeln!(out, "TN:\nSF:{path}");
            let mut recorded = std::collections::HashSet::new();
            for item in items {
                let line = item.lines.start;
                match &item.kind {
                    ItemKind::Function { name } => {
                        let name = format!("{}.{name}", item.contract);
                        let _ = writeln!(out, "FN:{line},{name}\nFNDA:{},{name}", item.hits);
                    }
                    ItemKind::Line | ItemKind::Statement => {
                        if recorded.insert(line) {
                            let _ = writeln!(out, "DA:{line},{}", item.hits);
                        }
                    }
                    ItemKind::Branch {
                        branch_id, path_id, ..
                    } => {
                        // `-`: the line never ran; `0`: it ran, this path did not.
                        let hits = if item.hits > 0 {
                            item.hits.to_string()
                        } else if line_hits.get(&line).is_some_and(|h| *h > 0) {
                            "0".into()
                        } else {
                            "-".into()
                        };
                        let _ = writeln!(out, "BRDA:{line},{branch_id},{path_id},{hits}");
                    }
                }
            }
            let _ = writeln!(
                out,
                "FNF:{}\nFNH:{}\nLF:{}\nLH:{}\nBRF:{}\nBRH:{}\nend_of_record",
                summary.functions.1,
                summary.functions.0,
                summary.lines.1,
                summary.lines.0,
                summary.branches.1,
                summary.branches.0
            );
        }
        out
    }
}

/// One instruction's entry in a solc source map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SourceElement {
    offset: u32,
    length: u32,
    /// `-1` for code that belongs to no source (compiler-generated).
    source: i64,
}

/// Parses solc's compressed `s:l:f:j:m;…` source map (an empty field
/// repeats the previous entry's).
fn parse_source_map(map: &str) -> Vec<SourceElement> {
    let mut last = SourceElement {
        source: -1,
        ..Default::default()
    };
    map.split(';')
        .map(|entry| {
            let mut fields = entry.split(':');
            if let Some(s) = fields.next().and_then(|f| f.parse().ok()) {
                last.offset = s;
            }
            if let Some(l) = fields.next().and_then(|f| f.parse().ok()) {
                last.length = l;
            }
            if let Some(f) = fields.next().and_then(|f| f.parse().ok()) {
                last.source = f;
            }
            last
        })
        .collect()
}

/// Whether an instruction's source range starts inside an item's range
/// (forge's test: ranges that cover a whole contract must not match).
fn in_range(element: &SourceElement, source_id: u32, bytes: &Range<u32>) -> bool {
    element.source == i64::from(source_id)
        && element.offset >= bytes.start
        && element.offset <= bytes.end.min(element.offset.saturating_add(element.length))
}

/// Program counter of each instruction (source maps count instructions).
fn instruction_pcs(code: &[u8]) -> Vec<usize> {
    let mut pcs = Vec::with_capacity(code.len());
    let mut pc = 0;
    while pc < code.len() {
        pcs.push(pc);
        pc += 1 + push_size(code[pc]);
    }
    pcs
}

fn push_size(opcode: u8) -> usize {
    if (0x60..=0x7f).contains(&opcode) {
        usize::from(opcode - 0x5f)
    } else {
        0
    }
}

type SourceKey = (String, u32);

fn find_anchors(
    code: &[u8],
    elements: &[SourceElement],
    version: &str,
    sources: &HashMap<SourceKey, SourceItems>,
) -> Vec<(usize, SourceKey, usize)> {
    let pcs = instruction_pcs(code);
    let mut seen = Vec::new();
    for element in elements {
        if element.source >= 0 && !seen.contains(&element.source) {
            seen.push(element.source);
        }
    }
    let mut anchors = Vec::new();
    for source_id in seen {
        let key = (version.to_string(), source_id as u32);
        let Some(source) = sources.get(&key) else {
            continue;
        };
        for (index, item) in source.items.iter().enumerate() {
            let pc = match item.kind {
                ItemKind::Branch {
                    path_id,
                    first_opcode: false,
                    ..
                } => branch_anchors(code, elements, source_id as u32, &item.bytes)
                    .map(|(taken, jumped)| if path_id == 0 { taken } else { jumped }),
                _ => elements
                    .iter()
                    .position(|e| in_range(e, source_id as u32, &item.bytes))
                    .and_then(|instruction| pcs.get(instruction).copied()),
            };
            if let Some(pc) = pc {
                anchors.push((pc, key.clone(), index));
            }
        }
    }
    anchors
}

/// The two sides of the last `PUSH <dest>; JUMPI` inside the range: the
/// instruction after the `JUMPI`, and `dest`.
fn branch_anchors(
    code: &[u8],
    elements: &[SourceElement],
    source_id: u32,
    bytes: &Range<u32>,
) -> Option<(usize, usize)> {
    let mut found = None;
    let mut pc = 0;
    let mut instruction = 0;
    while pc < code.len() {
        let size = push_size(code[pc]);
        if size > 0 {
            let Some(element) = elements.get(instruction) else {
                break;
            };
            let jumpi_at = pc + 1 + size;
            if code.get(jumpi_at) == Some(&0x57)
                && size <= 4
                && in_range(element, source_id, bytes)
                && let Some(immediate) = code.get(pc + 1..jumpi_at)
            {
                let dest = immediate
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                found = Some((jumpi_at + 1, dest));
            }
        }
        pc += 1 + size;
        instruction += 1;
    }
    found
}

/// Finds the items of one source in its solc AST, as forge's analysis does.
fn analyse_source(ast: &Value, content: &str) -> Vec<CoverageItem> {
    let mut visitor = Visitor {
        content,
        line_starts: std::iter::once(0)
            .chain(content.match_indices('\n').map(|(i, _)| i + 1))
            .collect(),
        contract: String::new(),
        branch_id: 0,
        items: Vec::new(),
    };
    for node in nodes(ast, "nodes") {
        if node_type(node) != "ContractDefinition" || node["contractKind"] == "interface" {
            continue;
        }
        let checkpoint = visitor.items.len();
        visitor.contract = node["name"].as_str().unwrap_or_default().to_string();
        for member in nodes(node, "nodes") {
            if matches!(
                node_type(member),
                "FunctionDefinition" | "ModifierDefinition"
            ) {
                visitor.function(member);
            }
        }
        // A test contract is not code under test.
        let has_tests = visitor.items[checkpoint..].iter().any(|item| {
            matches!(&item.kind, ItemKind::Function { name }
                if ["test", "invariant", "statefulFuzz", "table"].iter().any(|p| name.starts_with(p)))
        });
        if has_tests {
            visitor.items.truncate(checkpoint);
        }
    }
    let mut items = visitor.items;
    // Functions of the same name in one file are told apart by a suffix.
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        if let ItemKind::Function { name } = &item.kind {
            by_name.entry(name.clone()).or_default().push(index);
        }
    }
    for indices in by_name.values().filter(|i| i.len() > 1) {
        for (n, &index) in indices.iter().enumerate() {
            if let ItemKind::Function { name } = &mut items[index].kind {
                *name = format!("{name}.{n}");
            }
        }
    }
    items.sort_by_key(CoverageItem::order);
    // One line item per line where an item starts, placed as the first of them.
    let mut lines: Vec<CoverageItem> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in &items {
        if seen.insert(item.lines.start) {
            lines.push(CoverageItem {
                kind: ItemKind::Line,
                ..item.clone()
            });
        }
    }
    items.extend(lines);
    items.sort_by_key(CoverageItem::order);
    items
}

fn nodes<'a>(node: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    node[field].as_array().into_iter().flatten()
}

fn node_type(node: &Value) -> &str {
    node["nodeType"].as_str().unwrap_or_default()
}

struct Visitor<'a> {
    content: &'a str,
    line_starts: Vec<usize>,
    contract: String,
    branch_id: u32,
    items: Vec<CoverageItem>,
}

impl Visitor<'_> {
    fn next_branch(&mut self) -> u32 {
        self.branch_id += 1;
        self.branch_id - 1
    }

    /// `start:length:source` of a node.
    fn span(node: &Value) -> Option<Range<u32>> {
        let mut parts = node["src"].as_str()?.split(':');
        let start: u32 = parts.next()?.parse().ok()?;
        let length: u32 = parts.next()?.parse().ok()?;
        Some(start..start + length)
    }

    fn line_of(&self, offset: usize) -> u32 {
        self.line_starts.partition_point(|&start| start <= offset) as u32
    }

    fn push_span(&mut self, kind: ItemKind, span: Range<u32>) {
        let (mut start, mut end) = (span.start as usize, span.end as usize);
        // Source maps place statements without their semicolon.
        if let Some(text) = self.content.get(start..end)
            && let Some(stripped) = text.strip_suffix(';')
        {
            end = start + stripped.trim_end().len();
        }
        start = start.min(end);
        let first = self.line_of(start);
        let last = self.line_of(end.saturating_sub(1).max(start));
        self.items.push(CoverageItem {
            kind,
            contract: self.contract.clone(),
            bytes: start as u32..end as u32,
            lines: first..last + 1,
            hits: 0,
        });
    }

    fn push(&mut self, kind: ItemKind, node: &Value) {
        if let Some(span) = Self::span(node) {
            self.push_span(kind, span);
        }
    }

    fn statement(&mut self, node: &Value) {
        self.push(ItemKind::Statement, node);
    }

    fn function(&mut self, node: &Value) {
        let body = &node["body"];
        let has_statements = nodes(body, "statements").next().is_some();
        let kind = node["kind"].as_str().unwrap_or("function");
        let modifier = node_type(node) == "ModifierDefinition";
        if (modifier || kind != "function") && !has_statements {
            return;
        }
        let name = match node["name"].as_str() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => kind.to_string(),
        };
        let unimplemented = body.is_null();
        if !(node["virtual"] == true && unimplemented) {
            self.push(ItemKind::Function { name }, node);
        }
        if !unimplemented {
            self.stmt(body);
        }
    }

    fn has_statements(node: &Value) -> bool {
        match node_type(node) {
            "Block" | "UncheckedBlock" => nodes(node, "statements").next().is_some(),
            "InlineAssembly" => nodes(&node["AST"], "statements").next().is_some(),
            _ => true,
        }
    }

    fn stmt(&mut self, node: &Value) {
        match node_type(node) {
            "Break" | "Continue" | "EmitStatement" | "RevertStatement" => {
                self.statement(node);
                return;
            }
            "Return" | "VariableDeclarationStatement" => self.statement(node),
            "IfStatement" => {
                let branch_id = self.next_branch();
                let then = &node["trueBody"];
                let otherwise = &node["falseBody"];
                if Self::has_statements(then)
                    || (!otherwise.is_null() && Self::has_statements(otherwise))
                {
                    let kind = |path_id, first_opcode| ItemKind::Branch {
                        branch_id,
                        path_id,
                        first_opcode,
                    };
                    self.push(kind(0, true), then);
                    if !otherwise.is_null() {
                        // The whole statement: the condition is what the
                        // false path's jump belongs to.
                        self.push(kind(1, false), node);
                    }
                }
            }
            "TryStatement" => {
                let branch_id = self.next_branch();
                let mut path_id = 0;
                let start = Self::span(node).map(|s| s.start);
                for clause in nodes(node, "clauses") {
                    let Some(span) = Self::span(clause) else {
                        continue;
                    };
                    let span = match (path_id, start) {
                        (0, Some(start)) => start..span.end,
                        _ => span,
                    };
                    let has_statements = nodes(&clause["block"], "statements").next().is_some();
                    if path_id == 0 || has_statements {
                        self.push_span(
                            ItemKind::Branch {
                                branch_id,
                                path_id,
                                first_opcode: true,
                            },
                            span,
                        );
                        path_id += 1;
                    } else if nodes(&clause["parameters"], "parameters").next().is_some() {
                        self.push_span(ItemKind::Statement, span);
                    }
                }
            }
            _ => {}
        }
        self.walk_stmt(node);
    }

    fn walk_stmt(&mut self, node: &Value) {
        let field = |name: &str| Some(&node[name]).filter(|v| !v.is_null());
        match node_type(node) {
            "Block" | "UncheckedBlock" => {
                for statement in nodes(node, "statements") {
                    self.stmt(statement);
                }
            }
            "ExpressionStatement" => self.expr(&node["expression"]),
            "VariableDeclarationStatement" => {
                if let Some(value) = field("initialValue") {
                    self.expr(value);
                }
            }
            "Return" => {
                if let Some(value) = field("expression") {
                    self.expr(value);
                }
            }
            "IfStatement" => {
                self.expr(&node["condition"]);
                self.stmt(&node["trueBody"]);
                if let Some(otherwise) = field("falseBody") {
                    self.stmt(otherwise);
                }
            }
            "ForStatement" => {
                if let Some(init) = field("initializationExpression") {
                    self.stmt(init);
                }
                if let Some(condition) = field("condition") {
                    self.expr(condition);
                }
                if let Some(next) = field("loopExpression") {
                    self.expr(&next["expression"]);
                }
                self.stmt(&node["body"]);
            }
            "WhileStatement" => {
                self.expr(&node["condition"]);
                self.stmt(&node["body"]);
            }
            "DoWhileStatement" => {
                self.stmt(&node["body"]);
                self.expr(&node["condition"]);
            }
            "TryStatement" => {
                self.expr(&node["externalCall"]);
                for clause in nodes(node, "clauses") {
                    self.stmt(&clause["block"]);
                }
            }
            "InlineAssembly" => self.yul_stmt(&node["AST"]),
            _ => {}
        }
    }

    fn expr(&mut self, node: &Value) {
        match node_type(node) {
            "Assignment" | "BinaryOperation" | "Conditional" => {
                self.statement(node);
                if node_type(node) == "BinaryOperation" {
                    self.expr(&node["leftExpression"]);
                    self.expr(&node["rightExpression"]);
                }
            }
            "UnaryOperation" if node["operator"] != "delete" => self.statement(node),
            "FunctionCall" => {
                // Calls, not type conversions or struct constructors.
                if node["kind"] == "functionCall" {
                    self.statement(node);
                }
                let callee = &node["expression"];
                if node_type(callee) == "Identifier" && callee["name"] == "require" {
                    let branch_id = self.next_branch();
                    for path_id in 0..2 {
                        self.push(
                            ItemKind::Branch {
                                branch_id,
                                path_id,
                                first_opcode: false,
                            },
                            node,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn yul_stmt(&mut self, node: &Value) {
        match node_type(node) {
            "YulVariableDeclaration"
            | "YulAssignment"
            | "YulLeave"
            | "YulBreak"
            | "YulContinue"
            | "YulExpressionStatement" => self.statement(node),
            "YulIf" => {
                let branch_id = self.next_branch();
                self.push(
                    ItemKind::Branch {
                        branch_id,
                        path_id: 0,
                        first_opcode: false,
                    },
                    node,
                );
                self.yul_expr(&node["condition"]);
                self.yul_stmt(&node["body"]);
            }
            "YulForLoop" => {
                self.statement(&node["body"]);
                self.yul_stmt(&node["pre"]);
                self.yul_expr(&node["condition"]);
                self.yul_stmt(&node["post"]);
                self.yul_stmt(&node["body"]);
            }
            "YulSwitch" => {
                for case in nodes(node, "cases") {
                    self.statement(case);
                    self.statement(&case["body"]);
                }
                self.yul_expr(&node["expression"]);
                for case in nodes(node, "cases") {
                    self.yul_stmt(&case["body"]);
                }
            }
            "YulFunctionDefinition" => {
                let name = node["name"].as_str().unwrap_or_default().to_string();
                self.push(ItemKind::Function { name }, node);
                self.yul_stmt(&node["body"]);
            }
            "YulBlock" => {
                for statement in nodes(node, "statements") {
                    self.yul_stmt(statement);
                }
            }
            _ => {}
        }
    }

    fn yul_expr(&mut self, node: &Value) {
        if node_type(node) == "YulFunctionCall" {
            self.statement(node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_maps_inherit_empty_fields() {
        let map = parse_source_map("1:2:0:-;:5;;3::-1");
        let at = |offset, length, source| SourceElement {
            offset,
            length,
            source,
        };
        assert_eq!(map, [at(1, 2, 0), at(1, 5, 0), at(1, 5, 0), at(3, 5, -1)]);
    }

    #[test]
    fn instructions_skip_push_data() {
        // PUSH1 0x80, PUSH0, PUSH2 0x0102, JUMPI
        assert_eq!(
            instruction_pcs(&[0x60, 0x80, 0x5f, 0x61, 1, 2, 0x57]),
            [0, 2, 3, 6]
        );
        let elements = vec![
            SourceElement {
                offset: 10,
                length: 5,
                source: 0
            };
            4
        ];
        // The PUSH2 before the JUMPI is in range: after-JUMPI pc 7, dest 0x0102.
        assert_eq!(
            branch_anchors(
                &[0x60, 0x80, 0x5f, 0x61, 1, 2, 0x57],
                &elements,
                0,
                &(10..20)
            ),
            Some((7, 0x0102))
        );
        assert_eq!(
            branch_anchors(
                &[0x60, 0x80, 0x5f, 0x61, 1, 2, 0x57],
                &elements,
                1,
                &(10..20)
            ),
            None
        );
    }
}
