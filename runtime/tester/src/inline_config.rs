//! Foundry's inline configuration: `/// forge-config: default.fuzz.runs = 10`
//! doc comments on a test contract or one of its functions change the run's
//! settings for that contract or function, as forge reads them (the lines of
//! one doc comment are joined and read as TOML; a function's settings go over
//! its contract's, which go over the run's).
//!
//! forge parses the source with solar; here a small scanner finds the doc
//! comments (`///` lines and `/** */` blocks) right before a `contract`,
//! `library` or `interface` and before each `function` of its body, skipping
//! strings and ordinary comments.

use std::collections::HashMap;

use crate::config::TestConfig;

const PREFIX: &str = "forge-config:";

/// One doc comment holding inline configuration.
#[derive(Clone, Debug, PartialEq)]
struct NatSpec {
    /// The function it is on (`None`: the contract).
    function: Option<String>,
    /// Where it starts, `line:column` (1-based).
    line: String,
    /// The configuration lines, without the prefix.
    lines: Vec<String>,
}

/// The inline configuration of one test contract.
#[derive(Clone, Debug, Default)]
pub(crate) struct InlineConfig {
    /// Settings of the contract (`None`) and of its functions, by name.
    entries: HashMap<Option<String>, Vec<(String, toml::Table)>>,
}

/// Why inline configuration cannot be applied: forge's message shape,
/// `Inline config error at <file>:<line>:<column>: <what>`.
#[derive(Debug, thiserror::Error)]
#[error("Inline config error at {location}: {message}")]
pub(crate) struct InlineConfigError {
    location: String,
    message: String,
}

impl InlineConfigError {
    fn at(location: &str, message: String) -> Self {
        Self {
            location: location.to_string(),
            message,
        }
    }
}

impl InlineConfig {
    /// Reads the inline configuration of contract `name` from the text of
    /// its source file `source`; malformed TOML is an error naming where.
    pub(crate) fn parse(source: &str, text: &str, name: &str) -> Result<Self, InlineConfigError> {
        let mut config = Self::default();
        if !text.contains(PREFIX) {
            return Ok(config);
        }
        for natspec in scan(text, name) {
            let joined = natspec
                .lines
                .iter()
                .map(|line| match line.find('=') {
                    // `max-test-rejects` is `max_test_rejects`, as forge reads it.
                    Some(i) => line[..i].replace('-', "_") + &line[i..],
                    None => line.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n");
            let location = format!("{source}:{}", natspec.line);
            let table: toml::Table =
                joined
                    .parse()
                    .map_err(|e: toml::de::Error| InlineConfigError {
                        location: location.clone(),
                        message: e.message().to_string(),
                    })?;
            config
                .entries
                .entry(natspec.function)
                .or_default()
                .push((location, table));
        }
        Ok(config)
    }

    /// Whether any inline configuration is set on the contract or `function`.
    pub(crate) fn applies_to(&self, function: Option<&str>) -> bool {
        self.entries.contains_key(&None)
            || function.is_some_and(|f| self.entries.contains_key(&Some(f.to_string())))
    }

    /// `base` with the contract's settings, then `function`'s, applied.
    pub(crate) fn apply(
        &self,
        base: &TestConfig,
        function: Option<&str>,
    ) -> Result<TestConfig, InlineConfigError> {
        let mut config = base.clone();
        let levels = [None, function.map(str::to_string)];
        let levels = if function.is_some() {
            &levels[..]
        } else {
            &levels[..1]
        };
        for level in levels {
            for (location, table) in self.entries.get(level).into_iter().flatten() {
                for (profile, settings) in table {
                    // Only the default profile's settings apply: forja runs
                    // no other profile.
                    if profile != "default" {
                        continue;
                    }
                    let settings = settings.as_table().ok_or_else(|| InlineConfigError {
                        location: location.clone(),
                        message: format!("`{profile}` must be followed by a key"),
                    })?;
                    apply_settings(&mut config, settings, location)?;
                }
            }
        }
        Ok(config)
    }
}

fn apply_settings(
    config: &mut TestConfig,
    settings: &toml::Table,
    location: &str,
) -> Result<(), InlineConfigError> {
    for (key, value) in settings {
        match (key.as_str(), value) {
            ("fuzz" | "invariant", toml::Value::Table(section)) => {
                for (inner, value) in section {
                    let name = format!("{key}.{inner}");
                    match name.as_str() {
                        "fuzz.runs" => config.fuzz_runs = number(location, &name, value)?,
                        "fuzz.max_test_rejects" => {
                            config.fuzz_max_rejects = number(location, &name, value)?
                        }
                        "fuzz.seed" => config.fuzz_seed = Some(seed(location, value)?),
                        "invariant.runs" => config.invariant_runs = number(location, &name, value)?,
                        "invariant.depth" => {
                            config.invariant_depth = number(location, &name, value)?
                        }
                        "invariant.fail_on_revert" => {
                            config.invariant_fail_on_revert = boolean(location, &name, value)?
                        }
                        _ => return Err(InlineConfigError::at(location, unknown(&name))),
                    }
                }
            }
            ("allow_internal_expect_revert", value) => {
                config.allow_internal_expect_revert = boolean(location, key, value)?
            }
            ("isolate", value) => config.isolate = boolean(location, key, value)?,
            ("always_use_create_2_factory", value) => {
                config.always_use_create_2_factory = boolean(location, key, value)?
            }
            _ => return Err(InlineConfigError::at(location, unknown(key))),
        }
    }
    Ok(())
}

fn unknown(key: &str) -> String {
    format!(
        "`{key}` is not a setting forja knows (it applies fuzz.runs, fuzz.seed, \
         fuzz.max_test_rejects, invariant.runs, invariant.depth, invariant.fail_on_revert, \
         allow_internal_expect_revert, isolate and always_use_create_2_factory)"
    )
}

fn number(location: &str, name: &str, value: &toml::Value) -> Result<u32, InlineConfigError> {
    value
        .as_integer()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            InlineConfigError::at(
                location,
                format!(
                    "`{name}` must be a number from 0 to {}, not {value}",
                    u32::MAX
                ),
            )
        })
}

fn boolean(location: &str, name: &str, value: &toml::Value) -> Result<bool, InlineConfigError> {
    value.as_bool().ok_or_else(|| {
        InlineConfigError::at(
            location,
            format!("`{name}` must be true or false, not {value}"),
        )
    })
}

/// A fuzz seed: a number, or a string holding a decimal or `0x` number.
fn seed(location: &str, value: &toml::Value) -> Result<u64, InlineConfigError> {
    let parsed = match value {
        toml::Value::Integer(n) => u64::try_from(*n).ok(),
        toml::Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        InlineConfigError::at(
            location,
            format!("`fuzz.seed` must be a number below 2^64, not {value}"),
        )
    })
}

/// The inline-configuration doc comments of contract `name` in `text`.
fn scan(text: &str, name: &str) -> Vec<NatSpec> {
    let mut found = Vec::new();
    // Doc comments seen since the last token: (line:column, text).
    let mut docs: Vec<(String, String)> = Vec::new();
    // Brace depth, and the depth of the body of contract `name` once in it.
    let mut depth = 0usize;
    let mut body: Option<usize> = None;
    // What the next identifier names.
    let mut expecting: Option<bool> = None; // Some(true): a contract; Some(false): a function
    let mut pending: Vec<(String, String)> = Vec::new();
    let bytes = text.as_bytes();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let position = |at: usize, line: usize, line_start: usize| {
        format!("{line}:{}", text[line_start..at].chars().count() + 1)
    };
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            line_start = i + 1;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            if text[i..].starts_with("///") && !text[i..].starts_with("////") {
                docs.push((position(i, line, line_start), text[i + 3..end].to_string()));
            }
            i = end;
            continue;
        }
        if text[i..].starts_with("/*") {
            let end = text[i + 2..]
                .find("*/")
                .map_or(text.len(), |n| i + 2 + n + 2);
            let comment = &text[i..end];
            if comment.starts_with("/**") && !comment.starts_with("/**/") {
                let inner = comment
                    .trim_start_matches("/**")
                    .trim_end_matches("*/")
                    .lines()
                    .map(|l| l.trim_start().trim_start_matches('*'))
                    .collect::<Vec<_>>()
                    .join("\n");
                docs.push((position(i, line, line_start), inner));
            }
            for _ in comment.matches('\n') {
                line += 1;
            }
            if let Some(n) = comment.rfind('\n') {
                line_start = i + n + 1;
            }
            i = end;
            continue;
        }
        if c == b'"' || c == b'\'' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != c {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            i = (j + 1).min(bytes.len());
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
            {
                i += 1;
            }
            let word = &text[start..i];
            match expecting.take() {
                Some(is_contract) => {
                    if is_contract {
                        if word == name && depth == 0 {
                            body = Some(depth + 1);
                            push(&mut found, None, &pending);
                        }
                    } else if body == Some(depth) {
                        push(&mut found, Some(word.to_string()), &pending);
                    }
                    pending.clear();
                }
                None => match word {
                    "abstract" => continue,
                    "contract" | "library" | "interface" if depth == 0 => {
                        pending = std::mem::take(&mut docs);
                        expecting = Some(true);
                    }
                    "function" if body == Some(depth) => {
                        pending = std::mem::take(&mut docs);
                        expecting = Some(false);
                    }
                    _ => {}
                },
            }
            docs.clear();
            continue;
        }
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if body.is_some_and(|b| depth < b) {
                    body = None;
                }
            }
            _ => {}
        }
        docs.clear();
        i += 1;
    }
    found
}

fn push(found: &mut Vec<NatSpec>, function: Option<String>, docs: &[(String, String)]) {
    let mut lines = Vec::new();
    let mut start = None;
    for (position, text) in docs {
        for line in text.lines() {
            if let Some(at) = line.find(PREFIX) {
                start.get_or_insert_with(|| position.clone());
                lines.push(line[at + PREFIX.len()..].trim().to_string());
            }
        }
    }
    if let Some(line) = start {
        found.push(NatSpec {
            function,
            line,
            lines,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"
import "x.sol";

/// forge-config: default.fuzz.runs = 600
contract C is Test {
    string s = "/// forge-config: default.fuzz.runs = 1";
    // forge-config: default.fuzz.runs = 2
    /// forge-config: default.fuzz.runs = 700
    function f1() public {}
    /**
     * forge-config: default.fuzz.runs = 1024
     * forge-config: default.fuzz.max-test-rejects = 500
     */
    function f2(uint256 a) public { if (a > 0) { } }
    /// forge-config: default.allow_internal_expect_revert = true
    function f3() public {}
}

/// forge-config: default.fuzz.runs = 5
contract D {}
"#;

    #[test]
    fn doc_comments_on_the_contract_and_its_functions_are_read() {
        let found = scan(SOURCE, "C");
        let summary: Vec<_> = found
            .iter()
            .map(|n| (n.function.clone(), n.line.clone(), n.lines.join(";")))
            .collect();
        assert_eq!(
            summary,
            [
                (None, "4:1".into(), "default.fuzz.runs = 600".into()),
                (
                    Some("f1".into()),
                    "8:5".into(),
                    "default.fuzz.runs = 700".into()
                ),
                (
                    Some("f2".into()),
                    "10:5".into(),
                    "default.fuzz.runs = 1024;default.fuzz.max-test-rejects = 500".into()
                ),
                (
                    Some("f3".into()),
                    "15:5".into(),
                    "default.allow_internal_expect_revert = true".into()
                ),
            ]
        );
        let config = InlineConfig::parse("test/C.t.sol", SOURCE, "C").unwrap();
        let base = TestConfig::default();
        assert_eq!(config.apply(&base, None).unwrap().fuzz_runs, 600);
        let f2 = config.apply(&base, Some("f2")).unwrap();
        assert_eq!((f2.fuzz_runs, f2.fuzz_max_rejects), (1024, 500));
        assert!(
            config
                .apply(&base, Some("f3"))
                .unwrap()
                .allow_internal_expect_revert
        );
        assert!(
            !config
                .apply(&base, Some("f1"))
                .unwrap()
                .allow_internal_expect_revert
        );
    }

    #[test]
    fn an_unknown_key_or_bad_toml_names_the_file_and_line() {
        let text = "contract C {\n    /// forge-config: default.fuzz.runz = 3\n    function f() public {}\n}\n";
        let config = InlineConfig::parse("test/C.t.sol", text, "C").unwrap();
        let error = config.apply(&TestConfig::default(), Some("f")).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "Inline config error at test/C.t.sol:2:5: `fuzz.runz` is not a setting"
            ),
            "{error}"
        );
        let text = "/// forge-config: default.fuzz.runs = \ncontract C {}\n";
        let error = InlineConfig::parse("test/C.t.sol", text, "C").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("Inline config error at test/C.t.sol:1:1: "),
            "{error}"
        );
    }
}
