import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import { toHex } from '../util.js';
import { Assembly } from './assembly.js';
import type { WholeBlock } from './assembly.js';
import { Meter } from './outgoing.js';
import type { TransferEvents, TransferState } from './transfer.js';
import type { OfferMessage, PieceMessage } from './protocol.js';
import { TRANSFER_VERSION, blockCount, blockLength, fileRoot, missingRanges, sha256 } from './protocol.js';
import type { BlockStore, Stored } from './store.js';
import { MemoryStore, OpfsStore, SinkStore, opfsFolder } from './store.js';

/** Options of `incoming.accept()`. */
export interface AcceptOptions {
  /**
   * Receive into this stream, in file order, instead of a File. A sink cannot be rewound, so
   * such a transfer resumes only while this page lives.
   */
  sink?: WritableStream<Uint8Array>;
}

/** What an IncomingTransfer needs from the Transfers that owns it. */
export interface IncomingLink {
  control(message: object): void;
  /** The transfer ended; `closed` settles once its store let go of its files. */
  forget(id: string, closed: Promise<unknown>): void;
  memoryLimit: number;
  useOpfs: boolean;
  /** The OPFS folder claimed for it (see `claimFolder`). */
  folder: string;
}

/**
 * A file the remote offers. Emitted on `transfer`; call `accept()` or `reject()`.
 *
 * @example
 * ```ts
 * transfers.on('transfer', async (incoming) => {
 *   if (incoming.resumedFrom > 0) console.log('resuming', incoming.name);
 *   const file = await incoming.accept();
 *   download(file);
 * });
 * ```
 */
export class IncomingTransfer extends Emitter<TransferEvents> {
  /** The sender's id for this file, the same across reconnects and reloads (see `Transfer.id`). */
  readonly id: string;
  /** File name announced by the sender; not sanitised, so check it before using it as a path. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** MIME type announced by the sender; `''` when unknown. */
  readonly type: string;
  /** The sender's `File.lastModified`, in milliseconds since the epoch; 0 when it sent a plain Blob. */
  readonly lastModified: number;
  /** The sender's `meta` option; `null` when it gave none. */
  readonly meta: unknown;
  /** Bytes already received and verified in an earlier session (kept in OPFS); 0 for a new transfer. */
  readonly resumedFrom: number;
  /** Blocks that arrived damaged and were fetched again. */
  refetchedBlocks = 0;
  private current: TransferState = 'offered';
  private readonly count: number;
  private readonly hashes: Map<number, Uint8Array>;
  private readonly stored: Stored;
  private readonly working = new Set<Promise<void>>();
  /**
   * The start of blocks received in part, kept across a broken connection for the life of this
   * object (not across a reload) so the sender resumes inside them.
   */
  private readonly assembly = new Assembly();
  /** Blocks whole and being verified and stored: their pieces are not wanted. */
  private readonly completing = new Set<number>();
  private store: BlockStore | undefined;
  private root: string | undefined;
  private bytes: number;
  private readonly meter: Meter;
  private result: Promise<File | undefined> | undefined;
  private settle = { resolve: (_file: File | undefined): void => {}, reject: (_err: PeerKitError): void => {} };
  private checking = false;
  private halted = false;

  /** @internal Made by Transfers when an offer arrives. */
  constructor(
    private readonly offer: OfferMessage,
    stored: Stored,
    private readonly link: IncomingLink,
  ) {
    super();
    ({ id: this.id, name: this.name, size: this.size, type: this.type, lastModified: this.lastModified, meta: this.meta } = offer);
    this.count = blockCount(offer.size, offer.blockSize);
    this.stored = stored;
    this.hashes = stored.hashes;
    this.bytes = 0;
    for (const index of this.hashes.keys()) this.bytes += blockLength(index, offer.size, offer.blockSize);
    this.resumedFrom = this.bytes;
    this.meter = new Meter(offer.size);
  }

  /** Where the transfer is now; each change is also emitted as `state`. */
  get state(): TransferState {
    return this.current;
  }

  /** Verified bytes so far. */
  get received(): number {
    return this.bytes;
  }

  /**
   * Accepts the file. Without a sink it is written to the Origin Private File System where there
   * is one (and resumes after a reload), else kept in memory up to the Transfers' `memoryLimit`.
   *
   * @returns the File once every byte is verified (with a sink: undefined, the stream closed);
   * rejects with `TRANSFER_CANCELLED`, `TRANSFER_CORRUPT`, or `UNSUPPORTED` when the file is
   * larger than `memoryLimit` with no OPFS and no sink
   */
  accept(): Promise<File>;
  accept(options: { sink: WritableStream<Uint8Array> }): Promise<undefined>;
  accept(options: AcceptOptions = {}): Promise<File | undefined> {
    this.result ??= this.start(options);
    return this.result;
  }

  /** Declines the offer; the sender's `done` rejects with `TRANSFER_REJECTED`. Once accepted, use {@link IncomingTransfer.cancel}. */
  reject(): void {
    if (this.result || this.finished) return;
    this.link.control({ v: TRANSFER_VERSION, t: 'reject', id: this.id });
    this.finish('rejected');
  }

  /** Stops receiving and removes what was stored; the sender's `done` rejects with `TRANSFER_CANCELLED`. */
  cancel(): void {
    if (this.finished) return;
    this.link.control({ v: TRANSFER_VERSION, t: 'cancel', id: this.id, reason: 'cancel' });
    this.fail('cancelled', new PeerKitError('TRANSFER_CANCELLED', `The transfer of "${this.name}" was cancelled on this side.`));
  }

  /** True once the state is `done`, `cancelled`, `rejected` or `failed`: nothing more happens. */
  get finished(): boolean {
    return this.current === 'done' || this.current === 'cancelled' || this.current === 'rejected' || this.current === 'failed';
  }

  /**
   * @internal The sender offered again on a new connection: tell it what is still missing, once
   * the blocks that arrived before the break are stored, so none of them is asked for twice.
   */
  async reoffered(): Promise<void> {
    if (this.store) {
      await Promise.allSettled(this.working);
      if (!this.finished) this.requestMissing();
    }
    if (this.current === 'waiting') this.setState('sending');
  }

  /** @internal The connection went away. */
  disconnected(): void {
    if (!this.finished && this.store) this.setState('waiting');
  }

  /**
   * @internal This side stopped listening for good (the member left, or the Transfers closed
   * with a reason): `accept()` rejects with `reason`, and a partial file in OPFS stays for a
   * later offer of the same file to resume.
   */
  abandoned(reason: PeerKitError): void {
    this.fail('failed', reason, (store) => store.leave(reason));
  }

  /**
   * @internal Its Transfers closed without a reason: nothing more arrives, and the store lets
   * go of its files, so that a later Transfers (a reload, a rejoined member) can resume them.
   */
  async halt(): Promise<void> {
    this.halted = true;
    await Promise.allSettled(this.working);
    await this.store?.close();
  }

  /** @internal The sender paused or resumed. */
  paused(yes: boolean): void {
    if (!this.finished) this.setState(yes ? 'paused' : 'sending');
  }

  /**
   * @internal A piece of a block arrived. It must start at or before the end of what is held of
   * its block, end inside the block and carry the same block hash as the pieces before it; a
   * piece that does not is refused and the block fetched again whole.
   */
  piece(piece: PieceMessage): void {
    const { index } = piece;
    if (!this.store || this.finished || index >= this.count || this.hashes.has(index) || this.completing.has(index)) return;
    const whole = this.assembly.add(piece, blockLength(index, this.size, this.offer.blockSize));
    if (whole === 'refused') {
      this.refetchedBlocks++;
      this.link.control({ v: TRANSFER_VERSION, t: 'nack', id: this.id, index });
    } else if (whole) {
      this.block(whole);
    }
  }

  private block(block: WholeBlock): void {
    if (!this.store) return;
    this.completing.add(block.index);
    const work = this.take(block, this.store).catch((err: unknown) => this.storageFailed(err));
    this.working.add(work);
    void work.finally(() => {
      this.working.delete(work);
      this.completing.delete(block.index);
    });
  }

  /** @internal The sender's whole-file hash. */
  end(root: string): void {
    this.root = root;
    void this.check();
  }

  /** @internal The sender cancelled. */
  cancelled(reason: string): void {
    this.fail('cancelled', new PeerKitError('TRANSFER_CANCELLED', `The sender cancelled the transfer of "${this.name}" (${reason}).`));
  }

  private async start(options: AcceptOptions): Promise<File | undefined> {
    if (this.finished) throw new PeerKitError('BAD_ARGUMENT', `The transfer of "${this.name}" is already ${this.current}.`);
    const result = new Promise<File | undefined>((resolve, reject) => (this.settle = { resolve, reject }));
    const folder = options.sink || !this.link.useOpfs ? undefined : await opfsFolder();
    if (this.finished || this.halted) return result;
    if (options.sink) {
      this.store = new SinkStore(options.sink);
      // Blocks kept from an earlier session never reach this stream: fetch them again.
      this.hashes.clear();
      this.bytes = 0;
    } else if (folder) {
      // Opening is work in hand: a halt() or fail() meanwhile waits for it, then closes the store.
      const opening = OpfsStore.open(folder, this.offer, this.link.folder, this.stored).then((store) => {
        this.store = store;
      });
      this.working.add(opening);
      try {
        await opening;
      } catch (err) {
        this.storageFailed(err);
        return result;
      } finally {
        this.working.delete(opening);
      }
      if (this.finished || this.halted) return result;
    } else if (this.size <= this.link.memoryLimit) {
      this.store = new MemoryStore(this.offer);
    } else {
      const err = new PeerKitError('UNSUPPORTED', `"${this.name}" is ${this.size} bytes: without OPFS, pass accept({ sink }) for files over ${this.link.memoryLimit} bytes.`);
      this.link.control({ v: TRANSFER_VERSION, t: 'reject', id: this.id });
      this.finish('rejected');
      throw err;
    }
    this.setState('sending');
    this.requestMissing();
    return result;
  }

  private requestMissing(): void {
    const missing = missingRanges(this.count, (i) => this.hashes.has(i));
    this.link.control({ v: TRANSFER_VERSION, t: 'accept', id: this.id, missing, partial: this.assembly.held() });
  }

  private async take(block: WholeBlock, store: BlockStore): Promise<void> {
    const hash = await sha256(block.data);
    if (toHex(hash) !== toHex(block.hash) || block.data.byteLength !== blockLength(block.index, this.size, this.offer.blockSize)) {
      this.refetchedBlocks++;
      this.link.control({ v: TRANSFER_VERSION, t: 'nack', id: this.id, index: block.index });
      return this.assembly.recycle(block.data.buffer as ArrayBuffer);
    }
    const length = block.data.byteLength;
    this.assembly.recycle(await store.write(block.index, block.data, hash));
    if (this.finished || this.hashes.has(block.index)) return;
    this.hashes.set(block.index, hash);
    this.bytes += length;
    this.link.control({ v: TRANSFER_VERSION, t: 'ack', id: this.id, index: block.index });
    this.emit('progress', this.meter.reading(this.bytes));
    await this.check();
  }

  private async check(): Promise<void> {
    if (!this.store || this.root === undefined || this.hashes.size < this.count || this.checking || this.finished) return;
    this.checking = true;
    this.setState('verifying');
    await Promise.all(this.working);
    const hashes = Array.from({ length: this.count }, (_, i) => this.hashes.get(i) as Uint8Array);
    if ((await fileRoot(hashes)) !== this.root) {
      this.link.control({ v: TRANSFER_VERSION, t: 'cancel', id: this.id, reason: 'corrupt' });
      return this.fail('failed', new PeerKitError('TRANSFER_CORRUPT', `"${this.name}" does not match the sender's whole-file hash.`));
    }
    try {
      const file = await this.store.finish();
      this.link.control({ v: TRANSFER_VERSION, t: 'verified', id: this.id });
      this.finish('done');
      this.settle.resolve(file);
    } catch (err) {
      this.storageFailed(err);
    }
  }

  /**
   * Storage refused (quota, a revoked permission, its folder removed): the transfer cannot go on
   * here, and the sender is told so rather than left waiting.
   */
  private storageFailed(err: unknown): void {
    this.link.control({ v: TRANSFER_VERSION, t: 'cancel', id: this.id, reason: 'cancel' });
    this.fail('failed', new PeerKitError('TRANSFER_CANCELLED', `"${this.name}" could not be stored: ${err instanceof Error ? err.message : String(err)}.`, { cause: err }));
  }

  private fail(state: TransferState, err: PeerKitError, end = (store: BlockStore) => store.discard(err)): void {
    if (this.finished) return;
    // A file still being written cannot be removed (its handle holds it): let the writes end,
    // and a store still opening open. Until the store lets go, the folder stays claimed: a new
    // reception could not open it.
    const closed = Promise.allSettled(this.working).then(() => this.store && end(this.store));
    this.finish(state, closed);
    this.settle.reject(err);
  }

  private finish(state: TransferState, closed: Promise<unknown> = Promise.resolve()): void {
    this.setState(state);
    this.link.forget(this.id, closed);
  }

  private setState(next: TransferState): void {
    if (next === this.current || this.finished) return;
    this.current = next;
    this.emit('state', next);
  }
}
