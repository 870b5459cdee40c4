// Several Janus instances behind two peerkit-signal servers that share one redis-server: each room
// is pinned to one instance (both servers put its members there), new rooms go to the instance
// with the fewest rooms, and a dead instance's rooms move to a live one. Real Janus (Debian's
// `janus`, scripts/janus.mjs) and a real redis-server; run inside scripts/netns.sh. WHIP offers
// are posted straight to the servers: Janus answers them whether or not ICE ever connects, which
// is all pinning needs. Build first: npm run build
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { readCommand } from '../../server/dist/config.js';
import { createRoomToken, createSignalingServer } from '../../server/dist/index.js';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { redisMissing, startRedis } from '../../scripts/redis.mjs';

const skip = janusMissing() ?? redisMissing();
// Servers that share rooms share one token secret: a media token one mints is valid on the other.
const SECRET = 'sfu-pins-test-secret';

/** A sendonly VP8 offer with fresh ICE credentials and a DTLS fingerprint. */
function offer() {
  const fingerprint = [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return [
    'v=0',
    `o=- ${Date.now()} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${randomBytes(4).toString('hex')}`,
    `a=ice-pwd:${randomBytes(12).toString('hex')}`,
    `a=fingerprint:sha-256 ${fingerprint}`,
    'a=setup:actpass',
    'a=mid:0',
    'a=sendonly',
    'a=rtcp-mux',
    'a=rtpmap:96 VP8/90000',
    `a=ssrc:${1 + Math.floor(Math.random() * 1e9)} cname:peerkit`,
    '',
  ].join('\r\n');
}

/** Posts a WHIP offer for `member` in `room` to `server`; resolves with the HTTP status. */
async function whip(server, room, member) {
  const response = await fetch(`${server}/whip/${encodeURIComponent(room)}/${encodeURIComponent(member)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${createRoomToken(SECRET, room, 60, member)}` },
    body: offer(),
  });
  await response.arrayBuffer();
  return response.status;
}

/** The instance each of `janus` holds sessions for now, less what it held at `before`. */
async function sessionsSince(janus, before) {
  return Promise.all(janus.map(async (j, i) => (await j.sessions()).length - before[i]));
}

test('rooms pinned to one of two Janus instances, shared by two servers through Redis; a dead instance\'s rooms move', { skip }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const janus = [await startJanus(), await startJanus()];
  t.after(() => Promise.all(janus.map((j) => j.stop())));
  const urls = janus.map((j) => j.url);
  const servers = [];
  for (let i = 0; i < 2; i++) {
    const server = createSignalingServer({ logger: false, janus: urls, redis: redis.url, tokenSecret: SECRET });
    t.after(() => server.close());
    servers.push(`http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`);
  }
  const health = async (server) => (await (await fetch(`${server}/healthz`)).json()).janus;
  for (const server of servers) assert.deepEqual((await health(server)).map((h) => h.up), [true, true]);

  // A room through the first server, then another: the second goes to the instance with fewer rooms.
  const base = await Promise.all(janus.map(async (j) => (await j.sessions()).length));
  assert.equal(await whip(servers[0], 'zero', 'z'), 201);
  const zero = (await sessionsSince(janus, base)).indexOf(1);
  const base2 = await Promise.all(janus.map(async (j) => (await j.sessions()).length));
  assert.equal(await whip(servers[0], 'first', 'a'), 201);
  // The second server never saw room "zero": only the shared pins send this member to "first"'s instance.
  assert.equal(await whip(servers[1], 'first', 'b'), 201);
  const first = await sessionsSince(janus, base2);
  assert.deepEqual([...first].sort(), [0, 2], `both members of one room in one Janus, got ${first}`);
  const home = first.indexOf(2);
  const other = 1 - home;
  assert.equal(home, 1 - zero, 'the second room on the instance with fewer rooms');

  // The first room's instance dies: its members publish again, and both servers put them on the live one.
  await janus[home].stop();
  for (const server of servers) {
    const deadline = Date.now() + 10000;
    while ((await health(server))[home].up && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await health(server))[home].up, false);
  }
  const base3 = (await janus[other].sessions()).length;
  assert.equal(await whip(servers[0], 'first', 'a'), 201);
  assert.equal(await whip(servers[1], 'first', 'b'), 201);
  assert.equal((await janus[other].sessions()).length - base3, 2, 'the first room moved to the live instance, for both servers');
  console.log(`[sfu-pins] room "zero" pinned to Janus ${zero}, "first" to Janus ${home} through both servers; Janus ${home} killed: "first" moved to Janus ${other} for both servers`);
});

test('--janus is repeatable, and takes comma-separated URLs too', () => {
  const command = readCommand(['--janus', 'ws://127.0.0.1:8188', '--janus', 'ws://127.0.0.1:8189,ws://127.0.0.1:8190'], {}, () => '');
  assert.deepEqual(command.settings.server.janus, ['ws://127.0.0.1:8188', 'ws://127.0.0.1:8189', 'ws://127.0.0.1:8190']);
});
