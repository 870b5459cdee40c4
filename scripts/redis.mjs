// Starts a throwaway Debian `redis-server` on 127.0.0.1 at a free port, with no persistence, for
// tests and the load bench:
//   const redis = await startRedis();   // null when redis-server is not installed
//   ... redis.url ...; await redis.stop();
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

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

/** Resolves true once something on `port` answers PING with PONG. */
function answersPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => (socket.destroy(), resolve(data.toString().startsWith('+PONG'))));
  });
}

/**
 * Starts redis-server; resolves once it answers. `port` reuses a port, to restart a stopped
 * server where clients expect it; `args` are more redis-server flags. Resolves null when
 * redis-server is not installed.
 * @returns {Promise<{url: string, port: number, process: import('node:child_process').ChildProcess, stop(): Promise<void>} | null>}
 */
export async function startRedis({ port, args = [] } = {}) {
  if (redisMissing()) return null;
  for (let attempt = 0; ; attempt++) {
    const chosen = port ?? (await freePort());
    const child = spawn(
      'redis-server',
      ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', ...args],
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
      if (await answersPing(chosen)) return { url: `redis://127.0.0.1:${chosen}`, port: chosen, process: child, stop };
      await sleep(30);
    }
    await stop();
    if (port !== undefined || attempt >= 3) throw new Error(`redis-server did not start on port ${chosen}: ${stderr.trim()}`);
  }
}
