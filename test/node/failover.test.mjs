// WebSocketTransport's reconnect policy (src/signaling/transports/failover.ts) as pure logic:
// which URL comes next, when to try again, and when to give up. Build first: npx tsc -p .
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Failover } from '../../dist/signaling/transports/failover.js';

test('before the first join each URL is tried once, in order, at once, and then the transport gives up', () => {
  const failover = new Failover(['ws://a', 'ws://b'], 100, 1000);
  assert.equal(failover.nextUrl(), 'ws://a');
  assert.deepEqual(failover.afterLoss(), { kind: 'now' });
  assert.equal(failover.nextUrl(), 'ws://b');
  assert.deepEqual(failover.afterLoss(), { kind: 'give-up' });
});

test('after a join, losses are retried round the list forever with full-jitter backoff up to the largest delay', () => {
  const failover = new Failover(['ws://a', 'ws://b', 'ws://c'], 100, 1000);
  failover.nextUrl();
  failover.joined();
  const urls = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    const next = failover.afterLoss();
    assert.equal(next.kind, 'later');
    const ceiling = Math.min(1000, 100 * 2 ** attempt);
    assert.ok(next.delayMs >= 0 && next.delayMs <= ceiling, `attempt ${attempt}: ${next.delayMs} ms within [0, ${ceiling}]`);
    urls.push(failover.nextUrl());
  }
  assert.deepEqual(urls.slice(0, 4), ['ws://a', 'ws://b', 'ws://c', 'ws://a']);
});

test('a join resets the backoff: the first retry after it waits no longer than the first delay', () => {
  const failover = new Failover(['ws://a'], 100, 10000);
  failover.joined();
  for (let i = 0; i < 6; i++) {
    failover.afterLoss();
    failover.nextUrl();
  }
  failover.joined();
  for (let i = 0; i < 50; i++) assert.ok(failover.afterLoss().delayMs <= 100);
});
