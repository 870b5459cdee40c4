import { expect } from 'chai';
import { createTransfers } from '../../dist/index.js';
import { makeFile, timedTransfer } from '../../bench/transfer-file.js';
import { clearTransferStore, closeAll, next, pair, sameBytes, sleep, until, within } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The OPFS folder of transfer `id`; rejects without one. */
const transferFolder = async (id) => (await (await navigator.storage.getDirectory()).getDirectoryHandle('peerkit-transfers')).getDirectoryHandle(id);

/** Blocks stored for transfer `id`, in either layout (a file each, or records of the data file); -1 without a folder. */
async function storedBlocks(id) {
  try {
    const dir = await transferFolder(id);
    let blocks = 0;
    for await (const name of dir.keys()) {
      if (/^\d+$/.test(name)) blocks++;
      if (name === 'records') blocks += Math.floor((await (await dir.getFileHandle(name)).getFile()).size / 36);
    }
    return blocks;
  } catch {
    return -1;
  }
}

/** A connected pair with a Transfers on each side. */
async function connectedPair(options = {}) {
  const [a, b] = pair();
  const sender = createTransfers(a, options);
  const receiver = createTransfers(b, options);
  await Promise.all([a.connected, b.connected]);
  return { a, b, sender, receiver };
}

/** Resolves once `transfer` reported at least `fraction` of its bytes. */
const reached = (transfer, fraction) => next(transfer, 'progress', (p) => p.bytes >= p.total * fraction);

describe('file transfers', function () {
  beforeEach(clearTransferStore);
  afterEach(clearTransferStore);

  it('sendFile() delivers a verified File with its name, type, meta and progress', async () => {
    const { a, b, sender, receiver } = await connectedPair();
    const file = makeFile(5 * MiB + 123, 'photo.raw');
    const offered = next(receiver, 'transfer');
    const t = sender.sendFile(file, { meta: { album: 'trip' } });
    const progress = [];
    t.on('progress', (p) => progress.push(p));
    const incoming = await within(10000, offered, 'the offer');
    expect(incoming.name).to.equal('photo.raw');
    expect(incoming.size).to.equal(file.size);
    expect(incoming.type).to.equal('application/octet-stream');
    expect(incoming.meta).to.deep.equal({ album: 'trip' });
    expect(incoming.resumedFrom).to.equal(0);
    expect(incoming.id).to.match(/^[0-9a-f]{64}$/);
    const received = await within(30000, incoming.accept(), 'receiving');
    await within(10000, t.done, 'done');
    expect(t.state).to.equal('done');
    expect(t.id).to.equal(incoming.id);
    expect(received.name).to.equal('photo.raw');
    expect(await sameBytes(received, file)).to.equal(true);
    const last = progress.at(-1);
    expect(last.bytes).to.equal(file.size);
    expect(last.total).to.equal(file.size);
    expect(last.etaMs).to.equal(0);
    expect(progress.some((p) => p.bytesPerSecond > 0)).to.equal(true);
    expect(progress.every((p, i) => i === 0 || p.bytes >= progress[i - 1].bytes)).to.equal(true);
    await closeAll(a, b);
  });

  it('an empty file and a Blob arrive too', async () => {
    const { a, b, sender, receiver } = await connectedPair();
    const arrivals = [];
    receiver.on('transfer', (incoming) => arrivals.push(incoming.accept()));
    const empty = sender.sendFile(new File([], 'empty.txt', { type: 'text/plain' }));
    const blob = sender.sendFile(new Blob(['hello blob']), { name: 'note.txt' });
    await within(10000, Promise.all([empty.done, blob.done]), 'both transfers');
    const files = await Promise.all(arrivals);
    const byName = Object.fromEntries(files.map((f) => [f.name, f]));
    expect(byName['empty.txt'].size).to.equal(0);
    expect(await byName['note.txt'].text()).to.equal('hello blob');
    await closeAll(a, b);
  });

  it('accept({ sink }) writes the file to a WritableStream in order, even around a damaged block', async () => {
    let flipped = false;
    const tamper = (index, message) => {
      if (index !== 1 || flipped) return;
      flipped = true;
      message[100] ^= 1;
    };
    const [a, b] = pair();
    const sender = createTransfers(a, { blockSize: 64 * KiB, tamper });
    const receiver = createTransfers(b);
    const file = makeFile(MiB + 5);
    const chunks = [];
    const sink = new WritableStream({ write: (chunk) => void chunks.push(chunk) });
    const offered = next(receiver, 'transfer');
    const t = sender.sendFile(file);
    const incoming = await within(10000, offered, 'the offer');
    expect(await within(20000, incoming.accept({ sink }), 'receiving')).to.equal(undefined);
    await t.done;
    expect(flipped).to.equal(true);
    expect(incoming.refetchedBlocks).to.equal(1);
    expect(await sameBytes(new Blob(chunks), file)).to.equal(true);
    await closeAll(a, b);
  });

  it('without OPFS a file within memoryLimit arrives from memory, and a larger one is refused with UNSUPPORTED', async () => {
    const [a, b] = pair();
    const sender = createTransfers(a);
    const receiver = createTransfers(b, { opfs: false, memoryLimit: 2 * MiB });
    const results = [];
    receiver.on('transfer', (incoming) => results.push(incoming.accept().catch((e) => e)));
    const small = makeFile(2 * MiB, 'small.bin');
    await within(20000, sender.sendFile(small).done, 'the small file');
    const large = sender.sendFile(makeFile(2 * MiB + 1, 'large.bin'));
    const refused = await within(10000, large.done.then(() => null, (e) => e), 'the refusal');
    expect(refused.code).to.equal('TRANSFER_REJECTED');
    const [got, err] = await Promise.all(results);
    expect(await sameBytes(got, small)).to.equal(true);
    expect(err.code).to.equal('UNSUPPORTED');
    expect(await storedBlocks(large.id)).to.equal(-1);
    await closeAll(a, b);
  });

  it('partial files older than keepPartialMs are removed when a Transfers is created, newer ones and those a reception holds kept', async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('peerkit-transfers', { create: true });
    // A reception (in any tab) holds its folder's lock from before the folder has an offer.json.
    const held = 'c'.repeat(64);
    let release;
    const holding = new Promise((resolve) => navigator.locks.request(`peerkit-transfers/${held}`, () => new Promise((r) => resolve((release = r)))));
    await holding;
    await root.getDirectoryHandle(held, { create: true });
    await root.getDirectoryHandle('d'.repeat(64), { create: true });
    const write = async (id) => {
      const dir = await root.getDirectoryHandle(id, { create: true });
      const writable = await (await dir.getFileHandle('offer.json', { create: true })).createWritable();
      await writable.write('{}');
      await writable.close();
    };
    await write('a'.repeat(64));
    await sleep(1500);
    await write('b'.repeat(64));
    const [a, b] = pair();
    createTransfers(a, { keepPartialMs: 1000 });
    await until('the stale folders removed', async () => (await storedBlocks('a'.repeat(64))) === -1 && (await storedBlocks('d'.repeat(64))) === -1, 5000);
    expect(await storedBlocks('b'.repeat(64))).to.equal(0);
    expect(await storedBlocks(held)).to.equal(0);
    release();
    await closeAll(a, b);
  });

  it('pause() stops the blocks and resume() finishes the transfer', async () => {
    const { a, b, sender, receiver } = await connectedPair({ blockSize: 64 * KiB, windowBytes: 256 * KiB });
    const file = makeFile(8 * MiB);
    receiver.on('transfer', (incoming) => void incoming.accept());
    const t = sender.sendFile(file);
    let { bytes } = await within(10000, reached(t, 0.1), '10 %');
    t.on('progress', (p) => (bytes = p.bytes));
    t.pause();
    const atPause = bytes;
    expect(t.state).to.equal('paused');
    // The blocks in flight when pausing (the window) may still be acknowledged; nothing after.
    await sleep(1500);
    expect(bytes - atPause).to.be.at.most(256 * KiB);
    const settled = bytes;
    await sleep(700);
    expect(bytes).to.equal(settled);
    expect(bytes).to.be.below(file.size);
    t.resume();
    await within(30000, t.done, 'done after resume');
    await closeAll(a, b);
  });

  it('cancel() on the sender rejects both sides with TRANSFER_CANCELLED and removes the partial file', async () => {
    const { a, b, sender, receiver } = await connectedPair({ blockSize: 64 * KiB, windowBytes: 256 * KiB });
    let accepted;
    receiver.on('transfer', (incoming) => (accepted = incoming.accept()));
    const t = sender.sendFile(makeFile(16 * MiB));
    await within(10000, reached(t, 0.05), '5 %');
    t.cancel();
    const [sent, got] = await Promise.all([t.done.then(() => null, (e) => e), within(5000, accepted.then(() => null, (e) => e), 'the receiver')]);
    expect(sent.code).to.equal('TRANSFER_CANCELLED');
    expect(got.code).to.equal('TRANSFER_CANCELLED');
    await until('the partial file removed', async () => (await storedBlocks(t.id)) === -1, 5000);
    await closeAll(a, b);
  });

  it('reject() on the receiver rejects done with TRANSFER_REJECTED', async () => {
    const { a, b, sender, receiver } = await connectedPair();
    receiver.on('transfer', (incoming) => incoming.reject());
    const t = sender.sendFile(makeFile(MiB));
    const err = await within(10000, t.done.then(() => null, (e) => e), 'the rejection');
    expect(err.code).to.equal('TRANSFER_REJECTED');
    expect(t.state).to.equal('rejected');
    await closeAll(a, b);
  });

  it('a block damaged on the wire is fetched again, and only that block', async () => {
    const flipped = new Set();
    const tamper = (index, message) => {
      if (index !== 2 || flipped.has(index)) return;
      flipped.add(index);
      message[message.length - 1] ^= 0xff;
    };
    const [a, b] = pair();
    const sender = createTransfers(a, { blockSize: 256 * KiB, tamper });
    const receiver = createTransfers(b);
    const file = makeFile(3 * MiB);
    const offered = next(receiver, 'transfer');
    const t = sender.sendFile(file);
    const incoming = await within(10000, offered, 'the offer');
    const received = await within(20000, incoming.accept(), 'receiving');
    await t.done;
    expect(flipped.size).to.equal(1);
    expect(incoming.refetchedBlocks).to.equal(1);
    // Both pieces of the block had gone out before the receiver found its hash wrong.
    expect(t.resentBytes).to.equal(256 * KiB);
    expect(await sameBytes(received, file)).to.equal(true);
    await closeAll(a, b);
  });

  it('a transfer carries on across an ICE restart without sending a block twice', async () => {
    const { a, b, sender, receiver } = await connectedPair({ blockSize: 256 * KiB });
    const file = makeFile(32 * MiB);
    let accepted;
    receiver.on('transfer', (incoming) => (accepted = incoming.accept()));
    const t = sender.sendFile(file);
    await within(10000, reached(t, 0.2), '20 %');
    await within(15000, a.restartIce(), 'the restart');
    await within(60000, t.done, 'done');
    expect(t.resentBytes).to.equal(0);
    expect(await sameBytes(await accepted, file)).to.equal(true);
    await closeAll(a, b);
  });

  it('a transfer resumes on a new Peer pair attached after the old one closed (a Room rebuild)', async () => {
    const options = { blockSize: 256 * KiB, windowBytes: MiB };
    const { a, b, sender, receiver } = await connectedPair(options);
    const file = makeFile(24 * MiB);
    let offers = 0;
    let accepted;
    receiver.on('transfer', (incoming) => {
      offers++;
      accepted = incoming.accept();
    });
    const t = sender.sendFile(file);
    await within(10000, reached(t, 0.4), '40 %');
    const before = (await next(t, 'progress')).bytes;
    await a.connection.close();
    await closeAll(a, b);
    await until('the sender waiting', () => t.state === 'waiting', 10000);
    const [c, d] = pair();
    sender.attach(c);
    receiver.attach(d);
    const first = next(t, 'progress');
    await within(60000, t.done, 'done on the new pair');
    expect((await first).bytes).to.be.at.least(before);
    expect(offers).to.equal(1);
    expect(await sameBytes(await accepted, file)).to.equal(true);
    // Only what the dead connection's buffers held may go twice, never more than the window.
    expect(t.resentBytes).to.be.at.most(options.windowBytes);
    console.log(`new Peer pair: ${t.resentBytes} bytes sent twice (blocks of ${options.blockSize})`);
    await closeAll(c, d);
  });

  it('a connection cut in the middle of a block resumes inside it on the new Peer pair: less than a block goes twice', async () => {
    const { a, b, sender, receiver } = await connectedPair();
    const file = makeFile(32 * MiB);
    let accepted;
    receiver.on('transfer', (incoming) => (accepted = incoming.accept()));
    const t = sender.sendFile(file);
    await within(20000, reached(t, 0.3), '30 %');
    // Past an acknowledgement the next block is on its way: cut the connection half a block later.
    await next(t, 'progress');
    await sleep(5);
    b.connection.close();
    await closeAll(a, b);
    await until('the sender waiting', () => t.state === 'waiting', 10000);
    const atBreak = t.resentBytes;
    const [c, d] = pair();
    sender.attach(c);
    receiver.attach(d);
    await within(60000, t.done, 'done on the new pair');
    expect(await sameBytes(await accepted, file)).to.equal(true);
    console.log(`cut mid-block: ${t.resentBytes} bytes sent twice, blocks of ${MiB} bytes in pieces of ${128 * KiB}`);
    expect(atBreak).to.equal(0);
    // Before pieces, the block in flight (and the head of the next) went again whole.
    expect(t.resentBytes).to.be.below(MiB);
    await closeAll(c, d);
  });

  it('malformed pieces (not a piece, a gap, another block hash) are refused and their blocks fetched again', async () => {
    const offsetOf = (message) => new DataView(message.buffer, message.byteOffset).getUint32(38);
    const done = new Set();
    const tamper = (index, message) => {
      if (offsetOf(message) !== 256 * KiB || done.has(index)) return;
      done.add(index);
      if (index === 1) message[1] = 1; // the retired whole-block kind: not a piece at all
      if (index === 2) new DataView(message.buffer, message.byteOffset).setUint32(38, 256 * KiB + 7); // a gap
      if (index === 3) message[42] ^= 1; // a block hash unlike the pieces' before it
    };
    const [a, b] = pair();
    const sender = createTransfers(a, { tamper });
    const receiver = createTransfers(b);
    const errors = [];
    receiver.on('error', (err) => errors.push(err));
    const file = makeFile(6 * MiB);
    const offered = next(receiver, 'transfer');
    const t = sender.sendFile(file);
    const incoming = await within(10000, offered, 'the offer');
    const received = await within(30000, incoming.accept(), 'receiving');
    await within(10000, t.done, 'done');
    expect([...done].sort()).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(errors.map((e) => e.code)).to.deep.equal(['BAD_MESSAGE']);
    expect(incoming.refetchedBlocks).to.equal(3);
    expect(t.resentBytes).to.be.greaterThan(0);
    expect(t.resentBytes).to.be.at.most(3 * MiB);
    expect(await sameBytes(received, file)).to.equal(true);
    await closeAll(a, b);
  });

  it("the receiver's page reloaded: a new Transfers finds the partial file in OPFS and resumes", async () => {
    const options = { blockSize: 256 * KiB, windowBytes: MiB };
    const { a, b, sender, receiver } = await connectedPair(options);
    const file = makeFile(16 * MiB);
    receiver.on('transfer', (incoming) => void incoming.accept().catch(() => {}));
    const t = sender.sendFile(file);
    await within(10000, reached(t, 0.5), '50 %');
    receiver.close();
    b.connection.close();
    await closeAll(a, b);
    const kept = await storedBlocks(t.id);
    expect(kept).to.be.greaterThan(0);
    const [c, d] = pair();
    const reloaded = createTransfers(d, options);
    sender.attach(c);
    const incoming = await within(10000, next(reloaded, 'transfer'), 'the offer again');
    expect(incoming.id).to.equal(t.id);
    expect(incoming.resumedFrom).to.be.at.least(kept * options.blockSize - options.blockSize);
    expect(incoming.resumedFrom).to.be.below(file.size);
    const received = await within(60000, incoming.accept(), 'the rest');
    await t.done;
    expect(await sameBytes(received, file)).to.equal(true);
    console.log(`receiver reload: resumed from ${incoming.resumedFrom} of ${file.size}; ${t.resentBytes} bytes sent twice`);
    await closeAll(c, d);
  });

  it('a Transfers closed while a reception opens its files lets go of them: the next reception writes through the worker', async () => {
    const options = { blockSize: 256 * KiB, windowBytes: MiB };
    const { a, b, sender, receiver } = await connectedPair(options);
    const file = makeFile(4 * MiB, 'opening.bin');
    let accepted;
    receiver.on('transfer', (incoming) => {
      accepted = incoming.accept();
      receiver.close();
    });
    const t = sender.sendFile(file);
    await until('the offer accepted', () => accepted !== undefined, 10000);
    sender.close();
    await closeAll(a, b);
    const [c, d] = pair();
    const again = createTransfers(d, options);
    createTransfers(c, options).sendFile(file);
    const incoming = await within(10000, next(again, 'transfer'), 'the offer on a new pair');
    expect(incoming.id).to.equal(t.id);
    expect(await sameBytes(await within(30000, incoming.accept(), 'the file'), file)).to.equal(true);
    // A worker still holding the data file would have left the new reception to write a file per block.
    const names = [];
    for await (const name of (await transferFolder(t.id)).keys()) names.push(name);
    expect(names.sort()).to.deep.equal(['data', 'offer.json', 'records']);
    await closeAll(c, d);
  });

  it("the sender's page reloaded: the same file picked again resumes where the receiver left off", async () => {
    const options = { blockSize: 256 * KiB, windowBytes: MiB };
    const { a, b, sender, receiver } = await connectedPair(options);
    const file = makeFile(16 * MiB, 'again.bin');
    let accepted;
    receiver.on('transfer', (incoming) => (accepted = incoming.accept()));
    const t = sender.sendFile(file);
    await within(10000, reached(t, 0.5), '50 %');
    sender.close();
    a.connection.close();
    await closeAll(a, b);
    const [c, d] = pair();
    receiver.attach(d);
    const again = createTransfers(c, options);
    const picked = new File([await file.arrayBuffer()], 'again.bin', { type: file.type, lastModified: file.lastModified });
    const t2 = again.sendFile(picked);
    const first = await within(10000, next(t2, 'progress'), 'the resume');
    expect(first.bytes).to.be.at.least(file.size * 0.4);
    expect(first.bytes).to.be.below(file.size);
    await within(60000, t2.done, 'done');
    expect(t2.id).to.equal(t.id);
    expect(await sameBytes(await accepted, file)).to.equal(true);
    await closeAll(c, d);
  });

  it('two transfers share the connection in turn and peer.send() is not starved', async () => {
    const { a, b, sender, receiver } = await connectedPair({ blockSize: 256 * KiB });
    receiver.on('transfer', (incoming) => void incoming.accept());
    const one = sender.sendFile(makeFile(24 * MiB, 'one'));
    const two = sender.sendFile(makeFile(24 * MiB, 'two'));
    let twoShare = 0;
    let shareOfTwo;
    two.on('progress', (p) => (twoShare = p.bytes / p.total));
    one.on('progress', (p) => p.bytes === p.total && (shareOfTwo = twoShare));
    await within(10000, reached(one, 0.1), 'one started');
    const sent = performance.now();
    const pong = next(b, 'data');
    await a.send('ping');
    await within(2000, pong, 'a message during the transfers');
    const latency = performance.now() - sent;
    await within(60000, one.done, 'one');
    await within(60000, two.done, 'two');
    console.log(`fairness: two was at ${(shareOfTwo * 100).toFixed(0)} % when one finished; a message took ${latency.toFixed(0)} ms`);
    expect(shareOfTwo).to.be.greaterThan(0.7);
    await closeAll(a, b);
  });

  it('a large transfer keeps the receiver in bounded memory', async function () {
    // Bounded means about the same peak for four times the bytes: holding the file would add
    // 192 MiB. The level is V8's: received messages are garbage it collects only after some tens
    // of MiB of them, so the peak varies by a few tens of MiB from run to run (31 to 78 MiB here).
    const growth = {};
    for (const size of [64 * MiB, 256 * MiB]) {
      const { a, b, sender, receiver } = await connectedPair();
      const file = makeFile(size, `large-${size}.bin`);
      const { ms, received, heapGrowth } = await within(600000, timedTransfer(sender, receiver, file), 'the large transfer');
      expect(received.size).to.equal(size);
      growth[size] = heapGrowth;
      const grew = heapGrowth === null ? 'n/a (no performance.memory here)' : `${(heapGrowth / MiB).toFixed(1)} MiB`;
      console.log(`large: ${size / MiB} MiB in ${(ms / 1000).toFixed(1)} s (${((size / MiB) * 1000 / ms).toFixed(0)} MiB/s); JS heap of both sides grew ${grew}`);
      await closeAll(a, b);
      await clearTransferStore();
    }
    if (growth[64 * MiB] === null) return;
    expect(growth[256 * MiB]).to.be.below(growth[64 * MiB] + 64 * MiB);
    expect(growth[256 * MiB]).to.be.below(128 * MiB);
  });
});
