// WebSocketTransport (compiled) against the real signaling server on 127.0.0.1. Build first:
// npx tsc -p . && npx tsc -p server/tsconfig.json
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { createRoomToken } from '../../server/dist/index.js';
import { WebSocketTransport } from '../../dist/signaling/transports/websocket.js';
import { HOST, freePort, startServer } from '../support/servers.mjs';
import { next, sleep } from '../support/wait.mjs';

const BOUNDED = { timeout: 15_000 };

function transport(t, url, options = {}) {
  const tr = new WebSocketTransport(url, { WebSocket, minDelayMs: 20, maxDelayMs: 200, ...options });
  const states = [];
  const errors = [];
  tr.on('state', (s) => states.push(s));
  tr.on('error', (e) => errors.push(e));
  t.after(() => tr.close());
  return Object.assign(tr, { states, errors });
}

/** A TCP relay in front of the server, to break connections the way networks do. */
async function startProxy(t, targetPort) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, HOST);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  const cut = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
  };
  t.after(() => {
    cut();
    server.close();
  });
  return {
    url: `ws://${HOST}:${server.address().port}`,
    cut,
    /** Current connections stay open but carry nothing more, like a dead NAT mapping. */
    freeze() {
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
  };
}

test('join() resolves with the server-assigned id, and messages flow between two transports', BOUNDED, async (t) => {
  const { url } = await startServer(t, { iceServers: [{ urls: 'stun:stun.example.test' }] });
  const alice = transport(t, url);
  const bob = transport(t, url);
  const joinedEvent = next(alice, 'joined');
  const a = await alice.join('lobby');
  assert.deepEqual(await joinedEvent, a);
  assert.deepEqual(a.members, []);
  assert.deepEqual(a.iceServers, [{ urls: 'stun:stun.example.test' }]);
  assert.deepEqual(alice.states, ['connecting', 'joined']);
  const arrived = next(alice, 'member-joined');
  const b = await bob.join('lobby');
  assert.deepEqual(b.members, [a.selfId]);
  assert.deepEqual(await arrived, [b.selfId, undefined]);
  const received = next(bob, 'message');
  alice.send(b.selfId, { kind: 'description', sdp: 'v=0' });
  assert.deepEqual(await received, [a.selfId, { kind: 'description', sdp: 'v=0' }]);
});

test('close() leaves the room, is idempotent and stops further use', BOUNDED, async (t) => {
  const { url } = await startServer(t);
  const alice = transport(t, url);
  const bob = transport(t, url);
  await alice.join('lobby');
  const b = await bob.join('lobby');
  const left = next(alice, 'member-left');
  await bob.close();
  await bob.close();
  assert.equal(await left, b.selfId);
  assert.equal(bob.state, 'closed');
  assert.deepEqual(bob.states, ['connecting', 'joined', 'closed']);
  assert.throws(() => bob.send('x', 1), { code: 'CLOSED' });
  await assert.rejects(bob.join('lobby'), { code: 'CLOSED' });
});

test('close() while reconnecting cancels the reconnect', BOUNDED, async (t) => {
  const { server, port, url } = await startServer(t);
  const tr = transport(t, url, { minDelayMs: 200, maxDelayMs: 200 });
  await tr.join('lobby');
  const reconnecting = next(tr, 'state', (s) => s === 'reconnecting');
  await server.close();
  await reconnecting;
  await tr.close();
  await startServer(t, {}, port);
  await sleep(400);
  assert.deepEqual(tr.states, ['connecting', 'joined', 'reconnecting', 'closed']);
});

test('misuse throws or rejects at once with BAD_ARGUMENT or UNSUPPORTED', BOUNDED, async (t) => {
  assert.throws(() => new WebSocketTransport([]), { code: 'BAD_ARGUMENT' });
  assert.throws(() => new WebSocketTransport('ws://127.0.0.1:1', { WebSocket, maxQueue: -1 }), { code: 'BAD_ARGUMENT' });
  assert.throws(() => new WebSocketTransport('ws://127.0.0.1:1', { WebSocket, minDelayMs: NaN }), { code: 'BAD_ARGUMENT' });
  assert.throws(() => new WebSocketTransport('ws://127.0.0.1:1'), { code: 'UNSUPPORTED' }, 'Node 20 has no global WebSocket');
  const tr = transport(t, 'ws://127.0.0.1:1');
  await assert.rejects(tr.join(''), { code: 'BAD_ARGUMENT' });
  assert.throws(() => tr.send('', 1), { code: 'BAD_ARGUMENT' });
  assert.throws(() => tr.send('id', undefined), { code: 'BAD_ARGUMENT' });
  assert.throws(() => tr.send('id', 10n), { code: 'BAD_ARGUMENT' });
});

test('after a server restart on the same port the transport reconnects and re-joins with a new id', BOUNDED, async (t) => {
  const { server, port, url } = await startServer(t);
  const alice = transport(t, url);
  const bob = transport(t, url);
  const a1 = await alice.join('lobby');
  const b1 = await bob.join('lobby');
  const rejoined = Promise.all([next(alice, 'joined'), next(bob, 'joined')]);
  await server.close();
  await startServer(t, {}, port);
  const [a2, b2] = await rejoined;
  assert.notEqual(a2.selfId, a1.selfId);
  assert.notEqual(b2.selfId, b1.selfId);
  assert.deepEqual(alice.states, ['connecting', 'joined', 'reconnecting', 'joined']);
  assert.deepEqual(alice.errors, [], 'a server restart is not an error');
  const [later, earlier] = a2.members.length === 1 ? [a2, b2] : [b2, a2];
  assert.deepEqual(later.members, [earlier.selfId], 'the full member list comes with the new joined');
  const received = next(bob, 'message');
  alice.send(b2.selfId, 'after restart');
  assert.deepEqual(await received, [a2.selfId, 'after restart']);
});

test('payloads sent while offline are queued and flushed after re-join, except to members who left', BOUNDED, async (t) => {
  const { url, port } = await startServer(t);
  const proxy = await startProxy(t, port);
  const alice = transport(t, proxy.url, { minDelayMs: 300, maxDelayMs: 300 });
  const bob = transport(t, url);
  await alice.join('lobby');
  const b = await bob.join('lobby');
  const reconnecting = next(alice, 'state', (s) => s === 'reconnecting');
  proxy.cut();
  await reconnecting;
  alice.send(b.selfId, 'queued 1');
  alice.send('someone-who-left', 'dropped');
  alice.send(b.selfId, 'queued 2');
  const messages = [];
  bob.on('message', (from, payload) => messages.push([from, payload]));
  const a2 = await next(alice, 'joined');
  await next(bob, 'message', () => messages.length === 2);
  assert.deepEqual(messages, [
    [a2.selfId, 'queued 1'],
    [a2.selfId, 'queued 2'],
  ]);
  assert.deepEqual(alice.errors, [], 'the payload for a member who left is dropped silently');
});

test('a full offline queue drops the newest payload with a TRANSPORT_ERROR error event', BOUNDED, async (t) => {
  const dead = `ws://${HOST}:${await freePort()}`;
  const tr = transport(t, dead, { maxQueue: 2 });
  tr.join('lobby').catch(() => {});
  tr.send('m', 1);
  tr.send('m', 2);
  tr.send('m', 3);
  assert.equal(tr.errors.length, 1);
  assert.equal(tr.errors[0].code, 'TRANSPORT_ERROR');
  assert.match(tr.errors[0].message, /queue full/);
});

test('a socket that stops carrying frames is detected by the heartbeat and replaced', BOUNDED, async (t) => {
  const { url, port } = await startServer(t, { pingIntervalMs: 200 });
  const proxy = await startProxy(t, port);
  const alice = transport(t, proxy.url, { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 150 });
  const bob = transport(t, url);
  const a1 = await alice.join('lobby');
  await bob.join('lobby');
  const rejoined = next(alice, 'joined');
  const oldGone = next(bob, 'member-left', (id) => id === a1.selfId);
  const started = Date.now();
  proxy.freeze();
  const a2 = await rejoined;
  assert.notEqual(a2.selfId, a1.selfId);
  assert.ok(Date.now() - started < 2000, 'detected within a few heartbeat periods');
  assert.deepEqual(alice.states.slice(-2), ['reconnecting', 'joined']);
  await oldGone;
});

test('with several URLs, join fails over to the next when the first cannot be reached', BOUNDED, async (t) => {
  const dead = `ws://${HOST}:${await freePort()}`;
  const { url } = await startServer(t);
  const tr = transport(t, [dead, url]);
  const joined = await tr.join('lobby');
  assert.equal(typeof joined.selfId, 'string');
  assert.deepEqual(tr.states, ['connecting', 'joined']);
});

test('when the server shuts down, the transport moves to the next URL and re-joins there', BOUNDED, async (t) => {
  const first = await startServer(t);
  const second = await startServer(t);
  const tr = transport(t, [first.url, second.url]);
  await tr.join('lobby');
  const rejoined = next(tr, 'joined');
  await first.server.close();
  const result = await rejoined;
  assert.equal(typeof result.selfId, 'string');
  const health = await (await fetch(`http://${HOST}:${second.port}/healthz`)).json();
  assert.equal(health.members, 1);
});

test('join() rejects with TRANSPORT_ERROR when no URL can be reached, and the transport closes', BOUNDED, async (t) => {
  const tr = transport(t, [`ws://${HOST}:${await freePort()}`, `ws://${HOST}:${await freePort()}`]);
  await assert.rejects(tr.join('lobby'), { code: 'TRANSPORT_ERROR' });
  assert.equal(tr.state, 'closed');
});

test('join() rejects with ROOM_FULL when the room is full', BOUNDED, async (t) => {
  const { url } = await startServer(t, { maxMembers: 1 });
  await transport(t, url).join('lobby');
  const late = transport(t, url);
  const error = await late.join('lobby').catch((e) => e);
  assert.equal(error.code, 'ROOM_FULL');
  assert.equal(error.cause.code, 'ROOM_FULL');
  assert.equal(late.state, 'closed');
});

test('join() rejects with UNAUTHORIZED without a valid token, and a token function supplies one', BOUNDED, async (t) => {
  const secret = 's3cret';
  const { url } = await startServer(t, { tokenSecret: secret });
  await assert.rejects(transport(t, url).join('lobby'), { code: 'UNAUTHORIZED' });
  await assert.rejects(transport(t, url, { token: createRoomToken(secret, 'other', 60) }).join('lobby'), { code: 'UNAUTHORIZED' });
  const rooms = [];
  const tr = transport(t, url, {
    token: async (room) => {
      rooms.push(room);
      return createRoomToken(secret, room, 60);
    },
  });
  await tr.join('lobby');
  assert.deepEqual(rooms, ['lobby']);
});

test('server refusals after join become error events (MESSAGE_TOO_LARGE, RATE_LIMITED); a payload for a member who left is dropped quietly', BOUNDED, async (t) => {
  const { url } = await startServer(t, { maxFrameBytes: 512, rate: 100, burst: 10 });
  const alice = transport(t, url);
  const bob = transport(t, url);
  await alice.join('lobby');
  const b = await bob.join('lobby');
  alice.send('no-such-member', 1);
  alice.send(b.selfId, 'x'.repeat(1000));
  assert.equal((await next(alice, 'error')).code, 'MESSAGE_TOO_LARGE');
  for (let i = 0; i < 20; i++) alice.send(b.selfId, i);
  assert.equal((await next(alice, 'error')).code, 'RATE_LIMITED');
  assert.equal(alice.state, 'joined');
});
