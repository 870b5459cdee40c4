// How polite each transport is to the server it shares: a Room of 4 forms (real Peers on
// @roamhq/wrtc in Node), then sits idle. Printed per transport: the signals sent for the Room
// to form (transport.send calls) and the WebSocket frames that took, the time it took, then the
// WebSocket frames each idle member sends per second over the idle period (presence only:
// keep-alives, beats, announcements). Servers: peerkit-signal, Debian's Mosquitto, two
// @nostr-relay/core relays, all on loopback.
//
//   npm run --silent build && bash scripts/netns.sh node bench/politeness.mjs [--seconds 60] [--only mqtt]
import wrtc from '@roamhq/wrtc';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { Room, WebSocketTransport } from '../dist/index.js';
import { createSignalingServer } from '../server/dist/index.js';
import { MqttTransport } from '../dist/signaling/transports/mqtt.js';
import { NostrTransport } from '../dist/signaling/transports/nostr.js';
import { startMosquitto } from '../scripts/mosquitto.mjs';
import { startNostrRelay } from '../scripts/nostr-relay.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
};
const IDLE_S = Number(arg('--seconds', '60'));
const ONLY = arg('--only', undefined);
const MEMBERS = 4;

// NostrTransport uses the WHATWG WebSocket, which Node 20 lacks; `ws` is the same thing here.
globalThis.WebSocket = WebSocket;

// Messages sent to a server: each WebSocket frame for peerkit-signal and Nostr (one JSON
// message each); each MQTT packet for MQTT (MQTT.js writes one packet in several frames).
let frames = 0;
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (...args) {
  if (this.protocol !== 'mqtt') frames += 1;
  return send.apply(this, args);
};
const emit = mqtt.MqttClient.prototype.emit;
mqtt.MqttClient.prototype.emit = function (event, ...args) {
  if (event === 'packetsend') frames += 1;
  return emit.call(this, event, ...args);
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, test, ms = 60000) {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`${what} took more than ${ms} ms`);
    await sleep(20);
  }
}

/** Forms a Room of MEMBERS with `make()`'s transports, idles, and measures. */
async function measure(kind, make) {
  let signals = 0;
  const counted = () => {
    const transport = make();
    const original = transport.send.bind(transport);
    transport.send = (to, payload) => {
      signals += 1;
      original(to, payload);
    };
    return transport;
  };
  const name = `politeness-${Math.random().toString(36).slice(2)}`;
  frames = 0;
  const started = performance.now();
  const rooms = [];
  for (let i = 0; i < MEMBERS; i++) rooms.push(await Room.join(name, { transport: counted(), wrtc, iceServers: [], secret: 'bench secret' }));
  const states = () => rooms.map((room) => [...room.peers.values()].map((peer) => peer.state).join('/')).join(', ');
  await until(`the mesh (${kind}; Peers: ${states()})`, () => rooms.every((room) => room.peers.size === MEMBERS - 1 && [...room.peers.values()].every((peer) => peer.state === 'connected')));
  const formedMs = performance.now() - started;
  const formation = { signals, frames };
  // Let the last acknowledgements and answers settle before counting idle traffic.
  await sleep(2000);
  frames = 0;
  signals = 0;
  await sleep(IDLE_S * 1000);
  const idle = { frames, signals };
  await Promise.all(rooms.map((room) => room.leave()));
  console.log(
    `politeness: ${kind}: Room of ${MEMBERS} formed in ${Math.round(formedMs)} ms with ${formation.signals} signals (${formation.frames} WebSocket frames); ` +
      `idle: ${(idle.frames / MEMBERS / IDLE_S).toFixed(4)} frames/s per member over ${IDLE_S} s (${idle.frames} frames, ${idle.signals} signals in all)`,
  );
}

const cases = {
  websocket: async () => {
    const server = createSignalingServer({ logger: false });
    const { port } = await server.listen(0, '127.0.0.1');
    try {
      await measure('websocket (peerkit-signal)', () => new WebSocketTransport(`ws://127.0.0.1:${port}`, { WebSocket }));
    } finally {
      await server.close();
    }
  },
  mqtt: async () => {
    const broker = await startMosquitto();
    try {
      await measure('mqtt (Mosquitto, MQTT 5, keep-alive 20 s)', () => new MqttTransport(broker.url, { protocolVersion: 5 }));
    } finally {
      await broker.stop();
    }
  },
  nostr: async () => {
    const relays = await Promise.all([startNostrRelay(), startNostrRelay()]);
    try {
      await measure('nostr (two relays, beat 30 s)', () => new NostrTransport({ relays: relays.map((relay) => relay.url) }));
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
    }
  },
};

for (const [kind, run] of Object.entries(cases)) if (ONLY === undefined || ONLY === kind) await run();
process.exit(0);
