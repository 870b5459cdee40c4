import { expect } from 'chai';
import { closeAll, expectDelivery, next, opened, pair, sha256, within } from './helpers.js';

describe('Channel', () => {
  it('a 64 MiB binary message arrives byte-identical (SHA-256), with progress on both sides', async () => {
    const [a, b] = pair();
    await a.connected;
    const size = 64 * 2 ** 20;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    const expected = await sha256(data);
    const files = a.channel('files', { ordered: true });
    const [remote] = await Promise.all([next(b, 'channel')]);
    expect(remote.label).to.equal('files');
    let sent = 0;
    let received = 0;
    let maxBuffered = 0;
    files.on('progress', (p) => {
      sent = p.bytes;
      maxBuffered = Math.max(maxBuffered, files.bufferedAmount);
    });
    remote.on('progress', (p) => (received = p.bytes));
    const arrived = next(remote, 'message');
    await within(120000, files.send(data), 'sending');
    const got = await within(120000, arrived, 'receiving');
    expect(got).to.be.instanceOf(Uint8Array);
    expect(got.byteLength).to.equal(size);
    expect(await sha256(got)).to.equal(expected);
    expect(sent).to.equal(size);
    expect(received).to.equal(size);
    // Backpressure: the browser's buffer never grows past the adaptive high-water mark's 4 MiB
    // cap by more than one 256 KiB chunk.
    expect(maxBuffered).to.be.at.most(4 * 2 ** 20 + 256 * 1024);
    await closeAll(a, b);
  });

  it('10,000 small messages arrive in order', async () => {
    const [a, b] = pair();
    await a.connected;
    const got = [];
    const all = new Promise((resolve) => b.on('data', (d) => got.push(d) === 10000 && resolve()));
    for (let i = 0; i < 10000; i++) a.send(i % 2 ? `m${i}` : { i });
    await within(60000, all, 'receiving');
    for (let i = 0; i < 10000; i++) expect(got[i]).to.deep.equal(i % 2 ? `m${i}` : { i });
    await closeAll(a, b);
  });

  it('awaiting send() in a loop keeps the browser buffer under the high-water mark', async () => {
    const [a, b] = pair();
    await a.connected;
    const highWaterMark = 256 * 1024;
    const bulk = a.channel('bulk', { highWaterMark, lowWaterMark: 64 * 1024 });
    const remote = await next(b, 'channel');
    let bytes = 0;
    const done = new Promise((resolve) => remote.on('message', (d) => (bytes += d.byteLength) === 32 * 2 ** 20 && resolve()));
    let maxBuffered = 0;
    const chunk = new Uint8Array(2 ** 20);
    for (let i = 0; i < 32; i++) {
      await bulk.send(chunk);
      maxBuffered = Math.max(maxBuffered, bulk.bufferedAmount);
    }
    await within(60000, done, 'receiving');
    expect(bytes).to.equal(32 * 2 ** 20);
    // At most one chunk (256 KiB at the very most) goes out above the mark.
    expect(maxBuffered).to.be.at.most(highWaterMark + 256 * 1024);
    await closeAll(a, b);
  });

  it('channel options out of range are refused with BAD_ARGUMENT, and the Peer keeps working', async () => {
    const [a, b] = pair();
    await a.connected;
    const bad = [{ highWaterMark: 0 }, { highWaterMark: -1 }, { lowWaterMark: -1 }, { highWaterMark: 1000, lowWaterMark: 2000 }, { maxMessageBytes: 1.5 }, { closeTimeoutMs: NaN }];
    for (const options of bad) {
      const err = (() => {
        try {
          a.channel('bad', options);
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(err?.code, JSON.stringify(options)).to.equal('BAD_ARGUMENT');
    }
    await expectDelivery(a, b, 'after bad options');
    await closeAll(a, b);
  });

  it('unordered and unreliable options reach the browser channel', async () => {
    const [a, b] = pair();
    await a.connected;
    const lossy = a.channel('lossy', { ordered: false, maxRetransmits: 0 });
    const remote = await next(b, 'channel');
    await opened(lossy);
    const got = next(remote, 'message');
    await lossy.send('one datagram');
    expect(await within(5000, got, 'receiving')).to.equal('one datagram');
    const err = await lossy.send(new Uint8Array(1 << 20)).then(() => null, (e) => e);
    expect(err.code).to.equal('MESSAGE_TOO_LARGE');
    await closeAll(a, b);
  });

  it('a raw channel talks to a plain RTCDataChannel on the other side', async () => {
    const [a, b] = pair();
    await a.connected;
    const raw = a.channel('raw', { raw: true, protocol: 'chat' });
    const remote = await next(b, 'channel');
    expect(remote.raw).to.equal(true);
    // The far side is a peerkit raw channel, which hands out exactly what a plain
    // RTCDataChannel would: strings and ArrayBuffers, no framing.
    const got = [];
    const two = new Promise((resolve) => remote.on('message', (m) => got.push(m) === 3 && resolve()));
    await raw.send('plain text');
    await raw.send(new Uint8Array([9, 8, 7]));
    await raw.send({ as: 'json text' });
    await within(5000, two, 'receiving');
    expect(got[0]).to.equal('plain text');
    expect([...new Uint8Array(got[1])]).to.deep.equal([9, 8, 7]);
    expect(got[2]).to.equal('{"as":"json text"}');
    await closeAll(a, b);
  });

  it('a framed channel reports a plain string from a non-peerkit sender as BAD_MESSAGE and keeps working', async () => {
    const [a, b] = pair();
    await a.connected;
    const plain = a.connection.createDataChannel('plain', { negotiated: true, id: 40 });
    const framed = b.channel('plain', { id: 40 });
    await next(framed, 'open');
    const err = next(framed, 'error');
    plain.send('not a frame');
    expect((await within(5000, err, 'the error')).code).to.equal('BAD_MESSAGE');
    await expectDelivery(a, b, 'default channel unaffected');
    await closeAll(a, b);
  });

  it('channel.close() delivers what was sent, then the remote channel closes (20 channels, closed as they open)', async () => {
    // Closing by stream reset alone lost every message about one time in fifteen in Chromium
    // when the close followed the sends by a few ms; the close handshake must not.
    const [a, b] = pair();
    await a.connected;
    for (let round = 0; round < 20; round++) {
      const ch = a.channel(`short-${round}`);
      const remote = await next(b, 'channel');
      const got = [];
      remote.on('message', (m) => got.push(m));
      const closed = next(remote, 'close');
      for (let i = 0; i < 50; i++) ch.send(i);
      await ch.close();
      await within(5000, closed, 'remote close');
      expect(got, `round ${round}`).to.deep.equal([...Array(50).keys()]);
      const err = await ch.send('late').then(() => null, (e) => e);
      expect(err.code).to.equal('CLOSED');
    }
    expect(a.state).to.equal('connected');
    await closeAll(a, b);
  });
});
