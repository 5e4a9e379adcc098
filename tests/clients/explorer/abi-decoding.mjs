// The page's ABI decoder (runtime/explorer/assets/abi.js) on inputs the
// Vault scenario does not cover: signed integers, fixed and dynamic arrays,
// tuples, bytes, indexed dynamic event arguments, panics, custom errors,
// code matching with immutables masked, and QBFT extra data. Values were
// encoded by hand from the ABI spec. Exits non-zero on the first failure.
import {
  decodeParams, decodeCall, decodeLog, decodeRevert, identifyContract, decodeBftExtraData, formatValue,
} from '../../../runtime/explorer/assets/abi.js';
import { check } from './browser.mjs';

const w = (n) => (BigInt.asUintN(256, BigInt(n))).toString(16).padStart(64, '0');
const text = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
const same = (a, b) => text(a) === text(b);

// int8 -1, int256 -5, uint8 255
let values = decodeParams([{ type: 'int8' }, { type: 'int256' }, { type: 'uint8' }], '0x' + w(-1) + w(-5) + w(255));
check(same(values, [-1n, -5n, 255n]), `signed and unsigned integers: ${formatValue(values)}`);

// (uint256[] xs, string s): heads are offsets 0x40 and 0xa0
values = decodeParams([{ type: 'uint256[]' }, { type: 'string' }],
  '0x' + w(0x40) + w(0xa0) + w(2) + w(7) + w(9) + w(2) + '6869'.padEnd(64, '0'));
check(same(values, [[7n, 9n], 'hi']), `a dynamic array and a string: ${formatValue(values)}`);

// (address a, bool b)[2] fixed array of static tuples, then bytes3
const tuple = { type: 'tuple[2]', components: [{ type: 'address' }, { type: 'bool' }] };
values = decodeParams([tuple, { type: 'bytes3' }],
  '0x' + w('0x' + '11'.repeat(20)) + w(1) + w('0x' + '22'.repeat(20)) + w(0) + 'abcdef'.padEnd(64, '0'));
check(same(values, [[['0x' + '11'.repeat(20), true], ['0x' + '22'.repeat(20), false]], '0xabcdef']),
  `a fixed array of tuples and bytes3: ${formatValue(values)}`);

// A dynamic tuple (string, uint256) as the only argument: head is an offset.
values = decodeParams([{ type: 'tuple', components: [{ type: 'string' }, { type: 'uint256' }] }],
  '0x' + w(0x20) + w(0x40) + w(3) + w(3) + '616263'.padEnd(64, '0'));
check(same(values, [['abc', 3n]]), `a dynamic tuple: ${formatValue(values)}`);

let threw = false;
try { decodeParams([{ type: 'string' }], '0x' + w(0x20) + w(1000)); } catch (_) { threw = true; }
check(threw, 'a string longer than the data is an error, not garbage');

const abi = {
  functions: {
    '0xa9059cbb': [
      { contract: 'Other', name: 'transfer', signature: 'transfer(address,uint256)', inputs: [{ name: 'to', type: 'address' }, { name: 'amount', type: 'uint256' }] },
      { contract: 'Token', name: 'transfer', signature: 'transfer(address,uint256)', inputs: [{ name: 'to', type: 'address' }, { name: 'amount', type: 'uint256' }] },
    ],
  },
  events: {
    '0x01': [{ contract: 'Token', name: 'Named', signature: 'Named(string,uint256)', inputs: [{ name: 'name', type: 'string', indexed: true }, { name: 'n', type: 'uint256', indexed: false }] }],
  },
  errors: { '0xcf479181': [{ contract: 'Token', name: 'Insufficient', signature: 'Insufficient(uint256,uint256)', inputs: [{ name: 'have', type: 'uint256' }, { name: 'want', type: 'uint256' }] }] },
  contracts: [{ name: 'Token', id: 'src/Token.sol:Token', runtime: '0x6080000000aa', masks: [[2, 3]], abi: [] }],
};
const call = decodeCall(abi, '0xa9059cbb' + w('0x' + '33'.repeat(20)) + w(42), 'Token');
check(call.contract === 'Token' && call.args[1].value === '42', `a call decodes with the called contract's entry: ${call.contract}.${call.name}`);
check(decodeCall(abi, '0xdeadbeef') === null, 'an unknown selector decodes to nothing');

const log = decodeLog(abi, { topics: ['0x01', '0x' + 'ab'.repeat(32)], data: '0x' + w(5) });
check(log.name === 'Named' && log.args[0].value.endsWith('(hash)') && log.args[1].value === '5',
  'an indexed string shows as its hash, the data argument decodes');

check(decodeRevert(abi, '0x4e487b71' + w(0x11)) === 'panic 0x11 (arithmetic overflow or underflow)', 'Panic(0x11)');
check(decodeRevert(abi, '0xcf479181' + w(1) + w(2)) === 'Insufficient(have: 1, want: 2)', 'a project error decodes by name');
check(decodeRevert(abi, '0x') === 'reverted without a reason', 'an empty revert');

check(identifyContract(abi, '0x6080ffffffaa')?.name === 'Token', 'code matches with its immutable bytes masked');
check(identifyContract(abi, '0x6080ffffffab') === null, 'code differing outside the masks does not match');

// RLP([vanity32, [v1, v2], [], round 3 as 0x03, [seal]]) as QBFT writes it.
const vanity = 'a0' + '00'.repeat(32);
const validators = 'ea' + '94' + '11'.repeat(20) + '94' + '22'.repeat(20);
const round = '03';
const seals = 'c2' + '8100';
const body = vanity + validators + 'c0' + round + seals;
const extra = decodeBftExtraData('0x' + 'f8' + (body.length / 2).toString(16).padStart(2, '0') + body);
check(extra && extra.round === 3 && extra.validators.length === 2 && extra.seals === 1,
  `QBFT extra data: round ${extra?.round}, ${extra?.validators.length} validators`);
check(decodeBftExtraData('0x1234') === null, 'extra data that is not BFT decodes to nothing');
console.log('abi decoding: OK');
