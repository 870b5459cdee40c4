import { PeerKitError } from '../errors.js';
import { tooLarge } from './codec.js';
import type { Codec, CodecContext, Delivery } from './codec.js';
import { HEADER_BYTES, Kind, encode, readChunk } from './framing.js';
import type { Sendable } from './framing.js';
import { chunkBytes } from './framed-codec.js';
import type { Outbound, Piece } from './send-queue.js';

/**
 * No frames: strings and binary go out as they are (JSON values as their JSON text) and arrive
 * as `string` or `ArrayBuffer`, as on a plain RTCDataChannel. No chunking, no pings, no close frame.
 */
export function rawCodec(context: CodecContext, to: Delivery): Codec {
  return {
    ping: undefined,
    prepare(data: Sendable): Piece | Outbound | PeerKitError {
      const out = encode(data);
      if (out instanceof PeerKitError) return out;
      // The largest frame a framed channel would send, so both modes refuse the same sizes.
      const limit = chunkBytes(context.maxMessageSize()) + HEADER_BYTES;
      if (out.size > limit) return tooLarge(out.size, limit, false);
      if (typeof data === 'string') return data;
      if (out.kind !== Kind.Blob) return out.kind === Kind.Json ? JSON.stringify(data) : out.bytes;
      let read: Promise<Piece> | undefined = Promise.resolve(readChunk(out, 0, out.size));
      return {
        next: () => {
          const piece = read;
          read = undefined;
          return piece;
        },
        handed: () => {},
      };
    },
    receive: (data: unknown) => to.message(data as string | ArrayBuffer),
    closing: () => undefined,
  };
}
