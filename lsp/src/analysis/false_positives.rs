//! Known false positives of solar's experimental type checker.
//!
//! Solar 0.2.0's `typeck` rejects a few valid patterns that solc accepts
//! (measured on OpenZeppelin 5.7). A language server that reports errors on
//! valid code gets switched off, so those diagnostics are downgraded to
//! information here; solc (on save) stays the authority.

use super::diagnostics::{FileDiagnostic, Severity};

const NOTE: &str = " (solar 0.2 reports this on valid code; solc decides on save)";

/// Downgrades diagnostics of `text` that match known solar false positives.
pub(super) fn filter_false_positives(text: &str, list: &mut [FileDiagnostic]) {
    let snippet = |d: &FileDiagnostic| text.get(d.range.clone()).unwrap_or("").trim().to_string();
    let mut downgraded: Vec<std::ops::Range<usize>> = Vec::new();
    // 1. `require(cond, Lib.CustomError(...))`: custom errors reached through a
    //    library or interface name are valid since solc 0.8.26.
    // 2. Overloads where one candidate takes a function-type parameter.
    // 3. `string s = "";`: the empty literal converts to any string/bytes.
    for d in list.iter() {
        let s = snippet(d);
        let is_fp = (d.message == "errors can only be used with revert statements"
            && s.contains('.')
            && inside_require(text, d.range.start))
            || (d.message.starts_with("member `")
                && d.message.contains("` not unique on type `type("))
            || (d.message.starts_with("mismatched types") && (s == "\"\"" || s == "''"));
        if is_fp {
            downgraded.push(d.range.clone());
        }
    }
    // Follow-on errors at the same place, or in the arguments of a downgraded call.
    for d in list.iter() {
        let follows = downgraded.iter().any(|r| {
            *r == d.range
                || (d.message == "no matching declarations found"
                    && d.range.start >= r.end
                    && text.get(r.end..d.range.start).is_some_and(|between| {
                        between.trim_start().starts_with('(') && !between.contains(';')
                    }))
        });
        if follows && !downgraded.contains(&d.range) {
            downgraded.push(d.range.clone());
        }
    }
    for d in list.iter_mut() {
        if d.severity == Severity::Error && downgraded.contains(&d.range) {
            d.severity = Severity::Info;
            d.message.push_str(NOTE);
        }
    }
}

/// Whether `offset` is inside the argument list of a `require(` call.
fn inside_require(text: &str, offset: usize) -> bool {
    let before = &text[..offset.min(text.len())];
    let stmt_start = before.rfind([';', '{', '}']).map_or(0, |i| i + 1);
    let code: String = before[stmt_start..]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    code.trim_start().starts_with("require")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(text: &str, snippet: &str, message: &str) -> FileDiagnostic {
        let start = text.find(snippet).unwrap();
        FileDiagnostic {
            range: start..start + snippet.len(),
            severity: Severity::Error,
            code: None,
            message: message.into(),
        }
    }

    #[test]
    fn downgrades_require_with_qualified_error_but_not_real_errors() {
        let text = "function f() { require(x, Errors.Failed()); Errors.Other(); }";
        let mut list = vec![
            diag(
                text,
                "Errors.Failed()",
                "errors can only be used with revert statements",
            ),
            diag(text, "Errors.Failed()", "mismatched types"),
            diag(
                text,
                "Errors.Other()",
                "errors can only be used with revert statements",
            ),
        ];
        filter_false_positives(text, &mut list);
        assert_eq!(list[0].severity, Severity::Info);
        assert_eq!(list[1].severity, Severity::Info);
        assert_eq!(
            list[2].severity,
            Severity::Error,
            "a bare error call outside require is real"
        );
    }
}
