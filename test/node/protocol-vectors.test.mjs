// The test vectors of docs/protocol.md, read out of the document itself (every fenced block whose
// info string is `json vector=<name>`), checked against peerkit's own modules in both directions:
// peerkit decodes the documented bytes and JSON to the documented values, and encodes the
// documented values to the same bytes and JSON. Where the document describes an algorithm
// (the envelope, the SAS), node:crypto recomputes it from the prose as well.
// Run after `npm run --silent build`: it imports from dist/.
import assert from 'node:assert/strict';
import { createCipheriv, createHash, hkdfSync, pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CHANNEL_DEFAULTS, Channel, chunkBytes } from '../../dist/data/channel.js';
import { Reassembler, decode, encode, frame, readChunk } from '../../dist/data/framing.js';
import { PeerKitError } from '../../dist/errors.js';
import { Negotiator } from '../../dist/peer/negotiator.js';
import { fingerprintsOf, shortAuthString } from '../../dist/peer/verification.js';
import { ackFrame, dataFrame, readFrame, syncFrame } from '../../dist/room/delivery-frame.js';
import { Envelopes } from '../../dist/room/envelope.js';
import { parseKeySignal } from '../../dist/room/media-keys.js';
import { deriveSenderKey } from '../../dist/e2ee/sender-key.js';
import { deriveKeyMaterial } from '../../dist/e2ee/sframe.js';
import { ProtocolError, encodeFrame, parseClientFrame } from '../../server/dist/protocol.js';
import { MAX_TIE_BREAKER, parseSignal } from '../../dist/signaling/signal.js';
import { WebSocketTransport } from '../../dist/signaling/transports/websocket.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const vectors = new Map();
for (const [, name, body] of doc.matchAll(/^```json vector=(\S+)\n([\s\S]*?)\n```$/gm)) {
  assert.ok(!vectors.has(name), `docs/protocol.md has two vectors named ${name}`);
  vectors.set(name, JSON.parse(body));
}
const checked = new Set();
const vector = (name) => {
  assert.ok(vectors.has(name), `docs/protocol.md has no vector ${name}`);
  checked.add(name);
  return vectors.get(name);
};
const named = (prefix) => [...vectors.keys()].filter((name) => name.startsWith(prefix)).map((name) => [name, vector(name)]);

const hex = (data) => Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('hex');
const bytes = (text) => new Uint8Array(Buffer.from(text, 'hex'));
const code = (value) => (value instanceof PeerKitError || value instanceof ProtocolError ? value.code : 'ok');
const SDP_LIMIT = 262144;

/** The value a user passes to send() for a documented message. */
function sendable(message) {
  if ('string' in message) return message.string;
  if ('arraybuffer' in message) return bytes(message.arraybuffer).buffer;
  if ('bytes' in message) return bytes(message.bytes);
  if ('blob' in message) return new Blob([bytes(message.blob)]);
  return message.json;
}

/** Checks that `actual` is what peerkit should deliver for a documented message. */
async function assertMessage(actual, message) {
  if ('string' in message) return assert.equal(actual, message.string);
  if ('json' in message) return assert.deepEqual(actual, message.json);
  if ('arraybuffer' in message) {
    assert.ok(actual instanceof ArrayBuffer);
    return assert.equal(hex(actual), message.arraybuffer);
  }
  if ('bytes' in message) {
    assert.ok(actual instanceof Uint8Array);
    return assert.equal(hex(actual), message.bytes);
  }
  assert.ok(actual instanceof Blob);
  assert.equal(hex(await actual.arrayBuffer()), message.blob);
}

/** A Channel over a stand-in RTCDataChannel that records what is sent and whether it was closed. */
function fakeChannel(maxMessageSize) {
  const dc = {
    label: 'test',
    readyState: 'open',
    bufferedAmount: 0,
    maxRetransmits: null,
    maxPacketLifeTime: null,
    sent: [],
    closes: 0,
    send(data) {
      this.sent.push(new Uint8Array(data));
    },
    close() {
      this.closes += 1;
    },
  };
  const channel = new Channel(dc, CHANNEL_DEFAULTS, () => maxMessageSize, () => {});
  const events = [];
  channel.on('message', (data) => events.push(['message', data]));
  channel.on('error', (error) => events.push(['error', error.code]));
  const deliver = (frameBytes) => dc.onmessage({ data: frameBytes.slice().buffer });
  return { dc, channel, events, deliver };
}

/** A stand-in RTCPeerConnection for the Negotiator: descriptions are applied as given. */
function fakeConnection(localSdp) {
  return {
    remoteDescription: null,
    localDescription: null,
    signalingState: 'stable',
    async setRemoteDescription(description) {
      this.remoteDescription = description;
      this.signalingState = description.type === 'offer' ? 'have-remote-offer' : 'stable';
    },
    async setLocalDescription() {
      const type = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
      this.localDescription = { type, sdp: localSdp };
      this.signalingState = type === 'offer' ? 'have-local-offer' : 'stable';
    },
    async addIceCandidate() {},
  };
}

const noHooks = { signal: () => {}, error: (err) => assert.fail(err) };

test('single frames of every kind encode to the documented bytes and decode to the documented values', async () => {
  const single = named('frame-').filter(([name]) => !name.startsWith('frame-invalid'));
  assert.ok(single.length >= 8);
  for (const [name, v] of single) {
    assert.equal(hex(frame(v.kind, v.id, v.offset, v.total, bytes(v.chunk))), v.frame, name);
    const arrival = new Reassembler(CHANNEL_DEFAULTS.maxMessageBytes).push(bytes(v.frame).buffer);
    assert.equal(arrival.kind, v.kind, name);
    assert.equal(arrival.id, v.id, name);
    if (v.message === undefined) continue;
    await assertMessage(decode(arrival.kind, arrival.bytes), v.message);
    const out = encode(sendable(v.message));
    assert.equal(out.kind, v.kind, name);
    assert.equal(hex(await readChunk(out, 0, out.size)), v.chunk, name);
  }
});

test('the receiver refuses the documented invalid frames with the documented codes', () => {
  const invalid = named('frame-invalid-');
  assert.ok(invalid.length >= 4);
  for (const [name, v] of invalid) {
    const reassembler = new Reassembler(v.maxMessageBytes ?? CHANNEL_DEFAULTS.maxMessageBytes);
    assert.equal(code(reassembler.push(bytes(v.frame).buffer)), v.error, name);
  }
});

test('a chunked message is built frame by frame and put back together in either order', async () => {
  const v = vector('chunked-string');
  for (const f of v.frames) assert.equal(hex(frame(f.kind, f.id, f.offset, f.total, bytes(f.chunk))), f.frame);
  for (const order of [v.frames, [...v.frames].reverse()]) {
    const reassembler = new Reassembler(CHANNEL_DEFAULTS.maxMessageBytes);
    const arrivals = order.map((f) => reassembler.push(bytes(f.frame).buffer));
    assert.ok(arrivals.slice(0, -1).every((a) => a.bytes === undefined), 'no message before the last chunk');
    const last = arrivals.at(-1);
    await assertMessage(decode(last.kind, last.bytes), v.message);
  }
});

test('the chunk size follows the documented rule', () => {
  for (const { maxMessageSize, chunk } of vector('chunk-size').cases) assert.equal(chunkBytes(maxMessageSize), chunk, `max-message-size ${maxMessageSize}`);
});

test('a channel splits a message larger than max-message-size into the documented frames', async () => {
  const v = vector('channel-split');
  const { dc, channel } = fakeChannel(v.maxMessageSize);
  await channel.send(new ArrayBuffer(v.size));
  assert.deepEqual(dc.sent.map((f) => hex(f.subarray(0, 13))), v.headers);
  assert.ok(dc.sent.every((f) => f.byteLength <= v.maxMessageSize));
  assert.equal(dc.sent.reduce((sum, f) => sum + f.byteLength - 13, 0), v.size);
});

test('a channel sends the documented ping, and a receiver takes it as no message', async () => {
  const { frame: ping } = vector('frame-ping');
  const sender = fakeChannel(65536);
  await new Promise((resolve) => sender.channel.once('open', resolve));
  sender.channel.ping();
  assert.equal(hex(sender.dc.sent.at(-1)), ping);
  const receiver = fakeChannel(65536);
  receiver.deliver(bytes(ping));
  assert.deepEqual(receiver.events, []);
});

test('a frame of an unknown kind is dropped, reported, and the channel reads on', () => {
  const receiver = fakeChannel(65536);
  receiver.deliver(bytes(vector('frame-invalid-kind').frame));
  receiver.deliver(bytes(vector('frame-string').frame));
  assert.deepEqual(receiver.events, [['error', 'BAD_MESSAGE'], ['message', 'hello']]);
  assert.equal(receiver.dc.closes, 0);
});

test('the close handshake: the closer sends the documented close frame, the remote closes once it has every message', async () => {
  const v = vector('close-handshake');
  const sender = fakeChannel(65536);
  for (const text of v.sent) await sender.channel.send(text);
  const closing = sender.channel.close();
  assert.equal(hex(sender.dc.sent.at(-1)), v.close);
  assert.equal(sender.dc.closes, 0, 'the closer waits for the remote instead of resetting the stream');
  const [first, second, third, closeFrame] = sender.dc.sent;
  const receiver = fakeChannel(65536);
  for (const f of [first, second, closeFrame]) receiver.deliver(f);
  assert.equal(receiver.dc.closes, 0, 'one message is still missing');
  receiver.deliver(third);
  assert.equal(receiver.dc.closes, 1);
  assert.deepEqual(receiver.events, v.sent.map((text) => ['message', text]));
  sender.dc.readyState = 'closed';
  sender.dc.onclose();
  await closing;
});

test('signals parse to the documented values, as objects and as JSON text', () => {
  const signals = named('signal-');
  assert.ok(signals.length >= 14);
  for (const [name, v] of signals) {
    for (const input of [v.signal, JSON.stringify(v.signal)]) {
      const parsed = parseSignal(input, SDP_LIMIT);
      if (v.error !== undefined) assert.equal(code(parsed), v.error, name);
      else assert.deepEqual(parsed, v.parsed ?? v.signal, name);
    }
  }
});

test('the negotiator emits the documented hello, offer and answer', async () => {
  assert.deepEqual(new Negotiator(fakeConnection(''), true, noHooks).hello, vector('signal-hello-polite').signal);
  const offer = vector('signal-offer').signal;
  const answer = vector('signal-answer').signal;
  const offered = [];
  await new Negotiator(fakeConnection(offer.sdp), false, { ...noHooks, signal: (s) => offered.push(s) }).negotiate();
  assert.equal(JSON.stringify(offered), JSON.stringify([offer]));
  const answered = [];
  await new Negotiator(fakeConnection(answer.sdp), true, { ...noHooks, signal: (s) => answered.push(s) }).handle(offer);
  assert.equal(JSON.stringify(answered), JSON.stringify([answer]));
});

test('roles follow the documented tie-breaker rule', async () => {
  for (const c of vector('tie-breaker').cases) {
    if ('option' in c) {
      assert.equal(new Negotiator(fakeConnection(''), c.option, noHooks).hello.tb, c.tb);
      continue;
    }
    const negotiator = new Negotiator(fakeConnection(''), undefined, noHooks);
    assert.ok(negotiator.tieBreaker >= 1 && negotiator.tieBreaker <= MAX_TIE_BREAKER - 2);
    assert.equal(negotiator.polite, undefined, 'unknown until the remote hello');
    await negotiator.handle({ v: 1, kind: 'hello', tb: c.remote });
    assert.equal(negotiator.polite, c.polite, `remote tb ${c.remote}`);
  }
});

test('the server reads the documented client frames and refuses the documented invalid ones', () => {
  for (const [name, v] of named('client-')) {
    if (v.cases !== undefined) continue;
    assert.deepEqual(parseClientFrame(v.text), v.parsed, name);
  }
  for (const c of vector('client-invalid').cases) {
    const refused = parseClientFrame(c.text);
    assert.ok(refused instanceof ProtocolError, c.text);
    assert.equal(refused.code, c.code, c.text);
    assert.equal(refused.re, c.re, c.text);
  }
});

test('the server writes the documented server frames', () => {
  const frames = named('server-');
  assert.ok(frames.length >= 6);
  for (const [name, v] of frames) assert.equal(encodeFrame(v.frame), v.text, name);
});

test('WebSocketTransport writes the documented client frames and reads the documented server frames', async () => {
  const sockets = [];
  class FakeSocket {
    readyState = 0;
    sent = [];
    constructor(url) {
      this.url = url;
      sockets.push(this);
    }
    send(text) {
      this.sent.push(text);
    }
    close() {
      this.readyState = 3;
    }
  }
  const join = vector('client-join').parsed;
  const transport = new WebSocketTransport('ws://signal.invalid', { WebSocket: FakeSocket, token: join.token, heartbeatIntervalMs: 20 });
  const seen = [];
  for (const event of ['member-joined', 'member-left', 'message', 'error']) transport.on(event, (...args) => seen.push([event, ...args]));
  const joining = transport.join(join.room, { hello: join.hello });
  const [socket] = sockets;
  socket.readyState = 1;
  socket.onopen();
  const receive = (text) => socket.onmessage({ data: text });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(socket.sent[0], vector('client-join').text);

  const joined = vector('server-joined').frame;
  receive(vector('server-joined').text);
  assert.deepEqual(await joining, { selfId: joined.id, members: joined.members, iceServers: joined.iceServers, hellos: joined.hellos });
  const signal = vector('client-signal').parsed;
  transport.send(signal.to, signal.payload);
  assert.equal(socket.sent.at(-1), vector('client-signal').text);

  for (const name of ['server-member-joined', 'server-signal', 'server-pong', 'server-error', 'server-member-left']) receive(vector(name).text);
  // A frame of another version is dropped and reported; a type from a newer server is ignored.
  receive('{"v":2,"type":"pong"}');
  receive('{"v":1,"type":"news","text":"hi"}');
  const { id, hello } = vector('server-member-joined').frame;
  const { from, payload } = vector('server-signal').frame;
  // The error answers a signal to `nobody`, whom the server never announced: it is dropped quietly.
  assert.deepEqual(seen.map(([event, ...args]) => (event === 'error' ? [event, args[0].code] : [event, ...args])), [
    ['member-joined', id, hello],
    ['message', from, payload],
    ['member-left', vector('server-member-left').frame.id],
    ['error', 'BAD_MESSAGE'],
  ]);

  const ping = vector('client-ping').text;
  for (let waited = 0; !socket.sent.includes(ping) && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(socket.sent.includes(ping), 'a ping after a quiet heartbeatIntervalMs');
  await transport.close();
  assert.equal(socket.sent.at(-1), vector('client-leave').text);
});

test('the room key derives as documented', () => {
  const v = vector('envelope-key');
  assert.equal(v.salt, `peerkit/1 room-key ${v.room}`);
  assert.equal(pbkdf2Sync(v.secret, v.salt, v.iterations, 32, 'sha256').toString('hex'), v.key);
});

/** seal() as the document describes it, with node:crypto: base64 of IV, ciphertext and tag. */
function sealAsDocumented(keyHex, ivHex, context, plaintext) {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), Buffer.from(ivHex, 'hex'));
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([Buffer.from(ivHex, 'hex'), sealed]).toString('base64');
}

// A room key takes 600,000 PBKDF2 rounds: each member's envelopes are derived once, when needed.
const { secret, room, iterations, key: roomKey } = vector('envelope-key');
const derived = new Map();
const envelopesOf = (self) => {
  if (!derived.has(self)) derived.set(self, Envelopes.create(room, self, secret, iterations));
  return derived.get(self);
};

test('a sealed hello is the documented presence, and opens to the documented hello', async (t) => {
  const v = vector('envelope-hello');
  assert.equal(v.context, `peerkit/1 hello ${v.room} ${v.key}`);
  assert.equal(v.plaintext, JSON.stringify({ h: v.hello }));
  assert.equal(sealAsDocumented(roomKey, v.iv, v.context, v.plaintext), v.presence.e);
  const own = await envelopesOf(v.key);
  t.mock.method(globalThis.crypto, 'getRandomValues', (array) => (array.set(bytes(v.iv)), array));
  assert.deepEqual(await own.presence(v.hello), v.presence);
  t.mock.restoreAll();
  const other = await envelopesOf('ffeeddccbbaa99887766554433221100');
  assert.deepEqual(await other.openHello(other.read('8mCWm1bJ0Jw0fTgq4zCq6A', v.presence)), { hello: v.hello });
  const plain = await Envelopes.create(room, 'ffeeddccbbaa99887766554433221100', undefined, undefined);
  assert.deepEqual(await plain.openHello(plain.read('8mCWm1bJ0Jw0fTgq4zCq6A', v.presence)), { refusal: 'needs-secret' });
});

test('a hello in the clear is the documented presence; another client is known by its id', async () => {
  const v = vector('presence-clear');
  const plain = await Envelopes.create(v.room, v.key, undefined, undefined);
  assert.deepEqual(await plain.presence(v.hello), v.presence);
  assert.equal(plain.read('q3V1X2p0Qm9sZ0pCc0ZrVw', v.presence).key, v.key);
  assert.equal(plain.read('q3V1X2p0Qm9sZ0pCc0ZrVw', { name: 'Bo' }).key, 'id:q3V1X2p0Qm9sZ0pCc0ZrVw');
});

test('a sealed signal is the documented payload, and opens only for its pair', async (t) => {
  const v = vector('envelope-signal');
  assert.equal(v.context, `peerkit/1 signal ${v.room} ${v.from} ${v.to}`);
  assert.equal(v.plaintext, JSON.stringify({ n: v.n, s: v.signal }));
  assert.equal(sealAsDocumented(roomKey, v.iv, v.context, v.plaintext), v.payload.e);
  const [sender, recipient, stranger] = await Promise.all([v.from, v.to, 'a'.repeat(32)].map(envelopesOf));
  t.mock.method(globalThis.crypto, 'getRandomValues', (array) => (array.set(bytes(v.iv)), array));
  assert.deepEqual(await sender.wrap(v.to, v.n, v.signal, { g: 0, end: false }), v.payload);
  t.mock.restoreAll();
  assert.deepEqual(await recipient.open(v.from, v.payload), { n: v.n, signal: v.signal, g: 0, end: false });
  assert.equal(code(await recipient.open(v.to, v.payload)), 'UNAUTHORIZED', 'claimed by another sender');
  assert.equal(code(await stranger.open(v.from, v.payload)), 'UNAUTHORIZED', 'redirected to another recipient');
  assert.equal(code(await recipient.open(v.from, { ...v.payload, pk: 2 })), 'UNAUTHORIZED', 'another envelope version');
});

test('room channel frames encode to the documented bytes and decode to the documented fields', async () => {
  const frames = named('room-').filter(([name]) => !name.startsWith('room-invalid'));
  assert.ok(frames.length >= 8);
  const kinds = new Set();
  for (const [name, v] of frames) {
    const { frame: wire, message, ...fields } = v;
    const read = readFrame(bytes(wire));
    if (v.type === 'unknown') {
      assert.deepEqual(read, { type: 'unknown' }, name);
      continue;
    }
    if (v.type === 'data') {
      kinds.add(v.kind);
      assert.deepEqual({ ...read, payload: hex(read.payload) }, fields, name);
      assert.equal(hex(dataFrame(v.seq, v.ack, v.kind, bytes(v.payload))), wire, name);
      // The payload is a section 6.1 message of that kind, both ways.
      await assertMessage(decode(v.kind, bytes(v.payload)), message);
      const out = encode(sendable(message));
      assert.equal(out.kind, v.kind, name);
      assert.equal(hex(await readChunk(out, 0, out.size)), v.payload, name);
    } else if (v.type === 'ack') {
      assert.deepEqual(read, fields, name);
      assert.equal(hex(ackFrame(v.ack)), wire, name);
    } else {
      assert.deepEqual(read, fields, name);
      assert.equal(hex(syncFrame(v)), wire, name);
    }
  }
  assert.deepEqual([...kinds].sort(), [0, 1, 2, 3, 4], 'a data vector for every kind');
  for (const [name, v] of named('room-invalid-')) assert.equal(code(readFrame(bytes(v.frame))), v.error, name);
});

test('the SAS of the worked example is the documented one, from either end', async () => {
  const v = vector('sas');
  assert.equal(fingerprintsOf(v.sdpLocal).join(', '), v.local);
  assert.equal(fingerprintsOf(v.sdpRemote).join(', '), v.remote);
  assert.equal(v.input, ['peerkit-sas/1', ...[v.local, v.remote].sort()].join('\n'));
  const digest = createHash('sha256').update(v.input, 'utf8').digest();
  assert.equal(digest.toString('hex'), v.sha256);
  assert.equal(String(digest.readUInt32BE(0) % 1_000_000).padStart(6, '0'), v.sas);
  assert.equal(await shortAuthString(v.local, v.remote), v.sas);
  assert.equal(await shortAuthString(v.remote, v.local), v.sas);
});

test('the SFrame sender keys of section 8.6: node:crypto from the prose, and peerkit, give the documented bytes', async () => {
  for (const [name, v] of named('sframe-sender-key')) {
    const salt = createHash('sha256').update(JSON.stringify(['peerkit/1 sframe', v.room, v.secret])).digest();
    assert.equal(salt.toString('hex'), v.salt, name);
    assert.equal(hex(hkdfSync('sha256', bytes(v.m), salt, `peerkit/1 sframe-key ${v.kid}`, 32)), v.baseKey, name);
    assert.equal(hex(await deriveSenderKey(v.secret, v.room, v.kid, bytes(v.m))), v.baseKey, name);
    if (v.sframeKey === undefined) continue;
    const material = await deriveKeyMaterial('AES_128_GCM_SHA256_128', BigInt(v.kid), bytes(v.baseKey));
    assert.deepEqual([hex(material.key), hex(material.salt)], [v.sframeKey, v.sframeSalt], name);
  }
  const { signal } = vector('sframe-key-message');
  assert.deepEqual(parseKeySignal(signal), signal);
});

test('every vector in docs/protocol.md is checked by this file', () => {
  assert.ok(vectors.size >= 40, `only ${vectors.size} vectors found: is the fence syntax still json vector=<name>?`);
  assert.deepEqual([...vectors.keys()].filter((name) => !checked.has(name)), []);
});
