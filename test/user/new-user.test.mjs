// peerkit as a new user meets it: the packages `npm pack` makes (peerkit and peerkit-signal),
// installed with npm into an empty project, type-checked by that project's own tsconfig, bundled
// by esbuild, and the README's two examples run as written in Chromium and in Firefox, against
// each other; and a browser-only app's install, with peerkit alone. Needs the build (dist/ and
// server/dist/) and npm's cache of the dependencies (`npm install` fills it): installs run offline.
// Run inside the private network namespace: bash scripts/netns.sh node --test test/user/new-user.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import { CHROMIUM_PATH, FIREFOX_PATH } from '../../scripts/browsers.mjs';
import { launchChromium, launchFirefox, missing } from '../support/pages.mjs';
import { startStatic } from '../support/servers.mjs';
import { startSignalCli } from '../support/signal-cli.mjs';
import { sleep, until, within } from '../support/wait.mjs';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const STEP_MS = 30000;
const TEST_MS = 120000;
// Each poll of a page is a round trip to the browser; ten a second is plenty.
const POLL_MS = 100;

/** The fenced block of `lang` that follows the first line containing `marker`. */
function readmeBlock(marker, lang) {
  const from = README.indexOf(marker);
  assert.ok(from >= 0, `README has no "${marker}"`);
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(README.slice(from));
  assert.ok(match, `README has no ${lang} block after "${marker}"`);
  return match[1];
}

// The Use example names a track and a stream the reader already has; a painted canvas supplies
// them without a camera or a permission in either engine.
const USE_PRELUDE = `
const canvas = Object.assign(document.createElement('canvas'), { width: 160, height: 120 });
const paint = canvas.getContext('2d');
let hue = 0;
setInterval(() => {
  if (paint === null) return;
  paint.fillStyle = \`hsl(\${(hue += 9) % 360} 70% 50%)\`;
  paint.fillRect(0, 0, 160, 120);
}, 50);
const stream = canvas.captureStream(15);
const [track] = stream.getVideoTracks();
const [otherTrack] = canvas.captureStream(15).getVideoTracks();
if (track === undefined || otherTrack === undefined) throw new Error('canvas.captureStream() gave no video track');
`;
const DONE = 'readme example: done';

const CALL_CDN = 'https://cdn.jsdelivr.net/npm/peerkit@0.1.0/dist/peerkit.min.js';
const CALL_SERVER = 'ws://127.0.0.1:8787';

/**
 * The lock file of a user's project that installs the packed files of `packs` (peerkit, and
 * peerkit-signal for a server). The install runs offline (nothing leaves the namespace), and npm's
 * cache holds the tarballs our own install fetched, by integrity, but not the registry's
 * metadata: so the lock names the versions our lock resolved, and `npm ci` takes them from the
 * cache.
 */
function userLock(name, packs) {
  const ours = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const dependencies = Object.fromEntries(packs.map(({ pack }) => [pack.name, `file:${pack.filename}`]));
  const packages = { '': { name, dependencies } };
  const queue = [];
  for (const { pack, manifest } of packs) {
    packages[`node_modules/${pack.name}`] = {
      version: pack.version,
      resolved: dependencies[pack.name],
      integrity: pack.integrity,
      dependencies: manifest.dependencies,
      ...(manifest.bin ? { bin: manifest.bin } : {}),
    };
    queue.push(...Object.keys(manifest.dependencies));
  }
  while (queue.length > 0) {
    const key = `node_modules/${queue.shift()}`;
    if (key in packages) continue;
    const { version, resolved, integrity, dependencies: needs } = ours[key];
    // Locks written with omit-lockfile-registry-resolved (this machine's npm config) name no
    // tarball; without one, an offline install would need the registry's metadata to find it.
    const dep = key.slice('node_modules/'.length);
    const tarball = resolved ?? `https://registry.npmjs.org/${dep}/-/${dep.split('/').pop()}-${version}.tgz`;
    packages[key] = { version, resolved: tarball, integrity, dependencies: needs };
    queue.push(...Object.keys(needs ?? {}));
  }
  return { lock: { name, lockfileVersion: 3, requires: true, packages }, dependencies };
}

/** An empty project in `dir` that installs `packs` as a user would, offline, from their packed files. */
async function install(dir, name, packs) {
  mkdirSync(dir, { recursive: true });
  for (const { pack } of packs) copyFileSync(join(packDir, pack.filename), join(dir, pack.filename));
  const { lock, dependencies } = userLock(name, packs);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module', dependencies }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir });
}

/** `npm pack` of the package in `dir`, into packDir, with the manifest it was packed from. */
async function pack(dir) {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', packDir, dir], { cwd: ROOT });
  const [packed] = JSON.parse(stdout);
  return { pack: packed, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) };
}

// `project` is a full-stack user's: peerkit for the browser and peerkit-signal for the server,
// both from their packed files. `browserApp` installs peerkit alone, as a browser-only app does.
let scratch;
let packDir;
let project;
let browserApp;
let packed;
let packedServer;
let skipReason;
const cleanup = [];

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'peerkit-user-'));
  cleanup.push(() => rmSync(scratch, { recursive: true, force: true }));
  packDir = join(scratch, 'packs');
  mkdirSync(packDir);
  const sdk = await pack(ROOT);
  const server = await pack(join(ROOT, 'server'));
  packed = sdk.pack;
  packedServer = server.pack;
  project = join(scratch, 'new-user');
  browserApp = join(scratch, 'browser-app');
  await install(project, 'new-user', [sdk, server]);
  await install(browserApp, 'browser-app', [sdk]);
  writeFileSync(join(project, 'use.ts'), `${USE_PRELUDE}\n${readmeBlock('## Use', 'ts')}\nconsole.log('${DONE}');\nexport {};\n`);
  mkdirSync(join(project, 'www'));
  skipReason = (await missing(CHROMIUM_PATH)) ?? (await missing(FIREFOX_PATH));
});

after(async () => {
  for (const close of cleanup.reverse()) await within(15000, Promise.resolve().then(close), 'cleanup').catch(() => {});
});

test('each npm package holds its build with its types, a README and the LICENSE, and no sources or tests', () => {
  for (const pack of [packed, packedServer]) {
    const paths = new Set(pack.files.map((f) => f.path));
    for (const name of ['package.json', 'README.md', 'LICENSE']) assert.ok(paths.has(name), `${name} is in ${pack.name}`);
    const installed = join(project, 'node_modules', pack.name);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    const targets = [manifest.main, manifest.types, manifest.unpkg, manifest.jsdelivr, ...Object.values(manifest.bin ?? {})].filter(Boolean);
    for (const entry of Object.values(manifest.exports)) targets.push(...(typeof entry === 'string' ? [entry] : Object.values(entry)));
    for (const target of targets) assert.ok(paths.has(target.replace(/^\.\//, '')), `${target} is in ${pack.name}`);
    const strays = [...paths].filter((p) => (/^(src|server|test|bench|demo|scripts|docs)\//.test(p) && p !== 'docs/protocol.md') || (p.endsWith('.ts') && !p.endsWith('.d.ts')) || p.endsWith('.tsbuildinfo'));
    assert.deepEqual(strays, [], `${pack.name} has no sources or tests`);
    // A bundler or a debugger that follows source maps must find the code they point at inside the package.
    for (const map of [...paths].filter((p) => p.endsWith('.js.map'))) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(installed, map), 'utf8'));
      assert.equal(sourcesContent?.length, sources.length, `${pack.name}/${map} carries its sources`);
    }
  }
});

test('in Node, peerkit imports with no DOM, and the server starts from `peerkit-signal` sharing that install of peerkit', async () => {
  const script = `
    const kit = await import('peerkit');
    const { createSignalingServer, PROTOCOL_VERSION } = await import('peerkit-signal');
    const { PROTOCOL_VERSION: sdkVersion } = await import('peerkit/protocol');
    const server = createSignalingServer({ logger: false });
    const { port } = await server.listen(0);
    await server.close();
    console.log(JSON.stringify({ exports: Object.keys(kit).length, port, same: PROTOCOL_VERSION === sdkVersion }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
  const { exports, port, same } = JSON.parse(stdout);
  assert.ok(exports > 10, `${exports} exports`);
  assert.ok(port > 0);
  assert.ok(same, 'the server speaks the protocol version of the installed SDK');
  // One copy of the SDK: the server's `peerkit` dependency is the app's, not a second install.
  assert.equal(existsSync(join(project, 'node_modules/peerkit-signal/node_modules')), false, 'peerkit-signal has no nested node_modules');
});

test('`npx peerkit-signal --version` runs the installed server and prints its version', async () => {
  const { stdout } = await run('npx', ['--offline', '--no-install', 'peerkit-signal', '--version'], { cwd: project });
  assert.equal(stdout.trim(), packedServer.version);
});

test('a browser-only app that installs peerkit alone gets no ws, no Redis client and no server', () => {
  const installed = readdirSync(join(browserApp, 'node_modules')).filter((name) => !name.startsWith('.'));
  assert.ok(installed.includes('peerkit'), `installed: ${installed.join(', ')}`);
  for (const name of ['ws', 'ioredis', '@ioredis', 'peerkit-signal']) assert.ok(!installed.includes(name), `${name} is not installed: ${installed.join(', ')}`);
  assert.equal(existsSync(join(browserApp, 'node_modules/.bin/peerkit-signal')), false, 'no peerkit-signal binary');
});

test("the README's Use example type-checks in a strict project, under bundler and under nodenext resolution", async () => {
  const base = {
    target: 'es2022',
    lib: ['es2022', 'dom', 'dom.iterable'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  };
  for (const [module, moduleResolution] of [['esnext', 'bundler'], ['nodenext', 'nodenext']]) {
    const config = `tsconfig.${moduleResolution}.json`;
    writeFileSync(join(project, config), JSON.stringify({ compilerOptions: { ...base, module, moduleResolution }, files: ['use.ts'] }));
    const checked = await run(process.execPath, [TSC, '-p', config], { cwd: project }).then(
      () => '',
      (err) => err.stdout + err.stderr,
    );
    assert.equal(checked, '', `tsc -p ${config}`);
  }
});

/** esbuild as a bundler user runs it, from the project's folder: resolution goes through its node_modules. */
async function bundle(entry, outfile) {
  const result = await esbuild.build({
    absWorkingDir: project,
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  const bytes = gzipSync(readFileSync(join(project, outfile))).length;
  return { inputs, bytes };
}

/** Opens `path` in a page and collects its console lines, the warnings and errors among them, and uncaught errors. */
async function open(page, base, path) {
  const lines = [];
  const warnings = [];
  const errors = [];
  page.on('console', (msg) => {
    lines.push(msg.text());
    if (/^(warn|error)/.test(msg.type())) warnings.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err.message ?? err)));
  await page.goto(`${base}/${path}`, { timeout: STEP_MS });
  return { page, lines, warnings, errors };
}

test("esbuild bundles the README's Use example from the installed package, and it runs in Chromium and in Firefox", { timeout: TEST_MS }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { inputs, bytes } = await bundle('use.ts', 'www/use.js');
  t.diagnostic(`the Use example bundles to ${bytes} B min+gzip`);
  assert.deepEqual(inputs.filter((p) => /webrtc-adapter|\/sdp\//.test(p)), [], 'the core leaves webrtc-adapter out');
  writeFileSync(join(project, 'www/use.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Use</title><script type="module" src="use.js"></script>');
  const files = await startStatic(['/www/'], project);
  t.after(files.close);

  for (const [engine, launch] of [['chromium', launchChromium], ['firefox', launchFirefox]]) {
    const browser = await launch();
    try {
      const { lines, warnings, errors } = await open(await browser.newPage(), files.base, 'www/use.html');
      await until(`${engine}: the example finishing`, () => lines.includes(DONE) || errors.length > 0, STEP_MS, POLL_MS);
      assert.deepEqual(errors, [], `${engine}: uncaught errors`);
      assert.ok(lines.includes('hello'), `${engine}: b logged 'hello'; it logged ${JSON.stringify(lines.slice(0, 5))}`);
      assert.ok(lines.includes(`${64 * 2 ** 20} / ${64 * 2 ** 20}`), `${engine}: progress reached 64 MiB`);
      await until(`${engine}: b logging the file`, () => lines.some((l) => l.startsWith('files ')), STEP_MS, POLL_MS);
      assert.deepEqual(warnings, [], `${engine}: nothing was logged as a warning or an error`);
    } finally {
      await browser.close();
    }
  }
});

test("the README's ten-line call works from the CDN file and from an npm bundle, four members in two engines", { timeout: TEST_MS * 2 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const example = readmeBlock('A call in ten lines', 'html');
  assert.ok(example.includes(CALL_CDN) && example.includes(CALL_SERVER), 'the example loads the CDN file and names the server');
  const module = /<script type="module">([\s\S]*?)<\/script>/.exec(example)[1];
  const destructure = /const (\{[^}]+\}) = PeerKit;/;
  assert.match(module, destructure);

  const { child, listening } = startSignalCli(['--port', '0'], { bin: join(project, 'node_modules/.bin/peerkit-signal') });
  t.after(() => child.kill());
  const { port } = await within(STEP_MS, listening, 'npx peerkit-signal listening');
  const server = `ws://127.0.0.1:${port}`;

  // The CDN page is the example with the unpkg URL pointing at the installed copy of that file.
  writeFileSync(join(project, 'www/cdn.html'), example.replace(CALL_CDN, '/node_modules/peerkit/dist/peerkit.min.js').replace(CALL_SERVER, server));
  // The npm page is the same script importing from 'peerkit', bundled.
  writeFileSync(join(project, 'call.js'), module.replace(destructure, "import $1 from 'peerkit';").replace(CALL_SERVER, server));
  await bundle('call.js', 'www/call.js');
  const markup = example.replace(/<script[\s\S]*?<\/script>/g, '').trim();
  writeFileSync(join(project, 'www/npm.html'), `${markup}\n<script type="module" src="call.js"></script>\n`);

  const files = await startStatic(['/www/', '/node_modules/peerkit/dist/'], project);
  t.after(files.close);
  const chrome = await launchChromium();
  t.after(() => chrome.close());
  const fox = await launchFirefox();
  t.after(() => fox.close());

  const pages = [];
  const remoteVideos = (member) =>
    member.page.evaluate(() => [...document.querySelectorAll('video[id]:not(#me)')].filter((v) => v.videoWidth > 0).map((v) => v.id).sort());
  for (const [name, newPage, path] of [
    ['chromium cdn', async () => (await chrome.newContext()).newPage(), 'www/cdn.html'],
    ['firefox npm', () => fox.newPage(), 'www/npm.html'],
    ['chromium npm', async () => (await chrome.newContext()).newPage(), 'www/npm.html'],
    ['firefox cdn', () => fox.newPage(), 'www/cdn.html'],
  ]) {
    const member = { name, ...(await open(await newPage(), files.base, path)) };
    pages.push(member);
    // Each arrival is seen by everyone before the next page opens.
    for (const other of pages) {
      await other.page.bringToFront();
      await until(`${other.name} showing ${pages.length - 1} remote videos`, async () => (await remoteVideos(other)).length === pages.length - 1 || other.errors.length > 0, STEP_MS, POLL_MS);
      assert.deepEqual(other.errors, [], `${other.name}: uncaught errors`);
    }
  }

  const seen = await Promise.all(pages.map(remoteVideos));
  const everyone = new Set(seen.flat());
  assert.equal(everyone.size, 4, 'four members, each shown by the three others');
  const ids = seen.map((videos) => [...everyone].find((id) => !videos.includes(id)));
  // room.send('hello') right after joining reaches the members already there: in each pair, the
  // later page greets the earlier one, once, whatever the engine or the build. The first two pages
  // may join in either order (nothing on the first page says when it has joined), so the order is
  // read from who greeted whom: greetings received must count 3, 2, 1 and 0, one per pair.
  const greeted = (member) => member.lines.filter((l) => l.endsWith(' says hello')).map((l) => l.split(' ')[0]);
  await until('six greetings', () => pages.reduce((sum, member) => sum + greeted(member).length, 0) >= 6, STEP_MS, POLL_MS);
  await sleep(500);
  const heard = pages.map(greeted);
  const report = JSON.stringify(Object.fromEntries(pages.map((member, i) => [`${member.name} (${ids[i]})`, heard[i]])));
  assert.deepEqual(heard.map((from) => from.length).sort(), [0, 1, 2, 3], `greetings: ${report}`);
  for (const [i, from] of heard.entries()) {
    for (const [j, id] of ids.entries()) {
      if (i !== j) assert.equal(from.includes(id) + heard[j].includes(ids[i]), 1, `one greeting between ${pages[i].name} and ${pages[j].name}: ${report}`);
    }
  }

  await pages[3].page.close();
  for (const member of pages.slice(0, 3)) {
    await member.page.bringToFront();
    await until(`${member.name} removing the video of the page that closed`, async () => !(await remoteVideos(member)).includes(ids[3]), STEP_MS, POLL_MS);
    assert.deepEqual(member.errors, [], `${member.name}: uncaught errors`);
  }
});
