import { expect } from 'chai';
import { Peer } from '../../dist/index.js';
import { closeAll, expectDelivery, latePair, next, opened, pair, until, within } from './helpers.js';

const ufragOf = (description) => /a=ice-ufrag:(\S+)/.exec(description?.sdp ?? '')?.[1];

/**
 * Two Peers back to back where, once `restart()` is called, `a` restarts ICE and the test reorders
 * what `b` sends back: its new candidates all `before` its answer, or all `after` it. `a`'s own
 * new candidates are dropped, so the new path can only be found from `b`'s candidates: a Peer that
 * loses them cannot reconnect (`b` learns `a`'s address from `a`'s checks).
 */
function reorderedPair(order) {
  const a = new Peer({ iceRestartTimeoutMs: 10000 });
  const b = new Peer();
  let restarting = false;
  let answered = false;
  const held = [];
  a.on('signal', (m) => (restarting && m.kind === 'candidate' ? undefined : b.signal(m)));
  b.on('signal', (m) => {
    if (!restarting) return a.signal(m);
    if (m.kind === 'description' && order === 'before') return setTimeout(() => a.signal(m), 500);
    if (m.kind === 'candidate' && order === 'after' && !answered) return held.push(m);
    a.signal(m);
    if (m.kind !== 'description') return;
    answered = true;
    setTimeout(() => held.splice(0).forEach((c) => a.signal(c)), 300);
  });
  const restart = () => {
    restarting = true;
    return a.restartIce();
  };
  return { a, b, restart };
}

describe('ICE restart', () => {
  it('restartIce() changes the ICE credentials, keeps the channels open and data flowing', async () => {
    const [a, b] = pair();
    await a.connected;
    const files = a.channel('files');
    const remote = await next(b, 'channel');
    await opened(files);
    const ufrag = (pc) => /a=ice-ufrag:(\S+)/.exec(pc.localDescription.sdp)[1];
    const before = ufrag(a.connection);
    const received = [];
    remote.on('message', (m) => received.push(m));
    await within(15000, a.restartIce(), 'the restart');
    expect(ufrag(a.connection)).to.not.equal(before);
    expect(files.state).to.equal('open');
    await expectDelivery(a, b, 'after the restart');
    await files.send('named channel too');
    await within(5000, new Promise((resolve) => {
      const poll = () => (received.includes('named channel too') ? resolve() : setTimeout(poll, 20));
      poll();
    }), 'the named channel');
    expect(a.state).to.equal('connected');
    await closeAll(a, b);
  });

  it('both sides restarting at once converge', async () => {
    const [a, b] = latePair(10);
    await Promise.all([a.connected, b.connected]);
    await within(20000, Promise.all([a.restartIce(), b.restartIce()]), 'both restarts');
    await expectDelivery(b, a, 'converged');
    await closeAll(a, b);
  });

  it('a restart that cannot complete rejects with TIMEOUT and the Peer stays usable', async () => {
    const [a, b] = pair({ iceRestartTimeoutMs: 1500 });
    await a.connected;
    // Cut the signaling: the restart offer never reaches b.
    a.removeAllListeners('signal');
    const err = await a.restartIce().then(() => null, (e) => e);
    expect(err.code).to.equal('TIMEOUT');
    await expectDelivery(a, b, 'the old path still works');
    await closeAll(a, b);
  });

  for (const order of ['before', 'after']) {
    it(`the remote's restart candidates are kept when they arrive ${order} its answer`, async () => {
      const { a, b, restart } = reorderedPair(order);
      let gathered = false;
      try {
        await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
        const errors = [];
        a.on('error', (e) => errors.push(e));
        const old = ufragOf(a.connection.remoteDescription);
        await within(15000, restart(), 'the restart');
        expect(ufragOf(a.connection.remoteDescription)).to.not.equal(old);
        // Chromium keeps using the old path meanwhile, so the restart may resolve before they arrive.
        await until("b's new candidates are part of a's remote description", () => gathered || (gathered = /^a=candidate:/m.test(a.connection.remoteDescription.sdp)), 5000);
        await expectDelivery(a, b, 'after the reordered restart');
        await expectDelivery(b, a, 'and back');
        expect(errors.map((e) => e.code)).to.deep.equal([]);
      } finally {
        gathered = true;
        await closeAll(a, b);
      }
    });
  }
});

describe('Network changes', () => {
  it('offline makes a connected Peer reconnecting at once; it is connected again once the remote is heard', async () => {
    const network = new EventTarget();
    const [a, b] = pair({ network: { window: network } });
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
    const reconnecting = next(a, 'reconnecting');
    network.dispatchEvent(new Event('offline'));
    expect(a.state, 'at once, in the same turn').to.equal('reconnecting');
    await reconnecting;
    await within(5000, next(a, 'reconnect'), 'hearing the remote again');
    await expectDelivery(a, b, 'after offline');
    await closeAll(a, b);
  });

  it('online restarts ICE at once on every connected Peer of the page', async () => {
    const [a, b] = pair();
    const [c, d] = pair();
    await within(10000, Promise.all([a.connected, b.connected, c.connected, d.connected]), 'connecting');
    const before = [a, c].map((p) => ufragOf(p.connection.localDescription));
    window.dispatchEvent(new Event('online'));
    await until('both Peers restarted ICE', () => [a, c].every((p, i) => ufragOf(p.connection.localDescription) !== before[i]), 5000);
    await until('both connected again', () => [a, b, c, d].every((p) => p.state === 'connected'), 10000);
    await expectDelivery(a, b, 'after online');
    await expectDelivery(c, d, 'after online too');
    await closeAll(a, b, c, d);
  });

  it('a change of navigator.connection restarts ICE; a closed Peer no longer listens', async () => {
    const connection = new EventTarget();
    const [a, b] = pair({ network: { connection } }, {});
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
    const before = ufragOf(a.connection.localDescription);
    connection.dispatchEvent(new Event('change'));
    await until('a restarted ICE', () => ufragOf(a.connection.localDescription) !== before, 5000);
    await expectDelivery(a, b, 'after the change');
    await closeAll(a, b);
    const offers = [];
    a.on('signal', (m) => offers.push(m));
    connection.dispatchEvent(new Event('change'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(offers).to.deep.equal([]);
  });
});
