// A Room with media: 'auto' across engines: Chromium and Firefox pages, one member each (a browser
// each), through Debian's Janus and peerkit-signal's SFU bridge. 4 members share a mesh; a 5th
// moves the room to the SFU and its leaving moves it back; each page measures every stream's gap.
// Needs the built dist/ and Janus; run inside the private network namespace:
//   bash scripts/netns.sh node --test test/cross/room-sfu-auto-cross.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRoomToken, createSignalingServer } from '../../dist/server/index.js';
import { CHROMIUM_PATH as CHROMIUM, FIREFOX_PATH as FIREFOX } from '../../scripts/browsers.mjs';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { launchChromium, launchFirefox, missing, side as pageSide } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';

const STEP_MS = 60000;
const SECRET = 'cross-room-auto-secret';
const MAX_GAP_MS = 2000;
const side = (name, page) => pageSide(name, page, 'auto', STEP_MS);

const members = [];
const cleanup = [];
let skipReason;
let signal;

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
  const engines = [['chromium', launchChromium], ['firefox', launchFirefox], ['chromium', launchChromium], ['firefox', launchFirefox], ['chromium', launchChromium]];
  for (const [i, [engine, launch]] of engines.entries()) {
    const browser = await started(launch, (b) => b.close());
    const member = side(`${engine}-${i}`, await browser.newPage());
    await member.page.goto(`${base}/test/cross/room-sfu-auto-page.html`, { timeout: STEP_MS });
    members.push(member);
  }
});

after(async () => {
  for (const close of cleanup.reverse()) await close().catch(() => {});
});

/** Prints each page's longest gap per stream and returns the worst. */
function report(label, gaps, pages, ids) {
  const lines = gaps.map((list, i) => `${pages[i].name} <- ${list.map(([id, ms]) => `${members[ids.indexOf(id)].name} ${ms}`).join(', ')}`);
  const worst = Math.max(...gaps.flat().map(([, ms]) => ms));
  console.log(`[room-sfu-auto-cross] ${label}, longest gap per stream (ms):\n  ${lines.join('\n  ')}\n  worst ${worst} ms`);
  return worst;
}

test('2 Chromium + 2 Firefox in a mesh; a 5th (Chromium) moves the room to the SFU and back, each stream gapping at most 2 s', { skip: skipReason }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const room = `cross-auto-${Date.now()}`;
  const token = () => createRoomToken(SECRET, room, 600);
  const four = members.slice(0, 4);
  const fifth = members[4];
  const ids = [];
  for (const member of four) ids.push(await member.call('join', signal, room, token()));
  const othersOf = (i, list) => list.filter((_, j) => j !== i);
  for (const [i, member] of four.entries()) {
    assert.equal(await member.call('mode', 'mesh'), 'mesh');
    await member.call('decodingOver', othersOf(i, ids), 'mesh');
  }

  for (const [i, member] of four.entries()) await member.call('startMeter', othersOf(i, ids));
  ids.push(await fifth.call('join', signal, room, token()));
  for (const [i, member] of members.entries()) {
    assert.equal(await member.call('mode', 'sfu'), 'sfu');
    await member.call('decodingOver', othersOf(i, ids), 'sfu');
  }
  // The mesh senders pause 3 s after the plays decode: measure past that.
  await new Promise((r) => setTimeout(r, 5000));
  const up = await Promise.all(four.map((member) => member.call('stopMeter')));
  const worstUp = report('mesh -> SFU', up, four, ids);

  for (const [i, member] of four.entries()) await member.call('startMeter', othersOf(i, ids.slice(0, 4)));
  assert.equal(await fifth.call('leave'), 'closed');
  for (const [i, member] of four.entries()) {
    assert.equal(await member.call('mode', 'mesh'), 'mesh');
    await member.call('decodingOver', othersOf(i, ids.slice(0, 4)), 'mesh');
  }
  const down = await Promise.all(four.map((member) => member.call('stopMeter')));
  const worstDown = report('SFU -> mesh', down, four, ids);

  for (const [i, member] of four.entries()) await member.call('send', `from ${i}`);
  for (const [i, member] of four.entries()) {
    for (const j of [0, 1, 2, 3].filter((j) => j !== i)) {
      const deadline = Date.now() + 10000;
      while ((await member.call('heardFrom', `from ${j}`)).length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await member.call('heardFrom', `from ${j}`), [ids[j]], `${member.name} heard ${four[j].name} once`);
    }
  }
  for (const member of four) await member.call('leave');
  assert.ok(worstUp <= MAX_GAP_MS, `mesh -> SFU: a stream paused ${worstUp} ms`);
  assert.ok(worstDown <= MAX_GAP_MS, `SFU -> mesh: a stream paused ${worstDown} ms`);
});
