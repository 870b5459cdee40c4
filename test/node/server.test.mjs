// The signaling server over real sockets on 127.0.0.1. Build first:
// npx tsc -p . && npx tsc -p server/tsconfig.json
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { createRoomToken, createSignalingServer, turnCredentials } from '../../server/dist/index.js';
import { HOST, startServer } from '../support/servers.mjs';
import { startSignalCli } from '../support/signal-cli.mjs';
import { connect, joinAs } from '../support/signal-client.mjs';
import { sleep } from '../support/wait.mjs';

test('join answers with a server-assigned id, the members already present and the ICE servers', async (t) => {
  const iceServers = [{ urls: 'stun:stun.example.test:3478' }];
  const { url } = await startServer(t, { iceServers });
  const alice = await joinAs(t, url, 'lobby');
  assert.equal(alice.joined.v, 1);
  assert.equal(alice.joined.room, 'lobby');
  assert.match(alice.id, /^[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(alice.joined.members, []);
  assert.deepEqual(alice.joined.iceServers, iceServers);
  const bob = await joinAs(t, url, 'lobby', { id: alice.id });
  assert.notEqual(bob.id, alice.id, 'a client-supplied id is ignored');
  assert.deepEqual(bob.joined.members, [alice.id]);
});

test('a member that joins is announced to the others with its hello, and joiners learn earlier hellos', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby', { hello: { name: 'alice' } });
  const bob = await joinAs(t, url, 'lobby', { hello: { name: 'bob' } });
  assert.deepEqual(await alice.next('member-joined'), { v: 1, type: 'member-joined', id: bob.id, hello: { name: 'bob' } });
  assert.deepEqual(bob.joined.hellos, { [alice.id]: { name: 'alice' } });
});

test('an iceServers function is called per member with its id and room', async (t) => {
  const seen = [];
  const { url } = await startServer(t, {
    iceServers: async (context) => {
      seen.push(context);
      return [{ urls: 'turn:turn.example.test', username: context.id, credential: 'x' }];
    },
  });
  const alice = await joinAs(t, url, 'r1');
  assert.deepEqual(seen, [{ id: alice.id, room: 'r1' }]);
  assert.equal(alice.joined.iceServers[0].username, alice.id);
});

test('with turn configured, joined carries a coturn REST credential per member after the static servers', async (t) => {
  const secret = 'coturn-shared-secret';
  const iceServers = [{ urls: 'stun:stun.example.test:3478' }];
  const urls = ['turn:turn.example.test:3478?transport=udp', 'turns:turn.example.test:5349'];
  const { url } = await startServer(t, { iceServers, turn: { secret, urls, ttlSeconds: 600 } });
  const before = Math.floor(Date.now() / 1000);
  const alice = await joinAs(t, url, 'lobby');
  const after = Math.floor(Date.now() / 1000);
  const [stun, turn, ...rest] = alice.joined.iceServers;
  assert.deepEqual(stun, iceServers[0]);
  assert.deepEqual(rest, []);
  assert.deepEqual(turn.urls, urls);
  const [expiry, user] = turn.username.split(':');
  assert.equal(user, alice.id, 'the TURN user is the member id');
  assert.ok(Number(expiry) >= before + 600 && Number(expiry) <= after + 600, `expiry ${expiry} is now + 600 s`);
  // Computed by hand, as coturn does: base64(HMAC-SHA1(static-auth-secret, username)).
  assert.equal(turn.credential, createHmac('sha1', secret).update(turn.username).digest('base64'));
  const bob = await joinAs(t, url, 'lobby');
  assert.notEqual(bob.joined.iceServers[1].credential, turn.credential, 'each member gets its own');
});

test('turnCredentials matches a known vector and defaults to a day', () => {
  const fixed = turnCredentials({ secret: 'north', urls: ['turn:127.0.0.1:3478'] }, 'alice', 1_700_000_000.7);
  assert.deepEqual(fixed, {
    urls: ['turn:127.0.0.1:3478'],
    username: '1700086400:alice',
    credential: createHmac('sha1', 'north').update('1700086400:alice').digest('base64'),
  });
  // From `printf '%s' 1700086400:alice | openssl dgst -sha1 -hmac north -binary | base64`.
  assert.equal(fixed.credential, 'SXua5ne/+mDhiHTp0pQJzRO4ESg=');
});

test('a turn option with no secret, no URLs or a bad ttl is refused at once', () => {
  const ok = { secret: 's', urls: ['turn:127.0.0.1:3478'] };
  for (const turn of [{ ...ok, secret: '' }, { ...ok, urls: [] }, { ...ok, urls: ['stun:127.0.0.1'] }, { ...ok, ttlSeconds: 0 }]) {
    assert.throws(() => createSignalingServer({ turn, logger: false }), TypeError, JSON.stringify(turn));
  }
});

test('the turn credential is added to what an iceServers function returns', async (t) => {
  const { url } = await startServer(t, {
    iceServers: ({ room }) => [{ urls: `stun:${room}.example.test` }],
    turn: { secret: 's', urls: ['turn:127.0.0.1:3478'] },
  });
  const alice = await joinAs(t, url, 'r1');
  assert.deepEqual(alice.joined.iceServers.map((s) => s.urls), ['stun:r1.example.test', ['turn:127.0.0.1:3478']]);
  const expiry = Number(alice.joined.iceServers[1].username.split(':')[0]);
  assert.ok(Math.abs(expiry - (Date.now() / 1000 + 86_400)) < 5, 'a day by default');
});

test('a failing iceServers function answers the join with INTERNAL and the server carries on', async (t) => {
  const { url } = await startServer(t, {
    iceServers: ({ room }) => {
      if (room === 'broken') throw new Error('TURN credential service down');
      return [];
    },
  });
  const client = await connect(t, url);
  client.send({ v: 1, type: 'join', room: 'broken' });
  const error = await client.next('error');
  assert.deepEqual([error.code, error.re], ['INTERNAL', 'join']);
  assert.ok(!error.message.includes('TURN'), 'internal details stay in the logs');
  client.send({ v: 1, type: 'join', room: 'fine' });
  await client.next('joined');
});

test('a signal is relayed to its recipient with the sender id as from', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: { sdp: 'offer', n: [1, 2] } });
  assert.deepEqual(await bob.next('signal'), { v: 1, type: 'signal', from: alice.id, payload: { sdp: 'offer', n: [1, 2] } });
});

test('a signal with a forged from is relayed with the real sender id', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  const carol = await joinAs(t, url, 'lobby');
  carol.send({ v: 1, type: 'signal', to: bob.id, from: alice.id, payload: 'trust me' });
  const relayed = await bob.next('signal');
  assert.equal(relayed.from, carol.id);
});

test('signals never cross rooms: a member of another room is NO_SUCH_MEMBER', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'room-a');
  const bob = await joinAs(t, url, 'room-b');
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'hi' });
  assert.deepEqual(await alice.next('error'), {
    v: 1,
    type: 'error',
    code: 'NO_SUCH_MEMBER',
    message: 'no member with that id in this room',
    re: 'signal',
    to: bob.id,
  });
  await sleep(50);
  assert.deepEqual(bob.frames, [], 'nothing from room-a reaches room-b, not even member-joined');
});

test('a signal to oneself is NO_SUCH_MEMBER', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  alice.send({ v: 1, type: 'signal', to: alice.id, payload: 1 });
  assert.equal((await alice.next('error')).code, 'NO_SUCH_MEMBER');
});

test('leave announces member-left, and the same connection can join again with a new id', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  bob.send({ v: 1, type: 'leave' });
  assert.deepEqual(await alice.next('member-left'), { v: 1, type: 'member-left', id: bob.id });
  bob.send({ v: 1, type: 'join', room: 'lobby' });
  const again = await bob.next('joined');
  assert.notEqual(again.id, bob.id);
  assert.deepEqual(again.members, [alice.id]);
});

test('a closed socket is announced with member-left', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  bob.ws.close();
  assert.equal((await alice.next('member-left')).id, bob.id);
});

test('signal before join, leave before join and join twice are refused with stable codes', async (t) => {
  const { url } = await startServer(t);
  const client = await connect(t, url);
  client.send({ v: 1, type: 'signal', to: 'someone', payload: 1 });
  assert.equal((await client.next('error')).code, 'NOT_JOINED');
  client.send({ v: 1, type: 'leave' });
  assert.equal((await client.next('error')).code, 'NOT_JOINED');
  client.send({ v: 1, type: 'join', room: 'lobby' });
  await client.next('joined');
  client.send({ v: 1, type: 'join', room: 'other' });
  const error = await client.next('error');
  assert.equal(error.code, 'ALREADY_JOINED');
  assert.equal(error.re, 'join');
});

test('ping is answered with pong', async (t) => {
  const { url } = await startServer(t);
  const client = await connect(t, url);
  client.send({ v: 1, type: 'ping' });
  assert.deepEqual(await client.next('pong'), { v: 1, type: 'pong' });
});

test('malformed frames are answered with an error frame and do not disturb other members', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  await alice.next('member-joined');
  const cases = [
    ['not json {', 'BAD_FRAME'],
    ['[1,2]', 'BAD_FRAME'],
    ['null', 'BAD_FRAME'],
    ['"join"', 'BAD_FRAME'],
    [{ type: 'join', room: 'lobby' }, 'BAD_VERSION'],
    [{ v: 2, type: 'join', room: 'lobby' }, 'BAD_VERSION'],
    [{ v: '1', type: 'ping' }, 'BAD_VERSION'],
    [{ v: 1 }, 'BAD_FRAME'],
    [{ v: 1, type: 42 }, 'BAD_FRAME'],
    [{ v: 1, type: 'dance' }, 'UNKNOWN_TYPE'],
    [{ v: 1, type: 'join', room: 7 }, 'BAD_FRAME'],
    [{ v: 1, type: 'join', room: '' }, 'BAD_FRAME'],
    [{ v: 1, type: 'join', room: 'x'.repeat(257) }, 'BAD_FRAME'],
    [{ v: 1, type: 'join', room: 'lobby', token: 5 }, 'BAD_FRAME'],
    [{ v: 1, type: 'signal', to: alice.id }, 'BAD_FRAME'],
    [{ v: 1, type: 'signal', to: ['x'], payload: 1 }, 'BAD_FRAME'],
    [Buffer.from('{"v":1,"type":"ping"}'), 'BAD_FRAME'],
  ];
  for (const [frame, code] of cases) {
    bob.send(frame);
    const error = await bob.next('error');
    assert.equal(error.code, code, `for ${JSON.stringify(frame)}`);
    assert.equal(typeof error.message, 'string');
  }
  bob.send({ v: 1, type: 'signal', to: alice.id, payload: 'still here' });
  assert.equal((await alice.next('signal')).payload, 'still here');
  assert.deepEqual(alice.frames, [], 'alice saw none of it');
});

test('a frame over maxFrameBytes is refused with FRAME_TOO_LARGE and the connection stays usable', async (t) => {
  const { url } = await startServer(t, { maxFrameBytes: 1024 });
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  bob.send({ v: 1, type: 'signal', to: alice.id, payload: 'x'.repeat(2000) });
  assert.equal((await bob.next('error')).code, 'FRAME_TOO_LARGE');
  bob.send({ v: 1, type: 'signal', to: alice.id, payload: 'small' });
  assert.equal((await alice.next('signal')).payload, 'small');
});

test('a huge frame closes only its own connection with 1009', async (t) => {
  const { url } = await startServer(t, { maxFrameBytes: 1024 });
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  bob.send('x'.repeat(1024 * 1024));
  assert.equal((await bob.closed).code, 1009);
  assert.equal((await alice.next('member-left')).id, bob.id);
  alice.send({ v: 1, type: 'ping' });
  await alice.next('pong');
});

test('a room refuses members beyond maxMembers with ROOM_FULL', async (t) => {
  const { url } = await startServer(t, { maxMembers: 2 });
  await joinAs(t, url, 'small');
  await joinAs(t, url, 'small');
  const third = await connect(t, url);
  third.send({ v: 1, type: 'join', room: 'small' });
  const error = await third.next('error');
  assert.equal(error.code, 'ROOM_FULL');
  assert.equal(error.re, 'join');
  third.send({ v: 1, type: 'join', room: 'elsewhere' });
  await third.next('joined');
});

test('a flood gets one RATE_LIMITED error frame, then the socket is closed with 1008', async (t) => {
  const { url } = await startServer(t, { rate: 5, burst: 5 });
  const client = await connect(t, url);
  for (let i = 0; i < 30; i++) client.send({ v: 1, type: 'ping' });
  const { code } = await client.closed;
  assert.equal(code, 1008);
  const kinds = client.frames.map((f) => f.type === 'error' ? f.code : f.type);
  assert.deepEqual(kinds, ['pong', 'pong', 'pong', 'pong', 'pong', 'RATE_LIMITED']);
});

test('a client within the rate is never limited', async (t) => {
  const { url } = await startServer(t, { rate: 50, burst: 5 });
  const client = await connect(t, url);
  for (let i = 0; i < 10; i++) {
    client.send({ v: 1, type: 'ping' });
    await client.next('pong');
    await sleep(25);
  }
  assert.deepEqual(client.frames, []);
});

test('with a token secret, join needs a valid token for that room', async (t) => {
  const secret = 'test-secret';
  const { url } = await startServer(t, { tokenSecret: secret });
  const sign = (claims, key = secret) => {
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
  };
  const now = Math.floor(Date.now() / 1000);
  const refused = [
    [undefined, 'this server needs a room token'],
    [sign({ room: 'lobby', exp: now - 1 }), 'token expired'],
    [sign({ room: 'other', exp: now + 60 }), 'token is for another room'],
    [sign({ room: 'lobby', exp: now + 60 }, 'wrong-secret'), 'bad token signature'],
    ['no-dot', 'malformed token'],
    [sign({ room: 'lobby' }), 'malformed token'],
  ];
  const client = await connect(t, url);
  for (const [token, message] of refused) {
    client.send({ v: 1, type: 'join', room: 'lobby', ...(token === undefined ? {} : { token }) });
    const error = await client.next('error');
    assert.deepEqual([error.code, error.message, error.re], ['UNAUTHORIZED', message, 'join']);
  }
  client.send({ v: 1, type: 'join', room: 'lobby', token: createRoomToken(secret, 'lobby', 60, 'user-1') });
  await client.next('joined');
  const other = await connect(t, url);
  other.send({ v: 1, type: 'join', room: 'lobby', token: sign({ room: 'lobby', exp: now + 60 }) });
  await other.next('joined');
});

test('with origins configured, other origins and missing origins are refused with 403', async (t) => {
  const { url } = await startServer(t, { origins: ['https://app.example.test'] });
  const allowed = await connect(t, url, { origin: 'https://app.example.test' });
  allowed.send({ v: 1, type: 'ping' });
  await allowed.next('pong');
  for (const headers of [{ origin: 'https://evil.example.test' }, {}]) {
    const ws = new WebSocket(url, headers);
    const [, response] = await once(ws, 'unexpected-response');
    assert.equal(response.statusCode, 403);
    response.destroy();
  }
});

test('a client that stops answering pings is dropped and announced with member-left', async (t) => {
  const { url } = await startServer(t, { pingIntervalMs: 50 });
  const alive = await joinAs(t, url, 'lobby');
  const dead = await connect(t, url, { autoPong: false });
  dead.send({ v: 1, type: 'join', room: 'lobby' });
  const { id } = await dead.next('joined');
  assert.equal((await alive.next('member-joined')).id, id);
  assert.equal((await alive.next('member-left', 3000)).id, id);
  assert.equal((await dead.closed).code, 1006);
  await sleep(200);
  assert.equal(alive.ws.readyState, WebSocket.OPEN, 'a client that answers pings stays');
});

test('close() tells every client SHUTTING_DOWN, closes with 1012 and refuses new connections', async (t) => {
  const { server, url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  await alice.next('member-joined');
  const closing = server.close();
  for (const client of [alice, bob]) {
    assert.equal((await client.next('error')).code, 'SHUTTING_DOWN');
    assert.equal((await client.closed).code, 1012);
  }
  await closing;
  await server.close();
  assert.deepEqual(alice.frames, [], 'no member-left storm during shutdown');
  const late = new WebSocket(url);
  const [error] = await once(late, 'error');
  assert.equal(error.code, 'ECONNREFUSED');
});

test('GET /healthz answers 200 JSON with live counts', async (t) => {
  const { url, port } = await startServer(t);
  await joinAs(t, url, 'a');
  await joinAs(t, url, 'a');
  await joinAs(t, url, 'b');
  const res = await fetch(`http://${HOST}:${port}/healthz`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.deepEqual(await res.json(), { status: 'ok', connections: 3, rooms: 2, members: 3 });
  assert.equal((await fetch(`http://${HOST}:${port}/nope`)).status, 404);
  assert.equal((await fetch(`http://${HOST}:${port}/healthz`, { method: 'POST' })).status, 405);
});

test('GET /metrics exposes connections, rooms, members, relayed and refused frames and bytes', async (t) => {
  const { url, port } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'x' });
  await bob.next('signal');
  alice.send('garbage');
  await alice.next('error');
  const res = await fetch(`http://${HOST}:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  for (const line of [
    'peerkit_connections 2',
    'peerkit_connections_total 2',
    'peerkit_rooms 1',
    'peerkit_members 2',
    'peerkit_frames_received_total 4',
    'peerkit_frames_relayed_total 1',
    'peerkit_frames_refused_total{reason="BAD_FRAME"} 1',
    '# TYPE peerkit_sent_bytes_total counter',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing "${line}" in\n${text}`);
  }
  assert.match(text, /^peerkit_received_bytes_total [1-9]\d*$/m);
});

test('createSignalingServer refuses nonsense options at once', () => {
  assert.throws(() => createSignalingServer({ rate: 0, logger: false }), TypeError);
  assert.throws(() => createSignalingServer({ maxMembers: -1, logger: false }), TypeError);
  assert.throws(() => createSignalingServer({ tokenSecret: '', logger: false }), TypeError);
  assert.throws(() => createRoomToken('s', 'room', 0), TypeError);
});

test('the logger receives one structured entry per event and never a payload', async (t) => {
  const entries = [];
  const { url } = await startServer(t, { logger: (entry) => entries.push(entry) });
  const alice = await joinAs(t, url, 'lobby');
  const bob = await joinAs(t, url, 'lobby');
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'secret-sdp' });
  await bob.next('signal');
  const join = entries.find((e) => e.event === 'join');
  assert.equal(join.level, 'info');
  assert.equal(typeof join.time, 'string');
  assert.equal(join.room, 'lobby');
  assert.ok(!JSON.stringify(entries).includes('secret-sdp'));
});

test('the peerkit-signal CLI listens on 127.0.0.1, logs JSON lines and exits 0 on SIGTERM', { timeout: 10_000 }, async (t) => {
  const { child, listening: started } = startSignalCli(['--port', '0', '--max-members', '3', '--drain-ms', '0']);
  t.after(() => child.kill('SIGKILL'));
  const listening = await started;
  assert.equal(listening.host, '127.0.0.1');
  const res = await fetch(`http://${HOST}:${listening.port}/healthz`);
  assert.equal((await res.json()).status, 'ok');
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
});

test('the peerkit-signal CLI refuses a bad flag with exit code 2 and the usage text', { timeout: 10_000 }, async () => {
  const cli = new URL('../../server/dist/cli.js', import.meta.url);
  const child = spawn(process.execPath, [cli.pathname, '--rate', 'fast'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(stderr, /--rate must be a non-negative integer/);
  assert.match(stderr, /Usage: peerkit-signal/);
});

test('the peerkit-signal CLI hands out TURN credentials with --turn-secret and --turn-urls', { timeout: 10_000 }, async (t) => {
  const args = ['--port', '0', '--turn-secret', 'cli-secret', '--turn-urls', 'turn:127.0.0.1:3478, turn:127.0.0.1:3479', '--turn-ttl', '60'];
  const { child, listening: started } = startSignalCli(args);
  t.after(() => child.kill('SIGKILL'));
  const listening = await started;
  const alice = await joinAs(t, `ws://${HOST}:${listening.port}`, 'lobby');
  const [turn] = alice.joined.iceServers;
  assert.deepEqual(turn.urls, ['turn:127.0.0.1:3478', 'turn:127.0.0.1:3479']);
  assert.ok(Math.abs(Number(turn.username.split(':')[0]) - (Date.now() / 1000 + 60)) < 5);
  assert.equal(turn.credential, createHmac('sha1', 'cli-secret').update(turn.username).digest('base64'));
});

test('the peerkit-signal CLI refuses --turn-urls without --turn-secret', { timeout: 10_000 }, async () => {
  const cli = new URL('../../server/dist/cli.js', import.meta.url);
  const child = spawn(process.execPath, [cli.pathname, '--turn-urls', 'turn:127.0.0.1:3478'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PEERKIT_TURN_SECRET: '' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(stderr, /--turn-urls and --turn-secret go together/);
});
