// Rooms with media: 'sfu' and a secret against a real Janus (test/janus-plugin.mjs): every frame is
// SFrame-encrypted in the sender's page and decrypted in each member's, with keys the members hand
// each other over the sealed signaling. In the engine the suite runs in (Chromium, then Firefox).
import { expect } from 'chai';
import { PeerKitError, Room, WebSocketTransport } from '../../dist/index.js';
import { deriveSenderKey, fromHex } from '../../dist/e2ee/sender-key.js';
import { deriveRoomKey, signalContext, unseal } from '../../dist/room/seal.js';
import { canvasTrack, roomName, sleep, until } from './helpers.js';
import { MEDIA_URL } from '/__peerkit/janus-env.js';
import { TEAL, bytesIn, decoded, decodedOver, everyoneDecodes, framesShowing, grownOver, janus, janusSuite, viewer } from './room-sfu-support.js';

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

/** The codec names each `m=video` section of `sdp` offers, upper case (VP8, RTX, ...). */
function offeredVideoCodecs(sdp) {
  return sdp
    .split(/\r\n(?=m=)/)
    .filter((section) => section.startsWith('m=video'))
    .map((section) => [...new Set([...section.matchAll(/^a=rtpmap:\d+ ([^/]+)\//gm)].map((match) => match[1].toUpperCase()))]);
}

/** The MIME types (lower case) of the codecs of `source`'s video streams of `type` ('inbound-rtp' or 'outbound-rtp'). */
async function videoCodecs(source, type) {
  const stats = await source.getStats();
  const codecs = new Set();
  stats.forEach((report) => {
    if (report.type === type && report.kind === 'video') codecs.add(stats.get(report.codecId)?.mimeType?.toLowerCase());
  });
  return [...codecs];
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
    // The offers of every WHIP and WHEP session, as they go to the SFU.
    const offers = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      if (init?.method === 'POST' && typeof init.body === 'string' && init.body.startsWith('v=0')) offers.push(init.body);
      return realFetch(input, init);
    };
    try {
      for (const color of ['teal', 'tomato', 'gold']) members.push(await join(name, color));
      for (const room of members) expect(room.encryption.media).to.equal('e2ee');
      await everyoneDecodes(members);
    } finally {
      globalThis.fetch = realFetch;
    }
    // VP8 alone, offered and used, both ways: Firefox's SFrame worker reads every video frame as VP8.
    expect(offers.length).to.be.at.least(3 + 3 * 2);
    for (const offer of offers) {
      for (const codecs of offeredVideoCodecs(offer)) {
        expect(codecs).to.include('VP8');
        expect(codecs.filter((codec) => !['VP8', 'RTX', 'RED', 'ULPFEC', 'FLEXFEC-03'].includes(codec))).to.deep.equal([]);
      }
    }
    for (const room of members) {
      const { publish, plays } = room.sfuSessions();
      expect(await videoCodecs(publish, 'outbound-rtp')).to.deep.equal(['video/vp8']);
      for (const view of plays.values()) expect(await videoCodecs(view, 'inbound-rtp')).to.deep.equal(['video/vp8']);
    }

    const [a, b] = members;
    const plain = await viewer(name, a.selfId);
    closers.push(() => plain.session.close());
    await until('the key-less viewer receiving bytes', async () => (await bytesIn(plain.session)) > 20000, 20000, 200);
    const [member, keyless] = await Promise.all([decodedOver(() => b.sfuSessions().plays.get(a.selfId), 4000), decodedOver(() => plain.session, 4000)]);
    console.log(`[room-sfu-e2ee] frames decoded over 4 s from one member's feed: a member ${member}, a viewer without the key ${keyless}`);
    expect(member).to.be.above(20);
    // The clear VP8 tag claims a partition longer than any frame, so the decoder refuses them all.
    expect(keyless).to.equal(0);
    const [seen, unseen] = await Promise.all([framesShowing(b.sfuSessions().plays.get(a.selfId).stream, TEAL), framesShowing(plain.session.stream, TEAL)]);
    console.log(`[room-sfu-e2ee] frames shown over 3 s with the sender's colour: a member ${seen.showing} of ${seen.frames}, the viewer without the key ${unseen.showing} of ${unseen.frames}`);
    expect(seen.showing).to.be.above(10);
    expect(unseen.showing).to.equal(0);
    for (const room of members) expect(room.errors.filter((e) => e.code === 'DECRYPT_FAILED')).to.deep.equal([]);
  });

  it('a member leaves: every remaining member moves to a new key epoch, and pages with the keys the leaver held decode nothing sent after, though media reaches them', async () => {
    const name = roomName();
    const a = await join(name, 'teal');
    const b = await join(name, 'tomato');
    const leaverTransport = new RecordingTransport();
    const leaver = await join(name, 'gold', { transport: leaverTransport });
    const members = [a, b, leaver];
    await everyoneDecodes(members);
    // Settled: each member's current key is the one the leaver holds.
    await sleep(2000);

    // A page for each remaining member's feed, with the keys that member gave the leaver.
    const recordings = [];
    for (const room of [a, b]) {
      const keys = await keysReceived(leaverTransport, name, room.selfId);
      expect(keys.size).to.be.above(0);
      const recording = await viewer(name, room.selfId, keys);
      closers.push(async () => {
        await recording.session.close();
        recording.close();
      });
      recordings.push(recording);
    }
    // They decode both feeds while the leaver is in the room.
    for (const [i, recording] of recordings.entries()) await until(`the leaver-keyed viewer of member ${i} decoding`, async () => (await decoded(recording.session)) > 10, 20000, 200);

    const epochs = [a, b].map((room) => room.encryption.keyEpoch);
    await leaver.leave();
    await until('a and b at a new key epoch', () => [a, b].every((room, i) => room.encryption.keyEpoch > epochs[i]), 15000, 50);
    for (const room of [a, b]) expect(room.epochs.at(-1)).to.equal(room.encryption.keyEpoch);
    // Frames already in flight under the old key drain; what follows is under the new key only.
    await sleep(1000);
    const [aFromB, bFromA, ...old] = await Promise.all([
      decodedOver(() => a.sfuSessions().plays.get(b.selfId), 4000),
      decodedOver(() => b.sfuSessions().plays.get(a.selfId), 4000),
      ...recordings.flatMap((recording) => [decodedOver(() => recording.session, 4000), grownOver(bytesIn, () => recording.session, 4000)]),
    ]);
    console.log(`[room-sfu-e2ee] after the leave, frames decoded over 4 s: a from b ${aFromB}, b from a ${bFromA}; pages with the leaver's keys (frames, bytes): a's feed ${old[0]}, ${old[1]}; b's feed ${old[2]}, ${old[3]}`);
    expect(aFromB).to.be.above(20);
    expect(bFromA).to.be.above(20);
    // Nothing decoded, though the feeds kept coming: not a session that died.
    expect([old[0], old[2]]).to.deep.equal([0, 0]);
    expect(old[1]).to.be.above(2000);
    expect(old[3]).to.be.above(2000);
  });

  it('a member with another secret is refused at joining and never decodes the members\' picture', async () => {
    const name = roomName();
    const a = await join(name, 'teal');
    const b = await join(name, 'tomato');
    await everyoneDecodes([a, b]);
    const sessions = await janus({ action: 'sessions' });
    const intruderTransport = new RecordingTransport();
    const track = canvasTrack('gold');
    tracks.push(track);
    const intruder = await Room.join(name, { transport: intruderTransport, stream: new MediaStream([track]), media: 'sfu', secret: 'guess', kdfIterations: KDF_ITERATIONS, iceServers: [] }).catch((e) => e);
    expect(intruder).to.be.instanceOf(PeerKitError);
    expect(intruder.code).to.equal('UNAUTHORIZED');
    expect(intruder.message).to.match(/secret/);
    // It published and played nothing, and was given no key it could open.
    expect(await janus({ action: 'sessions' })).to.equal(sessions);
    const roomKey = await deriveRoomKey('guess', name, KDF_ITERATIONS);
    for (const { from, payload } of intruderTransport.received) {
      const presence = intruderTransport.presences.get(from);
      const opened = await unseal(roomKey, signalContext(name, presence?.key, intruderTransport.ownPresence.key), payload?.e).catch(() => undefined);
      expect(opened).to.equal(undefined);
    }
    // Even playing a member's feed straight from the SFU (its token lets it), it sees no picture.
    const stolen = await viewer(name, a.selfId, new Map());
    closers.push(async () => {
      await stolen.session.close();
      stolen.close();
    });
    await until('the intruder receiving bytes', async () => (await bytesIn(stolen.session)) > 20000, 20000, 200);
    const [member, intruded] = await Promise.all([decodedOver(() => b.sfuSessions().plays.get(a.selfId), 3000), decodedOver(() => stolen.session, 3000)]);
    const unseen = await framesShowing(stolen.session.stream, TEAL);
    console.log(`[room-sfu-e2ee] another secret: frames decoded over 3 s from a's feed: b ${member}, the intruder ${intruded}; shown with a's colour ${unseen.showing} of ${unseen.frames}`);
    expect(member).to.be.above(15);
    expect(intruded).to.equal(0);
    expect(unseen.showing).to.equal(0);
    for (const room of [a, b]) expect(room.errors.filter((e) => e.code === 'DECRYPT_FAILED')).to.deep.equal([]);
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
