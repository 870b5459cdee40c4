// Rooms with media: 'sfu' and 'auto' across engines: Chromium and Firefox pages, one member each
// (a browser each), through Debian's Janus and peerkit-signal's SFU bridge; with a secret, every
// frame is SFrame-encrypted by one engine and decrypted by the other (the CDN build's worker).
// Janus is killed (SIGKILL) and started again mid-call.
// With 'auto', 4 members share a mesh, a 5th moves the room to the SFU and its leaving moves it
// back, and each page measures every stream's gap. Needs the built dist/ and Janus; run inside the private network
// namespace: bash scripts/netns.sh node --test test/cross/room-sfu-cross.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRoomToken, createSignalingServer } from '../../server/dist/index.js';
import { CHROMIUM_PATH as CHROMIUM, FIREFOX_PATH as FIREFOX } from '../../scripts/browsers.mjs';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { launchChromium, launchFirefox, missing, side as pageSide } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';

const STEP_MS = 60000;
const SECRET = 'cross-room-sfu-secret';
const MAX_GAP_MS = 2000;
const side = (name, page) => pageSide(name, page, 'sfu', STEP_MS);

const all = [];
const cleanup = [];
let skipReason;
let signal;
let janusInstance;

/** Kills Janus and starts it again on the same port, where the bridge reconnects. */
async function restartJanus() {
  const { port } = janusInstance;
  await janusInstance.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 1000));
  return startJanus({ port });
}

/** Joins the first 4 pages to `room` (with `secret`, if given) and returns their ids once each decodes the 3 others. */
async function joinAndDecode(room, secret) {
  const members = all.slice(0, 4);
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
  janusInstance = await startJanus();
  cleanup.push(() => janusInstance.stop());
  const janus = janusInstance.url;
  const server = await started(
    async () => createSignalingServer({ logger: false, tokenSecret: SECRET, janus: [janus] }),
    (s) => s.close(),
  );
  signal = `ws://127.0.0.1:${(await server.listen(0)).port}`;
  const { base } = await started(() => startStatic(['/dist/', '/test/cross/']), (files) => files.close());
  // A browser each: a page in a background tab has its timers throttled, and its canvas with them.
  const engines = [['chromium', launchChromium], ['firefox', launchFirefox], ['chromium', launchChromium], ['firefox', launchFirefox], ['chromium', launchChromium]];
  for (const [engine, launch] of engines) {
    const browser = await started(launch, (b) => b.close());
    const member = side(`${engine}-${all.length}`, await browser.newPage());
    await member.page.goto(`${base}/test/cross/room-sfu-page.html`, { timeout: STEP_MS });
    all.push(member);
  }
});

after(async () => {
  for (const close of cleanup.reverse()) await close().catch(() => {});
});

/** Waits until each of `members` heard `text` from every other one, once. */
async function everyoneHears(members, ids, text) {
  for (const [i, member] of members.entries()) await member.call('send', `${text} from ${i}`);
  for (const [i, member] of members.entries()) {
    for (const [j] of members.entries()) {
      if (i === j) continue;
      const deadline = Date.now() + 10000;
      while ((await member.call('heardFrom', `${text} from ${j}`)).length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await member.call('heardFrom', `${text} from ${j}`), [ids[j]], `${member.name} heard ${members[j].name} once`);
    }
  }
}

const UPLOAD_MS = 4000;

test('2 Chromium + 2 Firefox members: each decodes the 3 others through Janus sending one stream, room.send reaches all, Janus restarted re-forms the room, a leaver disappears; upload against a mesh of 4', { skip: skipReason }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const members = all.slice(0, 4);
  const ids = await joinAndDecode(`cross-sfu-${Date.now()}`);
  await everyoneHears(members, ids, 'sfu');
  const throughSfu = [];
  for (const member of members) throughSfu.push(await member.call('uploaded', UPLOAD_MS));
  for (const [i, { sfu, mesh }] of throughSfu.entries()) {
    assert.equal(sfu.streams, 1, `${members[i].name} sends one video stream to the SFU`);
    assert.equal(mesh.bytes, 0, `${members[i].name} sends no video over its member Peers`);
  }

  janusInstance = await restartJanus();
  const back = Date.now();
  // The plays notice the crash on their own time: each member is polled until it decodes all 3 again.
  for (const [i, member] of members.entries()) {
    let frames = [];
    for (const deadline = Date.now() + 60000; Date.now() < deadline; ) {
      frames = await member.call('decoding', ids.filter((_, j) => j !== i), 2000);
      if (frames.every((count) => count > 5)) break;
    }
    assert.ok(frames.every((count) => count > 5), `${member.name} decoded ${frames} frames in 2 s, a minute after Janus came back`);
  }
  t.diagnostic(`Janus killed and started again: every member decodes the 3 others again ${Date.now() - back} ms after it was back`);
  await everyoneHears(members, ids, 'after the restart');

  const leaver = members.at(-1);
  assert.equal(await leaver.call('leave'), 'closed');
  for (const member of members.slice(0, -1)) assert.equal(await member.call('gone', ids.at(-1)), true);
  for (const member of members.slice(0, -1)) await member.call('leave');

  // The same 4 members in a mesh: each sends its video to the 3 others.
  const meshRoom = `cross-mesh-${Date.now()}`;
  const meshIds = [];
  for (const member of members) meshIds.push(await member.call('join', signal, meshRoom, createRoomToken(SECRET, meshRoom, 600), undefined, 'mesh'));
  for (const [i, member] of members.entries()) await member.call('decodingOver', meshIds.filter((_, j) => j !== i), 'mesh');
  const inMesh = [];
  for (const member of members) inMesh.push(await member.call('uploaded', UPLOAD_MS));
  for (const member of members) await member.call('leave');
  const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
  for (const [i, member] of members.entries()) {
    t.diagnostic(`${member.name} video sent in ${UPLOAD_MS} ms: SFU room ${kib(throughSfu[i].sfu.bytes)} in 1 stream, mesh room ${kib(inMesh[i].mesh.bytes)} in ${inMesh[i].mesh.streams} streams`);
    assert.equal(inMesh[i].mesh.streams, 3, `${member.name} sends 3 video streams in a mesh of 4`);
  }
});

test('with a secret, every Chromium and Firefox member decrypts and decodes the 3 others (SFrame both ways)', { skip: skipReason }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const members = all.slice(0, 4);
  await joinAndDecode(`cross-sfu-e2ee-${Date.now()}`, 'correct horse battery staple');
  for (const member of members) {
    const { encryption, errors } = await member.call('state');
    assert.equal(encryption.media, 'e2ee', member.name);
    assert.ok(encryption.keyEpoch >= 1, member.name);
    assert.deepEqual(errors, [], member.name);
  }
  for (const member of members) await member.call('leave');
});

/** Prints each page's longest gap per stream and returns the worst. */
function report(label, gaps, pages, ids) {
  const lines = gaps.map((list, i) => `${pages[i].name} <- ${list.map(([id, ms]) => `${all[ids.indexOf(id)].name} ${ms}`).join(', ')}`);
  const worst = Math.max(...gaps.flat().map(([, ms]) => ms));
  console.log(`[room-sfu-cross] ${label}, longest gap per stream (ms):\n  ${lines.join('\n  ')}\n  worst ${worst} ms`);
  return worst;
}

test('2 Chromium + 2 Firefox in a mesh; a 5th (Chromium) moves the room to the SFU and back, each stream gapping at most 2 s', { skip: skipReason }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const room = `cross-auto-${Date.now()}`;
  const token = () => createRoomToken(SECRET, room, 600);
  const four = all.slice(0, 4);
  const fifth = all[4];
  const ids = [];
  for (const member of four) ids.push(await member.call('join', signal, room, token(), undefined, 'auto'));
  const othersOf = (i, list) => list.filter((_, j) => j !== i);
  for (const [i, member] of four.entries()) {
    assert.equal(await member.call('mode', 'mesh'), 'mesh');
    await member.call('decodingOver', othersOf(i, ids), 'mesh');
  }

  for (const [i, member] of four.entries()) await member.call('startMeter', othersOf(i, ids));
  ids.push(await fifth.call('join', signal, room, token(), undefined, 'auto'));
  for (const [i, member] of all.entries()) {
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

  await everyoneHears(four, ids.slice(0, 4), 'auto');
  for (const member of four) await member.call('leave');
  assert.ok(worstUp <= MAX_GAP_MS, `mesh -> SFU: a stream paused ${worstUp} ms`);
  assert.ok(worstDown <= MAX_GAP_MS, `SFU -> mesh: a stream paused ${worstDown} ms`);
});
