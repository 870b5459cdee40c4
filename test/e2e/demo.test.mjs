// The demo page, end to end, the way people use it: Debian's Chromium (Playwright) with fake
// camera and microphone opens the page that `npm start` serves, joins rooms, and calls, chats,
// sends files, mutes and hangs up. Screenshots land in test-output/e2e/ for a person to look at.
// Needs the build (dist/); run inside the private network namespace:
//   npm run build && bash scripts/netns.sh node --test test/e2e/demo.test.mjs
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/browsers.mjs';
import { startDemo } from '../../scripts/start.mjs';
import { missing } from '../support/pages.mjs';

const SHOTS = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
const STEP_MS = 20000;
const TEST_MS = 120000;
const FILE_BYTES = 5 * 2 ** 20;

let skip;
let demo;
let browser;
const cleanup = [];

before(async () => {
  skip = await missing(CHROMIUM_PATH);
  if (skip) return;
  await mkdir(SHOTS, { recursive: true });
  demo = await startDemo({ port: 0 });
  cleanup.push(() => demo.close());
  // Two fake cameras and microphones, so that switching devices switches something.
  const args = CHROMIUM_ARGS.map((arg) => (arg === '--use-fake-device-for-media-stream' ? `${arg}=device-count=2` : arg));
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args, timeout: 60000 });
  cleanup.push(() => browser.close());
});

after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

/** A page of the demo; its console and page errors go into failure messages. */
const open = (context, query, base = demo.url) => openUrl(context, `${base}?${new URLSearchParams(query)}`);

async function openUrl(context, url) {
  const page = await context.newPage();
  const log = [];
  page.on('console', (msg) => log.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => log.push(`pageerror: ${err.message}`));
  page.setDefaultTimeout(STEP_MS);
  page.log = log;
  await page.goto(url);
  return page;
}

/** Waits for `fn` to be true in the page; on timeout, says what and shows the page's console. */
async function until(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: STEP_MS, polling: 100 });
  } catch (err) {
    const alerts = await page.locator('#alerts').innerText().catch(() => '');
    throw new Error(`${what}: ${err.message.split('\n')[0]}\n  alerts: ${alerts}\n  console:\n  ${page.log.slice(-15).join('\n  ')}`);
  }
}

async function join(page) {
  await page.getByRole('button', { name: 'Join the call' }).click();
  await until(page, 'joining', () => document.body.dataset.joined === 'true');
}

const tile = (name) => `#tiles .tile[data-name="${name}"]`;

/** The other member's tile is connected and its video shows decoded frames. */
async function seesVideo(page, name) {
  await until(
    page,
    `seeing ${name}'s video`,
    (selector) => {
      const node = document.querySelector(selector);
      return node?.dataset.state === 'connected' && node.querySelector('video').videoWidth > 0;
    },
    tile(name),
  );
}

/** Types a chat line with the keyboard alone, and checks that the other page shows it. */
async function chats(from, to, fromName, text) {
  await from.focus('#chat-input');
  await from.keyboard.type(text);
  await from.keyboard.press('Enter');
  await until(to, `chat "${text}" arriving`, ([who, line]) =>
    [...document.querySelectorAll('#messages li')].some((li) => li.textContent === `${who}:${line}`), [fromName, text]);
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Sends a 5 MiB file from one page; both bars reach 100% and the download has the same hash. */
async function sendsFile(from, to, name) {
  const bytes = randomBytes(FILE_BYTES);
  await from.setInputFiles('#file-input', { name, mimeType: 'application/octet-stream', buffer: bytes });
  const row = (direction, status) => `#transfers li[data-direction="${direction}"][data-name="${name}"][data-status="${status}"]`;
  await until(to, 'the file arriving', (s) => document.querySelector(s), row('receive', 'received'));
  await until(from, 'the receipt reaching the sender', (s) => document.querySelector(s), row('send', 'delivered'));
  for (const [page, direction, status] of [[from, 'send', 'delivered'], [to, 'receive', 'received']]) {
    const { value, max } = await page.$eval(`${row(direction, status)} progress`, (bar) => ({ value: bar.value, max: bar.max }));
    assert.equal(max, FILE_BYTES, `${direction} bar max`);
    assert.equal(value, FILE_BYTES, `${direction} bar at 100%`);
  }
  const link = to.locator(`${row('receive', 'received')} a[download]`);
  assert.equal(await link.getAttribute('download'), name);
  const digest = await link.evaluate(async (a) => {
    const data = await (await fetch(a.href)).arrayBuffer();
    return [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((b) => b.toString(16).padStart(2, '0')).join('');
  });
  assert.equal(digest, sha256(bytes), 'the downloaded file has the SHA-256 of the one sent');
}

/** Mutes with the keyboard on one page; the other page's tile for that person says so, then not. */
async function mutes(from, to, fromName, { camera = true } = {}) {
  await from.focus('#mic');
  await from.keyboard.press('Space');
  assert.equal(await from.getAttribute('#mic', 'aria-pressed'), 'true');
  await until(to, 'mute showing on the other side', (s) => document.querySelector(s)?.dataset.mic === 'muted', tile(fromName));
  assert.match(await to.locator(`${tile(fromName)} .mic`).innerText(), /muted/);
  if (camera) {
    await from.click('#cam');
    await until(to, 'camera off showing on the other side', (s) => document.querySelector(s)?.dataset.cam === 'off', tile(fromName));
    await from.click('#cam');
  }
  await from.click('#mic');
  await until(to, 'unmute showing on the other side', ([s, cam]) => {
    const node = document.querySelector(s);
    return node?.dataset.mic === 'on' && node.dataset.cam === cam;
  }, [tile(fromName), camera ? 'on' : 'off']);
}

/** Ada and Grace, each in a browser context of their own, joined to `room` without video and connected. */
async function audioCall(room) {
  const ada = await open(await browser.newContext(), { room, name: 'Ada', novideo: 'true' });
  const grace = await open(await browser.newContext(), { room, name: 'Grace', novideo: 'true' });
  await join(ada);
  await join(grace);
  await until(ada, 'connecting', (s) => document.querySelector(s)?.dataset.state === 'connected', tile('Grace'));
  return [ada, grace];
}

/** Waits until the chart under a member's tile has RTT samples from getStats(). */
async function chartsStats(page, name) {
  await until(page, `stats for ${name}`, (s) => document.querySelector(`${s} figure`)?.dataset.rtt > 0, tile(name));
}

/** The SDP both pages last negotiated: unchanged means no renegotiation happened. */
const descriptions = (page) =>
  page.evaluate(() => [...window.demo.room.peers.values()].map((peer) => `${peer.connection.localDescription.sdp}${peer.connection.remoteDescription.sdp}`));

const videoSize = (page, name) => page.$eval(`${tile(name)} video`, (video) => `${video.videoWidth}x${video.videoHeight}`);

/** Screen sharing and a camera switch reach the other side through replaceTrack alone. */
async function sharesAndSwitches(from, to, fromName) {
  const before = await descriptions(from);
  const camera = await videoSize(to, fromName);
  await from.getByRole('button', { name: 'Share screen' }).click();
  await until(to, 'the shared screen arriving', ([s, size]) => {
    const video = document.querySelector(`${s} video`);
    return document.querySelector(s).classList.contains('screen-share') && video.videoWidth > 0 && `${video.videoWidth}x${video.videoHeight}` !== size;
  }, [tile(fromName), camera]);
  await to.screenshot({ path: `${SHOTS}ws-screen-share.png` });
  await from.getByRole('button', { name: 'Stop sharing' }).click();
  // The camera's shape, not its size: a busy machine makes the encoder scale the camera down
  // (WebRTC's CPU adaptation), which keeps the aspect ratio.
  await until(to, `the camera coming back (${camera} before the share)`, ([s, size]) => {
    const video = document.querySelector(`${s} video`);
    const [width, height] = size.split('x').map(Number);
    return !document.querySelector(s).classList.contains('screen-share') && video.videoHeight > 0 && Math.abs(video.videoWidth / video.videoHeight - width / height) < 0.02;
  }, [tile(fromName), camera]);

  const options = await from.$$eval('#camera-select option', (list) => list.map((o) => ({ value: o.value, selected: o.selected })));
  assert.ok(options.length >= 2, 'two fake cameras to switch between');
  const other = options.find((o) => !o.selected).value;
  await from.selectOption('#camera-select', other);
  await until(from, 'the camera switching', (id) => window.demo.camera.getSettings().deviceId === id && window.demo.camera.readyState === 'live', other);
  await seesVideo(to, fromName);
  assert.deepEqual(await descriptions(from), before, 'no renegotiation for screen sharing or switching cameras');
}

async function hangsUp(leaver, stayer, leaverName) {
  await leaver.getByRole('button', { name: 'Hang up' }).click();
  await until(leaver, 'the ended screen', () => !document.getElementById('ended').hidden);
  await until(stayer, `${leaverName}'s tile going away`, (s) => !document.querySelector(s), tile(leaverName));
}

/** A whole call between two pages, checked from both sides. */
/** Both tiles show the same six-digit verification code, derived from the two DTLS fingerprints. */
async function sameCode(ada, grace) {
  const code = async (page, name) => {
    await until(page, `${name}'s verification code`, (s) => document.querySelector(s)?.dataset.sas, tile(name));
    return page.$eval(tile(name), (node) => node.dataset.sas);
  };
  const [seenByAda, seenByGrace] = [await code(ada, 'Grace'), await code(grace, 'Ada')];
  assert.match(seenByAda, /^\d{6}$/);
  assert.equal(seenByAda, seenByGrace);
  assert.match(await ada.locator(`${tile('Grace')} .sas`).innerText(), /^code \d{3} \d{3}$/);
}

async function call(ada, grace, label, extra = async () => {}) {
  await join(ada);
  await join(grace);
  await seesVideo(ada, 'Grace');
  await seesVideo(grace, 'Ada');
  await sameCode(ada, grace);
  await chats(ada, grace, 'Ada', 'hello from Ada');
  await chats(grace, ada, 'Grace', 'hi Ada, Grace here');
  await sendsFile(ada, grace, `${label}-5MiB.bin`);
  await chartsStats(ada, 'Grace');
  await ada.screenshot({ path: `${SHOTS}${label}-ada.png` });
  await grace.screenshot({ path: `${SHOTS}${label}-grace.png` });
  await mutes(ada, grace, 'Ada');
  await extra();
  await hangsUp(grace, ada, 'Grace');
  await ada.screenshot({ path: `${SHOTS}${label}-after-hangup.png` });
}

describe('demo page', { timeout: TEST_MS * 6 }, () => {
  test('two people over the signaling server see each other, chat, send a 5 MiB file, mute, share the screen, switch cameras and hang up', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    const ada = await open(await browser.newContext({ viewport: { width: 1280, height: 800 } }), { room: 'e2e-ws', name: 'Ada' });
    const grace = await open(await browser.newContext({ viewport: { width: 1280, height: 800 } }), { room: 'e2e-ws', name: 'Grace' });
    await until(ada, 'the transport line', () => document.getElementById('transport').textContent.includes('server ws://'));
    await call(ada, grace, 'ws', () => sharesAndSwitches(ada, grace, 'Ada'));
    await ada.context().close();
    await grace.context().close();
  });

  test('a file sent through the panel pauses, resumes after the receiver reloads, and a rebuilt connection keeps the tile', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    const [ada, grace] = await audioCall('e2e-files');
    const name = 'resume-48MiB.bin';
    const bytes = randomBytes(48 * 2 ** 20);
    const row = (direction, status) => `#transfers li[data-direction="${direction}"][data-name="${name}"]${status ? `[data-status="${status}"]` : ''}`;
    // From disk: 48 MiB passed as a buffer crosses the DevTools protocol, which took over 20 s under load.
    const path = joinPath(await mkdtemp(joinPath(tmpdir(), 'peerkit-demo-')), name);
    await writeFile(path, bytes);
    await ada.setInputFiles('#file-input', path);
    // Paused as soon as the first blocks are verified, so the reload lands mid-file.
    await until(ada, 'the first verified blocks, then pause', (s) => {
      const node = document.querySelector(s);
      if (!(node?.querySelector('progress').value > 0)) return false;
      [...node.querySelectorAll('button')].find((b) => b.textContent === 'Pause').click();
      return true;
    }, row('send'));
    await until(grace, 'the pause reaching the receiver', (s) => document.querySelector(s), row('receive', 'paused'));
    await until(ada, 'the Resume button', (s) => [...document.querySelectorAll(`${s} button`)].some((b) => b.textContent === 'Resume'), row('send', 'paused'));
    await grace.reload();
    await join(grace);
    // Ada's page offers the file again to the Grace who came back, and it resumes from OPFS.
    await until(grace, 'the file arriving after the reload', (s) => document.querySelector(s), row('receive', 'received'));
    await until(ada, 'the delivery after the reload', (s) => document.querySelector(s), row('send', 'delivered'));
    const resumedFrom = Number(await grace.$eval(row('receive', 'received'), (node) => node.dataset.resumedFrom ?? 0));
    assert.ok(resumedFrom > 0, 'the transfer resumed from the blocks kept in OPFS');
    const digest = await grace.locator(`${row('receive', 'received')} a[download]`).evaluate(async (a) => {
      const data = await (await fetch(a.href)).arrayBuffer();
      return [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((b) => b.toString(16).padStart(2, '0')).join('');
    });
    assert.equal(digest, sha256(bytes), 'the resumed file has the SHA-256 of the one sent');
    // A connection closed under the Room is rebuilt: the same tile, connected again, nobody twice.
    await until(ada, 'Grace connected again', (s) => document.querySelector(s)?.dataset.state === 'connected', tile('Grace'));
    await ada.evaluate(() => [...window.demo.room.peers.values()][0].connection.close());
    await until(ada, 'the rebuild said', () => [...document.querySelectorAll('#messages li')].some((li) => li.textContent.startsWith('Reconnecting to Grace')));
    await until(ada, 'the rebuilt Peer connected on the same tile', (s) => document.querySelector(s)?.dataset.state === 'connected', tile('Grace'));
    assert.equal(await ada.locator('#tiles .tile').count(), 2, 'self and Grace, nobody twice');
    await chats(grace, ada, 'Grace', 'back again');
    await ada.context().close();
    await grace.context().close();
  });

  test('with no server (plain static hosting) two tabs call over BroadcastChannel, and the page says so', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // What static hosting looks like: no signal.json next to the page.
    await context.route('**/signal.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
    const ada = await open(context, { room: 'e2e-tabs', name: 'Ada' });
    const grace = await open(context, { room: 'e2e-tabs', name: 'Grace' });
    await until(ada, 'the transport line', () => /BroadcastChannel \(no signaling server found/.test(document.getElementById('transport').textContent));
    await call(ada, grace, 'broadcast');
    await context.close();
  });

  test('a room link without ?room= gets a fresh room name that a second person can use', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    const context = await browser.newContext();
    const first = await open(context, { name: 'Ada', novideo: 'true' });
    const link = await first.inputValue('#link');
    assert.match(new URL(link).searchParams.get('room'), /^[a-z]+-[a-z]+-\d+$/);
    await join(first);
    const second = await browser.newContext();
    const page = await openUrl(second, link.replace('name=Ada', 'name=Grace'));
    await join(page);
    // Audio only: the tile shows initials, and the call connects.
    await until(page, 'the audio-only call connecting', (s) => document.querySelector(s)?.dataset.state === 'connected', tile('Ada'));
    assert.equal(await page.locator(`${tile('Ada')} .avatar`).isVisible(), true);
    assert.equal(await first.locator('#camera-select').isVisible(), false, 'no camera picker without a camera');
    await context.close();
    await second.close();
  });

  test('after the signaling server restarts mid-call, the call, chat and mute state carry on with no duplicate tiles', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    const [ada, grace] = await audioCall('e2e-restart');
    const ids = await ada.evaluate(() => [...window.demo.room.peers.keys()]);
    await demo.restartSignaling();
    // Members come back under new ids, with the same Peers.
    await until(ada, 'the room re-joining', (before) => {
      const now = [...window.demo.room.peers.keys()];
      return window.demo.room.state === 'joined' && now.length === 1 && now[0] !== before[0];
    }, ids);
    await until(ada, 'the transport line back to the server', () => document.getElementById('transport').dataset.kind === 'ws');
    await chats(ada, grace, 'Ada', 'still here?');
    await chats(grace, ada, 'Grace', 'yes, same call');
    await mutes(grace, ada, 'Grace', { camera: false });
    assert.equal(await ada.locator('#tiles .tile').count(), 2, 'self and Grace, nobody twice');
    assert.equal(await grace.locator('#tiles .tile').count(), 2);
    await ada.context().close();
    await grace.context().close();
  });

  test('camera permission denied shows a readable error, and joining without media still works', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    // Without the fake-UI flag, headless Chromium refuses the permission prompt: a real denial.
    const strict = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream') });
    try {
      const page = await open(await strict.newContext(), { room: 'e2e-denied', name: 'Ada' });
      await page.getByRole('button', { name: 'Join the call' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = await alert.innerText();
      assert.match(text, /Camera or microphone unavailable/);
      assert.match(text, /Access to the camera or microphone was denied\. Allow it in the site settings/);
      assert.equal(await page.evaluate(() => document.body.dataset.error), 'PERMISSION_DENIED');
      await page.screenshot({ path: `${SHOTS}permission-denied.png` });
      await page.getByRole('button', { name: 'Join without camera and microphone' }).click();
      await until(page, 'joining without media', () => document.body.dataset.joined === 'true');
    } finally {
      await strict.close();
    }
  });

  test('an unreachable server and a full room show readable errors', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    const context = await browser.newContext();
    const lost = await open(context, { room: 'e2e-lost', name: 'Ada', novideo: 'true', signal: 'ws://127.0.0.1:9' });
    await lost.getByRole('button', { name: 'Join the call' }).click();
    await lost.getByRole('alert').waitFor();
    assert.match(await lost.getByRole('alert').innerText(), /Cannot reach the signaling server\.\s+Nothing answered at ws:\/\/127\.0\.0\.1:9/);
    assert.equal(await lost.getByRole('button', { name: 'Use tabs of this browser' }).isVisible(), true);

    const small = await startDemo({ port: 0, signaling: { maxMembers: 1 } });
    try {
      const first = await open(context, { room: 'e2e-full', name: 'Ada', novideo: 'true' }, small.url);
      await join(first);
      const second = await open(context, { room: 'e2e-full', name: 'Grace', novideo: 'true' }, small.url);
      await second.getByRole('button', { name: 'Join the call' }).click();
      await second.getByRole('alert').waitFor();
      assert.match(await second.getByRole('alert').innerText(), /Room “e2e-full” is full/);
      assert.equal(await second.evaluate(() => document.body.dataset.error), 'ROOM_FULL');
      await second.screenshot({ path: `${SHOTS}room-full.png` });
    } finally {
      await context.close();
      await small.close();
    }
  });

  test('a page served over plain http from a LAN address says it needs https, and can join without media', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    // The namespace's veth address (scripts/netns.sh) is not loopback, so the page is insecure.
    if (process.env.PEERKIT_NETNS !== 'inside') return t.skip('needs the private network namespace (bash scripts/netns.sh, as root)');
    const lan = await startDemo({ port: 0, host: '198.18.7.1' });
    const context = await browser.newContext();
    try {
      const page = await open(context, { room: 'e2e-insecure', name: 'Ada' }, lan.url);
      assert.equal(await page.evaluate(() => isSecureContext), false);
      await page.getByRole('button', { name: 'Join the call' }).click();
      await page.getByRole('alert').waitFor();
      assert.match(await page.getByRole('alert').innerText(), /can only be used on a secure page: open it over https:\/\/, or on http:\/\/localhost/);
      assert.equal(await page.evaluate(() => document.body.dataset.error), 'INSECURE_CONTEXT');
      await page.getByRole('button', { name: 'Join without camera and microphone' }).click();
      await until(page, 'joining without media', () => document.body.dataset.joined === 'true');
    } finally {
      await context.close();
      await lan.close();
    }
  });

  test('on a phone-width screen nothing scrolls sideways, and every control has a name', { timeout: TEST_MS }, async (t) => {
    if (skip) return t.skip(skip);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await open(context, { room: 'e2e-phone', name: 'Ada' });
    await join(page);
    await until(page, 'the self view playing', () => document.querySelector('.tile.self video').videoWidth > 0);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('button, select, input, a[href]')]
        .filter((node) => node.offsetParent !== null)
        .filter((node) => !(node.labels?.length || node.getAttribute('aria-label') || node.textContent.trim()))
        .map((node) => node.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unnamed, []);
    await page.screenshot({ path: `${SHOTS}phone.png`, fullPage: true });
    await context.close();
  });
});
