// The send queue against a fake data channel: pure logic (order, backpressure, the adaptive
// high-water mark, failure), no WebRTC. Real channels are tested in test/browser/channel.test.js.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADAPTIVE_MARK, SendQueue } from '../../dist/data/send-queue.js';
import { PeerKitError } from '../../dist/index.js';

/** Counts what is handed to it as buffered until the test drains it. */
class FakeChannel {
  readyState = 'open';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  sent = [];
  refuse = false;
  send(piece) {
    if (this.refuse) throw new Error('send queue is full');
    this.sent.push(piece);
    this.bufferedAmount += typeof piece === 'string' ? piece.length : piece.byteLength;
  }
}

const gone = (cause) => new PeerKitError('CHANNEL_CLOSED', 'gone', { cause });
const tick = () => new Promise((resolve) => setImmediate(resolve));
const bytes = (n, fill = 0) => new Uint8Array(n).fill(fill);
const state = (promise) => Promise.race([promise.then(() => 'resolved', (e) => e.code), tick().then(() => 'pending')]);

test('a message sent while nothing waits and the buffer is under the mark goes out inside push()', async () => {
  const dc = new FakeChannel();
  const queue = new SendQueue(dc, { high: 100, low: 10 }, gone);
  const sent = queue.push('hi');
  assert.deepEqual(dc.sent, ['hi']);
  assert.equal(queue.length, 0);
  assert.equal(queue.sent, 1);
  assert.equal(await state(sent), 'resolved');
  assert.equal(dc.bufferedAmountLowThreshold, 10);
});

test('past the high-water mark, messages wait for wake() and go out in order once the buffer is under it', async () => {
  const dc = new FakeChannel();
  const queue = new SendQueue(dc, { high: 100, low: 10 }, gone);
  queue.push(bytes(150, 1));
  const waiting = [queue.push(bytes(10, 2)), queue.push('three'), queue.push(bytes(10, 4))];
  await tick();
  assert.equal(dc.sent.length, 1);
  assert.deepEqual(await Promise.all(waiting.map(state)), ['pending', 'pending', 'pending']);
  dc.bufferedAmount = 60;
  queue.wake();
  await tick();
  assert.deepEqual(dc.sent.map((p) => (typeof p === 'string' ? p : p[0])), [1, 2, 'three', 4]);
  assert.deepEqual(await Promise.all(waiting.map(state)), ['resolved', 'resolved', 'resolved']);
  assert.equal(queue.sent, 4);
});

test('a message pushed while a queue waits goes behind it, even when the buffer has room', async () => {
  const dc = new FakeChannel();
  dc.readyState = 'connecting';
  const queue = new SendQueue(dc, { high: 100, low: 10 }, gone);
  queue.push('first');
  queue.push('second');
  assert.deepEqual(dc.sent, []);
  dc.readyState = 'open';
  const third = queue.push('third');
  assert.equal(dc.sent[0], 'first', 'nothing overtakes what waited for the channel to open');
  queue.wake();
  await third;
  assert.deepEqual(dc.sent, ['first', 'second', 'third']);
});

test('a many-piece message goes out piece by piece, told after each, waiting for room between them', async () => {
  const dc = new FakeChannel();
  const queue = new SendQueue(dc, { high: 100, low: 10 }, gone);
  const pieces = [bytes(80, 1), Promise.resolve(bytes(80, 2)), bytes(80, 3)];
  const handed = [];
  const message = { next: () => pieces.shift(), handed: () => handed.push(dc.sent.length) };
  const done = queue.push(message);
  await tick();
  assert.deepEqual(handed, [1, 2], 'the second piece went out while the buffer held 80 bytes; the third waits');
  assert.equal(await state(done), 'pending');
  dc.bufferedAmount = 0;
  queue.wake();
  await done;
  assert.deepEqual(handed, [1, 2, 3]);
  assert.deepEqual(dc.sent.map((p) => p[0]), [1, 2, 3]);
  assert.equal(queue.sent, 1);
});

test('fail() rejects every waiting message, and a channel that closes under a waiting send rejects it', async () => {
  const dc = new FakeChannel();
  const queue = new SendQueue(dc, { high: 100, low: 10 }, gone);
  queue.push(bytes(200));
  const waiting = [queue.push('a'), queue.push('b')];
  await tick();
  dc.readyState = 'closed';
  queue.wake();
  assert.deepEqual(await Promise.all(waiting.map(state)), ['CHANNEL_CLOSED', 'CHANNEL_CLOSED']);
  assert.equal(queue.length, 0);

  const other = new SendQueue(new FakeChannel(), { high: 100, low: 10 }, gone);
  other.push(bytes(200));
  const queued = other.push('x');
  const idle = other.idle();
  other.fail(new PeerKitError('CLOSED', 'closed by the user'));
  assert.equal(await state(queued), 'CLOSED');
  assert.equal(await state(idle), 'resolved');
});

test('a send the browser refuses rejects with the channel-gone error, its cause attached', async () => {
  const dc = new FakeChannel();
  dc.refuse = true;
  const queue = new SendQueue(dc, { high: 100, low: 10 }, gone);
  const err = await queue.push('x').then(() => null, (e) => e);
  assert.equal(err.code, 'CHANNEL_CLOSED');
  assert.equal(err.cause.message, 'send queue is full');
});

/** A queue with an adaptive mark, and a wait on it that ends with `leftInBuffer` bytes still buffered. */
function adaptive() {
  const dc = new FakeChannel();
  const queue = new SendQueue(dc, { high: undefined, low: ADAPTIVE_MARK.start / 4 }, gone);
  const wait = async (leftInBuffer) => {
    dc.bufferedAmount = queue.highWaterMark + 1;
    const sent = queue.push('x');
    dc.bufferedAmount = leftInBuffer;
    queue.wake();
    await sent;
  };
  return { dc, queue, wait };
}

test('an adaptive mark starts at its floor, grows when the buffer drained empty during a wait, shrinks when it did not, within its bounds', async () => {
  const { dc, queue, wait } = adaptive();
  assert.equal(ADAPTIVE_MARK.start, ADAPTIVE_MARK.min);
  assert.equal(queue.highWaterMark, ADAPTIVE_MARK.start);
  // Data left at a wake: this browser reports drains as they happen, so an empty buffer means starving.
  await wait(1000);
  assert.equal(queue.highWaterMark, ADAPTIVE_MARK.min, 'never below the floor');
  await wait(0);
  assert.equal(queue.highWaterMark, ADAPTIVE_MARK.min * 2);
  assert.equal(dc.bufferedAmountLowThreshold, Math.round(ADAPTIVE_MARK.min / 2), 'the low-water mark keeps its share');
  for (let i = 0; i < 20; i++) await wait(0);
  assert.equal(queue.highWaterMark, ADAPTIVE_MARK.max);
  await wait(1000);
  assert.equal(queue.highWaterMark, Math.round(ADAPTIVE_MARK.max * 0.9));
  for (let i = 0; i < 200; i++) await wait(1);
  assert.equal(queue.highWaterMark, ADAPTIVE_MARK.min);
});

test('where no wake ever found data left (Firefox drains its queue in bursts), empty wakes keep the mark at its floor', async () => {
  const { queue, wait } = adaptive();
  for (let i = 0; i < 20; i++) await wait(0);
  assert.equal(queue.highWaterMark, ADAPTIVE_MARK.min);
  // The first wake with data left changes the reading: empty wakes then mean the link starved.
  await wait(1);
  await wait(0);
  assert.equal(queue.highWaterMark, ADAPTIVE_MARK.min * 2);
});

test('a fixed mark never moves', async () => {
  const dc = new FakeChannel();
  const queue = new SendQueue(dc, { high: 100, low: 10 }, gone);
  dc.bufferedAmount = 101;
  const sent = queue.push('x');
  dc.bufferedAmount = 0;
  queue.wake();
  await sent;
  assert.equal(queue.highWaterMark, 100);
  assert.equal(dc.bufferedAmountLowThreshold, 10);
});
