// peerkit against a peer that shares none of its code: werift-peer.mjs implements
// docs/protocol.md on werift (a WebRTC stack without libwebrtc), and meets a peerkit Peer on
// @roamhq/wrtc, then a peerkit Room through the real signaling server. Build first
// (npm run build), and run inside the test namespace, where peers gather on its veth address:
// bash scripts/netns.sh node --test test/node/werift-interop.test.mjs
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';
import { Peer, Room } from '../../dist/index.js';
import { WebSocketTransport } from '../../dist/signaling/transports/websocket.js';
import { startSignalCli } from '../support/signal-cli.mjs';
import { Kind, MAX_TB, WeriftPeer, WeriftRoomMember, startStunRefuser } from './werift-peer.mjs';

// werift needs a STUN server of its own, or it asks a public one: see startStunRefuser.
const stun = await startStunRefuser();
after(() => stun.close());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`; the timer never outlives it. */
async function within(ms, what, promise) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next `count` emissions of `event` on `emitter`, each as its argument list. */
function collect(emitter, event, count) {
  const got = [];
  return new Promise((resolve) => {
    const listener = (...args) => {
      got.push(args);
      if (got.length < count) return;
      emitter.off(event, listener);
      resolve(got);
    };
    emitter.on(event, listener);
  });
}

/** Notes in `problems` whatever goes wrong on either side, for the end of a test to assert empty. */
function watch(problems, { peerkit = [], werift = [] }) {
  for (const emitter of peerkit) emitter.on('error', (error) => problems.push(`peerkit: ${error.code} ${error.message}`));
  for (const emitter of werift) emitter.on('dropped', (reason) => problems.push(`werift: ${reason}`));
}

/** Resolves when a peerkit Channel is open, at once if it is. */
const opened = (channel) => (channel.state === 'open' ? Promise.resolve() : once(channel, 'open'));

// Random bytes, so that a chunk put at the wrong offset cannot go unnoticed.
const big = new Uint8Array(randomBytes(300_000));

// The werift peer told its role (tb 2^53 − 1 or 0), then left to the tie-breaker (a random tb).
for (const [role, polite] of [['told to be impolite', false], ['told to be polite', true], ['with a random tie-breaker', undefined]]) {
  test(`a peerkit Peer and the werift peer (${role}) connect, exchange every kind of message both ways, and close`, { timeout: 25_000 }, async (t) => {
    const silenceMs = 1500;
    const peer = new Peer({ wrtc, silenceMs });
    const remote = new WeriftPeer({ stun, polite });
    t.after(() => Promise.all([peer.close(), remote.close()]));
    const problems = [];
    watch(problems, { peerkit: [peer], werift: [remote, remote.main] });
    // As JSON text one way and as objects the other: a receiver takes either (section 3).
    peer.on('signal', (signal) => remote.signal(JSON.stringify(signal)));
    remote.on('signal', (signal) => peer.signal(signal));
    let reconnecting = 0;
    peer.on('reconnecting', () => (reconnecting += 1));

    await within(10_000, 'connecting', Promise.all([peer.connected, remote.connected]));

    // Sections 3.2, 4.1, 4.2: hello first on both sides, the offer from the impolite one.
    const sent = remote.wire.filter((w) => w.dir === 'out').map((w) => w.signal);
    const received = remote.wire.filter((w) => w.dir === 'in').map((w) => w.signal);
    const isRandom = (tb) => Number.isSafeInteger(tb) && tb >= 1 && tb < MAX_TB;
    assert.deepEqual(sent[0], { v: 1, kind: 'hello', tb: polite === undefined ? remote.tb : polite ? 0 : MAX_TB });
    if (polite === undefined) assert.ok(isRandom(remote.tb), `werift's random tb ${remote.tb}`);
    assert.equal(received[0].kind, 'hello');
    assert.ok(isRandom(received[0].tb), `peerkit's random tb ${received[0].tb}`);
    if (polite === undefined) assert.equal(remote.polite, remote.tb < received[0].tb, 'the lower tie-breaker is polite');
    assert.equal(peer.polite, !remote.polite);
    const firstOffer = remote.wire.find((w) => w.signal.kind === 'description');
    assert.equal(firstOffer.signal.type, 'offer');
    assert.equal(firstOffer.dir, remote.polite ? 'in' : 'out', 'the impolite side makes the first offer');
    assert.ok(sent.some((s) => s.kind === 'candidate') && received.some((s) => s.kind === 'candidate'), 'candidates trickled both ways');

    // peerkit to werift: a string, JSON, an ArrayBuffer of several frames, a typed array.
    const atWerift = collect(remote.main, 'message', 4);
    await peer.send('hello werift');
    await peer.send({ a: [1, 2, 3], ok: true });
    await peer.send(big.buffer);
    await peer.send(new Uint16Array([1, 2, 65535]));
    const [[text, k0], [json, k3], [bytes, k1], [typed, k2]] = await within(5000, 'messages at werift', atWerift);
    assert.deepEqual([k0, k3, k1, k2], [Kind.STRING, Kind.JSON, Kind.ARRAY_BUFFER, Kind.TYPED_ARRAY]);
    assert.equal(text, 'hello werift');
    assert.deepEqual(json, { a: [1, 2, 3], ok: true });
    assert.ok(bytes.equals(big), 'the 300,000 bytes arrive whole at werift');
    assert.deepEqual([...new Uint16Array(typed.buffer, typed.byteOffset, typed.length / 2)], [1, 2, 65535]);

    // werift to peerkit, the same four kinds: werift chunks to wrtc's max-message-size.
    const atPeerkit = collect(peer, 'data', 4);
    remote.main.sendString('hello peerkit');
    remote.main.sendJson({ b: ['x', null] });
    remote.main.send(Kind.ARRAY_BUFFER, Buffer.from(big));
    remote.main.send(Kind.TYPED_ARRAY, Buffer.from([7, 8, 9]));
    const [[fromText], [fromJson], [fromBytes], [fromTyped]] = await within(5000, 'messages at peerkit', atPeerkit);
    assert.equal(fromText, 'hello peerkit');
    assert.deepEqual(fromJson, { b: ['x', null] });
    assert.ok(fromBytes instanceof ArrayBuffer, 'kind 1 arrives as an ArrayBuffer');
    assert.deepEqual(new Uint8Array(fromBytes), big);
    assert.ok(fromTyped instanceof Uint8Array, 'kind 2 arrives as a Uint8Array');
    assert.deepEqual([...fromTyped], [7, 8, 9]);

    // A named channel opened by peerkit: framed both ways, then peerkit closes it by the handshake.
    const files = peer.channel('files');
    const [[incoming]] = await within(5000, 'the named channel at werift', collect(remote, 'channel', 1));
    watch(problems, { werift: [incoming] });
    assert.equal(incoming.label, 'files');
    assert.equal(incoming.protocol, 'peerkit/1');
    await within(5000, 'files open', opened(files));
    const filesAtWerift = collect(incoming, 'message', 2);
    await files.send('one');
    await files.send(big.subarray(0, 70_000));
    const [[one], [chunked]] = await within(5000, 'files at werift', filesAtWerift);
    assert.equal(one, 'one');
    assert.ok(chunked.equals(Buffer.from(big.subarray(0, 70_000))));
    const back = once(files, 'message');
    incoming.sendString('two');
    assert.deepEqual(await within(5000, 'files at peerkit', back), ['two']);
    let started = performance.now();
    await files.close();
    const handshakeMs = performance.now() - started;
    // peerkit resets on its own only after closeTimeoutMs (5 s): sooner means werift answered.
    assert.ok(handshakeMs < 3000, `peerkit's close handshake took ${handshakeMs.toFixed(0)} ms`);
    await within(2000, 'files closed at werift', incoming.closed());
    assert.equal(incoming.received, 2);

    // A named channel opened by werift; werift closes it by the handshake.
    const logs = remote.channel('logs');
    watch(problems, { werift: [logs] });
    const [[atPeer]] = await within(5000, 'the named channel at peerkit', collect(peer, 'channel', 1));
    assert.equal(atPeer.label, 'logs');
    await within(5000, 'logs open at werift', logs.opened());
    const logged = collect(atPeer, 'message', 2);
    logs.sendString('first');
    logs.sendJson({ last: true });
    const peerClosed = once(atPeer, 'close');
    started = performance.now();
    await logs.close();
    assert.ok(performance.now() - started < 3000, 'peerkit answered werift\'s close frame with a reset');
    assert.deepEqual(await within(2000, 'logs at peerkit', logged), [['first'], [{ last: true }]]);
    await within(2000, 'logs closed at peerkit', peerClosed);

    // Pings (section 6.3): a quiet spell longer than silenceMs leaves peerkit connected.
    const pingsBefore = remote.main.pings;
    await sleep(silenceMs + 1000);
    assert.equal(reconnecting, 0, 'werift\'s pings keep peerkit from thinking it silent');
    assert.equal(peer.state, 'connected');
    assert.ok(remote.main.pings - pingsBefore >= 3, `peerkit pinged werift ${remote.main.pings - pingsBefore} times in ${silenceMs + 1000} ms`);

    // Section 9: both ends compute the same six digits from the same two fingerprints.
    const verification = await peer.getVerification();
    const ours = remote.verification();
    assert.match(ours.sas, /^\d{6}$/);
    assert.deepEqual({ local: ours.remote, remote: ours.local, sas: ours.sas }, verification);

    // Section 6.5, from each side in turn: the closer's channels by handshake, then bye. The
    // closer's close() waits for its default channel, which the other side closes on the close
    // frame: well under peerkit's closeTimeoutMs (5 s) means the handshake, not the timeout, ended it.
    const closer = polite === true ? remote : peer;
    const other = closer === peer ? remote : peer;
    const otherClosed = once(other, 'close');
    started = performance.now();
    await within(8000, 'closing', closer.close());
    const closeMs = performance.now() - started;
    assert.ok(closeMs < 3000, `the default channel closed by the handshake, in ${closeMs.toFixed(0)} ms`);
    // On bye, peerkit still waits for its own channels, up to closeTimeoutMs: now and then
    // @roamhq/wrtc leaves a channel "closing" although werift answered its stream reset and reset
    // the other direction (werift saw both acknowledged), and only the timeout ends the wait.
    await within(7000, 'the other side closing', otherClosed);
    const bye = remote.wire.find((w) => w.signal.kind === 'bye');
    assert.equal(bye?.dir, closer === remote ? 'out' : 'in', 'the closer sent bye');
    assert.equal(remote.pc.connectionState, 'closed');
    assert.equal(peer.state, 'closed');
    assert.deepEqual(problems, []);
  });
}

test('the werift peer joins a peerkit Room through peerkit-signal with a secret, exchanges data with every member, and leaves', { timeout: 30_000 }, async (t) => {
  const { child, listening } = startSignalCli(['--port', '0']);
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill();
      await once(child, 'exit');
    }
  });
  const { port } = await within(10_000, 'the signaling server', listening);
  const url = `ws://127.0.0.1:${port}`;
  const secret = 'correct horse battery staple';

  const join = (name) => Room.join('lobby', { transport: new WebSocketTransport(url, { WebSocket }), wrtc, secret, hello: { name } });
  const ada = await join('ada');
  t.after(() => ada.leave());
  const werift = new WeriftRoomMember(url, 'lobby', { stun, secret, hello: { name: 'werift' } });
  t.after(() => werift.leave());
  const problems = [];
  watch(problems, { peerkit: [ada], werift: [werift] });
  werift.on('refused', (id, reason) => problems.push(`werift refused ${id}: ${reason}`));
  const weriftMembers = collect(werift, 'member', 2);
  const adaMembers = collect(ada, 'member', 2);
  await within(10_000, 'werift joining', werift.join());
  const bo = await join('bo');
  t.after(() => bo.leave());
  watch(problems, { peerkit: [bo] });

  // Every hello was sealed and opened: werift read the names, the Rooms read werift's.
  const found = await within(5000, 'werift meeting both members', weriftMembers);
  for (const [peer] of found) watch(problems, { werift: [peer, peer.main] });
  assert.deepEqual(found.map(([, , hello]) => hello.name).sort(), ['ada', 'bo']);
  const peers = Object.fromEntries(found.map(([peer, , hello]) => [hello.name, peer]));
  const [adaSees] = (await within(5000, 'ada meeting werift and bo', adaMembers)).filter(([, , hello]) => hello.name === 'werift');
  assert.equal(adaSees[1], werift.id);
  await within(10_000, 'werift connecting to both', Promise.all(Object.values(peers).map((peer) => peer.connected)));

  // Section 8.2: the greater session key is polite, on both ends of each pair.
  const adaPeer = adaSees[0];
  await within(5000, 'ada connecting to werift', adaPeer.connected);
  assert.equal(adaPeer.polite, !peers.ada.polite, 'exactly one side of the pair is polite');
  const adaKey = [...werift.members.values()].find((m) => m.peer === peers.ada).key;
  assert.equal(peers.ada.polite, werift.key > adaKey);

  // Data both ways: a broadcast from each Room reaches werift, werift answers each member.
  const atWerift = Promise.all(Object.values(peers).map((peer) => within(5000, 'room data at werift', once(peer.main, 'message'))));
  await ada.send({ from: 'ada' });
  await bo.send('from bo');
  const [[fromAda], [fromBo]] = await atWerift;
  assert.deepEqual(fromAda, { from: 'ada' });
  assert.equal(fromBo, 'from bo');
  const adaGets = new Promise((resolve) => ada.on('data', (data, from) => from === werift.id && resolve(data)));
  const boGets = new Promise((resolve) => bo.on('data', (data, from) => from === werift.id && resolve(data)));
  peers.ada.main.sendJson({ to: 'ada' });
  peers.bo.main.send(Kind.ARRAY_BUFFER, Buffer.from(big));
  assert.deepEqual(await within(5000, 'werift data at ada', adaGets), { to: 'ada' });
  assert.deepEqual(new Uint8Array(await within(5000, 'werift data at bo', boGets)), big);
  // Section 8.4: what the server relayed to werift was sealed, hellos and signals alike.
  const relayed = werift.frames.filter((f) => f.type === 'signal');
  assert.ok(relayed.length > 4, `${relayed.length} signals relayed`);
  for (const { payload } of relayed) assert.deepEqual(Object.keys(payload).sort(), ['e', 'pk']);
  const hellos = werift.frames.flatMap((f) => (f.type === 'joined' ? Object.values(f.hellos ?? {}) : f.type === 'member-joined' ? [f.hello] : []));
  assert.equal(hellos.length, 2);
  for (const hello of hellos) assert.deepEqual(Object.keys(hello).sort(), ['e', 'key', 'pk']);
  assert.ok(werift.members.get(ada.selfId).accepted > 2, 'werift opened a run of numbered signals from ada');

  // Leaving: werift closes its peers (handshake, bye), then leaves; both Rooms let it go. Had it
  // left without a bye, a connected member would be kept for rejoinGraceMs (15 s); peerkit may
  // take up to closeTimeoutMs (5 s) after the bye (see the Peer test above).
  const adaLeave = new Promise((resolve) => ada.on('leave', (id) => id === werift.id && resolve()));
  const boLeave = new Promise((resolve) => bo.on('leave', (id) => id === werift.id && resolve()));
  const started = performance.now();
  await within(8000, 'werift leaving', werift.leave());
  assert.ok(performance.now() - started < 3000, 'werift closed its peers by the handshake');
  await within(7000, 'the Rooms letting werift go', Promise.all([adaLeave, boLeave]));
  assert.ok(performance.now() - started < 10_000, `leaving took ${(performance.now() - started).toFixed(0)} ms`);
  assert.ok(ada.peers.has(bo.selfId), 'the peerkit members stay connected to each other');
  assert.deepEqual(problems, []);
});
