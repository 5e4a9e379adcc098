// viem's watchBlocks over a WebSocket against `forja node` (FORJA_RPC_URL,
// the HTTP URL; the WebSocket is on the same port). viem drops every
// notification whose subscription id is not a hex string, so this fails
// unless forja's ids are what Geth sends.
import { createPublicClient, createWalletClient, defineChain, http, webSocket } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';

const url = process.env.FORJA_RPC_URL;
const wsUrl = url.replace(/^http/, 'ws');
const chain = defineChain({
  id: 1337,
  name: 'forja dev',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [url], webSocket: [wsUrl] } },
});
const client = createPublicClient({ chain, transport: webSocket(wsUrl) });
const account = mnemonicToAccount('test test test test test test test test test test test junk');
const wallet = createWalletClient({ account, chain, transport: http(url) });

const seen = [];
let unwatch;
const twoBlocks = new Promise((resolve, reject) => {
  unwatch = client.watchBlocks({
    onBlock: (block) => {
      seen.push(block.number);
      if (seen.length >= 2) resolve();
    },
    onError: reject,
  });
});
const timeout = new Promise((_, reject) =>
  setTimeout(() => reject(new Error(`watchBlocks received ${seen.length} block(s) in 20 s`)), 20_000),
);
// The dev network makes a block per transaction: send until two were seen.
const sending = (async () => {
  for (let i = 0; i < 10 && seen.length < 2; i++) {
    await wallet.sendTransaction({ to: '0x0000000000000000000000000000000000000001', value: 1n });
    await new Promise((r) => setTimeout(r, 300));
  }
})();
try {
  await Promise.race([twoBlocks, timeout]);
  await sending;
  unwatch();
  console.log(`viem watchBlocks: received blocks ${seen.join(', ')}: OK`);
  process.exit(0);
} catch (error) {
  console.error(`viem watchBlocks: ${error.stack ?? error}`);
  process.exit(1);
}
