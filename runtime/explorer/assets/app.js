// forja explorer: a single page over the JSON-RPC API. Routes live in the
// URL fragment (#/block/12, #/tx/0x…, #/address/0x…, #/validators,
// #/permissions). Everything shown from the chain goes through esc().
import {
  decodeCall, decodeLog, decodeRevert, identifyContract, decodeBftExtraData,
} from './abi.js';

const main = document.getElementById('main');
const statusLine = document.getElementById('status');
let config = { rpc: '/', login: '/login', websocket: 'same-origin', methods: [] };
let abi = { functions: {}, events: {}, errors: {}, contracts: [] };
let token = sessionStorage.getItem('forja-explorer-token');
const UNAUTHORIZED = -40100;

// ---- JSON-RPC -------------------------------------------------------------

class RpcError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

let nextId = 1;
function checkAllowed(method) {
  // The page calls reads only; the list comes from the server (one owner).
  if (!config.methods.includes(method)) throw new RpcError(-32604, `the explorer does not call ${method}`);
}

async function post(body) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(config.rpc, { method: 'POST', headers, body: JSON.stringify(body) });
  if (response.status === 401) throw new RpcError(UNAUTHORIZED, 'Unauthorized');
  const text = await response.text();
  let answer;
  try { answer = JSON.parse(text); } catch (_) {
    throw new RpcError(response.status, `HTTP ${response.status}: ${text.slice(0, 200)}`);
  }
  return answer;
}

function unwrap(answer) {
  if (answer.error) throw new RpcError(answer.error.code, answer.error.message);
  return answer.result;
}

// A refusal of a call sent with an older token (or none) asks for nothing:
// the user has logged in since.
async function rpc(method, params = []) {
  checkAllowed(method);
  const sentWith = token;
  try {
    return unwrap(await post({ jsonrpc: '2.0', id: nextId++, method, params }));
  } catch (e) {
    if (e.code === UNAUTHORIZED && sentWith === token) askForLogin(`${method}: ${e.message}`);
    throw e;
  }
}

/** Several calls in one request; each result, or an RpcError in its place. */
async function rpcBatch(calls) {
  if (calls.length === 0) return [];
  calls.forEach(([method]) => checkAllowed(method));
  const first = nextId;
  const body = calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: first + i, method, params }));
  nextId += calls.length;
  const sentWith = token;
  let answers;
  try {
    answers = await post(body);
  } catch (e) {
    if (e.code === UNAUTHORIZED && sentWith === token) askForLogin(e.message);
    throw e;
  }
  if (!Array.isArray(answers)) return calls.map(() => new RpcError(answers.error?.code, answers.error?.message));
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map((_, i) => {
    const a = byId.get(first + i);
    if (!a) return new RpcError(-32603, 'no answer');
    if (a.error?.code === UNAUTHORIZED && sentWith === token) askForLogin(a.error.message);
    return a.error ? new RpcError(a.error.code, a.error.message) : a.result;
  });
}

// ---- Authentication -------------------------------------------------------

function askForLogin(why) {
  const dialog = document.getElementById('login');
  if (dialog.open) return;
  document.getElementById('login-why').textContent = why;
  dialog.showModal();
}

document.getElementById('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const errorLine = document.getElementById('login-error');
  errorLine.textContent = '';
  let newToken = form.token.value.trim();
  if (!newToken && form.username.value) {
    const response = await fetch(config.login, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || !answer.token) {
      errorLine.textContent = `login failed: ${answer.error || response.status}`;
      return;
    }
    newToken = answer.token;
  }
  if (!newToken) { errorLine.textContent = 'give a token, or a username and password'; return; }
  token = newToken;
  sessionStorage.setItem('forja-explorer-token', token);
  form.password.value = '';
  document.getElementById('login').close();
  connectLive();
  route();
});

/** The permissions a token grants, read from its claims (display only; the node decides). */
function tokenPermissions() {
  if (!token) return null;
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return claims.permissions || null;
  } catch (_) { return null; }
}

// ---- Formatting -----------------------------------------------------------

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
const num = (hex) => (hex == null ? null : BigInt(hex));
const short = (hex) => (hex && hex.length > 18 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex);
const blockLink = (n) => `<a href="#/block/${esc(n)}">${esc(n)}</a>`;
const txLink = (h) => `<a class="mono" href="#/tx/${esc(h)}">${esc(short(h))}</a>`;
const names = new Map(); // address → contract name, once known
const nameOf = (a) => (a ? names.get(a.toLowerCase()) : undefined);
function addressLink(a, { full = false } = {}) {
  if (!a) return '<span class="muted">—</span>';
  const name = names.get(a.toLowerCase());
  const shown = full ? a : short(a);
  return `<a class="mono" href="#/address/${esc(a)}" title="${esc(a)}">${esc(name ? `${name} ${shown}` : shown)}</a>`;
}
function ether(wei) {
  const v = BigInt(wei);
  const whole = v / 10n ** 18n, frac = (v % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${whole}${frac ? '.' + frac : ''} ETH`;
}
function age(timestampHex) {
  const seconds = Math.max(0, Math.floor(Date.now() / 1000) - Number(num(timestampHex)));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}
function callText(decoded) {
  return `<span class="fn">${esc(decoded.contract)}.${esc(decoded.name)}</span>(${decoded.args
    .map((a) => `<span class="muted">${esc(a.name)}:</span> ${esc(a.value)}`).join(', ')})`;
}
function describeInput(tx) {
  if (!tx.to) return '<span class="muted">contract creation</span>';
  if (!tx.input || tx.input === '0x') return '<span class="muted">transfer</span>';
  const decoded = decodeCall(abi, tx.input, nameOf(tx.to));
  return decoded ? `<span class="fn">${esc(decoded.name)}</span>` : `<code>${esc(tx.input.slice(0, 10))}</code>`;
}
function problem(e) {
  return `<p class="error">${esc(e.message || e)}</p>`;
}

// ---- Pages ----------------------------------------------------------------

const LATEST = 12;
let latestBlocks = []; // newest first, full blocks

async function showHome() {
  const head = Number(num(await rpc('eth_blockNumber')));
  const calls = [];
  for (let n = head; n >= 0 && n > head - LATEST; n--) calls.push(['eth_getBlockByNumber', ['0x' + n.toString(16), true]]);
  latestBlocks = (await rpcBatch(calls)).filter((b) => b && !(b instanceof Error));
  await nameAddresses(latestBlocks.flatMap((b) => b.transactions.map((tx) => tx.to)));
  renderHome();
}

function renderHome() {
  if (currentRoute()[0] !== '') return;
  const blocks = latestBlocks.map((b) => {
    const extra = decodeBftExtraData(b.extraData);
    return `<tr><td>${blockLink(Number(num(b.number)))}</td><td>${esc(age(b.timestamp))}</td>
      <td>${b.transactions.length}</td><td>${addressLink(b.miner)}</td><td>${extra ? extra.round : '—'}</td></tr>`;
  }).join('');
  const txs = latestBlocks.flatMap((b) => b.transactions).slice(0, 20).map((tx) => `<tr>
      <td>${txLink(tx.hash)}</td><td>${blockLink(Number(num(tx.blockNumber)))}</td>
      <td>${addressLink(tx.from)}</td><td>${tx.to ? addressLink(tx.to) : '<span class="muted">new contract</span>'}</td>
      <td>${describeInput(tx)}</td></tr>`).join('');
  main.innerHTML = `<div class="grid">
    <section><h2>Latest blocks</h2><table id="blocks"><thead><tr><th>Block</th><th>Age</th><th>Txs</th><th>Proposer</th><th>Round</th></tr></thead>
      <tbody>${blocks || '<tr><td colspan="5" class="muted">no blocks</td></tr>'}</tbody></table></section>
    <section><h2>Latest transactions</h2><table id="transactions"><thead><tr><th>Hash</th><th>Block</th><th>From</th><th>To</th><th>Call</th></tr></thead>
      <tbody>${txs || '<tr><td colspan="5" class="muted">no transactions in these blocks</td></tr>'}</tbody></table></section></div>`;
}

async function newHead(header) {
  if (currentRoute()[0] !== '') return;
  const block = await rpc('eth_getBlockByNumber', [header.number, true]);
  if (!block || latestBlocks.some((b) => b.hash === block.hash)) return;
  latestBlocks = [block, ...latestBlocks].slice(0, LATEST);
  await nameAddresses(block.transactions.map((tx) => tx.to));
  renderHome();
}

async function showBlock(id) {
  const block = id.startsWith('0x') && id.length === 66
    ? await rpc('eth_getBlockByHash', [id, true])
    : await rpc('eth_getBlockByNumber', ['0x' + BigInt(id).toString(16), true]);
  if (!block) { main.innerHTML = `<h1>Block ${esc(id)}</h1><p class="error">no such block</p>`; return; }
  const number = Number(num(block.number));
  const extra = decodeBftExtraData(block.extraData);
  const txs = block.transactions.map((tx) => `<tr><td>${txLink(tx.hash)}</td><td>${addressLink(tx.from)}</td>
    <td>${tx.to ? addressLink(tx.to) : '<span class="muted">new contract</span>'}</td><td>${describeInput(tx)}</td><td>${esc(ether(tx.value))}</td></tr>`).join('');
  main.innerHTML = `<h1>Block ${number}</h1><dl>
    <dt>Hash</dt><dd class="mono">${esc(block.hash)}</dd>
    <dt>Parent</dt><dd>${number > 0 ? blockLink(number - 1) : '—'}</dd>
    <dt>Time</dt><dd>${esc(new Date(Number(num(block.timestamp)) * 1000).toISOString())} (${esc(age(block.timestamp))})</dd>
    <dt>Proposer</dt><dd>${addressLink(block.miner, { full: true })}</dd>
    <dt>Round</dt><dd>${extra ? `${extra.round}${extra.round > 0 ? ' (round changes happened)' : ''}` : '—'}</dd>
    <dt>Validators</dt><dd>${extra ? extra.validators.map((v) => addressLink(v, { full: true })).join('<br>') : '—'}</dd>
    <dt>Commit seals</dt><dd>${extra ? extra.seals : '—'}</dd>
    <dt>Gas used</dt><dd>${esc(num(block.gasUsed))} of ${esc(num(block.gasLimit))}</dd>
    </dl><h2>Transactions (${block.transactions.length})</h2>
    <table><thead><tr><th>Hash</th><th>From</th><th>To</th><th>Call</th><th>Value</th></tr></thead><tbody>${txs || '<tr><td colspan="5" class="muted">none</td></tr>'}</tbody></table>`;
  await nameAddresses(block.transactions.flatMap((tx) => [tx.to]));
}

function traceLines(frame, depth, out) {
  const decoded = frame.input ? decodeCall(abi, frame.input, nameOf(frame.to)) : null;
  const what = frame.type === 'CREATE' || frame.type === 'CREATE2'
    ? 'new contract'
    : decoded ? callText(decoded) : `<code>${esc((frame.input || '0x').slice(0, 10))}</code>`;
  const failed = frame.error ? ` <span class="failed">✗ ${esc(frame.revertReason || (frame.output ? decodeRevert(abi, frame.output, nameOf(frame.to)) : frame.error))}</span>` : '';
  out.push(`${'  '.repeat(depth)}${esc(frame.type)} ${addressLink(frame.to)} ${what}${failed}`);
  for (const call of frame.calls || []) traceLines(call, depth + 1, out);
  return out;
}

async function revertReason(hash, trace, contract) {
  if (config.methods.includes('ots_getTransactionError')) {
    try {
      const output = await rpc('ots_getTransactionError', [hash]);
      if (output && output !== '0x') return decodeRevert(abi, output, contract);
    } catch (_) { /* fall back to the trace */ }
  }
  if (trace && trace.output) return decodeRevert(abi, trace.output, contract);
  return trace?.error || 'reverted (no reason available)';
}

async function showTransaction(hash) {
  const [tx, receipt] = await rpcBatch([['eth_getTransactionByHash', [hash]], ['eth_getTransactionReceipt', [hash]]]);
  if (!tx || tx instanceof Error) { main.innerHTML = `<h1>Transaction</h1><p class="error">no transaction ${esc(hash)}</p>`; return; }
  await nameAddresses([tx.to, receipt?.contractAddress]);
  let trace = null, traceNote = '';
  try {
    trace = await rpc('debug_traceTransaction', [hash, { tracer: 'callTracer' }]);
  } catch (e) {
    traceNote = `call trace unavailable: ${e.message}`;
  }
  const frames = (frame) => [frame.to, ...(frame.calls || []).flatMap(frames)];
  if (trace) await nameAddresses(frames(trace));
  const ok = receipt && !(receipt instanceof Error) ? receipt.status === '0x1' : null;
  const decoded = tx.to ? decodeCall(abi, tx.input, nameOf(tx.to)) : null;
  let call;
  if (!tx.to) {
    const created = receipt?.contractAddress;
    call = `<span class="muted">creates</span> ${addressLink(created)}`;
  } else if (decoded) {
    call = `<span id="decoded-call">${callText(decoded)}</span><br><span class="muted mono">${esc(decoded.signature)}</span>`;
  } else {
    call = tx.input === '0x' ? '<span class="muted">none (a transfer)</span>' : `<code>${esc(tx.input.slice(0, 10))}</code> <span class="muted">(not in this project's ABIs)</span>`;
  }
  const reason = ok === false ? await revertReason(hash, trace, nameOf(tx.to)) : null;
  await nameAddresses((receipt?.logs || []).map((log) => log.address));
  const logs = (receipt?.logs || []).map((log) => {
    const d = decodeLog(abi, log, nameOf(log.address));
    return `<tr><td>${esc(Number(num(log.logIndex)))}</td><td>${addressLink(log.address)}</td>
      <td>${d ? callText(d) : `<code>${esc(log.topics[0] || 'anonymous')}</code> <code>${esc(short(log.data))}</code>`}</td></tr>`;
  }).join('');
  main.innerHTML = `<h1>Transaction</h1><dl>
    <dt>Hash</dt><dd class="mono">${esc(tx.hash)}</dd>
    <dt>Status</dt><dd id="tx-status">${ok === null ? '<span class="muted">pending</span>' : ok ? '<span class="success">success</span>' : '<span class="failed">reverted</span>'}</dd>
    ${reason ? `<dt>Revert reason</dt><dd id="revert-reason" class="failed">${esc(reason)}</dd>` : ''}
    <dt>Block</dt><dd>${tx.blockNumber ? blockLink(Number(num(tx.blockNumber))) : '—'}</dd>
    <dt>From</dt><dd>${addressLink(tx.from, { full: true })}</dd>
    <dt>To</dt><dd>${tx.to ? addressLink(tx.to, { full: true }) : '—'}</dd>
    <dt>Call</dt><dd>${call}</dd>
    <dt>Value</dt><dd>${esc(ether(tx.value))}</dd>
    <dt>Gas used</dt><dd>${receipt ? esc(num(receipt.gasUsed)) : '—'} (limit ${esc(num(tx.gas))})</dd>
    <dt>Nonce</dt><dd>${esc(num(tx.nonce))}</dd>
    </dl>
    <h2>Logs (${receipt?.logs?.length || 0})</h2>
    <table><tbody>${logs || '<tr><td class="muted">none</td></tr>'}</tbody></table>
    <h2>Call trace</h2>
    <div class="trace">${trace ? traceLines(trace, 0, []).join('\n') : esc(traceNote)}</div>`;
}

async function nameAddresses(addresses) {
  const unknown = [...new Set(addresses.filter(Boolean).map((a) => a.toLowerCase()))].filter((a) => !names.has(a));
  if (unknown.length === 0 || abi.contracts.length === 0) return;
  const codes = await rpcBatch(unknown.map((a) => ['eth_getCode', [a, 'latest']]));
  unknown.forEach((a, i) => {
    const contract = typeof codes[i] === 'string' ? identifyContract(abi, codes[i]) : null;
    if (contract) names.set(a, contract.name);
  });
}

const PAGE_SIZE = 25;

async function showAddress(address, before = '0') {
  const [balance, nonce, code] = await rpcBatch([
    ['eth_getBalance', [address, 'latest']], ['eth_getTransactionCount', [address, 'latest']], ['eth_getCode', [address, 'latest']],
  ]);
  const contract = typeof code === 'string' ? identifyContract(abi, code) : null;
  if (contract) names.set(address.toLowerCase(), contract.name);
  const codeSize = typeof code === 'string' ? (code.length - 2) / 2 : 0;
  let history, creation = '';
  try {
    // Otterscan's API: newest first, pages of whole blocks before `before` (0: the head).
    const page = await rpc('ots_searchTransactionsBefore', [address, Number(before), PAGE_SIZE]);
    const txs = page.txs || [];
    await nameAddresses(txs.map((tx) => tx.to));
    const failed = new Set((page.receipts || []).filter((r) => r.status === '0x0').map((r) => r.transactionHash));
    const oldest = txs.length ? Number(num(txs[txs.length - 1].blockNumber)) : null;
    history = `<table id="address-transactions"><thead><tr><th>Hash</th><th>Block</th><th>From</th><th>To</th><th>Call</th><th>Status</th></tr></thead><tbody>${txs.map((tx) => `<tr>
      <td>${txLink(tx.hash)}</td><td>${blockLink(Number(num(tx.blockNumber)))}</td><td>${addressLink(tx.from)}</td>
      <td>${tx.to ? addressLink(tx.to) : '<span class="muted">new contract</span>'}</td><td>${describeInput(tx)}</td>
      <td>${failed.has(tx.hash) ? '<span class="failed">reverted</span>' : '<span class="success">ok</span>'}</td></tr>`).join('')
      || '<tr><td colspan="6" class="muted">none</td></tr>'}</tbody></table>
      ${!page.lastPage && oldest !== null ? `<p><a href="#/address/${esc(address)}/${oldest}">Older transactions →</a></p>` : ''}`;
  } catch (e) {
    if (e.code === UNAUTHORIZED) throw e;
    history = `<p class="muted">Transaction history needs the endpoint's OTS API (ots_searchTransactionsBefore): ${esc(e.message)}</p>`;
  }
  if (codeSize) {
    try {
      const creator = await rpc('ots_getContractCreator', [address]);
      if (creator) creation = `<dt>Created by</dt><dd>${addressLink(creator.creator, { full: true })} in ${txLink(creator.hash)}</dd>`;
    } catch (e) {
      if (e.code === UNAUTHORIZED) throw e;
    }
  }
  main.innerHTML = `<h1>${contract ? `Contract ${esc(contract.name)}` : codeSize ? 'Contract' : 'Account'}</h1><dl>
    <dt>Address</dt><dd class="mono">${esc(address)}</dd>
    <dt>Balance</dt><dd>${balance instanceof Error ? esc(balance.message) : esc(ether(balance))}</dd>
    <dt>Nonce</dt><dd>${nonce instanceof Error ? '—' : esc(num(nonce))}</dd>
    <dt>Code</dt><dd>${codeSize ? `${codeSize} bytes${contract ? ` — matches ${esc(contract.id)}` : ' <span class="muted">(not one of this project\'s contracts)</span>'}` : '<span class="muted">none</span>'}</dd>
    ${creation}
    </dl>
    <h2>Transactions${before !== '0' ? ` before block ${esc(before)}` : ''}</h2>${history}
    ${contract ? `<h2>ABI</h2><ul class="mono">${contract.abi.filter((e) => e.name).map((e) => `<li>${esc(e.type)} ${esc(e.name)}(${
      (e.inputs || []).map((p) => `${esc(p.type)}${p.indexed ? ' indexed' : ''} ${esc(p.name)}`.trim()).join(', ')})${
      e.outputs?.length ? ` → (${e.outputs.map((p) => esc(p.type)).join(', ')})` : ''}${e.stateMutability && e.stateMutability !== 'nonpayable' ? ` <span class="muted">${esc(e.stateMutability)}</span>` : ''}</li>`).join('')}</ul>
      <details><summary>ABI JSON</summary><pre class="abi">${esc(JSON.stringify(contract.abi, null, 2))}</pre></details>` : ''}`;
}

const METRICS_BLOCKS = 100;

async function showValidators() {
  const head = Number(num(await rpc('eth_blockNumber')));
  let prefix = 'qbft', validators;
  try {
    validators = await rpc('qbft_getValidatorsByBlockNumber', ['latest']);
  } catch (e) {
    if (e.code === UNAUTHORIZED) throw e;
    prefix = 'ibft';
    validators = await rpc('ibft_getValidatorsByBlockNumber', ['latest']).catch((ibft) => {
      if (ibft.code === UNAUTHORIZED) throw ibft;
      throw new Error(`the validators need the endpoint's QBFT or IBFT API group (qbft_: ${e.message}; ibft_: ${ibft.message})`);
    });
  }
  const metrics = await rpc(`${prefix}_getSignerMetrics`, []).catch(() => []);
  // Round changes: a block committed in round r > 0 took r round changes.
  const from = Math.max(0, head - METRICS_BLOCKS + 1);
  const calls = [];
  for (let n = from; n <= head; n++) calls.push(['eth_getBlockByNumber', ['0x' + n.toString(16), false]]);
  const blocks = (await rpcBatch(calls)).filter((b) => b && !(b instanceof Error));
  // The block's proposer is the one whose proposal was committed, after
  // the round changes that replaced the proposers before it.
  const rounds = new Map();
  const changed = [];
  let total = 0;
  for (const b of blocks) {
    const extra = decodeBftExtraData(b.extraData);
    if (!extra || extra.round === 0) continue;
    total += extra.round;
    changed.push({ number: Number(num(b.number)), round: extra.round, miner: b.miner });
    const who = (b.miner || '').toLowerCase();
    rounds.set(who, (rounds.get(who) || 0) + 1);
  }
  const byAddress = new Map(metrics.map((m) => [m.address.toLowerCase(), m]));
  const rows = validators.map((v) => {
    const m = byAddress.get(v.toLowerCase());
    return `<tr><td>${addressLink(v, { full: true })}</td><td>${m ? esc(num(m.proposedBlockCount)) : 0}</td>
      <td>${m ? blockLink(Number(num(m.lastProposedBlockNumber))) : '—'}</td><td>${rounds.get(v.toLowerCase()) || 0}</td></tr>`;
  }).join('');
  main.innerHTML = `<h1>Validators (${validators.length}) <span class="muted">${prefix.toUpperCase()}</span></h1>
    <table id="validators"><thead><tr><th>Validator</th><th>Blocks proposed</th><th>Last proposed</th><th>Its blocks after round changes</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="muted">Proposals from ${prefix}_getSignerMetrics (last ${METRICS_BLOCKS} blocks). Round changes from the round in each block's extra data,
    blocks ${from}–${head}: ${total} in all.</p>
    <h2>Blocks committed after round changes</h2>
    <table id="round-changes"><thead><tr><th>Block</th><th>Round</th><th>Proposer</th></tr></thead><tbody>${changed.reverse().map((c) => `<tr>
      <td>${blockLink(c.number)}</td><td>${c.round}</td><td>${addressLink(c.miner, { full: true })}</td></tr>`).join('')
      || '<tr><td colspan="3" class="muted">none: every block was committed in round 0</td></tr>'}</tbody></table>`;
}

async function showPermissions() {
  const [accounts, nodes, modules] = await rpcBatch([
    ['perm_getAccountsAllowlist', []], ['perm_getNodesAllowlist', []], ['rpc_modules', []],
  ]);
  const list = (items, link) => (items instanceof Error
    ? `<p class="muted">${esc(items.message)} (${esc(items.code)})</p>`
    : items.length ? `<ul>${items.map((i) => `<li>${link ? addressLink(i) : `<code>${esc(i)}</code>`}</li>`).join('')}</ul>` : '<p class="muted">empty: no allowlist, everyone is allowed</p>');
  const mine = tokenPermissions();
  main.innerHTML = `<h1>Allowlists and access</h1>
    <h2>Accounts allowlist</h2>${list(accounts, true)}
    <h2>Nodes allowlist</h2>${list(nodes, false)}
    <h2>API groups this endpoint serves</h2>${modules instanceof Error ? `<p class="muted">${esc(modules.message)}</p>`
      : `<p>${Object.keys(modules).map((m) => `<code>${esc(m.toUpperCase())}</code>`).join(' ')}</p>`}
    <h2>Your access</h2><p>${token ? (mine ? mine.map((p) => `<code>${esc(p)}</code>`).join(' ') : 'a token without a permissions claim')
      : '<span class="muted">no token: what the endpoint allows everyone</span>'}</p>
    <p class="muted">Read-only: the explorer never calls perm_add*/perm_remove* or any admin method.</p>`;
}

// ---- Routing and live updates ---------------------------------------------

function currentRoute() {
  return location.hash.replace(/^#\/?/, '').split('/');
}

async function route() {
  const [page, arg, more] = currentRoute();
  try {
    if (page === '' || page === undefined) await showHome();
    else if (page === 'block') await showBlock(decodeURIComponent(arg));
    else if (page === 'tx') await showTransaction(decodeURIComponent(arg));
    else if (page === 'address') await showAddress(decodeURIComponent(arg), more && /^\d+$/.test(more) ? more : '0');
    else if (page === 'validators') await showValidators();
    else if (page === 'permissions') await showPermissions();
    else main.innerHTML = `<p class="error">no page ${esc(location.hash)}</p>`;
  } catch (e) {
    main.innerHTML = e.code === UNAUTHORIZED ? '<p class="muted">Waiting for a token…</p>' : problem(e);
  }
}

let socket = null, polling = null;
function connectLive() {
  if (socket) socket.close();
  if (polling) clearInterval(polling);
  socket = null; polling = null;
  let url = config.websocket;
  if (url === 'same-origin') url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  if (!url) { poll(); return; }
  if (token) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  socket = ws;
  let subscription = null;
  ws.onopen = () => {
    checkAllowed('eth_subscribe');
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id === 1) {
      if (message.error) { statusLine.textContent = `live: ${message.error.message}; polling`; ws.close(); poll(); return; }
      subscription = message.result; // a hex id
      statusLine.textContent = 'live';
    } else if (message.method === 'eth_subscription' && message.params?.subscription === subscription) {
      newHead(message.params.result).catch(() => {});
    }
  };
  ws.onerror = () => { if (socket === ws) { statusLine.textContent = 'polling'; poll(); } };
}

function poll() {
  if (polling) return;
  let last = null;
  polling = setInterval(async () => {
    try {
      const head = await rpc('eth_blockNumber');
      if (last !== null && head !== last) newHead({ number: head }).catch(() => {});
      last = head;
    } catch (_) { /* shown on the page's next load */ }
  }, 2000);
}

document.getElementById('search').addEventListener('submit', (event) => {
  event.preventDefault();
  const q = event.target.q.value.trim();
  if (/^0x[0-9a-fA-F]{64}$/.test(q)) location.hash = `#/tx/${q}`;
  else if (/^0x[0-9a-fA-F]{40}$/.test(q)) location.hash = `#/address/${q}`;
  else if (/^\d+$/.test(q)) location.hash = `#/block/${q}`;
  else statusLine.textContent = `not a block number, transaction hash or address: ${q}`;
});

async function start() {
  const base = '/explorer';
  [config, abi] = await Promise.all([
    fetch(`${base}/config.json`).then((r) => r.json()),
    fetch(`${base}/abi.json`).then((r) => r.json()),
  ]);
  window.addEventListener('hashchange', route);
  connectLive();
  await route();
  document.body.dataset.ready = 'true';
}

start().catch((e) => { main.innerHTML = problem(e); });
