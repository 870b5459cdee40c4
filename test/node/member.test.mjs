// Pure logic of a Room's members: the ordered sealing and opening of signals in Member, and the
// exactly-once bookkeeping of room delivery (Delivery and its frames). No WebRTC here.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Member } from '../../dist/room/member.js';
import { Envelopes } from '../../dist/room/envelope.js';
import { DELIVERY_LIMITS, Delivery } from '../../dist/room/delivery.js';
import { ackFrame, dataFrame, readFrame, syncFrame } from '../../dist/room/delivery-frame.js';
import { PeerKitError } from '../../dist/index.js';

const ROOM = 'member-test';
const signal = (i) => ({ v: 1, kind: 'candidate', candidate: { candidate: `candidate:${i}`, sdpMid: '0' } });
const settle = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits for `test()` to hold, up to 10 s: sealing is real AES-GCM, its speed varies. */
async function until(test) {
  for (let waited = 0; !test(); waited += 10) {
    if (waited > 10000) throw new Error('timed out');
    await settle(10);
  }
}

/** Two sides of a pair: `a` sends to `b`, each with its own envelopes (sealed when `secret`). */
async function pair(secret) {
  const iterations = 1;
  const envA = await Envelopes.create(ROOM, 'key-a', secret, iterations);
  const envB = await Envelopes.create(ROOM, 'key-b', secret, iterations);
  const routed = [];
  const a = new Member('id-b', 'key-b', [], envA, () => {});
  const b = new Member('id-a', 'key-a', [], envB, (member, opened) => routed.push(opened));
  return { a, b, routed };
}

/** A Peer stand-in: Member only calls send() on it for members that are not Rooms. */
const fakePeer = () => ({ sent: [], send(data) { this.sent.push(data); return Promise.resolve(); } });

for (const secret of [undefined, 'a shared secret']) {
  const mode = secret === undefined ? 'in the clear' : 'sealed';

  test(`member.transmit() hands signals on in the order given, ${mode}, whatever sealing takes`, async () => {
    const { a, b, routed } = await pair(secret);
    const wire = [];
    for (let i = 0; i < 50; i++) a.transmit(signal(i), (_id, payload) => (wire.push(payload), true), { g: i % 3, end: false });
    await until(() => wire.length === 50);
    b.admitted(fakePeer(), (error) => assert.fail(error));
    for (const payload of wire) b.receive(payload, (error) => assert.fail(error));
    await until(() => routed.length === 50);
    assert.deepEqual(routed.map((o) => o.signal.candidate.candidate), wire.map((_, i) => `candidate:${i}`));
    assert.deepEqual(routed.map((o) => o.g), wire.map((_, i) => i % 3));
    if (secret !== undefined) assert.deepEqual(routed.map((o) => o.n), wire.map((_, i) => i + 1));
  });

  test(`signals received before admission wait, then are opened in order, ${mode}`, async () => {
    const { a, b, routed } = await pair(secret);
    const wire = [];
    for (let i = 0; i < 5; i++) a.transmit(signal(i), (_id, payload) => (wire.push(payload), true));
    await until(() => wire.length === 5);
    for (const payload of wire) b.receive(payload, (error) => assert.fail(error));
    await settle(20);
    assert.equal(routed.length, 0);
    b.admitted(fakePeer(), (error) => assert.fail(error));
    await until(() => routed.length === 5);
    assert.deepEqual(routed.map((o) => o.signal.candidate.candidate), ['candidate:0', 'candidate:1', 'candidate:2', 'candidate:3', 'candidate:4']);
  });
}

test('a signal that cannot go is held, later ones queue behind it, and flush() sends them in order', async () => {
  const { a } = await pair(undefined);
  const wire = [];
  let open = false;
  const send = (_id, payload) => (open ? (wire.push(payload), true) : false);
  a.transmit(signal(0), send);
  await settle(10);
  open = true;
  a.transmit(signal(1), send);
  await settle(10);
  assert.deepEqual(wire, [], 'a signal never overtakes one held before it');
  a.flush(send);
  assert.deepEqual(wire.map((s) => s.candidate.candidate), ['candidate:0', 'candidate:1']);
});

test('a replayed sealed signal is refused with UNAUTHORIZED and not routed twice', async () => {
  const { a, b, routed } = await pair('s3cret');
  const wire = [];
  a.transmit(signal(0), (_id, payload) => (wire.push(payload), true));
  await until(() => wire.length === 1);
  b.admitted(fakePeer(), () => {});
  const errors = [];
  b.receive(wire[0], (error) => errors.push(error));
  b.receive(wire[0], (error) => errors.push(error));
  await until(() => routed.length + errors.length === 2);
  assert.equal(routed.length, 1);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'UNAUTHORIZED');
});

test('the end marker and the generation travel with a sealed bye', async () => {
  const { a, b, routed } = await pair('s3cret');
  const wire = [];
  a.transmit({ v: 1, kind: 'bye' }, (_id, payload) => (wire.push(payload), true), { g: 4, end: true });
  await until(() => wire.length === 1);
  assert.equal(JSON.stringify(wire[0]).includes('bye'), false, 'nothing readable on the wire');
  b.admitted(fakePeer(), () => {});
  b.receive(wire[0], () => {});
  await until(() => routed.length === 1);
  assert.deepEqual({ g: routed[0].g, end: routed[0].end, kind: routed[0].signal.kind }, { g: 4, end: true, kind: 'bye' });
});

test('a refused member drops what it sends and settles the sends that waited for it', async () => {
  const { b, routed } = await pair(undefined);
  const waiting = b.send('hello', undefined);
  b.receive(signal(0), () => {});
  b.refuse();
  await waiting;
  b.receive(signal(1), () => {});
  await settle(10);
  assert.equal(routed.length, 0);
});

test('a member that is not a Room gets the messages that waited for its admission, in order', async () => {
  const { b } = await pair(undefined);
  const sends = [b.send('one', undefined), b.send('two', undefined)];
  const peer = fakePeer();
  b.admitted(peer, () => {});
  await Promise.all(sends);
  assert.deepEqual(peer.sent, ['one', 'two']);
});

test('the grace timer: away while it runs, expire after it, and returned() ends it under the new id', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const member = new Member('old', 'k', [], undefined, () => {});
    const expired = mock.fn();
    member.departed(1000, expired);
    assert.equal(member.away, true);
    mock.timers.tick(999);
    assert.equal(expired.mock.callCount(), 0);
    member.returned('new');
    assert.equal(member.away, false);
    assert.equal(member.id, 'new');
    mock.timers.tick(5000);
    assert.equal(expired.mock.callCount(), 0);
    member.departed(1000, expired);
    mock.timers.tick(1000);
    assert.equal(expired.mock.callCount(), 1);
    assert.equal(member.away, true, 'given up on, still away');
    member.rebuildAfter(100, expired);
    member.dispose();
    mock.timers.tick(1000);
    assert.equal(expired.mock.callCount(), 1, 'dispose() stops the rebuild timer');
  } finally {
    mock.timers.reset();
  }
});

// Room delivery: two Delivery objects and a lossy link between them.

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
