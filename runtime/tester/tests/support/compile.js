// Compiles a project's .sol files with solc-js into a standard-JSON output file.
// Used by forja-tester's examples/bench.rs (the tests compile in-process with forja-compiler).
// usage: node compile.js <root> <out.json> [prefix=target ...] [--dirs=src,test]
const solc = require('solc'); const fs = require('fs'); const path = require('path');
const root = path.resolve(process.argv[2]); const out = process.argv[3];
const remaps = process.argv.slice(4).filter(a => a.includes('='));
const dirsArg = process.argv.find(a => a.startsWith('--dirs=')); const dirs = dirsArg ? dirsArg.slice(7).split(',') : ['src', 'test'];
function walk(d) { let r = []; if (!fs.existsSync(d)) return r; for (const f of fs.readdirSync(d)) { const p = path.join(d, f); if (fs.statSync(p).isDirectory()) r = r.concat(walk(p)); else if (p.endsWith('.sol')) r.push(p); } return r; }
const sources = {};
for (const d of dirs) for (const f of walk(path.join(root, d))) sources[path.relative(root, f)] = { content: fs.readFileSync(f, 'utf8') };
function findImports(p) {
  for (const r of remaps) { const [from, to] = r.split('='); if (p.startsWith(from)) { const f = path.resolve(to, p.slice(from.length)); if (fs.existsSync(f)) return { contents: fs.readFileSync(f, 'utf8') }; } }
  const f = path.join(root, p); if (fs.existsSync(f)) return { contents: fs.readFileSync(f, 'utf8') };
  return { error: 'not found: ' + p };
}
const input = { language: 'Solidity', sources, settings: { optimizer: { enabled: false }, evmVersion: 'prague', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.bytecode.linkReferences', 'evm.deployedBytecode.object', 'evm.deployedBytecode.linkReferences'] } } } };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errs = (output.errors || []).filter(e => e.severity === 'error');
for (const e of errs) console.error(e.formattedMessage);
fs.writeFileSync(out, JSON.stringify(output));
process.exit(errs.length ? 1 : 0);
