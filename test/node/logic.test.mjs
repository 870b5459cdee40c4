// Pure logic only: framing, signal parsing, state derivation, the ICE restart policy, stats.
// Anything that involves WebRTC is tested in real browsers (test/browser).
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { HEADER_BYTES, Reassembler, encode, frame } from '../../dist/data/framing.js';
import { chunkBytes } from '../../dist/data/channel.js';
import { framedCodec } from '../../dist/data/framed-codec.js';
import { parseSignal } from '../../dist/signaling/signal.js';
import { derivePeerState } from '../../dist/peer/state.js';
import { IceRestarter } from '../../dist/peer/ice-restart.js';
import { Liveness } from '../../dist/peer/liveness.js';
import { summarizeStats } from '../../dist/peer/stats.js';
import { PeerKitError } from '../../dist/index.js';

const frames = (kind, id, bytes, step) => {
  const out = [];
  for (let offset = 0; offset < bytes.length || offset === 0; offset += step) {
    out.push(frame(kind, id, offset, bytes.length, bytes.subarray(offset, offset + step)).slice().buffer);
    if (bytes.length === 0) break;
  }
  return out;
};

test('the reassembler puts chunks back together in any order', () => {
  const bytes = new Uint8Array(1000).map((_, i) => i);
  const parts = frames(1, 7, bytes, 300).reverse();
  const r = new Reassembler(1 << 20);
  const arrivals = parts.map((p) => r.push(p));
  assert.deepEqual(arrivals.map((a) => a.received), [100, 400, 700, 1000]);
  assert.deepEqual(arrivals.at(-1).bytes, bytes);
});

test('the reassembler refuses short, unknown, overlong and inconsistent frames', () => {
  const r = new Reassembler(100);
  const code = (x) => (x instanceof PeerKitError ? x.code : 'ok');
  assert.equal(code(r.push(new ArrayBuffer(HEADER_BYTES - 1))), 'BAD_MESSAGE');
  assert.equal(code(r.push(frame(9, 1, 0, 1, new Uint8Array(1)).buffer)), 'BAD_MESSAGE');
  assert.equal(code(r.push(frame(1, 1, 0, 101, new Uint8Array(1)).buffer)), 'MESSAGE_TOO_LARGE');
  assert.equal(code(r.push(frame(1, 1, 95, 100, new Uint8Array(10)).buffer)), 'BAD_MESSAGE');
  assert.equal(code(r.push(frame(1, 2, 0, 50, new Uint8Array(10)).buffer)), 'ok');
  assert.equal(code(r.push(frame(3, 2, 10, 50, new Uint8Array(10)).buffer)), 'BAD_MESSAGE');
});

test('a close frame carries the count of messages sent and is no message itself', () => {
  const arrival = new Reassembler(10).push(frame(5, 42, 0, 0, new Uint8Array(0)).buffer);
  assert.deepEqual(arrival, { id: 42, kind: 5, received: 0, total: 0 });
});

test('an empty message is one frame and arrives whole', () => {
  const [only] = frames(0, 1, new Uint8Array(0), 10);
  const arrival = new Reassembler(10).push(only);
  assert.equal(arrival.bytes.byteLength, 0);
});

test('encode() refuses values without a JSON form', () => {
  for (const value of [undefined, () => 1, Symbol('x'), 1n]) assert.equal(encode(value).code, 'BAD_ARGUMENT');
  assert.equal(encode({ a: 1 }).size, 7);
});

test('chunk size follows maxMessageSize between a 16 KiB floor and a 256 KiB cap', () => {
  assert.equal(chunkBytes(262144), 262144 - HEADER_BYTES);
  assert.equal(chunkBytes(1073741823), 262144 - HEADER_BYTES);
  assert.equal(chunkBytes(65536), 65536 - HEADER_BYTES);
  assert.equal(chunkBytes(1000), 16384 - HEADER_BYTES);
  assert.equal(chunkBytes(undefined), 262144 - HEADER_BYTES);
  assert.equal(chunkBytes(Infinity), 262144 - HEADER_BYTES);
});

test('a message that fits one frame of up to 256 KiB goes as one; a longer one goes in 64 KiB frames', () => {
  const context = { label: 'bulk', reliable: true, maxMessageBytes: 1 << 28, maxMessageSize: () => 262144 };
  const codec = framedCodec(context, {});
  const one = codec.prepare(new Uint8Array(200000));
  assert.equal(one.byteLength, 200000 + HEADER_BYTES);
  const long = codec.prepare(new Uint8Array(300000));
  const frames = [];
  for (let piece = long.next(); piece !== undefined; piece = long.next()) frames.push(piece.byteLength - HEADER_BYTES);
  assert.deepEqual(frames, [65523, 65523, 65523, 65523, 300000 - 4 * 65523]);
});

test('parseSignal accepts each kind, as an object or as JSON text', () => {
  const hello = { v: 1, kind: 'hello', tb: 12 };
  assert.deepEqual(parseSignal(hello, 1000), hello);
  assert.deepEqual(parseSignal(JSON.stringify(hello), 1000), hello);
  const offer = { v: 1, kind: 'description', type: 'offer', sdp: 'v=0\r\n', extra: 'dropped' };
  assert.deepEqual(parseSignal(offer, 1000), { v: 1, kind: 'description', type: 'offer', sdp: 'v=0\r\n' });
  const candidate = { v: 1, kind: 'candidate', candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: null } };
  assert.deepEqual(parseSignal(candidate, 1000).candidate, { candidate: 'c', sdpMid: '0' });
  assert.deepEqual(parseSignal({ v: 1, kind: 'bye' }, 1000), { v: 1, kind: 'bye' });
});

test('parseSignal says what is wrong with a malformed signal', () => {
  const cases = [
    ['{', /not JSON/],
    ['x'.repeat(2000), /more than the 1000/],
    [[], /JSON object/],
    [{ v: 1, kind: 'nope' }, /unknown kind/],
    [{ v: 3, kind: 'bye' }, /version 3/],
    [{ v: 1, kind: 'hello', tb: -1 }, /tb must be/],
    [{ v: 1, kind: 'description', type: 'offer', sdp: 'hello' }, /v=0/],
    [{ v: 1, kind: 'candidate', candidate: { candidate: 'c', sdpMid: 5 } }, /sdpMid/],
  ];
  for (const [input, message] of cases) {
    const err = parseSignal(input, 1000);
    assert.ok(err instanceof PeerKitError, String(input));
    assert.equal(err.code, 'BAD_SIGNAL');
    assert.match(err.message, message);
  }
});

test('the Peer state is derived from the connection, the default channel and history', () => {
  const s = (connection, channelOpen = false, wasConnected = false, closing = false) => derivePeerState({ connection, channelOpen, wasConnected, closing, silent: false });
  assert.equal(s('new'), 'new');
  assert.equal(s('connecting'), 'connecting');
  assert.equal(s('connected'), 'connecting');
  assert.equal(s('connected', true), 'connected');
  assert.equal(s('disconnected', true, true), 'reconnecting');
  assert.equal(s('failed', false, true), 'reconnecting');
  assert.equal(s('failed', false, false), 'connecting');
  assert.equal(s('connected', true, true, true), 'closed');
  assert.equal(s('closed'), 'closed');
  assert.equal(derivePeerState({ connection: 'connected', channelOpen: true, wasConnected: true, closing: false, silent: true }), 'reconnecting');
});

test('liveness pings every second, calls a remote silent past silenceMs, and heard again once anything arrives', () => {
  mock.timers.enable({ apis: ['setInterval', 'Date'] });
  try {
    let pings = 0;
    const changes = [];
    const live = new Liveness(6000, () => pings++, () => changes.push(live.silent));
    live.start();
    mock.timers.tick(5000);
    assert.equal(pings, 5);
    live.heard();
    mock.timers.tick(6000);
    assert.deepEqual(changes, [], 'six seconds since the last arrival is not yet silence');
    mock.timers.tick(1000);
    assert.deepEqual(changes, [true]);
    live.heard();
    mock.timers.tick(1000);
    assert.deepEqual(changes, [true, false]);
    live.stop();
    mock.timers.tick(60000);
    assert.equal(pings, 13, 'no pings after stop()');
    const off = new Liveness(0, () => pings++, () => changes.push('off'));
    off.start();
    mock.timers.tick(60000);
    assert.equal(pings, 13, 'silenceMs 0 turns it off');
  } finally {
    mock.timers.reset();
  }
});

test('ICE restarts at once on failed, after the grace period on disconnected, and gives up after maxAttempts', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let restarts = 0;
    let gaveUp = 0;
    const r = new IceRestarter({ graceMs: 3000, maxAttempts: 2, attemptTimeoutMs: 10000 }, () => restarts++, () => gaveUp++, () => 'disconnected');
    r.update('disconnected');
    mock.timers.tick(2999);
    assert.equal(restarts, 0);
    r.update('connected');
    mock.timers.tick(5000);
    assert.equal(restarts, 0, 'a disconnection that heals needs no restart');
    r.update('disconnected');
    mock.timers.tick(3000);
    assert.equal(restarts, 1);
    r.update('failed');
    assert.equal(restarts, 1, 'a failure during a restart waits for that restart');
    mock.timers.tick(10000);
    assert.equal(restarts, 2);
    mock.timers.tick(10000);
    assert.equal(gaveUp, 1);
    r.update('connected');
    r.update('failed');
    assert.equal(restarts, 3, 'reconnecting resets the count');
    r.stop();
  } finally {
    mock.timers.reset();
  }
});

test('ICE restart stops retrying once the connection is up again, even when no event said so', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let restarts = 0;
    let gaveUp = 0;
    let now = 'disconnected';
    const r = new IceRestarter({ graceMs: 500, maxAttempts: 2, attemptTimeoutMs: 4000 }, () => restarts++, () => gaveUp++, () => now);
    r.update('disconnected');
    mock.timers.tick(500);
    assert.equal(restarts, 1);
    now = 'connected';
    mock.timers.tick(60000);
    assert.equal(restarts, 1, 'no further restart');
    assert.equal(gaveUp, 0, 'and no giving up');
    now = 'failed';
    r.update('failed');
    assert.equal(restarts, 2, 'a later failure starts afresh');
    r.stop();
  } finally {
    mock.timers.reset();
  }
});

test('stats are summarised from the selected pair: Chrome names it, Firefox marks it', () => {
  const report = (entries) => new Map(entries.map((e) => [e.id, e]));
  const local = { id: 'L', type: 'local-candidate', candidateType: 'relay', protocol: 'udp', address: '198.18.7.1', port: 3478 };
  const remote = { id: 'R', type: 'remote-candidate', candidateType: 'host', protocol: 'udp', address: '198.18.7.1', port: 5000 };
  const pair = { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', timestamp: 1000, bytesSent: 1000, bytesReceived: 500, currentRoundTripTime: 0.012 };
  const chrome = summarizeStats(report([local, remote, pair, { id: 'T', type: 'transport', selectedCandidatePairId: 'P' }]));
  assert.equal(chrome.path, 'relay');
  assert.equal(chrome.rtt, 12);
  assert.equal(chrome.sendBitrate, null);
  const firefox = summarizeStats(report([local, remote, { ...pair, selected: true, timestamp: 2000, bytesSent: 2000, currentRoundTripTime: undefined, totalRoundTripTime: 0.1, responsesReceived: 10 }]), chrome);
  assert.equal(firefox.rtt, 10);
  assert.equal(firefox.sendBitrate, 8000);
  assert.equal(firefox.receiveBitrate, 0);
  assert.equal(summarizeStats(report([])).path, 'unknown');
});
