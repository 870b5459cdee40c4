// Shared wiring for the browser suites: two real Peers back to back in one page.
import { next, sleep, until, within } from '../support/wait.mjs';
import { BroadcastChannelTransport, MemoryHub, MemoryTransport, Peer, Room, WebSocketTransport } from '../../dist/index.js';
import { SIGNAL_URL } from '/__peerkit/env.js';
import { MqttTransport } from '../../dist/signaling/transports/mqtt.js';
import { NostrTransport } from '../../dist/signaling/transports/nostr.js';
import { MQTT_AUTH_URL, MQTT_PASSWORD, MQTT_URL, MQTT_USERNAME, NOSTR_RELAYS } from '/__peerkit/brokers.js';

// The waiting helpers and room names are the ones every suite uses, Node's too.
export { roomName } from '../support/names.mjs';
export { next, sleep, until, within } from '../support/wait.mjs';

/** Two Peers whose signals go straight to each other, synchronously. */
export function pair(optionsA = {}, optionsB = optionsA) {
  const a = new Peer(optionsA);
  const b = new Peer(optionsB);
  a.on('signal', (m) => b.signal(m));
  b.on('signal', (m) => a.signal(m));
  return [a, b];
}

/** Two Peers whose signals go through JSON text and arrive later, in order, as through a server. */
export function latePair(delayMs = 5, optionsA = {}, optionsB = optionsA) {
  const a = new Peer(optionsA);
  const b = new Peer(optionsB);
  const relay = (to) => {
    let line = Promise.resolve();
    return (m) => {
      const text = JSON.stringify(m);
      line = line.then(() => sleep(Math.random() * delayMs)).then(() => to.signal(text));
    };
  };
  a.on('signal', relay(b));
  b.on('signal', relay(a));
  return [a, b];
}

/** Resolves once `channel` is open: at once if it already is, since its `open` event came and went. */
export const opened = (channel) => (channel.state === 'open' ? Promise.resolve() : within(10000, next(channel, 'open'), `channel ${channel.label} opening`));

/** Hex SHA-256 of bytes. */
export async function sha256(data) {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Whether two Blobs hold the same bytes, compared by the hash of 4 MiB slices so memory stays flat. */
export async function sameBytes(x, y) {
  if (x.size !== y.size) return false;
  const slice = 4 * 1024 * 1024;
  for (let offset = 0; offset < x.size; offset += slice) {
    const [p, q] = await Promise.all([x, y].map(async (blob) => sha256(await blob.slice(offset, offset + slice).arrayBuffer())));
    if (p !== q) return false;
  }
  return true;
}

/** Removes the transfers' folder from this origin's OPFS, so each test starts from nothing stored. */
export async function clearTransferStore() {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry('peerkit-transfers', { recursive: true }).catch(() => {});
}

/** A fake camera track: from the browser's fake device where it has one, else a painted canvas. */
export async function camera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 160, height: 120 } });
    return stream.getVideoTracks()[0];
  } catch {
    return canvasTrack();
  }
}

/** A video track painted on a canvas: needs no device or permission in any engine. */
export function canvasTrack(color = 'teal') {
  const canvas = document.createElement('canvas');
  canvas.width = 160;
  canvas.height = 120;
  const ctx = canvas.getContext('2d');
  let frame = 0;
  const paint = () => {
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, 160, 120);
    ctx.fillStyle = 'white';
    ctx.fillText(String(frame++), 10, 20);
  };
  paint();
  const stream = canvas.captureStream(15);
  const timer = setInterval(paint, 66);
  const track = stream.getVideoTracks()[0];
  track.addEventListener('ended', () => clearInterval(timer));
  const stop = track.stop.bind(track);
  track.stop = () => {
    clearInterval(timer);
    stop();
  };
  return track;
}

/** Sends `text` from one Peer's default channel and asserts the other receives exactly it. */
export async function expectDelivery(from, to, text) {
  const got = next(to, 'data');
  await from.send(text);
  const received = await within(10000, got, `delivering "${text}"`);
  if (received !== text) throw new Error(`expected "${text}", received ${JSON.stringify(received)}`);
}

/** Closes every Peer given and waits for them. */
export const closeAll = (...peers) => Promise.all(peers.map((p) => p.close()));

/** Collects unhandled rejections during a test so it can assert there were none. */
export function watchRejections() {
  const seen = [];
  const listener = (event) => {
    seen.push(event.reason);
    event.preventDefault();
  };
  window.addEventListener('unhandledrejection', listener);
  return {
    seen,
    stop: () => window.removeEventListener('unhandledrejection', listener),
  };
}

/**
 * Every transport, as a factory of factories: each call gives a maker of transports that can see
 * each other (one MemoryHub; the same origin; the suite's signaling server).
 */
export const TRANSPORTS = {
  memory: () => {
    const hub = new MemoryHub();
    return () => new MemoryTransport(hub);
  },
  broadcast: () => () => new BroadcastChannelTransport({ discoveryMs: 100 }),
  websocket: () => () => new WebSocketTransport(SIGNAL_URL),
  // Debian's Mosquitto, when it is installed (/__peerkit/brokers.js says why not otherwise).
  ...(MQTT_URL !== null && {
    'mqtt 3.1.1': () => () => new MqttTransport(MQTT_URL),
    'mqtt 5 with a password': () => () => new MqttTransport(MQTT_AUTH_URL, { protocolVersion: 5, username: MQTT_USERNAME, password: MQTT_PASSWORD }),
  }),
  'nostr, two relays': () => () => new NostrTransport({ relays: NOSTR_RELAYS }),
};

/** Skips the calling test (a `function`, not an arrow) where the engine has no WebRTC, as Debian's WebKitGTK. */
export function needsWebRTC(test) {
  if (typeof RTCPeerConnection === 'undefined') test.skip();
}

/** Resolves once every Room given has a connected Peer to each of the others. */
export const meshOf = (rooms, ms = 20000) =>
  until(
    `a mesh of ${rooms.length}`,
    () => rooms.every((room) => room.peers.size === rooms.length - 1 && [...room.peers.values()].every((peer) => peer.state === 'connected')),
    ms,
  );

/** The `data` a Room receives, as [data, from] pairs, in order. */
export function received(room) {
  const got = [];
  room.on('data', (data, from) => got.push([data, from]));
  return got;
}

/**
 * Three Rooms made by `transport()` join `name` with a secret and a hello, form a mesh and pass
 * data, while `spy` (`{ seen: string[], end() }`) records what the server lets anyone read: it must
 * see traffic, but neither the room name, nor a candidate, nor the hello in clear.
 */
export async function sealedRoomOfThree(name, transport, spy) {
  const open = () => Room.join(name, { transport: transport(), secret: 'correct horse battery staple', hello: { name: 'member' } });
  const rooms = [await open(), await open(), await open()];
  try {
    await meshOf(rooms);
    const boxes = rooms.map(received);
    await rooms[0].send('hello all');
    await until('data to both others', () => boxes[1].length === 1 && boxes[2].length === 1);
    if (JSON.stringify(rooms[1].helloOf(rooms[0].selfId)) !== '{"name":"member"}') throw new Error('the hello did not arrive whole');
    const wire = spy.seen.join('\n');
    if (spy.seen.length < 6) throw new Error(`the spy saw only ${spy.seen.length} messages`);
    for (const secret of [name, 'candidate', 'member']) if (wire.includes(secret)) throw new Error(`"${secret}" crossed the server in clear`);
  } finally {
    await Promise.all(rooms.map((room) => room.leave()));
    await spy.end();
  }
}

/**
 * The server of a mesh of Rooms goes away (`stop()`) and comes back (`start()`): data keeps
 * flowing between the Peers meanwhile, every member re-joins under a new id, and the mesh is
 * the same Peers under the new ids, with data flowing after.
 */
export async function outageKeepsPeers(rooms, { stop, start }) {
  await meshOf(rooms);
  const peersBefore = rooms.map((room) => new Set(room.peers.values()));
  const idsBefore = rooms.map((room) => room.selfId);
  const boxes = rooms.map(received);
  await stop();
  await until('all reconnecting', () => rooms.every((room) => room.state === 'reconnecting'), 5000);
  await rooms[0].send('during the outage');
  await until('data while the server is down', () => boxes[1].length === 1 && boxes[2].length === 1);
  await start();
  await until('all re-joined', () => rooms.every((room) => room.state === 'joined'), 20000);
  const ids = rooms.map((room) => room.selfId);
  if (ids.some((id, i) => id === idsBefore[i])) throw new Error('a member kept its id across the outage');
  const others = (room) => ids.filter((id) => id !== room.selfId).sort().join();
  await until('the mesh under the new ids', () => rooms.every((room) => [...room.peers.keys()].sort().join() === others(room)), 20000);
  rooms.forEach((room, i) => {
    for (const peer of room.peers.values()) if (!peersBefore[i].has(peer)) throw new Error('a Peer was replaced');
  });
  await rooms[2].send('after the restart');
  await until('data after the restart', () => boxes[0].length === 1 && boxes[1].length === 2);
  if (boxes[0][0][0] !== 'after the restart' || boxes[0][0][1] !== rooms[2].selfId) throw new Error(`unexpected data ${JSON.stringify(boxes[0][0])}`);
}
