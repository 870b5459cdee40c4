// Cross-engine WHIP/WHEP: a stream published from Chromium is played in Firefox, and the other way
// round, through Debian's Janus and peerkit-signal's SFU bridge. Needs the built dist/ and Janus;
// run inside the private network namespace: bash scripts/netns.sh node --test test/cross/whip-cross.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRoomToken, createSignalingServer } from '../../server/dist/index.js';
import { CHROMIUM_PATH as CHROMIUM, FIREFOX_PATH as FIREFOX } from '../../scripts/browsers.mjs';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { launchChromium, launchFirefox, missing, side as pageSide } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';

const STEP_MS = 30000;
const SECRET = 'cross-whip-secret';
const side = (name, page) => pageSide(name, page, 'whip', STEP_MS);

let skipReason;
let chrome;
let fox;
let media;
const cleanup = [];

before(async () => {
  skipReason = janusMissing() ?? (await missing(CHROMIUM)) ?? (await missing(FIREFOX));
  if (skipReason) return;
  const janus = await startJanus();
  cleanup.push(janus.stop);
  const server = createSignalingServer({ logger: false, tokenSecret: SECRET, janus: [janus.url] });
  cleanup.push(() => server.close());
  media = `http://127.0.0.1:${(await server.listen(0)).port}`;
  const files = await startStatic(['/dist/', '/test/cross/']);
  cleanup.push(files.close);
  const chromeBrowser = await launchChromium();
  cleanup.push(() => chromeBrowser.close());
  chrome = side('chromium', await chromeBrowser.newPage());
  const foxBrowser = await launchFirefox();
  cleanup.push(() => foxBrowser.close());
  fox = side('firefox', await foxBrowser.newPage());
  for (const { page } of [chrome, fox]) await page.goto(`${files.base}/test/cross/whip-page.html`, { timeout: STEP_MS });
});

after(async () => {
  for (const close of cleanup.reverse()) await close().catch(() => {});
});

for (const [from, to] of [['chromium', 'firefox'], ['firefox', 'chromium']]) {
  test(`published in ${from}, played in ${to}: video decoded and audio received at the viewer`, { skip: skipReason }, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const pages = { chromium: chrome, firefox: fox };
    const room = `cross-${from}`;
    const publisher = pages[from];
    const viewer = pages[to];
    assert.equal(await publisher.call('publish', `${media}/whip/${room}/${from}`, createRoomToken(SECRET, room, 600, from)), 'connected');
    assert.equal(await viewer.call('play', `${media}/whep/${room}/${from}`, createRoomToken(SECRET, room, 600, to)), 'connected');
    const frames = await viewer.call('growth', 'video', 'framesDecoded', 3000);
    const packets = await viewer.call('growth', 'audio', 'packetsReceived', 2000);
    console.log(`${from} -> ${to}: ${frames} frames decoded in 3 s, ${packets} audio packets in 2 s`);
    assert.ok(frames > 20, `${to} decoded ${frames} frames in 3 s`);
    assert.ok(packets > 20, `${to} received ${packets} audio packets in 2 s`);
    assert.equal(await viewer.call('close'), 'closed');
    assert.equal(await publisher.call('close'), 'closed');
  });
}
