import { PeerKitError } from '../errors.js';
import { isPositive } from '../util.js';

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
   * past it, sends wait for the buffer to drain. Unset, the mark adapts to the link: it grows
   * while the buffer drains empty between sends (the link waits for data) and shrinks while it
   * does not, between 64 KiB and 4 MiB, starting at 64 KiB; where the buffer is found empty after
   * every wait (Firefox drains it in bursts), it halves instead.
   * @default undefined (adaptive)
   */
  highWaterMark?: number;
  /**
   * Waiting sends resume once the browser's buffer falls to this many bytes. With an adaptive
   * high-water mark, they resume at this many bytes' share of the 64 KiB starting mark (all of it
   * at most) of whatever the mark has become: by default, as soon as the buffer is under the mark.
   * @default 262144
   */
  lowWaterMark?: number;
  /** The largest message sent or accepted, in bytes; larger ones fail with `MESSAGE_TOO_LARGE`. @default 268435456 (256 MiB) */
  maxMessageBytes?: number;
  /** How long `close()` lets queued messages go out before giving up on them, in ms. @default 5000 */
  closeTimeoutMs?: number;
}

/** Channel options with every default filled in (the high-water mark stays unset when adaptive). */
export type ResolvedChannelOptions = ChannelOptions &
  Required<Pick<ChannelOptions, 'ordered' | 'raw' | 'protocol' | 'lowWaterMark' | 'maxMessageBytes' | 'closeTimeoutMs'>>;

/** Defaults that every channel starts from. */
export const CHANNEL_DEFAULTS: ResolvedChannelOptions = {
  ordered: true,
  raw: false,
  protocol: '',
  lowWaterMark: 1 << 18,
  maxMessageBytes: 1 << 28,
  closeTimeoutMs: 5000,
};

/** The subprotocol that marks a framed peerkit channel. */
export const FRAMED_PROTOCOL = 'peerkit/1';

/**
 * Fills in the defaults and checks what the browser would not: the water marks (positive, low at
 * most high), the size limit (a whole number) and the close timeout (0 or more).
 * @throws PeerKitError `BAD_ARGUMENT` naming the first bad option
 */
export function resolveChannelOptions(options: ChannelOptions, base: ResolvedChannelOptions = CHANNEL_DEFAULTS): ResolvedChannelOptions {
  const resolved: ResolvedChannelOptions = { ...base, ...options };
  const { highWaterMark: high, lowWaterMark: low, maxMessageBytes, closeTimeoutMs } = resolved;
  const atLeastZero = (n: number): boolean => n === 0 || isPositive(n);
  const wrong = Object.entries({
    highWaterMark: high === undefined || isPositive(high),
    lowWaterMark: atLeastZero(low) && low <= (high ?? Infinity),
    maxMessageBytes: Number.isInteger(maxMessageBytes) && maxMessageBytes >= 0,
    closeTimeoutMs: atLeastZero(closeTimeoutMs),
  }).find(([, ok]) => !ok)?.[0] as keyof ChannelOptions | undefined;
  if (wrong) {
    throw new PeerKitError('BAD_ARGUMENT', `Channel option ${wrong} is out of range: ${resolved[wrong]}.`);
  }
  return resolved;
}
