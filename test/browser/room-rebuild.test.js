// Rooms rebuild a member's Peer that dies while the member stays, and room.send() delivers every
// message exactly once and in order per sender across the rebuilds.
import { expect } from 'chai';
import { executeServerCommand } from '@web/test-runner-commands';
import { MemoryHub, MemoryTransport, Room } from '../../dist/index.js';
import { until, within } from './helpers.js';

const roomName = () => `rebuild-${Math.random().toString(36).slice(2)}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once every room has a connected Peer to each of the others. */
const meshed = (rooms, ms = 30000) =>
  until(
    `a mesh of ${rooms.length}`,
    () => rooms.every((room) => room.peers.size === rooms.length - 1 && [...room.peers.values()].every((peer) => peer.state === 'connected')),
    ms,
  );

/** room.send() that waits and tries again while the member's backlog is full. */
async function sendSurely(room, data) {
  for (;;) {
    try {
      return await room.send(data);
    } catch (error) {
      if (error.code !== 'BACKLOG_FULL') throw error;
      await sleep(20);
    }
  }
}

describe('Room rebuilds broken Peers', () => {
  let rooms = [];
  afterEach(() => Promise.all(rooms.map((room) => room.leave())).then(() => (rooms = [])));

  it('a Room of 3 whose Peers are killed at random while 10,000 room.send() messages flow: each arrives once, in order per sender, and rebuild fires', async function () {
    this.timeout(300000);
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    for (let i = 0; i < 3; i++) rooms.push(await Room.join(name, { transport: new MemoryTransport(hub), iceServers: [] }));
    await meshed(rooms);
    const ids = rooms.map((room) => room.selfId);
    // received[r][sender id] = the numbers room r got from that sender, in arrival order.
    const received = rooms.map(() => Object.fromEntries(ids.map((id) => [id, []])));
    const errors = [];
    let rebuilds = 0;
    rooms.forEach((room, r) => {
      room.on('data', (data, from) => received[r][from].push(data.n));
      room.on('rebuild', (peer, id) => {
        expect(ids).to.include(id);
        expect(room.peers.get(id)).to.equal(peer);
        rebuilds++;
      });
      room.on('leave', (id) => errors.push(`room ${r} lost member ${id}`));
    });
    const total = 10000;
    const counts = [3334, 3333, 3333];
    let sent = 0;
    let kills = 0;
    const killer = (async () => {
      // A kill at every tenth of the way, at a random Peer of a random member, from one side.
      for (let step = 1; step <= 9; step++) {
        while (sent < (total * step) / 10) await sleep(5);
        const room = rooms[Math.floor(Math.random() * rooms.length)];
        const peers = [...room.peers.values()].filter((peer) => peer.state === 'connected');
        const peer = peers[Math.floor(Math.random() * peers.length)];
        if (peer === undefined) continue;
        peer.connection.close();
        kills++;
      }
    })();
    await within(
      240000,
      Promise.all(
        rooms.map(async (room, r) => {
          for (let n = 0; n < counts[r]; n++) {
            await sendSurely(room, { n });
            sent++;
            // Paces the senders so that kills land mid-flow rather than after it.
            if (n % 25 === 0) await sleep(5);
          }
        }),
      ),
      'the sends',
    );
    await killer;
    await until(
      'every message at every member',
      () => rooms.every((_, r) => ids.every((id, s) => s === r || received[r][id].length >= counts[s])),
      120000,
    );
    await sleep(500);
    for (let r = 0; r < rooms.length; r++) {
      for (let s = 0; s < rooms.length; s++) {
        if (s === r) continue;
        const got = received[r][ids[s]];
        expect(got.length, `room ${r} from room ${s}`).to.equal(counts[s]);
        expect(got.every((n, i) => n === i), `room ${r} from room ${s}: in order, once each`).to.equal(true);
      }
    }
    expect(errors).to.deep.equal([]);
    expect(kills).to.be.greaterThan(3);
    expect(rebuilds).to.be.at.least(kills);
    console.log(`rebuild test: ${kills} kills, ${rebuilds} rebuild events`);
  });

  it('when the address the members meet on goes away and comes back, every room.send() message arrives once, in order; Firefox rebuilds the Peers it closes', async function () {
    this.timeout(120000);
    const network = (broken) => executeServerCommand('network', { fault: 'address', broken });
    if ((await network(false)).unavailable) this.skip();
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    // Quick to notice and to retry, so that the outage takes seconds.
    const quick = { silenceMs: 2000, disconnectedGraceMs: 500, iceRestartTimeoutMs: 4000, maxIceRestarts: 5 };
    for (let i = 0; i < 2; i++) rooms.push(await Room.join(name, { transport: new MemoryTransport(hub), ...quick }));
    await meshed(rooms);
    const [a, b] = rooms;
    const got = [[], []];
    let rebuilds = 0;
    const left = [];
    rooms.forEach((room, r) => {
      room.on('data', (data) => got[r].push(data.n));
      room.on('rebuild', () => rebuilds++);
      room.on('leave', (id) => left.push(id));
    });
    let stop = false;
    const sent = [0, 0];
    const senders = rooms.map(async (room, r) => {
      while (!stop) {
        await sendSurely(room, { n: sent[r] });
        sent[r]++;
        await sleep(5);
      }
    });
    try {
      await until('some messages before the outage', () => got[0].length > 50 && got[1].length > 50, 20000);
      await network(true);
      await sleep(4000);
    } finally {
      await network(false);
    }
    await until('the Peers connected again', () => rooms.every((room) => [...room.peers.values()].every((peer) => peer.state === 'connected') && room.peers.size === 1), 60000);
    const mended = [...sent];
    await until('messages after the outage', () => got[0].length > mended[1] + 20 && got[1].length > mended[0] + 20, 60000);
    stop = true;
    await within(60000, Promise.all(senders), 'the senders');
    await until('every message', () => got[0].length === sent[1] && got[1].length === sent[0], 60000);
    await sleep(300);
    expect(got[1].every((n, i) => n === i), 'b got a\'s messages in order, once each').to.equal(true);
    expect(got[0].every((n, i) => n === i), 'a got b\'s messages in order, once each').to.equal(true);
    expect(got.map((box) => box.length)).to.deep.equal([sent[1], sent[0]]);
    expect(left).to.deep.equal([]);
    if (navigator.userAgent.includes('Firefox')) expect(rebuilds).to.be.at.least(1);
    console.log(`address outage: ${sent[0] + sent[1]} messages, ${rebuilds} rebuild events`);
    expect(a.peers.size + b.peers.size).to.equal(2);
  });
});
