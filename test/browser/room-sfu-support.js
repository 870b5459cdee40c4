// What the suites against the real Janus share (room-sfu*.test.js): the `janus` server command,
// transports to the token-checking bridge, and the hooks of such a suite.
import { executeServerCommand } from '@web/test-runner-commands';
import { WebSocketTransport } from '../../dist/index.js';
import { until } from './helpers.js';
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
