import { expect } from 'chai';
import { Peer, PeerKitError } from '../../dist/index.js';
import {closeAll, expectDelivery, latePair, next, pair, within } from './helpers.js';

describe('Peer', () => {
  it('two Peers connect and exchange a string both ways', async () => {
    const [a, b] = pair();
    const toB = next(b, 'data');
    const toA = next(a, 'data');
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
    expect(a.state).to.equal('connected');
    await a.send('hello');
    await b.send('hi back');
    expect(await toB).to.equal('hello');
    expect(await toA).to.equal('hi back');
    await closeAll(a, b);
  });

  it('every kind of message arrives as the kind it was sent', async () => {
    const [a, b] = pair();
    const got = [];
    const all = new Promise((resolve) => b.on('data', (d) => got.push(d) === 6 && resolve()));
    await a.connected;
    a.send('text');
    a.send({ json: [1, 'two', null] });
    a.send(new Uint8Array([1, 2, 3]).buffer);
    a.send(new Uint16Array([65535, 1]));
    a.send(new Blob(['blob body']));
    a.send(42);
    await within(10000, all, 'receiving');
    expect(got[0]).to.equal('text');
    expect(got[1]).to.deep.equal({ json: [1, 'two', null] });
    expect(got[2]).to.be.instanceOf(ArrayBuffer);
    expect([...new Uint8Array(got[2])]).to.deep.equal([1, 2, 3]);
    expect(got[3]).to.be.instanceOf(Uint8Array);
    expect([...new Uint16Array(got[3].slice().buffer)]).to.deep.equal([65535, 1]);
    expect(got[4]).to.be.instanceOf(Blob);
    expect(await got[4].text()).to.equal('blob body');
    expect(got[5]).to.equal(42);
    await closeAll(a, b);
  });

  it('signals that arrive late and as JSON text still connect', async () => {
    const [a, b] = latePair(20);
    await within(15000, Promise.all([a.connected, b.connected]), 'connecting');
    await expectDelivery(a, b, 'late but fine');
    await closeAll(a, b);
  });

  it('exactly one side is polite when no role was given', async () => {
    const [a, b] = pair();
    await a.connected;
    expect(a.polite).to.be.a('boolean');
    expect(a.polite).to.equal(!b.polite);
    await closeAll(a, b);
  });

  it('connect fires once and the state goes new, connecting, connected', async () => {
    const [a, b] = pair();
    const states = [];
    let connects = 0;
    a.on('state', (s) => states.push(s));
    a.on('connect', () => connects++);
    await a.connected;
    expect(connects).to.equal(1);
    expect(states).to.deep.equal(['connecting', 'connected']);
    await closeAll(a, b);
    expect(states.at(-1)).to.equal('closed');
  });

  for (const side of ['a', 'b']) {
    it(`close() on ${side} ends the other side too, each emitting close once`, async () => {
      const [a, b] = pair();
      await Promise.all([a.connected, b.connected]);
      const closes = { a: 0, b: 0 };
      a.on('close', () => closes.a++);
      b.on('close', () => closes.b++);
      const closer = side === 'a' ? a : b;
      const other = side === 'a' ? b : a;
      const otherClosed = next(other, 'close');
      await closer.close();
      await closer.close();
      await within(5000, otherClosed, 'the other side closing');
      expect(closes).to.deep.equal({ a: 1, b: 1 });
      expect(a.state).to.equal('closed');
      expect(b.state).to.equal('closed');
    });
  }

  it('the remote sees close even when the bye signal is lost', async () => {
    const a = new Peer();
    const b = new Peer();
    a.on('signal', (m) => m.kind !== 'bye' && b.signal(m));
    b.on('signal', (m) => a.signal(m));
    await Promise.all([a.connected, b.connected]);
    const closed = next(b, 'close');
    await a.close();
    await within(10000, closed, 'b closing through its data channel');
  });

  it('messages sent just before close() all arrive', async () => {
    const [a, b] = pair();
    await a.connected;
    const got = [];
    const closed = next(b, 'close');
    b.on('data', (d) => got.push(d));
    for (let i = 0; i < 200; i++) a.send(`m${i}`);
    a.send(new Uint8Array(3 << 20));
    await a.close();
    await within(10000, closed, 'b closing');
    expect(got.length).to.equal(201);
    expect(got[199]).to.equal('m199');
    expect(got[200].byteLength).to.equal(3 << 20);
  });

  it('calls after close() fail with CLOSED', async () => {
    const [a, b] = pair();
    await a.connected;
    await a.close();
    const code = (fn) => {
      try {
        fn();
      } catch (err) {
        return err instanceof PeerKitError && err.code;
      }
      return 'did not throw';
    };
    for (const promise of [a.send('x'), a.getStats(), a.restartIce()]) {
      const err = await promise.then(() => null, (e) => e);
      expect(err).to.be.instanceOf(PeerKitError);
      expect(err.code).to.equal('CLOSED');
    }
    expect(code(() => a.channel('late'))).to.equal('CLOSED');
    expect(code(() => a.addTrack({ id: 'x' }))).to.equal('CLOSED');
    a.signal({ v: 1, kind: 'bye' });
    await b.close();
  });

  it('a Peer closed before connecting rejects connected with CLOSED', async () => {
    const a = new Peer();
    a.close();
    const err = await a.connected.then(() => null, (e) => e);
    expect(err.code).to.equal('CLOSED');
  });

  it('getStats() reports a direct path, bytes and round-trip time', async () => {
    const [a, b] = pair();
    await a.connected;
    await a.getStats();
    await a.send(new Uint8Array(1 << 20));
    await new Promise((r) => setTimeout(r, 300));
    const stats = await a.getStats();
    expect(stats.path).to.equal('direct');
    expect(stats.bytesSent).to.be.greaterThan(1 << 20);
    expect(stats.sendBitrate).to.be.greaterThan(0);
    expect(stats.local.type).to.be.a('string');
    expect(stats.rtt === null || stats.rtt >= 0).to.equal(true);
    await closeAll(a, b);
  });
});
