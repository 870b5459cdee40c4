// The servers tests start on loopback: the peerkit signaling server in this process, and a static
// file server for the pages that browsers open.
import { createServer } from 'node:http';
import { normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSignalingServer } from '../../server/dist/index.js';
import { sendFile } from '../../scripts/start.mjs';

export { freePort } from '../../scripts/redis.mjs';

export const HOST = '127.0.0.1';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A signaling server (the build in dist/) on `port` of 127.0.0.1, quiet unless `options` say
 * otherwise, closed when test `t` ends.
 */
export async function startServer(t, options = {}, port = 0) {
  const server = createSignalingServer({ logger: false, ...options });
  const bound = await server.listen(port, HOST);
  t.after(() => server.close());
  return { server, port: bound.port, url: `ws://${HOST}:${bound.port}` };
}

/**
 * Serves the given folders of `root` (the repository unless told; e.g. `/dist/`), nothing else, on
 * loopback, with `headers` added to every file (the bench's cross-origin isolation, for a finer clock).
 */
export async function startStatic(folders, root = ROOT, headers = {}) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!folders.some((folder) => path.startsWith(folder))) return res.writeHead(404).end();
    return sendFile(req, res, root, path, headers);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return { close: () => new Promise((resolve) => server.close(resolve)), base: `http://${HOST}:${server.address().port}` };
}
