import { PeerKitError } from '../errors.js';
import type { OfferMessage, PartialBlocks, Ranges } from './protocol.js';
import { TRANSFER_VERSION, blockCount, blockLength, fileRoot, sha256, transferId } from './protocol.js';
import { BlockReader } from './reader.js';
import type { Transfer, TransferEngine, TransferProgress, TransferState } from './transfer.js';

/** A block read from the file and hashed, ready to go out. */
export interface PreparedBlock {
  index: number;
  hash: Uint8Array;
  data: Uint8Array;
}

/** A block a transfer may send now, being read, and the byte to start from (the receiver holds those before it). */
export interface TakenBlock {
  index: number;
  from: number;
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
 * The sending side of one Transfer: which blocks go when, reading and hashing them, and what the
 * receiver acknowledged. It drives the Transfer handle the application holds.
 */
export class Outgoing implements TransferEngine {
  private transferId: string | undefined;
  /** Bytes handed to the browser a second time (see `Transfer.resentBytes`). */
  resent = 0;
  private readonly file: Blob;
  private readonly reader: BlockReader;
  private readonly count: number;
  private readonly hashes: (Uint8Array | undefined)[] = [];
  /** Per block, how far into it pieces were ever handed to a channel: what goes again below that is resent. */
  private readonly sentUpTo = new Map<number, number>();
  /** Per block the receiver holds the start of (the latest `accept`), the byte to resume from. */
  private readonly resumeAt = new Map<number, number>();
  private readonly acked = new Set<number>();
  private readonly inflight = new Set<number>();
  private readonly retry: number[] = [];
  private ranges: Ranges = [];
  private verifiedBytes = 0;
  private readonly meter: Meter;
  private readonly ahead = new Map<number, Promise<PreparedBlock>>();

  constructor(
    readonly transfer: Transfer,
    private readonly link: TransferLink,
  ) {
    this.file = transfer.file;
    this.reader = new BlockReader(this.file, link.blockSize);
    this.count = blockCount(transfer.size, link.blockSize);
    this.meter = new Meter(transfer.size);
    transfer.drive(this);
  }

  get id(): string | undefined {
    return this.transferId;
  }

  get name(): string {
    return this.transfer.name;
  }

  get finished(): boolean {
    return this.transfer.finished;
  }

  paused(yes: boolean): void {
    if (!yes) this.transfer.setState(!this.transferId ? 'preparing' : this.ranges.length > 0 || this.inflight.size > 0 || this.retry.length > 0 ? 'sending' : 'offered');
    if (this.transferId) this.link.control({ v: TRANSFER_VERSION, t: yes ? 'pause' : 'resume', id: this.transferId });
    this.link.wake();
  }

  cancelled(): void {
    if (this.transferId) this.link.control({ v: TRANSFER_VERSION, t: 'cancel', id: this.transferId, reason: 'cancel' });
  }

  stopped(): void {
    // Blocks read ahead are not wanted now, and closing the reader ends their reads in errors.
    for (const block of this.ahead.values()) block.catch(() => undefined);
    this.ahead.clear();
    this.reader.close();
    if (this.transferId) this.link.forget(this.transferId);
  }

  /** Hashes the first block and works out the id. */
  async prepare(): Promise<OfferMessage> {
    const first = await this.read(0);
    this.release(first);
    const { name, size } = this.transfer;
    this.transferId = await transferId(name, size, this.file instanceof File ? this.file.lastModified : 0, this.link.blockSize, first.hash);
    if (this.transfer.state === 'preparing') this.transfer.setState('offered');
    return this.offer();
  }

  /** The offer, sent again on every new connection until the transfer ends. */
  offer(): OfferMessage {
    const { name, size, type, meta } = this.transfer;
    const lastModified = this.file instanceof File ? this.file.lastModified : 0;
    return { v: 1, t: 'offer', id: this.transferId ?? '', name, size, type, lastModified, blockSize: this.link.blockSize, meta };
  }

  /**
   * The receiver wants these blocks; everything else it holds already. Of those, it holds the
   * first `bytes` of each block in `partial`: they resume from there.
   */
  accepted(missing: Ranges, partial: PartialBlocks): void {
    if (this.finished) return;
    this.ranges = missing.map(([a, b]) => [Math.min(a, this.count), Math.min(b, this.count)] as [number, number]).filter(([a, b]) => a < b);
    this.resumeAt.clear();
    for (const [index, bytes] of partial) if (bytes > 0 && bytes < this.length(index) && this.isMissing(index)) this.resumeAt.set(index, bytes);
    this.inflight.clear();
    this.retry.length = 0;
    this.acked.clear();
    let have = this.transfer.size;
    for (const [a, b] of this.ranges) for (let i = a; i < b; i++) have -= this.length(i);
    for (let i = 0; i < this.count; i++) if (!this.isMissing(i)) this.acked.add(i);
    this.verifiedBytes = have;
    this.progress();
    if (this.transfer.state !== 'paused') this.transfer.setState('sending');
    void this.maybeEnd();
    this.link.wake();
  }

  /** The receiver stored block `index`. */
  ack(index: number): void {
    if (!this.inflight.delete(index) || this.acked.has(index)) return;
    this.acked.add(index);
    this.verifiedBytes += this.length(index);
    this.progress();
    void this.maybeEnd();
    this.link.wake();
  }

  /** Block `index` arrived damaged: it goes out again before anything else. */
  nack(index: number): void {
    if (!this.inflight.delete(index)) return;
    this.retry.push(index);
    this.link.wake();
  }

  /** The connection went away: what was in flight is asked for again on the next one. */
  disconnected(): void {
    if (this.finished) return;
    this.inflight.clear();
    this.ahead.clear();
    if (this.transfer.state !== 'paused') this.transfer.setState('waiting');
  }

  /** The remote verified the whole file. */
  verified(): void {
    if (this.transfer.state === 'verifying') this.transfer.end('done');
  }

  /** The remote said no, cancelled, found the file corrupt, or it could not be read. */
  ended(state: 'cancelled' | 'rejected' | 'failed', err: PeerKitError): void {
    this.transfer.end(state, err);
  }

  /** The next block this transfer may send now, if any; starts reading the one after. */
  take(): TakenBlock | undefined {
    if (this.transfer.state !== 'sending' || this.inflight.size >= this.link.window) return undefined;
    const index = this.retry.shift() ?? this.nextFromRanges();
    if (index === undefined) return undefined;
    this.inflight.add(index);
    const from = this.resumeAt.get(index) ?? 0;
    this.resumeAt.delete(index);
    const block = this.ahead.get(index) ?? this.read(index);
    this.ahead.delete(index);
    const following = this.retry[0] ?? this.ranges[0]?.[0];
    if (following !== undefined && !this.ahead.has(following)) this.ahead.set(following, this.read(following));
    return { index, from, block };
  }

  /** Block `block` went out (or will not): its buffer is read into again. */
  release(block: PreparedBlock): void {
    this.reader.release(block.data);
  }

  /** Whether the rest of block `index` should still go out: not once it was refused or the connection went. */
  sends(index: number): boolean {
    return this.inflight.has(index) && !this.finished;
  }

  /** Bytes `[start, end)` of block `index` were handed to the browser; what went before counts as resent. */
  sending(index: number, start: number, end: number): void {
    const before = this.sentUpTo.get(index) ?? 0;
    this.resent += Math.max(0, Math.min(end, before) - start);
    if (end > before) this.sentUpTo.set(index, end);
  }

  private progress(): void {
    this.transfer.emit('progress', this.meter.reading(this.verifiedBytes));
  }

  private length(index: number): number {
    return blockLength(index, this.transfer.size, this.link.blockSize);
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
    const data = await this.reader.read(index);
    const hash = await sha256(data);
    this.hashes[index] = hash;
    return { index, hash, data };
  }

  /** Every block stored: send the whole-file hash, hashing first the blocks a resume skipped. */
  private async maybeEnd(): Promise<void> {
    const state = this.transfer.state;
    if (this.acked.size < this.count || state === 'verifying' || this.finished || !this.transferId) return;
    this.transfer.setState('verifying');
    try {
      for (let i = 0; i < this.count; i++) if (!this.hashes[i]) this.release(await this.read(i));
    } catch (err) {
      this.link.control({ v: TRANSFER_VERSION, t: 'cancel', id: this.transferId, reason: 'cancel' });
      return this.ended('failed', new PeerKitError('BAD_ARGUMENT', `"${this.name}" could not be read again.`, { cause: err }));
    }
    const hashes = this.hashes.filter((h): h is Uint8Array => h !== undefined);
    this.link.control({ v: TRANSFER_VERSION, t: 'end', id: this.transferId, root: await fileRoot(hashes) });
  }
}
