// A Room with media: 'sfu' across engines: 2 Chromium and 2 Firefox pages, one member each,
// through Debian's Janus and peerkit-signal's SFU bridge; then the same with a secret, so every
// frame is SFrame-encrypted by one engine and decrypted by the other (the CDN build's worker). Needs the built dist/ and Janus; run
// inside the private network namespace: bash scripts/netns.sh node --test test/cross/room-sfu-cross.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRoomToken, createSignalingServer } from '../../server/dist/index.js';
import { CHROMIUM_PATH as CHROMIUM, FIREFOX_PATH as FIREFOX } from '../../scripts/browsers.mjs';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { launchChromium, launchFirefox, missing, side as pageSide } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';

const STEP_MS = 45000;
const SECRET = 'cross-room-sfu-secret';
const side = (name, page) => pageSide(name, page, 'sfu', STEP_MS);

const members = [];
const cleanup = [];
let skipReason;
let signal;

/** Joins every member to `room` (with `secret`, if given) and returns their ids once each decodes the 3 others. */
async function joinAndDecode(room, secret) {
  const ids = [];
  for (const member of members) ids.push(await member.call('join', signal, room, createRoomToken(SECRET, room, 600), secret));
  // Every feed played first: a feed just published takes a moment to reach its full frame rate.
  for (const [i, member] of members.entries()) await member.call('decoding', ids.filter((_, j) => j !== i), 0);
  await new Promise((r) => setTimeout(r, 3000));
  for (const [i, member] of members.entries()) {
    const others = ids.filter((_, j) => j !== i);
    const frames = await member.call('decoding', others, 3000);
    console.log(`${member.name} decoded in 3 s: ${others.map((id, j) => `${members[ids.indexOf(id)].name} ${frames[j]}`).join(', ')}`);
    for (const count of frames) assert.ok(count > 10, `${member.name} decoded ${frames} frames in 3 s`);
  }
  return ids;
}

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
    async () => createSignalingServer({ logger: false, tokenSecret: SECRET, janus: [janus] }),
    (s) => s.close(),
  );
  signal = `ws://127.0.0.1:${(await server.listen(0)).port}`;
  const { base } = await started(() => startStatic(['/dist/', '/test/cross/']), (files) => files.close());
  // A browser each: a page in a background tab has its timers throttled, and its canvas with them.
  for (const [engine, launch] of [['chromium', launchChromium], ['firefox', launchFirefox], ['chromium', launchChromium], ['firefox', launchFirefox]]) {
    const browser = await started(launch, (b) => b.close());
    const member = side(`${engine}-${members.length >> 1}`, await browser.newPage());
    await member.page.goto(`${base}/test/cross/room-sfu-page.html`, { timeout: STEP_MS });
    members.push(member);
  }
});

after(async () => {
  for (const close of cleanup.reverse()) await close().catch(() => {});
});

test('2 Chromium + 2 Firefox members: each decodes the 3 others through Janus, room.send reaches all, a leaver disappears', { skip: skipReason }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const ids = await joinAndDecode(`cross-sfu-${Date.now()}`);
  for (const [i, member] of members.entries()) await member.call('send', `from ${i}`);
  for (const [i, member] of members.entries()) {
    for (const [j] of members.entries()) {
      if (i === j) continue;
      const deadline = Date.now() + 10000;
      while ((await member.call('heardFrom', `from ${j}`)).length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await member.call('heardFrom', `from ${j}`), [ids[j]], `${member.name} heard ${members[j].name} once`);
    }
  }
  const leaver = members.at(-1);
  assert.equal(await leaver.call('leave'), 'closed');
  for (const member of members.slice(0, -1)) assert.equal(await member.call('gone', ids.at(-1)), true);
  for (const member of members.slice(0, -1)) await member.call('leave');
});

test('with a secret, every Chromium and Firefox member decrypts and decodes the 3 others (SFrame both ways)', { skip: skipReason }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  await joinAndDecode(`cross-sfu-e2ee-${Date.now()}`, 'correct horse battery staple');
  for (const member of members) {
    const { encryption, errors } = await member.call('state');
    assert.equal(encryption.media, 'e2ee', member.name);
    assert.ok(encryption.keyEpoch >= 1, member.name);
    assert.deepEqual(errors, [], member.name);
  }
  for (const member of members) await member.call('leave');
});
