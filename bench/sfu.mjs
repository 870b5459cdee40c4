// Mesh against SFU for rooms of N = 2..6 video members (320x240 canvases, one Chromium page), each
// member a real Room (`media: 'mesh'` or `media: 'sfu'`) joined through peerkit-signal: each
// member's upload, the browser's CPU time per second (and Janus's, for the SFU), and the time
// until a member joining last decodes everyone. Prints a table and the N from which the SFU costs
// a member less upload, and less browser CPU, than the mesh. A report, not a test.
//
//   node bench/sfu.mjs        (re-runs itself inside scripts/netns.sh; needs Debian's janus and a build)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createSignalingServer } from '../server/dist/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/browsers.mjs';
import { startJanus } from '../scripts/janus.mjs';
import { startStatic } from '../test/support/servers.mjs';
import { processes } from './proc.mjs';

if (!process.env.PEERKIT_NETNS) {
  const script = fileURLToPath(new URL('../scripts/netns.sh', import.meta.url));
  const child = spawnSync('bash', [script, process.execPath, fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const SIZES = [2, 3, 4, 5, 6];
const WINDOW_MS = Number(process.env.PEERKIT_BENCH_WINDOW_MS ?? 5000);
// Congestion control starts every video low and ramps up over seconds; measure past the ramp.
const WARMUP_MS = Number(process.env.PEERKIT_BENCH_WARMUP_MS ?? 6000);

/** CPU seconds used so far by this process's descendants, split into Janus and the rest (the browser). */
function descendantsCpu() {
  const stats = processes();
  const under = (pid) => {
    for (let p = stats.get(pid)?.ppid; p !== undefined && p > 1; p = stats.get(p)?.ppid) if (p === process.pid) return true;
    return false;
  };
  let janus = 0;
  let browser = 0;
  for (const [pid, { comm, cpu }] of stats) {
    if (!under(pid)) continue;
    if (comm === 'janus') janus += cpu;
    else browser += cpu;
  }
  return { janus, browser };
}

const janus = await startJanus();
const server = createSignalingServer({ logger: false, janus: [janus.url] });
const signal = `ws://127.0.0.1:${(await server.listen(0)).port}`;
const files = await startStatic(['/dist/', '/bench/']);
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
const rows = [];
try {
  for (const n of SIZES) {
    const row = { n };
    for (const mode of ['mesh', 'sfu']) {
      const page = await browser.newPage();
      await page.goto(`${files.base}/bench/sfu-page.html`);
      const joinMs = await page.evaluate(([size, url, room, media]) => window.sfu.build(size, url, room, media), [n, signal, `bench-${mode}-${n}`, mode]);
      await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
      const before = descendantsCpu();
      const uploads = await page.evaluate((ms) => window.sfu.upload(ms), WINDOW_MS);
      const after = descendantsCpu();
      const seconds = WINDOW_MS / 1000;
      row[mode] = {
        upload: uploads.reduce((a, b) => a + b, 0) / uploads.length,
        browserCpu: (after.browser - before.browser) / seconds,
        janusCpu: (after.janus - before.janus) / seconds,
        joinMs,
      };
      await page.evaluate(() => window.sfu.teardown());
      await page.close();
    }
    rows.push(row);
    const { mesh, sfu } = row;
    console.error(`N=${n}: mesh ${mesh.upload.toFixed(0)} kbit/s, sfu ${sfu.upload.toFixed(0)} kbit/s`);
  }
} finally {
  await browser.close();
  await files.close();
  await server.close();
  await janus.stop();
}

const pad = (text, width) => String(text).padStart(width);
console.log(`\nMesh against SFU (Janus VideoRoom), Rooms with 320x240 video, one Chromium page holding every member; ${WINDOW_MS / 1000} s windows after ${WARMUP_MS / 1000} s`);
console.log('  N | upload/member kbit/s  | browser CPU s/s (all members) | Janus CPU s/s | last member decodes all, ms');
console.log('    |    mesh       sfu     |     mesh       sfu            |      sfu      |    mesh       sfu');
for (const { n, mesh, sfu } of rows) {
  console.log(
    `${pad(n, 3)} | ${pad(mesh.upload.toFixed(0), 7)}  ${pad(sfu.upload.toFixed(0), 8)}     | ${pad(mesh.browserCpu.toFixed(2), 8)}  ${pad(sfu.browserCpu.toFixed(2), 8)}            | ${pad(sfu.janusCpu.toFixed(2), 9)}     | ${pad(mesh.joinMs.toFixed(0), 7)}  ${pad(sfu.joinMs.toFixed(0), 8)}`,
  );
}
// Less by more than 10% (about what two runs of the same room differ by), from this N on in every
// row, so that one row's noise does not decide it: with two members both send one stream.
const from = rows.find((row, i) => rows.slice(i).every((later) => later.sfu.upload < 0.9 * later.mesh.upload));
console.log(from === undefined ? '\nThe SFU cost a member no less upload than the mesh at any N measured.' : `\nFrom N = ${from.n} on, a member uploads less (by more than 10%) through the SFU than in the mesh.`);
const cpuFrom = rows.find((row, i) => rows.slice(i).every((later) => later.sfu.browserCpu < 0.9 * later.mesh.browserCpu));
console.log(cpuFrom === undefined ? 'The SFU cost the page no less CPU than the mesh at any N measured.' : `From N = ${cpuFrom.n} on, the page spends less CPU (by more than 10%) through the SFU than in the mesh.`);
