// A real peerkit signaling server beside the browser suite, so browser tests can use
// WebSocketTransport against the product's own server. Tests read its URL from
// /__peerkit/env.js and stop or restart it (same port) with the `signal-server` command.
import { createSignalingServer } from '../dist/server/index.js';

export function signalServerPlugin() {
  let server;
  let port = 0;
  const start = async () => {
    server = createSignalingServer({ logger: false });
    ({ port } = await server.listen(port, '127.0.0.1'));
  };
  return {
    name: 'peerkit-signal-server',
    async serverStart() {
      await start();
    },
    async serverStop() {
      await server?.close();
    },
    serve(context) {
      if (context.path !== '/__peerkit/env.js') return undefined;
      return { body: `export const SIGNAL_URL = 'ws://127.0.0.1:${port}';\n`, type: 'js' };
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
