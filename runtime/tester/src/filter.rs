//! Which tests a run selects: forge's `--match-*` / `--no-match-*` flags.

use globset::{Glob, GlobMatcher};
use regex::Regex;

use crate::{artifacts::ContractArtifact, error::TesterError};

/// Which tests to run.
#[derive(Clone, Debug, Default)]
pub struct TestFilter {
    match_test: Option<Regex>,
    no_match_test: Option<Regex>,
    match_contract: Option<Regex>,
    no_match_contract: Option<Regex>,
    match_path: Option<GlobMatcher>,
    no_match_path: Option<GlobMatcher>,
}

fn regex(pattern: Option<&str>) -> Result<Option<Regex>, TesterError> {
    pattern
        .map(|p| {
            Regex::new(p).map_err(|e| TesterError::Pattern {
                pattern: p.to_string(),
                message: e.to_string(),
            })
        })
        .transpose()
}

fn glob(pattern: Option<&str>) -> Result<Option<GlobMatcher>, TesterError> {
    pattern
        .map(|p| {
            Glob::new(p)
                .map(|g| g.compile_matcher())
                .map_err(|e| TesterError::Pattern {
                    pattern: p.to_string(),
                    message: e.to_string(),
                })
        })
        .transpose()
}

impl TestFilter {
    /// Builds a filter from `--match-test`, `--no-match-test`,
    /// `--match-contract`, `--no-match-contract` (regexes) and `--match-path`,
    /// `--no-match-path` (globs).
    pub fn new(
        match_test: Option<&str>,
        no_match_test: Option<&str>,
        match_contract: Option<&str>,
        no_match_contract: Option<&str>,
        match_path: Option<&str>,
        no_match_path: Option<&str>,
    ) -> Result<Self, TesterError> {
        Ok(Self {
            match_test: regex(match_test)?,
            no_match_test: regex(no_match_test)?,
            match_contract: regex(match_contract)?,
            no_match_contract: regex(no_match_contract)?,
            match_path: glob(match_path)?,
            no_match_path: glob(no_match_path)?,
        })
    }

    /// Whether a test contract is selected.
    pub fn matches_contract(&self, contract: &ContractArtifact) -> bool {
        let name_ok = self
            .match_contract
            .as_ref()
            .is_none_or(|r| r.is_match(&contract.name))
            && !self
                .no_match_contract
                .as_ref()
                .is_some_and(|r| r.is_match(&contract.name));
        let path_ok = self
            .match_path
            .as_ref()
            .is_none_or(|g| path_matches(g, &contract.source))
            && !self
                .no_match_path
                .as_ref()
                .is_some_and(|g| path_matches(g, &contract.source));
        name_ok && path_ok
    }

    /// Whether a test function is selected.
    pub fn matches_test(&self, name: &str) -> bool {
        self.match_test.as_ref().is_none_or(|r| r.is_match(name))
            && !self
                .no_match_test
                .as_ref()
                .is_some_and(|r| r.is_match(name))
    }
}

/// Globs match the full path or any suffix of it (`Counter.t.sol`, `test/*.sol`).
fn path_matches(glob: &GlobMatcher, source: &str) -> bool {
    if glob.is_match(source) {
        return true;
    }
    let parts: Vec<&str> = source.split('/').collect();
    (1..parts.len()).any(|i| glob.is_match(parts[i..].join("/")))
}
