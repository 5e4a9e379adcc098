// ethers 6 against a running `forja node`: deploys the ERC-20 that
// `forja build` compiled, transfers, and checks balances, Transfer events,
// receipts and eth_getLogs. Exits non-zero on the first broken expectation.
//
//   FORJA_RPC_URL=http://127.0.0.1:8545 TOKEN_ARTIFACT=project/out/Token.sol/Token.json node erc20.mjs
//
// FORJA_PRIVATE_KEY signs the raw transactions (default: dev account 0 of
// the "test test ... junk" mnemonic, which `forja node` funds).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Contract, ContractFactory, JsonRpcProvider, Wallet, parseUnits } from "ethers";

const url = process.env.FORJA_RPC_URL ?? "http://127.0.0.1:8545";
const artifactPath = process.env.TOKEN_ARTIFACT;
assert.ok(artifactPath, "set TOKEN_ARTIFACT to the Token.json that `forja build` wrote");
const privateKey =
  process.env.FORJA_PRIVATE_KEY ?? "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

const artifact = JSON.parse(readFileSync(artifactPath, "utf8"));
const bytecode = artifact.bytecode?.object ?? artifact.bytecode;
assert.match(bytecode, /^0x[0-9a-f]+$/i, `${artifactPath}: no creation bytecode`);

// The default 4 s polling interval would make the event subscription below slow.
// ethers caches identical requests for 250 ms by default: against a node that
// commits a block in milliseconds, the transfer right after the deployment
// would reuse the deployment's cached nonce. Real applications hit this too.
const provider = new JsonRpcProvider(url, undefined, { pollingInterval: 100, cacheTimeout: -1 });
const network = await provider.getNetwork();
const deployer = new Wallet(privateKey, provider);
const accounts = await provider.send("eth_accounts", []);
assert.ok(accounts.length >= 2, `eth_accounts lists the dev accounts, got ${accounts}`);
const recipient = accounts.find((a) => a.toLowerCase() !== deployer.address.toLowerCase());

// Deploy with a locally signed transaction (eth_sendRawTransaction).
const supply = parseUnits("1000000", 18);
const factory = new ContractFactory(artifact.abi, bytecode, deployer);
const token = await factory.deploy("Forja Token", "FJT", supply);
const deployReceipt = await token.deploymentTransaction().wait();
assert.equal(deployReceipt.status, 1, "deployment succeeds");
const tokenAddress = await token.getAddress();
assert.equal(deployReceipt.contractAddress, tokenAddress, "the receipt names the new contract");
assert.notEqual(await provider.getCode(tokenAddress), "0x", "the contract has code");
assert.equal(await token.name(), "Forja Token");
assert.equal(await token.symbol(), "FJT");
assert.equal(await token.decimals(), 18n);
assert.equal(await token.totalSupply(), supply);
assert.equal(await token.balanceOf(deployer.address), supply);

// Listen for the next Transfer through a polling filter (eth_newFilter / eth_getFilterChanges).
const amount = parseUnits("250", 18);
const seenByListener = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no Transfer event within 30 s")), 30_000);
  token.once("Transfer", (from, to, value) => {
    clearTimeout(timer);
    resolve({ from, to, value });
  });
});

const transferTx = await token.transfer(recipient, amount);
const transferReceipt = await transferTx.wait();
assert.equal(transferReceipt.status, 1, "transfer succeeds");
assert.equal(transferReceipt.hash, transferTx.hash);
assert.equal(transferReceipt.to, tokenAddress);
assert.equal(transferReceipt.from, deployer.address);
assert.ok(transferReceipt.gasUsed > 21_000n, `gasUsed ${transferReceipt.gasUsed}`);
assert.ok(transferReceipt.blockNumber > deployReceipt.blockNumber, "the transfer is in a later block");
const block = await provider.getBlock(transferReceipt.blockNumber);
assert.equal(block.hash, transferReceipt.blockHash);
assert.ok(block.transactions.includes(transferTx.hash), "the block lists the transaction");
assert.equal(transferReceipt.logs.length, 1, "one log");
const transferEvent = token.interface.parseLog(transferReceipt.logs[0]);
assert.equal(transferEvent.name, "Transfer");
assert.equal(transferEvent.args.from, deployer.address);
assert.equal(transferEvent.args.to.toLowerCase(), recipient.toLowerCase());
assert.equal(transferEvent.args.value, amount);
const heard = await seenByListener;
assert.equal(heard.value, amount, "the listener saw the transfer");

assert.equal(await token.balanceOf(deployer.address), supply - amount);
assert.equal(await token.balanceOf(recipient), amount);

// Send back with the node signing for an unlocked dev account (eth_sendTransaction).
const back = parseUnits("40", 18);
const recipientSigner = await provider.getSigner(recipient);
const backTx = await token.connect(recipientSigner).transfer(deployer.address, back);
const backReceipt = await backTx.wait();
assert.equal(backReceipt.status, 1, "eth_sendTransaction transfer succeeds");
assert.equal(backReceipt.from.toLowerCase(), recipient.toLowerCase());
assert.equal(await token.balanceOf(recipient), amount - back);
assert.equal(await token.balanceOf(deployer.address), supply - amount + back);

// eth_getLogs: every Transfer (mint, out, back), then only those to the recipient.
const allTransfers = await token.queryFilter(token.filters.Transfer(), 0, "latest");
assert.deepEqual(
  allTransfers.map((e) => [e.args.from.toLowerCase(), e.args.to.toLowerCase(), e.args.value]),
  [
    ["0x0000000000000000000000000000000000000000", deployer.address.toLowerCase(), supply],
    [deployer.address.toLowerCase(), recipient.toLowerCase(), amount],
    [recipient.toLowerCase(), deployer.address.toLowerCase(), back],
  ],
);
const toRecipient = await token.queryFilter(token.filters.Transfer(null, recipient), 0, "latest");
assert.equal(toRecipient.length, 1, "a topic filter selects one Transfer");
assert.equal(toRecipient[0].transactionHash, transferTx.hash);
const rawLogs = await provider.getLogs({
  address: tokenAddress,
  fromBlock: transferReceipt.blockNumber,
  toBlock: transferReceipt.blockNumber,
});
assert.equal(rawLogs.length, 1, "a block-range filter selects one log");
assert.equal(rawLogs[0].blockHash, transferReceipt.blockHash);

// A revert with a custom error comes back with its data (code 3), both from
// eth_call (decoded by the contract) and from eth_estimateGas before a send.
const tooMuch = supply * 2n;
await assert.rejects(token.transfer.staticCall(recipient, tooMuch), (err) => {
  assert.equal(err.code, "CALL_EXCEPTION", err.message);
  assert.equal(err.revert?.name, "InsufficientBalance", err.message);
  assert.equal(err.revert.args[2], tooMuch);
  return true;
});
await assert.rejects(token.transfer(recipient, tooMuch), (err) => {
  assert.equal(err.code, "CALL_EXCEPTION", err.message);
  const decoded = token.interface.parseError(err.data);
  assert.equal(decoded?.name, "InsufficientBalance", err.message);
  assert.equal(decoded.args[0], deployer.address);
  return true;
});

// A second contract instance through the read-only provider sees the same state.
const readOnly = new Contract(tokenAddress, artifact.abi, provider);
assert.equal(await readOnly.balanceOf(recipient), amount - back);

console.log(
  `ethers ${(await import("ethers")).version}: chain ${network.chainId}, token ${tokenAddress}, ` +
    `${allTransfers.length} Transfer logs, blocks ${deployReceipt.blockNumber}..${backReceipt.blockNumber}: OK`,
);
provider.destroy();
