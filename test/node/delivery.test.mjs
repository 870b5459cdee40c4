// Room delivery, pure: the exactly-once bookkeeping (Delivery) and its frames. The browser side
// (rebuilt Peers, 10,000 messages) is test/browser/room-rebuild.test.js.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DELIVERY_LIMITS, Delivery } from '../../dist/room/delivery.js';
import { ackFrame, dataFrame, readFrame, syncFrame } from '../../dist/room/delivery-frame.js';
import { PeerKitError } from '../../dist/index.js';

/** Moves messages a → b over a "Peer" that may die: what is in flight when it dies is lost. */
function link(a, b) {
  b.synced(a.sync());
  a.synced(b.sync());
  const got = [];
  for (const held of a.pending) if (b.accept(held.seq) === 'deliver') got.push(held.payload);
  return got;
}

test('delivery numbers messages, keeps them until acknowledged, and replays the rest on a new link exactly once', () => {
  const a = new Delivery(11);
  const b = new Delivery(22);
  const received = [];
  for (let i = 0; i < 10; i++) a.push(`m${i}`, 2);
  received.push(...link(a, b));
  assert.deepEqual(received, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
  // The link died before any acknowledgement: the new link's sync carries it, the rest is replayed.
  for (let i = 10; i < 15; i++) a.push(`m${i}`, 2);
  assert.equal(a.pending.length, 15);
  received.push(...link(a, b));
  assert.deepEqual(received, Array.from({ length: 15 }, (_, i) => `m${i}`));
  assert.equal(a.pending.length, 5, 'the sync acknowledged the first ten');
  // A link that dies before its sync: every message still held is sent again, and dropped as seen.
  received.push(...link(a, b));
  assert.equal(received.length, 15);
  a.acknowledge(b.ack());
  assert.equal(a.pending.length, 0);
});

test('delivery drops duplicates and refuses gaps', () => {
  const b = new Delivery(1);
  b.synced({ epoch: 7, ackEpoch: 0, ack: 0, next: 1 });
  assert.equal(b.accept(1), 'deliver');
  assert.equal(b.accept(1), 'duplicate');
  assert.equal(b.accept(3), 'gap');
  assert.equal(b.accept(2), 'deliver');
  assert.equal(b.delivered, 2);
});

test('a sync acknowledges only our own epoch, and a new remote epoch restarts the count where its sender is', () => {
  const a = new Delivery(5);
  for (let i = 0; i < 4; i++) a.push(i, 1);
  a.synced({ epoch: 9, ackEpoch: 6, ack: 3, next: 1 });
  assert.equal(a.pending.length, 4, 'an acknowledgement of another stream acknowledges nothing');
  a.synced({ epoch: 9, ackEpoch: 5, ack: 3, next: 1 });
  assert.deepEqual(a.pending.map((p) => p.seq), [4]);
  // The remote's Member for us is new (it forgot us): it numbers from where its sender is.
  a.synced({ epoch: 10, ackEpoch: 0, ack: 0, next: 40 });
  assert.equal(a.accept(39), 'duplicate');
  assert.equal(a.accept(40), 'deliver');
});

test('delivery memory is bounded: past 1,000 messages or 16 MiB unacknowledged, BACKLOG_FULL; larger than the bound, MESSAGE_TOO_LARGE', () => {
  assert.deepEqual(DELIVERY_LIMITS, { messages: 1000, bytes: 16 * 1024 * 1024 });
  const a = new Delivery(3);
  for (let i = 0; i < 1000; i++) assert.ok(!(a.push(i, 10) instanceof PeerKitError));
  const refused = a.push('one too many', 10);
  assert.ok(refused instanceof PeerKitError);
  assert.equal(refused.code, 'BACKLOG_FULL');
  assert.equal(a.next, 1001, 'a refused message takes no number');
  a.acknowledge(500);
  assert.ok(!(a.push('fits again', 10) instanceof PeerKitError));
  const small = new Delivery(4, { messages: 10, bytes: 100 });
  assert.ok(!(small.push('x', 60) instanceof PeerKitError));
  assert.equal(small.push('y', 60).code, 'BACKLOG_FULL');
  assert.equal(small.push('z', 101).code, 'MESSAGE_TOO_LARGE');
});

test('delivery frames round-trip byte for byte, numbers past 2^32 included', () => {
  const payload = new TextEncoder().encode('{"n":1}');
  const data = dataFrame(2 ** 40 + 5, 2 ** 33, 3, payload);
  assert.deepEqual([...data.subarray(0, 18)], [1, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0, 3]);
  const read = readFrame(data);
  assert.deepEqual({ ...read, payload: [...read.payload] }, { type: 'data', seq: 2 ** 40 + 5, ack: 2 ** 33, kind: 3, payload: [...payload] });
  assert.deepEqual([...ackFrame(258)], [2, 0, 0, 0, 0, 0, 0, 1, 2]);
  assert.deepEqual(readFrame(ackFrame(258)), { type: 'ack', ack: 258 });
  const sync = { epoch: 0xdeadbeef, ackEpoch: 1, ack: 7, next: 8 };
  assert.deepEqual([...syncFrame(sync)], [3, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 8]);
  assert.deepEqual(readFrame(syncFrame(sync)), { type: 'sync', ...sync });
  assert.deepEqual(readFrame(new Uint8Array([9, 1, 2])), { type: 'unknown' });
  assert.equal(readFrame(new Uint8Array([1, 0, 0])).code, 'BAD_MESSAGE');
  assert.equal(readFrame(new Uint8Array(0)).code, 'BAD_MESSAGE');
});
