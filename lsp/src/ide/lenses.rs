//! "▶ Run test" lenses on the test functions of test files.

use crate::index::{FileData, SymbolKind};
use std::ops::Range;

/// A test function the user can run from the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLens {
    /// The function's name.
    pub range: Range<usize>,
    pub test_name: String,
}

/// The `test*`/`invariant*` functions of a `.t.sol` file or a file under `test/`.
pub fn test_lenses(data: &FileData) -> Vec<TestLens> {
    let is_test_file = data.path.to_string_lossy().ends_with(".t.sol")
        || data.path.components().any(|c| c.as_os_str() == "test");
    if !is_test_file {
        return Vec::new();
    }
    data.symbols
        .iter()
        .filter(|s| {
            s.kind == SymbolKind::Function
                && (s.name.starts_with("test") || s.name.starts_with("invariant"))
                && s.container.is_some()
        })
        .map(|s| TestLens {
            range: s.name_range.clone(),
            test_name: s.name.clone(),
        })
        .collect()
}
