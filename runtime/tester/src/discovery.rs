//! Which contracts of a build are test contracts, and what each test
//! function is: forge's naming conventions.

use alloy::json_abi::Function;

use crate::{
    artifacts::{ArtifactSet, ContractArtifact},
    config::TestConfig,
};

/// How a test function runs, from its name and parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TestShape {
    /// `test*()` without parameters: one call.
    Unit,
    /// `test*(…)` with parameters: called with generated inputs.
    Fuzz,
    /// `invariant*()` / `statefulFuzz*()`: checked after random call sequences.
    Invariant,
}

impl TestShape {
    pub(crate) fn of(function: &Function) -> Self {
        if function.name.starts_with("invariant") || function.name.starts_with("statefulFuzz") {
            TestShape::Invariant
        } else if function.inputs.is_empty() {
            TestShape::Unit
        } else {
            TestShape::Fuzz
        }
    }
}

pub(crate) fn is_test_function(f: &Function) -> bool {
    f.name.starts_with("test")
        || f.name.starts_with("invariant")
        || f.name.starts_with("statefulFuzz")
}

/// `testFail*`: the test passes when its call fails (ds-test's convention).
pub(crate) fn expects_failure(f: &Function) -> bool {
    f.name.starts_with("testFail")
}

/// Test contracts of a build that the filter selects, in a stable order.
pub fn test_contracts<'a>(
    artifacts: &'a ArtifactSet,
    config: &TestConfig,
) -> Vec<&'a ContractArtifact> {
    let dir = format!("{}/", config.test_dir.trim_end_matches('/'));
    artifacts
        .contracts
        .iter()
        .filter(|c| {
            c.source.starts_with(&dir)
                || c.source.contains(&format!("/{dir}"))
                || c.source.ends_with(".t.sol")
        })
        .filter(|c| !c.bytecode.is_empty())
        .filter(|c| c.abi.functions().any(is_test_function))
        .filter(|c| config.filter.matches_contract(c))
        .filter(|c| {
            c.abi
                .functions()
                .any(|f| is_test_function(f) && config.filter.matches_test(&f.name))
        })
        .collect()
}

/// The selected test functions of a test contract, in signature order.
pub(crate) fn test_functions<'a>(
    contract: &'a ContractArtifact,
    config: &TestConfig,
) -> Vec<&'a Function> {
    let mut functions: Vec<&Function> = contract
        .abi
        .functions()
        .filter(|f| is_test_function(f) && config.filter.matches_test(&f.name))
        .collect();
    functions.sort_by_key(|f| f.signature());
    functions
}

/// The contract's `setUp()`, when it has one.
pub(crate) fn setup_function(contract: &ContractArtifact) -> Option<&Function> {
    contract
        .abi
        .functions()
        .find(|f| f.name == "setUp" && f.inputs.is_empty())
}
