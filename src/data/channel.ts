import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import { resolveChannelOptions } from './channel-options.js';
import type { ResolvedChannelOptions } from './channel-options.js';
import type { Codec, CodecContext, Delivery, Progress } from './codec.js';
import { framedCodec } from './framed-codec.js';
import type { Message, Sendable } from './framing.js';
import { rawCodec } from './raw-codec.js';
import { SendQueue, rejection } from './send-queue.js';

export { CHANNEL_DEFAULTS, FRAMED_PROTOCOL, resolveChannelOptions } from './channel-options.js';
export type { ChannelOptions, ResolvedChannelOptions } from './channel-options.js';
export type { Progress } from './codec.js';
export { chunkBytes } from './framed-codec.js';

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

/** node-webrtc reports an unset retransmit limit as 65535 rather than null. */
const unset = (limit: number | null): boolean => limit === null || limit === 65535;

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
export class Channel extends Emitter<ChannelEvents> {
  /** The label both sides see. */
  readonly label: string;
  private readonly options: ResolvedChannelOptions;
  private readonly reliable: boolean;
  private readonly codec: Codec;
  private readonly queue: SendQueue;
  /** Whole messages received, and how many the remote said it sent when it began closing. */
  private receivedCount = 0;
  private remoteSent: number | undefined;
  private ending: Promise<void> | undefined;

  /**
   * @internal Channels come from `peer.channel()` and the `channel` event.
   * @throws PeerKitError `BAD_ARGUMENT` for bad options (the data channel is closed then)
   */
  constructor(
    private readonly dc: RTCDataChannel,
    options: ResolvedChannelOptions,
    maxMessageSize: () => number | null | undefined,
    /** Told of every arrival, pings included (then told again, with `true`): the Peer's evidence that the remote is there. */
    heard: (ping?: true) => void,
  ) {
    super();
    this.label = dc.label;
    try {
      this.options = resolveChannelOptions(options);
    } catch (err) {
      dc.close();
      throw err;
    }
    this.reliable = unset(dc.maxRetransmits) && unset(dc.maxPacketLifeTime);
    const context: CodecContext = { label: this.label, reliable: this.reliable, maxMessageBytes: this.options.maxMessageBytes, maxMessageSize };
    const delivery: Delivery = {
      message: (data) => this.arrived(data),
      progress: (progress) => this.emit('progress', progress),
      error: (error) => this.emit('error', error),
      closing: (count) => {
        this.remoteSent = count;
        this.closeWhenComplete();
      },
      ping: () => heard(true),
    };
    this.codec = (this.options.raw ? rawCodec : framedCodec)(context, delivery);
    this.queue = new SendQueue(dc, { high: this.options.highWaterMark, low: this.options.lowWaterMark }, (cause) => this.gone(cause));
    dc.binaryType = 'arraybuffer';
    dc.onopen = () => {
      this.emit('open');
      this.queue.wake();
    };
    dc.onbufferedamountlow = () => this.queue.wake();
    dc.onmessage = (event: MessageEvent<unknown>) => {
      heard();
      this.codec.receive(event.data);
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
    const state = this.dc.readyState;
    if (this.ending || state === 'closing' || state === 'closed') return rejection(this.gone());
    const message = this.codec.prepare(data);
    return message instanceof PeerKitError ? rejection(message) : this.queue.push(message);
  }

  /**
   * Closes the channel after what is queued has gone out (bounded by `closeTimeoutMs`); the
   * other side sees `close` once every message sent before it has arrived. Idempotent.
   */
  close(): Promise<void> {
    this.ending ??= this.finish();
    return this.ending;
  }

  /** @internal Tells the remote this side is alive; not a message, and it skips the queue. */
  ping(): void {
    if (this.dc.readyState !== 'open' || this.codec.ping === undefined) return;
    try {
      this.queue.bypass(this.codec.ping);
    } catch {
      // Closing under our feet: the close itself is reported.
    }
  }

  private arrived(data: Message | PeerKitError): void {
    this.receivedCount = (this.receivedCount + 1) >>> 0;
    if (data instanceof PeerKitError) this.emit('error', data);
    else this.emit('message', data);
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
    // Wakes a send waiting for room, which then finds the channel gone.
    this.queue.wake();
    this.queue.fail(this.gone());
    this.dc.onopen = this.dc.onmessage = this.dc.onerror = this.dc.onclose = this.dc.onbufferedamountlow = null;
    this.emit('close');
  }

  private gone(cause?: unknown): PeerKitError {
    return new PeerKitError(this.ending ? 'CLOSED' : 'CHANNEL_CLOSED', `Channel "${this.label}" closed before this message went out.`, { cause });
  }

  private async finish(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.closeTimeoutMs)));
    if (this.queue.length > 0 && (this.state === 'open' || this.state === 'connecting')) {
      await Promise.race([this.queue.idle(), deadline]);
    }
    this.queue.fail(this.gone());
    if (this.state !== 'closed') {
      const closed = new Promise<void>((resolve) => this.once('close', resolve));
      const closing = this.state === 'open' && this.reliable ? this.codec.closing(this.queue.sent) : undefined;
      if (closing !== undefined) {
        // The remote closes once it has everything; the deadline covers a remote that never does.
        this.queue.bypass(closing);
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
