//! The workload as transactions: generated senders, calls with their
//! argument generators, and signing every transaction before the timed
//! phase (on every core), so the run only sends bytes.

use std::collections::BTreeMap;

use alloy::{
    consensus::{SignableTransaction as _, TxEnvelope, TxLegacy},
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _, Specifier as _},
    eips::eip2718::Encodable2718 as _,
    json_abi::{Function, JsonAbi},
    network::TxSignerSync as _,
    primitives::{Address, B256, Bytes, I256, TxKind, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use anyhow::{Context as _, bail};

use crate::config::{AccountSource, ArgConfig, CallConfig, Generator};

/// What `${Name.address}`, `${deployer}` resolve against during setup.
pub struct Scope<'a> {
    /// Contracts deployed so far, by deployment name.
    pub addresses: &'a BTreeMap<String, Address>,
    pub deployer: Address,
}

/// Builds a transaction's input once the addresses it may refer to are known.
pub type InputFn = Box<dyn Fn(&Scope<'_>) -> anyhow::Result<Bytes> + Send + Sync>;

/// A contract the setup deploys (`setup.rs` resolves them from `deploy.toml`
/// or artifacts by name).
pub struct Deployment {
    /// The name calls refer to it by.
    pub name: String,
    pub abi: JsonAbi,
    /// Creation code and constructor arguments.
    pub init_code: InputFn,
}

/// A call the setup makes once, after the deployments (deploy.toml's calls).
pub struct SetupCall {
    pub contract: String,
    /// For error messages: `Contract.function`.
    pub what: String,
    pub input: InputFn,
}

/// The setup: what is deployed and called before the timed phase.
#[derive(Default)]
pub struct Contracts {
    pub deployments: Vec<Deployment>,
    pub calls: Vec<SetupCall>,
}

/// Deterministic sender keys: the same seed gives the same accounts, so a
/// test (or an operator) can tell which account is which.
pub fn sender_keys(seed: u64, count: usize) -> Vec<PrivateKeySigner> {
    (0..count as u64)
        .map(|index| {
            let mut material = b"forja-bench-sender".to_vec();
            material.extend_from_slice(&seed.to_be_bytes());
            material.extend_from_slice(&index.to_be_bytes());
            PrivateKeySigner::from_bytes(&keccak256(material)).expect("a hash is a valid key")
        })
        .collect()
}

/// One argument of a compiled call.
#[derive(Debug, Clone)]
enum Arg {
    Fixed(DynSolValue),
    /// `"${sender}"` alone: the signer's address.
    Sender,
    /// A string with `${sender}` inside, coerced per transaction.
    SenderTemplate(DynSolType, String),
    Seq(DynSolType, u64),
    Random(DynSolType, u64, u64),
    OtherSender,
    List(Vec<Address>),
}

/// A call ready to be instantiated per transaction.
#[derive(Debug, Clone)]
pub struct CompiledCall {
    /// `Contract.function(types)`.
    pub label: String,
    pub to: Address,
    pub function: Function,
    args: Vec<Arg>,
    pub weight: u32,
    pub value: U256,
    pub gas: Option<u64>,
}

/// Resolves a call of `bench.toml` against the deployed contracts.
pub fn compile_call(
    call: &CallConfig,
    place: &str,
    abis: &BTreeMap<String, (Address, JsonAbi)>,
    deployer: Address,
) -> anyhow::Result<CompiledCall> {
    let what = format!("{place} ({}.{})", call.contract, call.function);
    let (to, abi) = abis.get(&call.contract).with_context(|| {
        format!(
            "{what}: no contract `{}` is deployed by the setup (deployed: {})",
            call.contract,
            abis.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let function = forja_deploy::manifest::find_function(abi, &call.function, &call.contract)
        .with_context(|| what.clone())?;
    if function.inputs.len() != call.args.len() {
        bail!(
            "{what}: {} takes {} argument(s), bench.toml gives {}",
            function.signature(),
            function.inputs.len(),
            call.args.len()
        );
    }
    let addresses: BTreeMap<String, Address> = abis
        .iter()
        .map(|(name, (a, _))| (name.clone(), *a))
        .collect();
    let args = function
        .inputs
        .iter()
        .zip(&call.args)
        .enumerate()
        .map(|(index, (param, arg))| {
            let ty: DynSolType = param
                .resolve()
                .with_context(|| format!("{what}: parameter {index} has an unsupported type"))?;
            let here = format!("{what}: argument {index}");
            Ok(match arg {
                ArgConfig::Literal(toml::Value::String(text)) if text.trim() == "${sender}" => {
                    expect_address(&ty, &here)?;
                    Arg::Sender
                }
                ArgConfig::Literal(toml::Value::String(text)) if text.contains("${sender}") => {
                    let text = interpolate(text, &addresses, deployer, None)
                        .with_context(|| here.clone())?;
                    Arg::SenderTemplate(ty, text)
                }
                ArgConfig::Literal(value) => {
                    let text = render(value, &addresses, deployer).with_context(|| here.clone())?;
                    Arg::Fixed(
                        ty.coerce_str(&text)
                            .with_context(|| format!("{here}: `{text}` is not a valid {ty}"))?,
                    )
                }
                ArgConfig::Generator(Generator::Seq(start)) => {
                    number_value(&ty, *start).with_context(|| here.clone())?;
                    Arg::Seq(ty, *start)
                }
                ArgConfig::Generator(Generator::Random([low, high])) => {
                    if low > high {
                        bail!("{here}: random range [{low}, {high}] is empty");
                    }
                    number_value(&ty, *high).with_context(|| here.clone())?;
                    Arg::Random(ty, *low, *high)
                }
                ArgConfig::Generator(Generator::Account(AccountSource::Named(name))) => {
                    if name != "senders" {
                        bail!(
                            "{here}: `account = \"{name}\"`: use \"senders\" or a list of addresses"
                        );
                    }
                    expect_address(&ty, &here)?;
                    Arg::OtherSender
                }
                ArgConfig::Generator(Generator::Account(AccountSource::List(list))) => {
                    expect_address(&ty, &here)?;
                    if list.is_empty() {
                        bail!("{here}: the account list is empty");
                    }
                    Arg::List(
                        list.iter()
                            .map(|a| {
                                let a = interpolate(a, &addresses, deployer, None)?;
                                a.parse()
                                    .with_context(|| format!("{here}: `{a}` is not an address"))
                            })
                            .collect::<anyhow::Result<_>>()?,
                    )
                }
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let value = match &call.value {
        Some(text) => text
            .parse()
            .with_context(|| format!("{what}: value `{text}` is not a number of wei"))?,
        None => U256::ZERO,
    };
    Ok(CompiledCall {
        label: format!("{}.{}", call.contract, function.signature()),
        to: *to,
        function: function.clone(),
        args,
        weight: call.weight,
        value,
        gas: call.gas,
    })
}

fn expect_address(ty: &DynSolType, here: &str) -> anyhow::Result<()> {
    if *ty != DynSolType::Address {
        bail!("{here}: an account generator fills `address` parameters, this one is {ty}");
    }
    Ok(())
}

/// A generated number as a value of `ty`.
fn number_value(ty: &DynSolType, n: u64) -> anyhow::Result<DynSolValue> {
    Ok(match ty {
        DynSolType::Uint(bits) => DynSolValue::Uint(U256::from(n), *bits),
        DynSolType::Int(bits) => DynSolValue::Int(I256::try_from(n).expect("u64 fits"), *bits),
        DynSolType::FixedBytes(size) => {
            let word = B256::from(U256::from(n));
            DynSolValue::FixedBytes(word, *size)
        }
        DynSolType::Bytes => DynSolValue::Bytes(n.to_be_bytes().to_vec()),
        DynSolType::String => DynSolValue::String(n.to_string()),
        DynSolType::Address => DynSolValue::Address(Address::from_word(B256::from(U256::from(n)))),
        other => bail!("a generated number cannot fill a {other} parameter"),
    })
}

/// Substitutes `${Name.address}`, `${deployer}` and (when given) `${sender}`.
pub fn interpolate(
    text: &str,
    addresses: &BTreeMap<String, Address>,
    deployer: Address,
    sender: Option<Address>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').context("unterminated `${`")?;
        let expression = after[..end].trim();
        match expression {
            "deployer" => out.push_str(&deployer.to_string()),
            "sender" => match sender {
                Some(sender) => out.push_str(&sender.to_string()),
                None => out.push_str("${sender}"),
            },
            _ => match expression.strip_suffix(".address") {
                Some(name) => out.push_str(
                    &addresses
                        .get(name)
                        .with_context(|| {
                            format!(
                                "`${{{expression}}}`: no contract `{name}` is deployed by the setup"
                            )
                        })?
                        .to_string(),
                ),
                None => bail!(
                    "`${{{expression}}}` is not understood; use ${{sender}}, ${{deployer}} or ${{Name.address}}"
                ),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn render(
    value: &toml::Value,
    addresses: &BTreeMap<String, Address>,
    deployer: Address,
) -> anyhow::Result<String> {
    Ok(match value {
        toml::Value::String(text) => interpolate(text, addresses, deployer, None)?,
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|item| render(item, addresses, deployer))
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(",")
        ),
        other => bail!("`{other}`: use integers, booleans, strings or arrays"),
    })
}

/// Deterministic 64-bit mixing (SplitMix64): the random generator's values
/// depend on the seed and the transaction's index only, whichever thread
/// signs it.
fn mix(seed: u64, k: u64) -> u64 {
    let mut z = seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The workload's transactions, indexed by `k`: tx `k` is signed by sender
/// `k % senders`, with that sender's next nonce, and calls the call whose
/// weighted turn `k` is.
pub struct Workload<'a> {
    pub calls: &'a [CompiledCall],
    pub senders: &'a [PrivateKeySigner],
    pub first_nonces: &'a [u64],
    pub chain_id: u64,
    pub gas_price: u128,
    /// Gas limit per call (same order as `calls`).
    pub gas_limits: &'a [u64],
    pub seed: u64,
}

/// A signed transaction of the workload.
pub struct SignedTx {
    pub raw: Vec<u8>,
    pub hash: B256,
}

impl Workload<'_> {
    /// Which call tx `k` makes, and how many earlier txs made it.
    fn turn(&self, k: u64) -> (usize, u64) {
        let total: u64 = self.calls.iter().map(|c| c.weight as u64).sum();
        let (round, mut position) = (k / total, k % total);
        for (index, call) in self.calls.iter().enumerate() {
            let weight = call.weight as u64;
            if position < weight {
                return (index, round * weight + position);
            }
            position -= weight;
        }
        unreachable!("position < total")
    }

    /// Calldata of tx `k` (also used for the gas estimate of each call).
    pub fn input(&self, k: u64, call_index: usize, nth: u64) -> anyhow::Result<Bytes> {
        let call = &self.calls[call_index];
        let sender_index = (k % self.senders.len() as u64) as usize;
        let sender = self.senders[sender_index].address();
        let values = call
            .args
            .iter()
            .map(|arg| {
                Ok(match arg {
                    Arg::Fixed(value) => value.clone(),
                    Arg::Sender => DynSolValue::Address(sender),
                    Arg::SenderTemplate(ty, text) => {
                        ty.coerce_str(&text.replace("${sender}", &sender.to_string()))?
                    }
                    Arg::Seq(ty, start) => number_value(ty, start + nth)?,
                    Arg::Random(ty, low, high) => {
                        let span = high - low;
                        let draw = if span == u64::MAX {
                            mix(self.seed, k)
                        } else {
                            low + mix(self.seed, k) % (span + 1)
                        };
                        number_value(ty, draw)?
                    }
                    Arg::OtherSender => {
                        let n = self.senders.len();
                        let other = if n == 1 {
                            sender_index
                        } else {
                            (sender_index + 1 + (k / n as u64) as usize % (n - 1)) % n
                        };
                        DynSolValue::Address(self.senders[other].address())
                    }
                    Arg::List(list) => {
                        DynSolValue::Address(list[(nth % list.len() as u64) as usize])
                    }
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .with_context(|| format!("{}: building the arguments", call.label))?;
        Ok(call.function.abi_encode_input(&values)?.into())
    }

    /// The call index and calldata of tx `k`.
    pub fn call_of(&self, k: u64) -> anyhow::Result<(usize, Bytes)> {
        let (index, nth) = self.turn(k);
        Ok((index, self.input(k, index, nth)?))
    }

    /// Signs transactions `0..count` on every core.
    pub fn sign_all(&self, count: u64) -> anyhow::Result<Vec<SignedTx>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let chunk = count.div_ceil(threads).max(1);
        let parts: Vec<anyhow::Result<Vec<SignedTx>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .step_by(chunk as usize)
                .map(|start| {
                    let end = (start + chunk).min(count);
                    scope.spawn(move || (start..end).map(|k| self.sign(k)).collect())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("signing threads do not panic"))
                .collect()
        });
        let mut all = Vec::with_capacity(count as usize);
        for part in parts {
            all.extend(part?);
        }
        Ok(all)
    }

    fn sign(&self, k: u64) -> anyhow::Result<SignedTx> {
        let senders = self.senders.len() as u64;
        let sender = (k % senders) as usize;
        let (call_index, input) = self.call_of(k)?;
        let call = &self.calls[call_index];
        let mut tx = TxLegacy {
            chain_id: Some(self.chain_id),
            nonce: self.first_nonces[sender] + k / senders,
            gas_price: self.gas_price,
            gas_limit: self.gas_limits[call_index],
            to: TxKind::Call(call.to),
            value: call.value,
            input,
        };
        let signature = self.senders[sender].sign_transaction_sync(&mut tx)?;
        let raw = TxEnvelope::Legacy(tx.into_signed(signature)).encoded_2718();
        let hash = keccak256(&raw);
        Ok(SignedTx { raw, hash })
    }
}

/// Signs a setup transaction (the admin's: deployments, calls, funding).
pub fn sign_legacy(signer: &PrivateKeySigner, mut tx: TxLegacy) -> anyhow::Result<Vec<u8>> {
    let signature = signer.sign_transaction_sync(&mut tx)?;
    Ok(TxEnvelope::Legacy(tx.into_signed(signature)).encoded_2718())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BenchConfig;

    fn token_abi() -> JsonAbi {
        JsonAbi::parse([
            "function transfer(address to, uint256 value) returns (bool)",
            "function notarise(bytes32 hash, string uri)",
        ])
        .unwrap()
    }

    #[test]
    fn generators_fill_arguments_per_transaction() {
        let config = BenchConfig::parse(
            r#"
            [load]
            rate = 1
            transactions = 1
            [[calls]]
            contract = "T"
            function = "transfer"
            args = [{ account = "senders" }, { random = [5, 7] }]
            weight = 3
            [[calls]]
            contract = "T"
            function = "notarise"
            args = [{ seq = 100 }, "by ${sender}"]
            "#,
        )
        .unwrap();
        let token = Address::repeat_byte(9);
        let abis = BTreeMap::from([("T".to_owned(), (token, token_abi()))]);
        let calls: Vec<_> = config
            .calls
            .iter()
            .map(|c| compile_call(c, "calls", &abis, Address::ZERO).unwrap())
            .collect();
        let senders = sender_keys(1, 3);
        let workload = Workload {
            calls: &calls,
            senders: &senders,
            first_nonces: &[0, 5, 0],
            chain_id: 1337,
            gas_price: 0,
            gas_limits: &[100_000, 200_000],
            seed: 1,
        };
        // Weights 3:1: txs 0,1,2 transfer, tx 3 notarises (its first), tx 7 its second.
        assert_eq!(workload.call_of(2).unwrap().0, 0);
        let (index, input) = workload.call_of(7).unwrap();
        assert_eq!(index, 1);
        let decoded = calls[1].function.abi_decode_input(&input[4..]).unwrap();
        assert_eq!(decoded[0].as_fixed_bytes().unwrap().0[31], 101);
        assert_eq!(
            decoded[1].as_str().unwrap(),
            format!("by {}", senders[1].address())
        );
        // A transfer goes to another sender, for 5 to 7.
        let decoded = calls[0]
            .function
            .abi_decode_input(&workload.call_of(0).unwrap().1[4..])
            .unwrap();
        assert_ne!(decoded[0].as_address().unwrap(), senders[0].address());
        let amount = decoded[1].as_uint().unwrap().0;
        assert!((U256::from(5)..=U256::from(7)).contains(&amount));

        let signed = workload.sign_all(8).unwrap();
        assert_eq!(signed.len(), 8);
        let tx = forja_runtime::pool::decode_transaction(&signed[4].raw).unwrap();
        assert_eq!(tx.sender, senders[1].address());
        assert_eq!(alloy::consensus::Transaction::nonce(&tx.envelope), 6);
        assert_eq!(tx.hash, signed[4].hash);
    }

    #[test]
    fn a_call_that_does_not_fit_says_where() {
        let config = BenchConfig::parse(
            "[[calls]]\ncontract = \"T\"\nfunction = \"transfer\"\nargs = [1]\n",
        )
        .unwrap();
        let abis = BTreeMap::from([("T".to_owned(), (Address::ZERO, token_abi()))]);
        let err = compile_call(&config.calls[0], "calls[0]", &abis, Address::ZERO).unwrap_err();
        assert!(
            err.to_string()
                .contains("calls[0] (T.transfer): transfer(address,uint256) takes 2 argument(s)"),
            "{err}"
        );
        let missing = BTreeMap::new();
        let err = compile_call(&config.calls[0], "calls[0]", &missing, Address::ZERO).unwrap_err();
        assert!(err.to_string().contains("no contract `T`"), "{err}");
    }
}
