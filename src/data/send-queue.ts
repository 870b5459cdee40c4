import { PeerKitError } from '../errors.js';

/** What the send queue needs of an RTCDataChannel; tests pass a fake one. */
export interface DataChannelLike {
  readonly readyState: RTCDataChannelState;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  send(data: string | ArrayBufferView): void;
}

/** One `RTCDataChannel.send()` worth of data. */
export type Piece = string | ArrayBufferView;

/** A message that goes out as several pieces, read one at a time (chunks, Blob slices). */
export interface Outbound {
  /** The next piece, a promise of it while it is read, or undefined once every piece went out. */
  next(): Piece | Promise<Piece> | undefined;
  /** Told after each piece is handed to the channel. */
  handed(): void;
}

/**
 * Where the high-water mark stays when it adapts, and where it starts: at the floor, which
 * measured fastest on a link that keeps up (bench/run.mjs), so it grows only where the link
 * drains it. The cap stays well under the 16 MiB queue past which Chromium refuses sends.
 */
export const ADAPTIVE_MARK = { min: 1 << 16, start: 1 << 16, max: 1 << 22 };

/** How the queue holds back: a fixed high-water mark, or `undefined` to adapt it. */
export interface Marks {
  high: number | undefined;
  low: number;
}

interface Job {
  message: Piece | Outbound;
  resolve(): void;
  reject(err: PeerKitError): void;
}

const noop = (): void => {};
const isPiece = (message: Piece | Outbound): message is Piece => typeof message === 'string' || ArrayBuffer.isView(message);
const SENT = Promise.resolve();

/** A promise rejected with `err` that, left unawaited, is no unhandled rejection. */
export function rejection(err: PeerKitError): Promise<void> {
  const rejected = Promise.reject(err);
  rejected.catch(noop);
  return rejected;
}

/**
 * Messages in, `send()` calls out, in order, never more than the high-water mark ahead of the
 * wire. A message sent while nothing waits and the buffer is under the mark goes out at once,
 * inside the call; the rest wait their turn.
 */
export class SendQueue {
  /** Messages wholly handed to the channel. */
  sent = 0;
  private readonly jobs: Job[] = [];
  private high: number;
  private readonly share: number;
  private pumping = false;
  /** A wake found data left in the buffer: this browser reports its buffer draining as it goes. */
  private drains = false;
  private wakeUp: () => void = noop;
  private idleNow: () => void = noop;

  /**
   * @param dc - the channel; its `bufferedamountlow` and `open` events must call {@link wake}
   * @param gone - the error for messages the channel can no longer carry
   */
  constructor(
    private readonly dc: DataChannelLike,
    private readonly marks: Marks,
    private readonly gone: (cause?: unknown) => PeerKitError,
  ) {
    this.high = marks.high ?? ADAPTIVE_MARK.start;
    this.share = marks.high === undefined ? Math.min(1, marks.low / ADAPTIVE_MARK.start) : marks.low / marks.high;
    dc.bufferedAmountLowThreshold = Math.round(this.high * this.share);
  }

  /** The current high-water mark, in bytes. */
  get highWaterMark(): number {
    return this.high;
  }

  /** Messages not yet wholly handed over. */
  get length(): number {
    return this.jobs.length;
  }

  /** Resolves once `message` is wholly handed to the channel; rejects when the channel cannot take it. */
  push(message: Piece | Outbound): Promise<void> {
    if (this.jobs.length === 0 && isPiece(message) && this.dc.readyState === 'open' && this.dc.bufferedAmount <= this.high) {
      try {
        this.dc.send(message);
      } catch (err) {
        return rejection(this.gone(err));
      }
      this.sent++;
      return SENT;
    }
    const queued = new Promise<void>((resolve, reject) => this.jobs.push({ message, resolve, reject }));
    // Fire-and-forget sends must not surface as unhandled rejections; awaiting still sees them.
    queued.catch(noop);
    void this.pump();
    return queued;
  }

  /** Sends `piece` at once, ahead of anything queued: control frames, which are no message. */
  bypass(piece: Piece): void {
    this.dc.send(piece);
  }

  /** The channel opened, or its buffer fell to the low-water mark: carry on. */
  wake(): void {
    this.wakeUp();
    void this.pump();
  }

  /** Rejects every waiting message with `err`. */
  fail(err: PeerKitError): void {
    for (const job of this.jobs.splice(0)) job.reject(err);
    this.idleNow();
  }

  /** Resolves once nothing waits (sent or failed). */
  idle(): Promise<void> {
    return this.jobs.length === 0 ? SENT : new Promise((resolve) => (this.idleNow = resolve));
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.dc.readyState !== 'open') return;
    this.pumping = true;
    for (let job = this.jobs[0]; job; job = this.jobs[0]) {
      try {
        await this.transmit(job.message);
      } catch (err) {
        this.pumping = false;
        return this.fail(err instanceof PeerKitError ? err : this.gone(err));
      }
      // A job failed while it was going out is gone from the queue already.
      if (this.jobs[0] !== job) continue;
      this.jobs.shift();
      this.sent++;
      job.resolve();
    }
    this.pumping = false;
    this.idleNow();
  }

  private async transmit(message: Piece | Outbound): Promise<void> {
    if (isPiece(message)) {
      if (this.dc.bufferedAmount > this.high) await this.room();
      return this.dc.send(message);
    }
    for (let next = message.next(); next !== undefined; next = message.next()) {
      const piece = next instanceof Promise ? await next : next;
      if (this.dc.bufferedAmount > this.high) await this.room();
      this.dc.send(piece);
      message.handed();
    }
  }

  /** Resolves once the channel's buffer is under the high-water mark; rejects if the channel closes. */
  private room(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.dc.readyState !== 'open') {
          this.wakeUp = noop;
          reject(this.gone());
        } else if (this.dc.bufferedAmount <= this.high) {
          this.wakeUp = noop;
          this.adapt();
          resolve();
        }
      };
      this.wakeUp = check;
      check();
    });
  }

  /**
   * After a wait: a buffer that drained empty means the link sat idle waiting for data, so the
   * mark grows; one that still held data means the mark was more than enough, so it shrinks a
   * little. Growth is fast and shrinking slow, so the link is rarely starved. An empty buffer
   * says so only where the browser reports its buffer draining as it goes, which a wake with data
   * left proves. Firefox 153 fires `bufferedamountlow` only once its own queue has gone, in
   * bursts, to the SCTP stack below, so every wake finds it empty: there a larger mark only
   * lengthens that queue (measured slower), and until a wake proves otherwise the mark halves.
   */
  private adapt(): void {
    if (this.marks.high !== undefined) return;
    const left = this.dc.bufferedAmount;
    if (left > 0) this.drains = true;
    const next = left > 0 ? this.high * 0.9 : this.drains ? this.high * 2 : this.high / 2;
    this.high = Math.round(Math.min(ADAPTIVE_MARK.max, Math.max(ADAPTIVE_MARK.min, next)));
    this.dc.bufferedAmountLowThreshold = Math.round(this.high * this.share);
  }
}
