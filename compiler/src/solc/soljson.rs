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
    /// The WebAssembly module, decoded and decompressed.
    pub wasm: Vec<u8>,
    /// Import field name (as the wasm module names it) → the glue's
    /// JavaScript function name, e.g. `"b"` → `"___cxa_throw"`.
    pub imports: HashMap<String, String>,
    /// The glue's export name (e.g. `"_solidity_compile"`, `"stackSave"`)
    /// → the wasm module's export name.
    pub exports: HashMap<String, String>,
}

impl Soljson {
    pub fn parse(glue: &str) -> Result<Self, SolcError> {
        let wasm = extract_wasm(glue)?;
        let imports = import_names(glue);
        let exports = export_names(glue);
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

    /// The wasm export behind a glue name, e.g. `"_malloc"`.
    pub fn export(&self, glue_name: &str) -> Result<&str, SolcError> {
        self.exports
            .get(glue_name)
            .map(String::as_str)
            .ok_or_else(|| SolcError::Message(format!("soljson.js does not export `{glue_name}`")))
    }
}

/// The wasm binary is either LZ4-compressed base64 handed to an inline
/// decompressor (`…})("<base64>", <size>);`), as solc ≥ 0.8.10 ships it, or a
/// plain base64 data URL.
fn extract_wasm(glue: &str) -> Result<Vec<u8>, SolcError> {
    let compressed = Regex::new(r#"\}\)\("([A-Za-z0-9+/=]+)",\s*(\d+)\)"#).expect("valid regex");
    if let Some(caps) = compressed.captures(glue) {
        let data = decode_base64(&caps[1])?;
        let size: usize = caps[2]
            .parse()
            .map_err(|_| SolcError::Message("soljson.js: bad uncompressed size".into()))?;
        return lz4_frames(&data, size);
    }
    let data_url = Regex::new(r#"data:application/octet-stream;base64,([A-Za-z0-9+/=]+)"#)
        .expect("valid regex");
    if let Some(caps) = data_url.captures(glue) {
        return decode_base64(&caps[1]);
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
    fn names_are_read_from_the_glue() {
        let glue = r#"var asmLibraryArg = {"b": ___cxa_throw, "a": _abort}; Module["_solidity_compile"] = asm["Jb"]; wasmMemory = Module["asm"]["Fb"];"#;
        assert_eq!(import_names(glue)["b"], "___cxa_throw");
        let exports = export_names(glue);
        assert_eq!(exports["_solidity_compile"], "Jb");
        assert_eq!(exports["memory"], "Fb");
    }
}
