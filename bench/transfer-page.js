// Runs inside the transfer bench page: sendFile() over a Peer pair, and (from bench/page.js)
// the raw channel floor. transfer.mjs calls these through evaluate().
import { makeFile, timedTransfer } from './transfer-file.js';

const { Peer, createTransfers } = window.PeerKit;
const { rawBulk } = window.bench;
const MiB = 1 << 20;
let file;

/** The floor, as bench/run.mjs measures it: a plain RTCDataChannel, 256 KiB sends under a 1 MiB high-water mark. */
const raw = (total) => rawBulk(total, 256 << 10, 256 << 10, MiB);

/**
 * sendFile() from one Peer to another until `done`: the receiver verified the whole file. With
 * `sampleHeap`, the heap's peak growth is measured too (at some cost to the throughput).
 */
async function transfer(total, opfs, sampleHeap = false) {
  const peers = [new Peer(), new Peer()];
  const [a, b] = peers;
  for (const [from, to] of [peers, [b, a]]) from.on('signal', (m) => to.signal(m));
  const sender = createTransfers(a);
  const receiver = createTransfers(b, { opfs });
  await Promise.all([a.connected, b.connected]);
  if (file?.size !== total) file = makeFile(total, 'bench.bin', 1);
  const { ms, heapGrowth } = await timedTransfer(sender, receiver, file, sampleHeap);
  await Promise.all([a.close(), b.close()]);
  const root = await navigator.storage.getDirectory();
  await root.removeEntry('peerkit-transfers', { recursive: true }).catch(() => {});
  return { ms, heapGrowth };
}

window.bench = { raw, transfer };
