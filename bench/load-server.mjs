// One signaling server for bench/load.mjs, in its own process (forked with an IPC channel):
//   node --expose-gc bench/load-server.mjs peerkit [redis-url | redis options as JSON]   |   ... peerjs
// Sends {type:'ready', port}; answers {type:'measure'} with its RSS after a GC and its CPU time.
import { PeerServer } from 'peer';
import { createSignalingServer } from '../server/dist/index.js';

const [kind, redis] = process.argv.slice(2);

async function start() {
  if (kind === 'peerkit') {
    // Warnings and errors only (a lost Redis, say): they explain a bad run; joins would flood.
    const logger = (entry) => entry.level !== 'debug' && entry.level !== 'info' && process.stderr.write(`load-server: ${JSON.stringify(entry)}\n`);
    const options = { logger };
    if (redis) options.redis = redis.startsWith('{') ? JSON.parse(redis) : redis;
    const server = createSignalingServer(options);
    return (await server.listen(0, '127.0.0.1')).port;
  }
  if (kind === 'peerjs') {
    return new Promise((resolve) => {
      // Its default concurrent_limit is 5000 clients, exactly the load: raised so that it is not
      // the limit that is measured.
      PeerServer({ port: 0, host: '127.0.0.1', path: '/', concurrent_limit: 100_000 }, (server) => resolve(server.address().port));
    });
  }
  throw new Error(`unknown server kind ${kind}`);
}

const port = await start();
process.send({ type: 'ready', port });
process.on('message', (message) => {
  if (message.type !== 'measure') return;
  globalThis.gc?.();
  process.send({ type: 'measure', rss: process.memoryUsage().rss, cpu: process.cpuUsage() });
});
