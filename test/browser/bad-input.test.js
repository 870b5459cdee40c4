import { expect } from 'chai';
import { Peer, PeerKitError } from '../../dist/index.js';
import {closeAll, expectDelivery, next, pair, watchRejections, within } from './helpers.js';

const BAD_SIGNALS = {
  'text that is not JSON': '{"v":1,"kind":',
  'a JSON array': [1, 2, 3],
  'null': null,
  'a number': 7,
  'an unknown kind': { v: 1, kind: 'telepathy' },
  'another version': { v: 2, kind: 'bye' },
  'a description without SDP': { v: 1, kind: 'description', type: 'offer' },
  'a description of unknown type': { v: 1, kind: 'description', type: 'pranswer', sdp: 'v=0\r\n' },
  'a hello with a fractional tie-breaker': { v: 1, kind: 'hello', tb: 0.5 },
  'a candidate without sdpMid or index': { v: 1, kind: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host' } },
  'a candidate with a negative index': { v: 1, kind: 'candidate', candidate: { candidate: 'x', sdpMLineIndex: -1 } },
  'a huge string': 'x'.repeat(300000),
  'a huge SDP': { v: 1, kind: 'description', type: 'offer', sdp: 'v=0\r\n' + 'a=x\r\n'.repeat(60000) },
};

describe('bad input', () => {
  for (const [name, bad] of Object.entries(BAD_SIGNALS)) {
    it(`peer.signal() with ${name} emits BAD_SIGNAL and the Peer keeps working`, async () => {
      const rejections = watchRejections();
      const [a, b] = pair();
      await a.connected;
      const error = next(b, 'error');
      b.signal(bad);
      const err = await within(5000, error, 'the error event');
      expect(err).to.be.instanceOf(PeerKitError);
      expect(err.code).to.equal('BAD_SIGNAL');
      await expectDelivery(a, b, 'still working');
      await closeAll(a, b);
      rejections.stop();
      expect(rejections.seen).to.deep.equal([]);
    });
  }

  it('an offer whose SDP the browser rejects emits BAD_SIGNAL and the Peer keeps working', async () => {
    const [a, b] = pair();
    await a.connected;
    const error = next(b, 'error');
    b.signal({ v: 1, kind: 'description', type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nthis is not sdp\r\n' });
    expect((await within(5000, error, 'the error')).code).to.equal('BAD_SIGNAL');
    const ch = a.channel('after');
    const remote = await within(5000, next(b, 'channel'), 'a new channel');
    const got = next(remote, 'message');
    await ch.send('renegotiation and channels still work');
    expect(await got).to.equal('renegotiation and channels still work');
    await closeAll(a, b);
  });

  it('an unexpected answer emits BAD_SIGNAL and the Peer keeps working', async () => {
    const [a, b] = pair();
    await a.connected;
    const error = next(b, 'error');
    b.signal({ v: 1, kind: 'description', type: 'answer', sdp: a.connection.localDescription.sdp });
    expect((await within(5000, error, 'the error')).code).to.equal('BAD_SIGNAL');
    await expectDelivery(a, b, 'fine');
    await closeAll(a, b);
  });

  it('a candidate for an unknown m-line emits BAD_SIGNAL and the Peer keeps working', async () => {
    const [a, b] = pair();
    await a.connected;
    const error = next(b, 'error');
    b.signal({ v: 1, kind: 'candidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 198.18.7.1 50000 typ host', sdpMid: 'no-such-mid', sdpMLineIndex: 9 } });
    expect((await within(5000, error, 'the error')).code).to.equal('BAD_SIGNAL');
    await expectDelivery(a, b, 'fine');
    await closeAll(a, b);
  });

  it('send() with a value that has no JSON form rejects with BAD_ARGUMENT', async () => {
    const [a, b] = pair();
    await a.connected;
    for (const value of [undefined, () => 1, Symbol('s'), 10n]) {
      const err = await a.send(value).then(() => null, (e) => e);
      expect(err.code).to.equal('BAD_ARGUMENT');
    }
    const cyclic = {};
    cyclic.self = cyclic;
    expect((await a.send(cyclic).then(() => null, (e) => e)).code).to.equal('BAD_ARGUMENT');
    await closeAll(a, b);
  });

  it('a message larger than maxMessageBytes is refused with MESSAGE_TOO_LARGE on both sides', async () => {
    const [a, b] = pair({ channel: { maxMessageBytes: 1 << 20 } }, {});
    await a.connected;
    const err = await a.send(new Uint8Array((1 << 20) + 1)).then(() => null, (e) => e);
    expect(err.code).to.equal('MESSAGE_TOO_LARGE');
    const [small] = [new Peer({ channel: { maxMessageBytes: 1000 } })];
    small.close();
    const tooBig = next(a, 'error');
    const receiverLimited = new Promise((resolve) => a.once('error', resolve));
    await b.send(new Uint8Array(2 << 20));
    expect((await within(10000, tooBig, 'the receiver refusing')).code).to.equal('MESSAGE_TOO_LARGE');
    await receiverLimited;
    await expectDelivery(b, a, 'small is fine');
    await closeAll(a, b);
  });

  it('fire-and-forget calls that fail never surface as unhandled rejections', async () => {
    const rejections = watchRejections();
    const [a, b] = pair();
    await a.connected;
    await a.close();
    a.send('after close');
    a.getStats().catch(() => undefined);
    a.signal('garbage after close');
    const lone = new Peer();
    lone.send('never connected');
    lone.close();
    await new Promise((r) => setTimeout(r, 200));
    rejections.stop();
    expect(rejections.seen).to.deep.equal([]);
    await b.close();
  });
});
