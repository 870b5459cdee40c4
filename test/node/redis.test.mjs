// Several signaling servers sharing rooms through a real redis-server (Debian's), started here on
// 127.0.0.1 at a free port with no persistence. Build first: npm run build.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { LUA_FORMATS, decodeEvent, decodeHeld, decodeMember, encodeHeld } from '../../server/dist/redis-codec.js';
import { keyNames } from '../../server/dist/redis-keys.js';
import { createSignalingServer } from '../../server/dist/index.js';
import { WebSocketTransport } from '../../dist/signaling/transports/websocket.js';
import { redisCli, redisMissing, startRedis } from '../../scripts/redis.mjs';
import { roomName as freshRoom } from '../support/names.mjs';
import { GONE_MS } from '../support/redis-scenario.mjs';
import { HOST, startServer as startSignaling } from '../support/servers.mjs';
import { startSignalCli } from '../support/signal-cli.mjs';
import { connect, joinAs } from '../support/signal-client.mjs';
import { sleep, until } from '../support/wait.mjs';

const missing = redisMissing();
if (missing) console.log(`# skipping the Redis tests: ${missing}`);
const withRedis = { skip: missing ?? false, timeout: 30_000 };

let redis;
before(async () => {
  if (!missing) redis = await startRedis();
});
after(() => redis?.stop());

/** A signaling server in this process, sharing rooms through the test's Redis. */
const startServer = (t, options = {}) => startSignaling(t, { redis: redis.url, ...options });

/** A peerkit-signal CLI in its own process, so that it can be killed with SIGKILL. */
async function startChild(t, args = []) {
  const { child, listening } = startSignalCli(['--port', '0', '--redis', redis.url, ...args]);
  t.after(() => child.kill('SIGKILL'));
  return { child, url: `ws://${HOST}:${(await listening).port}` };
}

/** Joins `room` at `url`, again and again while the instance refuses joins (it re-registers). */
async function joinOnceServing(t, url, room) {
  for (let i = 0; i < 50; i++) {
    const client = await connect(t, url);
    client.send({ v: 1, type: 'join', room });
    const frame = await client.next();
    if (frame.type === 'joined') return { ...client, joined: frame, id: frame.id };
    await sleep(100);
  }
  assert.fail(`no join at ${url} succeeded within 5 s`);
}

test('Redis options are checked when the server is created, not at the first join', () => {
  const bad = [
    'http://127.0.0.1',
    'not a url',
    'redis://127.0.0.1/zero',
    { sentinels: ['127.0.0.1:26379'] },
    { master: 'm' },
    { sentinels: ['127.0.0.1:26379'], master: 'm', cluster: ['127.0.0.1:7000'] },
    { cluster: [] },
    { cluster: ['127.0.0.1:x'] },
    { url: 'redis://127.0.0.1', commandTimeoutMs: 0 },
    {},
  ];
  for (const redis of bad) assert.throws(() => createSignalingServer({ redis, logger: false }), TypeError, JSON.stringify(redis));
  for (const redis of ['rediss://u:p%40ss@[::1]/2', { sentinels: ['a:1', '[::1]:2', { host: 'b', port: 3 }], master: 'm' }, { cluster: ['c', 'd:7001'], url: 'redis://:pw@x' }]) {
    createSignalingServer({ redis, logger: false });
  }
});

test('listen() rejects with a clear error when Redis cannot be reached', withRedis, async () => {
  const server = createSignalingServer({ logger: false, redis: 'redis://127.0.0.1:1' });
  await assert.rejects(server.listen(0, HOST), /cannot connect to Redis at 127\.0\.0\.1:1/);
});

test('members on two instances meet with their hellos, relay signals both ways and see each other leave', withRedis, async (t) => {
  const [one, two] = [await startServer(t), await startServer(t)];
  const room = freshRoom();
  const alice = await joinAs(t, one.url, room, { hello: { name: 'alice' } });
  const bob = await joinAs(t, two.url, room, { hello: { name: 'bob' } });
  assert.deepEqual(bob.joined.members, [alice.id]);
  assert.deepEqual(bob.joined.hellos, { [alice.id]: { name: 'alice' } });
  assert.deepEqual(await alice.next('member-joined'), { v: 1, type: 'member-joined', id: bob.id, hello: { name: 'bob' } });
  const carol = await joinAs(t, one.url, room);
  assert.deepEqual(carol.joined.members, [alice.id, bob.id], 'in joining order, across instances');
  assert.equal((await bob.next('member-joined')).id, carol.id);
  assert.equal((await alice.next('member-joined')).id, carol.id);

  alice.send({ v: 1, type: 'signal', to: bob.id, payload: { sdp: 'offer' } });
  assert.deepEqual(await bob.next('signal'), { v: 1, type: 'signal', from: alice.id, payload: { sdp: 'offer' } });
  bob.send({ v: 1, type: 'signal', to: alice.id, from: carol.id, payload: 'answer' });
  assert.deepEqual(await alice.next('signal'), { v: 1, type: 'signal', from: bob.id, payload: 'answer' }, 'from is stamped');
  carol.send({ v: 1, type: 'signal', to: alice.id, payload: 'local' });
  assert.equal((await alice.next('signal')).from, carol.id);

  bob.send({ v: 1, type: 'leave' });
  assert.deepEqual(await alice.next('member-left'), { v: 1, type: 'member-left', id: bob.id });
  assert.equal((await carol.next('member-left')).id, bob.id);
  alice.ws.close();
  assert.equal((await carol.next('member-left')).id, alice.id);
  await sleep(50);
  assert.deepEqual([...alice.frames, ...bob.frames, ...carol.frames], [], 'no frame twice, none extra');
});

test('a joiner that signals at once is always announced first, on its own instance and on others', withRedis, async (t) => {
  const [one, two] = [await startServer(t), await startServer(t)];
  for (let i = 0; i < 20; i++) {
    const room = freshRoom();
    const here = await joinAs(t, one.url, room);
    const there = await joinAs(t, two.url, room);
    await here.next('member-joined');
    const joiner = await connect(t, i % 2 ? one.url : two.url);
    joiner.send({ v: 1, type: 'join', room });
    const { id } = await joiner.next('joined');
    joiner.send({ v: 1, type: 'signal', to: here.id, payload: i });
    joiner.send({ v: 1, type: 'signal', to: there.id, payload: i });
    for (const member of [here, there]) {
      assert.equal((await member.next()).type, 'member-joined', `round ${i}`);
      assert.deepEqual(await member.next(), { v: 1, type: 'signal', from: id, payload: i });
    }
  }
});

test('signals never cross rooms across instances: NO_SUCH_MEMBER', withRedis, async (t) => {
  const [one, two] = [await startServer(t), await startServer(t)];
  const alice = await joinAs(t, one.url, freshRoom());
  const bob = await joinAs(t, two.url, freshRoom());
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'hi' });
  const error = await alice.next('error');
  assert.deepEqual([error.code, error.to], ['NO_SUCH_MEMBER', bob.id]);
  await sleep(50);
  assert.deepEqual(bob.frames, []);
});

test('instances with different prefixes on one Redis keep their rooms apart; a bad prefix is refused', withRedis, async (t) => {
  const [one, two, twin] = [await startServer(t, { redisPrefix: 'one:' }), await startServer(t, { redisPrefix: 'two:' }), await startChild(t, ['--redis-prefix', 'two:'])];
  const room = freshRoom();
  await joinAs(t, one.url, room);
  const bob = await joinAs(t, two.url, room);
  assert.deepEqual(bob.joined.members, [], 'a room of the same name in another deployment is another room');
  const carol = await joinAs(t, twin.url, room);
  assert.deepEqual(carol.joined.members, [bob.id], 'instances with the same prefix share rooms');
  for (const bad of ['', 'a{b}:', 'x}', 'y{']) assert.throws(() => createSignalingServer({ redis: redis.url, redisPrefix: bad, logger: false }), TypeError, bad);
});

/** A raw connection to the shared test Redis, closed when test `t` ends. */
function rawRedis(t, url = redis.url) {
  const connection = new Redis(url);
  t.after(() => connection.disconnect());
  return connection;
}

test('the scripts write events, member values and held entries that the TypeScript side reads back', withRedis, async (t) => {
  const connection = rawRedis(t);
  const hello = JSON.stringify({ name: 'a\nb' });
  const room = 'room\nwith a newline';
  const script = `${LUA_FORMATS}
return {join_event(7, 'inst', 'm1', ARGV[1]), leave_event(8, 'inst', 'm1'), member_value(9, 'inst', ARGV[1]), member_value(10, 'inst', '')}`;
  const [joined, left, withHello, without] = await connection.eval(script, 0, hello);
  assert.deepEqual(decodeEvent(joined), { kind: 'join', seq: 7, instance: 'inst', id: 'm1', frame: hello });
  assert.deepEqual(decodeEvent(left), { kind: 'leave', seq: 8, instance: 'inst', id: 'm1', frame: '' });
  assert.deepEqual(decodeMember('m1', withHello), { seq: 9, instance: 'inst', info: { id: 'm1', hello: { name: 'a\nb' } } });
  assert.deepEqual(decodeMember('m1', without), { seq: 10, instance: 'inst', info: { id: 'm1' } });
  assert.deepEqual(decodeHeld(encodeHeld('m1', room)), { id: 'm1', room });
  assert.equal(decodeHeld('no separator'), undefined);
  assert.equal(decodeEvent('X\n1\ninst\nm1'), undefined, 'an unknown kind is ignored');
});

test('every key and channel of one room, and of one instance, hashes to one Redis Cluster slot', withRedis, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'peerkit-cluster-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A cluster node with no slots serves no data, but computes slots as every cluster node does.
  const node = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir] });
  t.after(() => node.stop());
  const cluster = rawRedis(t, node.url);
  const slot = (name) => cluster.call('CLUSTER', 'KEYSLOT', name);

  const prefix = `slots-${process.pid}:`;
  const server = await startServer(t, { redisPrefix: prefix });
  const rooms = ['lobby', 'a}b', '{x}', '}', '{', 'with space'];
  for (const room of rooms) await joinAs(t, server.url, room);
  const shared = rawRedis(t);
  const stored = (await shared.call('KEYS', `${prefix}*`)).sort();
  const names = keyNames(prefix);
  const [instance] = await shared.call('SMEMBERS', names.instances);
  const expected = [names.instances, names.of(instance, 'alive'), names.of(instance, 'held')];
  for (const room of rooms) expected.push(names.of(room, 'members'), names.of(room, 'seq'));
  assert.deepEqual(stored, expected.sort(), 'the store writes the keys keyNames() names, and no others');

  const slots = new Set();
  const tags = [...rooms.map((room) => [room, ['members', 'seq', 'events']]), [instance, ['held', 'alive', 'signals']]];
  for (const [tag, kinds] of tags) {
    const ofTag = new Set(await Promise.all(kinds.map((kind) => slot(names.of(tag, kind)))));
    assert.equal(ofTag.size, 1, `one slot for ${JSON.stringify(tag)}`);
    slots.add([...ofTag][0]);
  }
  assert.ok(slots.size > rooms.length / 2, 'rooms spread over slots');
});

test('a room keeps its event counter while it has members and for a day after the last one leaves', withRedis, async (t) => {
  const prefix = `seq-${process.pid}:`;
  const server = await startServer(t, { redisPrefix: prefix });
  const shared = rawRedis(t);
  const seq = keyNames(prefix).of('r', 'seq');
  const alice = await joinAs(t, server.url, 'r');
  assert.equal(await shared.call('PTTL', seq), -1);
  alice.send({ v: 1, type: 'leave' });
  let ttl = -1;
  for (let i = 0; i < 50 && ttl === -1; i++) {
    ttl = await shared.call('PTTL', seq);
    if (ttl === -1) await sleep(20);
  }
  assert.ok(ttl > 86_000_000 && ttl <= 86_400_000, `${ttl} ms`);
  assert.equal(await shared.call('GET', seq), '2');
  await joinAs(t, server.url, 'r');
  assert.equal(await shared.call('PTTL', seq), -1, 'a join keeps it again');
  assert.equal(await shared.call('GET', seq), '3', 'and counts on');
});

test('the member cap holds across instances', withRedis, async (t) => {
  const [one, two] = [await startServer(t, { maxMembers: 2 }), await startServer(t, { maxMembers: 2 })];
  const room = freshRoom();
  const alice = await joinAs(t, one.url, room);
  await joinAs(t, two.url, room);
  for (const url of [one.url, two.url]) {
    const late = await connect(t, url);
    late.send({ v: 1, type: 'join', room });
    const error = await late.next('error');
    assert.deepEqual([error.code, error.re], ['ROOM_FULL', 'join']);
  }
  const joins = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const client = await connect(t, i % 2 ? one.url : two.url);
      client.send({ v: 1, type: 'join', room: `${room}-race` });
      return client.next();
    }),
  );
  assert.equal(joins.filter((f) => f.type === 'joined').length, 2, 'six racing joins on two instances: two get in');
  alice.send({ v: 1, type: 'leave' });
  const again = await joinAs(t, two.url, room);
  assert.equal(again.joined.members.length, 1);
});

test('when an instance is killed, its members are reported gone to the others within seconds', withRedis, async (t) => {
  const survivor = await startServer(t);
  const doomed = await startChild(t);
  const room = freshRoom();
  const alice = await joinAs(t, survivor.url, room);
  const bob = await joinAs(t, doomed.url, room);
  const carol = await joinAs(t, doomed.url, room);
  await alice.next('member-joined');
  await alice.next('member-joined');
  const killedAt = Date.now();
  doomed.child.kill('SIGKILL');
  const gone = [(await alice.next('member-left', 10_000)).id, (await alice.next('member-left', 10_000)).id];
  const seconds = (Date.now() - killedAt) / 1000;
  console.log(`# members of a killed instance reported gone after ${seconds.toFixed(1)} s`);
  assert.deepEqual(gone.sort(), [bob.id, carol.id].sort());
  assert.ok(seconds * 1000 < GONE_MS, `${seconds} s`);
  const dave = await joinAs(t, survivor.url, room);
  assert.deepEqual(dave.joined.members, [alice.id], 'the room holds only the living');
});

test('WebSocketTransport given both URLs fails over to the survivor and re-joins when its instance dies', withRedis, async (t) => {
  const survivor = await startServer(t);
  const doomed = await startChild(t);
  const room = freshRoom();
  const alice = await joinAs(t, survivor.url, room);
  const transport = new WebSocketTransport([doomed.url, survivor.url], { WebSocket, minDelayMs: 20, maxDelayMs: 200 });
  t.after(() => transport.close());
  const first = await transport.join(room);
  assert.deepEqual(first.members, [alice.id]);
  assert.equal((await alice.next('member-joined')).id, first.selfId);

  const rejoined = new Promise((resolve) => transport.once('joined', resolve));
  doomed.child.kill('SIGKILL');
  const second = await rejoined;
  assert.notEqual(second.selfId, first.selfId, 'a new id after the re-join');
  assert.deepEqual(second.members, [alice.id]);
  assert.equal((await alice.next('member-joined', 5000)).id, second.selfId);
  assert.equal((await alice.next('member-left', 10_000)).id, first.selfId, 'the old id is reported gone');

  const got = new Promise((resolve) => transport.once('message', (from, payload) => resolve({ from, payload })));
  alice.send({ v: 1, type: 'signal', to: second.selfId, payload: 'still there?' });
  assert.deepEqual(await got, { from: alice.id, payload: 'still there?' });
  transport.send(alice.id, 'yes');
  assert.deepEqual(await alice.next('signal'), { v: 1, type: 'signal', from: second.selfId, payload: 'yes' });
});

test('an instance that loses Redis closes its connections with 1012 and serves again once Redis is back', withRedis, async (t) => {
  const own = await startRedis();
  t.after(() => own.stop());
  const server = createSignalingServer({ logger: false, redis: own.url });
  const { port } = await server.listen(0, HOST);
  t.after(() => server.close());
  const url = `ws://${HOST}:${port}`;
  const alice = await joinAs(t, url, 'r');
  await own.stop();
  assert.equal((await alice.next('error')).code, 'SHUTTING_DOWN');
  assert.equal((await alice.closed).code, 1012);
  const back = await startRedis({ port: own.port });
  t.after(() => back.stop());
  const { joined } = await joinOnceServing(t, url, 'r');
  assert.deepEqual(joined.members, []);
});

test('an instance taken for dead is swept, closes its connections with 1012 and serves again under a new id', withRedis, async (t) => {
  const prefix = `fence-${process.pid}:`;
  const [one, two] = [await startServer(t, { redisPrefix: prefix }), await startServer(t, { redisPrefix: prefix })];
  const room = freshRoom();
  const alice = await joinAs(t, one.url, room);
  const bob = await joinAs(t, two.url, room);
  await alice.next('member-joined');
  const shared = rawRedis(t);
  const names = keyNames(prefix);
  const { instance } = decodeMember(bob.id, await shared.call('HGET', names.of(room, 'members'), bob.id));
  // As if its heartbeats had stopped for ten beats: a hung process.
  await shared.call('DEL', names.of(instance, 'alive'));
  assert.equal((await alice.next('member-left', 3000)).id, bob.id);
  assert.equal((await bob.closed).code, 1012);
  const carol = await joinOnceServing(t, two.url, room);
  assert.deepEqual(carol.joined.members, [alice.id]);
  assert.equal((await alice.next('member-joined')).id, carol.id);
  const registered = await shared.call('SMEMBERS', names.instances);
  assert.equal(registered.length, 2);
  assert.ok(!registered.includes(instance), 'the swept id is never used again');
});

test('health and metrics count this instance only', withRedis, async (t) => {
  const [one, two] = [await startServer(t), await startServer(t)];
  const room = freshRoom();
  await joinAs(t, one.url, room);
  await joinAs(t, two.url, room);
  await joinAs(t, two.url, room);
  const health = async ({ port }) => (await fetch(`http://${HOST}:${port}/healthz`)).json();
  assert.deepEqual(await health(one), { status: 'ok', connections: 1, rooms: 1, members: 1 });
  assert.deepEqual(await health(two), { status: 'ok', connections: 2, rooms: 1, members: 2 });
});

test('close() of one instance reports its members gone to the other instance', withRedis, async (t) => {
  const one = await startServer(t);
  const two = await startServer(t);
  const room = freshRoom();
  const alice = await joinAs(t, one.url, room);
  const bob = await joinAs(t, two.url, room);
  await alice.next('member-joined');
  await two.server.close();
  assert.equal((await bob.closed).code, 1012);
  assert.equal((await alice.next('member-left', 3000)).id, bob.id);
});

test('a primary demoted to a replica mid-run (REPLICAOF) answers READONLY: the instance reconnects and serves once it is primary again, no one reported gone', withRedis, async (t) => {
  // Two redis-servers of their own: `primary` with `replica` following it. A switchover demotes
  // the instances' Redis under their open connections, as a failover does behind an endpoint that
  // does not close them; a write there then gets -READONLY, never a closed connection.
  const primary = await startRedis();
  t.after(() => primary.stop());
  const replica = await startRedis({ args: ['--replicaof', HOST, String(primary.port)] });
  t.after(() => replica.stop());
  const cli = (server, ...args) => redisCli('-p', String(server.port), ...args);
  const role = (server) => /role:(\w+)/.exec(cli(server, 'info', 'replication'))?.[1];
  const synced = (server) => /master_link_status:up/.test(cli(server, 'info', 'replication'));
  await until('the replica in sync', () => synced(replica), 10_000, 50);

  const [one, two] = [await startServer(t, { redis: primary.url }), await startServer(t, { redis: primary.url })];
  const room = freshRoom();
  const alice = await joinAs(t, one.url, room);
  const bob = await joinAs(t, two.url, room);
  assert.equal((await alice.next('member-joined')).id, bob.id);

  cli(replica, 'replicaof', 'no', 'one');
  cli(primary, 'replicaof', HOST, String(replica.port));
  await until('the old primary following the new one', () => role(primary) === 'slave' && synced(primary), 10_000, 50);
  // A join now runs its script on a replica: READONLY. It must wait, not fail.
  const carol = await connect(t, one.url);
  carol.send({ v: 1, type: 'join', room });
  await until('the instances meeting READONLY', () => /errorstat_READONLY:count=\d+/.test(cli(primary, 'info', 'errorstats')), 5000, 50);
  const connectionsBefore = Number(/total_connections_received:(\d+)/.exec(cli(primary, 'info', 'stats'))[1]);
  await sleep(300);
  cli(primary, 'replicaof', 'no', 'one');
  cli(replica, 'replicaof', HOST, String(primary.port));

  const joined = await carol.next(undefined, 10_000);
  assert.equal(joined.type, 'joined', JSON.stringify(joined));
  assert.deepEqual(joined.members, [alice.id, bob.id], 'the join waited for a primary and went through');
  assert.equal((await alice.next('member-joined')).id, joined.id);
  assert.equal((await bob.next('member-joined')).id, joined.id);
  const connectionsAfter = Number(/total_connections_received:(\d+)/.exec(cli(primary, 'info', 'stats'))[1]);
  assert.ok(connectionsAfter > connectionsBefore, 'the instances reconnected on READONLY');
  // Beyond a heartbeat, and signals still cross instances.
  await sleep(1500);
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'after' });
  assert.deepEqual(await bob.next('signal'), { v: 1, type: 'signal', from: alice.id, payload: 'after' });
  assert.deepEqual([...alice.frames, ...bob.frames].filter((f) => f.type !== 'member-joined'), [], 'no member-left, no error');
});
