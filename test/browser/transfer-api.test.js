// peer.sendFile(), room.sendFile() and their `transfer` events: the transfer code loads on first
// use, the transfer channel stays off the Peer's `channel` event, and a Room moves a member's
// transfers to the Peer it rebuilds.
import { expect } from 'chai';
import { MemoryHub, MemoryTransport, Room, Transfer, createTransfers } from '../../dist/index.js';
import { makeFile } from '../../bench/transfer-file.js';
import { clearTransferStore, closeAll, meshOf, next, opened, pair, roomName, sameBytes, until, within } from './helpers.js';

const MiB = 1024 * 1024;

describe('peer.sendFile() and room.sendFile()', function () {
  this.timeout(120000);
  let rooms = [];
  beforeEach(clearTransferStore);
  afterEach(async () => {
    await Promise.all(rooms.map((room) => room.leave()));
    rooms = [];
    await clearTransferStore();
  });

  it("peer.sendFile() delivers a verified File through the remote's transfer event, never its channel event", async () => {
    const [a, b] = pair();
    const channels = [];
    b.on('channel', (channel) => channels.push(channel.label));
    const offered = next(b, 'transfer');
    const file = makeFile(3 * MiB + 7, 'notes.bin');
    const t = a.sendFile(file, { meta: { album: 'trip' } });
    expect(t).to.be.instanceOf(Transfer);
    // The transfer code is still loading: the handle already answers.
    expect(t.state).to.equal('preparing');
    expect(t.name).to.equal('notes.bin');
    expect(t.size).to.equal(file.size);
    const states = [];
    t.on('state', (state) => states.push(state));
    const incoming = await within(20000, offered, 'the transfer event');
    expect(incoming.name).to.equal('notes.bin');
    expect(incoming.meta).to.deep.equal({ album: 'trip' });
    expect(incoming.resumedFrom).to.equal(0);
    const received = await within(30000, incoming.accept(), 'receiving');
    await within(10000, t.done, 'done');
    expect(await sameBytes(received, file)).to.equal(true);
    expect(t.id).to.equal(incoming.id);
    expect(states).to.include.members(['offered', 'sending', 'verifying', 'done']);
    // A channel opened by the application still shows up, so the event works and was listened to.
    const named = a.channel('chat');
    await opened(named);
    await until('the chat channel event', () => channels.includes('chat'), 10000);
    expect(channels).to.deep.equal(['chat']);
    await closeAll(a, b);
  });

  it('a transfer paused before its code loaded waits, and resume() sends it', async () => {
    const [a, b] = pair();
    await Promise.all([a.connected, b.connected]);
    let accepted;
    b.on('transfer', (incoming) => (accepted = incoming.accept()));
    const file = makeFile(2 * MiB);
    const t = a.sendFile(file);
    t.pause();
    expect(t.state).to.equal('paused');
    await until('the offer accepted', () => accepted !== undefined, 20000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(t.state).to.equal('paused');
    t.resume();
    await within(30000, t.done, 'done after resume');
    expect(await sameBytes(await accepted, file)).to.equal(true);
    await closeAll(a, b);
  });

  it('peer.sendFile() and createTransfers() on the other side interoperate, and sendFile() after close() throws CLOSED', async () => {
    const [a, b] = pair();
    const receiver = createTransfers(b);
    let peerEvents = 0;
    b.on('transfer', () => peerEvents++);
    const offered = next(receiver, 'transfer');
    const file = makeFile(MiB);
    const t = a.sendFile(file);
    const incoming = await within(20000, offered, 'the offer');
    const received = await within(20000, incoming.accept(), 'receiving');
    await within(10000, t.done, 'done');
    expect(await sameBytes(received, file)).to.equal(true);
    expect(peerEvents).to.equal(1);
    await closeAll(a, b);
    expect(() => a.sendFile(file)).to.throw().with.property('code', 'CLOSED');
    expect(() => b.sendFile('not a file')).to.throw().with.property('code', 'CLOSED');
  });

  it('when a Peer closes mid-file, its transfers fail with CLOSED on both sides, and the same file on a new Peer resumes', async () => {
    let [a, b] = pair();
    let offered = next(b, 'transfer');
    const file = makeFile(24 * MiB, 'closed.bin');
    const first = a.sendFile(file);
    const incoming = await within(20000, offered, 'the offer');
    const accepted = incoming.accept();
    await within(30000, next(first, 'progress', (p) => p.bytes >= p.total * 0.25), '25 %');
    first.pause();
    await closeAll(a, b);
    const ended = (promise) => within(10000, promise.then(() => undefined, (err) => err), 'a transfer ending');
    expect((await ended(first.done))?.code).to.equal('CLOSED');
    expect((await ended(accepted))?.code).to.equal('CLOSED');
    expect([first.state, incoming.state]).to.deep.equal(['failed', 'failed']);
    [a, b] = pair();
    offered = next(b, 'transfer');
    const again = a.sendFile(file);
    const resumed = await within(20000, offered, 'the second offer');
    expect(resumed.resumedFrom).to.be.at.least(file.size * 0.25);
    const received = await within(60000, resumed.accept(), 'receiving the rest');
    await within(10000, again.done, 'done');
    expect(await sameBytes(received, file)).to.equal(true);
    await closeAll(a, b);
  });

  it('sendFile() refuses what is not a Blob with BAD_ARGUMENT', async () => {
    const [a, b] = pair();
    expect(() => a.sendFile('text')).to.throw().with.property('code', 'BAD_ARGUMENT');
    await closeAll(a, b);
  });

  it('room.sendFile(file, id) reaches that member only; room.sendFile(file) reaches everyone, one Transfer per member id', async () => {
    const hub = new MemoryHub();
    const name = roomName();
    for (let i = 0; i < 3; i++) rooms.push(await Room.join(name, { transport: new MemoryTransport(hub), iceServers: [] }));
    await meshOf(rooms);
    const [a, b, c] = rooms;
    const offers = rooms.map(() => []);
    rooms.forEach((room, r) =>
      room.on('transfer', (incoming, from) => {
        offers[r].push({ name: incoming.name, from });
        incoming.accept();
      }),
    );
    const one = makeFile(MiB, 'one.bin');
    const t = a.sendFile(one, b.selfId, { meta: 'for b' });
    expect(t).to.be.instanceOf(Transfer);
    await within(20000, t.done, 'the transfer to b');
    expect(offers[1]).to.deep.equal([{ name: 'one.bin', from: a.selfId }]);
    expect(offers[2]).to.deep.equal([]);
    const all = makeFile(MiB + 3, 'all.bin');
    const sent = a.sendFile(all);
    expect(sent).to.be.instanceOf(Map);
    expect([...sent.keys()].sort()).to.deep.equal([b.selfId, c.selfId].sort());
    await within(30000, Promise.all([...sent.values()].map((transfer) => transfer.done)), 'the transfers to everyone');
    expect(offers[2]).to.deep.equal([{ name: 'all.bin', from: a.selfId }]);
    expect(offers[1].map((offer) => offer.name)).to.deep.equal(['one.bin', 'all.bin']);
    expect(offers[0]).to.deep.equal([]);
    expect(() => a.sendFile(one, 'nobody')).to.throw().with.property('code', 'BAD_ARGUMENT');
    expect(() => a.sendFile('text')).to.throw().with.property('code', 'BAD_ARGUMENT');
  });

  for (const leaver of ['receiver', 'sender']) {
    it(`when the ${leaver} leaves mid-file, room.sendFile() fails with CLOSED, and the same file sent again after it joins anew resumes from OPFS`, async () => {
      const hub = new MemoryHub({ latencyMs: 2 });
      const name = roomName();
      const join = async () => {
        const room = await Room.join(name, { transport: new MemoryTransport(hub), iceServers: [] });
        rooms.push(room);
        return room;
      };
      let a = await join();
      let b = await join();
      await meshOf([a, b]);
      const offers = [];
      const accept = (room) =>
        room.on('transfer', (incoming) => {
          // The first accept() rejects with CLOSED before the test looks at it: not an unhandled rejection.
          const file = incoming.accept();
          file.catch(() => {});
          offers.push({ incoming, file });
        });
      accept(b);
      const file = makeFile(32 * MiB, 'twice.bin');
      const first = a.sendFile(file, b.selfId);
      await within(30000, next(first, 'progress', (p) => p.bytes >= p.total * 0.25), '25 %');
      first.pause();
      if (leaver === 'receiver') {
        await b.leave();
        b = await join();
        accept(b);
      } else {
        await a.leave();
        a = await join();
      }
      const error = await within(10000, first.done.then(() => undefined, (err) => err), 'the first transfer ending');
      expect(error?.code).to.equal('CLOSED');
      // The receiver's side ends too, instead of waiting forever for a sender that is gone.
      const received = await within(10000, offers[0].file.then(() => undefined, (err) => err), "the first offer's accept() ending");
      expect(received?.code).to.equal('CLOSED');
      expect(offers[0].incoming.state).to.equal('failed');
      await meshOf([a, b]);
      const again = a.sendFile(file, b.selfId);
      await within(60000, again.done, 'the second transfer');
      const last = offers.at(-1);
      expect(offers.length).to.equal(2);
      expect(last.incoming.resumedFrom).to.be.at.least(file.size * 0.25);
      expect(await sameBytes(await last.file, file)).to.equal(true);
      console.log(`${leaver} left: resumed from ${last.incoming.resumedFrom} of ${file.size}`);
    });
  }

  it('a room transfer resumes on the Peer the Room rebuilds, without a second offer', async () => {
    const hub = new MemoryHub({ latencyMs: 2 });
    const name = roomName();
    for (let i = 0; i < 2; i++) rooms.push(await Room.join(name, { transport: new MemoryTransport(hub), iceServers: [] }));
    await meshOf(rooms);
    const [a, b] = rooms;
    let offers = 0;
    let accepted;
    b.on('transfer', (incoming, from) => {
      expect(from).to.equal(a.selfId);
      offers++;
      accepted = incoming.accept();
    });
    let rebuilds = 0;
    a.on('rebuild', () => rebuilds++);
    const left = [];
    a.on('leave', (id) => left.push(id));
    const file = makeFile(48 * MiB, 'big.bin');
    const t = a.sendFile(file, b.selfId);
    await within(30000, next(t, 'progress', (p) => p.bytes >= p.total * 0.3), '30 %');
    const before = t.state;
    a.peers.get(b.selfId).connection.close();
    await until('a rebuilt Peer', () => rebuilds > 0, 30000);
    await within(90000, t.done, 'done on the rebuilt Peer');
    expect(before).to.equal('sending');
    expect(offers).to.equal(1);
    expect(left).to.deep.equal([]);
    expect(await sameBytes(await accepted, file)).to.equal(true);
    // Only what the closed connection's buffers held goes twice: the receiver kept the start of
    // the block it had in part, so less than one block (1 MiB).
    expect(t.resentBytes).to.be.below(MiB);
    console.log(`room rebuild: ${t.resentBytes} bytes sent twice (blocks of 1 MiB)`);
  });
});
