// Rooms of real Peers in one page: a mesh over MemoryTransport, and over WebSocketTransport
// against the real signaling server, which a test stops and restarts mid-call.
import { expect } from 'chai';
import { executeServerCommand } from '@web/test-runner-commands';
import { MemoryHub, MemoryTransport, PeerKitError, Room, WebSocketTransport } from '../../dist/index.js';
import { SIGNAL_URL } from '/__peerkit/env.js';
import { canvasTrack, next, roomName, until, watchRejections, within } from './helpers.js';

/** Resolves once every room has a connected Peer to each of the others. */
function meshed(rooms, ms = 20000) {
  const done = () =>
    rooms.every((room) => {
      const peers = [...room.peers.values()];
      return peers.length === rooms.length - 1 && peers.every((peer) => peer.state === 'connected');
    });
  return within(
    ms,
    new Promise((resolve) => {
      const check = () => (done() ? resolve() : setTimeout(check, 20));
      check();
    }),
    `a mesh of ${rooms.length}`,
  );
}

/** Collects `data` events of a room as [data, from] pairs. */
function inbox(room) {
  const got = [];
  room.on('data', (data, from) => got.push([data, from]));
  return got;
}

describe('Room over MemoryTransport', () => {
  let rooms = [];
  afterEach(() => Promise.all(rooms.map((room) => room.leave())).then(() => (rooms = [])));
  const join = (hub, name, options = {}) =>
    Room.join(name, { transport: new MemoryTransport(hub), ...options }).then((room) => (rooms.push(room), room));

  it('four members form a full mesh, one polite side per pair, and room.send reaches all or one', async () => {
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    const members = [];
    for (let i = 0; i < 4; i++) members.push(await join(hub, name, { hello: { name: `m${i}` } }));
    await meshed(members);
    const ids = members.map((room) => room.selfId);
    expect(new Set(ids).size).to.equal(4);
    for (const room of members) {
      expect([...room.peers.keys()].sort()).to.deep.equal(ids.filter((id) => id !== room.selfId).sort());
    }
    for (const a of members) {
      for (const b of members) {
        if (a === b) continue;
        expect(a.peers.get(b.selfId).polite).to.equal(!b.peers.get(a.selfId).polite);
        expect(a.helloOf(b.selfId)).to.deep.equal({ name: `m${members.indexOf(b)}` });
      }
    }
    const boxes = members.map(inbox);
    await members[0].send({ to: 'all' });
    await members[1].send('just you', ids[2]);
    await until('deliveries', () => boxes[1].length + boxes[2].length + boxes[3].length === 4);
    expect(boxes[0]).to.deep.equal([]);
    expect(boxes[1]).to.deep.equal([[{ to: 'all' }, ids[0]]]);
    // Two senders: their messages may interleave either way.
    expect(boxes[2]).to.have.deep.members([
      [{ to: 'all' }, ids[0]],
      ['just you', ids[1]],
    ]);
    expect(boxes[3]).to.deep.equal([[{ to: 'all' }, ids[0]]]);
  });

  it('room.send() right after join() reaches the members already there, in order, while admit decides; a refused one gets nothing', async () => {
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    const a = await join(hub, name);
    const b = await join(hub, name);
    const [boxA, boxB] = [inbox(a), inbox(b)];
    const c = await join(hub, name, { admit: (id) => new Promise((resolve) => setTimeout(() => resolve(id !== b.selfId), 100)) });
    expect(c.peers.size).to.equal(0);
    const sent = [c.send('first'), c.send('second', a.selfId), c.send('third')];
    await within(10000, Promise.all(sent), 'the sends');
    await until('deliveries to a', () => boxA.length === 3);
    expect(boxA).to.deep.equal([
      ['first', c.selfId],
      ['second', c.selfId],
      ['third', c.selfId],
    ]);
    expect(() => c.send('to the refused', b.selfId)).to.throw(PeerKitError).with.property('code', 'BAD_ARGUMENT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(boxB).to.deep.equal([]);
  });

  it('a member that leaves is removed from every room within seconds, and leave() releases its Peers', async () => {
    const hub = new MemoryHub();
    const name = roomName();
    const [a, b, c] = [await join(hub, name), await join(hub, name), await join(hub, name)];
    await meshed([a, b, c]);
    const peersOfC = [...c.peers.values()];
    const leftA = next(a, 'leave');
    const leftB = next(b, 'leave');
    const closed = next(c, 'close');
    await c.leave();
    await closed;
    expect(c.state).to.equal('closed');
    expect(peersOfC.every((peer) => peer.state === 'closed')).to.equal(true);
    expect(c.peers.size).to.equal(0);
    expect(await within(5000, leftA, 'leave at a')).to.equal(c.selfId);
    expect(await within(5000, leftB, 'leave at b')).to.equal(c.selfId);
    expect([...a.peers.keys()]).to.deep.equal([b.selfId]);
    expect(() => c.send('x')).to.throw(PeerKitError).with.property('code', 'CLOSED');
    await c.leave();
  });

  it('local media reaches every member: the stream given at join, one added later, and a member who comes later', async () => {
    const hub = new MemoryHub();
    const name = roomName();
    const camera = new MediaStream([canvasTrack('teal')]);
    const a = await join(hub, name, { stream: camera });
    const b = await join(hub, name);
    const fromA = next(b, 'track');
    const [track, streams, from] = await within(15000, fromA, 'the camera track');
    expect(track.kind).to.equal('video');
    expect(from).to.equal(a.selfId);
    expect(streams[0].id).to.equal(camera.id);
    const screen = new MediaStream([canvasTrack('orange')]);
    const second = next(b, 'stream');
    a.addStream(screen);
    const [stream, fromAgain] = await within(15000, second, 'the added stream');
    expect(stream.id).to.equal(screen.id);
    expect(fromAgain).to.equal(a.selfId);
    const c = await join(hub, name);
    const seen = new Set();
    c.on('stream', (s, id) => id === a.selfId && seen.add(s.id));
    await until('both of a’s streams at the late member', () => seen.size === 2, 15000);
    expect([...seen].sort()).to.deep.equal([camera.id, screen.id].sort());
    await a.replaceTrack(camera.getVideoTracks()[0], canvasTrack('purple'));
    for (const t of [...camera.getTracks(), ...screen.getTracks()]) t.stop();
  });

  it('after the transport drops and re-joins under a new id, the mesh re-forms with the same Peers and data flows throughout', async () => {
    const hub = new MemoryHub();
    const name = roomName();
    const transport = new MemoryTransport(hub);
    const a = await Room.join(name, { transport });
    rooms.push(a);
    const b = await join(hub, name);
    const c = await join(hub, name);
    await meshed([a, b, c]);
    const before = new Map([...a.peers].map(([id, peer]) => [peer, id]));
    const peerAtB = b.peers.get(a.selfId);
    const oldId = a.selfId;
    const boxB = inbox(b);
    const renamed = next(b, 'rejoin');
    const states = [];
    a.on('state', (s) => states.push(s));
    transport.interrupt(300);
    // Signaling is down; the Peers are not.
    await a.send('while offline');
    await until('a message during the outage', () => boxB.length === 1);
    await until('re-joined', () => a.state === 'joined' && a.selfId !== oldId);
    expect(states).to.deep.equal(['reconnecting', 'joined']);
    await until('b knows a by its new id', () => b.peers.has(a.selfId) && !b.peers.has(oldId));
    expect(b.peers.get(a.selfId)).to.equal(peerAtB);
    expect(await renamed).to.deep.equal([peerAtB, a.selfId, oldId]);
    expect(b.peers.size).to.equal(2);
    expect([...a.peers.values()].every((peer) => before.has(peer))).to.equal(true);
    expect(a.peers.size).to.equal(2);
    await a.send('after');
    await until('a message after the outage', () => boxB.length === 2);
    expect(boxB.map(([data, from]) => [data, from === a.selfId || from === oldId])).to.deep.equal([
      ['while offline', true],
      ['after', true],
    ]);
    await meshed([a, b, c]);
  });

  it('past 1,000 unacknowledged messages for a member, room.send() rejects with BACKLOG_FULL and sends that message to no one', async () => {
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    const a = await join(hub, name);
    const boxA = inbox(a);
    // While c's admit decides about a, c's messages for a wait, unacknowledged.
    const c = await join(hub, name, { admit: () => new Promise((resolve) => setTimeout(() => resolve(true), 300)) });
    const sends = [];
    for (let n = 0; n < 1000; n++) sends.push(c.send({ n }));
    const refused = await c.send({ n: 'one too many' }).catch((e) => e);
    expect(refused).to.be.instanceOf(PeerKitError);
    expect(refused.code).to.equal('BACKLOG_FULL');
    await within(20000, Promise.all(sends), 'the 1,000 sends');
    await until('1,000 messages at a', () => boxA.length >= 1000, 20000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(boxA.length).to.equal(1000);
    expect(boxA.every(([data, from], i) => data.n === i && from === c.selfId)).to.equal(true);
    // Acknowledged, the backlog is empty again.
    await within(5000, c.send({ n: 1000 }), 'a send once the 1,000 are acknowledged');
  });

  it('a sealed room rebuilds a killed Peer: both sides emit rebuild, and messages keep flowing once each', async () => {
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    const options = { secret: 'correct horse', kdfIterations: 1000 };
    const a = await join(hub, name, options);
    const b = await join(hub, name, options);
    await meshed([a, b]);
    const boxB = inbox(b);
    const rebuiltA = next(a, 'rebuild');
    const rebuiltB = next(b, 'rebuild');
    const left = [];
    a.on('leave', (id) => left.push(id));
    b.on('leave', (id) => left.push(id));
    const before = a.peers.get(b.selfId);
    await a.send('before');
    before.connection.close();
    const during = a.send('during');
    const [peerA, idA] = await within(20000, rebuiltA, 'rebuild at a');
    const [peerB, idB] = await within(20000, rebuiltB, 'rebuild at b');
    expect([idA, idB]).to.deep.equal([b.selfId, a.selfId]);
    expect(peerA).to.not.equal(before);
    await within(20000, during, 'the send during the rebuild');
    await a.send('after');
    await until('three messages at b', () => boxB.length >= 3, 20000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(boxB).to.deep.equal([
      ['before', a.selfId],
      ['during', a.selfId],
      ['after', a.selfId],
    ]);
    await meshed([a, b]);
    expect(a.peers.get(b.selfId)).to.equal(peerA);
    expect(b.peers.get(a.selfId)).to.equal(peerB);
    expect(peerA.polite).to.equal(before.polite, 'the polite side is kept');
    expect(peerA.polite).to.equal(!peerB.polite);
    expect(left).to.deep.equal([]);
  });

  it('a member that leaves is not rebuilt: the others see leave, never rebuild', async () => {
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    const [a, b] = [await join(hub, name), await join(hub, name)];
    await meshed([a, b]);
    let rebuilds = 0;
    a.on('rebuild', () => rebuilds++);
    const left = next(a, 'leave');
    await b.leave();
    expect(await within(5000, left, 'leave at a')).to.equal(b.selfId);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(rebuilds).to.equal(0);
    expect(a.peers.size).to.equal(0);
  });

  it('misuse of a Room is refused with typed errors and no unhandled rejection', async () => {
    const rejections = watchRejections();
    const hub = new MemoryHub();
    for (const [name, options] of [
      ['', { transport: new MemoryTransport(hub) }],
      ['x', {}],
      ['x', { transport: {} }],
      ['x', { transport: new MemoryTransport(hub), admit: 'yes' }],
    ]) {
      const error = await Room.join(name, options).catch((e) => e);
      expect(error).to.be.instanceOf(PeerKitError);
      expect(error.code).to.equal('BAD_ARGUMENT');
    }
    const used = new MemoryTransport(hub);
    await used.close();
    expect((await Room.join('x', { transport: used }).catch((e) => e)).code).to.equal('CLOSED');
    const room = await join(hub, roomName());
    expect(() => room.send('x', 'nobody')).to.throw(PeerKitError).with.property('code', 'BAD_ARGUMENT');
    const stranger = canvasTrack();
    const refused = await room.replaceTrack(stranger, canvasTrack()).catch((e) => e);
    expect(refused.code).to.equal('BAD_ARGUMENT');
    await room.leave();
    expect(() => room.addStream(new MediaStream())).to.throw(PeerKitError).with.property('code', 'CLOSED');
    await new Promise((resolve) => setTimeout(resolve, 50));
    rejections.stop();
    expect(rejections.seen).to.deep.equal([]);
  });
});

describe('Room over the real signaling server', () => {
  it('three members meet through the server; it stops and restarts mid-call: data keeps flowing and the room re-forms with no duplicate Peers', async () => {
    const name = roomName();
    const open = () => Room.join(name, { transport: new WebSocketTransport(SIGNAL_URL, { minDelayMs: 100, maxDelayMs: 400 }) });
    const rooms = [await open(), await open(), await open()];
    try {
      await meshed(rooms);
      const peersBefore = rooms.map((room) => new Set(room.peers.values()));
      const boxes = rooms.map(inbox);
      const reconnecting = rooms.map((room) => next(room, 'state'));
      await executeServerCommand('signal-server', { action: 'stop' });
      expect(await within(5000, Promise.all(reconnecting), 'reconnecting')).to.deep.equal(['reconnecting', 'reconnecting', 'reconnecting']);
      await rooms[0].send('during the outage');
      await until('data while the server is down', () => boxes[1].length === 1 && boxes[2].length === 1);
      // Its offer cannot go out now; the Room holds it for the member's id after the re-join.
      const restarting = [...rooms[0].peers.values()][0].restartIce();
      await executeServerCommand('signal-server', { action: 'start' });
      await until('all re-joined', () => rooms.every((room) => room.state === 'joined'), 15000);
      const ids = rooms.map((room) => room.selfId);
      await until(
        'the mesh under the new ids',
        () => rooms.every((room) => [...room.peers.keys()].sort().join() === ids.filter((id) => id !== room.selfId).sort().join()),
        15000,
      );
      rooms.forEach((room, i) => {
        expect(room.peers.size).to.equal(2);
        for (const peer of room.peers.values()) expect(peersBefore[i].has(peer)).to.equal(true);
      });
      await within(10000, restarting, 'an ICE restart asked for while signaling was down');
      await rooms[2].send('after the restart');
      await until('data after the restart', () => boxes[0].length === 1 && boxes[1].length === 2);
      expect(boxes[0][0]).to.deep.equal(['after the restart', rooms[2].selfId]);
    } finally {
      await Promise.all(rooms.map((room) => room.leave()));
    }
  });

  it('a sealed member that dropped the other after its short grace meets it again as new, while the other kept it: signals go both ways and the room re-forms', async () => {
    const name = roomName();
    const secret = 'correct horse battery staple';
    // The quick member is back on the server long before the patient one, and drops it meanwhile.
    // The patient one's sockets go nowhere until the quick one said `leave`: reconnect delays are
    // random from 0 ("full jitter"), so a long minDelayMs alone would not keep it away.
    let patientAway = false;
    class HeldBack extends WebSocket {
      constructor(url) {
        super(patientAway ? 'ws://127.0.0.1:1' : url);
      }
    }
    const transport = (options) => new WebSocketTransport(SIGNAL_URL, { minDelayMs: 100, maxDelayMs: 200, ...options });
    const quick = await Room.join(name, { transport: transport(), secret, rejoinGraceMs: 300 });
    const patient = await Room.join(name, { transport: transport({ WebSocket: HeldBack }), secret });
    const rooms = [quick, patient];
    try {
      await meshed(rooms);
      const left = next(quick, 'leave');
      patientAway = true;
      await executeServerCommand('signal-server', { action: 'stop' });
      await until('both reconnecting', () => rooms.every((room) => room.state === 'reconnecting'), 5000);
      await executeServerCommand('signal-server', { action: 'start' });
      await within(6000, left, 'the short grace ending');
      patientAway = false;
      await until('both re-joined', () => rooms.every((room) => room.state === 'joined'), 20000);
      await meshed(rooms);
      const boxes = rooms.map(inbox);
      await quick.send('from the one that dropped');
      await patient.send('from the one that kept');
      await until('data both ways', () => boxes[0].length === 1 && boxes[1].length === 1);
    } finally {
      await Promise.all(rooms.map((room) => room.leave()));
    }
  });
});
