// The packed package checked the way a registry and a user's compiler see it: publint and
// Are the Types Wrong on the tarball, the size budgets of every entry, and the declarations
// compiled with `skipLibCheck: false` by every TypeScript from 5.0 to 7 under each module
// resolution a user may have. The older compilers live in tools/ (see tools/package.json).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { measureSizes } from '../../bench/size.mjs';
import { integritiesInReadme, integrityOfBuild } from '../../scripts/sri.mjs';
import { typesVersionsOf } from '../../scripts/types-versions.mjs';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, 'tools/node_modules');

let scratch;
let tarball;
let serverTarball;

/** `npm pack` of the package in `dir` into the scratch folder: the tarball's path. */
async function pack(dir) {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch, dir], { cwd: ROOT });
  return join(scratch, JSON.parse(stdout)[0].filename);
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'peerkit-package-'));
  tarball = await pack(ROOT);
  serverTarball = await pack(join(ROOT, 'server'));
  if (!existsSync(TOOLS)) await run('npm', ['ci', '--prefix', join(ROOT, 'tools'), '--no-audit', '--no-fund'], { cwd: ROOT });
});

after(() => rmSync(scratch, { recursive: true, force: true }));

test('typesVersions gives node10 resolution the declarations of every subpath export', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.deepEqual(manifest.typesVersions, typesVersionsOf(manifest), 'run node scripts/types-versions.mjs');
});

test("the README's pinned CDN tags carry the integrity hash of the CDN file as built", () => {
  const expected = integrityOfBuild();
  const found = integritiesInReadme();
  assert.ok(found.length > 0, 'the README pins the CDN file with an integrity hash');
  for (const integrity of found) assert.equal(integrity, expected, 'run npm run sri after changing the build');
});

test('npm run docs builds the API reference from the TSDoc with no warning (an undocumented export is one)', { timeout: 180_000 }, async () => {
  const out = join(scratch, 'api');
  const { stdout } = await run(process.execPath, [join(TOOLS, 'typedoc/bin/typedoc'), '--out', out], { cwd: ROOT });
  assert.doesNotMatch(stdout, /warning/i);
  assert.ok(existsSync(join(out, 'index.html')), 'the reference has an index page');
});

test('peerkit-signal is released with the peerkit of its own version, and peerkit carries no server', () => {
  const sdk = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const server = JSON.parse(readFileSync(join(ROOT, 'server/package.json'), 'utf8'));
  assert.deepEqual(sdk.workspaces, ['server']);
  assert.equal(server.version, sdk.version, 'the two packages share a version');
  // An exact version: the protocol module the server imports is the one released with it, and in
  // this repository the workspace's dependency resolves to the root only while the versions match.
  assert.equal(server.dependencies.peerkit, sdk.version);
  assert.ok(server.dependencies.ws && server.dependencies.ioredis, 'ws and ioredis are the server\'s dependencies');
  assert.deepEqual(Object.keys(sdk.dependencies).filter((name) => ['ws', 'ioredis'].includes(name)), [], 'and not the SDK\'s');
  assert.equal(sdk.bin, undefined, 'the binary is peerkit-signal\'s');
  assert.deepEqual(Object.keys(sdk.exports).filter((subpath) => subpath.includes('server')), []);
});

for (const [name, packed] of [['peerkit', () => tarball], ['peerkit-signal', () => serverTarball]]) {
  test(`publint finds nothing to report in the packed ${name}, warnings included`, async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'node_modules/publint/src/cli.js'), 'run', packed(), '--strict']);
    assert.match(stdout, /All good!/);
  });

  test(`Are the Types Wrong finds no problem in ${name} under node10, node16 (from ESM) and bundler resolution`, async () => {
    // Both packages are ESM only, on purpose: a CommonJS `require` gets the documented
    // dynamic-import answer, which attw reports as cjs-resolves-to-esm. Everything else must be green.
    const attw = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    // attw exits non-zero when any rule not ignored is broken, and prints the table of resolutions.
    const { stdout } = await run(process.execPath, [attw, packed(), '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'table-flipped', '--no-color']);
    assert.doesNotMatch(stdout, /❌|💀|🐛|🥴|❗️|🎭|🚭/u);
  });
}

test('every entry stays within its size budget (min+gzip)', async () => {
  const results = await measureSizes();
  for (const result of results) console.log(result.line);
  assert.deepEqual(results.filter((r) => !r.pass).map((r) => r.line), []);
});

/** A user's project with the packed package unpacked into node_modules, as npm would install it. */
async function userProject(name, type) {
  const dir = join(scratch, name);
  mkdirSync(join(dir, 'node_modules/peerkit'), { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', join(dir, 'node_modules/peerkit'), '--strip-components=1']);
  for (const dep of ['eventemitter3', 'webrtc-adapter', 'sdp']) symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, ...(type ? { type } : {}) }));
  writeFileSync(
    join(dir, 'app.ts'),
    `import { Peer, PeerKitError, Room, type PeerOptions, type RoomEvents } from 'peerkit';
import { WebSocketTransport } from 'peerkit/websocket';
import { BroadcastChannelTransport } from 'peerkit/broadcast';
import { MemoryHub, MemoryTransport } from 'peerkit/memory';
import 'peerkit/adapter';
const options: PeerOptions = { polite: true };
const peer = new Peer(options);
peer.on('data', (data: unknown) => console.log(data));
const left = (...[id]: RoomEvents['leave']) => console.log(id.length);
const transports = [new WebSocketTransport('ws://127.0.0.1:8787'), new BroadcastChannelTransport(), new MemoryTransport(new MemoryHub())];
export const made = { peer, left, transports, room: Room.join, error: new PeerKitError('CLOSED', 'closed') };
`,
  );
  writeFileSync(
    join(dir, 'script.ts'),
    `/// <reference types="peerkit/global" />
export const viaGlobal = PeerKit.Room.join('room', { transport: new PeerKit.BroadcastChannelTransport() });
`,
  );
  return dir;
}

const COMPILERS = [
  { name: 'TypeScript 5.0', tsc: join(TOOLS, 'typescript-5.0/bin/tsc') },
  { name: 'TypeScript 5.4', tsc: join(TOOLS, 'typescript-5.4/bin/tsc') },
  { name: 'TypeScript 5.9', tsc: join(TOOLS, 'typescript-5.9/bin/tsc') },
  { name: 'TypeScript 6.0', tsc: join(TOOLS, 'typescript/bin/tsc'), ignoreDeprecations: '6.0' },
  { name: 'TypeScript 7', tsc: join(ROOT, 'node_modules/typescript/bin/tsc'), noNode10: true },
];
const RESOLUTIONS = [
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', type: 'module' },
  { name: 'node16', module: 'node16', moduleResolution: 'node16', type: 'module' },
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext', type: 'module' },
  { name: 'node10', module: 'esnext', moduleResolution: 'node10' },
];

for (const resolution of RESOLUTIONS) {
  test(`the declarations compile with skipLibCheck off under ${resolution.name} resolution, TypeScript 5.0 to 7`, async () => {
    const dir = await userProject(`ts-${resolution.name}`, resolution.type);
    const failures = [];
    for (const compiler of COMPILERS) {
      // TypeScript 7 removed node10 resolution altogether; 6.0 still has it, deprecated.
      if (resolution.name === 'node10' && compiler.noNode10) continue;
      const compilerOptions = {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'es2022',
        lib: ['es2022', 'dom', 'dom.iterable'],
        types: [],
        module: resolution.module,
        moduleResolution: resolution.moduleResolution,
        ...(compiler.ignoreDeprecations ? { ignoreDeprecations: compiler.ignoreDeprecations } : {}),
      };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.ts', 'script.ts'] }));
      try {
        await run(process.execPath, [compiler.tsc, '-p', dir], { cwd: dir });
      } catch (error) {
        failures.push(`${compiler.name}: ${error.stdout || error.message}`);
      }
    }
    assert.deepEqual(failures, []);
  });
}

test("peerkit-signal's declarations compile with skipLibCheck off in a Node project, TypeScript 5.9 to 7", async () => {
  // The server's types name the SDK's protocol types through `peerkit/protocol`, ws's and
  // ioredis's: the project has what npm would install, and @types/node but no @types/ws. The
  // compilers before 5.9 cannot read today's @types/node, which a Node project has anyway.
  const dir = await userProject('ts-server', 'module');
  mkdirSync(join(dir, 'node_modules/peerkit-signal'));
  await run('tar', ['-xzf', serverTarball, '-C', join(dir, 'node_modules/peerkit-signal'), '--strip-components=1']);
  for (const dep of ['ws', 'ioredis', '@ioredis']) symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep));
  mkdirSync(join(dir, 'node_modules/@types'));
  symlinkSync(join(ROOT, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'));
  writeFileSync(
    join(dir, 'server.ts'),
    `import { createServer } from 'node:http';
import { PROTOCOL_VERSION as SDK_VERSION, type ErrorCode as SdkErrorCode } from 'peerkit/protocol';
import { attach, createRoomToken, createSignalingServer, PROTOCOL_VERSION, RedisRoomStore, type ErrorCode, type SignalingServerOptions } from 'peerkit-signal';
const options: SignalingServerOptions = { maxMembers: 8, store: new RedisRoomStore({ url: 'redis://127.0.0.1:6379' }) };
const code: SdkErrorCode = 'ROOM_FULL' satisfies ErrorCode;
const signaling = attach(createServer(), { path: '/signal' });
export const made = { server: createSignalingServer(options), signaling, token: createRoomToken, code, same: PROTOCOL_VERSION === SDK_VERSION };
`,
  );
  const compilerOptions = { strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', lib: ['es2022'], types: ['node'], module: 'nodenext', moduleResolution: 'nodenext' };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['server.ts'] }));
  const failures = [];
  for (const compiler of COMPILERS.filter((c) => !/ 5\.[0-4]$/.test(c.name))) {
    const options = compiler.ignoreDeprecations ? ['--ignoreDeprecations', compiler.ignoreDeprecations] : [];
    await run(process.execPath, [compiler.tsc, '-p', dir, ...options], { cwd: dir }).catch((error) => failures.push(`${compiler.name}: ${error.stdout || error.message}`));
  }
  assert.deepEqual(failures, []);
});
