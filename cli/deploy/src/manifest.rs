//! `deploy.toml`: the contracts to deploy, in order, their constructor
//! arguments and libraries, and calls to make once they are deployed.
//!
//! ```toml
//! [[contracts]]
//! name = "Token"                       # the deployment's name
//! artifact = "src/Token.sol:Token"     # optional; defaults to `name`
//! args = ["${dev:1}", 1000, "${env:TOKEN_SYMBOL}"]
//! libraries = { MathLib = "${MathLib.address}" }
//!
//! [[calls]]
//! contract = "Token"
//! function = "grantRole(bytes32,address)"
//! args = ["0x…", "${Registry.address}"]
//! ```
//!
//! Strings may embed `${Name.address}` (a contract deployed earlier),
//! `${env:VAR}`, `${deployer}` and, on dev networks, `${dev:N}` (account N of
//! the dev mnemonic).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use alloy::dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _, Specifier as _};
use alloy::json_abi::{Function, JsonAbi, Param};
use alloy::primitives::Address;
use anyhow::{Context as _, bail};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub contracts: Vec<ContractSpec>,
    pub calls: Vec<CallSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    pub name: String,
    /// `Name` or `path/File.sol:Name`; defaults to `name`.
    #[serde(default)]
    pub artifact: Option<String>,
    #[serde(default)]
    pub args: Vec<toml::Value>,
    /// Library name → address expression.
    #[serde(default)]
    pub libraries: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// A contract deployed by this manifest.
    pub contract: String,
    /// `name` or a full signature `name(type,…)` when overloaded.
    pub function: String,
    #[serde(default)]
    pub args: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    contracts: Vec<ContractSpec>,
    #[serde(default)]
    calls: Vec<CallSpec>,
}

impl ContractSpec {
    pub fn artifact_ref(&self) -> &str {
        self.artifact.as_deref().unwrap_or(&self.name)
    }

    /// Refuses an artifact with no creation code (an abstract contract or an
    /// interface) as the code this entry deploys.
    pub fn check_deployable(&self, artifact: &forja_compiler::Artifact) -> anyhow::Result<()> {
        if !artifact.is_deployable() {
            bail!(
                "deploy.toml: {} ({}) has no bytecode: is it abstract or an interface?",
                self.name,
                artifact.id
            );
        }
        Ok(())
    }
}

impl Manifest {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading {} (the deploy manifest; `forja new` creates one)",
                path.display()
            )
        })?;
        Self::parse(&text).with_context(|| format!("{}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        let mut seen = BTreeSet::new();
        for (index, contract) in raw.contracts.iter().enumerate() {
            let place = format!("contracts[{index}] ({})", contract.name);
            if contract.name.is_empty()
                || !contract
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                bail!("{place}: `name` must be letters, digits and `_`");
            }
            let expressions = contract
                .args
                .iter()
                .flat_map(strings_in)
                .chain(contract.libraries.values().map(String::as_str));
            for text in expressions {
                for reference in
                    contract_references(text).with_context(|| format!("{place}: `{text}`"))?
                {
                    if !seen.contains(reference) {
                        bail!(
                            "{place}: `{text}` refers to {reference}, which is not deployed before {} in deploy.toml",
                            contract.name
                        );
                    }
                }
            }
            if !seen.insert(contract.name.as_str()) {
                bail!(
                    "{place}: `{}` is deployed twice; give each deployment its own name (and `artifact`)",
                    contract.name
                );
            }
        }
        for (index, call) in raw.calls.iter().enumerate() {
            let place = format!("calls[{index}] ({}.{})", call.contract, call.function);
            if !seen.contains(call.contract.as_str()) {
                bail!(
                    "{place}: `{}` is not a contract of this manifest",
                    call.contract
                );
            }
            for text in call.args.iter().flat_map(strings_in) {
                for reference in
                    contract_references(text).with_context(|| format!("{place}: `{text}`"))?
                {
                    if !seen.contains(reference) {
                        bail!(
                            "{place}: `{text}` refers to {reference}, which this manifest does not deploy"
                        );
                    }
                }
            }
        }
        Ok(Self {
            contracts: raw.contracts,
            calls: raw.calls,
        })
    }
}

fn strings_in(value: &toml::Value) -> Vec<&str> {
    match value {
        toml::Value::String(s) => vec![s.as_str()],
        toml::Value::Array(items) => items.iter().flat_map(strings_in).collect(),
        _ => vec![],
    }
}

/// The `${…}` expressions in `text`.
fn expressions(text: &str) -> anyhow::Result<Vec<&str>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .with_context(|| "unterminated `${`".to_string())?;
        found.push(after[..end].trim());
        rest = &after[end + 1..];
    }
    Ok(found)
}

/// Contract names referenced as `${Name.address}`.
fn contract_references(text: &str) -> anyhow::Result<Vec<&str>> {
    let mut names = Vec::new();
    for expression in expressions(text)? {
        if let Expression::ContractAddress(name) = Expression::parse(expression)? {
            names.push(name);
        }
    }
    Ok(names)
}

enum Expression<'a> {
    ContractAddress(&'a str),
    Env(&'a str),
    Dev(u32),
    Deployer,
}

impl<'a> Expression<'a> {
    fn parse(text: &'a str) -> anyhow::Result<Self> {
        if let Some(var) = text.strip_prefix("env:") {
            return Ok(Self::Env(var));
        }
        if let Some(index) = text.strip_prefix("dev:") {
            let index = index
                .parse()
                .with_context(|| format!("`${{{text}}}`: dev account index must be a number"))?;
            return Ok(Self::Dev(index));
        }
        if text == "deployer" {
            return Ok(Self::Deployer);
        }
        if let Some(name) = text.strip_suffix(".address") {
            return Ok(Self::ContractAddress(name));
        }
        bail!(
            "`${{{text}}}` is not understood; use ${{Name.address}}, ${{env:VAR}}, ${{deployer}} or ${{dev:N}}"
        )
    }
}

/// What `${…}` expressions resolve against.
pub struct Scope<'a> {
    pub environment: &'a str,
    /// Contracts deployed so far (or recorded).
    pub addresses: &'a BTreeMap<String, Address>,
    pub deployer: Address,
    /// Whether `${dev:N}` is allowed (the environment signs with dev accounts).
    pub dev_accounts: bool,
}

/// A value that could not be resolved yet because it names a contract the
/// run has not deployed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending(pub String);

impl Scope<'_> {
    /// Substitutes every `${…}` in `text`. `Ok(Err(Pending))` when it names
    /// a contract with no address yet.
    pub fn interpolate(&self, text: &str) -> anyhow::Result<Result<String, Pending>> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').context("unterminated `${`")?;
            let expression = after[..end].trim();
            let value = match Expression::parse(expression)? {
                Expression::ContractAddress(name) => match self.addresses.get(name) {
                    Some(address) => address.to_string(),
                    None => return Ok(Err(Pending(name.to_string()))),
                },
                Expression::Env(var) => std::env::var(var).with_context(|| {
                    format!("`${{env:{var}}}`: environment variable {var} is not set")
                })?,
                Expression::Deployer => self.deployer.to_string(),
                Expression::Dev(index) => {
                    if !self.dev_accounts {
                        bail!(
                            "`${{dev:{index}}}` names a dev account, but environment `{}` does not sign with dev accounts; use ${{env:VAR}} for its addresses",
                            self.environment
                        );
                    }
                    crate::signer::dev_account(index)?.address().to_string()
                }
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Ok(out))
    }

    /// A TOML value as text solc types can be parsed from.
    pub fn render(&self, value: &toml::Value) -> anyhow::Result<Result<String, Pending>> {
        Ok(Ok(match value {
            toml::Value::String(text) => match self.interpolate(text)? {
                Ok(text) => text,
                Err(pending) => return Ok(Err(pending)),
            },
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match self.render(item)? {
                        Ok(text) => parts.push(text),
                        Err(pending) => return Ok(Err(pending)),
                    }
                }
                format!("[{}]", parts.join(","))
            }
            other => bail!(
                "`{other}`: use integers, booleans, strings (big numbers as \"123…\") or arrays"
            ),
        }))
    }

    /// Renders all `values`; `Err(Pending)` if any names an undeployed contract.
    pub fn render_all(
        &self,
        values: &[toml::Value],
    ) -> anyhow::Result<Result<Vec<String>, Pending>> {
        let mut out = Vec::new();
        for value in values {
            match self.render(value)? {
                Ok(text) => out.push(text),
                Err(pending) => return Ok(Err(pending)),
            }
        }
        Ok(Ok(out))
    }
}

/// ABI-encodes `args` for `params` (constructor arguments, no selector).
pub fn encode_params(params: &[Param], args: &[String], what: &str) -> anyhow::Result<Vec<u8>> {
    Ok(DynSolValue::Tuple(coerce(params, args, what)?).abi_encode_params())
}

fn coerce(params: &[Param], args: &[String], what: &str) -> anyhow::Result<Vec<DynSolValue>> {
    if params.len() != args.len() {
        bail!(
            "{what} takes {} argument(s) ({}), deploy.toml gives {}",
            params.len(),
            params
                .iter()
                .map(|p| format!("{} {}", p.selector_type(), p.name)
                    .trim()
                    .to_string())
                .collect::<Vec<_>>()
                .join(", "),
            args.len()
        );
    }
    params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(index, (param, arg))| {
            let ty: DynSolType = param
                .resolve()
                .with_context(|| format!("{what}: parameter {index} has an unsupported type"))?;
            ty.coerce_str(arg).with_context(|| {
                format!(
                    "{what}: argument {index} (`{}`{}) is not a valid {ty}",
                    arg,
                    if param.name.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", param.name)
                    }
                )
            })
        })
        .collect()
}

/// Finds `function` (a name or a full signature) in `abi`.
pub fn find_function<'a>(
    abi: &'a JsonAbi,
    function: &str,
    contract: &str,
) -> anyhow::Result<&'a Function> {
    let name = function.split('(').next().unwrap_or(function).trim();
    let candidates = abi.function(name).map(Vec::as_slice).unwrap_or_default();
    let matching: Vec<&Function> = if function.contains('(') {
        let wanted = function.replace(' ', "");
        candidates
            .iter()
            .filter(|f| f.signature() == wanted)
            .collect()
    } else {
        candidates.iter().collect()
    };
    match matching.as_slice() {
        [one] => Ok(one),
        [] => bail!("{contract} has no function `{function}`"),
        many => bail!(
            "{contract}.{function} is overloaded; write the signature: {}",
            many.iter()
                .map(|f| f.signature())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Calldata for `function(args)`.
pub fn encode_call(function: &Function, args: &[String], what: &str) -> anyhow::Result<Vec<u8>> {
    let values = coerce(&function.inputs, args, what)?;
    function
        .abi_encode_input(&values)
        .with_context(|| format!("{what}: encoding the call"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_template_manifest() {
        let manifest =
            Manifest::parse(include_str!("../../../templates/basic/deploy.toml")).unwrap();
        assert_eq!(manifest.contracts[0].name, "Counter");
        assert_eq!(manifest.contracts[0].artifact_ref(), "Counter");
    }

    #[test]
    fn refuses_forward_references_duplicates_and_unknown_calls() {
        let forward = r#"
            [[contracts]]
            name = "A"
            args = ["${B.address}"]
            [[contracts]]
            name = "B"
        "#;
        let err = Manifest::parse(forward).unwrap_err().to_string();
        assert!(err.contains("not deployed before A"), "{err}");

        let twice = "[[contracts]]\nname = \"A\"\n[[contracts]]\nname = \"A\"\n";
        assert!(
            Manifest::parse(twice)
                .unwrap_err()
                .to_string()
                .contains("deployed twice")
        );

        let call = "[[contracts]]\nname = \"A\"\n[[calls]]\ncontract = \"B\"\nfunction = \"f\"\n";
        assert!(
            Manifest::parse(call)
                .unwrap_err()
                .to_string()
                .contains("not a contract")
        );

        let bad = "[[contracts]]\nname = \"A\"\nargs = [\"${what}\"]\n";
        assert!(format!("{:#}", Manifest::parse(bad).unwrap_err()).contains("not understood"));
    }

    #[test]
    fn resolves_references_env_and_dev_accounts() {
        let addresses = BTreeMap::from([("Token".to_string(), Address::repeat_byte(0x11))]);
        let scope = Scope {
            environment: "dev",
            addresses: &addresses,
            deployer: Address::repeat_byte(0x22),
            dev_accounts: true,
        };
        // SAFETY: test-only variable with a unique name.
        unsafe { std::env::set_var("FORJA_MANIFEST_TEST_SYMBOL", "TOK") };
        let values: Vec<toml::Value> = toml::from_str::<toml::Table>(
            r#"v = ["${Token.address}", "${env:FORJA_MANIFEST_TEST_SYMBOL}-x", 7, true, ["${deployer}", "${dev:1}"]]"#,
        )
        .unwrap()["v"]
            .as_array()
            .unwrap()
            .clone();
        let rendered = scope.render_all(&values).unwrap().unwrap();
        assert_eq!(rendered[0], Address::repeat_byte(0x11).to_string());
        assert_eq!(rendered[1], "TOK-x");
        assert_eq!(rendered[2], "7");
        assert_eq!(rendered[3], "true");
        assert_eq!(
            rendered[4],
            format!(
                "[{},0x70997970C51812dc3A010C7d01b50e0d17dc79C8]",
                Address::repeat_byte(0x22)
            )
        );

        let pending = scope.interpolate("${Later.address}").unwrap();
        assert_eq!(pending, Err(Pending("Later".into())));
        let err = scope
            .interpolate("${env:FORJA_MANIFEST_TEST_UNSET}")
            .unwrap_err();
        assert!(err.to_string().contains("is not set"));

        let prod = Scope {
            environment: "prod",
            dev_accounts: false,
            ..scope
        };
        let err = prod.interpolate("${dev:1}").unwrap_err().to_string();
        assert!(err.contains("does not sign with dev accounts"), "{err}");
    }

    #[test]
    fn encodes_constructor_args_and_calls() {
        let abi: JsonAbi = serde_json::from_str(
            r#"[{"type":"constructor","inputs":[{"name":"initial","type":"uint256"}],"stateMutability":"nonpayable"},
                {"type":"function","name":"setNumber","inputs":[{"name":"n","type":"uint256"}],"outputs":[],"stateMutability":"nonpayable"}]"#,
        )
        .unwrap();
        let ctor = abi.constructor.as_ref().unwrap();
        let encoded = encode_params(&ctor.inputs, &["5".into()], "Counter").unwrap();
        assert_eq!(encoded.len(), 32);
        assert_eq!(encoded[31], 5);
        let err = encode_params(&ctor.inputs, &[], "Counter")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("takes 1 argument(s) (uint256 initial)"),
            "{err}"
        );
        let err = encode_params(&ctor.inputs, &["x".into()], "Counter")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("argument 0 (`x`, initial) is not a valid uint256"),
            "{err}"
        );

        let set = find_function(&abi, "setNumber", "Counter").unwrap();
        let data = encode_call(set, &["42".into()], "Counter.setNumber").unwrap();
        assert_eq!(
            data[..4],
            alloy::primitives::keccak256("setNumber(uint256)")[..4]
        );
        assert!(find_function(&abi, "nope", "Counter").is_err());
        assert!(find_function(&abi, "setNumber(uint256)", "Counter").is_ok());
    }
}
