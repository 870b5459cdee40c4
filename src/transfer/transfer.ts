/**
 * The handle of one outgoing file transfer. It is all that `peer.sendFile()` needs before the
 * transfer code has loaded (see src/peer/files.ts), so it stays small: state, events, `done`,
 * and the three controls. How blocks are read, hashed, sent and acknowledged lives in
 * {@link ./outgoing.ts}, which drives this handle once loaded.
 * @packageDocumentation
 */
import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';

/** The label of the channel that carries transfers (docs/protocol.md, "Transfers"). */
export const TRANSFER_LABEL = 'peerkit-transfer';

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
 * `preparing` (loading the transfer code, hashing the first block), `offered` (waiting for the
 * receiver to accept), `sending`, `paused`, `waiting` (no open connection: resumes when a Peer is
 * attached again), `verifying` (every block stored, the whole-file hash being checked), then
 * `done`, `cancelled`, `rejected` or `failed`.
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

/** @internal What drives a Transfer once the transfer code has loaded. */
export interface TransferEngine {
  readonly id: string | undefined;
  /** Bytes sent more than once so far. */
  readonly resent: number;
  /** Tells the receiver; resuming also sets the state it goes back to, and restarts sending. */
  paused(yes: boolean): void;
  cancelled(): void;
  stopped(): void;
}

const FINISHED: readonly TransferState[] = ['done', 'cancelled', 'rejected', 'failed'];

/** @internal @throws PeerKitError `BAD_ARGUMENT` when `file` is not a Blob */
export function checkFile(file: unknown): void {
  if (!(file instanceof Blob)) throw new PeerKitError('BAD_ARGUMENT', 'sendFile() takes a File or Blob.');
}

/**
 * One file being sent. Returned by `peer.sendFile()`, `room.sendFile()` and
 * `transfers.sendFile()`; `done` resolves once the receiver has verified every block and the
 * whole file's hash.
 *
 * @example
 * ```ts
 * const t = peer.sendFile(file, { meta: { album: 'trip' } });
 * t.on('progress', ({ bytes, total }) => (bar.value = bytes / total));
 * pauseButton.onclick = () => (t.state === 'paused' ? t.resume() : t.pause());
 * await t.done;
 * ```
 */
export class Transfer extends Emitter<TransferEvents> {
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
  /**
   * Bytes sent more than once: blocks fetched again after damage, and what an interruption lost
   * in the broken connection's buffers (the receiver keeps the start of a block it got part of,
   * so only the rest goes again).
   */
  get resentBytes(): number {
    return this.engine?.resent ?? 0;
  }
  /** @internal The Blob being sent. */
  readonly file: Blob;
  private current: TransferState = 'preparing';
  private engine: TransferEngine | undefined;
  private settle = { resolve: (): void => {}, reject: (_err: PeerKitError): void => {} };

  /**
   * @internal Made by `sendFile()`.
   * @throws PeerKitError `BAD_ARGUMENT` when `file` is not a Blob
   */
  constructor(file: Blob, options: SendFileOptions = {}) {
    super();
    checkFile(file);
    this.file = file;
    this.name = file instanceof File ? file.name : (options.name ?? 'blob');
    this.size = file.size;
    this.type = file.type;
    this.meta = options.meta ?? null;
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined);
  }

  /** Identifies this file: the same file picked again, on either side of a reload, gets the same id. Set once hashed. */
  get id(): string | undefined {
    return this.engine?.id;
  }

  /** Where the transfer is now; each change is also emitted as `state`. */
  get state(): TransferState {
    return this.current;
  }

  /** True once the state is `done`, `cancelled`, `rejected` or `failed`: nothing more happens. */
  get finished(): boolean {
    return FINISHED.includes(this.current);
  }

  /** Stops sending blocks after the one in flight; `resume()` continues. */
  pause(): void {
    if (this.finished || this.current === 'paused') return;
    this.setState('paused');
    this.engine?.paused(true);
  }

  /** Continues a transfer paused by `pause()`; does nothing in any other state. */
  resume(): void {
    if (this.current !== 'paused') return;
    if (this.engine) this.engine.paused(false);
    else this.setState('preparing');
  }

  /** Ends the transfer on both sides; the receiver removes what it stored. `done` rejects with `TRANSFER_CANCELLED`. */
  cancel(): void {
    if (this.finished) return;
    this.engine?.cancelled();
    this.end('cancelled', new PeerKitError('TRANSFER_CANCELLED', `The transfer of "${this.name}" was cancelled on this side.`));
  }

  /** @internal The transfer code took over. */
  drive(engine: TransferEngine): void {
    this.engine = engine;
  }

  /** @internal */
  setState(next: TransferState): void {
    if (next === this.current || this.finished) return;
    this.current = next;
    this.emit('state', next);
  }

  /** @internal Ends in `state`: `done` resolves, or rejects with `err`. */
  end(state: TransferState, err?: PeerKitError): void {
    if (this.finished) return;
    this.setState(state);
    this.engine?.stopped();
    if (err) this.settle.reject(err);
    else this.settle.resolve();
  }
}
