// Pure logic of a Room's members: the ordered sealing and opening of signals in Member, its
// admission inbox and its timers. No WebRTC here.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Member } from '../../dist/room/member.js';
import { Envelopes } from '../../dist/room/envelope.js';

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
