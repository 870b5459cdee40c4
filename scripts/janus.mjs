// Starts Debian's Janus (`janus`, 1.x) for tests and benches, with a configuration written into a
// scratch directory: the VideoRoom plugin, the WebSocket transport on 127.0.0.1 (Janus API and
// Admin API on two ports), every other plugin, transport, logger and event handler left unloaded.
//
//   import { startJanus } from './scripts/janus.mjs';
//   const janus = await startJanus();   // throws JanusUnavailable when it cannot run here
//   ... janus.url, await janus.sessions() ...; await janus.stop();
//
// Janus gathers no loopback candidates (libnice skips them), so inside scripts/netns.sh it gathers
// on the namespace's veth address (198.18.7.1) only, enforced by `ice_enforce_list`; outside the
// namespace it would gather on the host's interfaces, which is why it refuses to run there.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { NETNS_ADDRESS, accepts, stopChild } from './coturn.mjs';
import { freePort } from './redis.mjs';

const LIB = '/usr/lib/x86_64-linux-gnu/janus';

/** Thrown by {@link startJanus} when Janus cannot run here; its message says why. */
export class JanusUnavailable extends Error {
  name = 'JanusUnavailable';
}

/** Why Janus cannot run here, or undefined when it can. */
export function janusMissing() {
  const found = spawnSync('janus', ['--version'], { stdio: 'ignore' });
  if (found.error !== undefined) return 'janus is not installed (apt-get install janus)';
  if (process.env.PEERKIT_NETNS !== 'inside') return 'not inside scripts/netns.sh, so no private address for Janus to gather ICE candidates on';
  return undefined;
}

/** The shared objects in `folder` except `keep`, for a `disable` line. */
function allBut(folder, keep) {
  let names = [];
  try {
    names = readdirSync(join(LIB, folder)).filter((name) => name.endsWith('.so'));
  } catch {
    // A folder the package does not ship has nothing to disable.
  }
  return names.filter((name) => name !== keep).join(',');
}

/** One `list_sessions` over a new Admin API connection; rejects if it closes or fails before the answer. */
async function askSessions(adminUrl, adminSecret) {
  const ws = new WebSocket(adminUrl, 'janus-admin-protocol');
  try {
    return await new Promise((resolve, reject) => {
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('the Admin API closed before it answered')));
      ws.once('message', (data) => resolve(JSON.parse(String(data)).sessions));
      ws.once('open', () => ws.send(JSON.stringify({ janus: 'list_sessions', transaction: 'sessions', admin_secret: adminSecret })));
    });
  } finally {
    ws.terminate();
  }
}

/**
 * The ids of the sessions a Janus holds, from its Admin API. Asked up to three times: once in CI
 * the Admin WebSocket hung up on a new connection ("socket hang up") right after six plays were
 * set up on that Janus, which had just served them; a Janus that fails three times in a row has a
 * problem worth failing on.
 */
async function listSessions(adminUrl, adminSecret) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await askSessions(adminUrl, adminSecret);
    } catch (error) {
      if (attempt === 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/**
 * Starts Janus; resolves once its WebSocket API accepts connections.
 * @param {{ port?: number, apiSecret?: string, adminKey?: string }} [options] - `port` reuses a
 * port, to restart a stopped Janus where clients expect it; `apiSecret` and `adminKey` configure
 * Janus's `api_secret` and the VideoRoom's `admin_key`, to test a bridge given them.
 * @returns {Promise<{ url: string, port: number, adminUrl: string, adminSecret: string, address: string, sessions(): Promise<number[]>, stop(): Promise<void>, log(): string }>}
 * (`sessions()`: the ids of the sessions Janus holds, from its Admin API)
 */
export async function startJanus({ port, apiSecret, adminKey } = {}) {
  const why = janusMissing();
  if (why) throw new JanusUnavailable(why);
  const wsPort = port ?? (await freePort());
  const adminPort = await freePort();
  const adminSecret = `admin-${Math.random().toString(36).slice(2)}`;
  const rtpBase = 20000 + Math.floor(Math.random() * 400) * 100;
  const scratch = mkdtempSync(join(tmpdir(), 'peerkit-janus-'));
  writeFileSync(
    join(scratch, 'janus.jcfg'),
    `general: {
  configs_folder = "${scratch}"
  plugins_folder = "${LIB}/plugins"
  transports_folder = "${LIB}/transports"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  debug_level = 3
  admin_secret = "${adminSecret}"
  ${apiSecret === undefined ? '' : `api_secret = "${apiSecret}"`}
  session_timeout = 60
  server_name = "peerkit-test"
}
media: {
  rtp_port_range = "${rtpBase}-${rtpBase + 99}"
}
nat: {
  nice_debug = false
  ice_enforce_list = "${NETNS_ADDRESS}"
  ignore_mdns = false
}
plugins: {
  disable = "${allBut('plugins', 'libjanus_videoroom.so')}"
}
transports: {
  disable = "${allBut('transports', 'libjanus_websockets.so')}"
}
loggers: {
  disable = "${allBut('loggers', '')}"
}
events: {
  broadcast = false
}
`,
  );
  writeFileSync(
    join(scratch, 'janus.transport.websockets.jcfg'),
    `general: {
  json = "plain"
  ws = true
  ws_port = ${wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = true
  admin_ws_port = ${adminPort}
  admin_ws_ip = "127.0.0.1"
  admin_wss = false
}
`,
  );
  writeFileSync(
    join(scratch, 'janus.plugin.videoroom.jcfg'),
    `general: {
  ${adminKey === undefined ? '' : `admin_key = "${adminKey}"`}
}
`,
  );
  const child = spawn('janus', ['--configs-folder', scratch, '--config', join(scratch, 'janus.jcfg'), '--disable-colors'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk) => {
    output += chunk;
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  /** Stops it; `SIGKILL` is a crash, with no goodbye to its clients. */
  const stop = async (signal = 'SIGTERM') => {
    if (signal === 'SIGKILL' && child.exitCode === null) child.kill('SIGKILL');
    await stopChild(child, 3000);
    rmSync(scratch, { recursive: true, force: true });
  };
  let started = false;
  for (const deadline = Date.now() + 10_000; !started && Date.now() < deadline && child.exitCode === null; ) {
    started = (await accepts('127.0.0.1', wsPort)) && (await accepts('127.0.0.1', adminPort));
    if (!started) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!started) {
    await stop();
    throw new Error(`janus did not start:\n${output.slice(-3000)}`);
  }
  return {
    url: `ws://127.0.0.1:${wsPort}`,
    port: wsPort,
    adminUrl: `ws://127.0.0.1:${adminPort}`,
    adminSecret,
    address: NETNS_ADDRESS,
    sessions: () => listSessions(`ws://127.0.0.1:${adminPort}`, adminSecret),
    stop,
    log: () => output,
  };
}

// `bash scripts/netns.sh node scripts/janus.mjs`: start one, print its URLs, stop on Ctrl-C.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const janus = await startJanus();
  console.log(JSON.stringify({ url: janus.url, adminUrl: janus.adminUrl, adminSecret: janus.adminSecret }));
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void janus.stop().then(() => process.exit(0)));
}
