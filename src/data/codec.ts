import { PeerKitError } from '../errors.js';
import type { Message, Sendable } from './framing.js';
import type { Outbound, Piece } from './send-queue.js';

/** Progress of one message large enough to be cut into several chunks. */
export interface Progress {
  /** The message id, unique per channel and direction. */
  id: number;
  /** `send` for a message this side sends, `receive` for one arriving. */
  direction: 'send' | 'receive';
  /** Bytes handed to the browser (send) or arrived (receive) so far. */
  bytes: number;
  /** The whole message's encoded size in bytes. */
  total: number;
}

/** What a codec tells its Channel about arrivals. */
export interface Delivery {
  /** A whole message arrived, or one arrived whole that does not decode. */
  message(data: Message | PeerKitError): void;
  progress(progress: Progress): void;
  /** Something arrived that is no message at all. */
  error(error: PeerKitError): void;
  /** The remote is closing after sending `count` messages. */
  closing(count: number): void;
  /** A ping arrived: the remote watches for silence as peerkit does. */
  ping(): void;
}

/** What a codec needs to know of its channel, fixed when the channel is made. */
export interface CodecContext {
  label: string;
  /** Neither `maxRetransmits` nor `maxPacketLifeTime` is set. */
  reliable: boolean;
  maxMessageBytes: number;
  /** The SCTP transport's `maxMessageSize`, once known. */
  maxMessageSize(): number | null | undefined;
}

/**
 * How one channel turns messages into what `RTCDataChannel.send()` takes and back: framed
 * (peerkit's frames, chunked) or raw (as they are). Chosen once, when the Channel is made.
 */
export interface Codec {
  /** Checks one message against the channel's limits and turns it into what the send queue hands over. */
  prepare(data: Sendable): Piece | Outbound | PeerKitError;
  /** Takes one arrival from the data channel and tells the Delivery what it was. */
  receive(data: unknown): void;
  /** A frame saying this side is alive, or undefined where the format has none. */
  readonly ping: Piece | undefined;
  /** A frame saying this side is closing after `sent` messages, or undefined where the format has none. */
  closing(sent: number): Piece | undefined;
}

/** The error for a message over a channel's limit. */
export function tooLarge(size: number, limit: number, chunked: boolean): PeerKitError {
  return new PeerKitError(
    'MESSAGE_TOO_LARGE',
    `A ${size}-byte message is over this channel's ${limit}${chunked ? '' : ' (raw and unreliable channels do not chunk)'}.`,
  );
}
