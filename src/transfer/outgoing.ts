import { EventEmitter } from 'eventemitter3';
import { PeerKitError } from '../errors.js';
import type { OfferMessage, Ranges } from './protocol.js';
import { TRANSFER_VERSION, blockCount, blockLength, fileRoot, sha256, transferId } from './protocol.js';

/** How far a transfer got; `bytes` counts only what the receiver verified and stored. */
export interface TransferProgress {
  /** Bytes verified so far. */
  bytes: number;
  /** The file's size in bytes. */
  total: number;
  /** Over the last few seconds. */
  bytesPerSecond: number;
  /** Time left at that rate; `Infinity` while nothing moves. */
  etaMs: number;
}

/**
 * `preparing` (hashing the first block), `offered` (waiting for the receiver to accept),
 * `sending`, `paused`, `waiting` (no open connection: resumes when a Peer is attached again),
 * `verifying` (every block stored, the whole-file hash being checked), then `done`,
 * `cancelled`, `rejected` or `failed`.
 */
export type TransferState = 'preparing' | 'offered' | 'sending' | 'paused' | 'waiting' | 'verifying' | 'done' | 'cancelled' | 'rejected' | 'failed';

/** Events of a Transfer or an IncomingTransfer. */
export interface TransferEvents {
  /** How far the transfer got, emitted as blocks are verified (and, on the sender, when the receiver accepts). */
  progress: [progress: TransferProgress];
  /** The transfer moved to `state`. */
  state: [state: TransferState];
}

/** Options of one `sendFile()`. */
export interface SendFileOptions {
  /** Any JSON value, handed to the receiver as `incoming.meta`. @default null */
  meta?: unknown;
  /** The name announced for a Blob that is not a File. @default 'blob' */
  name?: string;
}

/** A block read from the file and hashed, ready to go out. */
export interface PreparedBlock {
  index: number;
  hash: Uint8Array;
  data: Uint8Array;
}

/** A block a transfer may send now, being read. */
export interface TakenBlock {
  index: number;
  block: Promise<PreparedBlock>;
}

/** What a Transfer needs from the Transfers that owns it. */
export interface TransferLink {
  control(message: object): void;
  wake(): void;
  forget(id: string): void;
  blockSize: number;
  window: number;
}

const FINISHED: readonly TransferState[] = ['done', 'cancelled', 'rejected', 'failed'];
const RATE_WINDOW_MS = 3000;

/** Progress and rate, shared by both directions. */
export class Meter {
  private readonly samples: [number, number][] = [];

  constructor(readonly total: number) {}

  reading(bytes: number): TransferProgress {
    const now = performance.now();
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - (this.samples[0]?.[0] ?? now) > RATE_WINDOW_MS) this.samples.shift();
    const [t0, b0] = this.samples[0] ?? [now, bytes];
    const bytesPerSecond = now > t0 ? ((bytes - b0) * 1000) / (now - t0) : 0;
    const etaMs = bytes >= this.total ? 0 : bytesPerSecond > 0 ? ((this.total - bytes) * 1000) / bytesPerSecond : Infinity;
    return { bytes, total: this.total, bytesPerSecond, etaMs };
  }
}

/**
 * One file being sent. Returned by `sendFile()`; `done` resolves once the receiver has verified
 * every block and the whole file's hash.
 *
 * @example
 * ```ts
 * const t = transfers.sendFile(file, { meta: { album: 'trip' } });
 * t.on('progress', ({ bytes, total }) => (bar.value = bytes / total));
 * pauseButton.onclick = () => (t.state === 'paused' ? t.resume() : t.pause());
 * await t.done;
 * ```
 */
export class Transfer extends EventEmitter<TransferEvents> {
  /** Resolves once the receiver verified the whole file; rejects on cancel, reject or failure. */
  readonly done: Promise<void>;
  /** The File's name, or `options.name` (default `'blob'`) for another Blob. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** MIME type of the Blob; `''` when unknown. */
  readonly type: string;
  /** `options.meta`, as the receiver gets it; `null` when none was given. */
  readonly meta: unknown;
  /** Blocks sent more than once (fetched again after corruption, or lost in an interruption). */
  resentBlocks = 0;
  private transferId: string | undefined;
  private current: TransferState = 'preparing';
  private readonly count: number;
  private readonly hashes: (Uint8Array | undefined)[] = [];
  private readonly sent = new Set<number>();
  private readonly acked = new Set<number>();
  private readonly inflight = new Set<number>();
  private readonly retry: number[] = [];
  private ranges: Ranges = [];
  private verifiedBytes = 0;
  private readonly meter: Meter;
  private readonly ahead = new Map<number, Promise<PreparedBlock>>();
  private settle = { resolve: (): void => {}, reject: (_err: PeerKitError): void => {} };
  private ending = false;

  /** @internal Made by `sendFile()`. */
  constructor(
    private readonly file: Blob,
    options: SendFileOptions,
    private readonly link: TransferLink,
  ) {
    super();
    this.name = file instanceof File ? file.name : (options.name ?? 'blob');
    this.size = file.size;
    this.type = file.type;
    this.meta = options.meta ?? null;
    this.count = blockCount(this.size, link.blockSize);
    this.meter = new Meter(this.size);
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined);
  }

  /** Identifies this file: the same file picked again, on either side of a reload, gets the same id. Set once hashed. */
  get id(): string | undefined {
    return this.transferId;
  }

  /** Where the transfer is now; each change is also emitted as `state`. */
  get state(): TransferState {
    return this.current;
  }

  /** Stops sending blocks after the one in flight; `resume()` continues. */
  pause(): void {
    if (this.finished || this.current === 'paused') return;
    this.setState('paused');
    if (this.transferId) this.link.control({ v: TRANSFER_VERSION, t: 'pause', id: this.transferId });
  }

  /** Continues a transfer paused by `pause()`; does nothing in any other state. */
  resume(): void {
    if (this.current !== 'paused') return;
    this.setState(this.ranges.length > 0 || this.inflight.size > 0 || this.retry.length > 0 ? 'sending' : 'offered');
    if (this.transferId) this.link.control({ v: TRANSFER_VERSION, t: 'resume', id: this.transferId });
    this.link.wake();
  }

  /** Ends the transfer on both sides; the receiver removes what it stored. `done` rejects with `TRANSFER_CANCELLED`. */
  cancel(): void {
    if (this.finished) return;
    if (this.transferId) this.link.control({ v: TRANSFER_VERSION, t: 'cancel', id: this.transferId, reason: 'cancel' });
    this.end('cancelled', new PeerKitError('TRANSFER_CANCELLED', `The transfer of "${this.name}" was cancelled on this side.`));
  }

  /** @internal Hashes the first block and works out the id. */
  async prepare(): Promise<OfferMessage> {
    const first = await this.read(0);
    this.transferId = await transferId(this.name, this.size, this.file instanceof File ? this.file.lastModified : 0, this.link.blockSize, first.hash);
    if (this.current === 'preparing') this.setState('offered');
    return this.offer();
  }

  /** @internal The offer, sent again on every new connection until the transfer ends. */
  offer(): OfferMessage {
    const lastModified = this.file instanceof File ? this.file.lastModified : 0;
    return { v: 1, t: 'offer', id: this.transferId ?? '', name: this.name, size: this.size, type: this.type, lastModified, blockSize: this.link.blockSize, meta: this.meta };
  }

  /** True once the state is `done`, `cancelled`, `rejected` or `failed`: nothing more happens. */
  get finished(): boolean {
    return FINISHED.includes(this.current);
  }

  /** @internal The receiver wants these blocks; everything else it holds already. */
  accepted(missing: Ranges): void {
    if (this.finished) return;
    this.ranges = missing.map(([a, b]) => [Math.min(a, this.count), Math.min(b, this.count)] as [number, number]).filter(([a, b]) => a < b);
    this.inflight.clear();
    this.retry.length = 0;
    this.acked.clear();
    let have = this.size;
    for (const [a, b] of this.ranges) for (let i = a; i < b; i++) have -= blockLength(i, this.size, this.link.blockSize);
    for (let i = 0; i < this.count; i++) if (!this.isMissing(i)) this.acked.add(i);
    this.verifiedBytes = have;
    this.emit('progress', this.meter.reading(have));
    if (this.current !== 'paused') this.setState('sending');
    void this.maybeEnd();
    this.link.wake();
  }

  /** @internal The receiver stored block `index`. */
  ack(index: number): void {
    if (!this.inflight.delete(index) || this.acked.has(index)) return;
    this.acked.add(index);
    this.verifiedBytes += blockLength(index, this.size, this.link.blockSize);
    this.emit('progress', this.meter.reading(this.verifiedBytes));
    void this.maybeEnd();
    this.link.wake();
  }

  /** @internal Block `index` arrived damaged: it goes out again before anything else. */
  nack(index: number): void {
    if (!this.inflight.delete(index)) return;
    this.retry.push(index);
    this.link.wake();
  }

  /** @internal The connection went away: what was in flight is asked for again on the next one. */
  disconnected(): void {
    if (this.finished) return;
    this.inflight.clear();
    this.ahead.clear();
    if (this.current !== 'paused') this.setState('waiting');
  }

  /** @internal The remote verified the whole file. */
  verified(): void {
    if (this.current === 'verifying') this.end('done');
  }

  /** @internal The remote said no, cancelled, or found the file corrupt. */
  ended(state: 'cancelled' | 'rejected' | 'failed', err: PeerKitError): void {
    this.end(state, err);
  }

  /** @internal The next block this transfer may send now, if any; starts reading the one after. */
  take(): TakenBlock | undefined {
    if (this.current !== 'sending' || this.inflight.size >= this.link.window) return undefined;
    const index = this.retry.shift() ?? this.nextFromRanges();
    if (index === undefined) return undefined;
    this.inflight.add(index);
    if (this.sent.has(index)) this.resentBlocks++;
    this.sent.add(index);
    const block = this.ahead.get(index) ?? this.read(index);
    this.ahead.delete(index);
    const following = this.retry[0] ?? this.ranges[0]?.[0];
    if (following !== undefined && !this.ahead.has(following)) this.ahead.set(following, this.read(following));
    return { index, block };
  }

  private nextFromRanges(): number | undefined {
    const range = this.ranges[0];
    if (!range) return undefined;
    const index = range[0];
    range[0]++;
    if (range[0] >= range[1]) this.ranges.shift();
    return index;
  }

  private isMissing(index: number): boolean {
    return this.ranges.some(([a, b]) => index >= a && index < b);
  }

  private async read(index: number): Promise<PreparedBlock> {
    const start = index * this.link.blockSize;
    const data = new Uint8Array(await this.file.slice(start, start + blockLength(index, this.size, this.link.blockSize)).arrayBuffer());
    const hash = await sha256(data);
    this.hashes[index] = hash;
    return { index, hash, data };
  }

  /** Every block stored: send the whole-file hash, hashing first the blocks a resume skipped. */
  private async maybeEnd(): Promise<void> {
    if (this.acked.size < this.count || this.current === 'verifying' || this.finished || !this.transferId) return;
    this.setState('verifying');
    try {
      for (let i = 0; i < this.count; i++) if (!this.hashes[i]) await this.read(i);
    } catch (err) {
      this.link.control({ v: TRANSFER_VERSION, t: 'cancel', id: this.transferId, reason: 'cancel' });
      return this.end('failed', new PeerKitError('BAD_ARGUMENT', `"${this.name}" could not be read again.`, { cause: err }));
    }
    const hashes = this.hashes.filter((h): h is Uint8Array => h !== undefined);
    this.link.control({ v: TRANSFER_VERSION, t: 'end', id: this.transferId, root: await fileRoot(hashes) });
  }

  private end(state: TransferState, err?: PeerKitError): void {
    if (this.ending) return;
    this.ending = true;
    this.ahead.clear();
    this.setState(state);
    if (this.transferId) this.link.forget(this.transferId);
    if (err) this.settle.reject(err);
    else this.settle.resolve();
  }

  private setState(next: TransferState): void {
    if (next === this.current) return;
    this.current = next;
    this.emit('state', next);
  }
}
