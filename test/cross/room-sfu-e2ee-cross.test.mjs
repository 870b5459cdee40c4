// End-to-end encrypted SFU media across engines: a Chromium page and a Firefox page in one Room
// with media: 'sfu' and a secret, through Debian's Janus; each page loads the CDN build, whose
// SFrame worker is dist/sframe-worker.js. Needs the built dist/ and Janus; run inside the private
// network namespace: bash scripts/netns.sh node --test test/cross/room-sfu-e2ee-cross.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRoomToken, createSignalingServer } from '../../dist/server/index.js';
import { CHROMIUM_PATH as CHROMIUM, FIREFOX_PATH as FIREFOX } from '../../scripts/browsers.mjs';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { launchChromium, launchFirefox, missing, side as pageSide } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';

const STEP_MS = 45000;
const TOKEN_SECRET = 'cross-room-sfu-e2ee-token';
const ROOM_SECRET = 'correct horse battery staple';

const members = [];
const cleanup = [];
let skipReason;
let signal;

/** Runs `start`, and `stop` on its result after the tests. */
async function started(start, stop) {
  const value = await start();
  cleanup.push(() => stop(value));
  return value;
}

before(async () => {
  skipReason = janusMissing() ?? (await missing(CHROMIUM)) ?? (await missing(FIREFOX));
  if (skipReason) return;
  const { url: janus } = await started(startJanus, (j) => j.stop());
  const server = await started(
    async () => createSignalingServer({ logger: false, tokenSecret: TOKEN_SECRET, janus: [janus] }),
    (s) => s.close(),
  );
  signal = `ws://127.0.0.1:${(await server.listen(0)).port}`;
  const { base } = await started(() => startStatic(['/dist/', '/test/cross/']), (files) => files.close());
  for (const [engine, launch] of [['chromium', launchChromium], ['firefox', launchFirefox]]) {
    const browser = await started(launch, (b) => b.close());
    const member = pageSide(engine, await browser.newPage(), 'sfu', STEP_MS);
    await member.page.goto(`${base}/test/cross/room-sfu-e2ee-page.html`, { timeout: STEP_MS });
    members.push(member);
  }
});

after(async () => {
  for (const close of cleanup.reverse()) await close().catch(() => {});
});

test('a Chromium sender and a Firefox receiver, and the reverse: each decrypts and decodes the other through Janus', { skip: skipReason }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const room = `cross-sfu-e2ee-${Date.now()}`;
  const joined = [];
  for (const member of members) joined.push(await member.call('join', signal, room, createRoomToken(TOKEN_SECRET, room, 600), ROOM_SECRET));
  for (const { encryption } of joined) assert.equal(encryption.media, 'e2ee');
  const ids = joined.map(({ id }) => id);
  for (const [i, member] of members.entries()) await member.call('decoding', ids.filter((_, j) => j !== i), 0);
  await new Promise((r) => setTimeout(r, 3000));
  for (const [i, member] of members.entries()) {
    const [frames] = await member.call('decoding', ids.filter((_, j) => j !== i), 3000);
    console.log(`${member.name} decoded ${frames} frames from ${members[1 - i].name} in 3 s`);
    assert.ok(frames > 10, `${member.name} decoded ${frames} frames in 3 s`);
    assert.deepEqual(await member.call('errors'), []);
  }
  for (const member of members) await member.call('leave');
});
