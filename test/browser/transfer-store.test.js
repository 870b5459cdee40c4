// The receiver's OPFS store on its own, in a real browser's OPFS: both layouts (the worker's data
// file with its records, and a file per block where no worker may run), read back after a reload
// and finished into one File. The transfers over real connections are in transfer.test.js.
import { expect } from 'chai';
import { OpfsStore, loadStored, opfsFolder } from '../../dist/transfer/store.js';
import { sha256 } from '../../dist/transfer/protocol.js';
import { clearTransferStore, sameBytes, within } from './helpers.js';

const BLOCK = 1024;
const ID = 'e'.repeat(64);

/** Five blocks, the last one short, each byte telling its block apart. */
const bytes = Uint8Array.from({ length: 4 * BLOCK + 300 }, (_, i) => (i * 7 + Math.floor(i / BLOCK)) & 255);
const offer = { v: 1, t: 'offer', id: ID, name: 'layouts.bin', size: bytes.byteLength, type: 'application/octet-stream', lastModified: 1, blockSize: BLOCK, meta: null };
const block = (index) => bytes.slice(index * BLOCK, Math.min(bytes.byteLength, (index + 1) * BLOCK));

/** The names in the transfer's folder, sorted. */
async function names() {
  const dir = await (await opfsFolder()).getDirectoryHandle(ID);
  const found = [];
  for await (const name of dir.keys()) found.push(name);
  return found.sort();
}

/** Writes blocks `indexes` from a frame whose CSP forbids `blob:` workers: the store falls back to the main thread. */
async function writeWithoutWorker(indexes) {
  const frame = document.createElement('iframe');
  const module = new URL('/dist/transfer/store.js', location.href).href;
  const hashing = new URL('/dist/transfer/protocol.js', location.href).href;
  frame.srcdoc = `<meta http-equiv="Content-Security-Policy" content="worker-src 'self'">
<script type="module">
import { OpfsStore, opfsFolder } from ${JSON.stringify(module)};
import { sha256 } from ${JSON.stringify(hashing)};
addEventListener('message', async ({ data }) => {
  try {
    const store = await OpfsStore.open(await opfsFolder(), data.offer);
    for (const [index, bytes] of data.blocks) await store.write(index, bytes, await sha256(bytes));
    await store.leave();
    parent.postMessage({ ok: true }, '*');
  } catch (err) {
    parent.postMessage({ ok: false, error: String(err) }, '*');
  }
});
parent.postMessage({ ready: true }, '*');
</script>`;
  const reply = () =>
    new Promise((resolve) =>
      addEventListener('message', function onMessage(event) {
        if (event.source !== frame.contentWindow) return;
        removeEventListener('message', onMessage);
        resolve(event.data);
      }),
    );
  const ready = reply();
  document.body.append(frame);
  try {
    await within(10000, ready, 'the frame loading');
    const done = reply();
    frame.contentWindow.postMessage({ offer, blocks: indexes.map((i) => [i, block(i)]) }, '*');
    const result = await within(10000, done, 'the frame writing');
    expect(result.error).to.equal(undefined);
  } finally {
    frame.remove();
  }
}

describe('transfer store (OPFS)', () => {
  beforeEach(clearTransferStore);
  afterEach(clearTransferStore);

  it('the worker writes one data file with a record per block, and a reload finds every block in it', async () => {
    const store = await OpfsStore.open(await opfsFolder(), offer);
    for (const index of [3, 0, 4]) await store.write(index, block(index), await sha256(block(index)));
    await store.leave();
    expect(await names()).to.deep.equal(['data', 'offer.json', 'records']);
    const stored = await loadStored(await opfsFolder(), offer);
    expect([...stored.hashes.keys()].sort()).to.deep.equal([0, 3, 4]);
    expect(stored.separate.size).to.equal(0);
    const again = await OpfsStore.open(await opfsFolder(), offer, ID, stored);
    for (const index of [1, 2]) await again.write(index, block(index), await sha256(block(index)));
    expect(await sameBytes(await again.finish(), new Blob([bytes]))).to.equal(true);
  });

  it('a torn last record, a record whose block no longer matches and one past the file are not trusted', async () => {
    const store = await OpfsStore.open(await opfsFolder(), offer);
    for (const index of [0, 1, 2]) await store.write(index, block(index), await sha256(block(index)));
    await store.leave();
    const dir = await (await opfsFolder()).getDirectoryHandle(ID);
    const append = async (name, at, data) => {
      const writable = await (await dir.getFileHandle(name)).createWritable({ keepExistingData: true });
      await writable.write({ type: 'write', position: at, data });
      await writable.close();
    };
    // Block 1 damaged on disk, a record for block 9 of a 5-block file, half a record for block 3.
    await append('data', BLOCK + 5, new Uint8Array([1, 2, 3]));
    const past = new Uint8Array(36);
    new DataView(past.buffer).setUint32(0, 9);
    await append('records', 3 * 36, past);
    await append('records', 4 * 36, new Uint8Array([0, 0, 0, 3, 9, 9]));
    const stored = await loadStored(await opfsFolder(), offer);
    expect([...stored.hashes.keys()].sort()).to.deep.equal([0, 2]);
    // The worker cuts the torn record off before appending after it.
    const again = await OpfsStore.open(await opfsFolder(), offer, ID, stored);
    for (const index of [1, 3, 4]) await again.write(index, block(index), await sha256(block(index)));
    await again.leave();
    const reread = await loadStored(await opfsFolder(), offer);
    expect([...reread.hashes.keys()].sort()).to.deep.equal([0, 1, 2, 3, 4]);
  });

  it('under a CSP without worker-src blob: blocks go a file each, and a folder holding both layouts resumes into one File', async () => {
    await writeWithoutWorker([0, 2]);
    expect(await names()).to.deep.equal(['0', '2', 'offer.json']);
    const stored = await loadStored(await opfsFolder(), offer);
    expect([...stored.hashes.keys()].sort()).to.deep.equal([0, 2]);
    expect([...stored.separate].sort()).to.deep.equal([0, 2]);
    const store = await OpfsStore.open(await opfsFolder(), offer, ID, stored);
    for (const index of [1, 3, 4]) await store.write(index, block(index), await sha256(block(index)));
    const file = await store.finish();
    expect(file.name).to.equal('layouts.bin');
    expect(await sameBytes(file, new Blob([bytes]))).to.equal(true);
    expect(await names()).to.deep.equal(['0', '2', 'data', 'offer.json', 'records']);
  });
});
