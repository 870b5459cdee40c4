// sendFile() against the raw channel floor in the same run and engine, printed as a ratio, and
// the receiver's peak JS heap during a large transfer. A report, not a test: it exits 0 whether
// or not a target is met, and says PASS or FAIL for each.
//
//   node bench/transfer.mjs                         (re-runs itself inside scripts/netns.sh)
//   PEERKIT_BENCH_LARGE=1073741824 PEERKIT_BENCH_ENGINES=chromium node bench/transfer.mjs
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, FIREFOX_PATH, FIREFOX_PREFS } from '../scripts/browsers.mjs';
import { startStatic } from '../test/support/servers.mjs';

if (!process.env.PEERKIT_NETNS) {
  const script = fileURLToPath(new URL('../scripts/netns.sh', import.meta.url));
  const child = spawnSync('bash', [script, process.execPath, fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const MiB = 1 << 20;
const BULK = Number(process.env.PEERKIT_BENCH_BULK ?? 128 * MiB);
const LARGE = Number(process.env.PEERKIT_BENCH_LARGE ?? 1024 * MiB);
const RUNS = Number(process.env.PEERKIT_BENCH_RUNS ?? 5);
const ENGINES = (process.env.PEERKIT_BENCH_ENGINES ?? 'chromium,firefox').split(',');
const rate = (bytes, ms) => bytes / MiB / (ms / 1000);
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

async function open(engine, url) {
  if (engine === 'chromium') {
    // A profile on disk: an off-the-record one keeps OPFS and Blobs in memory, with a quota that
    // refuses a file of a few GiB, where a user's browser writes them to disk.
    const profile = await mkdtemp(join(tmpdir(), 'peerkit-bench-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--enable-precise-memory-info', '--js-flags=--expose-gc'] });
    const page = await context.newPage();
    await page.goto(url);
    const browser = { close: () => context.close().finally(() => rm(profile, { recursive: true, force: true })) };
    return { browser, page };
  }
  // A GiB-sized transfer outlasts puppeteer's 180 s limit on one evaluate().
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: FIREFOX_PREFS, protocolTimeout: 0 });
  const page = await browser.newPage();
  await page.goto(url);
  return { browser, page };
}

async function run(engine, base) {
  const { browser, page } = await open(engine, `${base}/bench/transfer.html`);
  const results = [];
  try {
    await page.waitForFunction(() => window.bench, { timeout: 30000 });
    const kinds = {
      raw: () => page.evaluate((n) => window.bench.raw(n), BULK),
      opfs: () => page.evaluate((n) => window.bench.transfer(n, true), BULK),
      memory: () => page.evaluate((n) => window.bench.transfer(n, false), BULK),
    };
    const names = Object.keys(kinds);
    const times = Object.fromEntries(names.map((kind) => [kind, []]));
    // Round-robin, each round starting one kind further on, and each run from a collected heap
    // where the engine gives gc() (Chromium): otherwise a run pays for the garbage of the run
    // before it, and the same kind always follows the same one. Single runs vary by a fifth here.
    for (let i = 0; i < RUNS; i++) {
      for (let j = 0; j < names.length; j++) {
        const kind = names[(i + j) % names.length];
        await page.evaluate(() => globalThis.gc?.());
        times[kind].push((await kinds[kind]()).ms);
      }
    }
    const floor = median(times.raw);
    console.log(`${engine}: raw channel floor ${rate(BULK, floor).toFixed(1)} MiB/s (${BULK / MiB} MiB, median of ${RUNS}; best ${rate(BULK, Math.min(...times.raw)).toFixed(1)})`);
    for (const kind of ['opfs', 'memory']) {
      const ratio = floor / median(times[kind]);
      console.log(
        `${engine}: sendFile into ${kind} ${rate(BULK, median(times[kind])).toFixed(1)} MiB/s (median; best ${rate(BULK, Math.min(...times[kind])).toFixed(1)}), ` +
          `ratio ${ratio.toFixed(3)} (target >= 0.9) ${verdict(ratio >= 0.9)}`,
      );
      results.push(ratio >= 0.9);
    }
    const large = await page.evaluate((n) => window.bench.transfer(n, true, true), LARGE);
    const heap = large.heapGrowth === null ? 'not measurable in this engine' : `${(large.heapGrowth / MiB).toFixed(1)} MiB`;
    const bounded = large.heapGrowth === null || large.heapGrowth < 64 * MiB;
    console.log(`${engine}: ${LARGE / MiB} MiB into OPFS at ${rate(LARGE, large.ms).toFixed(1)} MiB/s; peak JS heap growth of both sides ${heap} (target < 64 MiB) ${verdict(bounded)}`);
    results.push(bounded);
  } finally {
    await browser.close();
  }
  return results;
}

const { close, base } = await startStatic(['/dist/', '/bench/']);
try {
  const results = [];
  for (const engine of ENGINES) results.push(...(await run(engine, base)));
  console.log(`transfer bench: ${results.filter(Boolean).length} of ${results.length} targets met`);
} catch (err) {
  console.error(`transfer bench did not complete: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await close();
}
