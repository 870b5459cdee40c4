// The transfer wire format as pure logic: piece messages, control messages, ranges, and the
// hashes that name a transfer and check a whole file. The transfers themselves run in browsers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  PIECE_HEADER_BYTES,
  blockCount,
  blockLength,
  decodePiece,
  encodePiece,
  fileRoot,
  missingRanges,
  parseControl,
  sha256,
  transferId,
} from '../../dist/transfer/protocol.js';
import { Assembly } from '../../dist/transfer/assembly.js';
import { BlockReader } from '../../dist/transfer/reader.js';
import { PeerKitError } from '../../dist/index.js';

const ID = 'ab'.repeat(32);

test('a piece message carries id, block index, offset, block hash and data, and reads back the same', async () => {
  const data = new TextEncoder().encode('piece data');
  const hash = await sha256(data);
  const message = encodePiece(ID, 70000, 131072, hash, data);
  assert.equal(message.byteLength, PIECE_HEADER_BYTES + data.byteLength);
  assert.deepEqual([message[0], message[1]], [1, 2]);
  const piece = decodePiece(message);
  assert.equal(piece.id, ID);
  assert.equal(piece.index, 70000);
  assert.equal(piece.offset, 131072);
  assert.deepEqual(piece.hash, hash);
  assert.deepEqual(piece.data, data);
});

test('a piece message built in a spare buffer is the same message, in that buffer', async () => {
  const data = new TextEncoder().encode('piece data');
  const hash = await sha256(data);
  const spare = new Uint8Array(PIECE_HEADER_BYTES + data.byteLength).fill(0xff);
  const message = encodePiece(ID, 3, 5, hash, data, spare);
  assert.equal(message, spare);
  assert.deepEqual(message, encodePiece(ID, 3, 5, hash, data));
});

test('a piece message matches the byte layout of docs/protocol.md 11.1', async () => {
  const id = '3f586784719826b1f9db2abf7fdfe936c148196e0983ecf1248e60515c45cf69';
  const message = encodePiece(id, 0, 2, await sha256(new TextEncoder().encode('hello')), new TextEncoder().encode('llo'));
  const documented =
    '0102' + id + '00000000' + '00000002' + '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' + '6c6c6f';
  assert.equal(Buffer.from(message).toString('hex'), documented);
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const shown = doc.match(/block 0 \(`hello`\) and the piece at offset 2[\s\S]*?```\n([0-9a-f\n]+)```/);
  assert.equal(shown?.[1].replaceAll('\n', ''), documented, 'docs/protocol.md shows this piece in hex');
});

test('decodePiece refuses short messages, other versions and the retired whole-block kind with BAD_MESSAGE', () => {
  assert.equal(decodePiece(new Uint8Array(10)).code, 'BAD_MESSAGE');
  const message = encodePiece(ID, 0, 0, new Uint8Array(32), new Uint8Array(4));
  message[0] = 2;
  assert.ok(decodePiece(message) instanceof PeerKitError);
  message[0] = 1;
  message[1] = 1;
  assert.equal(decodePiece(message).code, 'BAD_MESSAGE');
});

test('parseControl accepts every kind and refuses what is malformed', () => {
  const offer = { v: 1, t: 'offer', id: ID, name: 'a.txt', size: 10, type: 'text/plain', lastModified: 5, blockSize: 1 << 20, meta: { x: 1 } };
  assert.deepEqual(parseControl(offer), offer);
  assert.deepEqual(parseControl({ ...offer, meta: undefined }).meta, null);
  assert.deepEqual(parseControl({ v: 1, t: 'accept', id: ID, missing: [[0, 3], [5, 6]] }).missing, [[0, 3], [5, 6]]);
  // A receiver that keeps no partial blocks sends no `partial`: the sender resends those whole.
  assert.deepEqual(parseControl({ v: 1, t: 'accept', id: ID, missing: [[0, 3]] }).partial, []);
  assert.deepEqual(parseControl({ v: 1, t: 'accept', id: ID, missing: [[0, 3]], partial: [[1, 262144]] }).partial, [[1, 262144]]);
  assert.equal(parseControl({ v: 1, t: 'ack', id: ID, index: 4 }).index, 4);
  assert.equal(parseControl({ v: 1, t: 'end', id: ID, root: 'cd'.repeat(32) }).root, 'cd'.repeat(32));
  assert.equal(parseControl({ v: 1, t: 'cancel', id: ID, reason: 'corrupt' }).reason, 'corrupt');
  assert.equal(parseControl({ v: 1, t: 'cancel', id: ID }).reason, 'cancel');
  for (const t of ['reject', 'verified', 'pause', 'resume']) assert.equal(parseControl({ v: 1, t, id: ID }).t, t);
  assert.deepEqual(parseControl({ v: 1, t: 'got', bytes: 131146 }), { v: 1, t: 'got', bytes: 131146 });
  const bad = [
    { v: 1, t: 'got', bytes: -1 },
    { v: 1, t: 'got' },
    null,
    { v: 2, t: 'ack', id: ID, index: 1 },
    { v: 1, t: 'ack', id: 'short', index: 1 },
    { v: 1, t: 'ack', id: ID, index: -1 },
    { v: 1, t: 'nack', id: ID, index: 1.5 },
    { v: 1, t: 'accept', id: ID, missing: [[3, 3]] },
    { v: 1, t: 'accept', id: ID, missing: 'all' },
    { v: 1, t: 'accept', id: ID, missing: [[0, 3]], partial: [[1]] },
    { v: 1, t: 'accept', id: ID, missing: [[0, 3]], partial: [[1, -5]] },
    { v: 1, t: 'accept', id: ID, missing: [[0, 3]], partial: { 1: 5 } },
    { v: 1, t: 'end', id: ID, root: 'xyz' },
    { ...offer, size: -1 },
    { ...offer, blockSize: 10 },
    { ...offer, blockSize: 16 * 1024 * 1024 + 1 },
    { ...offer, name: 'n'.repeat(2000) },
    { v: 1, t: 'shout', id: ID },
  ];
  for (const raw of bad) assert.equal(parseControl(raw).code, 'BAD_MESSAGE', JSON.stringify(raw));
});

test('block counts and lengths cover the file exactly, an empty file being one empty block', () => {
  assert.equal(blockCount(0, 1024), 1);
  assert.equal(blockLength(0, 0, 1024), 0);
  assert.equal(blockCount(2048, 1024), 2);
  assert.equal(blockCount(2049, 1024), 3);
  assert.equal(blockLength(2, 2049, 1024), 1);
  assert.equal(blockLength(3, 2049, 1024), 0);
});

test('missingRanges merges neighbours into half-open ranges', () => {
  const have = new Set([0, 1, 4, 7, 8]);
  assert.deepEqual(missingRanges(10, (i) => have.has(i)), [[2, 4], [5, 7], [9, 10]]);
  assert.deepEqual(missingRanges(3, () => true), []);
  assert.deepEqual(missingRanges(3, () => false), [[0, 3]]);
});

test('the transfer id and the whole-file root match the vectors in docs/protocol.md', async () => {
  const first = await sha256(new TextEncoder().encode('hello'));
  assert.equal(await transferId('a.txt', 5, 1700000000000, 1048576, first), '3f586784719826b1f9db2abf7fdfe936c148196e0983ecf1248e60515c45cf69');
  const second = await sha256(new TextEncoder().encode('world'));
  const both = new Uint8Array(64);
  both.set(first, 0);
  both.set(second, 32);
  assert.equal(await fileRoot([first, second]), await sha256Hex(both));
  assert.equal(await fileRoot([first, second]), '7305db9b2abccd706c256db3d97e5ff48d677cfe4d3a5904afb7da0e3950e1e2');
});

async function sha256Hex(input) {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  return Buffer.from(await crypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

test('Assembly puts a block together from in-order and overlapping pieces, keeps what it has across a break, and refuses what does not fit', () => {
  const hash = new Uint8Array(32).fill(7);
  const other = new Uint8Array(32).fill(8);
  const bytes = Uint8Array.from({ length: 10 }, (_, i) => i);
  const piece = (index, offset, end, h = hash) => ({ id: ID, index, offset, hash: h, data: bytes.subarray(offset, end) });
  const assembly = new Assembly();
  assert.equal(assembly.add(piece(0, 0, 4), 10), undefined);
  assert.deepEqual(assembly.held(), [[0, 4]]);
  // Sent again after a break from an earlier offset: the bytes held stay, the new ones are added.
  assert.equal(assembly.add(piece(0, 2, 7), 10), undefined);
  assert.deepEqual(assembly.held(), [[0, 7]]);
  const whole = assembly.add(piece(0, 7, 10), 10);
  assert.deepEqual([whole.index, [...whole.data]], [0, [...bytes]]);
  assert.deepEqual(assembly.held(), []);
  // A gap, a piece past the block's end, a different hash: refused, and what was held goes.
  assert.equal(assembly.add(piece(1, 3, 5), 10), 'refused');
  assert.equal(assembly.add(piece(2, 0, 10), 4), 'refused');
  assembly.add(piece(3, 0, 4), 10);
  assert.equal(assembly.add(piece(3, 4, 6, other), 10), 'refused');
  assert.deepEqual(assembly.held(), []);
  // The rest of a refused block is ignored until it comes again from its start.
  assert.equal(assembly.add(piece(3, 6, 8), 10), undefined);
  assert.deepEqual(assembly.held(), []);
  assert.equal(assembly.add(piece(3, 0, 10), 10).index, 3);
});

test('Assembly holds at most four blocks in part, dropping the oldest', () => {
  const hash = new Uint8Array(32);
  const assembly = new Assembly();
  for (let index = 0; index < 6; index++) assembly.add({ id: ID, index, offset: 0, hash, data: new Uint8Array(2) }, 10);
  assert.deepEqual(assembly.held(), [[2, 2], [3, 2], [4, 2], [5, 2]]);
});

test('Assembly puts a later block together in a recycled buffer, every byte of it written again', () => {
  const hash = new Uint8Array(32);
  const assembly = new Assembly();
  const first = assembly.add({ id: ID, index: 0, offset: 0, hash, data: new Uint8Array(8).fill(1) }, 8);
  first.data.fill(9);
  assembly.recycle(first.data.buffer);
  assembly.add({ id: ID, index: 1, offset: 0, hash, data: Uint8Array.of(2, 2, 2) }, 8);
  const second = assembly.add({ id: ID, index: 1, offset: 3, hash, data: Uint8Array.of(3, 3, 3, 3, 3) }, 8);
  assert.equal(second.data.buffer, first.data.buffer);
  assert.deepEqual([...second.data], [2, 2, 2, 3, 3, 3, 3, 3]);
  // A buffer of another size is not used for this one.
  assembly.recycle(new ArrayBuffer(4));
  assert.equal(assembly.add({ id: ID, index: 2, offset: 0, hash, data: new Uint8Array(8) }, 8).data.byteLength, 8);
});

/** A file of `size` bytes numbered 0, 1, 2... (mod 251), whose streams are byte streams (as Blob's) or not. */
function numberedFile(size, { byteStream = true, chunk = 7 } = {}) {
  const bytes = Uint8Array.from({ length: size }, (_, i) => i % 251);
  const blob = new Blob([bytes]);
  const sliced = (start) => ({
    stream: () => {
      if (byteStream) return blob.slice(start).stream();
      let at = start;
      // Chunks of an odd size that straddle the blocks, as a default reader may give them.
      return new ReadableStream({ pull: (c) => (at < size ? c.enqueue(bytes.slice(at, (at += chunk))) : c.close()) });
    },
  });
  return { bytes, file: { size, slice: sliced, stream: () => sliced(0).stream() } };
}

for (const byteStream of [true, false]) {
  test(`BlockReader reads blocks in order, after a jump and at the short end, with buffers given back between (${byteStream ? 'byte stream' : 'default stream'})`, async () => {
    const { bytes, file } = numberedFile(50, { byteStream });
    const reader = new BlockReader(file, 16);
    const expect = (index) => [...bytes.subarray(index * 16, index * 16 + 16)];
    const zero = await reader.read(0);
    assert.deepEqual([...zero], expect(0));
    reader.release(zero);
    const [one, two] = await Promise.all([reader.read(1), reader.read(2)]);
    assert.deepEqual([[...one], [...two]], [expect(1), expect(2)]);
    reader.release(one);
    // Backwards, then on again: a new stream from the block asked for.
    assert.deepEqual([...(await reader.read(1))], expect(1));
    const last = await reader.read(3);
    assert.deepEqual([...last], expect(3));
    assert.equal(last.byteLength, 2);
    reader.close();
  });
}

test('BlockReader rejects a block the file no longer has, and reads again after', async () => {
  const { bytes, file } = numberedFile(40);
  const shrunk = { ...file, size: 64 };
  const reader = new BlockReader(shrunk, 16);
  await assert.rejects(reader.read(2), /the file ended at 40 of 64 bytes/);
  assert.deepEqual([...(await reader.read(0))], [...bytes.subarray(0, 16)]);
});
