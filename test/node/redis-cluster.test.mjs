// The Redis store on a 3-master Redis Cluster of Debian's redis-server, created here with
// redis-cli --cluster create. Build first: npm run build.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { keyNames } from '../../server/dist/redis-keys.js';
import { startCluster } from '../../scripts/redis.mjs';
import { roomName } from '../support/names.mjs';
import { meetThenKill, redisFixture } from '../support/redis-scenario.mjs';
import { startServer } from '../support/servers.mjs';
import { joinAs } from '../support/signal-client.mjs';

const fixture = redisFixture('Redis Cluster', (dir) => startCluster(dir, 3));
const withCluster = { skip: fixture.skip, timeout: 60_000 };

test('on a Redis Cluster, members of two instances meet and a killed instance\'s are reported gone in time', withCluster, async (t) => {
  const cluster = fixture.get();
  const seconds = await meetThenKill(t, { cluster: cluster.nodes }, ['--redis-cluster', cluster.nodes.join(','), '--redis-command-timeout-ms', '1500']);
  console.log(`# Cluster: members of a killed instance reported gone after ${seconds.toFixed(1)} s`);
});

test('rooms on every master of a Cluster work across instances, each room\'s keys on its own node', withCluster, async (t) => {
  const cluster = fixture.get();
  const prefix = 'spread:';
  const [one, two] = [await startServer(t, { redis: { cluster: cluster.nodes }, redisPrefix: prefix }), await startServer(t, { redis: { cluster: [cluster.nodes[1]] }, redisPrefix: prefix })];
  const names = keyNames(prefix);
  const nodes = cluster.servers.map((s) => new Redis(s.port, '127.0.0.1'));
  t.after(() => nodes.forEach((n) => n.disconnect()));
  // Rooms until every master holds one: signals and events then cross every node.
  const slots = await nodes[0].call('CLUSTER', 'SLOTS');
  const owners = new Set();
  const rooms = [];
  for (let i = 0; owners.size < nodes.length && i < 100; i++) {
    const room = roomName();
    const slot = await nodes[0].call('CLUSTER', 'KEYSLOT', names.of(room, 'members'));
    const [, , [, ownerPort]] = slots.find(([from, to]) => slot >= from && slot <= to);
    if (owners.has(ownerPort)) continue;
    owners.add(ownerPort);
    rooms.push({ room, ownerPort });
  }
  assert.equal(owners.size, 3);
  for (const { room, ownerPort } of rooms) {
    const alice = await joinAs(t, one.url, room);
    const bob = await joinAs(t, two.url, room);
    assert.deepEqual(bob.joined.members, [alice.id], room);
    assert.equal((await alice.next('member-joined')).id, bob.id);
    bob.send({ v: 1, type: 'signal', to: alice.id, payload: room });
    assert.equal((await alice.next('signal')).payload, room);
    alice.send({ v: 1, type: 'signal', to: bob.id, payload: room });
    assert.equal((await bob.next('signal')).payload, room);
    const owner = nodes[cluster.servers.findIndex((s) => s.port === ownerPort)];
    assert.equal(await owner.hlen(names.of(room, 'members')), 2, 'the room lives on the master of its slot');
    bob.send({ v: 1, type: 'leave' });
    assert.equal((await alice.next('member-left')).id, bob.id);
  }
});
