// The scenario every Redis deployment test runs: members on two signaling instances meet in one
// room and relay signals both ways; the second instance, a peerkit-signal CLI in its own process,
// is killed, and its member must be reported gone within the documented time.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { redisMissing } from '../../scripts/redis.mjs';
import { roomName } from './names.mjs';
import { HOST, startServer } from './servers.mjs';
import { startSignalCli } from './signal-cli.mjs';
import { joinAs } from './signal-client.mjs';

/**
 * Members of a killed instance are reported gone within one heartbeat (1 s) after Redis sees its
 * connections close (README, "Several instances (Redis)"); the rest is slack for a loaded machine.
 */
export const GONE_MS = 3000;

/** A peerkit-signal CLI with `args`, killed when test `t` ends. */
export async function startChild(t, args) {
  const { child, listening } = startSignalCli(['--port', '0', ...args]);
  t.after(() => child.kill('SIGKILL'));
  return { child, url: `ws://${HOST}:${(await listening).port}` };
}

/**
 * Runs the scenario with `redis` (the createSignalingServer option, with more `options`) in this
 * process and `args` (CLI flags reaching the same Redis) in the killed one. Resolves the seconds
 * until the gone member was reported.
 */
export async function meetThenKill(t, redis, args, options = {}) {
  const survivor = await startServer(t, { redis, ...options });
  const doomed = await startChild(t, args);
  const room = roomName();
  const alice = await joinAs(t, survivor.url, room, { hello: 'alice' });
  const bob = await joinAs(t, doomed.url, room, { hello: 'bob' });
  assert.deepEqual(bob.joined.members, [alice.id]);
  assert.deepEqual(bob.joined.hellos, { [alice.id]: 'alice' });
  assert.equal((await alice.next('member-joined')).id, bob.id);
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'offer' });
  assert.deepEqual(await bob.next('signal'), { v: 1, type: 'signal', from: alice.id, payload: 'offer' });
  bob.send({ v: 1, type: 'signal', to: alice.id, payload: 'answer' });
  assert.deepEqual(await alice.next('signal'), { v: 1, type: 'signal', from: bob.id, payload: 'answer' });

  const killedAt = Date.now();
  doomed.child.kill('SIGKILL');
  assert.equal((await alice.next('member-left', GONE_MS)).id, bob.id);
  const seconds = (Date.now() - killedAt) / 1000;
  const carol = await joinAs(t, survivor.url, room);
  assert.deepEqual(carol.joined.members, [alice.id], 'the room holds only the living');
  return seconds;
}

/**
 * Runs `start(dir)` before the file's tests, in a fresh temporary folder, and its result's
 * `stop()` after them, then removes the folder. `get()` is what `start` resolved; `skip` says
 * why the tests cannot run, or false.
 */
export function redisFixture(what, start) {
  const missing = redisMissing();
  if (missing) console.log(`# skipping the ${what} tests: ${missing}`);
  let dir;
  let started;
  before(async () => {
    if (missing) return;
    dir = await mkdtemp(join(tmpdir(), 'peerkit-redis-'));
    started = await start(dir);
  });
  after(async () => {
    await started?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return { skip: missing ?? false, get: () => started };
}
