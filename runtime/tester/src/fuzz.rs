//! ABI-aware input generation, a dictionary of interesting values, and
//! shrinking of failing inputs.

use std::collections::BTreeSet;

use alloy::{
    dyn_abi::{DynSolType, DynSolValue},
    primitives::{Address, B256, I256, Log, U256},
};
use rand::{Rng, RngCore, rngs::StdRng};

/// Most values the dictionary keeps.
const MAX_DICTIONARY: usize = 16_384;

/// Interesting 32-byte words: constants from bytecode, storage contents,
/// event topics and data, known addresses.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dictionary {
    words: Vec<B256>,
    seen: BTreeSet<B256>,
    /// Addresses known to the test (deployed contracts, senders).
    pub addresses: Vec<Address>,
    /// Addresses a fuzzed `address` never takes: the external libraries
    /// linked into the contracts, as forge leaves them out (Foundry's
    /// Issue8639.t.sol), since a call to one from a test is never meant.
    pub(crate) excluded: Vec<Address>,
}

impl Dictionary {
    /// Adds a word.
    pub(crate) fn insert(&mut self, word: B256) {
        if self.words.len() < MAX_DICTIONARY && self.seen.insert(word) {
            self.words.push(word);
        }
    }

    /// Adds an address (also as a word).
    pub(crate) fn insert_address(&mut self, address: Address) {
        if !self.addresses.contains(&address) {
            self.addresses.push(address);
        }
        self.insert(address.into_word());
    }

    /// Adds every `PUSH` constant of `code`.
    pub(crate) fn insert_bytecode(&mut self, code: &[u8]) {
        let mut pc = 0;
        while pc < code.len() {
            let op = code[pc];
            if (0x60..=0x7f).contains(&op) {
                let size = (op - 0x5f) as usize;
                let end = (pc + 1 + size).min(code.len());
                let mut word = [0u8; 32];
                let bytes = &code[pc + 1..end];
                word[32 - bytes.len()..].copy_from_slice(bytes);
                self.insert(B256::from(word));
                pc = end;
            } else {
                pc += 1;
            }
        }
    }

    /// Adds topics and data words of events.
    pub(crate) fn insert_logs(&mut self, logs: &[Log]) {
        for log in logs {
            for topic in log.topics() {
                self.insert(*topic);
            }
            for chunk in log.data.data.chunks(32) {
                if chunk.len() == 32 {
                    self.insert(B256::from_slice(chunk));
                }
            }
        }
    }

    fn pick(&self, rng: &mut StdRng) -> Option<B256> {
        (!self.words.is_empty()).then(|| self.words[rng.random_range(0..self.words.len())])
    }
}

/// Generates a random value of `ty`, drawing from `dict` part of the time.
pub(crate) fn generate(ty: &DynSolType, rng: &mut StdRng, dict: &Dictionary) -> DynSolValue {
    match ty {
        DynSolType::Bool => DynSolValue::Bool(rng.random_bool(0.5)),
        DynSolType::Uint(bits) => DynSolValue::Uint(gen_uint(*bits, rng, dict), *bits),
        DynSolType::Int(bits) => DynSolValue::Int(gen_int(*bits, rng, dict), *bits),
        DynSolType::Address => DynSolValue::Address(gen_address(rng, dict)),
        DynSolType::FixedBytes(size) => {
            let word = if rng.random_bool(0.3) {
                dict.pick(rng).unwrap_or_else(|| random_word(rng))
            } else {
                random_word(rng)
            };
            let mut bytes = [0u8; 32];
            bytes[..*size].copy_from_slice(&word[..*size]);
            DynSolValue::FixedBytes(B256::from(bytes), *size)
        }
        DynSolType::Bytes => {
            let len = small_len(rng, 96);
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            DynSolValue::Bytes(bytes)
        }
        DynSolType::String => {
            let len = small_len(rng, 32);
            let s: String = (0..len)
                .map(|_| {
                    if rng.random_bool(0.9) {
                        rng.random_range(0x20u8..0x7f) as char
                    } else {
                        ['é', 'ñ', '€', '字', '🦀'][rng.random_range(0..5)]
                    }
                })
                .collect();
            DynSolValue::String(s)
        }
        DynSolType::Array(inner) => {
            let len = small_len(rng, 8);
            DynSolValue::Array((0..len).map(|_| generate(inner, rng, dict)).collect())
        }
        DynSolType::FixedArray(inner, n) => {
            DynSolValue::FixedArray((0..*n).map(|_| generate(inner, rng, dict)).collect())
        }
        DynSolType::Tuple(types) => {
            DynSolValue::Tuple(types.iter().map(|t| generate(t, rng, dict)).collect())
        }
        DynSolType::Function => {
            let mut bytes = [0u8; 24];
            rng.fill_bytes(&mut bytes);
            DynSolValue::Function(alloy::primitives::Function::from(bytes))
        }
        #[allow(unreachable_patterns)]
        _ => DynSolValue::Bool(false),
    }
}

fn small_len(rng: &mut StdRng, max: usize) -> usize {
    match rng.random_range(0..10) {
        0 => 0,
        1 => 1,
        _ => rng.random_range(0..=max),
    }
}

fn random_word(rng: &mut StdRng) -> B256 {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    B256::from(bytes)
}

fn mask(bits: usize) -> U256 {
    if bits >= 256 {
        U256::MAX
    } else {
        (U256::from(1) << bits) - U256::from(1)
    }
}

fn gen_uint(bits: usize, rng: &mut StdRng, dict: &Dictionary) -> U256 {
    let max = mask(bits);
    let value = match rng.random_range(0..100) {
        0..=14 => {
            // Edge cases.
            let edges = [
                U256::ZERO,
                U256::from(1),
                U256::from(2),
                max,
                max - U256::from(1),
                max >> 1,
            ];
            edges[rng.random_range(0..edges.len())]
        }
        15..=54 => match dict.pick(rng) {
            Some(word) => {
                let value = U256::from_be_bytes(word.0);
                // Neighbours of constants catch off-by-one bugs.
                match rng.random_range(0..4) {
                    0 => value.wrapping_add(U256::from(1)),
                    1 => value.wrapping_sub(U256::from(1)),
                    _ => value,
                }
            }
            None => U256::from_be_bytes(random_word(rng).0),
        },
        55..=74 => {
            // Small-ish numbers of random magnitude.
            let shift = rng.random_range(0..bits.min(256));
            U256::from_be_bytes(random_word(rng).0) >> (256 - shift.max(1))
        }
        _ => U256::from_be_bytes(random_word(rng).0),
    };
    value & max
}

fn gen_int(bits: usize, rng: &mut StdRng, dict: &Dictionary) -> I256 {
    let raw = gen_uint(bits, rng, dict);
    // Sign-extend from `bits`.
    let value = if bits < 256 && raw.bit(bits - 1) {
        raw | !mask(bits)
    } else {
        raw
    };
    let value = I256::from_raw(value);
    if rng.random_range(0..10) == 0 {
        // Extremes of the signed range.
        let max = I256::from_raw(mask(bits) >> 1);
        let min = -max - I256::ONE;
        [I256::ZERO, I256::MINUS_ONE, max, min][rng.random_range(0..4)]
    } else {
        value
    }
}

fn gen_address(rng: &mut StdRng, dict: &Dictionary) -> Address {
    // A few draws; a random word then, which an excluded address is not
    // but by a 2^-160 chance.
    for _ in 0..8 {
        let address = draw_address(rng, dict);
        if !dict.excluded.contains(&address) {
            return address;
        }
    }
    Address::from_word(random_word(rng))
}

fn draw_address(rng: &mut StdRng, dict: &Dictionary) -> Address {
    match rng.random_range(0..10) {
        0..=3 if !dict.addresses.is_empty() => {
            dict.addresses[rng.random_range(0..dict.addresses.len())]
        }
        4 => Address::ZERO,
        5..=6 => dict
            .pick(rng)
            .map(Address::from_word)
            .unwrap_or_else(|| Address::from_word(random_word(rng))),
        _ => Address::from_word(random_word(rng)),
    }
}

/// Simpler variants of `value`, simplest first (for shrinking).
pub(crate) fn simplifications(value: &DynSolValue) -> Vec<DynSolValue> {
    match value {
        DynSolValue::Bool(true) => vec![DynSolValue::Bool(false)],
        DynSolValue::Uint(v, bits) if !v.is_zero() => {
            let mut out = vec![DynSolValue::Uint(U256::ZERO, *bits)];
            let mut step: U256 = *v >> 1usize;
            while !step.is_zero() {
                out.push(DynSolValue::Uint(*v - step, *bits));
                step >>= 1;
            }
            out.push(DynSolValue::Uint(*v - U256::from(1), *bits));
            out
        }
        DynSolValue::Int(v, bits) if !v.is_zero() => {
            let mut out = vec![DynSolValue::Int(I256::ZERO, *bits)];
            if v.is_negative() {
                out.push(DynSolValue::Int(-*v, *bits));
            }
            let mut step = *v / I256::try_from(2).expect("small");
            while !step.is_zero() {
                out.push(DynSolValue::Int(*v - step, *bits));
                step /= I256::try_from(2).expect("small");
            }
            out
        }
        DynSolValue::Address(a) if !a.is_zero() => vec![DynSolValue::Address(Address::ZERO)],
        DynSolValue::Bytes(b) if !b.is_empty() => {
            vec![
                DynSolValue::Bytes(vec![]),
                DynSolValue::Bytes(b[..b.len() / 2].to_vec()),
                DynSolValue::Bytes(b[..b.len() - 1].to_vec()),
            ]
        }
        DynSolValue::String(s) if !s.is_empty() => {
            let chars: Vec<char> = s.chars().collect();
            vec![
                DynSolValue::String(String::new()),
                DynSolValue::String(chars[..chars.len() / 2].iter().collect()),
                DynSolValue::String(chars[..chars.len() - 1].iter().collect()),
            ]
        }
        DynSolValue::FixedBytes(w, n) if !w.is_zero() => {
            vec![DynSolValue::FixedBytes(B256::ZERO, *n)]
        }
        DynSolValue::Array(items) if !items.is_empty() => {
            let mut out = vec![DynSolValue::Array(vec![])];
            for i in 0..items.len() {
                let mut fewer = items.clone();
                fewer.remove(i);
                out.push(DynSolValue::Array(fewer));
            }
            for (i, item) in items.iter().enumerate() {
                for simpler in simplifications(item) {
                    let mut changed = items.clone();
                    changed[i] = simpler;
                    out.push(DynSolValue::Array(changed));
                }
            }
            out
        }
        DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            let fixed = matches!(value, DynSolValue::FixedArray(_));
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                for simpler in simplifications(item) {
                    let mut changed = items.clone();
                    changed[i] = simpler;
                    out.push(if fixed {
                        DynSolValue::FixedArray(changed)
                    } else {
                        DynSolValue::Tuple(changed)
                    });
                }
            }
            out
        }
        _ => vec![],
    }
}

/// Shrinks `args` while `still_fails` holds, one argument at a time, up to
/// `budget` evaluations.
pub(crate) fn shrink(
    mut args: Vec<DynSolValue>,
    budget: usize,
    mut still_fails: impl FnMut(&[DynSolValue]) -> bool,
) -> Vec<DynSolValue> {
    let mut evaluations = 0;
    let mut progress = true;
    while progress && evaluations < budget {
        progress = false;
        for i in 0..args.len() {
            for candidate in simplifications(&args[i]) {
                if evaluations >= budget {
                    return args;
                }
                evaluations += 1;
                let mut trial = args.clone();
                trial[i] = candidate;
                if still_fails(&trial) {
                    args = trial;
                    progress = true;
                    break;
                }
            }
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shrinks_toward_the_boundary() {
        // Fails when x >= 1000: the minimal failing input is exactly 1000.
        let start = vec![DynSolValue::Uint(U256::from(987_654_321u64), 256)];
        let shrunk = shrink(start, 10_000, |args| match &args[0] {
            DynSolValue::Uint(v, _) => *v >= U256::from(1000),
            _ => false,
        });
        assert_eq!(shrunk, vec![DynSolValue::Uint(U256::from(1000), 256)]);
    }

    #[test]
    fn generated_values_fit_their_types() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut dict = Dictionary::default();
        dict.insert(B256::with_last_byte(42));
        for ty in [
            "uint8",
            "int16",
            "address",
            "bytes4",
            "string",
            "uint256[]",
            "(bool,int8)",
        ] {
            let ty: DynSolType = ty.parse().unwrap();
            for _ in 0..200 {
                let value = generate(&ty, &mut rng, &dict);
                assert!(ty.matches(&value), "{value:?} does not match {ty}");
                // Encodes without error and round-trips.
                let encoded = value.abi_encode();
                assert_eq!(ty.abi_decode(&encoded).unwrap(), value);
            }
        }
    }
}
