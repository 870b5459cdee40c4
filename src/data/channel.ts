import { EventEmitter } from 'eventemitter3';
import { PeerKitError } from '../errors.js';
import { HEADER_BYTES, Kind, MAX_FRAMED_BYTES, Reassembler, decode, encode, frame } from './framing.js';
import type { Message, Outgoing, Sendable } from './framing.js';

/** Per-channel options. Unordered and unreliable settings pass straight to `createDataChannel`. */
export interface ChannelOptions {
  /** Deliver in order. @default true */
  ordered?: boolean;
  /** Give up on a message after this many retransmissions (unreliable). @default undefined (reliable) */
  maxRetransmits?: number;
  /** Give up on a message after this many milliseconds (unreliable). @default undefined (reliable) */
  maxPacketLifeTime?: number;
  /**
   * No framing: strings and binary go out as they are and arrive as `string` or `ArrayBuffer`,
   * for interop with peers that use a plain RTCDataChannel. No chunking, so a message must fit
   * in the SCTP `maxMessageSize`.
   * @default false
   */
  raw?: boolean;
  /** The subprotocol announced on a raw channel. @default '' */
  protocol?: string;
  /** Create the channel out of band, with this id, on both sides. @default undefined (in band) */
  id?: number;
  /**
   * `send()` hands data to the browser only while its buffer holds less than this many bytes;
   * past it, sends wait for the buffer to drain.
   * @default 1048576 (1 MiB)
   */
  highWaterMark?: number;
  /** Waiting sends resume once the browser's buffer falls to this many bytes. @default 262144 */
  lowWaterMark?: number;
  /** The largest message sent or accepted, in bytes; larger ones fail with `MESSAGE_TOO_LARGE`. @default 268435456 (256 MiB) */
  maxMessageBytes?: number;
  /** How long `close()` lets queued messages go out before giving up on them, in ms. @default 5000 */
  closeTimeoutMs?: number;
}

/** Progress of one message large enough to be cut into several chunks. */
export interface Progress {
  /** The message id, unique per channel and direction. */
  id: number;
  direction: 'send' | 'receive';
  /** Bytes handed to the browser (send) or arrived (receive) so far. */
  bytes: number;
  total: number;
}

/** Events of a Channel. */
export interface ChannelEvents {
  /** The channel can carry data. */
  open: [];
  /** A whole message arrived. */
  message: [data: Message];
  /** A multi-chunk message moved forward. */
  progress: [progress: Progress];
  /** Something went wrong that no call is waiting for (a malformed frame, a failed transport). */
  error: [error: PeerKitError];
  /** The channel closed, from either side. */
  close: [];
}

/** The state of a channel, as the browser reports it. */
export type ChannelState = RTCDataChannelState;

/** The subprotocol that marks a framed peerkit channel. */
export const FRAMED_PROTOCOL = 'peerkit/1';

/** Channel options with every default filled in. */
export type ResolvedChannelOptions = ChannelOptions &
  Required<Pick<ChannelOptions, 'ordered' | 'raw' | 'protocol' | 'highWaterMark' | 'lowWaterMark' | 'maxMessageBytes' | 'closeTimeoutMs'>>;

/** Defaults that every channel starts from. */
export const CHANNEL_DEFAULTS: ResolvedChannelOptions = {
  ordered: true,
  raw: false,
  protocol: '',
  highWaterMark: 1 << 20,
  lowWaterMark: 1 << 18,
  maxMessageBytes: 1 << 28,
  closeTimeoutMs: 5000,
};

interface Job {
  out: Outgoing & { text?: string };
  resolve(): void;
  reject(err: PeerKitError): void;
}

/**
 * Chunks at most 256 KiB (Chrome's own limit, and larger ones starve other channels sharing the
 * association) and at least 16 KiB, which every engine has accepted since interop began.
 */
export function chunkBytes(maxMessageSize: number | null | undefined): number {
  const max = maxMessageSize && Number.isFinite(maxMessageSize) ? maxMessageSize : Infinity;
  return Math.max(16384, Math.min(max, 262144)) - HEADER_BYTES;
}

const noop = (): void => {};

const PING = frame(Kind.Ping, 0, 0, 0, new Uint8Array(0));

/**
 * One RTCDataChannel: messages of any size and type arrive whole, in order (on an ordered
 * channel), exactly once (on a reliable one), and `send()` never floods memory. Get one from
 * `peer.channel()` or the Peer's `channel` event.
 *
 * @example
 * ```ts
 * const files = peer.channel('files');
 * files.on('progress', (p) => console.log(`${p.bytes} / ${p.total}`));
 * for (const file of picked) await files.send(file);
 * ```
 */
export class Channel extends EventEmitter<ChannelEvents> {
  /** The label both sides see. */
  readonly label: string;
  private readonly options: ResolvedChannelOptions;
  private readonly queue: Job[] = [];
  private readonly reassembler: Reassembler;
  private nextId = 0;
  /** Whole messages received, and how many the remote said it sent when it began closing. */
  private receivedCount = 0;
  private remoteSent: number | undefined;
  private pumping = false;
  private wake: () => void = noop;
  private settled: () => void = noop;
  private ending: Promise<void> | undefined;

  /** @internal Channels come from `peer.channel()` and the `channel` event. */
  constructor(
    private readonly dc: RTCDataChannel,
    options: ResolvedChannelOptions,
    private readonly maxMessageSize: () => number | null | undefined,
    /** Told of every arrival, pings included: the Peer's evidence that the remote is there. */
    heard: () => void,
  ) {
    super();
    this.label = dc.label;
    this.options = options;
    this.reassembler = new Reassembler(options.maxMessageBytes);
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = options.lowWaterMark;
    dc.onopen = () => {
      this.emit('open');
      void this.pump();
    };
    dc.onbufferedamountlow = () => this.wake();
    dc.onmessage = (event: MessageEvent<unknown>) => {
      heard();
      this.receive(event.data);
    };
    dc.onerror = (event) => this.failed(event);
    dc.onclose = () => this.closed();
    if (dc.readyState === 'open') queueMicrotask(() => dc.onopen?.(new Event('open')));
  }

  /** `connecting`, `open`, `closing` or `closed`. */
  get state(): ChannelState {
    return this.dc.readyState;
  }

  /** Whether this channel sends frames unwrapped. */
  get raw(): boolean {
    return this.options.raw;
  }

  /** Bytes queued in the browser and not yet on the wire. */
  get bufferedAmount(): number {
    return this.dc.bufferedAmount;
  }

  /**
   * Sends one message: a string, ArrayBuffer, typed array, Blob or JSON value, of any size up to
   * `maxMessageBytes`. Sends made before the channel opens wait for it.
   *
   * @returns resolves once the whole message is handed to the browser below the high-water mark,
   * so awaiting it in a loop never floods memory; rejects with `CLOSED` after `close()`,
   * `CHANNEL_CLOSED` when the channel closes first, `MESSAGE_TOO_LARGE` or `BAD_ARGUMENT`.
   */
  send(data: Sendable): Promise<void> {
    const sent = new Promise<void>((resolve, reject) => {
      const refused = this.refusal(data);
      if (refused instanceof PeerKitError) return reject(refused);
      this.queue.push({ out: refused, resolve, reject });
      void this.pump();
    });
    // Fire-and-forget sends must not surface as unhandled rejections; awaiting still sees them.
    sent.catch(noop);
    return sent;
  }

  /**
   * Closes the channel after what is queued has gone out (bounded by `closeTimeoutMs`); the
   * other side sees `close` once every message sent before it has arrived. Idempotent.
   */
  close(): Promise<void> {
    this.ending ??= this.finish();
    return this.ending;
  }

  private refusal(data: Sendable): Job['out'] | PeerKitError {
    if (this.ending) return new PeerKitError('CLOSED', `Channel "${this.label}" is closed; send() after close() does nothing.`);
    if (this.dc.readyState === 'closing' || this.dc.readyState === 'closed') {
      return new PeerKitError('CHANNEL_CLOSED', `Channel "${this.label}" was closed by the other side or the connection.`);
    }
    const out = this.options.raw ? rawOutgoing(data) : encode(data);
    if (out instanceof PeerKitError) return out;
    const chunked = this.reliable && !this.options.raw;
    const limit = chunked
      ? Math.min(this.options.maxMessageBytes, MAX_FRAMED_BYTES)
      : chunkBytes(this.maxMessageSize()) + (this.options.raw ? HEADER_BYTES : 0);
    if (out.size > limit) {
      return new PeerKitError(
        'MESSAGE_TOO_LARGE',
        `A ${out.size}-byte message is larger than the ${limit} bytes this channel can send${chunked ? '' : ' (raw and unreliable channels do not chunk)'}.`,
      );
    }
    return out;
  }

  private get reliable(): boolean {
    // node-webrtc reports an unset limit as 65535 rather than null.
    const unset = (limit: number | null): boolean => limit === null || limit === 65535;
    return unset(this.dc.maxRetransmits) && unset(this.dc.maxPacketLifeTime);
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.dc.readyState !== 'open') return;
    this.pumping = true;
    for (let job = this.queue[0]; job; job = this.queue[0]) {
      try {
        await this.transmit(job.out);
        this.queue.shift();
        job.resolve();
      } catch (err) {
        this.pumping = false;
        return this.rejectAll(err instanceof PeerKitError ? err : this.gone(err));
      }
    }
    this.pumping = false;
    this.settled();
  }

  private async transmit(out: Job['out']): Promise<void> {
    if (this.options.raw) {
      if (this.dc.bufferedAmount > this.options.highWaterMark) await this.room();
      if (out.text !== undefined) return this.dc.send(out.text);
      return this.dc.send((await out.read(0, out.size)) as Uint8Array<ArrayBuffer>);
    }
    const id = this.nextId;
    this.nextId = (id + 1) >>> 0;
    const step = chunkBytes(this.maxMessageSize());
    let offset = 0;
    do {
      if (this.dc.bufferedAmount > this.options.highWaterMark) await this.room();
      const end = Math.min(out.size, offset + step);
      const read = out.read(offset, end);
      const chunk = read instanceof Promise ? await read : read;
      this.dc.send(frame(out.kind, id, offset, out.size, chunk));
      offset = end;
      if (out.size > step) this.emit('progress', { id, direction: 'send', bytes: offset, total: out.size });
    } while (offset < out.size);
  }

  /** Resolves once the browser's buffer is below the high-water mark; rejects if the channel closes. */
  private room(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.dc.readyState !== 'open') {
          this.wake = noop;
          reject(this.gone());
        } else if (this.dc.bufferedAmount <= this.options.highWaterMark) {
          this.wake = noop;
          resolve();
        }
      };
      this.wake = check;
      check();
    });
  }

  /** @internal Tells the remote this side is alive; not a message, and it skips the queue. */
  ping(): void {
    if (this.dc.readyState !== 'open' || this.options.raw) return;
    try {
      this.dc.send(PING);
    } catch {
      // Closing under our feet: the close itself is reported.
    }
  }

  private receive(data: unknown): void {
    if (this.options.raw) return void this.emit('message', data as string | ArrayBuffer);
    if (!(data instanceof ArrayBuffer)) {
      return void this.emit('error', new PeerKitError('BAD_MESSAGE', `Channel "${this.label}" got a ${typeof data} where a peerkit frame was expected; is the other side raw?`));
    }
    const arrival = this.reassembler.push(data);
    if (arrival instanceof PeerKitError) return void this.emit('error', arrival);
    if (arrival.kind === Kind.Ping) return;
    if (arrival.kind === Kind.Close) {
      this.remoteSent = arrival.id;
      return this.closeWhenComplete();
    }
    if (arrival.total > data.byteLength - HEADER_BYTES) {
      this.emit('progress', { id: arrival.id, direction: 'receive', bytes: arrival.received, total: arrival.total });
    }
    if (!arrival.bytes) return;
    const message = decode(arrival.kind, arrival.bytes);
    this.receivedCount = (this.receivedCount + 1) >>> 0;
    if (message instanceof PeerKitError) this.emit('error', message);
    else this.emit('message', message);
    this.closeWhenComplete();
  }

  /** The remote is closing: once every message it sent is here (unordered ones may trail), close. */
  private closeWhenComplete(): void {
    if (this.remoteSent !== undefined && this.receivedCount === this.remoteSent) this.dc.close();
  }

  private failed(event: Event): void {
    const error = (event as RTCErrorEvent).error as RTCError | undefined;
    // An SCTP "User-Initiated Abort" (cause 12) is the other side closing its connection, which
    // `close` already reports; it is not an error.
    if (error?.sctpCauseCode === 12 || this.ending) return;
    this.emit('error', new PeerKitError('CHANNEL_CLOSED', `Channel "${this.label}" failed: ${error?.message ?? 'unknown error'}.`, { cause: error }));
  }

  private closed(): void {
    this.wake();
    this.rejectAll(this.gone());
    this.dc.onopen = this.dc.onmessage = this.dc.onerror = this.dc.onclose = this.dc.onbufferedamountlow = null;
    this.emit('close');
  }

  private gone(cause?: unknown): PeerKitError {
    return this.ending
      ? new PeerKitError('CLOSED', `Channel "${this.label}" was closed before this message went out.`, { cause })
      : new PeerKitError('CHANNEL_CLOSED', `Channel "${this.label}" closed before this message went out.`, { cause });
  }

  private rejectAll(err: PeerKitError): void {
    for (const job of this.queue.splice(0)) job.reject(err);
    this.settled();
  }

  private async finish(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.closeTimeoutMs)));
    if (this.queue.length > 0 && (this.state === 'open' || this.state === 'connecting')) {
      await Promise.race([new Promise<void>((resolve) => (this.settled = resolve)), deadline]);
    }
    this.settled = noop;
    this.rejectAll(this.gone());
    if (this.state !== 'closed') {
      const closed = new Promise<void>((resolve) => this.once('close', resolve));
      if (this.state === 'open' && this.reliable && !this.options.raw) {
        // The remote closes once it has everything; the deadline covers a remote that never does.
        this.dc.send(frame(Kind.Close, this.nextId, 0, 0, new Uint8Array(0)));
        await Promise.race([closed, deadline]);
      }
      this.dc.close();
      await Promise.race([closed, deadline]);
      // A channel that never opened may never report closing; end it here rather than hang.
      if (this.dc.onclose) this.closed();
    }
    clearTimeout(timer);
  }
}

/** Raw channels send text as text: JSON values go out as their JSON text. */
function rawOutgoing(data: Sendable): Job['out'] | PeerKitError {
  const out = encode(data);
  if (out instanceof PeerKitError || (out.kind !== Kind.String && out.kind !== Kind.Json)) return out;
  return { ...out, text: typeof data === 'string' ? data : new TextDecoder().decode(out.read(0, out.size) as Uint8Array) };
}
