// Rooms with media: 'sfu' and a secret against a real Janus (test/janus-plugin.mjs): every frame is
// SFrame-encrypted in the sender's page and decrypted in each member's, with keys the members hand
// each other over the sealed signaling. In the engine the suite runs in (Chromium, then Firefox).
import { expect } from 'chai';
import { executeServerCommand } from '@web/test-runner-commands';
import { PeerKitError, Room, WebSocketTransport, play } from '../../dist/index.js';
import { createMediaEncryption } from '../../dist/e2ee/media-encryption.js';
import { deriveSenderKey, fromHex } from '../../dist/e2ee/sender-key.js';
import { deriveRoomKey, signalContext, unseal } from '../../dist/room/seal.js';
import { canvasTrack, roomName, sleep, until } from './helpers.js';
import { MEDIA_URL } from '/__peerkit/janus-env.js';
import { janusSuite } from './room-sfu-support.js';

const janus = (payload) => executeServerCommand('janus', payload);
const SECRET = 'correct horse battery staple';
// A fast KDF: these tests are about media keys, not about resisting guesses of the secret.
const KDF_ITERATIONS = 1000;

/**
 * A WebSocketTransport to the token-checking bridge that keeps what a leaver's page would: its
 * own presence, the others' presences, and every payload it receives.
 */
class RecordingTransport extends WebSocketTransport {
  constructor() {
    super(MEDIA_URL.replace(/^http/, 'ws'), { token: (room) => janus({ action: 'token', room }) });
    this.presences = new Map();
    this.received = [];
    this.on('member-joined', (id, hello) => this.presences.set(id, hello));
    this.on('message', (from, payload) => this.received.push({ from, payload }));
  }

  async join(room, options) {
    this.ownPresence = options.hello;
    const result = await super.join(room, options);
    for (const id of result.members) this.presences.set(id, result.hellos?.[id]);
    return result;
  }
}

/** Decoded video frames and decoder errors of a session (anything with getStats). */
async function decoded(source) {
  let frames = 0;
  (await source.getStats()).forEach((report) => {
    if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded ?? 0;
  });
  return frames;
}

/** How many frames `source()` (looked up again each time) decodes over `ms`. */
async function decodedOver(source, ms) {
  const before = await decoded(source());
  await sleep(ms);
  return (await decoded(source())) - before;
}

const TEAL = [0, 128, 128];

/**
 * Of the frames `stream` shows over `ms`, how many there were and how many have the colour `rgb`
 * at their centre (within 40 per channel): canvasTrack paints its colour over the whole picture.
 */
async function framesShowing(stream, rgb, ms = 3000) {
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

/** Resolves once every room decodes every other room's feed: 5 more frames on one session. */
async function everyoneDecodes(rooms, ms = 30000) {
  for (const room of rooms) {
    for (const other of rooms.filter((r) => r !== room)) {
      let start;
      await until(
        `member ${rooms.indexOf(room)} decoding member ${rooms.indexOf(other)}`,
        async () => {
          const view = room.sfuSessions().plays.get(other.selfId);
          if (view?.state !== 'connected') return false;
          const frames = await decoded(view);
          start ??= frames;
          return frames > start + 5;
        },
        ms,
        100,
      );
    }
  }
}

/**
 * A WHEP player of `id`'s feed straight from Janus, outside any Room, decrypting with `keys` (a map
 * of SFrame key id to base key) when given, else not decrypting at all.
 */
async function viewer(room, id, keys) {
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

/** The SFrame keys `transport` (a RecordingTransport) was handed by member `from`, opened as its Room did. */
async function keysReceived(transport, room, from) {
  const roomKey = await deriveRoomKey(SECRET, room, KDF_ITERATIONS);
  const keys = new Map();
  for (const { from: id, payload } of transport.received) {
    if (id !== from) continue;
    const opened = await unseal(roomKey, signalContext(room, transport.presences.get(from).key, transport.ownPresence.key), payload.e);
    if (opened?.s?.kind === 'sframe-key') keys.set(opened.s.kid, await deriveSenderKey(SECRET, room, opened.s.kid, fromHex(opened.s.m)));
  }
  return keys;
}

describe('Room with media: "sfu" and a secret: end-to-end encrypted media (real Janus)', function () {
  this.timeout(180000);
  const closers = [];
  // Registered before the suite's hooks, so that what a test opened closes before its Rooms leave.
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  const { rooms, tracks } = janusSuite();

  async function join(name, color, options = {}) {
    const track = canvasTrack(color);
    tracks.push(track);
    const room = await Room.join(name, {
      transport: options.transport ?? new RecordingTransport(),
      stream: new MediaStream([track]),
      media: 'sfu',
      secret: SECRET,
      kdfIterations: KDF_ITERATIONS,
      iceServers: [],
      ...options,
    });
    room.errors = [];
    room.epochs = [];
    room.on('error', (error, from) => room.errors.push({ code: error.code, from }));
    room.on('encryption', (encryption) => room.epochs.push(encryption.keyEpoch));
    rooms.push(room);
    return room;
  }

  it('3 members: everyone decodes everyone; a WHEP viewer without the key decodes nothing usable from the same feed', async () => {
    const name = roomName();
    const members = [];
    for (const color of ['teal', 'tomato', 'gold']) members.push(await join(name, color));
    for (const room of members) expect(room.encryption.media).to.equal('e2ee');
    await everyoneDecodes(members);

    const [a, b] = members;
    const plain = await viewer(name, a.selfId);
    closers.push(() => plain.session.close());
    await until('the key-less viewer receiving bytes', async () => {
      let bytes = 0;
      (await plain.session.getStats()).forEach((r) => r.type === 'inbound-rtp' && r.kind === 'video' && (bytes += r.bytesReceived));
      return bytes > 20000;
    }, 20000, 200);
    const [member, keyless] = await Promise.all([decodedOver(() => b.sfuSessions().plays.get(a.selfId), 4000), decodedOver(() => plain.session, 4000)]);
    console.log(`[room-sfu-e2ee] frames decoded over 4 s from one member's feed: a member ${member}, a viewer without the key ${keyless}`);
    expect(member).to.be.above(20);
    // Firefox's VP8 decoder lets the odd key frame of ciphertext through: as noise, never the picture.
    expect(keyless).to.be.below(member / 4);
    const [seen, unseen] = await Promise.all([framesShowing(b.sfuSessions().plays.get(a.selfId).stream, TEAL), framesShowing(plain.session.stream, TEAL)]);
    console.log(`[room-sfu-e2ee] frames shown over 3 s with the sender's colour: a member ${seen.showing} of ${seen.frames}, the viewer without the key ${unseen.showing} of ${unseen.frames}`);
    expect(seen.showing).to.be.above(10);
    expect(unseen.showing).to.equal(0);
    for (const room of members) expect(room.errors.filter((e) => e.code === 'DECRYPT_FAILED')).to.deep.equal([]);
  });

  it('a member leaves: every remaining member moves to a new key epoch, and a page with the keys the leaver held decodes nothing sent after', async () => {
    const name = roomName();
    const a = await join(name, 'teal');
    const b = await join(name, 'tomato');
    const leaverTransport = new RecordingTransport();
    const leaver = await join(name, 'gold', { transport: leaverTransport });
    const members = [a, b, leaver];
    await everyoneDecodes(members);
    // Settled: each member's current key is the one the leaver holds.
    await sleep(2000);

    const keys = await keysReceived(leaverTransport, name, a.selfId);
    expect(keys.size).to.be.above(0);
    const recording = await viewer(name, a.selfId, keys);
    closers.push(async () => {
      await recording.session.close();
      recording.close();
    });
    // The page holding the leaver's keys decodes a's feed while the leaver is in the room.
    await until('the leaver-keyed viewer decoding', async () => (await decoded(recording.session)) > 10, 20000, 200);

    const epochs = [a, b].map((room) => room.encryption.keyEpoch);
    await leaver.leave();
    await until('a and b at a new key epoch', () => [a, b].every((room, i) => room.encryption.keyEpoch > epochs[i]), 15000, 50);
    for (const room of [a, b]) expect(room.epochs.at(-1)).to.equal(room.encryption.keyEpoch);
    // Frames already in flight under the old key drain; what follows is under the new key only.
    await sleep(1000);
    const [member, old] = await Promise.all([decodedOver(() => b.sfuSessions().plays.get(a.selfId), 4000), decodedOver(() => recording.session, 4000)]);
    console.log(`[room-sfu-e2ee] after the leave, frames decoded over 4 s from a's feed: b ${member}, a page with the leaver's keys ${old}`);
    expect(member).to.be.above(20);
    expect(old).to.equal(0);
  });

  it('a member admitted later gets only keys drawn after it came: none that encrypted anything before', async () => {
    const name = roomName();
    const a = await join(name, 'teal');
    const bTransport = new RecordingTransport();
    const b = await join(name, 'tomato', { transport: bTransport });
    await everyoneDecodes([a, b]);
    const before = new Set((await keysReceived(bTransport, name, a.selfId)).keys());
    expect(before.size).to.be.above(0);
    const epoch = a.encryption.keyEpoch;
    const cTransport = new RecordingTransport();
    const c = await join(name, 'gold', { transport: cTransport });
    await everyoneDecodes([a, b, c]);
    const given = [...(await keysReceived(cTransport, name, a.selfId)).keys()];
    expect(given.length).to.be.above(0);
    expect(given.filter((kid) => before.has(kid))).to.deep.equal([]);
    expect(a.encryption.keyEpoch).to.be.above(epoch);
    expect(a.epochs.at(-1)).to.equal(a.encryption.keyEpoch);
  });

  it("a member whose key has not arrived: DECRYPT_FAILED once, then frames decode once it arrives", async () => {
    const name = roomName();
    const a = await join(name, 'teal');
    // b's messages to a (its key among them) are held for 6 s, then delivered.
    const held = new RecordingTransport();
    const send = held.send.bind(held);
    let holding = true;
    const waiting = [];
    held.send = (to, payload) => (holding ? waiting.push([to, payload]) : send(to, payload));
    const b = await join(name, 'tomato', { transport: held });
    await until('a playing b', () => a.sfuSessions().plays.get(b.selfId)?.state === 'connected', 20000, 100);
    await until('DECRYPT_FAILED at a', () => a.errors.some((e) => e.code === 'DECRYPT_FAILED'), 10000, 100);
    expect(await decodedOver(() => a.sfuSessions().plays.get(b.selfId), 1000)).to.equal(0);
    holding = false;
    for (const [to, payload] of waiting.splice(0)) send(to, payload);
    await everyoneDecodes([a, b]);
    await sleep(1000);
    expect(a.errors).to.deep.equal([{ code: 'DECRYPT_FAILED', from: b.selfId }]);
  });

  it('room.encryption: e2ee in a mesh, hop-by-hop through the SFU without a secret or with e2ee: false', async () => {
    const mesh = await join(roomName(), 'teal', { media: 'mesh' });
    expect(mesh.encryption).to.deep.equal({ media: 'e2ee', keyEpoch: 0 });
    const open = await join(roomName(), 'teal', { secret: undefined });
    expect(open.encryption).to.deep.equal({ media: 'hop-by-hop', keyEpoch: 0 });
    const optedOut = await join(roomName(), 'teal', { e2ee: false });
    expect(optedOut.encryption).to.deep.equal({ media: 'hop-by-hop', keyEpoch: 0 });
    const sealed = await join(roomName(), 'teal');
    expect(sealed.encryption).to.deep.equal({ media: 'e2ee', keyEpoch: 1 });
    const bad = await Room.join(roomName(), { transport: new RecordingTransport(), media: 'sfu', secret: SECRET, e2ee: 'yes' }).catch((e) => e);
    expect(bad).to.be.instanceOf(PeerKitError);
    expect(bad.code).to.equal('BAD_ARGUMENT');
  });

  it('without encoded transforms, joining with a secret fails with UNSUPPORTED unless e2ee: false', async () => {
    const saved = { transform: globalThis.RTCRtpScriptTransform, streams: Object.getOwnPropertyDescriptor(RTCRtpSender.prototype, 'createEncodedStreams') };
    delete globalThis.RTCRtpScriptTransform;
    delete RTCRtpSender.prototype.createEncodedStreams;
    try {
      const refused = await join(roomName(), 'teal').catch((e) => e);
      expect(refused).to.be.instanceOf(PeerKitError);
      expect(refused.code).to.equal('UNSUPPORTED');
      const optedOut = await join(roomName(), 'teal', { e2ee: false });
      expect(optedOut.encryption.media).to.equal('hop-by-hop');
    } finally {
      if (saved.transform) globalThis.RTCRtpScriptTransform = saved.transform;
      if (saved.streams) Object.defineProperty(RTCRtpSender.prototype, 'createEncodedStreams', saved.streams);
    }
  });
});
