// The explorer page of `forja node` in a real headless Chromium: deploys
// the Vault that `forja build` compiled, makes a deposit and a withdrawal
// that reverts with a reason, then checks what the page shows. Exits non-zero
// on the first failed check. Env: FORJA_RPC_URL, VAULT_ARTIFACT, SCREENSHOT_DIR,
// CHROMIUM (default /usr/bin/chromium).
import { readFileSync, mkdirSync } from 'node:fs';
import { launch, watchedPage, check } from './browser.mjs';

const url = process.env.FORJA_RPC_URL;
const artifact = JSON.parse(readFileSync(process.env.VAULT_ARTIFACT, 'utf8'));
const screenshots = process.env.SCREENSHOT_DIR;
mkdirSync(screenshots, { recursive: true });

let id = 1;
async function rpc(method, params = []) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }),
  });
  const answer = await response.json();
  if (answer.error) throw new Error(`${method}: ${JSON.stringify(answer.error)}`);
  return answer.result;
}

async function receipt(hash) {
  for (let i = 0; i < 100; i++) {
    const r = await rpc('eth_getTransactionReceipt', [hash]);
    if (r) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no receipt for ${hash}`);
}

const word = (n) => BigInt(n).toString(16).padStart(64, '0');
function selector(signature) {
  const found = artifact.methodIdentifiers[signature];
  if (!found) throw new Error(`the artifact has no ${signature}`);
  return '0x' + found;
}
function encodeString(text) {
  const hex = Buffer.from(text, 'utf8').toString('hex');
  return word(hex.length / 2) + hex.padEnd(Math.ceil(hex.length / 64) * 64, '0');
}

const [from] = await rpc('eth_accounts');
const deployHash = await rpc('eth_sendTransaction', [{ from, data: artifact.bytecode.object, gas: '0x2dc6c0' }]);
const vault = (await receipt(deployHash)).contractAddress;
const depositHash = await rpc('eth_sendTransaction', [{
  from, to: vault, gas: '0x30d40',
  data: selector('deposit(uint256,string)') + word(5) + word(64) + encodeString('first'),
}]);
check((await receipt(depositHash)).status === '0x1', 'the deposit succeeds');
const withdrawHash = await rpc('eth_sendTransaction', [{
  from, to: vault, gas: '0x30d40', data: selector('withdraw(uint256)') + word(100),
}]);
check((await receipt(withdrawHash)).status === '0x0', 'the withdrawal of more than the total reverts');

const browser = await launch();
const problems = [];
try {
  const page = await watchedPage(browser, problems);

  await page.goto(`${url}/explorer`);
  await page.waitForSelector('#transactions');
  const transactions = page.locator('#transactions');
  await transactions.getByText('withdraw', { exact: true }).waitFor();
  const listed = await transactions.innerText();
  check(listed.includes('deposit') && listed.includes('new contract'),
    'the latest transactions list the deployment, the deposit and the withdrawal by function name');
  check((await page.locator('#blocks tbody tr').count()) >= 4, 'the latest blocks list the blocks');

  // Live: a block made after the page loaded appears without a reload (WebSocket newHeads).
  await page.waitForFunction(() => document.getElementById('status').textContent === 'live');
  const liveHash = await rpc('eth_sendTransaction', [{
    from, to: vault, gas: '0x30d40',
    data: selector('deposit(uint256,string)') + word(1) + word(64) + encodeString('live'),
  }]);
  await receipt(liveHash);
  await page.locator(`#transactions a[href="#/tx/${liveHash}"]`).waitFor();
  check(true, 'a transaction mined after the page loaded shows up live');
  await page.screenshot({ path: `${screenshots}/latest.png`, fullPage: true });

  await page.goto(`${url}/explorer#/tx/${withdrawHash}`);
  await page.waitForSelector('#revert-reason');
  const call = await page.locator('#decoded-call').innerText();
  check(call.includes('Vault.withdraw') && call.includes('100'), `the transaction page decodes the call: ${call}`);
  const reason = await page.locator('#revert-reason').innerText();
  check(reason === 'Vault: amount exceeds the total', `the transaction page shows the revert reason: ${reason}`);
  check((await page.locator('#tx-status').innerText()) === 'reverted', 'the status says reverted');
  await page.locator('.trace').getByText('Vault.withdraw').waitFor();
  check(true, 'the call trace names the call');
  await page.screenshot({ path: `${screenshots}/reverted-transaction.png`, fullPage: true });

  await page.goto(`${url}/explorer#/tx/${depositHash}`);
  await page.locator('text=Vault.Deposited').waitFor();
  check(true, 'the deposit\'s log is decoded as Vault.Deposited');

  await page.goto(`${url}/explorer#/address/${vault}`);
  await page.getByRole('heading', { name: 'Contract Vault' }).waitFor();
  check(true, 'the address page names the contract from its code');
  await page.locator('#address-transactions').getByText('withdraw', { exact: true }).waitFor();
  const history = await page.locator('#address-transactions').innerText();
  check(history.includes('deposit') && history.includes('reverted'),
    'the address page lists its transactions (ots_searchTransactionsBefore), the reverted one marked');
  check((await page.locator('dt', { hasText: 'Created by' }).count()) === 1, 'the address page names its creator');
  await page.screenshot({ path: `${screenshots}/address.png`, fullPage: true });

  await page.goto(`${url}/explorer#/validators`);
  await page.waitForSelector('#validators tbody tr');
  const validators = await page.locator('#validators tbody tr').count();
  check(validators === 4, `the validators panel lists ${validators} validators`);
  await page.screenshot({ path: `${screenshots}/validators.png`, fullPage: true });

  await page.goto(`${url}/explorer#/permissions`);
  await page.getByRole('heading', { name: 'Accounts allowlist' }).waitFor();
  check(true, 'the allowlists page renders');
} finally {
  await browser.close();
}
check(problems.length === 0, `no console errors${problems.length ? ':\n' + problems.join('\n') : ''}`);
console.log('explorer page: OK');
