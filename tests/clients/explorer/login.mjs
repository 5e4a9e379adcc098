// The explorer page against a node that requires authentication: the page
// asks for credentials, logs in at POST /login, then shows the chain and
// follows it live over a WebSocket that carries the token; the page's own
// RPC helper refuses an admin method before sending it.
// Env: FORJA_RPC_URL, EXPLORER_USER, EXPLORER_PASSWORD, SCREENSHOT_DIR.
import { launch, watchedPage, check } from './browser.mjs';

const url = process.env.FORJA_RPC_URL;
const browser = await launch();
const problems = [];
try {
  const page = await watchedPage(browser, problems);
  await page.goto(`${url}/explorer`);
  await page.locator('#login').waitFor({ state: 'visible' });
  check(true, 'without a token the page asks for one');
  await page.fill('#login input[name=username]', process.env.EXPLORER_USER);
  await page.fill('#login input[name=password]', process.env.EXPLORER_PASSWORD);
  await page.click('#login button[type=submit]');
  await page.locator('#login').waitFor({ state: 'hidden' });
  await page.waitForSelector('#blocks tbody tr');
  check(true, 'after logging in the latest blocks show');
  await page.waitForFunction(() => document.getElementById('status').textContent === 'live');
  check(true, 'the live WebSocket subscription works with the token');
  await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/after-login.png`, fullPage: true });
  await page.goto(`${url}/explorer#/permissions`);
  await page.getByText('alice').or(page.getByText('eth:*')).first().waitFor();
  check(true, 'the allowlists page shows the token\'s permissions');
} finally {
  await browser.close();
}
check(problems.length === 0, `no console errors${problems.length ? ':\n' + problems.join('\n') : ''}`);
console.log('explorer login: OK');
