// The packed package consumed the four ways users consume it: built by Vite and by webpack 5
// (with no warning from either), loaded as plain ESM through an import map, and loaded as the CDN
// file from a `<script>` tag. Each page runs a two-Peer exchange in Chromium and in Firefox. The
// bundled apps also import Room, whose lazily loaded E2EE code must carry the SFrame worker inside
// it rather than as a file the bundler would have to find and emit.
// Run inside the private network namespace: bash scripts/netns.sh node --test test/user/bundlers.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { createLogger, build as viteBuild } from 'vite';
import webpack from 'webpack';
import { CHROMIUM_PATH, FIREFOX_PATH } from '../../scripts/browsers.mjs';
import { launchChromium, launchFirefox, missing } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';
import { within } from '../support/wait.mjs';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STEP_MS = 30000;

// The exchange every page runs: two Peers wired back to back, one message each way.
const APP = `
const a = new Peer();
const b = new Peer();
a.on('signal', (signal) => b.signal(signal));
b.on('signal', (signal) => a.signal(signal));
b.on('data', (data) => b.send(\`pong: \${data}\`));
a.on('data', (data) => (document.body.dataset.status = data === 'pong: ping' ? 'done' : \`wrong: \${data}\`));
a.connected.then(() => a.send('ping'));
`;
const page = (script) => `<!doctype html><meta charset="utf-8"><title>bundler smoke test</title><body>${script}</body>\n`;

let project;
let files;
const browsers = {};

before(async () => {
  project = mkdtempSync(join(tmpdir(), 'peerkit-bundlers-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project, ROOT], { cwd: ROOT });
  const pkg = join(project, 'node_modules/peerkit');
  mkdirSync(pkg, { recursive: true });
  await run('tar', ['-xzf', join(project, JSON.parse(stdout)[0].filename), '-C', pkg, '--strip-components=1']);
  for (const dep of ['eventemitter3', 'webrtc-adapter', 'sdp']) symlinkSync(join(ROOT, 'node_modules', dep), join(project, 'node_modules', dep));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'bundler-user', private: true, type: 'module' }));
  mkdirSync(join(project, 'src'));
  writeFileSync(join(project, 'src/main.js'), `import { Peer, Room } from 'peerkit';\nglobalThis.Room = Room;\n${APP}`);
  files = await startStatic(['/'], project);
  if (!(await missing(CHROMIUM_PATH))) browsers.chromium = await launchChromium();
  if (!(await missing(FIREFOX_PATH))) browsers.firefox = await launchFirefox();
});

after(async () => {
  for (const browser of Object.values(browsers)) await within(15000, browser.close(), 'closing a browser').catch(() => {});
  await files?.close();
  rmSync(project, { recursive: true, force: true });
});

/**
 * Checks that a bundler's output in `dir` carries the SFrame worker's code (its `rtctransform`
 * listener, which nothing else has) in a lazily loaded chunk, and emitted no worker file.
 */
function carriesSFrameWorker(dir) {
  const files = readdirSync(dir, { recursive: true }).map(String).filter((name) => name.endsWith('.js'));
  assert.deepEqual(files.filter((name) => /worker/i.test(name)), [], 'no worker file emitted');
  const code = files.map((name) => readFileSync(join(dir, name), 'utf8'));
  const carrying = code.filter((text) => text.includes('rtctransform'));
  assert.equal(carrying.length, 1, `one chunk of ${files.join(', ')} carries the SFrame worker`);
  // The entry is the chunk with the app's own code.
  assert.ok(!carrying[0].includes('pong: '), 'the SFrame worker loads only with E2EE, not with the entry');
}

/** Opens `path` in every installed engine and waits for the exchange to finish. */
async function runsEverywhere(t, path) {
  for (const [engine, browser] of Object.entries(browsers)) {
    const tab = await browser.newPage();
    const log = [];
    tab.on('console', (msg) => log.push(`${msg.type()}: ${msg.text()}`));
    tab.on('pageerror', (err) => log.push(`pageerror: ${err.message ?? err}`));
    try {
      await tab.goto(`${files.base}${path}`);
      await within(STEP_MS, tab.waitForFunction(() => document.body.dataset.status !== undefined), `${path} in ${engine}`);
      assert.equal(await tab.evaluate(() => document.body.dataset.status), 'done', `${path} in ${engine}: ${log.join('\n')}`);
    } catch (err) {
      throw new Error(`${engine}: ${err.message}\n${log.join('\n')}`, { cause: err });
    } finally {
      await tab.close();
    }
  }
  if (Object.keys(browsers).length === 0) t.skip('no browser installed');
}

test('Vite builds the package without a warning, and the page runs', async (t) => {
  writeFileSync(join(project, 'index.html'), page('<script type="module" src="/src/main.js"></script>'));
  const warnings = [];
  const logger = createLogger('warn');
  logger.warn = (msg) => warnings.push(msg);
  logger.warnOnce = (msg) => warnings.push(msg);
  await viteBuild({ root: project, base: '/vite/', logLevel: 'warn', customLogger: logger, build: { outDir: join(project, 'vite'), emptyOutDir: true } });
  assert.deepEqual(warnings, []);
  carriesSFrameWorker(join(project, 'vite'));
  await runsEverywhere(t, '/vite/index.html');
});

test('webpack 5 builds the package without a warning, and the page runs', async (t) => {
  const stats = await new Promise((resolve, reject) =>
    webpack(
      { mode: 'production', context: project, entry: './src/main.js', output: { path: join(project, 'webpack'), filename: 'main.js' }, performance: { hints: false } },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  const { errors, warnings } = stats.toJson({ all: false, errors: true, warnings: true });
  assert.deepEqual([...errors, ...warnings].map((e) => e.message), []);
  carriesSFrameWorker(join(project, 'webpack'));
  writeFileSync(join(project, 'webpack/index.html'), page('<script src="main.js"></script>'));
  await runsEverywhere(t, '/webpack/index.html');
});

test('a plain ESM page loads the package through an import map, and runs', async (t) => {
  const importMap = { imports: { peerkit: '/node_modules/peerkit/dist/index.js', eventemitter3: '/node_modules/eventemitter3/dist/eventemitter3.esm.js' } };
  writeFileSync(
    join(project, 'importmap.html'),
    page(`<script type="importmap">${JSON.stringify(importMap)}</script>\n<script type="module">import { Peer } from 'peerkit';\n${APP}</script>`),
  );
  await runsEverywhere(t, '/importmap.html');
});

test('the CDN file from a <script> tag defines PeerKit, and the page runs', async (t) => {
  writeFileSync(
    join(project, 'script-tag.html'),
    page(`<script src="/node_modules/peerkit/dist/peerkit.min.js"></script>\n<script>const { Peer } = PeerKit;\n${APP}</script>`),
  );
  await runsEverywhere(t, '/script-tag.html');
});
