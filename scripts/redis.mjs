// Starts throwaway Debian `redis-server`s on 127.0.0.1 at free ports, with no persistence, for
// tests and the load bench: one server (optionally TLS only), a Redis Cluster, or a primary with
// a replica watched by Sentinels.
//   const redis = await startRedis();   // null when redis-server is not installed
//   ... redis.url ...; await redis.stop();
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Why Redis-backed tests cannot run here, or undefined when they can. */
export function redisMissing() {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return found.error === undefined && found.status === 0 ? undefined : 'redis-server is not installed (apt-get install redis-server)';
}

/** A port nothing listens on right now. */
export async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Resolves true once something on `port` answers PING (as an authenticated client of
 * `tlsFiles` when given: cert, key, ca).
 */
function answersPing(port, tlsFiles) {
  return new Promise((resolve) => {
    const socket = tlsFiles ? tls.connect({ port, host: '127.0.0.1', ...tlsFiles, servername: 'localhost' }) : net.connect(port, '127.0.0.1');
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.once(tlsFiles ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
    // NOAUTH: a server whose default user is off answers too.
    socket.once('data', (data) => (socket.destroy(), resolve(/^(\+PONG|-NOAUTH)/.test(data.toString()))));
  });
}

/**
 * Starts redis-server; resolves once it answers. `port` reuses a port, to restart a stopped
 * server where clients expect it; `args` are more redis-server flags; `tls` (from
 * {@link makeTlsFiles}) serves TLS only, with client certificates required. `config` is a file
 * to start from (Sentinel's). Resolves null when redis-server is not installed.
 * @returns {Promise<{url: string, port: number, process: import('node:child_process').ChildProcess, stop(): Promise<void>} | null>}
 */
export async function startRedis({ port, args = [], tls: tlsFiles, config } = {}) {
  if (redisMissing()) return null;
  for (let attempt = 0; ; attempt++) {
    const chosen = port ?? (await freePort());
    const portArgs = tlsFiles
      ? ['--port', '0', '--tls-port', String(chosen), '--tls-cert-file', tlsFiles.serverCert, '--tls-key-file', tlsFiles.serverKey, '--tls-ca-cert-file', tlsFiles.caFile, '--tls-auth-clients', 'yes']
      : ['--port', String(chosen)];
    // A replica's full sync writes an RDB file even with saving off: into a folder of its own, not the working tree.
    const dir = mkdtempSync(join(tmpdir(), 'peerkit-redis-'));
    const child = spawn(
      'redis-server',
      [...(config ? [config] : []), ...portArgs, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    };
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await answersPing(chosen, tlsFiles && { ca: tlsFiles.ca, cert: tlsFiles.clientCert, key: tlsFiles.clientKey })) {
        return { url: `${tlsFiles ? 'rediss' : 'redis'}://127.0.0.1:${chosen}`, port: chosen, process: child, stop };
      }
      await sleep(30);
    }
    await stop();
    if (port !== undefined || attempt >= 3) throw new Error(`redis-server did not start on port ${chosen}: ${stderr.trim()}`);
  }
}

/**
 * Makes, with openssl, a CA and two certificates it signs in `dir`: one for a server named
 * localhost and 127.0.0.1, one for a client. Resolves paths (`caFile`, `serverCert`,
 * `serverKey`) and PEM texts (`ca`, `clientCert`, `clientKey`).
 */
export function makeTlsFiles(dir) {
  const file = (name) => join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=peerkit test CA', '-keyout', file('ca.key'), '-out', file('ca.crt'));
  writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const [name, ext] of [['server', ['-extfile', file('server.ext')]], ['client', []]]) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-out', file(`${name}.crt`), ...ext);
  }
  const text = (name) => execFileSync('cat', [file(name)], { encoding: 'utf8' });
  return {
    caFile: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    ca: text('ca.crt'),
    clientCert: text('client.crt'),
    clientKey: text('client.key'),
  };
}

/** Runs redis-cli with `args`; resolves its output. */
export function redisCli(...args) {
  return execFileSync('redis-cli', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Starts a Redis Cluster of `masters` nodes (no replicas) with its files in `dir`; resolves once
 * every node says the cluster is ok. `nodes` are `host:port` strings.
 */
export async function startCluster(dir, masters = 3) {
  const servers = [];
  const stop = () => Promise.all(servers.map((s) => s.stop()));
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--dir', dir, '--cluster-node-timeout', '2000'] }));
    }
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    redisCli('--cluster', 'create', ...nodes, '--cluster-yes');
    const deadline = Date.now() + 15_000;
    for (const server of servers) {
      while (!redisCli('-p', String(server.port), 'cluster', 'info').includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error('the Redis Cluster did not become ok');
        await sleep(100);
      }
    }
    return { nodes, servers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts a primary, `replicas` replicas of it and `sentinels` Sentinels that watch it as
 * `master`, with their files in `dir`; resolves once every Sentinel knows every replica.
 * Sentinels take the primary for down after a second without answers.
 */
export async function startSentinels(dir, { replicas = 1, sentinels = 3, master = 'peerkit' } = {}) {
  const started = [];
  const stop = () => Promise.all(started.map((s) => s.stop()));
  try {
    const primary = await startRedis();
    started.push(primary);
    const replicaServers = [];
    for (let i = 0; i < replicas; i++) {
      const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
      started.push(replica);
      replicaServers.push(replica);
    }
    const watchers = [];
    for (let i = 0; i < sentinels; i++) {
      const config = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        config,
        [
          `sentinel monitor ${master} 127.0.0.1 ${primary.port} ${Math.floor(sentinels / 2) + 1}`,
          `sentinel down-after-milliseconds ${master} 1000`,
          `sentinel failover-timeout ${master} 5000`,
          `sentinel parallel-syncs ${master} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = await startRedis({ config, args: ['--sentinel', '--dir', dir] });
      started.push(sentinel);
      watchers.push(sentinel);
    }
    const deadline = Date.now() + 15_000;
    for (const sentinel of watchers) {
      while (!redisCli('-p', String(sentinel.port), 'sentinel', 'replicas', master).includes('slave')) {
        if (Date.now() > deadline) throw new Error('the Sentinels did not find the replica');
        await sleep(100);
      }
    }
    return { master, primary, replicas: replicaServers, sentinels: watchers.map((s) => `127.0.0.1:${s.port}`), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
