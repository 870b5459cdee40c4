// File transfer over a data channel of its own per file and recipient: a JSON header, the file in
// parts, and a JSON receipt back. peerkit's Channel chunks each part, applies backpressure and
// reports progress on both sides; parts keep every message well under the channel's size limit,
// so a file of any size goes through and the receiver keeps Blobs, which browsers may hold on disk.
import { bytes, el } from './ui.js';

/** The label both sides recognise. */
export const FILE_CHANNEL = 'peerkit-demo/file';
const PART_BYTES = 16 * 2 ** 20;

const isHeader = (m) =>
  typeof m === 'object' && m !== null && m.file === 1 && typeof m.name === 'string' && Number.isSafeInteger(m.size) && m.size >= 0 &&
  typeof m.type === 'string' && Number.isSafeInteger(m.parts) && m.parts === Math.ceil(m.size / PART_BYTES);

/** One row in the transfer list, with its progress bar and speed. */
class Row {
  constructor(list, { direction, name, size, who }) {
    this.size = size;
    this.started = performance.now();
    this.bar = el('progress', { max: Math.max(size, 1), value: 0, 'aria-label': `${direction === 'send' ? 'Sending' : 'Receiving'} ${name} ${direction === 'send' ? 'to' : 'from'} ${who}` });
    this.meta = el('div', { class: 'meta' });
    this.node = el('li', { dataset: { direction, name, status: direction === 'send' ? 'sending' : 'receiving' } },
      el('div', {}, `${direction === 'send' ? '↑' : '↓'} ${name} `, el('span', { class: 'meta' }, `${direction === 'send' ? 'to' : 'from'} ${who}`)),
      this.bar, this.meta);
    list.prepend(this.node);
    this.update(0);
  }

  update(done) {
    this.bar.value = Math.max(done, this.size === 0 ? 1 : 0);
    const seconds = (performance.now() - this.started) / 1000;
    const speed = seconds > 0 ? `${bytes(Math.round(done / seconds))}/s` : '–';
    this.meta.textContent = `${bytes(done)} of ${bytes(this.size)} · ${speed}`;
  }

  finish(status, extra) {
    this.update(this.size);
    this.node.dataset.status = status;
    this.meta.append(' · ', extra);
  }

  fail(err) {
    this.node.dataset.status = 'failed';
    this.meta.append(' · ', el('strong', {}, `failed: ${err.message}`));
  }
}

/** Sends `file` to one member's Peer; resolves once the receiver confirms it has all of it. */
export async function sendFile(peer, file, who, list) {
  const row = new Row(list, { direction: 'send', name: file.name, size: file.size, who });
  const channel = peer.channel(FILE_CHANNEL);
  let done = 0;
  channel.on('progress', (p) => p.direction === 'send' && row.update(done + p.bytes));
  const receipt = new Promise((resolve, reject) => {
    channel.on('message', (m) => m?.received === file.size && resolve());
    channel.once('close', () => reject(new Error('the channel closed before the receiver confirmed')));
  });
  receipt.catch(() => undefined);
  try {
    const parts = Math.ceil(file.size / PART_BYTES);
    await channel.send({ file: 1, name: file.name, size: file.size, type: file.type, parts });
    for (let start = 0; start < file.size; start += PART_BYTES) {
      const part = file.slice(start, start + PART_BYTES);
      await channel.send(part);
      done += part.size;
      row.update(done);
    }
    row.node.dataset.status = 'sent';
    await receipt;
    row.finish('delivered', 'delivered ✓');
  } catch (err) {
    row.fail(err);
  } finally {
    void channel.close();
  }
}

/** Receives one file on a channel the remote opened; shows a download link when it is whole. */
export function receiveFile(channel, who, list) {
  let header;
  let row;
  const parts = [];
  let done = 0;
  channel.on('message', (m) => {
    if (header === undefined) {
      if (!isHeader(m)) return void channel.close();
      header = m;
      row = new Row(list, { direction: 'receive', name: m.name, size: m.size, who });
    } else if (m instanceof Blob || m instanceof ArrayBuffer) {
      parts.push(m);
      done += m instanceof Blob ? m.size : m.byteLength;
      row.update(done);
    }
    if (header && parts.length === header.parts) complete();
  });
  channel.on('progress', (p) => p.direction === 'receive' && row?.update(done + p.bytes));
  channel.once('close', () => {
    if (row && row.node.dataset.status === 'receiving') row.fail(new Error('the sender went away'));
  });

  function complete() {
    const blob = new Blob(parts, { type: header.type });
    if (blob.size !== header.size) return row.fail(new Error(`${bytes(blob.size)} arrived, ${bytes(header.size)} announced`));
    const url = URL.createObjectURL(blob);
    row.finish('received', el('a', { href: url, download: header.name }, `Download ${header.name}`));
    void channel.send({ received: blob.size });
  }
}
