// Real servers beside the browser suite: a peerkit signaling server that tests can stop and
// restart (same port) with the `signal-server` command, and, where Debian's coturn can run, a
// coturn with REST credentials plus a second signaling server that hands them out. Tests read
// the URLs from /__peerkit/env.js; TURN_SIGNAL_URL is null, with TURN_MISSING saying why, when
// coturn cannot run here.
import { createSignalingServer } from '../server/dist/index.js';
import { CoturnUnavailable, startCoturn } from '../scripts/coturn.mjs';

const TURN_SECRET = 'peerkit-test-turn-secret';

export function signalServerPlugin() {
  let server;
  let port = 0;
  let turn;
  let turnServer;
  let turnSignalUrl = null;
  let turnMissing = null;
  const start = async () => {
    server = createSignalingServer({ logger: false });
    ({ port } = await server.listen(port, '127.0.0.1'));
  };
  const startTurn = async () => {
    try {
      turn = await startCoturn({ secret: TURN_SECRET });
    } catch (error) {
      if (!(error instanceof CoturnUnavailable)) throw error;
      turnMissing = error.message;
      return;
    }
    turnServer = createSignalingServer({ logger: false, turn: { secret: TURN_SECRET, urls: turn.urls, ttlSeconds: 600 } });
    turnSignalUrl = `ws://127.0.0.1:${(await turnServer.listen(0, '127.0.0.1')).port}`;
  };
  return {
    name: 'peerkit-signal-server',
    async serverStart() {
      await start();
      await startTurn();
    },
    async serverStop() {
      await server?.close();
      await turnServer?.close();
      await turn?.stop();
    },
    serve(context) {
      if (context.path !== '/__peerkit/env.js') return undefined;
      const body = [
        `export const SIGNAL_URL = 'ws://127.0.0.1:${port}';`,
        `export const TURN_SIGNAL_URL = ${JSON.stringify(turnSignalUrl)};`,
        `export const TURN_MISSING = ${JSON.stringify(turnMissing)};`,
        `export const TURN_SECRET = ${JSON.stringify(TURN_SECRET)};`,
      ].join('\n');
      return { body, type: 'js' };
    },
    async executeCommand({ command, payload }) {
      if (command !== 'signal-server') return undefined;
      if (payload?.action === 'stop' || payload?.action === 'restart') {
        await server.close();
        server = undefined;
      }
      if (payload?.action === 'start' || payload?.action === 'restart') await start();
      return { port };
    },
  };
}
