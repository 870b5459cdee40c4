// The Redis store behind Sentinel: Debian's redis-server as a primary and a replica, watched by
// three redis-sentinel processes, all started here. The primary is killed mid-call; the rooms
// must come back on the promoted replica with no one's help. Build first: npm run build.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { WebSocketTransport } from '../../dist/signaling/transports/websocket.js';
import { redisCli, startSentinels } from '../../scripts/redis.mjs';
import { roomName } from '../support/names.mjs';
import { GONE_MS, meetThenKill, redisFixture, startChild } from '../support/redis-scenario.mjs';
import { startServer } from '../support/servers.mjs';
import { next, until, within } from '../support/wait.mjs';

const fixture = redisFixture('Redis Sentinel', (dir) => startSentinels(dir, { replicas: 1, sentinels: 3 }));
const withSentinel = { skip: fixture.skip, timeout: 90_000 };

const redisOption = () => ({ sentinels: fixture.get().sentinels, master: fixture.get().master });
const cliArgs = () => ['--redis-sentinel', fixture.get().sentinels.join(','), '--redis-master', fixture.get().master];

/** A transport that tries `urls` in order, closed when test `t` ends; `met` lists every member-joined id. */
function transport(t, urls) {
  const client = new WebSocketTransport(urls, { WebSocket, minDelayMs: 50, maxDelayMs: 500 });
  t.after(() => client.close());
  const met = [];
  client.on('member-joined', (id) => met.push(id));
  return Object.assign(client, { met });
}

/** Resolves once `client` hears `payload` from `from`. */
const hears = (client, from, payload) => next(client, 'message', (f, p) => f === from && p === payload);

test('behind Sentinel, members of two instances meet and a killed instance\'s are reported gone in time', withSentinel, async (t) => {
  const seconds = await meetThenKill(t, redisOption(), cliArgs());
  console.log(`# Sentinel: members of a killed instance reported gone after ${seconds.toFixed(1)} s`);
});

test('when the primary is killed mid-call, the room comes back on the promoted replica by itself', withSentinel, async (t) => {
  const setup = fixture.get();
  const one = await startServer(t, { redis: redisOption() });
  const two = await startChild(t, cliArgs());
  const room = roomName();
  // One URL each: a store reset tells clients SHUTTING_DOWN, and a transport with a second URL
  // would move there at once; bob must still be on instance two when it is killed below.
  const alice = transport(t, [one.url]);
  const bob = transport(t, [two.url]);
  const a = await alice.join(room);
  const b = await bob.join(room);
  assert.deepEqual(b.members, [a.selfId]);
  await until('alice meeting bob', () => alice.met.includes(b.selfId), 2000);
  const heard = hears(bob, a.selfId, 'before');
  alice.send(b.selfId, 'before');
  await heard;

  // Both instances lose their subscriber connections, reset, and serve again once Sentinel has
  // promoted the replica; the transports re-join on their own.
  const killedAt = Date.now();
  const [aliceBack, bobBack] = [next(alice, 'joined'), next(bob, 'joined')];
  await setup.primary.stop();
  const [a2, b2] = await within(30_000, Promise.all([aliceBack, bobBack]), 'both re-joining after the failover');
  console.log(`# Sentinel failover: both members back in the room after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
  const promoted = redisCli('-p', setup.sentinels[0].split(':')[1], 'sentinel', 'get-master-addr-by-name', setup.master);
  assert.match(promoted, new RegExp(`\\b${setup.replicas[0].port}\\b`), 'Sentinel promoted the replica');

  // Whoever re-joined second found the other; the first is told of the second.
  const [first, second] = a2.members.includes(b2.selfId) ? [bob, alice] : [alice, bob];
  const [firstId, secondId] = first === alice ? [a2.selfId, b2.selfId] : [b2.selfId, a2.selfId];
  const secondJoin = first === alice ? b2 : a2;
  assert.deepEqual(secondJoin.members, [firstId], 'the old ids are gone, the new ones meet');
  await until('the first re-joiner hearing of the second', () => first.met.includes(secondId), 5000);
  const both = [hears(second, firstId, 'after'), hears(first, secondId, 'after')];
  first.send(secondId, 'after');
  second.send(firstId, 'after');
  await within(5000, Promise.all(both), 'signals both ways after the failover');

  // And a killed instance is still noticed on the new primary.
  const bobId = bob === first ? firstId : secondId;
  const left = next(alice, 'member-left', (id) => id === bobId);
  two.child.kill('SIGKILL');
  await within(GONE_MS, left, 'bob reported gone');
});
