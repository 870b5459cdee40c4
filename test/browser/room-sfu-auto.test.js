// Rooms with media: 'auto' against a real Janus through peerkit-signal's bridge (test/janus-plugin.mjs):
// four members in this page share a mesh; a fifth moves the room to the SFU and its leaving moves
// it back, with every stream's gap measured from inbound framesDecoded sampled every 100 ms.
import { expect } from 'chai';
import { PeerKitError, Room } from '../../dist/index.js';
import { canvasTrack, roomName, sleep, until, within } from './helpers.js';
import { TEAL, bytesIn, decodedOver, framesShowing, janusSuite, transport, viewer } from './room-sfu-support.js';

const MAX_GAP_MS = 2000;

/** Sum of `field` over the video `type` stats of `source` (a connection or a WHEP session). */
async function videoStat(source, type, field) {
  let total = 0;
  // Bounded: a stats call on a connection closing under it must not stall the meter.
  (await within(2000, source.getStats(), 'getStats')).forEach((report) => {
    if (report.type === type && report.kind === 'video') total += report[field] ?? 0;
  });
  return total;
}

/**
 * Samples, every 100 ms, the frames each room decodes from each other room, over the mesh (its
 * Peer) and through the SFU (its play) together: a stream's gap is the longest time with no new
 * frame from either route. `pairs` is [receiver, sender] rooms. Each stream and route is sampled
 * on its own, so a stats call that is slow on a connection being closed (Firefox) delays only
 * that one.
 */
function gapMeter(pairs) {
  const meters = pairs.map(([to, from]) => ({ to, from, at: Date.now(), max: 0, mesh: 0, sfu: 0 }));
  let running = true;
  const sample = async (meter, route) => {
    const seen = new Map();
    while (running) {
      const began = Date.now();
      const id = meter.from.selfId;
      const source = route === 'mesh' ? meter.to.peers.get(id)?.connection : meter.to.sfuSessions()?.plays.get(id);
      if (source !== undefined) {
        const frames = await videoStat(source, 'inbound-rtp', 'framesDecoded').catch(() => undefined);
        const before = seen.get(source);
        if (frames !== undefined) seen.set(source, frames);
        if (running && frames !== undefined && before !== undefined && frames > before) {
          meter[route]++;
          const now = Date.now();
          meter.max = Math.max(meter.max, now - meter.at);
          meter.at = now;
        }
      }
      await sleep(Math.max(0, 100 - (Date.now() - began)));
    }
  };
  const loops = meters.flatMap((meter) => [sample(meter, 'mesh'), sample(meter, 'sfu')]);
  return {
    meters,
    async stop() {
      running = false;
      const now = Date.now();
      for (const meter of meters) meter.max = Math.max(meter.max, now - meter.at);
      await Promise.all(loops);
      return meters;
    },
  };
}

/** Video bytes `rooms` send over their Peers in `ms`. */
async function meshUpload(rooms, ms) {
  const sum = async () => {
    let total = 0;
    for (const room of rooms) for (const peer of room.peers.values()) total += await videoStat(peer.connection, 'outbound-rtp', 'bytesSent').catch(() => 0);
    return total;
  };
  const before = await sum();
  await sleep(ms);
  return (await sum()) - before;
}

/** Every ordered pair of distinct rooms, as [receiver, sender]. */
const pairsOf = (rooms) => rooms.flatMap((to) => rooms.filter((from) => from !== to).map((from) => [to, from]));

/** Waits until each room decodes each other room over `route` ('mesh' or 'sfu'). */
async function decodingOver(rooms, route, ms = 30000) {
  const meter = gapMeter(pairsOf(rooms));
  try {
    await until(`every stream decoding over the ${route}`, () => meter.meters.every((m) => m[route] >= 3), ms, 100);
  } finally {
    await meter.stop();
  }
}

function report(label, meters, rooms) {
  const line = meters.map((m) => `${rooms.indexOf(m.to)}<-${rooms.indexOf(m.from)} ${m.max}`).join(', ');
  const worst = Math.max(...meters.map((m) => m.max));
  console.log(`[room-sfu-auto] ${label}: longest gap per stream (ms, receiver<-sender): ${line}; worst ${worst} ms`);
  return worst;
}

describe('Room with media: "auto" (real Janus)', function () {
  this.timeout(240000);
  const { rooms, tracks } = janusSuite();

  async function joinOne(name, color, options = {}) {
    const track = canvasTrack(color);
    tracks.push(track);
    const room = await Room.join(name, { transport: transport(), stream: new MediaStream([track]), media: 'auto', iceServers: [], ...options });
    room.modes = [];
    room.lastStream = new Map();
    room.left = [];
    room.encryptions = [];
    room.errors = [];
    room.on('mode', (mode) => room.modes.push(mode));
    room.on('encryption', (encryption) => room.encryptions.push(encryption));
    room.on('error', (error) => room.errors.push(error.code));
    room.on('stream', (stream, from) => room.lastStream.set(from, stream));
    room.on('leave', (id) => room.left.push(id));
    rooms.push(room);
    return room;
  }

  it('meshLimit must be a positive integer', async () => {
    const error = await Room.join(roomName(), { transport: transport(), media: 'auto', meshLimit: 0 }).catch((e) => e);
    expect(error).to.be.instanceOf(PeerKitError);
    expect(error.code).to.equal('BAD_ARGUMENT');
  });

  it('a room of 4 moves to the SFU when a 5th joins and back when it leaves, each stream gapping at most 2 s, room.send unaffected', async () => {
    const name = roomName();
    const four = [];
    for (const color of ['teal', 'tomato', 'gold', 'navy']) four.push(await joinOne(name, color));
    await decodingOver(four, 'mesh');
    four.forEach((room) => expect(room.media).to.equal('mesh'));
    four.forEach((room) => expect(room.sfuSessions()).to.equal(undefined));

    // Mesh to SFU.
    const toSfu = gapMeter(pairsOf(four));
    const fifth = await joinOne(name, 'purple');
    expect(fifth.media).to.equal('sfu');
    await until('every member moved to the SFU', () => four.every((room) => room.media === 'sfu'), 10000, 50);
    const all = [...four, fifth];
    await decodingOver(all, 'sfu', 40000);
    await until('the mesh carries no more video', async () => (await meshUpload(all, 1000)) < 2000, 30000, 0);
    const up = await toSfu.stop();
    const worstUp = report('mesh -> SFU', up, all);
    four.forEach((room) => expect(room.modes).to.deep.equal(['sfu']));
    // Without a secret, the SFU route is hop-by-hop, and room.encryption says so as the move begins.
    four.forEach((room) => expect(room.encryptions).to.deep.equal([{ media: 'hop-by-hop', keyEpoch: 0 }]));
    expect(fifth.encryption).to.deep.equal({ media: 'hop-by-hop', keyEpoch: 0 });
    // The last stream announced for each member is its play's, which decodes.
    for (const room of all) {
      for (const other of all.filter((r) => r !== room)) expect(room.lastStream.get(other.selfId)).to.equal(room.sfuSessions().plays.get(other.selfId).stream);
    }
    await within(15000, Promise.all(all.map((room) => room.send(`sfu from ${room.selfId}`))), 'room.send through the SFU move');

    // SFU back to mesh.
    const toMesh = gapMeter(pairsOf(four));
    const fifthId = fifth.selfId;
    await within(15000, fifth.leave(), 'the fifth leaving');
    rooms.splice(rooms.indexOf(fifth), 1);
    await until('every member back to the mesh', () => four.every((room) => room.media === 'mesh'), 10000, 50);
    await until('the SFU sessions ended', () => four.every((room) => room.sfuSessions() === undefined), 30000, 100);
    await decodingOver(four, 'mesh');
    const down = await toMesh.stop();
    const worstDown = report('SFU -> mesh', down, four);
    for (const room of four) {
      expect(room.modes).to.deep.equal(['sfu', 'mesh']);
      expect(room.encryptions.at(-1)).to.deep.equal({ media: 'e2ee', keyEpoch: 0 });
      expect(room.encryption).to.deep.equal({ media: 'e2ee', keyEpoch: 0 });
      expect(room.left).to.deep.equal([fifthId]);
      for (const other of four.filter((r) => r !== room)) {
        const stream = room.lastStream.get(other.selfId);
        const receivers = room.peers.get(other.selfId).connection.getReceivers().map((r) => r.track);
        expect(stream.getTracks().some((track) => receivers.includes(track))).to.equal(true);
      }
    }
    const heard = four.map(() => new Set());
    four.forEach((room, i) => room.on('data', (data, from) => data === 'mesh again' && heard[i].add(from)));
    await within(15000, Promise.all(four.map((room) => room.send('mesh again'))), 'room.send after the move back');
    await until('room.send heard by all', () => heard.every((from) => from.size === 3), 15000);
    expect(worstUp).to.be.at.most(MAX_GAP_MS);
    expect(worstDown).to.be.at.most(MAX_GAP_MS);
  });

  it('with a secret: moved to the SFU, every member still decodes every other, frames through the SFU are SFrame-encrypted, and room.encryption stays e2ee', async () => {
    const name = roomName();
    const options = { secret: 'correct horse battery staple', kdfIterations: 1000, meshLimit: 2 };
    const two = [await joinOne(name, 'teal', options), await joinOne(name, 'tomato', options)];
    await decodingOver(two, 'mesh');
    two.forEach((room) => expect(room.encryption.media).to.equal('e2ee'));
    const third = await joinOne(name, 'gold', options);
    expect(third.media).to.equal('sfu');
    const all = [...two, third];
    await until('every member moved to the SFU', () => two.every((room) => room.media === 'sfu'), 10000, 50);
    await decodingOver(all, 'sfu', 40000);
    await until('the mesh carries no more video', async () => (await meshUpload(all, 1000)) < 2000, 30000, 0);
    for (const room of all) {
      expect(room.encryption.media).to.equal('e2ee');
      expect(room.encryptions.every((e) => e.media === 'e2ee')).to.equal(true);
      // Key changes only (the third's admission): the move itself changes nothing about encryption.
      if (room.encryptions.length > 0) expect(room.encryptions.at(-1)).to.deep.equal(room.encryption);
    }
    two.forEach((room) => expect(room.modes).to.deep.equal(['sfu']));

    // A WHEP viewer without the keys gets the first member's feed from the SFU and sees no picture.
    const [a, b] = two;
    const plain = await viewer(name, a.selfId);
    try {
      await until('the key-less viewer receiving bytes', async () => (await bytesIn(plain.session)) > 20000, 20000, 200);
      const [member, keyless] = await Promise.all([decodedOver(() => b.sfuSessions().plays.get(a.selfId), 3000), decodedOver(() => plain.session, 3000)]);
      const unseen = await framesShowing(plain.session.stream, TEAL);
      console.log(`[room-sfu-auto] with a secret, through the SFU, frames decoded over 3 s from a's feed: a member ${member}, a viewer without the key ${keyless}; shown with a's colour ${unseen.showing} of ${unseen.frames}`);
      expect(member).to.be.above(15);
      // The clear VP8 tag claims a partition longer than any frame, so the decoder refuses them all.
      expect(keyless).to.equal(0);
      expect(unseen.showing).to.equal(0);
    } finally {
      await plain.session.close();
    }
    for (const room of all) expect(room.errors.filter((code) => code === 'DECRYPT_FAILED')).to.deep.equal([]);
  });
});
