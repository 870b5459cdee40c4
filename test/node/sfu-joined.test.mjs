// `joined` tells a member its SFU endpoints only when the server bridges to Janus, with a media
// token that lets it publish as itself only; WebSocketTransport hands them to the Room as absolute
// URLs. No Janus is needed: the endpoints are announced whether or not Janus is reachable (a
// publish then gets 503 and is retried). Build first: npm run build
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { WebSocketTransport } from '../../dist/index.js';
import { createRoomToken, createSignalingServer, verifyRoomToken } from '../../server/dist/index.js';
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

test('with --janus, joined gives relative WHIP/WHEP endpoints and a media token that publishes as this member only, signed with --token-secret when there is one', async (t) => {
  const open = await startServer(t, { janus: [JANUS] });
  const alice = await joinAs(t, open.url, 'a room/1');
  const { token, ...endpoints } = alice.joined.sfu;
  assert.deepEqual(endpoints, { whip: `/whip/a%20room%2F1/${alice.id}`, whep: '/whep/a%20room%2F1/' });
  assert.equal(typeof token, 'string', 'a token even without --token-secret');

  const checked = await startServer(t, { janus: [JANUS], tokenSecret: SECRET });
  const bob = await joinAs(t, checked.url, 'lobby', { token: createRoomToken(SECRET, 'lobby', 60) });
  const claims = verifyRoomToken(SECRET, bob.joined.sfu.token, 'lobby', Date.now() / 1000);
  assert.equal(claims.sub, bob.id, 'the media token publishes as this member only');
});

test('without --token-secret the WHIP/WHEP endpoints still need a media token: none, a forged one or another server\'s is 401; the one joined gave gets through (to a 503: no Janus here)', async (t) => {
  const { url, port } = await startServer(t, { janus: [JANUS] });
  const other = await startServer(t, { janus: [JANUS] });
  const alice = await joinAs(t, url, 'lobby');
  const stranger = await joinAs(t, other.url, 'lobby');
  const post = (path, token) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: 'v=0\r\n', headers: { 'content-type': 'application/sdp', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } });
  const whip = `/whip/lobby/${alice.id}`;
  assert.equal((await post(whip)).status, 401);
  assert.equal((await post(whip, createRoomToken('a guessed secret', 'lobby', 60, alice.id))).status, 401);
  assert.equal((await post(whip, stranger.joined.sfu.token)).status, 401, 'each process signs with its own random secret');
  assert.equal((await post(`/whep/lobby/${alice.id}`)).status, 401);
  assert.equal((await post(`/whip/lobby/${stranger.id}`, alice.joined.sfu.token)).status, 403, 'publishing as another member');
  assert.equal((await post(whip, alice.joined.sfu.token)).status, 503);
});

test('--janus with --redis and no --token-secret refuses to start: each instance would refuse the media tokens of the others', () => {
  assert.throws(() => createSignalingServer({ janus: [JANUS], redis: 'redis://127.0.0.1:9' }), /tokenSecret/);
});

test('WebSocketTransport resolves the endpoints against the server it joined', async (t) => {
  const { url, port } = await startServer(t, { janus: [JANUS] });
  const transport = new WebSocketTransport(url, { WebSocket });
  t.after(() => transport.close());
  const result = await transport.join('lobby');
  const { token, ...endpoints } = result.sfu;
  assert.deepEqual(endpoints, { whip: `http://127.0.0.1:${port}/whip/lobby/${result.selfId}`, whep: `http://127.0.0.1:${port}/whep/lobby/` });
  assert.equal(typeof token, 'string');
});
