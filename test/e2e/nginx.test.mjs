// The deployment as documented: Debian's nginx with deploy/nginx/peerkit-signal.conf terminating
// TLS (a self-signed certificate openssl makes here) in front of two peerkit-signal instances
// sharing rooms through a real redis-server, browsers connecting with wss://.
// Chromium takes the certificate with --ignore-certificate-errors; Firefox through WebDriver
// BiDi's acceptInsecureCerts, which covers WebSocket connections too.
// Run inside the namespace: bash scripts/netns.sh node --test test/e2e/nginx.test.mjs
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, FIREFOX_PATH, FIREFOX_PREFS } from '../../scripts/browsers.mjs';
import { nginxMissing, startNginx } from '../../scripts/nginx.mjs';
import { redisMissing, startRedis } from '../../scripts/redis.mjs';
import { missing, side } from '../support/pages.mjs';
import { roomName } from '../support/names.mjs';
import { startStatic } from '../support/servers.mjs';
import { startSignalCli } from '../support/signal-cli.mjs';
import { sleep, until, within } from '../support/wait.mjs';

const STEP_MS = 20000;
const DRAIN_MS = 3000;

let skipReason;
let redis;
let files;
let proxy;
let chrome;
const instances = [];
const cleanup = [];

/** The namespace's own address: a browser reaching nginx there is not 127.0.0.1, so X-Forwarded-For shows. */
function outsideAddress() {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry.family === 'IPv4' && !entry.internal);
  return found?.address;
}

/** A peerkit-signal process behind nginx; its log entries are kept. */
async function instance(name) {
  const { child, listening } = startSignalCli(['--port', '0', '--redis', redis.url, '--trust-proxy', '1', '--drain-ms', String(DRAIN_MS)]);
  cleanup.push(() => child.kill('SIGKILL'));
  const entries = [];
  let rest = '';
  child.stderr.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) if (line.startsWith('{')) entries.push(JSON.parse(line));
  });
  const { port } = await within(10000, listening, 'starting peerkit-signal');
  return { name, child, port, entries, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

before(async () => {
  skipReason = (await missing(CHROMIUM_PATH)) ?? redisMissing() ?? nginxMissing();
  if (skipReason) return;
  redis = await startRedis();
  cleanup.push(() => redis.stop());
  instances.push(await instance('a'), await instance('b'));
  proxy = await startNginx(instances.map((i) => i.port));
  cleanup.push(() => proxy.stop());
  files = await startStatic(['/dist/', '/test/e2e/']);
  cleanup.push(files.close);
  chrome = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'] });
  cleanup.push(() => chrome.close());
});

after(async () => {
  for (const close of cleanup.reverse()) await within(15000, Promise.resolve().then(close), 'cleanup').catch(() => {});
});

/** The nginx URL at the namespace's outside address. */
function signalUrl() {
  return proxy.url.replace('127.0.0.1', outsideAddress() ?? '127.0.0.1');
}

/** In a page: joins `room` over a raw WebSocket, resolves with the `joined` frame. */
function rawJoin([url, room]) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => ws.send(JSON.stringify({ v: 1, type: 'join', room }));
    ws.onmessage = (event) => resolve(JSON.parse(event.data));
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  });
}

test('Chromium and Firefox join through nginx over wss:// with a self-signed certificate; X-Forwarded-For reaches the logs', { timeout: 120000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const address = outsideAddress();
  if (address === undefined) return t.skip('no non-loopback address to tell the proxy from the client (run inside scripts/netns.sh)');
  const room = roomName('tls');
  const chromePage = await (await chrome.newContext()).newPage();
  await chromePage.goto(`${files.base}/test/e2e/room.html`);
  const fromChrome = await chromePage.evaluate(rawJoin, [signalUrl(), room]);
  assert.equal(fromChrome.type, 'joined');
  const firefoxMissing = await missing(FIREFOX_PATH);
  let fromFirefox;
  if (firefoxMissing === undefined) {
    const firefox = await within(60000, puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: FIREFOX_PREFS, acceptInsecureCerts: true }), 'launching Firefox');
    t.after(() => firefox.close());
    const page = await firefox.newPage();
    await page.goto(`${files.base}/test/e2e/room.html`);
    fromFirefox = await within(STEP_MS, page.evaluate(rawJoin, [signalUrl(), room]), 'Firefox joining over wss://');
    assert.equal(fromFirefox.type, 'joined');
    assert.deepEqual(fromFirefox.members, [fromChrome.id], 'both in one room, whichever instance each reached');
  } else {
    t.diagnostic(`Firefox part skipped: ${firefoxMissing}`);
  }
  const joins = () => instances.flatMap((i) => i.entries.filter((e) => e.event === 'join'));
  await until('the joins are logged', () => joins().length >= (fromFirefox ? 2 : 1));
  for (const entry of joins()) assert.equal(entry.remote, address, `the browser's address from X-Forwarded-For, not nginx's 127.0.0.1 (${JSON.stringify(entry)})`);
});

test('a Room of 3 across two instances behind nginx; SIGTERM one: its members move to the other within --drain-ms + 1 s, data never stops, no one leaves', { timeout: 180000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const room = roomName('drain');
  const pages = [];
  for (const name of ['p1', 'p2', 'p3']) {
    const context = await chrome.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`${files.base}/test/e2e/room.html`, { timeout: STEP_MS });
    const handle = side(name, page, 'e2e', STEP_MS);
    handle.id = await handle.call('join', room, 'ws', signalUrl());
    pages.push(handle);
  }
  for (const page of pages) assert.equal((await page.call('connected', 2, STEP_MS)).length, 2);
  const where = (id) => instances.find((i) => i.entries.some((e) => e.event === 'join' && e.id === id));
  await until('every join is logged', () => pages.every((p) => where(p.id) !== undefined));
  // nginx balances round robin, so both instances hold members; the busier one is stopped.
  const stopped = instances.reduce((most, i) => (pages.filter((p) => where(p.id) === i).length > pages.filter((p) => where(p.id) === most).length ? i : most));
  const moving = pages.filter((p) => where(p.id) === stopped);
  t.diagnostic(`instance ${stopped.name} holds ${moving.map((p) => p.name).join(', ')}; the other ${pages.length - moving.length}`);
  assert.ok(moving.length > 0 && moving.length < 3, 'members on both instances');

  // Every page sends every 100 ms; every 250 ms each page must have received more than before.
  for (const page of pages) await page.page.evaluate(() => setInterval(() => window.e2e.send(`tick ${Date.now()}`), 100));
  const count = async (page) => (await page.call('received', 0, 10)).length;
  const sigterm = Date.now();
  stopped.child.kill('SIGTERM');
  const health = await fetch(`http://127.0.0.1:${stopped.port}/healthz`);
  assert.equal(health.status, 503, '/healthz fails at once');
  let last = await Promise.all(pages.map(count));
  let moved;
  while (Date.now() - sigterm < DRAIN_MS + 4000) {
    await sleep(250);
    const now = await Promise.all(pages.map(count));
    now.forEach((n, i) => assert.ok(n > last[i], `${pages[i].name} received nothing for 250 ms at ${Date.now() - sigterm} ms after SIGTERM`));
    last = now;
    if (moved === undefined) {
      const done = await Promise.all(moving.map((p) => p.page.evaluate(() => window.e2e.rejoined(0).then(() => true, () => false))));
      if (done.every(Boolean)) moved = Date.now() - sigterm;
    }
  }
  assert.equal(await stopped.exited, 0, 'the stopped instance exits 0');
  assert.ok(moved !== undefined, 'the members of the stopped instance re-joined');
  t.diagnostic(`moved ${moved} ms after SIGTERM (drain ${DRAIN_MS} ms)`);
  assert.ok(moved <= DRAIN_MS + 1000, `moved within --drain-ms + 1 s, took ${moved} ms`);
  for (const page of moving) assert.equal((await page.call('rejoined', STEP_MS)).samePeers, true, `${page.name} kept its Peers`);
  for (const page of pages) assert.deepEqual(await page.call('leftIds', 0, 10), [], `${page.name}: no one left`);
  for (const page of pages) await page.call('leave');
});
