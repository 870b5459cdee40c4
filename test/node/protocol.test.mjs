// The signaling protocol module (src/signaling/protocol.ts) as pure functions: every frame type
// each side parses, every malformed input and the error it gets, and the encoder. Build first:
// npx tsc -p .
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_ROOM_LENGTH,
  PROTOCOL_VERSION,
  ProtocolError,
  encodeFrame,
  errorFrame,
  parseClientFrame,
  parseServerFrame,
} from '../../dist/signaling/protocol.js';

const text = (frame) => JSON.stringify({ v: 1, ...frame });

/** Asserts `result` is a refusal with `code` and `re`. */
function refused(result, code, re, what) {
  assert.ok(result instanceof ProtocolError, `${what}: expected a ${code} refusal, got ${JSON.stringify(result)}`);
  assert.equal(result.code, code, what);
  assert.equal(result.re, re, `${what}: re`);
  assert.equal(typeof result.message, 'string');
}

test('the protocol is version 1 and frames are encoded with v first', () => {
  assert.equal(PROTOCOL_VERSION, 1);
  assert.equal(encodeFrame({ type: 'ping' }), '{"v":1,"type":"ping"}');
  assert.equal(encodeFrame({ type: 'signal', from: 'a', payload: { x: [1] } }), '{"v":1,"type":"signal","from":"a","payload":{"x":[1]}}');
  assert.throws(() => encodeFrame({ type: 'signal', to: 'a', payload: 1n }), TypeError);
});

test('parseClientFrame reads every client frame type, keeping only the fields it knows', () => {
  assert.deepEqual(parseClientFrame(text({ type: 'join', room: 'lobby' })), { type: 'join', room: 'lobby' });
  assert.deepEqual(parseClientFrame(text({ type: 'join', room: 'lobby', token: 't', hello: { name: 'Ada' }, id: 'mine' })), {
    type: 'join',
    room: 'lobby',
    token: 't',
    hello: { name: 'Ada' },
  });
  assert.deepEqual(parseClientFrame(text({ type: 'join', room: 'r'.repeat(MAX_ROOM_LENGTH) })), { type: 'join', room: 'r'.repeat(MAX_ROOM_LENGTH) });
  assert.deepEqual(parseClientFrame(text({ type: 'signal', to: 'b', payload: null, from: 'forged' })), { type: 'signal', to: 'b', payload: null });
  assert.deepEqual(parseClientFrame(text({ type: 'leave', extra: 1 })), { type: 'leave' });
  assert.deepEqual(parseClientFrame(text({ type: 'ping' })), { type: 'ping' });
});

test('parseClientFrame refuses each malformed frame with its code and the type it answers', () => {
  const cases = [
    ['not JSON', '{"v":1,', 'BAD_FRAME', undefined],
    ['a JSON array', '[1]', 'BAD_FRAME', undefined],
    ['JSON null', 'null', 'BAD_FRAME', undefined],
    ['a JSON string', '"join"', 'BAD_FRAME', undefined],
    ['no version', JSON.stringify({ type: 'ping' }), 'BAD_VERSION', 'ping'],
    ['version 2', JSON.stringify({ v: 2, type: 'join', room: 'x' }), 'BAD_VERSION', 'join'],
    ['version "1"', JSON.stringify({ v: '1', type: 'ping' }), 'BAD_VERSION', 'ping'],
    ['no type', text({}), 'BAD_FRAME', undefined],
    ['a numeric type', text({ type: 7 }), 'BAD_FRAME', undefined],
    ['an unknown type', text({ type: 'dance' }), 'UNKNOWN_TYPE', 'dance'],
    ['a server frame type', text({ type: 'joined' }), 'UNKNOWN_TYPE', 'joined'],
    ['join without a room', text({ type: 'join' }), 'BAD_FRAME', 'join'],
    ['join with an empty room', text({ type: 'join', room: '' }), 'BAD_FRAME', 'join'],
    ['join with a numeric room', text({ type: 'join', room: 5 }), 'BAD_FRAME', 'join'],
    ['join with a room too long', text({ type: 'join', room: 'r'.repeat(MAX_ROOM_LENGTH + 1) }), 'BAD_FRAME', 'join'],
    ['join with a numeric token', text({ type: 'join', room: 'x', token: 5 }), 'BAD_FRAME', 'join'],
    ['signal without to', text({ type: 'signal', payload: 1 }), 'BAD_FRAME', 'signal'],
    ['signal to an empty id', text({ type: 'signal', to: '', payload: 1 }), 'BAD_FRAME', 'signal'],
    ['signal to a number', text({ type: 'signal', to: 3, payload: 1 }), 'BAD_FRAME', 'signal'],
    ['signal without payload', text({ type: 'signal', to: 'b' }), 'BAD_FRAME', 'signal'],
  ];
  for (const [what, input, code, re] of cases) refused(parseClientFrame(input), code, re, what);
  const long = parseClientFrame(text({ type: 'x'.repeat(1000) }));
  refused(long, 'UNKNOWN_TYPE', 'x'.repeat(32), 'an unknown type is echoed cut to 32 characters');
  assert.ok(long.message.length < 100);
});

test('parseServerFrame reads every server frame type, and a joined without iceServers reads as an empty list', () => {
  const joined = { type: 'joined', room: 'lobby', id: 'a', members: ['b'], iceServers: [{ urls: ['turn:t'], username: 'u', credential: 'c' }], hellos: { b: 1 } };
  assert.deepEqual(parseServerFrame(text(joined)), joined);
  assert.deepEqual(parseServerFrame(text({ type: 'joined', room: 'lobby', id: 'a', members: [] })), { type: 'joined', room: 'lobby', id: 'a', members: [], iceServers: [] });
  assert.deepEqual(parseServerFrame(text({ type: 'member-joined', id: 'b', hello: { name: 'Bo' } })), { type: 'member-joined', id: 'b', hello: { name: 'Bo' } });
  assert.deepEqual(parseServerFrame(text({ type: 'member-joined', id: 'b' })), { type: 'member-joined', id: 'b' });
  assert.deepEqual(parseServerFrame(text({ type: 'member-left', id: 'b' })), { type: 'member-left', id: 'b' });
  assert.deepEqual(parseServerFrame(text({ type: 'signal', from: 'b', payload: null, to: 'ignored' })), { type: 'signal', from: 'b', payload: null });
  assert.deepEqual(parseServerFrame(text({ type: 'pong' })), { type: 'pong' });
  assert.deepEqual(parseServerFrame(text({ type: 'error', code: 'ROOM_FULL', message: 'full', re: 'join' })), { type: 'error', code: 'ROOM_FULL', message: 'full', re: 'join' });
  assert.deepEqual(parseServerFrame(text({ type: 'error', code: 'FUTURE_CODE', message: 'm', to: 'x' })), { type: 'error', code: 'FUTURE_CODE', message: 'm', to: 'x' });
});

test('parseServerFrame gives UNKNOWN_TYPE for a type from a newer server and BAD_FRAME or BAD_VERSION for the rest', () => {
  const cases = [
    ['binary data', new Uint8Array([123, 125]), 'BAD_FRAME', undefined],
    ['not JSON', '{', 'BAD_FRAME', undefined],
    ['an array', '[]', 'BAD_FRAME', undefined],
    ['version 2', JSON.stringify({ v: 2, type: 'pong' }), 'BAD_VERSION', 'pong'],
    ['no type', text({ id: 'a' }), 'BAD_FRAME', undefined],
    ['a newer type', text({ type: 'kick' }), 'UNKNOWN_TYPE', 'kick'],
    ['joined without a room', text({ type: 'joined', id: 'a', members: [] }), 'BAD_FRAME', 'joined'],
    ['joined without an id', text({ type: 'joined', room: 'r', members: [] }), 'BAD_FRAME', 'joined'],
    ['joined with numeric members', text({ type: 'joined', room: 'r', id: 'a', members: [1] }), 'BAD_FRAME', 'joined'],
    ['joined with iceServers not a list', text({ type: 'joined', room: 'r', id: 'a', members: [], iceServers: {} }), 'BAD_FRAME', 'joined'],
    ['joined with an ICE server without urls', text({ type: 'joined', room: 'r', id: 'a', members: [], iceServers: [{}] }), 'BAD_FRAME', 'joined'],
    ['joined with numeric urls', text({ type: 'joined', room: 'r', id: 'a', members: [], iceServers: [{ urls: [1] }] }), 'BAD_FRAME', 'joined'],
    ['joined with hellos a list', text({ type: 'joined', room: 'r', id: 'a', members: [], hellos: [] }), 'BAD_FRAME', 'joined'],
    ['member-joined without an id', text({ type: 'member-joined' }), 'BAD_FRAME', 'member-joined'],
    ['member-left with a numeric id', text({ type: 'member-left', id: 1 }), 'BAD_FRAME', 'member-left'],
    ['signal without from', text({ type: 'signal', payload: 1 }), 'BAD_FRAME', 'signal'],
    ['signal without payload', text({ type: 'signal', from: 'a' }), 'BAD_FRAME', 'signal'],
    ['error without a code', text({ type: 'error', message: 'm' }), 'BAD_FRAME', 'error'],
    ['error without a message', text({ type: 'error', code: 'X' }), 'BAD_FRAME', 'error'],
  ];
  for (const [what, input, code, re] of cases) refused(parseServerFrame(input), code, re, what);
});

test('errorFrame carries a refusal with re and to only when given, and round-trips through the client parser', () => {
  assert.deepEqual(errorFrame(new ProtocolError('RATE_LIMITED', 'slow down')), { type: 'error', code: 'RATE_LIMITED', message: 'slow down' });
  const frame = errorFrame(new ProtocolError('NO_SUCH_MEMBER', 'gone', 'signal'), 'bob');
  assert.deepEqual(frame, { type: 'error', code: 'NO_SUCH_MEMBER', message: 'gone', re: 'signal', to: 'bob' });
  assert.deepEqual(parseServerFrame(encodeFrame(frame)), frame);
});

test('every client frame the encoder writes, the server parser reads back unchanged', () => {
  const frames = [
    { type: 'join', room: 'lobby', token: 'tok', hello: { name: 'Ada', keys: [1, 2] } },
    { type: 'join', room: 'lobby' },
    { type: 'signal', to: 'b', payload: { kind: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' } } },
    { type: 'leave' },
    { type: 'ping' },
  ];
  for (const frame of frames) assert.deepEqual(parseClientFrame(encodeFrame(frame)), frame);
});
