// The Room's SFrame sender keys (docs/protocol.md, section 8.6; its test vectors are checked by
// protocol-vectors.test.mjs): every input of the derivation matters, and the key message parser
// refuses what is malformed. Run after `npm run --silent build`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveSenderKey, fromHex } from '../../dist/e2ee/sender-key.js';
import { parseKeySignal } from '../../dist/room/media-keys.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

const INPUT = ['correct horse battery staple', 'board', 0x12345678, '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'];

test('every input changes the base key: another secret, room, key id or material', async () => {
  const [secret, room, kid, material] = INPUT;
  const baseKey = hex(await deriveSenderKey(secret, room, kid, fromHex(material)));
  const other = fromHex(material);
  other[0] ^= 1;
  const variants = [
    deriveSenderKey(`${secret}!`, room, kid, fromHex(material)),
    deriveSenderKey(secret, `${room}!`, kid, fromHex(material)),
    deriveSenderKey(secret, room, kid + 1, fromHex(material)),
    deriveSenderKey(secret, room, kid, other),
  ];
  for (const variant of await Promise.all(variants)) assert.notEqual(hex(variant), baseKey);
});

test('parseKeySignal takes a well-formed key message and nothing else', () => {
  const good = { v: 1, kind: 'sframe-key', kid: 7, epoch: 2, m: 'ab'.repeat(32) };
  assert.deepEqual(parseKeySignal({ ...good, extra: true }), good);
  assert.deepEqual(parseKeySignal({ ...good, r: 1 }), { ...good, r: 1 });
  assert.deepEqual(parseKeySignal({ ...good, r: true }), good);
  for (const bad of [
    null,
    { ...good, v: 2 },
    { ...good, kind: 'hello' },
    { ...good, kid: -1 },
    { ...good, kid: 2 ** 32 },
    { ...good, kid: 1.5 },
    { ...good, epoch: '2' },
    { ...good, m: 'AB'.repeat(32) },
    { ...good, m: 'ab'.repeat(31) },
  ]) {
    assert.equal(parseKeySignal(bad), undefined, JSON.stringify(bad));
  }
});
