// Starts Debian's coturn (`turnserver`) for tests and benches, with REST-API credentials
// (`use-auth-secret`): the signaling server mints them with the same secret.
//
//   import { startCoturn } from './scripts/coturn.mjs';
//   const turn = await startCoturn({ secret });   // throws CoturnUnavailable when it cannot run
//   ... turn.urls ...; await turn.stop();
//
// Inside scripts/netns.sh it listens and relays on the veth address (198.18.7.1), the setup in
// which Chromium was seen relaying its data channel; elsewhere on 127.0.0.1, allowing loopback
// peers, which is all a relay-only pair on one machine needs. It never binds anything else.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis.mjs';

/** The veth address scripts/netns.sh gives the namespace. */
export const NETNS_ADDRESS = '198.18.7.1';

/** Thrown by {@link startCoturn} when coturn cannot run here; its message says why. */
export class CoturnUnavailable extends Error {
  name = 'CoturnUnavailable';
}

/** Resolves true when something accepts TCP connections on `host`:`port`. */
export function accepts(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

/** Stops a child with SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Why coturn cannot run here, or undefined when it can. */
export function coturnMissing() {
  const found = spawnSync('turnserver', ['--version'], { stdio: 'ignore' });
  if (found.error !== undefined) return 'turnserver is not installed (apt-get install coturn)';
  if (process.getuid?.() !== 0) return 'not root, so no private network namespace to run coturn in';
  return undefined;
}

/**
 * Starts turnserver with `use-auth-secret` and `secret`; resolves once it listens.
 * @param {{ secret: string, address?: string, realm?: string }} options
 * @returns {Promise<{ urls: string[], address: string, port: number, realm: string, stop(): Promise<void>, log(): string }>}
 */
export async function startCoturn({ secret, address, realm = 'peerkit.test' }) {
  const why = coturnMissing();
  if (why) throw new CoturnUnavailable(why);
  if (typeof secret !== 'string' || secret === '') throw new TypeError('startCoturn needs a secret');
  const ip = address ?? (process.env.PEERKIT_NETNS === 'inside' ? NETNS_ADDRESS : '127.0.0.1');
  const port = await freePort();
  const minPort = 40000 + Math.floor(Math.random() * 200) * 100;
  // A scratch directory: coturn writes its pid and log files, and must not touch /var.
  const scratch = mkdtempSync(join(tmpdir(), 'peerkit-coturn-'));
  const args = [
    '-n', // no config file: every setting is here
    `--listening-ip=${ip}`,
    `--relay-ip=${ip}`,
    `--listening-port=${port}`,
    `--min-port=${minPort}`,
    `--max-port=${minPort + 99}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    '--fingerprint',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--no-multicast-peers',
    '--no-rfc5780',
    '--no-software-attribute',
    `--pidfile=${join(scratch, 'turnserver.pid')}`,
    `--userdb=${join(scratch, 'turndb')}`,
    '--log-file=stdout',
    '--simple-log',
  ];
  if (ip.startsWith('127.')) args.push('--allow-loopback-peers');
  const child = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk) => (output += chunk);
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const stop = async () => {
    await stopChild(child, 2000);
    rmSync(scratch, { recursive: true, force: true });
  };
  // coturn logs nothing when its listeners are up; the TCP one accepting connections says it.
  let started = false;
  for (const deadline = Date.now() + 5000; !started && Date.now() < deadline && child.exitCode === null; ) {
    started = await accepts(ip, port);
    if (!started) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!started) {
    await stop();
    throw new Error(`turnserver did not start:\n${output.slice(-2000)}`);
  }
  return {
    urls: [`turn:${ip}:${port}?transport=udp`, `turn:${ip}:${port}?transport=tcp`],
    address: ip,
    port,
    realm,
    stop,
    log: () => output,
  };
}

// `node scripts/coturn.mjs`: start one, print its URLs, stop on Ctrl-C (for trying things by hand).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const secret = process.env.PEERKIT_TURN_SECRET ?? 'peerkit-dev-secret';
  const turn = await startCoturn({ secret });
  console.log(JSON.stringify({ urls: turn.urls, secret }));
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void turn.stop().then(() => process.exit(0)));
}
