// peerkit against a hand-wired RTCPeerConnection pair in the same page and the same run, printed
// as ratios so the figures mean the same on a slow CI box and a fast laptop, in Chromium and in
// Firefox, with simple-peer's figures from the same page beside ours. A report, not a test: it
// exits 0 whether or not a target is met, and says PASS or FAIL for each.
//
//   node bench/run.mjs          (re-runs itself inside scripts/netns.sh)
//   PEERKIT_BENCH_RUNS=10 node bench/run.mjs
//   PEERKIT_BENCH_BROWSERS=firefox PEERKIT_BENCH_PARTS=rtt,bulk PEERKIT_BENCH_BULK_RUNS=9 node bench/run.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/browsers.mjs';
import { launchFirefox } from '../test/support/pages.mjs';
import { startStatic } from '../test/support/servers.mjs';
import { within as withinMs } from '../test/support/wait.mjs';
import { measureSizes } from './size.mjs';

if (!process.env.PEERKIT_NETNS) {
  // Browsers gather candidates on every interface; the namespace keeps every packet on this machine.
  const script = fileURLToPath(new URL('../scripts/netns.sh', import.meta.url));
  const child = spawnSync('bash', [script, process.execPath, fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const TTFM_RUNS = Number(process.env.PEERKIT_BENCH_RUNS ?? 30);
const TTFM_WARMUP = 3;
// Single 64 MiB runs vary by a fifth on a 2-core machine; the median of 9 moves by a few per cent.
const BULK_RUNS = Number(process.env.PEERKIT_BENCH_BULK_RUNS ?? 9);
const BULK_BYTES = 64 << 20;
const MiB = 1 << 20;
const RTT_WARMUP = 300;
const RTT_ROUNDS = 10;
const RTT_PER_ROUND = 300;
const RTT_KINDS = ['raw', 'peerkit', 'simple-peer'];
const BROWSERS = (process.env.PEERKIT_BENCH_BROWSERS ?? 'chromium,firefox').split(',');
const PARTS = (process.env.PEERKIT_BENCH_PARTS ?? 'size,rtt,ttfm,mesh,bulk').split(',');
// Raw floors tried: the 64 KiB chunks most guides use under a 64 KiB and a 1 MiB high-water mark,
// Chrome's 256 KiB maximum under 1 MiB, and 256 KiB chunks under 4 MiB (Chrome refuses sends past
// a 16 MiB queue). The fastest one is the floor.
const RAW_SENDERS = [
  { name: 'raw 64 KiB chunks, 64 KiB high-water', chunk: 64 << 10, low: 64 << 10, high: 64 << 10 },
  { name: 'raw 64 KiB chunks, 1 MiB high-water', chunk: 64 << 10, low: 256 << 10, high: MiB },
  { name: 'raw 256 KiB chunks, 1 MiB high-water', chunk: 256 << 10, low: 256 << 10, high: MiB },
  { name: 'raw 256 KiB chunks, 4 MiB high-water', chunk: 256 << 10, low: MiB, high: 4 * MiB },
];
const STEP_TIMEOUT_MS = 30000;

const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
const mbps = (ms) => BULK_BYTES / MiB / (ms / 1000);

const within = (promise, what) => withinMs(STEP_TIMEOUT_MS, promise, what);

async function ttfm(page) {
  const times = { raw: [], peerkit: [] };
  for (let i = 0; i < TTFM_WARMUP + TTFM_RUNS; i++) {
    // Alternate which goes first so neither always runs right after the other's teardown.
    const order = i % 2 ? ['peerkit', 'raw'] : ['raw', 'peerkit'];
    for (const kind of order) {
      const ms = await within(page.evaluate((fn) => window.bench[fn](), `${kind}Ttfm`), `${kind} ttfm`);
      if (i >= TTFM_WARMUP) times[kind].push(ms);
    }
  }
  const raw = median(times.raw);
  const peerkit = median(times.peerkit);
  const ratio = peerkit / raw;
  const spread = (list) => `p10-p90 ${quantile(list, 0.1).toFixed(1)}-${quantile(list, 0.9).toFixed(1)}`;
  console.log(`ttfm (median of ${TTFM_RUNS}): peerkit ${peerkit.toFixed(1)} ms (${spread(times.peerkit)}), raw ${raw.toFixed(1)} ms (${spread(times.raw)})`);
  console.log(`ttfm: peerkit ${peerkit.toFixed(1)} ms, raw ${raw.toFixed(1)} ms, ratio ${ratio.toFixed(3)} (target <= 1.2) ${verdict(ratio <= 1.2)}`);
  return ratio <= 1.2;
}

/**
 * 16-byte round trips, one at a time, on three pairs open side by side: a plain RTCDataChannel,
 * peerkit's default channel, simple-peer. The pairs take turns round trip by round trip, so a
 * noisy moment on the machine falls on all three alike.
 */
async function rtt(page) {
  await within(page.evaluate(() => window.bench.rttOpen()), 'rtt setup');
  const times = Object.fromEntries(RTT_KINDS.map((kind) => [kind, []]));
  const run = (count) => within(page.evaluate(([kinds, n]) => window.bench.rttRun(kinds, n), [RTT_KINDS, count]), 'rtt');
  try {
    await run(RTT_WARMUP);
    for (let round = 0; round < RTT_ROUNDS; round++) {
      const got = await run(RTT_PER_ROUND);
      for (const kind of RTT_KINDS) times[kind].push(...got[kind]);
    }
  } finally {
    await within(page.evaluate(() => window.bench.rttClose()), 'rtt teardown');
  }
  const stats = Object.fromEntries(RTT_KINDS.map((kind) => [kind, { median: median(times[kind]), p99: quantile(times[kind], 0.99) }]));
  const n = RTT_ROUNDS * RTT_PER_ROUND;
  for (const kind of RTT_KINDS) console.log(`rtt 16 B (${n} round trips): ${kind} median ${stats[kind].median.toFixed(3)} ms, p99 ${stats[kind].p99.toFixed(3)} ms`);
  const raw = stats.raw;
  const medianRatio = stats.peerkit.median / raw.median;
  const p99Ratio = stats.peerkit.p99 / raw.p99;
  const sp = stats['simple-peer'];
  console.log(
    `rtt median: peerkit ${stats.peerkit.median.toFixed(3)} ms, raw ${raw.median.toFixed(3)} ms, ratio ${medianRatio.toFixed(3)} (target <= 1.1) ${verdict(medianRatio <= 1.1)}; ` +
      `simple-peer ${sp.median.toFixed(3)} ms, ratio ${(sp.median / raw.median).toFixed(3)}`,
  );
  console.log(
    `rtt p99: peerkit ${stats.peerkit.p99.toFixed(3)} ms, raw ${raw.p99.toFixed(3)} ms, ratio ${p99Ratio.toFixed(3)} (target <= 1.5) ${verdict(p99Ratio <= 1.5)}; ` +
      `simple-peer ${sp.p99.toFixed(3)} ms, ratio ${(sp.p99 / raw.p99).toFixed(3)}`,
  );
  return [medianRatio <= 1.1, p99Ratio <= 1.5];
}

function quantile(values, q) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function bulk(page) {
  const runs = { peerkit: [], fixed: [], 'simple-peer': [] };
  for (const raw of RAW_SENDERS) runs[raw.name] = [];
  const senders = [
    ...RAW_SENDERS.map((raw) => [raw.name, () => page.evaluate((s) => window.bench.rawBulk(s.total, s.chunk, s.low, s.high), { ...raw, total: BULK_BYTES })]),
    ['peerkit', () => page.evaluate((total) => window.bench.peerkitBulk(total), BULK_BYTES)],
    ['fixed', () => page.evaluate((total) => window.bench.peerkitBulk(total, { highWaterMark: 1 << 20, lowWaterMark: 1 << 18 }), BULK_BYTES)],
    ['simple-peer', () => page.evaluate((total) => window.bench.simplePeerBulk(total, 64 << 10), BULK_BYTES)],
  ];
  // Round-robin, so load from other work on the machine falls on every sender alike, each round
  // starting one sender further on: a run pays for collecting the garbage of the runs before it
  // (64 MiB of received messages each) unless it starts from a collected heap, which only
  // Chromium's gc() gives; where there is none, the senders take turns to go first.
  for (let i = 0; i < BULK_RUNS; i++) {
    for (let j = 0; j < senders.length; j++) {
      const [name, send] = senders[(i + j) % senders.length];
      await page.evaluate(() => globalThis.gc?.());
      runs[name].push(await within(send(), name));
    }
  }
  // Medians against medians, each over the same number of runs. The best of the 4 x N raw runs
  // against the best of peerkit's N favours the raw floor by taking the luckiest of more tries
  // (single runs here vary by a third from one minute to the next); ratios taken within each
  // round did no better, the senders of a round running up to half a minute apart. Best-run and
  // per-round figures are printed beside.
  const summary = (list) => ({
    best: Math.min(...list.map((r) => r.ms)),
    median: median(list.map((r) => r.ms)),
    maxBuffered: Math.max(...list.map((r) => r.maxBuffered)),
    heapGrowth: Math.max(...list.map((r) => r.heapGrowth ?? 0)),
  });
  const rates = (s) => `${mbps(s.median).toFixed(1)} MiB/s (median of ${BULK_RUNS}; best ${mbps(s.best).toFixed(1)})`;
  let floor;
  for (const raw of RAW_SENDERS) {
    const s = summary(runs[raw.name]);
    console.log(`bulk 64 MiB: ${raw.name}: ${rates(s)}, max bufferedAmount ${(s.maxBuffered / MiB).toFixed(2)} MiB`);
    if (!floor || s.median < floor.median) floor = { ...s, name: raw.name };
  }
  const peerkit = summary(runs.peerkit);
  console.log(
    `bulk 64 MiB: peerkit channel.send() (adaptive high-water mark): ${rates(peerkit)}, max bufferedAmount ${(peerkit.maxBuffered / MiB).toFixed(2)} MiB, ` +
      `peak JS heap growth during the send ${(peerkit.heapGrowth / MiB).toFixed(0)} MiB (the receiver's 64 MiB message included)`,
  );
  const fixed = summary(runs.fixed);
  console.log(`bulk 64 MiB: peerkit with a fixed 1 MiB high-water mark (the default before it adapted): ${rates(fixed)}, max bufferedAmount ${(fixed.maxBuffered / MiB).toFixed(2)} MiB`);
  const simple = summary(runs['simple-peer']);
  console.log(`bulk 64 MiB: simple-peer write() in 64 KiB chunks: ${rates(simple)}, max bufferSize ${(simple.maxBuffered / MiB).toFixed(2)} MiB`);
  const paired = (list) => median(runs[floor.name].map((raw, i) => raw.ms / list[i].ms));
  const ratio = floor.median / peerkit.median;
  console.log(
    `bulk: peerkit ${mbps(peerkit.median).toFixed(1)} MiB/s, raw ${mbps(floor.median).toFixed(1)} MiB/s (${floor.name}), medians' ratio ${ratio.toFixed(3)} (target >= 0.95) ${verdict(ratio >= 0.95)}; ` +
      `best runs' ratio ${(floor.best / peerkit.best).toFixed(3)}, median of the rounds' ratios ${paired(runs.peerkit).toFixed(3)}; simple-peer ${mbps(simple.median).toFixed(1)} MiB/s, ratio ${(floor.median / simple.median).toFixed(3)}`,
  );
  return ratio >= 0.95;
}

const MESH_SIZE = 6;
const MESH_RUNS = 7;

/** A Room of six in one page over MemoryTransport against its 15 pairs wired by hand. */
async function mesh(page) {
  const times = { raw: [], room: [] };
  for (let i = 0; i < MESH_RUNS + 1; i++) {
    const order = i % 2 ? ['room', 'raw'] : ['raw', 'room'];
    for (const kind of order) {
      await page.evaluate(() => globalThis.gc?.());
      const ms = await within(page.evaluate(([fn, n]) => window.bench[fn](n), [`${kind}Mesh`, MESH_SIZE]), `${kind} mesh`);
      if (i > 0) times[kind].push(ms);
    }
  }
  const raw = median(times.raw);
  const room = median(times.room);
  const ratio = room / raw;
  const pairs = (MESH_SIZE * (MESH_SIZE - 1)) / 2;
  console.log(
    `mesh of ${MESH_SIZE} (median of ${MESH_RUNS}): Room over MemoryTransport ${room.toFixed(1)} ms, ${pairs} raw pairs ${raw.toFixed(1)} ms, ` +
      `ratio ${ratio.toFixed(3)} (target <= 1.5) ${verdict(ratio <= 1.5)}`,
  );
  return ratio <= 1.5;
}

/** Debian's Chromium with precise heap figures and a gc() the mesh bench calls between runs. */
function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      ...CHROMIUM_ARGS,
      // performance.memory is rounded to coarse buckets without it.
      '--enable-precise-memory-info',
      // Chromium caps live RTCPeerConnections per page, closed ones included until collected.
      '--js-flags=--expose-gc',
    ],
  });
}

/** Every part of the bench in one engine; one PASS or FAIL per target. */
async function engine(name, base) {
  const browser = await (name === 'firefox' ? launchFirefox() : launchChromium());
  const results = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    await page.goto(`${base}/bench/page.html`);
    const started = Date.now();
    while (!(await page.evaluate(() => Boolean(window.bench)))) {
      if (Date.now() - started > STEP_TIMEOUT_MS) throw new Error('the bench page did not load');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const agent = await page.evaluate(() => navigator.userAgent.match(/(Chrom(e|ium)|Firefox)\/[\d.]+/)?.[0] ?? navigator.userAgent);
    const step = await page.evaluate(() => window.bench.clockStep());
    console.log(`browser: ${agent} (performance.now() step ${(step * 1000).toFixed(0)} µs)`);
    if (PARTS.includes('rtt')) results.push(...(await rtt(page)));
    if (PARTS.includes('ttfm')) results.push(await ttfm(page));
    if (PARTS.includes('mesh')) results.push(await mesh(page));
    if (PARTS.includes('bulk')) results.push(await bulk(page));
  } finally {
    await browser.close();
  }
  return results;
}

async function main() {
  const started = Date.now();
  if (!existsSync(fileURLToPath(new URL('../dist/peerkit.min.js', import.meta.url)))) {
    throw new Error('dist/peerkit.min.js is missing: run `npm run build` first.');
  }
  const results = [];
  if (PARTS.includes('size')) {
    for (const size of await measureSizes()) {
      console.log(size.line);
      results.push(size.pass);
    }
  }
  // Cross-origin isolation: outside it, performance.now() ticks in 100 µs (Chromium) or 1 ms
  // (Firefox) steps, too coarse for a round trip of half a millisecond.
  const isolated = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
  const { close, base } = await startStatic(['/dist/', '/bench/', '/node_modules/simple-peer/'], undefined, isolated);
  try {
    for (const name of BROWSERS) results.push(...(await engine(name, base)));
  } finally {
    await close();
  }
  const failed = results.filter((ok) => !ok).length;
  console.log(`bench: ${results.length - failed} of ${results.length} targets met in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  console.error(`bench did not complete: ${err.stack ?? err}`);
  process.exitCode = 1;
});
