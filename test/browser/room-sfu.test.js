// Rooms with media: 'sfu' against a real Janus through peerkit-signal's bridge (test/janus-plugin.mjs):
// four members in this page publish once each and play the others through Janus, data stays on the
// members' own Peers; in the engine the suite runs in (Chromium, then Firefox).
import { expect } from 'chai';
import { PeerKitError, Room } from '../../dist/index.js';
import { canvasTrack, roomName, sleep, until, within } from './helpers.js';
import { everyoneDecodes, janus, janusSuite, transport, videoStats } from './room-sfu-support.js';

const SIZE = 4;

/** Every room gets one message from each other room through room.send. */
async function everyoneHears(rooms, text) {
  const heard = rooms.map((room) => {
    const from = new Set();
    room.on('data', (data, id) => {
      if (data === text) from.add(id);
    });
    return from;
  });
  await Promise.all(rooms.map((room) => room.send(text)));
  await until('room.send heard by all', () => heard.every((from, i) => from.size === rooms.length - 1 && !from.has(rooms[i].selfId)), 15000);
}

/** Outbound video bytes of one member over `ms`, and how many outbound video streams it sends. */
async function upload(sources, ms) {
  const sum = async () => {
    let total = 0;
    let count = 0;
    for (const source of sources) {
      const stats = await videoStats(source, 'outbound-rtp', 'bytesSent');
      total += stats.total;
      count += stats.count;
    }
    return { total, count };
  };
  const before = await sum();
  await sleep(ms);
  const after = await sum();
  return { bytes: after.total - before.total, streams: after.count };
}

describe('Room with media: "sfu" (real Janus)', function () {
  this.timeout(180000);
  const { rooms, tracks } = janusSuite();

  async function joinAll(name, media) {
    const joined = [];
    for (let i = 0; i < SIZE; i++) {
      const track = canvasTrack(['teal', 'tomato', 'gold', 'navy'][i]);
      tracks.push(track);
      const room = await Room.join(name, { transport: transport(), stream: new MediaStream([track]), media, iceServers: [] });
      // Streams from the others can come while later members are still joining.
      room.streamsFrom = new Set();
      room.on('stream', (_stream, from) => room.streamsFrom.add(from));
      rooms.push(room);
      joined.push(room);
    }
    return joined;
  }

  it('a transport that gives no SFU endpoints fails join with UNSUPPORTED', async () => {
    const { MemoryHub, MemoryTransport } = await import('../../dist/index.js');
    const error = await Room.join(roomName(), { transport: new MemoryTransport(new MemoryHub()), media: 'sfu' }).catch((e) => e);
    expect(error).to.be.instanceOf(PeerKitError);
    expect(error.code).to.equal('UNSUPPORTED');
  });

  it(`${SIZE} members: everyone decodes everyone through Janus, one upload each, room.send end to end, leaving tears down`, async () => {
    const sessionsBefore = await janus({ action: 'sessions' });
    const members = await joinAll(roomName(), 'sfu');
    await everyoneDecodes(members);
    members.forEach((room) => expect([...room.streamsFrom].sort()).to.deep.equal(members.filter((r) => r !== room).map((r) => r.selfId).sort()));
    // Data stays on the members' own Peers, which carry no media here.
    for (const room of members) for (const peer of room.peers.values()) expect((await videoStats(peer.connection, 'outbound-rtp', 'bytesSent')).count).to.equal(0);
    await everyoneHears(members, 'through the mesh, not Janus');
    // 1 publish + (SIZE - 1) plays per member, each its own Janus session.
    await until('Janus sessions of the room', async () => (await janus({ action: 'sessions' })) - sessionsBefore === SIZE * SIZE, 10000, 250);

    const sfu = await upload([members[0].sfuSessions().publish], 4000);
    expect(sfu.streams).to.equal(1);

    const leaving = members[SIZE - 1];
    const left = members.slice(0, -1).map((room) => new Promise((resolve) => room.on('leave', (id) => id === leaving.selfId && resolve())));
    await leaving.leave();
    await within(10000, Promise.all(left), 'the others seeing the member leave');
    for (const room of members.slice(0, -1)) expect(room.sfuSessions().plays.has(leaving.selfId)).to.equal(false);
    // Its publish and its 3 plays, and the 3 plays of its feed: 7 Janus sessions gone.
    await until('Janus sessions of the leaver gone', async () => (await janus({ action: 'sessions' })) - sessionsBefore === (SIZE - 1) * (SIZE - 1), 10000, 250);
    await everyoneHears(members.slice(0, -1), 'still here');

    await Promise.all(rooms.splice(0).map((room) => room.leave()));
    const meshRooms = await joinAll(roomName(), 'mesh');
    await until('mesh connected', () => meshRooms.every((room) => room.peers.size === SIZE - 1 && [...room.peers.values()].every((p) => p.state === 'connected')), 30000);
    await sleep(2000);
    const mesh = await upload([...meshRooms[0].peers.values()].map((peer) => peer.connection), 4000);
    console.log(
      `[room-sfu] ${SIZE} members, one member's outgoing video over 4 s: SFU ${sfu.streams} stream, ${Math.round(sfu.bytes / 1024)} KiB; ` +
        `mesh ${mesh.streams} streams, ${Math.round(mesh.bytes / 1024)} KiB`,
    );
    expect(mesh.streams).to.equal(SIZE - 1);
  });

  it('admit runs before a feed is played: a member refused is never played, and plays nobody it refused', async () => {
    const name = roomName();
    const open = [];
    for (const color of ['teal', 'gold']) {
      const track = canvasTrack(color);
      tracks.push(track);
      const room = await Room.join(name, { transport: transport(), stream: new MediaStream([track]), media: 'sfu', iceServers: [], admit: (_id, hello) => hello !== 'refused' });
      rooms.push(room);
      open.push(room);
    }
    const track = canvasTrack('tomato');
    tracks.push(track);
    const asked = [];
    const refused = await Room.join(name, {
      transport: transport(),
      stream: new MediaStream([track]),
      media: 'sfu',
      iceServers: [],
      hello: 'refused',
      admit: (id) => (asked.push(id), false),
    });
    rooms.push(refused);
    await everyoneDecodes(open);
    await until('the refused member asked about both', () => asked.length === 2, 10000, 50);
    await sleep(3000);
    expect(refused.sfuSessions().plays.size).to.equal(0);
    for (const room of open) expect(room.sfuSessions().plays.has(refused.selfId)).to.equal(false);
  });

  it('a member whose signaling re-joins under a new id publishes again under it; the others play it again, and the old sessions go', async () => {
    const sockets = [];
    // The browser's WebSocket, with each socket kept, so this test can drop one.
    class KeptWebSocket extends WebSocket {
      constructor(url) {
        super(url);
        sockets.push(this);
      }
    }
    const sessionsBefore = await janus({ action: 'sessions' });
    const name = roomName();
    const track = canvasTrack('purple');
    tracks.push(track);
    const transportA = transport({ WebSocket: KeptWebSocket });
    const a = await Room.join(name, { transport: transportA, stream: new MediaStream([track]), media: 'sfu', iceServers: [] });
    rooms.push(a);
    const others = [];
    for (let i = 0; i < 2; i++) {
      const other = canvasTrack(['teal', 'gold'][i]);
      tracks.push(other);
      const room = await Room.join(name, { transport: transport(), stream: new MediaStream([other]), media: 'sfu', iceServers: [] });
      rooms.push(room);
      others.push(room);
    }
    const members = [a, ...others];
    await everyoneDecodes(members);
    const oldId = a.selfId;
    sockets.at(-1).close();
    await until('a re-joined under a new id', () => a.state === 'joined' && a.selfId !== oldId, 15000, 50);
    await until('the others know a by its new id', () => others.every((room) => room.peers.has(a.selfId) && !room.peers.has(oldId)), 15000, 50);
    await everyoneDecodes(members);
    for (const room of others) expect(room.sfuSessions().plays.has(oldId)).to.equal(false);
    // 3 publishes and 6 plays; the publish under the old id and the plays of it were ended.
    await until('only the current sessions in Janus', async () => (await janus({ action: 'sessions' })) - sessionsBefore === 9, 15000, 250);
    await everyoneHears(members, 'after the re-join');
  });

  it('Janus killed and restarted mid-call: the room re-publishes and re-plays by itself, room.send unaffected', async () => {
    const members = await joinAll(roomName(), 'sfu');
    await everyoneDecodes(members);
    const states = members.map(() => []);
    members.forEach((room, i) => room.on('media', (state, id) => states[i].push({ state, id, at: Date.now() })));
    members.forEach((room) => room.on('error', () => undefined));
    const restarted = janus({ action: 'restart', downMs: 1000 });
    await sleep(500);
    await everyoneHears(members, 'while Janus is down');
    await restarted;
    const began = Date.now();
    // Every feed is lost (each member sees its publish and its 3 plays go), then comes back.
    await until('every feed lost', () => states.every((list) => list.filter((s) => s.state === 'reconnecting').length >= SIZE), 30000, 100);
    await until('every feed back', () => states.every((list) => new Set(list.filter((s) => s.state === 'connected').map((s) => s.id)).size === SIZE), 30000, 100);
    const back = Math.max(...states.flat().filter((s) => s.state === 'connected').map((s) => s.at)) - began;
    await everyoneDecodes(members, 30000);
    console.log(`[room-sfu] Janus restarted: every feed connected again ${back} ms after Janus was back, all ${SIZE * (SIZE - 1)} plays decoding (checked one after another) after ${Date.now() - began} ms`);
    for (const list of states) {
      expect(list.some((s) => s.state === 'reconnecting')).to.equal(true);
      expect(list.some((s) => s.state === 'connected')).to.equal(true);
    }
    await everyoneHears(members, 'after the restart');
  });
});
