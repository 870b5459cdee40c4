// What the suites against the real Janus share (room-sfu*.test.js): the `janus` server command,
// transports to the token-checking bridge, and the hooks of such a suite.
import { executeServerCommand } from '@web/test-runner-commands';
import { WebSocketTransport } from '../../dist/index.js';
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
