//! Reading solc's Emscripten build (`soljson.js` from the npm `solc` package):
//! the embedded WebAssembly module and the glue's names for its imports and
//! exports. The names are minified per release ("a", "Jb", …), so they are
//! read from the glue text rather than hard-coded.

use std::collections::HashMap;

use base64::Engine as _;
use regex::Regex;

use super::SolcError;

/// What forja needs from a `soljson.js`.
#[derive(Debug)]
pub struct Soljson {
    /// Where the embedded WebAssembly module sits in the glue text. It is
    /// decoded only to precompile: a load from the `.cwasm` cache never
    /// needs the 20 MB module.
    wasm: EmbeddedWasm,
    /// Import field name (as the wasm module names it) → the glue's
    /// JavaScript function name, e.g. `"b"` → `"___cxa_throw"`.
    pub imports: HashMap<String, String>,
    /// The glue's export name (e.g. `"_solidity_compile"`, `"stackSave"`)
    /// → the wasm module's export name.
    pub exports: HashMap<String, String>,
}

/// The byte range of the module's base64 text in the glue, and its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EmbeddedWasm {
    /// LZ4 frames, base64, handed to an inline decompressor with the
    /// uncompressed size: `…})("<base64>", <size>);` (solc ≥ 0.8.10).
    Lz4 {
        base64: std::ops::Range<usize>,
        size: usize,
    },
    /// `data:application/octet-stream;base64,<base64>` (older 0.8.x).
    DataUrl { base64: std::ops::Range<usize> },
}

impl Soljson {
    pub fn parse(glue: &str) -> Result<Self, SolcError> {
        let wasm = locate_wasm(glue)?;
        // The names are in the few hundred KB of JavaScript around the
        // module's base64 text; the regexes skip the ~10 MB blob.
        let base64 = match &wasm {
            EmbeddedWasm::Lz4 { base64, .. } | EmbeddedWasm::DataUrl { base64 } => base64.clone(),
        };
        let code = [&glue[..base64.start], &glue[base64.end..]].concat();
        let imports = import_names(&code);
        let exports = export_names(&code);
        if !exports.contains_key("_solidity_compile") {
            return Err(SolcError::Message(
                "soljson.js does not export solidity_compile: not a solc build forja can run"
                    .into(),
            ));
        }
        Ok(Self {
            wasm,
            imports,
            exports,
        })
    }

    /// Decodes (and decompresses) the WebAssembly module out of `glue`, the
    /// same text this was parsed from.
    pub fn wasm(&self, glue: &str) -> Result<Vec<u8>, SolcError> {
        let text = |range: &std::ops::Range<usize>| {
            glue.get(range.clone())
                .ok_or_else(|| SolcError::Message("soljson.js changed since it was read".into()))
        };
        match &self.wasm {
            EmbeddedWasm::Lz4 { base64, size } => lz4_frames(&decode_base64(text(base64)?)?, *size),
            EmbeddedWasm::DataUrl { base64 } => decode_base64(text(base64)?),
        }
    }

    /// The wasm export behind a glue name, e.g. `"_malloc"`.
    pub fn export(&self, glue_name: &str) -> Result<&str, SolcError> {
        self.exports
            .get(glue_name)
            .map(String::as_str)
            .ok_or_else(|| SolcError::Message(format!("soljson.js does not export `{glue_name}`")))
    }
}

fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

/// Finds the module's base64 text with plain substring searches: a regex
/// over the 10 MB glue took a quarter of a second on every load.
fn locate_wasm(glue: &str) -> Result<EmbeddedWasm, SolcError> {
    let bytes = glue.as_bytes();
    let base64_from = |start: usize| {
        let len = bytes[start..].iter().take_while(|&&b| is_base64(b)).count();
        start..start + len
    };
    // `})("<base64>", <digits>)`
    for (at, opener) in glue.match_indices("})(\"") {
        let base64 = base64_from(at + opener.len());
        let rest = &glue[base64.end..];
        let Some(rest) = rest.strip_prefix("\",") else {
            continue;
        };
        let rest = rest.trim_start();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if base64.is_empty() || digits == 0 || !rest[digits..].starts_with(')') {
            continue;
        }
        let size = rest[..digits]
            .parse()
            .map_err(|_| SolcError::Message("soljson.js: bad uncompressed size".into()))?;
        return Ok(EmbeddedWasm::Lz4 { base64, size });
    }
    const DATA_URL: &str = "data:application/octet-stream;base64,";
    // The glue also names the bare prefix (`dataURIPrefix="data:…,"`).
    if let Some(base64) = glue
        .match_indices(DATA_URL)
        .map(|(at, _)| base64_from(at + DATA_URL.len()))
        .max_by_key(|range| range.len())
        .filter(|range| !range.is_empty())
    {
        return Ok(EmbeddedWasm::DataUrl { base64 });
    }
    Err(SolcError::Message(
        "soljson.js holds no embedded WebAssembly module (neither compressed nor a data URL)"
            .into(),
    ))
}

fn decode_base64(text: &str) -> Result<Vec<u8>, SolcError> {
    // The glue's decoder tolerates missing padding; so does this one.
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(text).map_err(|err| {
        SolcError::Message(format!(
            "soljson.js: embedded wasm is not valid base64: {err}"
        ))
    })
}

/// The glue's format: a sequence of `[u32 little-endian block size][LZ4 block]`
/// ended by a zero size; a block whose size has the top bit set is stored raw.
fn lz4_frames(data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>, SolcError> {
    let corrupt =
        |what: &str| SolcError::Message(format!("soljson.js: compressed wasm is corrupt ({what})"));
    let mut out = Vec::with_capacity(uncompressed_size);
    let mut pos = 0;
    loop {
        let header = data
            .get(pos..pos + 4)
            .ok_or_else(|| corrupt("truncated block header"))?;
        let raw_size = u32::from_le_bytes(header.try_into().expect("4 bytes"));
        pos += 4;
        if raw_size == 0 {
            break;
        }
        let stored_raw = raw_size & 0x8000_0000 != 0;
        let size = (raw_size & 0x7fff_ffff) as usize;
        let block = data
            .get(pos..pos + size)
            .ok_or_else(|| corrupt("truncated block"))?;
        pos += size;
        if stored_raw {
            out.extend_from_slice(block);
        } else {
            let remaining = uncompressed_size.saturating_sub(out.len());
            let mut buf = vec![0u8; remaining];
            let written = lz4_flex::block::decompress_into(block, &mut buf)
                .map_err(|err| corrupt(&err.to_string()))?;
            out.extend_from_slice(&buf[..written]);
        }
    }
    if out.len() != uncompressed_size {
        return Err(corrupt("size mismatch"));
    }
    Ok(out)
}

fn import_names(glue: &str) -> HashMap<String, String> {
    let object =
        Regex::new(r"(?:asmLibraryArg|wasmImports)\s*=\s*\{([^}]*)\}").expect("valid regex");
    let entry = Regex::new(r#""?([\w$]+)"?\s*:\s*([\w$]+)"#).expect("valid regex");
    let mut names = HashMap::new();
    if let Some(caps) = object.captures(glue) {
        for pair in entry.captures_iter(&caps[1]) {
            names.insert(pair[1].to_string(), pair[2].to_string());
        }
    }
    names
}

fn export_names(glue: &str) -> HashMap<String, String> {
    // `Module["_solidity_compile"] = asm["Jb"]`, or the lazy form
    // `… = function() { return (… = Module["asm"]["Jb"]).apply(…) }`.
    let direct = Regex::new(r#"Module\["(\w+)"\]\s*=\s*asm\["(\w+)"\]"#).expect("valid regex");
    let lazy = Regex::new(r#"Module\["(\w+)"\]\s*=\s*function\s*\(\)\s*\{\s*return\s*\([\w$]+\s*=\s*Module\["\w+"\]\s*=\s*Module\["asm"\]\["(\w+)"\]"#)
        .expect("valid regex");
    let mut names = HashMap::new();
    for caps in direct.captures_iter(glue).chain(lazy.captures_iter(glue)) {
        names.insert(caps[1].to_string(), caps[2].to_string());
    }
    // Memory and table are read off `Module["asm"]["Fb"]` assignments.
    for (glue_name, pattern) in [
        ("memory", r#"wasmMemory\s*=\s*Module\["asm"\]\["(\w+)"\]"#),
        ("table", r#"wasmTable\s*=\s*Module\["asm"\]\["(\w+)"\]"#),
    ] {
        if let Some(caps) = Regex::new(pattern).expect("valid regex").captures(glue) {
            names.insert(glue_name.to_string(), caps[1].to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_frames_decode_compressed_and_raw_blocks() {
        let payload = b"hello hello hello hello solc".repeat(20);
        let compressed = lz4_flex::block::compress(&payload);
        let mut framed = Vec::new();
        framed.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        framed.extend_from_slice(&compressed);
        framed.extend_from_slice(&(0x8000_0000u32 | 3).to_le_bytes());
        framed.extend_from_slice(b"end");
        framed.extend_from_slice(&0u32.to_le_bytes());
        let out = lz4_frames(&framed, payload.len() + 3).unwrap();
        assert_eq!(&out[..payload.len()], &payload[..]);
        assert_eq!(&out[payload.len()..], b"end");
    }

    #[test]
    fn truncated_frames_are_an_error() {
        let err = lz4_frames(&[10, 0, 0, 0, 1, 2], 100).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }

    #[test]
    fn glue_without_wasm_is_an_error() {
        let err = Soljson::parse("var Module = {};").unwrap_err();
        assert!(err.to_string().contains("no embedded WebAssembly"), "{err}");
    }

    #[test]
    fn wasm_is_found_in_both_embeddings() {
        let module = b"\0asm\x01\0\0\0";
        let base64 = base64::engine::general_purpose::STANDARD.encode(module);
        let names =
            r#"var asmLibraryArg = {"b": ___cxa_throw}; Module["_solidity_compile"] = asm["Jb"];"#;

        let data_url = format!(
            r#"var dataURIPrefix="data:application/octet-stream;base64,"; var wasmBinaryFile = "data:application/octet-stream;base64,{base64}"; {names}"#
        );
        let parsed = Soljson::parse(&data_url).unwrap();
        assert_eq!(parsed.wasm(&data_url).unwrap(), module);
        assert_eq!(parsed.imports["b"], "___cxa_throw");

        let mut framed = (0x8000_0000u32 | module.len() as u32)
            .to_le_bytes()
            .to_vec();
        framed.extend_from_slice(module);
        framed.extend_from_slice(&0u32.to_le_bytes());
        let framed = base64::engine::general_purpose::STANDARD.encode(framed);
        let lz4 = format!(
            r#"(function(a){{ return f(a) }})(g); var b = (function(s, n){{ }})("{framed}", {}); {names}"#,
            module.len()
        );
        let parsed = Soljson::parse(&lz4).unwrap();
        assert_eq!(parsed.wasm(&lz4).unwrap(), module);
        assert_eq!(parsed.exports["_solidity_compile"], "Jb");
    }

    #[test]
    fn names_are_read_from_the_glue() {
        let glue = r#"var asmLibraryArg = {"b": ___cxa_throw, "a": _abort}; Module["_solidity_compile"] = asm["Jb"]; wasmMemory = Module["asm"]["Fb"];"#;
        assert_eq!(import_names(glue)["b"], "___cxa_throw");
        let exports = export_names(glue);
        assert_eq!(exports["_solidity_compile"], "Jb");
        assert_eq!(exports["memory"], "Fb");
    }
}
