import assert from 'node:assert/strict';
import { test } from 'node:test';
import wrtc from '@roamhq/wrtc';
import { Peer, PeerKitError } from '../../dist/index.js';

const pair = (options = {}) => {
  const a = new Peer({ wrtc, ...options });
  const b = new Peer({ wrtc, ...options });
  a.on('signal', (m) => b.signal(m));
  b.on('signal', (m) => a.signal(JSON.stringify(m)));
  return [a, b];
};

test('two Peers on @roamhq/wrtc connect and exchange data in Node', async () => {
  const [a, b] = pair();
  const got = new Promise((resolve) => b.once('data', resolve));
  await Promise.all([a.connected, b.connected]);
  await a.send({ hello: 'node' });
  assert.deepEqual(await got, { hello: 'node' });
  const bytes = new Uint8Array(1 << 20).map((_, i) => i % 251);
  const big = new Promise((resolve) => b.once('data', resolve));
  await a.send(bytes);
  assert.deepEqual(await big, bytes);
  const closed = new Promise((resolve) => b.once('close', resolve));
  await a.close();
  await closed;
  await assert.rejects(a.send('late'), (err) => err instanceof PeerKitError && err.code === 'CLOSED');
});
