// Real Janus beside the browser suite: Debian's `janus` started by scripts/janus.mjs (inside
// scripts/netns.sh only) and peerkit signaling servers bridged to it. Tests read from
// /__peerkit/janus-env.js: MEDIA_URL (WHIP/WHEP with room tokens), REDIRECT_URL (answers every
// WHIP/WHEP request with a 307 to MEDIA_URL), and DEAD_MEDIA_URL (a bridge whose Janus is not there:
// 503 with Retry-After; the same token secret); or JANUS_MISSING, why
// Janus cannot run here, or JANUS_FAILED, why it did not start. The `janus` command mints tokens
// and asks Janus's Admin API for its sessions; `spares` starts, on first use, two more Janus
// instances and a bridge given both (no --token-secret: Rooms use the media tokens it mints in
// `joined`), and `kill-spare` stops the spare holding sessions.
// PEERKIT_JANUS_DEBUG=1 prints the bridge's log.
import { createServer } from 'node:http';
import { createRoomToken, createSignalingServer } from '../server/dist/index.js';
import { JanusUnavailable, startJanus } from '../scripts/janus.mjs';
import { freePort } from '../scripts/redis.mjs';

const SECRET = 'peerkit-test-media-secret';

/** A server that redirects every request to the same path on `target`, with CORS, as a load balancer would. */
async function startRedirector(target) {
  const server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST, PATCH, DELETE, OPTIONS');
      res.setHeader('access-control-allow-headers', 'Authorization, Content-Type, If-Match');
      res.writeHead(204).end();
      return;
    }
    res.writeHead(307, { location: `${target}${req.url}` }).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

export function janusPlugin() {
  let janus;
  let spares;
  const stops = [];
  const env = { MEDIA_URL: null, REDIRECT_URL: null, DEAD_MEDIA_URL: null, JANUS_MISSING: null, JANUS_FAILED: null };
  const logger = process.env.PEERKIT_JANUS_DEBUG ? (entry) => console.error(JSON.stringify(entry)) : false;
  const bridge = async (options) => {
    const server = createSignalingServer({ logger, ...options });
    stops.push(() => server.close());
    return `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
  };
  return {
    name: 'peerkit-janus',
    async serverStart() {
      try {
        janus = await startJanus();
      } catch (error) {
        // Unavailable: the WHIP tests skip. Failed: they fail with why, and the rest of the suite runs.
        if (error instanceof JanusUnavailable) env.JANUS_MISSING = error.message;
        else env.JANUS_FAILED = error instanceof Error ? error.message : String(error);
        return;
      }
      stops.push(() => janus.stop());
      env.MEDIA_URL = await bridge({ tokenSecret: SECRET, janus: [janus.url] });
      env.DEAD_MEDIA_URL = await bridge({ tokenSecret: SECRET, janus: [`ws://127.0.0.1:${await freePort()}`] });
      const redirector = await startRedirector(env.MEDIA_URL);
      stops.push(redirector.close);
      env.REDIRECT_URL = redirector.url;
    },
    async serverStop() {
      for (const stop of stops.reverse()) await stop();
    },
    serve(context) {
      if (context.path !== '/__peerkit/janus-env.js') return undefined;
      const body = Object.entries(env).map(([name, value]) => `export const ${name} = ${JSON.stringify(value)};`).join('\n');
      return { body, type: 'js' };
    },
    async executeCommand({ command, payload }) {
      if (command !== 'janus') return undefined;
      if (payload?.action === 'token') return createRoomToken(SECRET, payload.room, 600, payload.sub);
      if (payload?.action === 'sessions') return (await janus.sessions()).length;
      // Janus killed and started again on its port, as an operator's restart would; `downMs` it stays away.
      if (payload?.action === 'restart') {
        const { port } = janus;
        await janus.stop();
        await new Promise((resolve) => setTimeout(resolve, payload.downMs ?? 0));
        janus = await startJanus({ port });
        return true;
      }
      if (payload?.action === 'spares') {
        spares ??= (async () => {
          const instances = [await startJanus(), await startJanus()];
          stops.push(() => Promise.all(instances.map((j) => j.stop())));
          return { instances, url: await bridge({ janus: instances.map((j) => j.url) }) };
        })();
        return (await spares).url;
      }
      // The spare whose sessions the room uses dies for good; resolves with its index.
      if (payload?.action === 'kill-spare') {
        const { instances } = await spares;
        const counts = await Promise.all(instances.map(async (j) => (await j.sessions().catch(() => [])).length));
        const busiest = counts.indexOf(Math.max(...counts));
        await instances[busiest].stop();
        return busiest;
      }
      if (payload?.action === 'spare-sessions') {
        const { instances } = await spares;
        return Promise.all(instances.map(async (j, i) => (i === payload.skip ? null : (await j.sessions()).length)));
      }
      throw new Error(`janus command: unknown action ${JSON.stringify(payload)}`);
    },
  };
}
