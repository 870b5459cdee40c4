// Cross-engine: a Peer in Chromium and a Peer in Firefox, each in its own browser, connected
// through a relay that forwards signal text and nothing else. Needs the built dist/peerkit.min.js;
// run inside the private network namespace: bash scripts/netns.sh node --test test/cross/
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CHROMIUM_PATH as CHROMIUM, FIREFOX_PATH as FIREFOX } from '../../scripts/browsers.mjs';
import { launchChromium, launchFirefox, missing, side as pageSide } from '../support/pages.mjs';
import { startRelay } from '../support/relay.mjs';
import { startStatic } from '../support/servers.mjs';
import { until, within } from '../support/wait.mjs';

const STEP_MS = 20000;
const TEST_MS = 60000;
const LAUNCH_MS = 60000;

const side = (name, page) => pageSide(name, page, 'xe', STEP_MS);

let skipReason;
let setupError;
let chrome;
let fox;
const cleanup = [];

before(async () => {
  skipReason = (await missing(CHROMIUM)) ?? (await missing(FIREFOX));
  if (skipReason) return;
  try {
    const files = await startStatic(['/dist/', '/test/cross/']);
    cleanup.push(files.close);
    const relay = await startRelay();
    cleanup.push(relay.close);

    const chromeBrowser = await launchChromium(LAUNCH_MS);
    cleanup.push(() => chromeBrowser.close());
    chrome = side('chromium', await chromeBrowser.newPage());

    const foxBrowser = await launchFirefox(LAUNCH_MS);
    cleanup.push(() => foxBrowser.close());
    fox = side('firefox', await foxBrowser.newPage());

    for (const { page } of [chrome, fox]) {
      await page.goto(`${files.base}/test/cross/page.html`, { timeout: STEP_MS });
    }
    await chrome.call('join', relay.url, STEP_MS);
    await fox.call('join', relay.url, STEP_MS);
    await until('both pages reaching the relay', () => relay.clients() === 2, STEP_MS);
  } catch (err) {
    setupError = err;
  }
});

after(async () => {
  for (const close of cleanup.reverse()) await within(15000, Promise.resolve().then(close), 'cleanup').catch(() => {});
});

/** Skips when a browser is missing; fails at once when the setup failed. */
function ready(t) {
  if (skipReason) {
    t.skip(skipReason);
    return false;
  }
  if (setupError) throw setupError;
  return true;
}

test('a Chromium Peer and a Firefox Peer connect when signal text goes through a relay', { timeout: TEST_MS }, async (t) => {
  if (!ready(t)) return;
  await chrome.call('start');
  await fox.call('start');
  const [a, b] = await Promise.all([chrome.call('connected', STEP_MS), fox.call('connected', STEP_MS)]);
  assert.equal(a.state, 'connected');
  assert.equal(b.state, 'connected');
  assert.notEqual(a.polite, b.polite, 'exactly one side is polite');
});

test('peer.send() delivers a string from Chromium to Firefox and from Firefox to Chromium', { timeout: TEST_MS }, async (t) => {
  if (!ready(t)) return;
  await chrome.call('send', 'hello from chromium');
  assert.deepEqual(await fox.call('nextData', STEP_MS), { type: 'string', text: 'hello from chromium' });
  await fox.call('send', 'hello from firefox');
  assert.deepEqual(await chrome.call('nextData', STEP_MS), { type: 'string', text: 'hello from firefox' });
});

for (const [from, to] of [['chromium', 'firefox'], ['firefox', 'chromium']]) {
  test(`a 1 MiB Uint8Array sent by peer.send() in ${from} arrives byte-identical in ${to}`, { timeout: TEST_MS }, async (t) => {
    if (!ready(t)) return;
    const [sender, receiver] = from === 'chromium' ? [chrome, fox] : [fox, chrome];
    const sent = await sender.call('sendRandom', 1 << 20);
    const got = await receiver.call('nextData', STEP_MS);
    assert.deepEqual(got, { type: 'Uint8Array', bytes: 1 << 20, sha256: sent });
  });
}

for (const [from, to] of [['chromium', 'firefox'], ['firefox', 'chromium']]) {
  test(`peer.addTrack() in ${from} gives ${to} a track event whose video decodes in a <video>`, { timeout: TEST_MS }, async (t) => {
    if (!ready(t)) return;
    const [sender, receiver] = from === 'chromium' ? [chrome, fox] : [fox, chrome];
    const camera = await sender.call('sendCamera');
    const shown = await receiver.call('watchVideo', STEP_MS);
    t.diagnostic(`${from} sent "${camera.label || 'canvas'}"; ${to} decoded ${shown.width}x${shown.height}`);
    assert.ok(shown.width > 0 && shown.height > 0, `decoded ${shown.width}x${shown.height}`);
  });
}

test('peer.close() in Chromium makes the Firefox Peer emit close', { timeout: TEST_MS }, async (t) => {
  if (!ready(t)) return;
  await chrome.call('close');
  await fox.call('closed', STEP_MS);
  assert.deepEqual(await chrome.call('errors'), []);
  assert.deepEqual(await fox.call('errors'), []);
});
