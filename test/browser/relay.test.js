// Relay-only mode must fail with a clear code when it cannot relay, never hang in `new`.
import { expect } from 'chai';
import { Peer } from '../../dist/index.js';
import { within } from './helpers.js';

async function failure(options) {
  const a = new Peer(options);
  const b = new Peer(options);
  a.on('signal', (m) => b.signal(m));
  b.on('signal', (m) => a.signal(m));
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    const rejected = await within(30000, a.connected.then(() => null, (e) => e), 'relay-only failure');
    return { rejected, errors, state: a.state };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

describe('Relay-only mode', () => {
  it('without a TURN server fails with ICE_FAILED saying so', async () => {
    const { rejected, errors, state } = await failure({ iceTransportPolicy: 'relay' });
    expect(rejected.code).to.equal('ICE_FAILED');
    expect(rejected.message).to.match(/no TURN server is configured/);
    expect(errors.map((e) => e.code)).to.deep.equal(['ICE_FAILED']);
    expect(state).to.equal('closed');
  });

  it('with a TURN server that does not answer fails with ICE_FAILED naming it', async () => {
    // Nothing listens on this loopback port: the TCP connection to the TURN server is refused.
    const { rejected } = await failure({
      iceTransportPolicy: 'relay',
      iceServers: [{ urls: 'turn:127.0.0.1:3479?transport=tcp', username: 'u', credential: 'p' }],
    });
    expect(rejected.code).to.equal('ICE_FAILED');
    expect(rejected.message).to.match(/no TURN server answered|no TURN server is configured/);
  });
});
