// The file panel on room.sendFile(): blocks verified by SHA-256 as they arrive, pause, resume and
// cancel, and resume after a reload on either side. The receiver writes into the Origin Private
// File System, so a file of any size never sits in memory, and a partial file survives a reload.
// A Peer the Room rebuilds carries on by itself; a person who reloads comes back as a new member,
// so the sender, still holding the file, offers it again to them, and it resumes from the last
// verified block. A sender who reloads picks the same file again: it resumes the same way.
import { bytes, el } from './ui.js';

/** Files sent to a person (by the name they joined with) who left before they arrived, with their rows. */
const unfinished = new Map();
/** Rows of files being received, by the name of the sender. */
const receiving = new Map();

/** One row in the transfer list, with its progress bar, speed and time left. */
class Row {
  constructor(list, { direction, name, size, who }) {
    this.size = size;
    this.bar = el('progress', { max: Math.max(size, 1), value: 0, 'aria-label': `${direction === 'send' ? 'Sending' : 'Receiving'} ${name} ${direction === 'send' ? 'to' : 'from'} ${who}` });
    this.meta = el('div', { class: 'meta' });
    this.note = el('div', { class: 'meta' });
    this.actions = el('div', { class: 'actions' });
    this.node = el('li', { dataset: { direction, name, status: direction === 'send' ? 'sending' : 'receiving' } },
      el('div', {}, `${direction === 'send' ? '↑' : '↓'} ${name} `, el('span', { class: 'meta' }, `${direction === 'send' ? 'to' : 'from'} ${who}`)),
      this.bar, this.meta, this.note, this.actions);
    list.prepend(this.node);
    this.update({ bytes: 0, bytesPerSecond: 0, etaMs: Infinity });
  }

  update({ bytes: done, bytesPerSecond, etaMs }) {
    this.bar.value = Math.max(done, this.size === 0 ? 1 : 0);
    const speed = bytesPerSecond > 0 ? `${bytes(Math.round(bytesPerSecond))}/s` : '–';
    const left = Number.isFinite(etaMs) && etaMs > 0 ? ` · ${Math.ceil(etaMs / 1000)} s left` : '';
    this.meta.textContent = `${bytes(done)} of ${bytes(this.size)} · ${speed}${left}`;
  }

  status(status, note = '') {
    this.node.dataset.status = status;
    this.note.textContent = note;
  }

  finish(status, extra) {
    this.bar.value = Math.max(this.size, 1);
    this.actions.replaceChildren();
    this.status(status);
    this.note.append(extra);
  }

  fail(err) {
    this.actions.replaceChildren();
    this.status('failed');
    this.note.append(el('strong', {}, `failed: ${err.message}`));
  }
}

const WORDS = { paused: 'paused', waiting: 'connection lost: resumes when it is back', verifying: 'checking the whole file…', preparing: 'reading the file…', offered: 'waiting for them to accept…' };

/**
 * Sends `file` to everyone in `room` (one Transfer per member), each shown as a row.
 * `nameOf(id)` gives a member's name.
 */
export function sendToEveryone(room, file, nameOf, list) {
  for (const [id, transfer] of room.sendFile(file)) void follow(room, transfer, file, nameOf(id), list, nameOf);
}

/** `who` joined under `id` (perhaps after a reload): the files they had not fully received go again. */
export function offerAgain(room, id, who, list, nameOf) {
  const waiting = unfinished.get(who);
  unfinished.delete(who);
  for (const [file, row] of waiting ?? []) void follow(room, room.sendFile(file, id), file, who, list, nameOf, row);
}

/** Shows one outgoing Transfer in `row` until it is delivered, fails, or waits for `who` to come back. */
async function follow(room, transfer, file, who, list, nameOf, row = new Row(list, { direction: 'send', name: file.name, size: file.size, who })) {
  row.status('sending');
  transfer.on('progress', (p) => row.update(p));
  const pause = el('button', { type: 'button', onclick: () => (transfer.state === 'paused' ? transfer.resume() : transfer.pause()) }, 'Pause');
  const cancel = el('button', { type: 'button', onclick: () => transfer.cancel() }, 'Cancel');
  row.actions.replaceChildren(pause, cancel);
  transfer.on('state', (state) => {
    pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
    row.status(state === 'paused' || state === 'waiting' || state === 'verifying' ? state : 'sending', WORDS[state] ?? '');
  });
  try {
    await transfer.done;
    row.finish('delivered', 'delivered, SHA-256 verified ✓');
  } catch (err) {
    if (err.code !== 'CLOSED' || room.state === 'closed') return row.fail(err);
    // They left (a reload, a closed tab): offered again when they come back.
    row.actions.replaceChildren();
    row.status('waiting', `${who} left: resumes when they come back`);
    const again = [...room.peers.keys()].find((id) => nameOf(id) === who);
    if (again !== undefined) return void follow(room, room.sendFile(file, again), file, who, list, nameOf, row);
    if (!unfinished.has(who)) unfinished.set(who, new Map());
    unfinished.get(who).set(file, row);
  }
}

/** Accepts every offer; a transfer that was under way before a reload says where it resumes. */
export async function receive(incoming, who, list) {
  const row = new Row(list, { direction: 'receive', name: incoming.name, size: incoming.size, who });
  if (!receiving.has(who)) receiving.set(who, new Set());
  receiving.get(who).add(row);
  if (incoming.resumedFrom > 0) row.node.dataset.resumedFrom = String(incoming.resumedFrom);
  row.status('receiving', incoming.resumedFrom > 0 ? `resumed from ${bytes(incoming.resumedFrom)}` : '');
  incoming.on('progress', (p) => row.update(p));
  incoming.on('state', (state) => row.status(state === 'sending' ? 'receiving' : state, WORDS[state] ?? ''));
  row.actions.append(el('button', { type: 'button', onclick: () => incoming.cancel() }, 'Cancel'));
  try {
    const file = await incoming.accept();
    const url = URL.createObjectURL(file);
    row.finish('received', el('a', { href: url, download: incoming.name }, `Download ${incoming.name}`));
  } catch (err) {
    row.fail(err);
  } finally {
    receiving.get(who)?.delete(row);
  }
}

/** `who` left: what they were sending stops here, kept to resume when they send the same file again. */
export function senderLeft(who) {
  for (const row of receiving.get(who) ?? []) {
    row.actions.replaceChildren();
    row.status('stopped', `${who} left: resumes if they send it again`);
  }
  receiving.delete(who);
}
