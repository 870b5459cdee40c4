// The pure logic the MQTT and Nostr transports share: per-member token buckets, the paced
// send queue, room hashes, and which URLs count as loopback for the no-secret warning.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacedQueue, RateLimits, isLoopback, looksSealed, roomHash } from '../../dist/signaling/transports/polite.js';

test('RateLimits gives each key its burst, then refills at its rate', () => {
  const limits = new RateLimits(3, 2);
  const t = 1_000_000;
  assert.deepEqual([1, 2, 3, 4].map(() => limits.take('a', t)), [true, true, true, false]);
  assert.equal(limits.take('b', t), true, 'another key has its own bucket');
  assert.equal(limits.waitMs('a', t), 500);
  assert.equal(limits.take('a', t + 499), false);
  assert.equal(limits.take('a', t + 500), true);
  assert.equal(limits.take('a', t + 10_000), true);
  assert.equal(limits.waitMs('a', t + 10_000), 0, 'refills up to the burst, no further');
});

test('PacedQueue sends in order, holds the rest behind a recipient over its rate, and drops payloads for the absent', async () => {
  const queue = new PacedQueue(new RateLimits(2, 50), 5);
  for (const [to, item] of [['a', 1], ['gone', 2], ['a', 3], ['a', 4], ['b', 5]]) queue.push(to, item);
  assert.equal(queue.push('b', 6), false, 'full at 5');
  const sent = [];
  const present = (to) => to !== 'gone';
  queue.drain(present, (to, item) => sent.push([to, item]));
  assert.deepEqual(sent, [['a', 1], ['a', 3]], "a's third waits, and b's behind it keeps the order");
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(sent, [['a', 1], ['a', 3], ['a', 4], ['b', 5]]);
  queue.clear();
});

test('PacedQueue.rewrite keeps and rewrites payloads in order', () => {
  const queue = new PacedQueue(new RateLimits(10, 10), 10);
  for (const item of [1, 2, 3]) queue.push('a', item);
  queue.rewrite((to, item) => (item === 2 ? undefined : item * 10));
  const sent = [];
  queue.drain(() => true, (to, item) => sent.push(item));
  assert.deepEqual(sent, [10, 30]);
});

test('roomHash is a fixed-length hex digest that differs per use and per room', async () => {
  const mqtt = await roomHash('mqtt', 'team-42');
  assert.match(mqtt, /^[0-9a-f]{64}$/);
  assert.notEqual(mqtt, await roomHash('nostr', 'team-42'));
  assert.notEqual(mqtt, await roomHash('mqtt', 'team-43'));
  assert.equal(mqtt, await roomHash('mqtt', 'team-42'));
});

test('isLoopback and looksSealed decide the no-secret warning', () => {
  assert.equal(isLoopback('ws://127.0.0.1:1883'), true);
  assert.equal(isLoopback('ws://localhost/mqtt'), true);
  assert.equal(isLoopback('ws://[::1]:80'), true);
  assert.equal(isLoopback('wss://broker.example/mqtt'), false);
  assert.equal(isLoopback('ws://127.0.0.1.example.com'), false);
  assert.equal(isLoopback('not a url'), false);
  assert.equal(looksSealed({ pk: 1, key: 'k', e: 'abc' }), true);
  assert.equal(looksSealed({ pk: 1, key: 'k', hello: { name: 'a' } }), false);
  assert.equal(looksSealed(undefined), false);
});
