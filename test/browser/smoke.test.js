import { expect } from 'chai';

/** Loads the CDN file the way a user's page does: one classic <script> tag. */
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

describe('CDN build', () => {
  it('the minified file defines a global PeerKit whose Peers connect', async () => {
    await loadScript('/dist/peerkit.min.js');
    const { Peer, PeerKitError, adapter } = window.PeerKit;
    expect(PeerKitError).to.be.a('function');
    expect(adapter.browserDetails.browser).to.be.a('string');
    const a = new Peer();
    const b = new Peer();
    a.on('signal', (m) => b.signal(m));
    b.on('signal', (m) => a.signal(m));
    const got = new Promise((resolve) => b.once('data', resolve));
    await a.connected;
    await a.send({ from: 'cdn' });
    expect(await got).to.deep.equal({ from: 'cdn' });
    await a.close();
  });
});
