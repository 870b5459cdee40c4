// The SFU bridge's WHIP/WHEP endpoints against a real Janus (Debian's, started by scripts/janus.mjs
// inside scripts/netns.sh), with a WebRTC offer from @roamhq/wrtc for the parts that need one.
// Run: bash scripts/netns.sh node --test test/node/whip-server.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import wrtc from '@roamhq/wrtc';
import { createRoomToken, createSignalingServer } from '../../server/dist/index.js';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { freePort } from '../../scripts/redis.mjs';
import { joinAs } from '../support/signal-client.mjs';

const SECRET = 'whip-test-secret';
const ORIGIN = 'https://app.example';
const missing = janusMissing();
let janus;
let server;
let base;
const logs = [];

before(async () => {
  if (missing) return;
  janus = await startJanus();
  server = createSignalingServer({ logger: (entry) => logs.push(entry), tokenSecret: SECRET, origins: [ORIGIN], janus: [janus.url] });
  base = `http://127.0.0.1:${(await server.listen(0)).port}`;
});

after(async () => {
  await server?.close();
  await janus?.stop();
});

const token = (room, sub) => createRoomToken(SECRET, room, 600, sub);

/** A sendonly audio+video offer with its candidates, made by @roamhq/wrtc. */
async function offer() {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const source = new wrtc.nonstandard.RTCVideoSource();
  pc.addTransceiver(source.createTrack(), { direction: 'sendonly' });
  pc.addTransceiver('audio', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
  });
  return { pc, sdp: pc.localDescription.sdp };
}

const post = (path, body, headers = {}) =>
  fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/sdp', origin: ORIGIN, ...headers } });

test('/healthz lists the Janus instance as up', { skip: missing }, async () => {
  const health = await (await fetch(`${base}/healthz`)).json();
  assert.equal(health.status, 'ok');
  assert.deepEqual(health.janus.map((j) => [j.url, j.up]), [[janus.url, true]]);
});

test('a WHIP POST without a token is 401, with another member\'s token 403, with a token for another room 401', { skip: missing }, async () => {
  const { pc, sdp } = await offer();
  assert.equal((await post('/whip/r1/ada', sdp)).status, 401);
  assert.equal((await post('/whip/r1/ada', sdp, { authorization: `Bearer ${token('r1', 'bob')}` })).status, 403);
  assert.equal((await post('/whip/r1/ada', sdp, { authorization: `Bearer ${token('r2', 'ada')}` })).status, 401);
  pc.close();
});

test('CORS: a preflight from an allowed origin is answered, another origin is refused', { skip: missing }, async () => {
  const preflight = await fetch(`${base}/whip/r1/ada`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(preflight.headers.get('access-control-allow-headers'), /Authorization/);
  assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);
  const refused = await fetch(`${base}/whip/r1/ada`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
  assert.equal(refused.status, 403);
});

test('WHEP of a member who is not publishing is 409', { skip: missing }, async () => {
  const { pc, sdp } = await offer();
  const res = await post('/whep/r1/nobody', sdp, { authorization: `Bearer ${token('r1', 'viewer')}` });
  assert.equal(res.status, 409);
  pc.close();
});

test('WHIP publish: 201 with an answer, Location, ETag; WHEP gets a 406 counter-offer; DELETE ends the sessions in Janus and the room', { skip: missing }, async () => {
  const before = (await janus.sessions()).length;
  const { pc, sdp } = await offer();
  const res = await post('/whip/r1/ada', sdp, { authorization: `Bearer ${token('r1', 'ada')}` });
  assert.equal(res.status, 201, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'application/sdp');
  assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(res.headers.get('access-control-expose-headers'), /Location.*ETag.*Link.*Accept-Patch/);
  assert.equal(res.headers.get('accept-patch'), 'application/trickle-ice-sdpfrag');
  const location = res.headers.get('location');
  assert.match(location, /^\/whip\/r1\/ada\/[\w-]+$/);
  const etag = res.headers.get('etag');
  const answer = await res.text();
  assert.match(answer, /a=candidate:.* 198\.18\.7\.1 /);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  assert.equal((await janus.sessions()).length, before + 1);

  const viewerToken = `Bearer ${token('r1', 'viewer')}`;
  // 409 until the publisher's media reaches Janus: not live yet.
  let play;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
    play = await post('/whep/r1/ada', sdp, { authorization: viewerToken });
    if (play.status !== 409) break;
  }
  assert.equal(play.status, 406);
  assert.match(await play.text(), /^v=0/);
  const playLocation = play.headers.get('location');
  assert.match(playLocation, /^\/whep\/r1\/ada\//);

  const stale = await fetch(`${base}${location}`, {
    method: 'PATCH',
    body: 'a=end-of-candidates\r\n',
    headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '"stale"', authorization: `Bearer ${token('r1', 'ada')}` },
  });
  assert.equal(stale.status, 412);
  const trickle = await fetch(`${base}${location}`, {
    method: 'PATCH',
    body: 'a=end-of-candidates\r\n',
    headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': etag, authorization: `Bearer ${token('r1', 'ada')}` },
  });
  assert.equal(trickle.status, 204);

  for (const [path, auth] of [[playLocation, viewerToken], [location, `Bearer ${token('r1', 'ada')}`]]) {
    const gone = await fetch(`${base}${path}`, { method: 'DELETE', headers: { authorization: auth } });
    assert.equal(gone.status, 200);
  }
  assert.equal((await janus.sessions()).length, before);
  assert.equal((await fetch(`${base}${location}`, { method: 'DELETE', headers: { authorization: `Bearer ${token('r1', 'ada')}` } })).status, 404);
  assert.ok(logs.some((entry) => entry.event === 'videoroom-destroyed' && entry.room === 'r1'));
  pc.close();
});

/** A member of `room` on the server at `http` (no --token-secret): its WHIP URL and the media token `joined` gave it. */
async function joinedMember(t, http, room) {
  const member = await joinAs(t, http.replace(/^http/, 'ws'), room);
  return { whip: `${http}${member.joined.sfu.whip}`, authorization: `Bearer ${member.joined.sfu.token}` };
}

test('a server given a Janus that is not there says so at start-up and in /healthz, and WHIP answers 503 with Retry-After', { skip: missing }, async (t) => {
  const seen = [];
  const url = `ws://127.0.0.1:${await freePort()}`;
  const lonely = createSignalingServer({ logger: (entry) => seen.push(entry), janus: [url] });
  const port = (await lonely.listen(0)).port;
  try {
    assert.ok(seen.some((entry) => entry.event === 'janus-unreachable' && entry.url === url && entry.level === 'error'));
    const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
    assert.equal(health.status, 'degraded');
    assert.equal(health.janus[0].up, false);
    assert.ok(health.janus[0].error);
    const { pc, sdp } = await offer();
    const ada = await joinedMember(t, `http://127.0.0.1:${port}`, 'r');
    const res = await fetch(ada.whip, { method: 'POST', body: sdp, headers: { 'content-type': 'application/sdp', authorization: ada.authorization } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '2');
    pc.close();
  } finally {
    await lonely.close();
  }
});

test('Janus stopped and started again on its port: /healthz says degraded, then up again by itself, and WHIP works again', { skip: missing }, async () => {
  const port = janus.port;
  await janus.stop();
  const health = async () => (await fetch(`${base}/healthz`)).json();
  for (const deadline = Date.now() + 5000; (await health()).status !== 'degraded' && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await health()).status, 'degraded');
  assert.ok(logs.some((entry) => entry.event === 'janus-lost'));
  janus = await startJanus({ port });
  for (const deadline = Date.now() + 15000; (await health()).status !== 'ok' && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal((await health()).status, 'ok');
  const { pc, sdp } = await offer();
  const res = await post('/whip/r3/ada', sdp, { authorization: `Bearer ${token('r3', 'ada')}` });
  assert.equal(res.status, 201);
  await fetch(`${base}${res.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${token('r3', 'ada')}` } });
  pc.close();
});

test('an offer Janus cannot use is 400', { skip: missing }, async () => {
  const res = await post('/whip/r4/ada', 'v=0\r\nthis is not sdp\r\n', { authorization: `Bearer ${token('r4', 'ada')}` });
  assert.equal(res.status, 400, await res.clone().text());
});

test('a Janus with an api_secret and a VideoRoom admin_key: refused without them (and /healthz says why), served with --janus-secret and --janus-admin-key', { skip: missing }, async (t) => {
  const guarded = await startJanus({ apiSecret: 'api-s3cret', adminKey: 'admin-k3y' });
  const servers = [];
  try {
    const start = async (options) => {
      const s = createSignalingServer({ logger: false, janus: [guarded.url], ...options });
      servers.push(s);
      return `http://127.0.0.1:${(await s.listen(0)).port}`;
    };
    const without = await start({});
    const health = await (await fetch(`${without}/healthz`)).json();
    assert.equal(health.janus[0].up, false);
    assert.match(health.janus[0].error, /unauthorized/i);
    const noAdminKey = await start({ janusSecret: 'api-s3cret' });
    const { pc, sdp } = await offer();
    const post = async (server) => {
      const ada = await joinedMember(t, server, 'g');
      return fetch(ada.whip, { method: 'POST', body: sdp, headers: { 'content-type': 'application/sdp', authorization: ada.authorization } });
    };
    const refused = await post(noAdminKey);
    assert.equal(refused.status, 500, 'the VideoRoom refuses to create a room without its admin_key');
    const both = await start({ janusSecret: 'api-s3cret', janusAdminKey: 'admin-k3y' });
    const ok = await post(both);
    assert.equal(ok.status, 201, await ok.clone().text());
    pc.close();
  } finally {
    for (const s of servers) await s.close();
    await guarded.stop();
  }
});
