// What the transfer bench and the transfer tests share: a test File of any size, and a timed transfer.

const MiB = 1 << 20;

/**
 * A File of `size` bytes whose blocks all differ (a random MiB with its number stamped in),
 * built a MiB at a time so the page never holds it as one array.
 */
export function makeFile(size, name = 'data.bin', lastModified = 1700000000000) {
  const base = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i += 65536) crypto.getRandomValues(base.subarray(i, i + 65536));
  const parts = [];
  for (let offset = 0, n = 0; offset < size; offset += MiB, n++) {
    const part = base.slice(0, Math.min(MiB, size - offset));
    if (part.byteLength >= 4) new DataView(part.buffer).setUint32(0, n);
    parts.push(new Blob([part]));
  }
  return new File(parts, name, { type: 'application/octet-stream', lastModified });
}

/**
 * Sends `file` from `sender` to `receiver` (two Transfers) and waits for `done`, sampling the JS
 * heap where the engine reports it (`performance.memory`, Chromium) unless `sampleHeap` is false:
 * precise heap figures cost the page's main thread about a tenth of a second per 128 MiB.
 * @returns the time in ms, the received File, and the heap's peak growth (null where unknown or not sampled)
 */
export async function timedTransfer(sender, receiver, file, sampleHeap = true) {
  const heap = () => (sampleHeap ? performance.memory?.usedJSHeapSize : undefined);
  if (globalThis.gc) {
    // V8 frees the buffers of collected ArrayBuffers after the collection, on another thread:
    // without this pause the baseline still counts the last run's, and the growth reads low.
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
    globalThis.gc();
  }
  const before = heap();
  let peak = before ?? 0;
  const timer = sampleHeap ? setInterval(() => (peak = Math.max(peak, heap() ?? 0)), 20) : undefined;
  let accepted;
  receiver.on('transfer', (incoming) => (accepted = incoming.accept()));
  const t0 = performance.now();
  try {
    await sender.sendFile(file).done;
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - t0;
  const received = await accepted;
  if (received.size !== file.size) throw new Error(`received ${received.size} of ${file.size} bytes`);
  return { ms, received, heapGrowth: before === undefined ? null : peak - before };
}
