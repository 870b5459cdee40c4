// Test scaffolding, not the product's server: a WebSocket relay that hands every text frame to
// the other connected clients, unread. Peers signalling through it must cope with whatever a dumb
// pipe gives them.
import { WebSocketServer } from 'ws';
import { HOST } from './servers.mjs';

/** Starts the relay on a free port of HOST. */
export async function startRelay() {
  const wss = new WebSocketServer({ host: HOST, port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      for (const other of wss.clients) if (other !== socket && other.readyState === other.OPEN) other.send(data.toString());
    });
  });
  return {
    url: `ws://${HOST}:${wss.address().port}`,
    clients: () => wss.clients.size,
    close: () => {
      for (const client of wss.clients) client.terminate();
      return new Promise((resolve) => wss.close(resolve));
    },
  };
}
