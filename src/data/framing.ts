import { PeerKitError } from '../errors.js';
import { tooLarge } from './codec.js';

/**
 * Frame layout, big-endian: kind (u8), message id (u32), byte offset of this chunk in the
 * message (u32), total message length (u32), then the chunk. The offset (rather than a chunk
 * index) lets the receiver place chunks whatever the sender's chunk size and whatever order an
 * unordered channel delivers them in.
 */
export const HEADER_BYTES = 13;

/** The largest message a frame header can describe. */
export const MAX_FRAMED_BYTES = 0xffffffff;

/**
 * How the receiver turns the bytes back into what was sent. A plain object rather than an enum:
 * with isolatedModules a `const enum` is emitted as an object with reverse mappings that
 * bundlers cannot drop, while these properties minify to their numbers.
 */
export const Kind = {
  String: 0,
  ArrayBuffer: 1,
  Bytes: 2,
  Json: 3,
  Blob: 4,
  /**
   * Not a message: the sender is closing and has sent `id` messages. The receiver closes the
   * channel once it has them all. Closing from the sender's side instead would reset the SCTP
   * stream, and Chromium then drops messages that arrived but were not yet dispatched.
   */
  Close: 5,
  /** Not a message: the sender is alive. Sent on the default channel every second (see Liveness). */
  Ping: 6,
} as const;

/** One of the {@link Kind} values. */
export type Kind = (typeof Kind)[keyof typeof Kind];

/** A value that parses from, and serialises to, JSON. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What `send()` accepts: text, binary, a Blob, or any JSON value. */
export type Sendable = string | ArrayBuffer | ArrayBufferView | Blob | JsonValue;

/**
 * What a `message` event delivers: a string, an ArrayBuffer, a Uint8Array (for any typed array
 * or DataView sent), a Blob, or the parsed JSON value.
 */
export type Message = ArrayBuffer | Uint8Array | Blob | JsonValue;

/** A message ready to be cut into chunks: its bytes, or the Blob to read them from. */
export type Outgoing =
  | { kind: Exclude<Kind, typeof Kind.Blob>; size: number; bytes: Uint8Array }
  | { kind: typeof Kind.Blob; size: number; blob: Blob };

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

const bytesOf = (kind: Exclude<Kind, typeof Kind.Blob>, bytes: Uint8Array): Outgoing => ({ kind, size: bytes.byteLength, bytes });

/** Bytes `start` to `end` of a message: a view when they are in memory, read from the Blob otherwise. */
export function readChunk(out: Outgoing, start: number, end: number): Uint8Array | Promise<Uint8Array> {
  if (out.kind !== Kind.Blob) return out.bytes.subarray(start, end);
  return out.blob.slice(start, end).arrayBuffer().then((buffer) => new Uint8Array(buffer));
}

/** Turns what the user passed to `send()` into bytes, or says why it cannot be sent. */
export function encode(data: unknown): Outgoing | PeerKitError {
  if (typeof data === 'string') return bytesOf(Kind.String, textEncoder.encode(data));
  if (data instanceof ArrayBuffer) return bytesOf(Kind.ArrayBuffer, new Uint8Array(data));
  if (ArrayBuffer.isView(data)) return bytesOf(Kind.Bytes, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    return { kind: Kind.Blob, size: data.size, blob: data };
  }
  let text: string | undefined;
  let cause: unknown;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    // A cycle or a BigInt; a function, a symbol or undefined give no text at all.
    cause = err;
  }
  if (text === undefined) return new PeerKitError('BAD_ARGUMENT', `send() takes text, binary, a Blob or JSON; not this ${typeof data}.`, { cause });
  return bytesOf(Kind.Json, textEncoder.encode(text));
}

/** Builds one frame: header plus a copy of the chunk, in a buffer of its own. */
export function frame(kind: Kind, id: number, offset: number, total: number, chunk: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + chunk.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, kind);
  view.setUint32(1, id);
  view.setUint32(5, offset);
  view.setUint32(9, total);
  out.set(chunk, HEADER_BYTES);
  return out;
}

/** Turns a complete message's bytes back into the value that was sent. */
export function decode(kind: number, bytes: Uint8Array): Message | PeerKitError {
  switch (kind) {
    case Kind.String:
      return textDecoder.decode(bytes);
    case Kind.Json:
      try {
        return JSON.parse(textDecoder.decode(bytes)) as JsonValue;
      } catch (err) {
        return new PeerKitError('BAD_MESSAGE', 'Bad JSON message.', { cause: err });
      }
    case Kind.ArrayBuffer:
      return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? (bytes.buffer as ArrayBuffer)
        : bytes.slice().buffer;
    case Kind.Bytes:
      return bytes;
    case Kind.Blob:
      return new Blob([bytes as BlobPart]);
    default:
      // Close, Ping, or a kind from a newer peer.
      return new PeerKitError('BAD_MESSAGE', 'Not a message.');
  }
}

/** Where a message stands after one of its frames arrived. */
export interface Arrival {
  id: number;
  kind: Kind;
  received: number;
  total: number;
  /** Set once the whole message is here. */
  bytes?: Uint8Array;
}

interface Partial {
  kind: Kind;
  buffer: Uint8Array;
  received: number;
}

/**
 * Puts chunked messages back together. Each message's buffer is allocated once, at its full
 * size, when its first chunk arrives, so a 64 MiB message costs 64 MiB and not twice that.
 */
export class Reassembler {
  private readonly partial = new Map<number, Partial>();

  /** @param maxBytes - the largest message accepted; larger ones are refused, not buffered */
  constructor(private readonly maxBytes: number) {}

  /** Takes one frame; returns its message's progress or why the frame is refused. */
  push(data: ArrayBuffer): Arrival | PeerKitError {
    if (data.byteLength < HEADER_BYTES) return new PeerKitError('BAD_MESSAGE', `A ${data.byteLength}-byte frame is too short.`);
    const view = new DataView(data);
    const kind = view.getUint8(0) as Kind;
    const id = view.getUint32(1);
    const offset = view.getUint32(5);
    const total = view.getUint32(9);
    const chunk = new Uint8Array(data, HEADER_BYTES);
    if (kind > Kind.Ping) return new PeerKitError('BAD_MESSAGE', `Unknown frame kind ${kind}.`);
    if (kind === Kind.Close || kind === Kind.Ping) return { id, kind, received: 0, total: 0 };
    if (total > this.maxBytes) return tooLarge(total, this.maxBytes, true);
    if (offset + chunk.byteLength > total) return new PeerKitError('BAD_MESSAGE', 'A frame runs past its message.');
    if (offset === 0 && chunk.byteLength === total) return { id, kind, received: total, total, bytes: chunk };
    let entry = this.partial.get(id);
    if (!entry) {
      entry = { kind, buffer: new Uint8Array(total), received: 0 };
      this.partial.set(id, entry);
    } else if (entry.kind !== kind || entry.buffer.byteLength !== total) {
      this.partial.delete(id);
      return new PeerKitError('BAD_MESSAGE', `Frames of message ${id} disagree.`);
    }
    entry.buffer.set(chunk, offset);
    entry.received += chunk.byteLength;
    if (entry.received < total) return { id, kind, received: entry.received, total };
    this.partial.delete(id);
    return { id, kind, received: total, total, bytes: entry.buffer };
  }
}
