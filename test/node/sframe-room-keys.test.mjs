// The Room's SFrame sender keys (docs/protocol.md, "End-to-end encrypted media"): the base key
// derivation against the document's test vectors, computed independently with Node's crypto
// module (createHash and hkdfSync), and the key message parser. Run after `npm run --silent build`.
import assert from 'node:assert/strict';
import { createHash, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { deriveSenderKey, fromHex } from '../../dist/e2ee/sender-key.js';
import { deriveKeyMaterial } from '../../dist/e2ee/sframe.js';
import { parseKeySignal } from '../../dist/room/key-signal.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

// [secret, room, kid, material, base_key, sframe_key, sframe_salt (AES_128_GCM_SHA256_128)]
const VECTORS = [
  [
    'correct horse battery staple',
    'board',
    0x12345678,
    '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    '488fd3c82b3d88607f4a8fb50d658a4b3fa3d9f33bcda2a619c431e3e2c5e2d9',
    '411caf9c0a40702b615bc2d1fb510645',
    'db053a972036f9f4bf3cb208',
  ],
  ['s', 'r', 0, 'ff'.repeat(32), '4c7dbe021f62fe0ebc446c96116c1519c09ca1c603fdeb2faa21be2699c16c14'],
];

test('deriveSenderKey gives the test vectors of docs/protocol.md, and SFrame derives their key and salt', async () => {
  for (const [secret, room, kid, material, baseKey, sframeKey, sframeSalt] of VECTORS) {
    assert.equal(hex(await deriveSenderKey(secret, room, kid, fromHex(material))), baseKey);
    if (sframeKey === undefined) continue;
    const derived = await deriveKeyMaterial('AES_128_GCM_SHA256_128', BigInt(kid), fromHex(baseKey));
    assert.deepEqual([hex(derived.key), hex(derived.salt)], [sframeKey, sframeSalt]);
  }
});

test('the test vectors follow from the formula in docs/protocol.md (Node crypto, not WebCrypto)', () => {
  for (const [secret, room, kid, material, baseKey] of VECTORS) {
    const salt = createHash('sha256').update(JSON.stringify(['peerkit/1 sframe', room, secret])).digest();
    assert.equal(hex(hkdfSync('sha256', fromHex(material), salt, `peerkit/1 sframe-key ${kid}`, 32)), baseKey);
  }
});

test('every input changes the base key: another secret, room, key id or material', async () => {
  const [secret, room, kid, material, baseKey] = VECTORS[0];
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
