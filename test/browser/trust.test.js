// Using peerkit without trusting the signaling path: encrypted signaling, admission, and short
// authentication strings that expose a server sitting in the middle.
import { expect } from 'chai';
import { EventEmitter } from 'eventemitter3';
import { MemoryHub, MemoryTransport, Peer, PeerKitError, Room } from '../../dist/index.js';
import { TRANSPORTS, next, roomName as freshName, until, watchRejections, within } from './helpers.js';

const roomName = () => freshName('trust');
const connectedTo = (room, count) => room.peers.size === count && [...room.peers.values()].every((p) => p.state === 'connected');

/**
 * A transport in the middle, as a signaling server would be: it sees every hello and payload
 * (recorded in `seen`), and may rewrite what it forwards to this member.
 */
class Middle extends EventEmitter {
  constructor(inner, rewrite = (payload) => [payload]) {
    super();
    this.inner = inner;
    this.seen = [];
    for (const event of ['state', 'joined', 'member-left', 'error']) inner.on(event, (...args) => this.emit(event, ...args));
    inner.on('member-joined', (id, hello) => {
      this.seen.push(hello);
      this.emit('member-joined', id, hello);
    });
    inner.on('message', (from, payload) => {
      this.seen.push(payload);
      for (const out of rewrite(payload)) this.emit('message', from, out);
    });
  }
  get state() {
    return this.inner.state;
  }
  async join(room, options) {
    this.seen.push(options?.hello);
    const result = await this.inner.join(room, options);
    this.seen.push(result.hellos);
    return result;
  }
  send(to, payload) {
    this.seen.push(payload);
    this.inner.send(to, payload);
  }
  close() {
    return this.inner.close();
  }
}

describe('Encrypted signaling', () => {
  let rooms = [];
  afterEach(() => Promise.all(rooms.map((room) => room.leave())).then(() => (rooms = [])));
  const join = async (name, options) => {
    const room = await Room.join(name, options);
    rooms.push(room);
    return room;
  };

  for (const [kind, factory] of Object.entries(TRANSPORTS)) {
    it(`over ${kind}: members with the secret connect, and the transport sees no SDP, candidate or hello`, async () => {
      const make = factory();
      const name = roomName();
      const spies = [new Middle(make()), new Middle(make())];
      const a = await join(name, { transport: spies[0], secret: 'correct horse battery staple', hello: { name: 'Ada Lovelace' } });
      const b = await join(name, { transport: spies[1], secret: 'correct horse battery staple', hello: { name: 'Bob Babbage' } });
      await until('connected', () => connectedTo(a, 1) && connectedTo(b, 1));
      expect(a.helloOf(b.selfId)).to.deep.equal({ name: 'Bob Babbage' });
      expect(b.helloOf(a.selfId)).to.deep.equal({ name: 'Ada Lovelace' });
      const got = next(b, 'data');
      await a.send('sealed path, open channel');
      expect(await within(5000, got, 'data')).to.deep.equal(['sealed path, open channel', a.selfId]);
      const wire = JSON.stringify(spies.flatMap((spy) => spy.seen));
      expect(wire.length).to.be.greaterThan(1000);
      // Needles that base64 ciphertext cannot spell by chance: three letters such as "Ada" turn
      // up in about one run in twenty-five of these few kilobytes.
      for (const secret of ['v=0', 'a=fingerprint', 'candidate', 'description', 'Lovelace', 'Babbage', 'correct horse', 'typ host']) {
        expect(wire, `the transport saw "${secret}"`).to.not.include(secret);
      }
    });
  }

  it('a member with the wrong secret is refused with UNAUTHORIZED, never connects, and the others carry on', async () => {
    const hub = new MemoryHub();
    const name = roomName();
    const rejections = watchRejections();
    const a = await join(name, { transport: new MemoryTransport(hub), secret: 's3cret' });
    const b = await join(name, { transport: new MemoryTransport(hub), secret: 's3cret' });
    await until('a and b connected', () => connectedTo(a, 1) && connectedTo(b, 1));
    const peerAB = a.peers.get(b.selfId);
    const intruder = await Room.join(name, { transport: new MemoryTransport(hub), secret: 'guess' }).catch((e) => e);
    expect(intruder).to.be.instanceOf(PeerKitError);
    expect(intruder.code).to.equal('UNAUTHORIZED');
    expect(intruder.message).to.match(/secret/);
    expect(a.peers.get(b.selfId)).to.equal(peerAB);
    const got = next(a, 'data');
    await b.send('undisturbed');
    expect((await within(5000, got, 'data'))[0]).to.equal('undisturbed');
    rejections.stop();
    expect(rejections.seen).to.deep.equal([]);
  });

  it('a transport that alters sealed signals gets them refused; one that replays them gets the copies refused', async () => {
    const hub = new MemoryHub();
    const flip = (payload) => {
      const bytes = atob(payload.e);
      return [{ ...payload, e: btoa(String.fromCharCode(bytes.charCodeAt(0) ^ 1) + bytes.slice(1)) }];
    };
    const name = roomName();
    const a = await join(name, { transport: new Middle(new MemoryTransport(hub), flip), secret: 'k' });
    const b = await join(name, { transport: new MemoryTransport(hub), secret: 'k' });
    const refused = next(a, 'error');
    const [error, from] = await within(10000, refused, 'refusal');
    expect(error.code).to.equal('UNAUTHORIZED');
    expect(from).to.equal(b.selfId);
    expect(a.peers.get(b.selfId).state).to.not.equal('connected');

    const name2 = roomName();
    const c = await join(name2, { transport: new Middle(new MemoryTransport(hub), (p) => [p, p]), secret: 'k' });
    const d = await join(name2, { transport: new MemoryTransport(hub), secret: 'k' });
    const replays = [];
    c.on('error', (e) => replays.push(e.code));
    await until('connected despite the replays', () => connectedTo(c, 1) && connectedTo(d, 1));
    await until('replays refused', () => replays.length > 0);
    expect(new Set(replays)).to.deep.equal(new Set(['UNAUTHORIZED']));
  });

  it('a member without the secret is told the room is encrypted', async () => {
    const hub = new MemoryHub();
    const name = roomName();
    await join(name, { transport: new MemoryTransport(hub), secret: 'k' });
    const plain = await Room.join(name, { transport: new MemoryTransport(hub) }).then((room) => (rooms.push(room), room));
    const [error] = await within(5000, next(plain, 'error'), 'refusal');
    expect(error.code).to.equal('UNAUTHORIZED');
    expect(error.message).to.match(/encrypted signaling/);
    expect(plain.peers.size).to.equal(0);
  });
});

describe('Admission', () => {
  it('admit() sees each hello before any connection, and a refused member is never connected', async () => {
    const hub = new MemoryHub();
    const name = roomName();
    const asked = [];
    let gate;
    const gatekeeper = await Room.join(name, {
      transport: new MemoryTransport(hub),
      admit: async (id, hello) => {
        asked.push([hello, gate.peers.has(id)]);
        return hello?.name !== 'Mallory';
      },
    });
    gate = gatekeeper;
    const bob = await Room.join(name, { transport: new MemoryTransport(hub), hello: { name: 'Bob' } });
    const mallory = await Room.join(name, { transport: new MemoryTransport(hub), hello: { name: 'Mallory' } });
    try {
      await until('bob and mallory connected to each other, and bob to the gatekeeper', () => connectedTo(bob, 2));
      expect(asked).to.deep.equal([
        [{ name: 'Bob' }, false],
        [{ name: 'Mallory' }, false],
      ]);
      expect([...gatekeeper.peers.keys()]).to.deep.equal([bob.selfId]);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(mallory.peers.get(gatekeeper.selfId).state).to.not.equal('connected');
      expect([...gatekeeper.peers.keys()]).to.deep.equal([bob.selfId]);
    } finally {
      await Promise.all([gatekeeper.leave(), bob.leave(), mallory.leave()]);
    }
  });
});

describe('Verification', () => {
  it('both ends of a direct connection show the same short authentication string', async () => {
    const a = new Peer();
    const b = new Peer();
    a.on('signal', (m) => b.signal(m));
    b.on('signal', (m) => a.signal(m));
    try {
      const [va, vb] = await within(10000, Promise.all([a.getVerification(), b.getVerification()]), 'verification');
      expect(va.sas).to.match(/^\d{6}$/);
      expect(va.sas).to.equal(vb.sas);
      expect(va.local).to.equal(vb.remote);
      expect(va.remote).to.equal(vb.local);
      expect(va.local).to.match(/^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const closed = await a.getVerification().catch((e) => e);
    expect(closed.code).to.equal('CLOSED');
  });

  it('a signaling server in the middle, bridging two Peers of its own, shows as different strings', async () => {
    // The attacker answers each side with a Peer of its own and relays the data between them:
    // both sides connect and talk, but each verified the attacker's certificate, not the other's.
    const alice = new Peer();
    const bob = new Peer();
    const towardAlice = new Peer();
    const towardBob = new Peer();
    const wire = (x, y) => {
      x.on('signal', (m) => y.signal(m));
      y.on('signal', (m) => x.signal(m));
    };
    wire(alice, towardAlice);
    wire(bob, towardBob);
    towardAlice.on('data', (d) => towardBob.send(d));
    towardBob.on('data', (d) => towardAlice.send(d));
    try {
      const got = next(bob, 'data');
      await alice.send('hi bob');
      expect(await within(10000, got, 'relayed data')).to.equal('hi bob');
      const [va, vb] = await Promise.all([alice.getVerification(), bob.getVerification()]);
      expect(va.sas).to.not.equal(vb.sas);
      expect(va.remote).to.not.equal(vb.local);
    } finally {
      await Promise.all([alice, bob, towardAlice, towardBob].map((p) => p.close()));
    }
  });
});
