// publish() against a WHIP server the project did not write: Meetecho's simple-whip-server
// (Debian's `simple-whip-server`, Node, on Janus's VideoRoom), in Chromium and in Firefox. It
// answers with a relative Location, Link ice-server headers and no exposed ETag, and refuses a
// wrong token with 403. Found at PEERKIT_SIMPLE_WHIP_SERVER, else /usr/share/simple-whip-server
// (the installed package), else node_modules/.cache/simple-whip-server, where
// scripts/simple-whip-server.sh (run by scripts/setup.sh) unpacks an `apt-get download` of it
// because installing it would replace the project's Node with Debian's. Its Node dependencies
// (express, cors, async, colors, debug, body-parser, websocket) come from tools/node_modules,
// pinned in tools/package-lock.json, then NODE_PATH, then Debian's /usr/share/nodejs.
// play() against a WHEP server the project did not write either: Meetecho's janus-whep-server
// (npm, on Janode), subscribing to that VideoRoom publisher with a server-sent offer (406, the
// answer PATCHed back). It comes from tools/node_modules too.
// Run: bash scripts/netns.sh node --test test/node/whip-interop.test.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { JanusConnection, VideoRoomHandle } from '../../server/dist/sfu/janus.js';
import { CHROMIUM_PATH, FIREFOX_PATH } from '../../scripts/browsers.mjs';
import { NETNS_ADDRESS } from '../../scripts/coturn.mjs';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { freePort } from '../../scripts/redis.mjs';
import { launchChromium, launchFirefox, missing, side } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, 'tools/node_modules');
const SWS =
  process.env.PEERKIT_SIMPLE_WHIP_SERVER ??
  ['/usr/share/simple-whip-server', join(ROOT, 'node_modules/.cache/simple-whip-server/usr/share/simple-whip-server')].find((dir) => existsSync(join(dir, 'src/server.js'))) ??
  '/usr/share/simple-whip-server';
const TOKEN = 'sws-token';
const STEP_MS = 30000;

const skip =
  janusMissing() ??
  (existsSync(join(SWS, 'src/server.js')) ? undefined : `simple-whip-server is not at ${SWS} (bash scripts/simple-whip-server.sh, or set PEERKIT_SIMPLE_WHIP_SERVER)`) ??
  (existsSync(join(TOOLS, 'websocket')) || existsSync('/usr/share/nodejs/websocket') ? undefined : `simple-whip-server's Node dependencies are not in ${TOOLS} (npm ci --prefix tools)`) ??
  (await missing(CHROMIUM_PATH)) ??
  (await missing(FIREFOX_PATH));

const WHEP_SERVER = join(TOOLS, 'janus-whep-server/src/whep.js');
const skipWhep = skip ?? (existsSync(WHEP_SERVER) ? undefined : `janus-whep-server is not at ${WHEP_SERVER} (npm ci --prefix tools)`);

let base;
let whep;
let whepBase;
let control;
let files;
const cleanup = [];

/** The VideoRoom's publishers, from Janus. */
async function publishers(room) {
  const { data } = await control.message({ request: 'listparticipants', room });
  return (data.participants ?? []).filter((p) => p.publisher);
}

async function until(what, check, ms = 15000) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
    if (await check()) return;
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

before(async () => {
  if (skip) return;
  const janus = await startJanus();
  cleanup.push(janus.stop);
  const connection = new JanusConnection(janus.url, undefined, () => undefined);
  await connection.connect();
  cleanup.push(async () => connection.close());
  control = await VideoRoomHandle.open(connection, () => undefined);

  // The server reads ./config.js beside its sources and serves ./web: run a copy with our config.
  const scratch = mkdtempSync(join(tmpdir(), 'peerkit-sws-'));
  cleanup.push(async () => rmSync(scratch, { recursive: true, force: true }));
  cpSync(join(SWS, 'src'), join(scratch, 'src'), { recursive: true, dereference: false, filter: (path) => !path.endsWith('config.js') });
  const port = await freePort();
  writeFileSync(
    join(scratch, 'src/config.js'),
    `module.exports = ${JSON.stringify({ janus: { address: janus.url }, port, rest: '/whip', allowTrickle: true, strictETags: false, iceServers: [] })};`,
  );
  const nodePath = [TOOLS, process.env.NODE_PATH, '/usr/share/nodejs'].filter(Boolean).join(':');
  const child = spawn(process.execPath, ['src/server.js'], { cwd: scratch, env: { ...process.env, NODE_PATH: nodePath }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  cleanup.push(async () => child.kill());
  base = `http://127.0.0.1:${port}`;
  await until(`simple-whip-server starting (${output.slice(-500)})`, () => fetch(`${base}/whip/healthcheck`).then((r) => r.ok, () => false));
  if (!skipWhep) {
    const { JanusWhepServer } = await import(pathToFileURL(WHEP_SERVER).href);
    // The Janode that janus-whep-server imports: its logger prints every Janus message otherwise.
    const { default: janode } = await import(pathToFileURL(join(TOOLS, 'janode/src/janode.js')).href);
    janode.Logger.setLevel('error');
    const whepPort = await freePort();
    whep = await new JanusWhepServer({ janus: { address: janus.url }, rest: { port: whepPort, basePath: '/whep' }, iceServers: [], debug: 'err' }).start();
    // destroy() ends its Janus session but not the connection, which would then redial the
    // stopped Janus forever.
    const connection = whep.janus.connection;
    cleanup.push(async () => {
      try {
        await whep.destroy();
      } finally {
        await connection.close();
      }
    });
    whepBase = `http://127.0.0.1:${whepPort}`;
  }
  files = await startStatic(['/dist/', '/test/cross/']);
  cleanup.push(files.close);
});

after(async () => {
  for (const close of cleanup.reverse()) await close().catch(() => {});
});

for (const [engine, launch] of [['chromium', launchChromium], ['firefox', launchFirefox]]) {
  test(`${engine}: publish() to simple-whip-server reaches Janus's VideoRoom; a wrong token is UNAUTHORIZED; close() DELETEs`, { skip }, async () => {
    const room = 1000 + Math.floor(Math.random() * 1e6);
    await control.message({ request: 'create', room, publishers: 4, is_private: true });
    const id = `peerkit-${engine}`;
    // A Link header with a STUN server on our own address: parsed into the session's ICE servers.
    const create = await fetch(`${base}/whip/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, room, token: TOKEN, iceServers: [{ uri: `stun:${NETNS_ADDRESS}:3478` }] }),
    });
    assert.equal(create.status, 200);
    const browser = await launch();
    try {
      const page = side(engine, await browser.newPage(), 'whip', STEP_MS);
      await page.page.goto(`${files.base}/test/cross/whip-page.html`, { timeout: STEP_MS });
      const url = `${base}/whip/endpoint/${id}`;
      const refused = await page.page.evaluate((u) => PeerKit.publish(u, new MediaStream([document.createElement('canvas').captureStream().getVideoTracks()[0]]), { token: 'wrong' }).then(() => 'published', (e) => e.code), url);
      assert.equal(refused, 'UNAUTHORIZED');
      assert.equal(await page.call('publish', url, TOKEN), 'connected');
      await until('the publisher appearing in the VideoRoom', async () => (await publishers(room)).length === 1);
      assert.equal(await page.call('close'), 'closed');
      await until('the publisher leaving the VideoRoom', async () => (await publishers(room)).length === 0);
    } finally {
      await browser.close();
    }
  });

  test(`${engine}: play() from janus-whep-server gets the VideoRoom publisher's video through a server-sent offer; a wrong token is UNAUTHORIZED`, { skip: skipWhep }, async () => {
    const room = 1000 + Math.floor(Math.random() * 1e6);
    await control.message({ request: 'create', room, publishers: 4, is_private: true });
    const id = `peerkit-whep-${engine}`;
    const create = await fetch(`${base}/whip/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, room, token: TOKEN }) });
    assert.equal(create.status, 200);
    const browser = await launch();
    try {
      const publisher = side(engine, await browser.newPage(), 'whip', STEP_MS);
      await publisher.page.goto(`${files.base}/test/cross/whip-page.html`, { timeout: STEP_MS });
      assert.equal(await publisher.call('publish', `${base}/whip/endpoint/${id}`, TOKEN), 'connected');
      let feed;
      await until('the publisher appearing in the VideoRoom', async () => (feed = (await publishers(room))[0]?.id) !== undefined);
      whep.createEndpoint({ id, plugin: 'videoroom', room, feed, token: TOKEN });
      const player = side(engine, await browser.newPage(), 'whip', STEP_MS);
      await player.page.goto(`${files.base}/test/cross/whip-page.html`, { timeout: STEP_MS });
      const url = `${whepBase}/whep/endpoint/${id}`;
      const refused = await player.page.evaluate((u) => PeerKit.play(u, { token: 'wrong' }).then(() => 'played', (e) => e.code), url);
      assert.equal(refused, 'UNAUTHORIZED');
      assert.equal(await player.call('play', url, TOKEN), 'connected');
      assert.ok((await player.call('growth', 'video', 'framesDecoded', 2000)) > 0, 'no video frames decoded from the WHEP server');
      assert.equal(whep.getEndpoint({ id }).subscribers.size, 1);
      assert.equal(await player.call('close'), 'closed');
      await until('the WHEP subscriber being torn down', () => whep.getEndpoint({ id }).subscribers.size === 0);
      assert.equal(await publisher.call('close'), 'closed');
    } finally {
      await browser.close();
    }
  });
}
