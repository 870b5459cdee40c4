// The Redis store against Debian's redis-server serving TLS only, with client certificates
// required and an ACL user (certificates made here with openssl), and against a redis-server
// stopped with SIGSTOP. Build first: npm run build.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeTlsFiles, startRedis } from '../../scripts/redis.mjs';
import { createSignalingServer } from '../../server/dist/index.js';
import { roomName } from '../support/names.mjs';
import { meetThenKill, redisFixture } from '../support/redis-scenario.mjs';
import { HOST, startServer } from '../support/servers.mjs';
import { joinAs } from '../support/signal-client.mjs';
import { sleep, until } from '../support/wait.mjs';

const fixture = redisFixture('Redis TLS', async (dir) => {
  const files = makeTlsFiles(dir);
  // The default user is off: only the ACL user gets in, and only to the keys and channels of its prefix.
  const redis = await startRedis({ tls: files, args: ['--user', 'default', 'off', '--user', 'signal', 'on', '>s3cret', '~tls:*', '&tls:*', '+@all'] });
  return { files, redis, stop: () => redis.stop() };
});
const withRedis = { skip: fixture.skip, timeout: 60_000 };

const url = (user = 'signal', password = 's3cret') => `rediss://${user}:${password}@127.0.0.1:${fixture.get().redis.port}`;
const tls = () => {
  const { files } = fixture.get();
  return { ca: files.ca, cert: files.clientCert, key: files.clientKey, servername: 'localhost' };
};

test('over TLS with a client certificate and an ACL user, members of two instances meet and a killed one\'s are reported gone in time', withRedis, async (t) => {
  const { files } = fixture.get();
  const redisOption = { url: url(), tls: tls(), commandTimeoutMs: 1000 };
  const args = ['--redis', url(), '--redis-prefix', 'tls:', '--redis-tls-ca', files.caFile, '--redis-tls-cert', files.clientCertFile, '--redis-tls-key', files.clientKeyFile, '--redis-tls-servername', 'localhost'];
  const seconds = await meetThenKill(t, redisOption, args, { redisPrefix: 'tls:' });
  console.log(`# TLS: members of a killed instance reported gone after ${seconds.toFixed(1)} s`);
});

test('Redis refuses a wrong password, a missing client certificate, a CA it was not signed by, and keys outside the ACL', withRedis, async () => {
  const { files } = fixture.get();
  const refused = async (redisOption, pattern, prefix = 'tls:') => {
    const server = createSignalingServer({ logger: false, redis: redisOption, redisPrefix: prefix });
    await assert.rejects(server.listen(0, HOST), pattern);
    await server.close();
  };
  await refused({ url: url('signal', 'wrong'), tls: tls() }, /cannot connect to Redis at 127\.0\.0\.1:\d+: .*(WRONGPASS|invalid username-password)/);
  await refused({ url: url(), tls: { ca: files.ca, servername: 'localhost' } }, /cannot connect to Redis/);
  await refused({ url: url(), tls: { ...tls(), ca: files.clientCert } }, /cannot connect to Redis.*certificate/);
  await refused({ url: url(), tls: tls() }, /NOPERM/, 'other:');
});

test('a Redis that stops answering without closing is noticed within the command timeout, and nobody is reported gone when it answers again', withRedis, async (t) => {
  const own = await startRedis();
  t.after(() => own.stop());
  const entries = [];
  const logger = (entry) => entries.push({ ...entry, at: Date.now() });
  const redisOption = { url: own.url, commandTimeoutMs: 500 };
  const one = await startServer(t, { redis: redisOption, logger });
  const two = await startServer(t, { redis: redisOption });
  const room = roomName();
  const alice = await joinAs(t, one.url, room);
  const bob = await joinAs(t, two.url, room);
  await alice.next('member-joined');

  const stoppedAt = Date.now();
  own.process.kill('SIGSTOP');
  const unresponsive = await until('store-unresponsive', () => entries.find((e) => e.event === 'store-unresponsive'), 5000);
  const noticedMs = unresponsive.at - stoppedAt;
  console.log(`# a hung Redis noticed after ${noticedMs} ms (command timeout 500 ms, heartbeat 1000 ms)`);
  assert.ok(noticedMs <= 500 + 1000 + 500, `${noticedMs} ms`);
  await sleep(Math.max(0, 3000 - (Date.now() - stoppedAt)));
  own.process.kill('SIGCONT');
  await until('store-responsive', () => entries.find((e) => e.event === 'store-responsive'), 5000);
  // Two more heartbeats and sweeps: none may take a live instance for dead.
  await sleep(2000);
  assert.deepEqual([...alice.frames, ...bob.frames].filter((f) => f.type !== 'signal'), [], 'no member-left, no SHUTTING_DOWN');
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'still here' });
  assert.equal((await bob.next('signal')).payload, 'still here');
  const carol = await joinAs(t, two.url, room);
  assert.deepEqual(carol.joined.members, [alice.id, bob.id]);
  assert.equal(entries.some((e) => e.event === 'store-lost' || e.event === 'store-reset'), false);
});
