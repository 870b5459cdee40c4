// Relay-only mode must fail with a clear code when it cannot relay, never hang in `new`.
import { expect } from 'chai';
import { Peer, Room, WebSocketTransport } from '../../dist/index.js';
import { TURN_MISSING, TURN_SECRET, TURN_SIGNAL_URL } from '/__peerkit/env.js';
import { next, within } from './helpers.js';

/** A relay-only Peer with `options`, facing an ordinary one, so the failure is its own. */
async function failure(options) {
  const a = new Peer(options);
  const b = new Peer();
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

/** The TURN entry a member gets from the signaling server, as coturn's REST scheme wants it. */
async function handedOut() {
  const transport = new WebSocketTransport(TURN_SIGNAL_URL);
  try {
    const { iceServers } = await transport.join(`creds-${Math.random()}`);
    return iceServers.find((server) => String(server.urls).startsWith('turn'));
  } finally {
    await transport.close();
  }
}

/** coturn's use-auth-secret credential: base64 of HMAC-SHA-1 over the username. */
async function sign(username, secret) {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(username)));
  return btoa(String.fromCharCode(...mac));
}

describe('Relay-only mode through a real coturn', function () {
  before(function () {
    if (TURN_SIGNAL_URL === null) this.skip(TURN_MISSING);
  });

  it('a relay-only Room connects through coturn with the credentials the server hands out, and getStats() says relay', async () => {
    const name = `relay-${Math.random().toString(36).slice(2)}`;
    const join = () => Room.join(name, { transport: new WebSocketTransport(TURN_SIGNAL_URL), iceTransportPolicy: 'relay' });
    const a = await join();
    const member = next(a, 'member');
    const b = await join();
    try {
      const [peer] = await within(20000, member, 'the member');
      await within(20000, peer.connected, 'connecting through the relay');
      const got = next(b, 'data');
      await a.send('through the relay');
      expect(await within(20000, got, 'relayed data')).to.deep.equal(['through the relay', a.selfId]);
      const stats = await a.peers.get(b.selfId).getStats();
      expect(stats.path).to.equal('relay');
      expect(stats.local?.type).to.equal('relay');
      expect(stats.remote?.type).to.equal('relay');
    } finally {
      await Promise.all([a.leave(), b.leave()]);
    }
  });

  it('credentials signed with another secret fail with TURN_UNAUTHORIZED', async () => {
    const turn = await handedOut();
    const { rejected } = await failure({ iceTransportPolicy: 'relay', iceServers: [{ ...turn, credential: await sign(turn.username, 'not the secret') }] });
    expect(rejected.code).to.equal('TURN_UNAUTHORIZED');
    expect(rejected.message).to.match(/refused the credentials/);
  });

  it('expired credentials fail with TURN_UNAUTHORIZED', async () => {
    const turn = await handedOut();
    const username = `${Math.floor(Date.now() / 1000) - 60}:expired`;
    const { rejected } = await failure({ iceTransportPolicy: 'relay', iceServers: [{ urls: turn.urls, username, credential: await sign(username, TURN_SECRET) }] });
    expect(rejected.code).to.equal('TURN_UNAUTHORIZED');
  });
});
