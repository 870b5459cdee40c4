// A member's media in Janus ends with its presence, however it goes: a member whose WebSocket is
// cut, or that stops answering pings, without ever sending DELETE, leaves no publisher, no
// subscription and no VideoRoom behind in Janus; and a PeerConnection Janus hangs up (here the
// client closed it: a DTLS alert) ends its WHIP resource too. Real Janus (Debian's, started by
// scripts/janus.mjs inside scripts/netns.sh), a real signaling server with --janus and no
// --token-secret, WebRTC from @roamhq/wrtc; what is left is asked of Janus itself (its Admin API's
// sessions, the VideoRoom's `exists` and `listparticipants`). Build first: npm run build
// Run: bash scripts/netns.sh node --test --test-force-exit test/node/sfu-leave.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import wrtc from '@roamhq/wrtc';
import { createSignalingServer } from '../../server/dist/index.js';
import { JanusConnection, VideoRoomHandle } from '../../server/dist/sfu/janus.js';
import { janusMissing, startJanus } from '../../scripts/janus.mjs';
import { joinAs } from '../support/signal-client.mjs';

const skip = janusMissing();
/** The bridge's grace after a Janus hangup (5 s) and some slack for Janus and the test's polling. */
const BOUND_MS = 10_000;
let janus;
let control;
let server;
let base;
const logs = [];

before(async () => {
  if (skip) return;
  janus = await startJanus();
  const connection = new JanusConnection(janus.url, undefined, () => undefined);
  await connection.connect();
  control = { connection, handle: await VideoRoomHandle.open(connection, () => undefined) };
  server = createSignalingServer({ logger: (entry) => logs.push(entry), janus: [janus.url], pingIntervalMs: 300 });
  base = `127.0.0.1:${(await server.listen(0)).port}`;
});

after(async () => {
  await server?.close();
  await control?.handle.destroy();
  control?.connection.close();
  await janus?.stop();
});

async function within(what, check, ms = BOUND_MS) {
  const started = Date.now();
  for (const deadline = started + ms; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    if (await check()) return Date.now() - started;
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** The VideoRoom id the bridge gave `room` (from its log). */
const videoRoomOf = (room) => logs.findLast((entry) => entry.event === 'videoroom-pinned' && entry.room === room)?.id;
const exists = async (id) => (await control.handle.message({ request: 'exists', room: id })).data.exists === true;
const participants = async (id) => (await control.handle.message({ request: 'listparticipants', room: id })).data.participants ?? [];
const publishing = async (id, member) => (await participants(id)).some((p) => p.display === member && p.publisher === true);
const sessions = async () => (await janus.sessions()).length;

/** A member joined over a raw WebSocket, with the SFU endpoints and media token `joined` gave it. */
async function member(t, room) {
  const client = await joinAs(t, `ws://${base}`, room);
  const { whip, whep, token } = client.joined.sfu;
  const post = (path, sdp) => fetch(`http://${base}${path}`, { method: 'POST', body: sdp, headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` } });
  return Object.assign(client, { whip, whep, token, post });
}

/** A PeerConnection that sends video and audio, once ICE gathering is over. */
async function sender() {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  pc.addTransceiver(track, { direction: 'sendonly' });
  pc.addTransceiver('audio', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  // Frames keep flowing so that Janus sees a live publisher.
  const frame = { width: 64, height: 48, data: new Uint8ClampedArray(64 * 48 * 1.5) };
  const timer = setInterval(() => source.onFrame(frame), 100);
  return { pc, stop: () => (clearInterval(timer), track.stop(), pc.close()) };
}

function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
  });
}

/** Publishes `who`'s media through its WHIP endpoint; resolves once Janus lists it as a publisher. */
async function publish(who, room) {
  const { pc, stop } = await sender();
  const res = await who.post(who.whip, pc.localDescription.sdp);
  assert.equal(res.status, 201, await res.clone().text());
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  await within('the publisher listed by Janus', () => publishing(videoRoomOf(room), who.id));
  return { pc, stop };
}

/** Plays `feed`'s media for `who` through WHEP (Janus's counter-offer answered by PATCH). */
async function play(who, feed) {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  let res;
  await within('the feed is live', async () => (res = await who.post(`${who.whep}${encodeURIComponent(feed)}`, 'v=0\r\n')).status !== 409);
  assert.equal(res.status, 406, await res.clone().text());
  await pc.setRemoteDescription({ type: 'offer', sdp: await res.text() });
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  const answered = await fetch(`http://${base}${res.headers.get('location')}`, {
    method: 'PATCH',
    body: pc.localDescription.sdp,
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${who.token}` },
  });
  assert.equal(answered.status, 204);
  return pc;
}

test('a member that vanishes without DELETE (its WebSocket cut): its WHEP play ends in Janus, then its publisher and the VideoRoom', { skip }, async (t) => {
  const idle = await sessions();
  const ada = await member(t, 'vanish');
  const bob = await member(t, 'vanish');
  const published = await publish(ada, 'vanish');
  t.after(published.stop);
  const viewer = await play(bob, ada.id);
  t.after(() => viewer.close());
  const id = videoRoomOf('vanish');
  assert.equal(await sessions(), idle + 2, 'one Janus session for the publisher, one for the play');

  bob.ws.terminate();
  const playGone = await within("bob's play ended in Janus", async () => (await sessions()) === idle + 1);
  assert.ok(await publishing(id, ada.id), "ada's feed is untouched by bob leaving");

  ada.ws.terminate();
  const roomGone = await within("ada's publisher and the VideoRoom gone from Janus", async () => (await sessions()) === idle && !(await exists(id)));
  console.log(`[sfu-leave] WebSocket cut: the play gone from Janus in ${playGone} ms, the publisher and the VideoRoom in ${roomGone} ms`);
});

test('a member that stops answering pings is dropped by the server, and its publisher and the VideoRoom go with it', { skip }, async (t) => {
  const idle = await sessions();
  const ada = await member(t, 'silent');
  const published = await publish(ada, 'silent');
  t.after(published.stop);
  const id = videoRoomOf('silent');
  // The socket stays open but reads nothing: no pong ever answers the server's pings.
  ada.ws._socket.pause();
  const gone = await within('the publisher and the VideoRoom gone from Janus', async () => (await sessions()) === idle && !(await exists(id)));
  assert.ok(logs.some((entry) => entry.event === 'dead' && entry.id === ada.id));
  console.log(`[sfu-leave] no pongs (ping every 300 ms): publisher and VideoRoom gone from Janus in ${gone} ms`);
});

test('a PeerConnection Janus hangs up (the client closed it, no DELETE) ends its WHIP resource after the grace, and the VideoRoom with it, while the member stays', { skip }, async (t) => {
  const idle = await sessions();
  const ada = await member(t, 'hangup');
  const published = await publish(ada, 'hangup');
  const id = videoRoomOf('hangup');
  published.stop();
  const gone = await within('the publisher and the VideoRoom gone from Janus', async () => (await sessions()) === idle && !(await exists(id)));
  assert.ok(logs.some((entry) => entry.event === 'sfu-session-hung-up' && entry.member === ada.id && entry.kind === 'whip'));
  assert.equal(ada.ws.readyState, ada.ws.OPEN, 'the member is still in the room');
  console.log(`[sfu-leave] PeerConnection closed without DELETE: Janus session and VideoRoom gone in ${gone} ms (grace 5000 ms)`);
});
