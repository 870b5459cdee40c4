// A test File of any size, shared by the transfer bench and the transfer tests.

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
    new DataView(part.buffer).setUint32(0, n);
    parts.push(new Blob([part]));
  }
  return new File(parts, name, { type: 'application/octet-stream', lastModified });
}
