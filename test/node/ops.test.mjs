// Running peerkit-signal in production: settings from flags, environment and a config file; log
// levels and X-Forwarded-For; process metrics behind a token or on their own port; mounting on an
// existing HTTP server or Express app; draining on SIGTERM. Build first:
// npx tsc -p . && npx tsc -p server/tsconfig.json
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { readCommand } from '../../server/dist/config.js';
import { FLAGS, envName } from '../../server/dist/flags.js';
import { attach } from '../../server/dist/index.js';
import { WebSocketTransport } from '../../dist/signaling/transports/websocket.js';
import { HOST, freePort, startServer } from '../support/servers.mjs';
import { startSignalCli } from '../support/signal-cli.mjs';
import { connect, joinAs } from '../support/signal-client.mjs';
import { until } from '../support/wait.mjs';

const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/** A CLI process whose log entries are collected; killed when `t` ends. */
async function cli(t, args, env = {}) {
  const started = startSignalCli(args, { env: { ...process.env, ...env } });
  t.after(() => started.child.kill('SIGKILL'));
  const entries = [];
  let rest = '';
  started.child.stderr.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) if (line.startsWith('{')) entries.push(JSON.parse(line));
  });
  const listening = await started.listening;
  return { child: started.child, port: listening.port, url: `ws://${HOST}:${listening.port}`, http: `http://${HOST}:${listening.port}`, entries };
}

function run(args, env = {}) {
  return import('node:child_process').then(({ spawnSync }) =>
    spawnSync(process.execPath, [new URL('../../server/dist/cli.js', import.meta.url).pathname, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }),
  );
}

function tempFile(name, text) {
  const path = join(mkdtempSync(join(tmpdir(), 'peerkit-ops-')), name);
  writeFileSync(path, text);
  return path;
}

test('-h and --help print the usage with every flag of the table; -v and --version print the version', async () => {
  for (const flag of ['-h', '--help']) {
    const { status, stdout } = await run([flag]);
    assert.equal(status, 0);
    for (const row of FLAGS) assert.match(stdout, new RegExp(`--${row.name}\\b`), `--${row.name} in the usage`);
  }
  for (const flag of ['-v', '--version']) {
    const { status, stdout } = await run([flag]);
    assert.equal(status, 0);
    assert.equal(stdout.trim(), VERSION);
  }
});

test('every flag is read from the command line, then PEERKIT_SIGNAL_*, then the --config file', () => {
  const config = tempFile('signal.json', JSON.stringify({ 'max-members': 3, rate: 7, origins: ['https://a.example'], 'trust-proxy': 1, quiet: true }));
  const env = { PEERKIT_SIGNAL_RATE: '9', PEERKIT_SIGNAL_DRAIN_MS: '250', PORT: '9000' };
  const command = readCommand(['--config', config, '--max-members', '5'], env, (path) => readFileSync(path, 'utf8'));
  assert.equal(command.kind, 'run');
  const { settings } = command;
  assert.equal(settings.server.maxMembers, 5, 'the command line wins over the file');
  assert.equal(settings.server.rate, 9, 'the environment wins over the file');
  assert.deepEqual(settings.server.origins, ['https://a.example'], 'a JSON array for a list');
  assert.equal(settings.server.trustProxy, 1);
  assert.equal(settings.server.drainMs, 250);
  assert.equal(settings.port, 9000, 'PORT, as platforms set it');
  assert.equal(settings.server.logger, false, 'quiet from the file');
  const named = readCommand([], { PORT: '9000', PEERKIT_SIGNAL_PORT: '9001' }, () => '');
  assert.equal(named.settings.port, 9001, 'PEERKIT_SIGNAL_PORT wins over PORT');
  assert.equal(envName('metrics-token'), 'PEERKIT_SIGNAL_METRICS_TOKEN');
});

test('a bad value or an unknown key, wherever it comes from, stops the CLI with exit code 2 and names its source', async () => {
  const fromEnv = await run([], { PEERKIT_SIGNAL_MAX_MEMBERS: 'many' });
  assert.equal(fromEnv.status, 2);
  assert.match(fromEnv.stderr, /PEERKIT_SIGNAL_MAX_MEMBERS must be a non-negative integer/);
  const unknown = await run(['--config', tempFile('bad.json', '{"max-member": 3}')]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown setting "max-member"/);
  const level = await run(['--log-level', 'loud']);
  assert.equal(level.status, 2);
  assert.match(level.stderr, /--log-level must be one of debug, info, warn, error, silent/);
});

test('the CLI listens on PORT, takes a config file, and logs refused joins at info with the room', async (t) => {
  const port = await freePort();
  const config = tempFile('signal.json', JSON.stringify({ 'max-members': 1 }));
  const server = await cli(t, ['--config', config], { PORT: String(port) });
  assert.equal(server.port, port);
  await joinAs(t, server.url, 'solo');
  const second = await connect(t, server.url);
  second.send({ v: 1, type: 'join', room: 'solo' });
  assert.equal((await second.next('error')).code, 'ROOM_FULL', 'max-members 1 from the config file');
  await until('the refusal is logged', () => server.entries.some((e) => e.event === 'refused' && e.code === 'ROOM_FULL'));
  const refused = server.entries.find((e) => e.event === 'refused');
  assert.equal(refused.level, 'info');
  assert.match(refused.remote, /^127\.0\.0\.1:\d+$/);
});

test('--log-level debug shows connections, --log-level warn hides joins and even the listening line', async (t) => {
  const debug = await cli(t, ['--port', '0', '--log-level', 'debug']);
  await joinAs(t, debug.url, 'r');
  await until('debug logs the connection and the join', () => ['connect', 'join'].every((event) => debug.entries.some((e) => e.event === event)));
  const port = await freePort();
  const warn = startSignalCli(['--port', String(port), '--log-level', 'warn']);
  warn.listening.catch(() => {}); // never logged at warn: the promise rejects when the process is killed
  t.after(() => warn.child.kill('SIGKILL'));
  let stderr = '';
  warn.child.stderr.on('data', (chunk) => (stderr += chunk));
  await until('the warn-level server answers', () => fetch(`http://${HOST}:${port}/healthz`).then((r) => r.ok, () => false));
  await joinAs(t, `ws://${HOST}:${port}`, 'r');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(stderr, '');
});

test('--trust-proxy 1 logs the address the proxy appended to X-Forwarded-For, never one the client made up', async (t) => {
  const trusting = await cli(t, ['--port', '0', '--trust-proxy', '1']);
  const plain = await cli(t, ['--port', '0']);
  const headers = { 'x-forwarded-for': '6.6.6.6, 203.0.113.7' };
  const viaProxy = await connect(t, trusting.url, { headers });
  viaProxy.send({ v: 1, type: 'join', room: 'r' });
  await viaProxy.next('joined');
  const direct = await connect(t, plain.url, { headers });
  direct.send({ v: 1, type: 'join', room: 'r' });
  await direct.next('joined');
  await until('both joins are logged', () => [trusting, plain].every((s) => s.entries.some((e) => e.event === 'join')));
  assert.equal(trusting.entries.find((e) => e.event === 'join').remote, '203.0.113.7');
  assert.match(plain.entries.find((e) => e.event === 'join').remote, /^127\.0\.0\.1:\d+$/, 'not trusted without the flag');
});

test('/metrics has process metrics; --metrics-token needs the bearer token; --metrics-port moves /metrics off the main port', async (t) => {
  const guarded = await cli(t, ['--port', '0', '--metrics-token', 's3cret']);
  assert.equal((await fetch(`${guarded.http}/metrics`)).status, 401);
  assert.equal((await fetch(`${guarded.http}/metrics`, { headers: { authorization: 'Bearer wrong!' } })).status, 401);
  const res = await fetch(`${guarded.http}/metrics`, { headers: { authorization: 'Bearer s3cret' } });
  assert.equal(res.status, 200);
  const text = await res.text();
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_resources_total', 'peerkit_connections']) {
    assert.match(text, new RegExp(`^${name} [0-9.e+-]+$`, 'm'), name);
  }
  assert.equal((await fetch(`${guarded.http}/healthz`)).status, 200, '/healthz needs no token');

  const metricsPort = await freePort();
  const separate = await cli(t, ['--port', '0', '--metrics-port', String(metricsPort)]);
  assert.equal((await fetch(`${separate.http}/metrics`)).status, 404);
  const moved = await fetch(`http://${HOST}:${metricsPort}/metrics`);
  assert.equal(moved.status, 200);
  assert.match(await moved.text(), /^process_cpu_seconds_total /m);
});

test('SIGTERM: /healthz answers 503 at once, joins get DRAINING, joined members keep relaying, then 1012 after --drain-ms and exit 0', async (t) => {
  const server = await cli(t, ['--port', '0', '--drain-ms', '1500']);
  const alice = await joinAs(t, server.url, 'r');
  const bob = await joinAs(t, server.url, 'r');
  const exited = once(server.child, 'exit');
  const sent = Date.now();
  server.child.kill('SIGTERM');
  await until('/healthz fails', async () => (await fetch(`${server.http}/healthz`)).status === 503, 1000);
  const late = await connect(t, server.url);
  late.send({ v: 1, type: 'join', room: 'r' });
  const refusal = await late.next('error');
  assert.equal(refusal.code, 'DRAINING');
  assert.equal(refusal.re, 'join');
  alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'still here' });
  assert.equal((await bob.next('signal')).payload, 'still here');
  assert.equal((await alice.closed).code, 1012);
  const elapsed = Date.now() - sent;
  assert.ok(elapsed >= 1400 && elapsed < 4000, `closed after ${elapsed} ms`);
  assert.deepEqual(await exited, [0, null]);
  assert.ok(server.entries.some((e) => e.event === 'draining' && e.ms === 1500));
});

test('WebSocketTransport with two URLs: a draining instance sends its joiners to the other at once, and its members follow at the 1012', async (t) => {
  const a = await startServer(t, { drainMs: 800 });
  const b = await startServer(t);
  const options = { WebSocket, minDelayMs: 5000, maxDelayMs: 5000 };
  const early = new WebSocketTransport([a.url, b.url], options);
  t.after(() => early.close());
  const first = await early.join('moving');
  const draining = a.server.drain();
  const late = new WebSocketTransport([a.url, b.url], options);
  t.after(() => late.close());
  const started = Date.now();
  const second = await late.join('moving');
  assert.ok(Date.now() - started < 1000, 'no backoff: DRAINING means go elsewhere now');
  assert.deepEqual(second.members, [], 'joined through b, where no one is yet');
  const rejoined = new Promise((resolve) => early.on('joined', resolve));
  await draining;
  const again = await rejoined;
  assert.ok(Date.now() - started < 2500, 'moved at the 1012, not after a 5 s backoff');
  assert.notEqual(again.selfId, first.selfId);
  assert.deepEqual(again.members, [second.selfId]);
});

/** A Connect-style app in a dozen lines: `use(path?, fn)`, mount paths stripped from `url`. */
function connectStyleApp() {
  const stack = [];
  const app = (req, res) => {
    req.originalUrl = req.url;
    let i = 0;
    const next = () => {
      const layer = stack[i++];
      if (layer === undefined) return res.writeHead(404).end('app 404');
      if (!req.originalUrl.startsWith(layer.path)) return next();
      req.url = req.originalUrl.slice(layer.path.length - 1) || '/';
      layer.fn(req, res, next);
    };
    next();
  };
  app.use = (path, fn) => stack.push(typeof path === 'function' ? { path: '/', fn: path } : { path: `${path}/`.replace('//', '/'), fn });
  return app;
}

for (const [name, makeApp] of [
  ['a plain node:http handler', async () => (req, res) => res.writeHead(200).end('app')],
  ['a Connect-style app', async () => connectStyleApp()],
  ['Express', async () => (await import('express')).default()],
]) {
  test(`attach() mounts signaling at a path on ${name}: upgrades there join rooms, the middleware serves health and metrics, the app keeps the rest`, async (t) => {
    const app = await makeApp();
    const httpServer = createServer();
    const signaling = attach(httpServer, { path: '/signal', logger: false });
    t.after(() => signaling.close());
    if (typeof app.use === 'function') {
      app.use(signaling.middleware);
      app.use('/hello', (req, res) => res.end(`hello ${req.url}`));
      httpServer.on('request', app);
    } else {
      httpServer.on('request', (req, res) => signaling.middleware(req, res, () => app(req, res)));
    }
    httpServer.listen(0, HOST);
    await once(httpServer, 'listening');
    t.after(() => new Promise((resolve) => httpServer.close(resolve)));
    await signaling.ready;
    const base = `http://${HOST}:${httpServer.address().port}`;
    const url = `ws://${HOST}:${httpServer.address().port}/signal`;
    const alice = await joinAs(t, url, 'mounted');
    const bob = await joinAs(t, `${url}?client=2`, 'mounted');
    alice.send({ v: 1, type: 'signal', to: bob.id, payload: 'hi' });
    assert.equal((await bob.next('signal')).from, alice.id);
    const health = await fetch(`${base}/signal/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).connections, 2);
    assert.match(await (await fetch(`${base}/signal/metrics`)).text(), /^peerkit_members 2$/m);
    assert.doesNotMatch(await (await fetch(`${base}/healthz`)).text(), /connections/, 'health only under the path; the app answers the rest');
    if (typeof app.use === 'function') assert.equal(await (await fetch(`${base}/hello/x`)).text(), 'hello /x');
    const elsewhere = new WebSocket(`ws://${HOST}:${httpServer.address().port}/other`);
    const [error] = await once(elsewhere, 'error');
    assert.match(error.message, /socket hang up|closed/);
    const draining = signaling.drain(300);
    assert.equal((await fetch(`${base}/signal/healthz`)).status, 503);
    await draining;
    assert.equal((await alice.closed).code, 1012);
    assert.equal(httpServer.listening, true, 'the application server keeps running');
  });
}

test("the README's mounting example runs as written: Express serves signaling at /signal for its origin, and SIGTERM drains it", async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Mounting on an existing server'));
  const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example?.includes('httpServer.listen(3000)'), 'the README has the example, listening on 3000');
  const port = await freePort();
  // Run from the repository root, where `express` and the workspace's `peerkit-signal` resolve.
  const child = spawn(process.execPath, ['--input-type=module', '-e', example.replace('listen(3000)', `listen(${port}, '${HOST}')`)], {
    cwd: new URL('../..', import.meta.url),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit');
  t.after(() => child.kill('SIGKILL'));
  const base = `http://${HOST}:${port}`;
  await until('the example listening', async () => (await fetch(`${base}/signal/healthz`).catch(() => undefined))?.status === 200, 10000);
  const refused = new WebSocket(`ws://${HOST}:${port}/signal`, { origin: 'https://elsewhere.example' });
  const [, response] = await once(refused, 'unexpected-response');
  assert.equal(response.statusCode, 403, 'another origin is refused');
  const member = await joinAs(t, `ws://${HOST}:${port}/signal`, 'mounted', {}, { origin: 'https://app.example' });
  child.kill('SIGTERM');
  await until('health failing while it drains', async () => (await fetch(`${base}/signal/healthz`)).status === 503, 5000);
  assert.equal((await member.closed).code, 1012);
  const [code] = await exited;
  assert.equal(code, 0, stderr);
});
