// One conformance suite, run against every transport: what Room relies on, checked the same way
// for each. WebSocketTransport talks to the real signaling server the test runner starts.
import { expect } from 'chai';
import { PeerKitError } from '../../dist/index.js';
import { TRANSPORTS, next, roomName, within } from './helpers.js';

const freshRoom = () => roomName('conformance');

for (const [kind, factory] of Object.entries(TRANSPORTS)) {
  describe(`SignalingTransport conformance: ${kind}`, () => {
    let make;
    let open;
    beforeEach(() => {
      make = factory();
      open = [];
    });
    afterEach(() => Promise.all(open.map((t) => t.close())));
    const transport = () => {
      const t = make();
      open.push(t);
      return t;
    };

    it('join() gives an id, lists members already there with their hello, and tells them', async () => {
      const room = freshRoom();
      const a = transport();
      const b = transport();
      const states = [];
      a.on('state', (s) => states.push(s));
      const first = await a.join(room, { hello: { name: 'a' } });
      expect(first.selfId).to.be.a('string').and.not.empty;
      expect(first.members).to.deep.equal([]);
      expect(states).to.deep.equal(['connecting', 'joined']);
      expect(a.state).to.equal('joined');
      const arrival = next(a, 'member-joined');
      const second = await b.join(room, { hello: { name: 'b' } });
      expect(second.selfId).to.not.equal(first.selfId);
      expect(second.members).to.deep.equal([first.selfId]);
      expect(second.hellos?.[first.selfId]).to.deep.equal({ name: 'a' });
      const [id, hello] = await within(5000, arrival, 'member-joined');
      expect(id).to.equal(second.selfId);
      expect(hello).to.deep.equal({ name: 'b' });
    });

    it('send() carries JSON payloads between two members, in order, as copies (60: under the server’s default burst)', async () => {
      const room = freshRoom();
      const a = transport();
      const b = transport();
      const { selfId: aId } = await a.join(room);
      const joinedB = next(a, 'member-joined');
      const { selfId: bId } = await b.join(room);
      await joinedB;
      const received = [];
      const all = new Promise((resolve) =>
        b.on('message', (from, payload) => {
          received.push([from, payload]);
          if (received.length === 60) resolve();
        }),
      );
      const payload = { kind: 'x', nested: [1, 'two', { three: null }] };
      for (let i = 0; i < 60; i++) a.send(bId, { ...payload, i });
      await within(10000, all, '60 payloads');
      expect(received.map(([, p]) => p.i)).to.deep.equal([...Array(60).keys()]);
      expect(received.every(([from]) => from === aId)).to.equal(true);
      expect(received[0][1].nested).to.deep.equal(payload.nested);
      expect(received[0][1].nested).to.not.equal(payload.nested);
    });

    it('a member that closes is reported as left', async () => {
      const room = freshRoom();
      const a = transport();
      const b = transport();
      await a.join(room);
      const { selfId: bId } = await b.join(room);
      const left = next(a, 'member-left');
      await b.close();
      expect(await within(6000, left, 'member-left')).to.equal(bId);
      expect(b.state).to.equal('closed');
    });

    it('misuse is refused with typed errors', async () => {
      const a = transport();
      const bad = await a.join('').catch((e) => e);
      expect(bad).to.be.instanceOf(PeerKitError);
      expect(bad.code).to.equal('BAD_ARGUMENT');
      await a.join(freshRoom());
      const twice = await a.join(freshRoom()).catch((e) => e);
      expect(twice.code).to.equal('BAD_ARGUMENT');
      expect(() => a.send('', { x: 1 })).to.throw(PeerKitError).with.property('code', 'BAD_ARGUMENT');
      expect(() => a.send('someone', undefined)).to.throw(PeerKitError).with.property('code', 'BAD_ARGUMENT');
      await a.close();
      await a.close();
      expect(() => a.send('someone', { x: 1 })).to.throw(PeerKitError).with.property('code', 'CLOSED');
      const after = await a.join(freshRoom()).catch((e) => e);
      expect(after.code).to.equal('CLOSED');
    });
  });
}
