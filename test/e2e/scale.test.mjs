// Scale-out with real processes: two peerkit-signal instances sharing rooms through a real
// redis-server, a page on each, and one instance killed (SIGKILL) mid-call. The pages' transports
// know both URLs; the room must re-form through the survivor with the same Peers while the data
// channels keep flowing. Run inside the namespace: bash scripts/netns.sh node --test test/e2e/scale.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CHROMIUM_PATH } from '../../scripts/browsers.mjs';
import { redisMissing, startRedis } from '../../scripts/redis.mjs';
import { launchChromium, missing, side } from '../support/pages.mjs';
import { roomName } from '../support/names.mjs';
import { startStatic } from '../support/servers.mjs';
import { within } from '../support/wait.mjs';
import { startSignalCli } from '../support/signal-cli.mjs';

const STEP_MS = 20000;

let skipReason;
let redis;
let chrome;
let files;
const cleanup = [];

/** A peerkit-signal process on a free port, sharing rooms through Redis. */
async function instance() {
  const { child, listening } = startSignalCli(['--port', '0', '--redis', redis.url]);
  cleanup.push(() => child.kill('SIGKILL'));
  return { child, url: `ws://127.0.0.1:${(await within(10000, listening, 'starting peerkit-signal')).port}` };
}

before(async () => {
  skipReason = (await missing(CHROMIUM_PATH)) ?? redisMissing();
  if (skipReason) return;
  redis = await startRedis();
  cleanup.push(() => redis.stop());
  files = await startStatic(['/dist/', '/test/e2e/']);
  cleanup.push(files.close);
  chrome = await launchChromium();
  cleanup.push(() => chrome.close());
});

after(async () => {
  for (const close of cleanup.reverse()) await within(15000, Promise.resolve().then(close), 'cleanup').catch(() => {});
});

test('members on two instances meet through Redis; one instance is killed mid-call: the room re-forms through the other and data keeps flowing', { timeout: 120000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [a, b] = [await instance(), await instance()];
  const open = async (name) => {
    const context = await chrome.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`${files.base}/test/e2e/room.html`, { timeout: STEP_MS });
    return side(name, page, 'e2e', STEP_MS);
  };
  const [onA, onB] = [await open('page-on-a'), await open('page-on-b')];
  const room = roomName('scale');
  // Each page prefers its own instance and knows the other.
  const idOnA = await onA.call('join', room, 'ws', [a.url, b.url]);
  const idOnB = await onB.call('join', room, 'ws', [b.url, a.url]);
  assert.deepEqual(await onA.call('connected', 1, STEP_MS), [idOnB]);
  assert.deepEqual(await onB.call('connected', 1, STEP_MS), [idOnA]);
  await onA.call('send', 'across instances');
  assert.deepEqual(await onB.call('received', 1, STEP_MS), [['across instances', idOnA]]);

  const killed = Date.now();
  a.child.kill('SIGKILL');
  await onA.call('send', 'while my instance is dead');
  assert.deepEqual((await onB.call('received', 2, STEP_MS))[1], ['while my instance is dead', idOnA]);
  const rejoined = await onA.call('rejoined', STEP_MS);
  t.diagnostic(`the page on the killed instance re-joined through the other in ${Date.now() - killed} ms as ${rejoined.selfId}`);
  assert.notEqual(rejoined.selfId, idOnA);
  assert.equal(rejoined.samePeers, true, 'the Peer from before the kill is kept, none is added');
  assert.deepEqual(await onB.call('connected', 1, STEP_MS), [rejoined.selfId]);
  await onB.call('send', 'after the failover');
  assert.deepEqual(await onA.call('received', 1, STEP_MS), [['after the failover', idOnB]]);
  assert.deepEqual(await onA.call('leftIds', 0, 10), [], 'no one left');
  assert.deepEqual(await onB.call('leftIds', 0, 10), [], 'no one left');
  for (const page of [onA, onB]) await page.call('leave');
});
