// The cost of end-to-end encrypted SFU media: a sending and a receiving browser (one process
// tree each, so each one's CPU time is its own; Chromium, then Firefox), one SFU Room with a secret, 640x480 30 fps video plus
// Opus audio, measured with E2EE (SFrame in a worker) and without it (`e2ee: false`), alternately.
// Prints CPU time per second of each side and the end-to-end frame latency (the send time painted
// into each frame, read back from each decoded one), and the ratios. A report, not a test.
//
//   node bench/e2ee.mjs     (re-runs itself inside scripts/netns.sh; needs Debian's janus and a build)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { createSignalingServer } from '../server/dist/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, FIREFOX_PATH, FIREFOX_PREFS } from '../scripts/browsers.mjs';
import { startJanus } from '../scripts/janus.mjs';
import { startStatic } from '../test/support/servers.mjs';
import { processes } from './proc.mjs';

if (!process.env.PEERKIT_NETNS) {
  const script = fileURLToPath(new URL('../scripts/netns.sh', import.meta.url));
  const child = spawnSync('bash', [script, process.execPath, fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const WINDOW_MS = Number(process.env.PEERKIT_BENCH_WINDOW_MS ?? 10000);
// Congestion control ramps the video up over seconds; measure past the ramp.
const WARMUP_MS = Number(process.env.PEERKIT_BENCH_WARMUP_MS ?? 8000);
const ROUNDS = Number(process.env.PEERKIT_BENCH_ROUNDS ?? 2);
const ENGINES = (process.env.PEERKIT_BENCH_ENGINES ?? 'chromium,firefox').split(',');

const children = () => new Set([...processes()].filter(([, { ppid }]) => ppid === process.pid).map(([pid]) => pid));

/** CPU seconds used so far by the process tree under `root`. */
function treeCpu(root) {
  const stats = processes();
  let total = 0;
  for (const [pid, { cpu }] of stats) {
    for (let p = pid; p !== undefined && p > 1; p = stats.get(p)?.ppid) {
      if (p === root) {
        total += cpu;
        break;
      }
    }
  }
  return total;
}

/** Launches Debian's Chromium (Playwright) or Firefox ESR (Puppeteer) and finds the root of its process tree. */
async function launch(engine) {
  const before = children();
  const browser =
    engine === 'firefox'
      ? await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: FIREFOX_PREFS })
      : await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const [root] = [...children()].filter((pid) => !before.has(pid));
  if (root === undefined) throw new Error('could not find the browser process');
  return { browser, root };
}

const janus = await startJanus();
const server = createSignalingServer({ logger: false, janus: [janus.url] });
const signal = `ws://127.0.0.1:${(await server.listen(0)).port}`;
const files = await startStatic(['/dist/', '/bench/']);
/** Both rooms, `ROUNDS` times, in `engine`: the figures of each run, with E2EE and without. */
async function measure(engine) {
  const sending = await launch(engine);
  const receiving = await launch(engine);
  const results = { e2ee: [], plain: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const e2ee of [false, true]) results[e2ee ? 'e2ee' : 'plain'].push(await run(engine, sending, receiving, `bench-e2ee-${engine}-${round}-${e2ee}`, e2ee));
    }
  } finally {
    await sending.browser.close();
    await receiving.browser.close();
  }
  return results;
}

/** One room: the sender publishes, the receiver plays; CPU, frame rate and latency over the window. */
async function run(engine, sending, receiving, room, e2ee) {
  const pages = [];
  for (const side of [sending, receiving]) {
    const page = await side.browser.newPage();
    await page.goto(`${files.base}/bench/e2ee-page.html`);
    pages.push(page);
  }
  const media = [];
  for (const [i, page] of pages.entries()) media.push(await page.evaluate(([url, name, send, on]) => window.bench.join(url, name, send, on), [signal, room, i === 0, e2ee]));
  if (media.some((m) => m !== (e2ee ? 'e2ee' : 'hop-by-hop'))) throw new Error(`expected ${e2ee ? 'e2ee' : 'hop-by-hop'}, got ${media}`);
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  const receiver = pages[1];
  await receiver.evaluate(() => window.bench.resetLatency());
  const frames = await receiver.evaluate(() => window.bench.decoded());
  const cpu = [treeCpu(sending.root), treeCpu(receiving.root)];
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const seconds = WINDOW_MS / 1000;
  const row = {
    sender: (treeCpu(sending.root) - cpu[0]) / seconds,
    receiver: (treeCpu(receiving.root) - cpu[1]) / seconds,
    fps: ((await receiver.evaluate(() => window.bench.decoded())) - frames) / seconds,
    latency: await receiver.evaluate(() => window.bench.latency()),
    received: await receiver.evaluate(() => window.bench.received()),
  };
  console.error(
    `${engine}, ${e2ee ? 'E2EE' : 'hop-by-hop'}: sender ${row.sender.toFixed(3)} CPU s/s, receiver ${row.receiver.toFixed(3)} CPU s/s, ` +
      `${row.fps.toFixed(1)} fps decoded at ${row.received.size}, ${row.received.audio} audio packets in all, latency median ${row.latency.median} ms over ${row.latency.frames} frames`,
  );
  for (const page of pages) await page.evaluate(() => window.bench.leave());
  for (const page of pages) await page.close();
  return row;
}

const byEngine = new Map();
try {
  for (const engine of ENGINES) byEngine.set(engine, await measure(engine));
} finally {
  await files.close();
  await server.close();
  await janus.stop();
}

const mean = (rows, pick) => rows.reduce((sum, row) => sum + pick(row), 0) / rows.length;
const figures = (rows) => ({
  sender: mean(rows, (r) => r.sender),
  receiver: mean(rows, (r) => r.receiver),
  fps: mean(rows, (r) => r.fps),
  latency: mean(rows, (r) => r.latency.median),
});
const line = (label, a, b, digits) => console.log(`${label.padEnd(22)} ${a.toFixed(digits).padStart(10)} ${b.toFixed(digits).padStart(9)} ${(b / a).toFixed(2).padStart(8)}`);
for (const [engine, results] of byEngine) {
  const on = figures(results.e2ee);
  const off = figures(results.plain);
  console.log(`\n${engine}: end-to-end encrypted SFU media (SFrame in a worker) against hop-by-hop, 640x480 30 fps video + Opus, ${ROUNDS} rounds of ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s`);
  console.log('                        hop-by-hop      E2EE     ratio');
  line('sender CPU s/s', off.sender, on.sender, 3);
  line('receiver CPU s/s', off.receiver, on.receiver, 3);
  line('frames decoded /s', off.fps, on.fps, 1);
  line('frame latency ms', off.latency, on.latency, 1);
  console.log(`added end-to-end frame latency: ${(on.latency - off.latency).toFixed(1)} ms (median per run, averaged)`);
}
