// The file panel on peerkit's transfers: blocks verified by SHA-256 as they arrive, pause and
// resume, and resume after a reload on either side. The receiver writes into the Origin Private
// File System, so a file of any size never sits in memory. One Transfers per person (by the name
// they joined with): when someone comes back after a reload, their new Peer is attached to it and
// whatever was unfinished carries on from the last verified block.
import { bytes, el } from './ui.js';

const { createTransfers } = window.PeerKit;
/** Transfers by the name of the person at the other end. */
const byName = new Map();

/** One row in the transfer list, with its progress bar, speed and time left. */
class Row {
  constructor(list, { direction, name, size, who }) {
    this.size = size;
    this.bar = el('progress', { max: Math.max(size, 1), value: 0, 'aria-label': `${direction === 'send' ? 'Sending' : 'Receiving'} ${name} ${direction === 'send' ? 'to' : 'from'} ${who}` });
    this.meta = el('div', { class: 'meta' });
    this.actions = el('div', { class: 'actions' });
    this.node = el('li', { dataset: { direction, name, status: direction === 'send' ? 'sending' : 'receiving' } },
      el('div', {}, `${direction === 'send' ? '↑' : '↓'} ${name} `, el('span', { class: 'meta' }, `${direction === 'send' ? 'to' : 'from'} ${who}`)),
      this.bar, this.meta, this.actions);
    list.prepend(this.node);
    this.update({ bytes: 0, bytesPerSecond: 0, etaMs: Infinity });
  }

  update({ bytes: done, bytesPerSecond, etaMs }) {
    this.bar.value = Math.max(done, this.size === 0 ? 1 : 0);
    const speed = bytesPerSecond > 0 ? `${bytes(Math.round(bytesPerSecond))}/s` : '–';
    const left = Number.isFinite(etaMs) && etaMs > 0 ? ` · ${Math.ceil(etaMs / 1000)} s left` : '';
    this.meta.textContent = `${bytes(done)} of ${bytes(this.size)} · ${speed}${left}`;
  }

  status(status) {
    this.node.dataset.status = status;
  }

  finish(status, extra) {
    this.bar.value = Math.max(this.size, 1);
    this.actions.replaceChildren();
    this.status(status);
    this.meta.append(' · ', extra);
  }

  fail(err) {
    this.actions.replaceChildren();
    this.status('failed');
    this.meta.append(' · ', el('strong', {}, `failed: ${err.message}`));
  }
}

/**
 * The Transfers for the person called `who`, attached to their current Peer: new the first time,
 * the same one (with its unfinished transfers) when they come back.
 */
export function transfersFor(peer, who, list) {
  const existing = byName.get(who);
  if (existing) {
    existing.attach(peer);
    return existing;
  }
  const transfers = createTransfers(peer);
  byName.set(who, transfers);
  transfers.on('transfer', (incoming) => void receive(incoming, who, list));
  return transfers;
}

/** Sends `file` to one person; the row shows progress, pause/resume, and delivery once verified. */
export async function sendFile(transfers, file, who, list) {
  const row = new Row(list, { direction: 'send', name: file.name, size: file.size, who });
  const t = transfers.sendFile(file);
  t.on('progress', (p) => row.update(p));
  const pause = el('button', { type: 'button', onclick: () => (t.state === 'paused' ? t.resume() : t.pause()) }, 'Pause');
  const cancel = el('button', { type: 'button', onclick: () => t.cancel() }, 'Cancel');
  row.actions.append(pause, cancel);
  t.on('state', (state) => {
    pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
    if (state === 'paused' || state === 'waiting' || state === 'sending' || state === 'verifying') row.status(state === 'sending' ? 'sending' : state);
  });
  try {
    await t.done;
    row.finish('delivered', 'delivered, SHA-256 verified ✓');
  } catch (err) {
    row.fail(err);
  }
}

/** Accepts every offer; a transfer that was under way before a reload says where it resumes. */
async function receive(incoming, who, list) {
  const row = new Row(list, { direction: 'receive', name: incoming.name, size: incoming.size, who });
  if (incoming.resumedFrom > 0) row.meta.before(el('div', { class: 'meta' }, `resumed from ${bytes(incoming.resumedFrom)}`));
  incoming.on('progress', (p) => row.update(p));
  incoming.on('state', (state) => state === 'paused' && row.status('paused'));
  row.actions.append(el('button', { type: 'button', onclick: () => incoming.cancel() }, 'Cancel'));
  try {
    const file = await incoming.accept();
    const url = URL.createObjectURL(file);
    row.finish('received', el('a', { href: url, download: incoming.name }, `Download ${incoming.name}`));
  } catch (err) {
    row.fail(err);
  }
}
