// Rooms across real pages: three pages (two Chromium contexts and a Firefox) over the real
// signaling server, and two tabs of one Chromium context over BroadcastChannelTransport. The
// pages load dist/peerkit.min.js from a script tag, as a CDN user would.
// Run inside the private network namespace: bash scripts/netns.sh node --test test/e2e/room.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSignalingServer } from '../../server/dist/index.js';
import { CHROMIUM_PATH, FIREFOX_PATH } from '../../scripts/browsers.mjs';
import { launchChromium, launchFirefox, missing, side } from '../support/pages.mjs';
import { roomName } from '../support/names.mjs';
import { startStatic } from '../support/servers.mjs';
import { within } from '../support/wait.mjs';

const STEP_MS = 20000;
const TEST_MS = 90000;

let skipReason;
let chrome;
let fox;
let files;
let signal;
let signalUrl;
const cleanup = [];

before(async () => {
  skipReason = (await missing(CHROMIUM_PATH)) ?? (await missing(FIREFOX_PATH));
  if (skipReason) return;
  files = await startStatic(['/dist/', '/test/e2e/']);
  cleanup.push(files.close);
  signal = createSignalingServer({ logger: false });
  signalUrl = `ws://127.0.0.1:${(await signal.listen(0)).port}`;
  cleanup.push(() => signal.close());
  chrome = await launchChromium();
  cleanup.push(() => chrome.close());
  fox = await launchFirefox();
  cleanup.push(() => fox.close());
});

after(async () => {
  for (const close of cleanup.reverse()) await within(15000, Promise.resolve().then(close), 'cleanup').catch(() => {});
});

async function open(name, newPage) {
  const page = await newPage();
  await page.goto(`${files.base}/test/e2e/room.html`, { timeout: STEP_MS });
  return side(name, page, 'e2e', STEP_MS);
}

test('three pages in two engines meet in one room through the real server, exchange data, and see a closed page leave', { timeout: TEST_MS }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const contextA = await chrome.newContext();
  const contextB = await chrome.newContext();
  t.after(() => Promise.all([contextA.close(), contextB.close()]));
  const pages = [
    await open('chromium-a', () => contextA.newPage()),
    await open('chromium-b', () => contextB.newPage()),
    await open('firefox', () => fox.newPage()),
  ];
  const room = roomName('e2e');
  const ids = [];
  for (const page of pages) ids.push(await page.call('join', room, 'ws', signalUrl));
  assert.equal(new Set(ids).size, 3);
  for (const [i, page] of pages.entries()) {
    assert.deepEqual(await page.call('connected', 2, STEP_MS), ids.filter((_, j) => j !== i).sort());
  }
  for (const [i, page] of pages.entries()) await page.call('send', `hello from ${page.name}`);
  for (const [i, page] of pages.entries()) {
    const got = await page.call('received', 2, STEP_MS);
    const expected = pages.filter((_, j) => j !== i).map((other, j) => [`hello from ${other.name}`, ids.filter((_, k) => k !== i)[j]]);
    assert.deepEqual(got.sort(), expected.sort());
  }
  await pages[2].call('send', 'only to chromium-b', ids[1]);
  assert.deepEqual((await pages[1].call('received', 3, STEP_MS))[2], ['only to chromium-b', ids[2]]);

  const started = Date.now();
  await pages[0].page.close();
  for (const page of pages.slice(1)) assert.deepEqual(await page.call('leftIds', 1, STEP_MS), [ids[0]]);
  t.diagnostic(`a closed page left both rooms within ${Date.now() - started} ms`);
  await pages[1].call('send', 'still here');
  assert.deepEqual((await pages[2].call('received', 3, STEP_MS))[2], ['still here', ids[1]]);
  for (const page of pages.slice(1)) {
    assert.deepEqual(await page.call('errors'), []);
    await page.call('leave');
  }
});

test('two tabs of one origin meet over BroadcastChannelTransport with no server, and a closed tab leaves within seconds', { timeout: TEST_MS }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const context = await chrome.newContext();
  t.after(() => context.close());
  const [one, two] = [await open('tab-1', () => context.newPage()), await open('tab-2', () => context.newPage())];
  const room = roomName('tabs');
  const idOne = await one.call('join', room, 'broadcast');
  const idTwo = await two.call('join', room, 'broadcast');
  assert.deepEqual(await one.call('connected', 1, STEP_MS), [idTwo]);
  assert.deepEqual(await two.call('connected', 1, STEP_MS), [idOne]);
  await one.call('send', 'over the tab mesh');
  assert.deepEqual(await two.call('received', 1, STEP_MS), [['over the tab mesh', idOne]]);
  await two.call('send', { json: true });
  assert.deepEqual(await one.call('received', 1, STEP_MS), [[{ json: true }, idTwo]]);
  const started = Date.now();
  await two.page.close();
  assert.deepEqual(await one.call('leftIds', 1, 5000), [idTwo]);
  t.diagnostic(`the closed tab left within ${Date.now() - started} ms`);
  assert.deepEqual(await one.call('errors'), []);
  await one.call('leave');
});
