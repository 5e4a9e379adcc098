//! Conversion between byte offsets and LSP positions (UTF-16 columns).

use tower_lsp::lsp_types::{Position, Range};

/// Line starts of one text, for offset <-> position conversion.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            line_starts,
            len: text.len(),
        }
    }

    /// The LSP position of byte `offset` in `text` (which must be the indexed text).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(self.len);
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let column: usize = text
            .get(start..offset)
            .map(|s| s.chars().map(char::len_utf16).sum())
            .unwrap_or(offset - start);
        Position::new(line as u32, column as u32)
    }

    /// The LSP range of the byte range `start..end`.
    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(self.position(text, start), self.position(text, end))
    }

    /// The byte offset of an LSP position, clamped to the text.
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let Some(&start) = self.line_starts.get(position.line as usize) else {
            return self.len;
        };
        let end = self
            .line_starts
            .get(position.line as usize + 1)
            .copied()
            .unwrap_or(self.len);
        let mut utf16 = 0u32;
        for (i, ch) in text[start..end].char_indices() {
            if utf16 >= position.character || ch == '\n' {
                return start + i;
            }
            utf16 += ch.len_utf16() as u32;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_multibyte_text() {
        let text = "ab\n// ñé€x\nlast";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        let pos = index.position(text, x);
        assert_eq!(pos, Position::new(1, 6));
        assert_eq!(index.offset(text, pos), x);
        assert_eq!(index.position(text, text.len()), Position::new(2, 4));
        assert_eq!(index.offset(text, Position::new(9, 0)), text.len());
    }
}
