// Servers that other people wrote, beside the browser suite: Debian's Mosquitto (an anonymous
// and a password WebSocket listener) and Nostr relays from @nostr-relay/core (two plain, one
// that demands NIP-42 AUTH, one that refuses every event as a rate-limiting relay does). Tests
// read the URLs from /__peerkit/brokers.js and kill or restart a server with the `broker` command:
// `{ server: 'mosquitto' | 'relay0' | 'relay1', action: 'kill' | 'start' }`. For Mosquitto, also
// `clients` (the local ports of the WebSocket connections it has) and `silence` / `mend` with a
// `port`: every packet of that one connection dropped (nftables), as a member whose network died
// without a word, so only the keep-alive can tell. Only inside the private network namespace.
const run = promisify(execFile);
const TABLE = 'peerkit_mqtt_silence';

async function mosquittoCommand(mosquitto, { action, port }) {
  if (process.env.PEERKIT_NETNS !== 'inside') return { unavailable: 'not inside the private network namespace' };
  const brokerPort = new URL(mosquitto.url).port;
  if (action === 'clients') {
    const { stdout } = await run('ss', ['-tnH', 'state', 'established', `( dport = :${brokerPort} )`]);
    return { ports: stdout.split('\n').filter(Boolean).map((line) => Number(line.trim().split(/\s+/)[2].split(':').pop())) };
  }
  if (action === 'silence') {
    const rules = `add table inet ${TABLE}; add chain inet ${TABLE} in { type filter hook input priority 0; }; add rule inet ${TABLE} in tcp sport ${Number(port)} drop; add rule inet ${TABLE} in tcp dport ${Number(port)} drop`;
    await run('nft', [rules]);
    return { silenced: port };
  }
  if (action === 'mend') {
    await run('nft', [`delete table inet ${TABLE}`]).catch(() => {});
    return { mended: true };
  }
  return undefined;
}
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MosquittoUnavailable, startMosquitto } from '../scripts/mosquitto.mjs';
import { startNostrRelay } from '../scripts/nostr-relay.mjs';

export function brokerPlugin() {
  const servers = {};
  let mosquittoMissing = null;
  return {
    name: 'peerkit-brokers',
    async serverStart() {
      try {
        servers.mosquitto = await startMosquitto();
      } catch (error) {
        if (!(error instanceof MosquittoUnavailable)) throw error;
        mosquittoMissing = error.message;
      }
      [servers.relay0, servers.relay1, servers.authRelay, servers.refusingRelay] = await Promise.all([
        startNostrRelay(),
        startNostrRelay(),
        startNostrRelay({ auth: true }),
        startNostrRelay({ refuse: 'rate-limited: slow down, this relay takes 0 events a second' }),
      ]);
    },
    async serverStop() {
      await Promise.all(Object.values(servers).map((server) => server.stop()));
    },
    serve(context) {
      if (context.path !== '/__peerkit/brokers.js') return undefined;
      const { mosquitto, relay0, relay1, authRelay, refusingRelay } = servers;
      const body = [
        `export const MQTT_URL = ${JSON.stringify(mosquitto?.url ?? null)};`,
        `export const MQTT_AUTH_URL = ${JSON.stringify(mosquitto?.authUrl ?? null)};`,
        `export const MQTT_USERNAME = ${JSON.stringify(mosquitto?.username ?? null)};`,
        `export const MQTT_PASSWORD = ${JSON.stringify(mosquitto?.password ?? null)};`,
        `export const MQTT_MISSING = ${JSON.stringify(mosquittoMissing)};`,
        `export const NOSTR_RELAYS = ${JSON.stringify([relay0.url, relay1.url])};`,
        `export const NOSTR_AUTH_RELAY = ${JSON.stringify(authRelay.url)};`,
        `export const NOSTR_REFUSING_RELAY = ${JSON.stringify(refusingRelay.url)};`,
      ].join('\n');
      return { body, type: 'js' };
    },
    async executeCommand({ command, payload }) {
      if (command !== 'broker') return undefined;
      const server = servers[payload?.server];
      if (server === undefined) throw new Error(`no server ${payload?.server}`);
      if (payload.server === 'mosquitto') {
        const answer = await mosquittoCommand(server, payload);
        if (answer !== undefined) return answer;
      }
      if (payload.action === 'kill') await server.kill();
      else if (payload.action === 'start') await server.start();
      else throw new Error(`unknown action ${payload.action}`);
      return { ok: true };
    },
  };
}
