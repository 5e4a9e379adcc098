//! Conversions from the ide layer's values (byte ranges, own kinds) to LSP's types.

use crate::{
    analysis::{FileDiagnostic, Severity},
    ide::{
        FileRange,
        completion::{Completion, CompletionKind},
        semantic_tokens::Token,
        symbols::OutlineItem,
    },
    index::{FileData, Index, SymbolKind},
    line_index::LineIndex,
};
use tower_lsp::lsp_types::*;

pub(super) fn to_lsp_diagnostic(
    text: &str,
    li: &LineIndex,
    d: &FileDiagnostic,
    source: &str,
) -> Diagnostic {
    Diagnostic {
        range: li.range(text, d.range.start, d.range.end),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Info => DiagnosticSeverity::INFORMATION,
        }),
        code: d.code.clone().map(NumberOrString::String),
        source: Some(source.to_string()),
        message: d.message.clone(),
        ..Default::default()
    }
}

/// An LSP location for a byte range of an indexed file (a file not indexed
/// yet, such as an import's target, is named with an empty range).
pub(super) fn lsp_location(index: &Index, at: &FileRange) -> Option<Location> {
    let uri = Url::from_file_path(&at.path).ok()?;
    let range = match index.files.get(&at.path) {
        Some(data) => data
            .line_index
            .range(&data.text, at.range.start, at.range.end),
        None if at.range.is_empty() => Range::default(),
        None => return None,
    };
    Some(Location { uri, range })
}

pub(super) fn markdown(value: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    })
}

pub(super) fn completion_kind(kind: CompletionKind) -> CompletionItemKind {
    match kind {
        CompletionKind::Keyword => CompletionItemKind::KEYWORD,
        CompletionKind::Type => CompletionItemKind::TYPE_PARAMETER,
        CompletionKind::Global => CompletionItemKind::VARIABLE,
        CompletionKind::Snippet => CompletionItemKind::SNIPPET,
        CompletionKind::Method => CompletionItemKind::METHOD,
        CompletionKind::Field => CompletionItemKind::FIELD,
        CompletionKind::Folder => CompletionItemKind::FOLDER,
        CompletionKind::File => CompletionItemKind::FILE,
        CompletionKind::Symbol(kind) => match kind {
            SymbolKind::Contract | SymbolKind::AbstractContract => CompletionItemKind::CLASS,
            SymbolKind::Interface => CompletionItemKind::INTERFACE,
            SymbolKind::Library => CompletionItemKind::MODULE,
            SymbolKind::Function | SymbolKind::Modifier => CompletionItemKind::FUNCTION,
            SymbolKind::Constructor | SymbolKind::Fallback | SymbolKind::Receive => {
                CompletionItemKind::CONSTRUCTOR
            }
            SymbolKind::Event => CompletionItemKind::EVENT,
            SymbolKind::Error | SymbolKind::Struct => CompletionItemKind::STRUCT,
            SymbolKind::Field => CompletionItemKind::FIELD,
            SymbolKind::Enum => CompletionItemKind::ENUM,
            SymbolKind::EnumVariant => CompletionItemKind::ENUM_MEMBER,
            SymbolKind::Udvt => CompletionItemKind::TYPE_PARAMETER,
            SymbolKind::Constant | SymbolKind::FileVariable => CompletionItemKind::CONSTANT,
            SymbolKind::StateVariable => CompletionItemKind::PROPERTY,
            _ => CompletionItemKind::VARIABLE,
        },
    }
}

pub(super) fn lsp_completion(c: Completion) -> CompletionItem {
    CompletionItem {
        label: c.label,
        kind: Some(completion_kind(c.kind)),
        detail: c.detail,
        documentation: c.documentation.map(markdown),
        insert_text_format: c.snippet.as_ref().map(|_| InsertTextFormat::SNIPPET),
        insert_text: c.snippet,
        ..Default::default()
    }
}

#[allow(deprecated)]
pub(super) fn lsp_outline(data: &FileData, item: OutlineItem) -> DocumentSymbol {
    let children: Vec<DocumentSymbol> = item
        .children
        .into_iter()
        .map(|c| lsp_outline(data, c))
        .collect();
    DocumentSymbol {
        name: item.name,
        detail: Some(item.detail),
        kind: lsp_symbol_kind(item.kind),
        tags: None,
        deprecated: None,
        range: data
            .line_index
            .range(&data.text, item.range.start, item.range.end),
        selection_range: data.line_index.range(
            &data.text,
            item.name_range.start,
            item.name_range.end,
        ),
        children: (!children.is_empty()).then_some(children),
    }
}

/// LSP's relative encoding of semantic tokens; tokens spanning lines are left out.
pub(super) fn lsp_semantic_tokens(data: &FileData, tokens: Vec<Token>) -> Vec<SemanticToken> {
    let mut out = Vec::new();
    let (mut prev_line, mut prev_col) = (0u32, 0u32);
    for token in tokens {
        let range = data
            .line_index
            .range(&data.text, token.range.start, token.range.end);
        if range.start.line != range.end.line {
            continue;
        }
        let delta_line = range.start.line - prev_line;
        let delta_start = if delta_line == 0 {
            range.start.character - prev_col
        } else {
            range.start.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: range.end.character - range.start.character,
            token_type: token_type(token.kind),
            token_modifiers_bitset: u32::from(token.is_declaration),
        });
        prev_line = range.start.line;
        prev_col = range.start.character;
    }
    out
}

pub(super) fn lsp_symbol_kind(kind: SymbolKind) -> tower_lsp::lsp_types::SymbolKind {
    use tower_lsp::lsp_types::SymbolKind as K;
    match kind {
        SymbolKind::Contract | SymbolKind::AbstractContract => K::CLASS,
        SymbolKind::Interface => K::INTERFACE,
        SymbolKind::Library => K::MODULE,
        SymbolKind::Function
        | SymbolKind::Modifier
        | SymbolKind::Fallback
        | SymbolKind::Receive => K::FUNCTION,
        SymbolKind::Constructor => K::CONSTRUCTOR,
        SymbolKind::Event => K::EVENT,
        SymbolKind::Error | SymbolKind::Struct => K::STRUCT,
        SymbolKind::Field => K::FIELD,
        SymbolKind::Enum => K::ENUM,
        SymbolKind::EnumVariant => K::ENUM_MEMBER,
        SymbolKind::Udvt => K::TYPE_PARAMETER,
        SymbolKind::Constant | SymbolKind::FileVariable => K::CONSTANT,
        SymbolKind::StateVariable => K::PROPERTY,
        _ => K::VARIABLE,
    }
}

/// Semantic token types, in legend order.
pub(super) const TOKEN_TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::CLASS,
    SemanticTokenType::INTERFACE,
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::EVENT,
    SemanticTokenType::STRUCT,
    SemanticTokenType::ENUM,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::TYPE,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::MACRO,
];

pub(super) fn token_type(kind: SymbolKind) -> u32 {
    match kind {
        SymbolKind::Contract | SymbolKind::AbstractContract => 0,
        SymbolKind::Interface => 1,
        SymbolKind::Library => 2,
        SymbolKind::Function
        | SymbolKind::Constructor
        | SymbolKind::Fallback
        | SymbolKind::Receive => 3,
        SymbolKind::Modifier => 12,
        SymbolKind::Event => 4,
        SymbolKind::Error | SymbolKind::Struct => 5,
        SymbolKind::Enum => 6,
        SymbolKind::EnumVariant => 7,
        SymbolKind::Udvt => 8,
        SymbolKind::StateVariable
        | SymbolKind::Constant
        | SymbolKind::FileVariable
        | SymbolKind::Field => 9,
        SymbolKind::Parameter | SymbolKind::ReturnParameter => 10,
        SymbolKind::Local => 11,
    }
}
