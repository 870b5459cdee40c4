// What the suites against the real Janus share (room-sfu*.test.js): the `janus` server command,
// transports to the token-checking bridge, the hooks of such a suite, video stats of sessions,
// and WHEP viewers outside any Room with what they show.
import { executeServerCommand } from '@web/test-runner-commands';
import { WebSocketTransport, play } from '../../dist/index.js';
import { createMediaEncryption } from '../../dist/e2ee/media-encryption.js';
import { sleep, until } from './helpers.js';
import { JANUS_FAILED, JANUS_MISSING, MEDIA_URL } from '/__peerkit/janus-env.js';

/** Runs an action of test/janus-plugin.mjs: `token`, `sessions`, `restart`. */
export const janus = (payload) => executeServerCommand('janus', payload);

/** A transport to the token-checking bridge, with a room token per join; `options` go to WebSocketTransport. */
export const transport = (options = {}) => new WebSocketTransport(MEDIA_URL.replace(/^http/, 'ws'), { token: (room) => janus({ action: 'token', room }), ...options });

/**
 * Adds the hooks of a suite against the real Janus to the current `describe`: it skips where Janus
 * cannot run and fails where it did not start; after each test, the Rooms in `rooms` leave and
 * the tracks in `tracks` stop.
 * @returns {{ rooms: object[], tracks: MediaStreamTrack[] }}
 */
export function janusSuite() {
  const rooms = [];
  const tracks = [];
  before(function () {
    if (JANUS_MISSING !== null) this.skip();
    if (JANUS_FAILED !== null) throw new Error(JANUS_FAILED);
  });
  afterEach(async () => {
    await Promise.all(rooms.splice(0).map((room) => room.leave()));
    for (const track of tracks.splice(0)) track.stop();
  });
  return { rooms, tracks };
}

/** The sum of `field` over the `type` video stats of `pc`-like `source` (anything with getStats), and how many reports. */
export async function videoStats(source, type, field) {
  let total = 0;
  let count = 0;
  (await source.getStats()).forEach((report) => {
    if (report.type === type && report.kind === 'video') {
      total += report[field] ?? 0;
      count++;
    }
  });
  return { total, count };
}

/**
 * Resolves once every member plays every other member's feed and decodes frames from it: 5 more
 * frames on the same session (the Room may replace a session meanwhile, so it is looked up again).
 */
export async function everyoneDecodes(rooms, ms = 30000) {
  const starts = new Map();
  const decoding = async (room, id) => {
    const view = room.sfuSessions().plays.get(id);
    if (view?.state !== 'connected') return false;
    const frames = (await videoStats(view, 'inbound-rtp', 'framesDecoded')).total;
    if (!starts.has(view)) starts.set(view, frames);
    return frames > starts.get(view) + 5;
  };
  for (const room of rooms) {
    for (const other of rooms.filter((r) => r !== room)) {
      await until(`member ${rooms.indexOf(room)} decoding member ${rooms.indexOf(other)}`, () => decoding(room, other.selfId), ms, 100);
    }
  }
}

/** Decoded video frames of a session (anything with getStats). */
export const decoded = async (source) => (await videoStats(source, 'inbound-rtp', 'framesDecoded')).total;

/** Video bytes a session (anything with getStats) received. */
export const bytesIn = async (source) => (await videoStats(source, 'inbound-rtp', 'bytesReceived')).total;

/** How much `stat` (decoded or bytesIn) of `source()` (looked up again each time) grows over `ms`. */
export async function grownOver(stat, source, ms) {
  const before = await stat(source());
  await sleep(ms);
  return (await stat(source())) - before;
}

/** How many frames `source()` decodes over `ms`. */
export const decodedOver = (source, ms) => grownOver(decoded, source, ms);

/** canvasTrack's 'teal'. */
export const TEAL = [0, 128, 128];

/**
 * Of the frames `stream` shows over `ms`, how many there were and how many have the colour `rgb`
 * at their centre (within 40 per channel): canvasTrack paints its colour over the whole picture.
 */
export async function framesShowing(stream, rgb, ms = 3000) {
  const video = Object.assign(document.createElement('video'), { muted: true, srcObject: new MediaStream(stream.getVideoTracks()) });
  const g = Object.assign(document.createElement('canvas'), { width: 1, height: 1 }).getContext('2d', { willReadFrequently: true });
  let frames = 0;
  let showing = 0;
  let watching = true;
  const onFrame = () => {
    if (!watching) return;
    g.drawImage(video, video.videoWidth / 2, video.videoHeight / 2, 1, 1, 0, 0, 1, 1);
    const pixel = g.getImageData(0, 0, 1, 1).data;
    frames++;
    if (rgb.every((value, i) => Math.abs(pixel[i] - value) < 40)) showing++;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  // Never awaited: a video that decodes nothing never starts playing.
  video.play().catch(() => undefined);
  await sleep(ms);
  watching = false;
  video.srcObject = null;
  return { frames, showing };
}

/**
 * A WHEP player of `id`'s feed straight from Janus, outside any Room, decrypting with `keys` (a map
 * of SFrame key id to base key) when given, else not decrypting at all.
 */
export async function viewer(room, id, keys) {
  const url = new URL(`/whep/${encodeURIComponent(room)}/${encodeURIComponent(id)}`, MEDIA_URL).href;
  const token = await janus({ action: 'token', room });
  if (keys === undefined) return { session: await play(url, { token, iceServers: [] }), close() {} };
  const encryption = createMediaEncryption();
  for (const [kid, key] of keys) encryption.setKey(kid, key);
  class Decrypting extends RTCPeerConnection {
    constructor(config) {
      super(config);
      this.addEventListener('track', (event) => encryption.protectReceiver(event.receiver));
    }
  }
  const session = await play(url, { token, iceServers: [], wrtc: { RTCPeerConnection: Decrypting } });
  return { session, close: () => encryption.close() };
}
