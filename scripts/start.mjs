// `npm start`: builds peerkit, starts the signaling server and serves the demo, all on loopback,
// and prints the URL to open. The e2e tests start the same thing through startDemo().
//
//   npm start                      # http://127.0.0.1:8080/demo/
//   npm start -- --port 9000 --no-build
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Answers a GET or HEAD with the file at `path` below `root`, uncached, or 404. The demo's server
 * and the tests' (test/support/servers.mjs) both serve files through it.
 */
export async function sendFile(req, res, root, path, headers = {}) {
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { ...headers, 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(404).end();
  }
}

/** Serves demo/ and the browser files of dist/, and tells the page where the signaling server is. */
function staticServer(signalUrl) {
  return createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405).end();
    if (pathname === '/') return res.writeHead(302, { location: '/demo/' }).end();
    // The page asks for this file to learn the server; plain static hosting has none, and the
    // page falls back to BroadcastChannel between tabs.
    if (pathname === '/demo/signal.json') {
      return res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' }).end(JSON.stringify({ url: signalUrl }));
    }
    const path = normalize(decodeURIComponent(pathname) + (pathname.endsWith('/') ? 'index.html' : ''));
    // The examples' import maps load eventemitter3's own ESM build, the one dependency of dist/.
    const allowed =
      path.startsWith(`${sep}demo${sep}`) ||
      path.startsWith(`${sep}examples${sep}`) ||
      path === join(sep, 'node_modules', 'eventemitter3', 'dist', 'eventemitter3.esm.js') ||
      path.startsWith(`${sep}dist${sep}`);
    if (!allowed) return res.writeHead(404).end();
    return sendFile(req, res, ROOT, path);
  });
}

/**
 * Starts the signaling server and the static server on `host`.
 *
 * @param {{ port?: number, host?: string, signaling?: import('../server/dist/index.js').SignalingServerOptions }} options
 * @returns {Promise<{ url: string, signalUrl: string, restartSignaling(): Promise<void>, close(): Promise<void> }>}
 */
export async function startDemo({ port = 8080, host = '127.0.0.1', signaling = {} } = {}) {
  const { createSignalingServer } = await import(pathToFileURL(join(ROOT, 'server/dist/index.js')).href);
  const create = () =>
    createSignalingServer({
      // Loopback only: no STUN or TURN is needed, and none is contacted.
      iceServers: [],
      logger: (entry) => entry.level === 'error' && console.error(JSON.stringify(entry)),
      ...signaling,
    });
  let signal = create();
  const { port: signalPort } = await signal.listen(0, host);
  const signalUrl = `ws://${host}:${signalPort}`;
  const files = staticServer(signalUrl);
  try {
    await new Promise((resolve, reject) => {
      files.once('error', reject);
      files.listen(port, host, resolve);
    });
  } catch (err) {
    await signal.close();
    throw err;
  }
  const url = `http://${host}:${files.address().port}/demo/`;
  return {
    url,
    signalUrl,
    /** Stops the signaling server and starts a fresh one on the same port, as a deploy would. */
    restartSignaling: async () => {
      await signal.close();
      signal = create();
      await signal.listen(signalPort, host);
    },
    close: async () => {
      files.closeAllConnections();
      await Promise.all([new Promise((resolve) => files.close(resolve)), signal.close()]);
    },
  };
}

async function main() {
  const args = process.argv.slice(2);
  const flag = (name) => args.includes(name);
  const value = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
  };
  if (flag('--help')) {
    console.log('usage: npm start -- [--port 8080] [--host 127.0.0.1] [--no-build]');
    return;
  }
  if (!flag('--no-build')) {
    console.log('building peerkit…');
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) process.exit(build.status ?? 1);
  }
  let demo;
  try {
    demo = await startDemo({ port: Number(value('--port', process.env.PORT ?? 8080)), host: value('--host', '127.0.0.1') });
  } catch (err) {
    console.error(err.code === 'EADDRINUSE' ? `port ${err.port} is in use: try npm start -- --port 0` : err);
    process.exit(1);
  }
  console.log(`\npeerkit demo: ${demo.url}`);
  console.log(`signaling:    ${demo.signalUrl}`);
  console.log('Open the link in two tabs (or send it to a second browser on this machine) to call. Ctrl+C stops.\n');
  const stop = () => void demo.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
