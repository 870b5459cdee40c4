import { expect } from 'chai';
import { closeAll, expectDelivery, latePair, next, opened, pair, within } from './helpers.js';

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
});
