// Longer than the ~300 lines a file aims for: one state machine over one channel per Peer (the
// outgoing pump that shares it fairly, the offers and their OPFS folders, reattachment to a new
// Peer), whose parts read and write the same maps; the options, the blocks and each side of a
// transfer are in files of their own.
import type { Channel } from '../data/channel.js';
import type { Message } from '../data/framing.js';
import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import type { Peer } from '../peer/peer.js';
import type { PeerState } from '../peer/state.js';
import { IncomingTransfer } from './incoming.js';
import { Outgoing } from './outgoing.js';
import type { PreparedBlock, TakenBlock } from './outgoing.js';
import type { ControlMessage, GotMessage, OfferMessage } from './protocol.js';
import { PIECE_BYTES, PIECE_HEADER_BYTES, TRANSFER_LABEL, TRANSFER_VERSION, decodePiece, encodePiece, parseControl } from './protocol.js';
import { claimFolder, loadStored, nothingStored, opfsFolder, sweep } from './store.js';
import type { FolderClaim } from './store.js';
import { Transfer } from './transfer.js';
import type { TransfersEvents, TransfersOptions } from './transfers-options.js';
import type { SendFileOptions } from './transfer.js';

export type { TransfersEvents, TransfersOptions } from './transfers-options.js';

const MiB = 1 << 20;

/**
 * Resumable, verified file transfers over one remote Peer, on a channel of their own. Attach a
 * new Peer for the same remote with {@link Transfers.attach} and unfinished transfers resume
 * from the last verified block.
 *
 * @example
 * ```ts
 * const transfers = createTransfers(peer);
 * transfers.on('transfer', async (incoming) => save(await incoming.accept()));
 * const t = transfers.sendFile(file);
 * t.on('progress', ({ bytes, total, etaMs }) => render(bytes, total, etaMs));
 * await t.done;
 * ```
 */
export class Transfers extends Emitter<TransfersEvents> {
  private readonly options: Required<Omit<TransfersOptions, 'tamper'>> & Pick<TransfersOptions, 'tamper'>;
  private readonly window: number;
  private readonly outgoing = new Map<string, Outgoing>();
  private readonly incoming = new Map<string, IncomingTransfer>();
  /** The OPFS folders its receptions hold, given back when each ends or this closes. */
  private readonly claims = new Set<FolderClaim>();
  private readonly order: Outgoing[] = [];
  private peer: Peer | undefined;
  private out: Channel | undefined;
  private detach: () => void = () => {};
  private pumping = false;
  private turn = 0;
  private inbox: Promise<void> = Promise.resolve();
  /** Resolves when the current connection goes away: a send stuck on it must not stop the pump. */
  private gone: Promise<void> = Promise.resolve();
  private closed = false;
  /**
   * Bytes of pieces handed to the current channel that the receiver has not yet said it took
   * (`got`): what a broken connection can lose, held to {@link inFlightLimit}.
   */
  private unconfirmed = 0;
  private readonly inFlightLimit: number;
  private confirmedWaiter: (() => void) | undefined;
  /** The last piece message, once the browser has it: the next piece of the same size is built in it. */
  private spare: Uint8Array | undefined;

  /** @internal Use {@link createTransfers}. */
  constructor(peer: Peer, options: TransfersOptions = {}) {
    super();
    this.options = { blockSize: MiB, windowBytes: 8 * MiB, memoryLimit: 256 * MiB, opfs: true, keepPartialMs: 86400000, ...options };
    if (!Number.isInteger(this.options.blockSize) || this.options.blockSize < 1024 || this.options.blockSize > 16 * MiB) {
      throw new PeerKitError('BAD_ARGUMENT', `blockSize must be an integer from 1024 to ${16 * MiB} bytes.`);
    }
    this.window = Math.max(2, Math.floor(this.options.windowBytes / this.options.blockSize));
    // One block (two pieces at least, so small blocks still stream): nothing beyond the block in
    // flight goes twice after a break, however much the browsers' buffers would hold.
    this.inFlightLimit = Math.max(this.options.blockSize, 2 * PIECE_BYTES);
    if (this.options.opfs) void this.sweepStored();
    this.attach(peer);
  }

  /**
   * Carries on over a new Peer for the same remote (after a Room rebuilt the connection, or a
   * page reload on either side): unfinished outgoing transfers are offered again and resume
   * from the last block the receiver verified. Attach before the new Peer connects, so the
   * remote's transfer channel is not missed.
   */
  attach(peer: Peer): void {
    if (this.closed) throw new PeerKitError('CLOSED', 'attach() was called after close().');
    if (peer === this.peer) return;
    this.detach();
    this.disconnected();
    let gone: () => void = () => {};
    this.gone = new Promise((resolve) => (gone = resolve));
    // Firefox fires no channel close when the connection is closed under it (as the spec says),
    // and a Peer emits `close` only after its channels had time to drain: its state says it first.
    const onState = (state: PeerState): void => {
      if (state !== 'closed' || this.peer !== peer) return;
      this.detach();
      this.disconnected();
    };
    peer.on('state', onState);
    // The Peer hands the remote's transfer channel and offers to the Transfers attached to it.
    const files = peer.files;
    files.attached = this;
    this.detach = () => {
      gone();
      this.out = undefined;
      this.peer = undefined;
      if (files.attached === this) files.attached = undefined;
      peer.off('state', onState);
    };
    this.peer = peer;
    for (const transfer of this.outgoing.values()) if (!transfer.finished) this.control(transfer.offer());
  }

  /**
   * Takes the remote's transfer channel, with any messages that arrived on it before; true if
   * `channel` is one. The Peer this Transfers is attached to calls it: its transfer channel never
   * shows up on the Peer's `channel` event.
   */
  adopt(channel: Channel, held: readonly Message[] = []): boolean {
    if (channel.label !== TRANSFER_LABEL) return false;
    channel.on('message', (message) => this.receive(message));
    channel.on('error', (err) => this.emit('error', err));
    for (const message of held) this.receive(message);
    return true;
  }

  /**
   * Sends a File or Blob. Picking the same file again (same name, size, last-modified and first
   * block) after a reload resumes where the receiver left off.
   *
   * @throws PeerKitError `CLOSED` after `close()`, `BAD_ARGUMENT` when `file` is not a Blob
   */
  sendFile(file: Blob, options: SendFileOptions = {}): Transfer {
    if (this.closed) throw new PeerKitError('CLOSED', 'sendFile() was called after close().');
    const transfer = new Transfer(file, options);
    this.send(transfer);
    return transfer;
  }

  /** @internal Sends a Transfer made by `peer.sendFile()` or `room.sendFile()` before this code loaded. */
  send(transfer: Transfer): void {
    const out = new Outgoing(transfer, {
      control: (message) => this.control(message),
      wake: () => void this.pump(),
      forget: (id) => this.forgetOutgoing(id),
      blockSize: this.options.blockSize,
      window: this.window,
    });
    void out.prepare().then(
      (offer) => {
        if (out.finished) return;
        if (this.closed) return out.ended('failed', new PeerKitError('CLOSED', 'The transfers of this Peer were closed.'));
        if (this.outgoing.has(offer.id)) {
          return out.ended('failed', new PeerKitError('BAD_ARGUMENT', `"${out.name}" is already being sent to this Peer.`));
        }
        this.outgoing.set(offer.id, out);
        this.order.push(out);
        this.control(offer);
      },
      (err: unknown) => out.ended('failed', new PeerKitError('BAD_ARGUMENT', `"${out.name}" could not be read.`, { cause: err })),
    );
  }

  /**
   * Stops listening to the Peer. Unfinished transfers stop without a cancel, so their partial
   * files stay resumable; with a `reason`, unfinished transfers both ways also fail with it
   * (an incoming one's `accept()` rejects, and its partial file in OPFS still stays).
   */
  close(reason?: PeerKitError): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.disconnected();
    // Partial files stay for a later Transfers (a reload, a re-joined member) to resume, once
    // the receptions let go of them.
    const claims = [...this.claims];
    this.claims.clear();
    const halted = Promise.allSettled([...this.incoming.values()].map((incoming) => incoming.halt()));
    void halted.then(() => claims.forEach((claim) => claim.release()));
    if (!reason) return;
    for (const out of [...this.outgoing.values()]) out.ended('failed', reason);
    for (const incoming of [...this.incoming.values()]) incoming.abandoned(reason);
  }

  private disconnected(): void {
    for (const transfer of this.outgoing.values()) transfer.disconnected();
    for (const incoming of this.incoming.values()) incoming.disconnected();
  }

  private control(message: object): void {
    const out = this.channelOut();
    out?.send(message as Parameters<Channel['send']>[0]).catch(() => this.lost(out));
  }

  /**
   * A send on `out` failed. Only the current channel's failure means the transfers lost their
   * connection: one from a channel already replaced arrives after the new Peer took over, and
   * would stop transfers that are running on it.
   */
  private lost(out: Channel, transfer?: Outgoing): void {
    if (out !== this.out) return;
    if (transfer) transfer.disconnected();
    else this.disconnected();
  }

  /** This side's transfer channel, opened at the first message so Peers that never transfer have none. */
  private channelOut(): Channel | undefined {
    const peer = this.peer;
    if (this.out || !peer || peer.state === 'closed') return this.out;
    // A fixed, modest high-water mark: what waits in the browser's buffer waits ahead of every
    // other channel's messages on the same association, so transfers must not grow it.
    const out = peer.channel(TRANSFER_LABEL, { ordered: true, highWaterMark: 256 * 1024, lowWaterMark: 64 * 1024 });
    this.unconfirmed = 0;
    out.on('error', (err) => this.emit('error', err));
    out.once('close', () => {
      if (this.out !== out) return;
      this.detach();
      this.disconnected();
    });
    this.out = out;
    return out;
  }

  private forgetOutgoing(id: string): void {
    const transfer = this.outgoing.get(id);
    this.outgoing.delete(id);
    const at = transfer ? this.order.indexOf(transfer) : -1;
    if (at >= 0) this.order.splice(at, 1);
  }

  /** Sends blocks, one transfer after another in turn, while the channel takes them. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let next = this.pick(), out = this.channelOut(); next && out; next = this.pick(), out = this.channelOut()) {
        const { transfer, index, from, block } = next;
        let prepared: PreparedBlock;
        try {
          prepared = await block;
        } catch (err) {
          transfer.ended('failed', new PeerKitError('BAD_ARGUMENT', `"${transfer.name}" could not be read.`, { cause: err }));
          continue;
        }
        await this.sendPieces(out, transfer, index, from, prepared.hash, prepared.data);
        transfer.release(prepared);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Sends block `index` from byte `from` as pieces of {@link PIECE_BYTES}, each a message of its
   * own: a broken connection then loses only the pieces still in its buffers, and the receiver
   * keeps those before them. Stops early when the connection goes or the receiver refused the block.
   */
  private async sendPieces(out: Channel, transfer: Outgoing, index: number, from: number, hash: Uint8Array, data: Uint8Array): Promise<void> {
    const id = transfer.id ?? '';
    let next = from;
    do {
      const start = next;
      const end = Math.min(data.byteLength, start + PIECE_BYTES);
      next = end;
      const spare = this.spare?.byteLength === PIECE_HEADER_BYTES + end - start ? this.spare : undefined;
      this.spare = undefined;
      const message = encodePiece(id, index, start, hash, data.subarray(start, end), spare);
      this.options.tamper?.(index, message);
      await this.roomInFlight(out, message.byteLength);
      if (out !== this.out) return;
      this.unconfirmed += message.byteLength;
      // Counted once handed to the browser: a piece still in this side's queue when the
      // connection went was never sent. Once handed, the channel holds no view of the message,
      // so the next piece is built in it.
      const handed = out.send(message).then(
        () => {
          this.spare = message;
          transfer.sending(index, start, end);
        },
        () => this.lost(out, transfer),
      );
      await Promise.race([handed, this.gone]);
    } while (next < data.byteLength && out === this.out && transfer.sends(index));
  }

  /** Waits until `bytes` more fit in flight on `out`, or `out` is no longer the channel. */
  private async roomInFlight(out: Channel, bytes: number): Promise<void> {
    while (out === this.out && this.unconfirmed > 0 && this.unconfirmed + bytes > this.inFlightLimit) {
      await Promise.race([new Promise<void>((resolve) => (this.confirmedWaiter = resolve)), this.gone]);
    }
  }

  /** The receiver took bytes off our channel. */
  private got(message: GotMessage): void {
    this.unconfirmed = Math.max(0, this.unconfirmed - message.bytes);
    this.confirmedWaiter?.();
    this.confirmedWaiter = undefined;
  }

  private pick(): (TakenBlock & { transfer: Outgoing }) | undefined {
    for (let tries = 0; tries < this.order.length; tries++) {
      this.turn = (this.turn + 1) % this.order.length;
      const transfer = this.order[this.turn];
      const taken = transfer?.take();
      if (transfer && taken) return { transfer, ...taken };
    }
    return undefined;
  }

  private receive(message: Message): void {
    if (message instanceof Uint8Array || message instanceof ArrayBuffer) {
      // Taken off the channel, whatever it turns out to be: the sender may send more.
      this.control({ v: TRANSFER_VERSION, t: 'got', bytes: message.byteLength });
      const piece = decodePiece(message instanceof Uint8Array ? message : new Uint8Array(message));
      if (piece instanceof PeerKitError) return void this.emit('error', piece);
      return this.incoming.get(piece.id)?.piece(piece);
    }
    const parsed = parseControl(message);
    if (parsed instanceof PeerKitError) return void this.emit('error', parsed);
    if (parsed.t === 'got') return this.got(parsed);
    // Offers wait on storage; what follows an offer must not overtake it.
    this.inbox = this.inbox
      .then(() => this.handle(parsed))
      .catch((err: unknown) => void this.emit('error', new PeerKitError('BAD_MESSAGE', `Handling a transfer "${parsed.t}" failed.`, { cause: err })));
  }

  private async handle(message: Exclude<ControlMessage, GotMessage>): Promise<void> {
    const { id } = message;
    const out = this.outgoing.get(id);
    const incoming = this.incoming.get(id);
    switch (message.t) {
      case 'offer':
        return incoming ? incoming.reoffered() : this.offered(message);
      case 'accept':
        return out?.accepted(message.missing, message.partial);
      case 'ack':
        return out?.ack(message.index);
      case 'nack':
        return out?.nack(message.index);
      case 'verified':
        return out?.verified();
      case 'reject':
        return out?.ended('rejected', new PeerKitError('TRANSFER_REJECTED', `The receiver declined "${out.name}".`));
      case 'end':
        return incoming?.end(message.root);
      case 'pause':
      case 'resume':
        return incoming?.paused(message.t === 'pause');
      case 'cancel':
        incoming?.cancelled(message.reason);
        return out?.ended(
          message.reason === 'corrupt' ? 'failed' : 'cancelled',
          message.reason === 'corrupt'
            ? new PeerKitError('TRANSFER_CORRUPT', `The receiver found "${out.name}" does not match its whole-file hash.`)
            : new PeerKitError('TRANSFER_CANCELLED', `The receiver cancelled "${out.name}".`),
        );
    }
  }

  private async offered(offer: OfferMessage): Promise<void> {
    const folder = this.options.opfs ? await opfsFolder() : undefined;
    const claim = folder ? await claimFolder(offer.id) : { name: offer.id, release: () => {} };
    this.claims.add(claim);
    const stored = folder ? await loadStored(folder, offer, claim.name) : nothingStored();
    const incoming = new IncomingTransfer(offer, stored, {
      control: (message) => this.control(message),
      forget: (id, closed) => {
        void closed.finally(() => {
          claim.release();
          this.claims.delete(claim);
        });
        if (this.incoming.get(id) === incoming) this.incoming.delete(id);
      },
      memoryLimit: this.options.memoryLimit,
      useOpfs: this.options.opfs,
      folder: claim.name,
    });
    this.incoming.set(offer.id, incoming);
    this.emit('transfer', incoming);
    this.peer?.emit('transfer', incoming);
  }

  private async sweepStored(): Promise<void> {
    const folder = await opfsFolder();
    if (folder) await sweep(folder, this.options.keepPartialMs);
  }
}

/**
 * Adds file transfers to a Peer, from the outside, through its public API. `peer.sendFile()`
 * and `room.sendFile()` are thin wrappers around this.
 */
export function createTransfers(peer: Peer, options: TransfersOptions = {}): Transfers {
  return new Transfers(peer, options);
}

/**
 * @internal The Transfers a Peer makes for itself. It ends with the Peer, since nothing can
 * carry it over to another one: its unfinished transfers fail with `CLOSED` instead of waiting
 * forever (partial files stay in OPFS, and the same file sent again on a new Peer resumes).
 */
export function ownTransfers(peer: Peer): Transfers {
  const transfers = createTransfers(peer).on('error', (err) => peer.emit('error', err));
  const end = (): void => transfers.close(new PeerKitError('CLOSED', 'The Peer closed; send the same file again on a new Peer to resume it.'));
  if (peer.state === 'closed') end();
  else peer.once('close', end);
  return transfers;
}
