// `joined` tells a member its SFU endpoints only when the server bridges to Janus, with a media
// token that lets it publish as itself only; WebSocketTransport hands them to the Room as absolute
// URLs. No Janus is needed: the endpoints are announced whether or not Janus is reachable (a
// publish then gets 503 and is retried). Build first: npm run build
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { WebSocketTransport } from '../../dist/index.js';
import { createRoomToken, verifyRoomToken } from '../../server/dist/index.js';
import { startServer } from '../support/servers.mjs';
import { joinAs } from '../support/signal-client.mjs';

const SECRET = 'sfu-joined-test-secret';
// A port nothing listens on: the bridge retries it in the background.
const JANUS = 'ws://127.0.0.1:9';

test('without --janus, joined has no sfu field', async (t) => {
  const { url } = await startServer(t);
  const alice = await joinAs(t, url, 'lobby');
  assert.equal('sfu' in alice.joined, false);
});

test('with --janus, joined gives relative WHIP/WHEP endpoints, and a token for the member only when tokens are checked', async (t) => {
  const open = await startServer(t, { janus: [JANUS] });
  const alice = await joinAs(t, open.url, 'a room/1');
  assert.deepEqual(alice.joined.sfu, { whip: `/whip/a%20room%2F1/${alice.id}`, whep: '/whep/a%20room%2F1/' });

  const checked = await startServer(t, { janus: [JANUS], tokenSecret: SECRET });
  const bob = await joinAs(t, checked.url, 'lobby', { token: createRoomToken(SECRET, 'lobby', 60) });
  const claims = verifyRoomToken(SECRET, bob.joined.sfu.token, 'lobby', Date.now() / 1000);
  assert.equal(claims.sub, bob.id, 'the media token publishes as this member only');
});

test('WebSocketTransport resolves the endpoints against the server it joined', async (t) => {
  const { url, port } = await startServer(t, { janus: [JANUS] });
  const transport = new WebSocketTransport(url, { WebSocket });
  t.after(() => transport.close());
  const result = await transport.join('lobby');
  assert.deepEqual(result.sfu, { whip: `http://127.0.0.1:${port}/whip/lobby/${result.selfId}`, whep: `http://127.0.0.1:${port}/whep/lobby/` });
});
