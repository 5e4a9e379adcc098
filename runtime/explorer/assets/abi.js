// Solidity ABI decoding for the explorer: calls, logs, reverts and RLP of
// QBFT/IBFT extra data. The tables come from /explorer/abi.json, which
// forja builds from the project's artifacts (see abi_index.rs).

export function hexToBytes(hex) {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  const bytes = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.substr(i * 2, 2), 16);
  return bytes;
}

export function bytesToHex(bytes) {
  let out = '0x';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

function word(data, offset) {
  if (offset + 32 > data.length) throw new Error(`ABI data too short: word at ${offset} of ${data.length} bytes`);
  return data.subarray(offset, offset + 32);
}

function toBigInt(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function isDynamic(param) {
  const t = param.type;
  if (t === 'string' || t === 'bytes') return true;
  if (t.endsWith('[]')) return true;
  const fixed = t.match(/^(.*)\[(\d+)\]$/);
  if (fixed) return isDynamic({ ...param, type: fixed[1] });
  if (t === 'tuple') return (param.components || []).some(isDynamic);
  return false;
}

function headSize(param) {
  if (isDynamic(param)) return 32;
  const fixed = param.type.match(/^(.*)\[(\d+)\]$/);
  if (fixed) return Number(fixed[2]) * headSize({ ...param, type: fixed[1] });
  if (param.type === 'tuple') return (param.components || []).reduce((n, c) => n + headSize(c), 0);
  return 32;
}

// Decodes the value of `param` whose head is at `offset` in a block that
// starts at `base`.
function decodeOne(param, data, base, offset) {
  const t = param.type;
  if (isDynamic(param)) {
    const at = base + Number(toBigInt(word(data, offset)));
    return decodeAt(param, data, at);
  }
  return decodeAt(param, data, offset);
}

function decodeAt(param, data, at) {
  const t = param.type;
  const array = t.match(/^(.*)\[(\d*)\]$/);
  if (array) {
    const inner = { ...param, type: array[1] };
    let length, start;
    if (array[2] === '') {
      length = Number(toBigInt(word(data, at)));
      start = at + 32;
    } else {
      length = Number(array[2]);
      start = at;
    }
    if (length > 100000) throw new Error(`array length ${length} is not plausible`);
    const size = headSize(inner);
    const out = [];
    for (let i = 0; i < length; i++) out.push(decodeOne(inner, data, start, start + i * size));
    return out;
  }
  if (t === 'tuple') return decodeList(param.components || [], data, at);
  if (t === 'string' || t === 'bytes') {
    const length = Number(toBigInt(word(data, at)));
    if (at + 32 + length > data.length) throw new Error(`${t} of ${length} bytes runs past the data`);
    const bytes = data.subarray(at + 32, at + 32 + length);
    return t === 'string' ? new TextDecoder().decode(bytes) : bytesToHex(bytes);
  }
  const w = word(data, at);
  if (t === 'address') return bytesToHex(w.subarray(12));
  if (t === 'bool') return toBigInt(w) !== 0n;
  if (t.startsWith('uint')) return toBigInt(w);
  if (t.startsWith('int')) {
    const bits = Number(t.slice(3) || 256);
    let v = toBigInt(w) & ((1n << BigInt(bits)) - 1n);
    if (v >> BigInt(bits - 1)) v -= 1n << BigInt(bits);
    return v;
  }
  const fixedBytes = t.match(/^bytes(\d+)$/);
  if (fixedBytes) return bytesToHex(w.subarray(0, Number(fixedBytes[1])));
  throw new Error(`cannot decode ABI type ${t}`);
}

function decodeList(params, data, base) {
  const out = [];
  let offset = base;
  for (const p of params) {
    out.push(decodeOne(p, data, base, offset));
    offset += headSize(p);
  }
  return out;
}

/** Values of `params` ABI-encoded in `hex` (no selector). */
export function decodeParams(params, hex) {
  return decodeList(params, hexToBytes(hex), 0);
}

/** A value as text: numbers in decimal, tuples and arrays bracketed. */
export function formatValue(value) {
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return value.startsWith('0x') ? value : JSON.stringify(value);
  return String(value);
}

function named(params, values) {
  return params.map((p, i) => ({ name: p.name || `arg${i}`, type: p.type, value: formatValue(values[i]) }));
}

/** Entries of `table` under `key`, those of `contract` (when known) first. */
function candidates(table, key, contract) {
  const all = table[key] || [];
  return contract ? [...all.filter((e) => e.contract === contract), ...all.filter((e) => e.contract !== contract)] : all;
}

/** `{contract, name, signature, args}` for call data to a contract named
 * `contract` (or unknown), or null. */
export function decodeCall(abi, input, contract) {
  if (!input || input.length < 10) return null;
  for (const f of candidates(abi.functions, input.slice(0, 10).toLowerCase(), contract)) {
    try {
      const values = decodeParams(f.inputs, '0x' + input.slice(10));
      return { contract: f.contract, name: f.name, signature: f.signature, args: named(f.inputs, values) };
    } catch (_) { /* next candidate */ }
  }
  return null;
}

/** `{contract, name, signature, args}` for a log emitted by a contract
 * named `contract` (or unknown), or null. */
export function decodeLog(abi, log, contract) {
  const topic = (log.topics[0] || '').toLowerCase();
  for (const e of candidates(abi.events, topic, contract)) {
    try {
      const indexed = e.inputs.filter((p) => p.indexed);
      if (indexed.length !== log.topics.length - 1) continue;
      const data = decodeParams(e.inputs.filter((p) => !p.indexed), log.data);
      let t = 1, d = 0;
      const args = e.inputs.map((p, i) => {
        const name = p.name || `arg${i}`;
        if (p.indexed) {
          const topicHex = log.topics[t++];
          // Indexed dynamic values are stored as their hash.
          const value = isDynamic(p) ? `${topicHex} (hash)` : formatValue(decodeParams([p], topicHex)[0]);
          return { name, type: p.type, value };
        }
        return { name, type: p.type, value: formatValue(data[d++]) };
      });
      return { contract: e.contract, name: e.name, signature: e.signature, args };
    } catch (_) { /* next candidate */ }
  }
  return null;
}

const PANICS = {
  0x01: 'assertion failed', 0x11: 'arithmetic overflow or underflow', 0x12: 'division or modulo by zero',
  0x21: 'invalid enum value', 0x22: 'invalid storage byte array', 0x31: 'pop on an empty array',
  0x32: 'array index out of bounds', 0x41: 'out of memory', 0x51: 'call to an uninitialised function',
};

/** Revert data as text: Error(string), Panic(uint256), a project error, or the raw bytes. */
export function decodeRevert(abi, output, contract) {
  if (!output || output === '0x') return 'reverted without a reason';
  const selector = output.slice(0, 10).toLowerCase();
  try {
    if (selector === '0x08c379a0') return decodeParams([{ type: 'string' }], '0x' + output.slice(10))[0];
    if (selector === '0x4e487b71') {
      const code = decodeParams([{ type: 'uint256' }], '0x' + output.slice(10))[0];
      return `panic 0x${code.toString(16)} (${PANICS[Number(code)] || 'unknown panic code'})`;
    }
    for (const e of candidates(abi.errors, selector, contract)) {
      const values = decodeParams(e.inputs, '0x' + output.slice(10));
      return `${e.name}(${named(e.inputs, values).map((a) => `${a.name}: ${a.value}`).join(', ')})`;
    }
  } catch (_) { /* raw below */ }
  return `revert data ${output}`;
}

/** The contract whose runtime code matches `code` (immutables and library
 * addresses masked), or null. */
export function identifyContract(abi, code) {
  if (!code || code === '0x') return null;
  const onChain = code.toLowerCase();
  for (const c of abi.contracts) {
    if (c.runtime.length !== onChain.length) continue;
    let masked = onChain;
    for (const [start, length] of c.masks) {
      const a = 2 + start * 2, b = a + length * 2;
      masked = masked.slice(0, a) + '0'.repeat(b - a) + masked.slice(b);
    }
    if (masked === c.runtime.toLowerCase()) return c;
  }
  return null;
}

// RLP, for QBFT/IBFT 2.0 extra data.
function rlpItem(bytes, at) {
  const b = bytes[at];
  if (b === undefined) throw new Error('RLP runs past the data');
  if (b < 0x80) return { value: bytes.subarray(at, at + 1), end: at + 1 };
  const lengthOf = (n) => Number(toBigInt(bytes.subarray(at + 1, at + 1 + n)));
  if (b < 0xb8) return { value: bytes.subarray(at + 1, at + 1 + b - 0x80), end: at + 1 + b - 0x80 };
  if (b < 0xc0) {
    const n = b - 0xb7, len = lengthOf(n);
    return { value: bytes.subarray(at + 1 + n, at + 1 + n + len), end: at + 1 + n + len };
  }
  let start, end;
  if (b < 0xf8) { start = at + 1; end = start + b - 0xc0; } else {
    const n = b - 0xf7;
    start = at + 1 + n; end = start + lengthOf(n);
  }
  const list = [];
  for (let i = start; i < end;) {
    const item = rlpItem(bytes, i);
    list.push(item.value);
    i = item.end;
  }
  return { value: list, end };
}

/** `{validators, round, seals}` of a QBFT/IBFT 2.0 block's extra data, or null. */
export function decodeBftExtraData(hex) {
  try {
    const [, validators, , round, seals] = rlpItem(hexToBytes(hex), 0).value;
    return {
      validators: validators.map(bytesToHex),
      round: Number(toBigInt(round)),
      seals: seals.length,
    };
  } catch (_) {
    return null;
  }
}
