// Debian's Mosquitto for the tests, the bench and the demo: two WebSocket listeners (on 127.0.0.1 as
// far as Mosquitto 2.0 allows, see below),
// one anonymous and one with a user and password (a password file made by mosquitto_passwd),
// no persistence. `kill()` ends it with SIGKILL, as a crash would (no last will is lost: the
// broker itself is gone); `start()` brings it back on the same ports.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether `child` has been spawned and has not exited (a signal leaves `exitCode` null). */
export const running = (child) => child !== undefined && child.exitCode === null && child.signalCode === null;

/** Ends `child` with SIGKILL, as a crash would, and resolves once it has exited. */
export async function crash(child) {
  if (!running(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Thrown when mosquitto is not installed here. */
export class MosquittoUnavailable extends Error {}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => resolve(socket.end() && true));
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts mosquitto. Resolves with its URLs, the credentials of the second listener, and
 * `kill()`, `start()`, `stop()`.
 */
export async function startMosquitto({ username = 'peerkit', password = 'peerkit-test-password', binary = 'mosquitto' } = {}) {
  await run(binary, ['-h']).catch((error) => {
    if (error.code === 'ENOENT') throw new MosquittoUnavailable(`${binary} is not installed (Debian package mosquitto)`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'peerkit-mosquitto-'));
  const passwd = join(dir, 'passwd');
  await writeFile(passwd, '');
  await run('mosquitto_passwd', ['-b', passwd, username, password]);
  const [port, authPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [
      // Run as whoever starts it (root inside the test namespace), so it can read the files above.
      'user root',
      'per_listener_settings true',
      'persistence false',
      'log_dest none',
      // Mosquitto 2.0 exits with "Unable to start any listening sockets" when every listener is
      // a WebSocket one (https://github.com/eclipse-mosquitto/mosquitto/issues/2284), so a plain
      // MQTT listener on loopback comes first. Its WebSocket listeners also ignore the address
      // and listen on every interface (https://github.com/eclipse-mosquitto/mosquitto/issues/3045):
      // run this inside scripts/netns.sh, where no other machine can reach them.
      `listener ${tcpPort} 127.0.0.1`,
      'allow_anonymous false',
      `listener ${port} 127.0.0.1`,
      'protocol websockets',
      'allow_anonymous true',
      `listener ${authPort} 127.0.0.1`,
      'protocol websockets',
      'allow_anonymous false',
      `password_file ${passwd}`,
      '',
    ].join('\n'),
  );
  let child;
  let stderr = '';
  const start = async () => {
    if (running(child)) return;
    stderr = '';
    child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const deadline = Date.now() + 10000;
    while (!(await accepts(port)) || !(await accepts(authPort))) {
      if (!running(child) || Date.now() > deadline) throw new Error(`mosquitto did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = () => crash(child);
  await start();
  return {
    url: `ws://127.0.0.1:${port}`,
    authUrl: `ws://127.0.0.1:${authPort}`,
    username,
    password,
    start,
    kill,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
