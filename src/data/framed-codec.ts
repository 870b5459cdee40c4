import { PeerKitError } from '../errors.js';
import { tooLarge } from './codec.js';
import type { Codec, CodecContext, Delivery } from './codec.js';
import { HEADER_BYTES, Kind, MAX_FRAMED_BYTES, Reassembler, decode, encode, frame, readChunk } from './framing.js';
import type { Outgoing, Sendable } from './framing.js';
import type { Outbound, Piece } from './send-queue.js';

/** The smallest chunk, in bytes of payload: every engine has accepted 16 KiB messages since interop began. */
const MIN_CHUNK = 16384 - HEADER_BYTES;

/**
 * Chunks at most 256 KiB (Chrome's own limit, and larger ones starve other channels sharing the
 * association) and at least 16 KiB, which every engine has accepted since interop began.
 */
export function chunkBytes(maxMessageSize: number | null | undefined): number {
  const max = maxMessageSize && Number.isFinite(maxMessageSize) ? maxMessageSize : Infinity;
  return Math.max(16384, Math.min(max, 262144)) - HEADER_BYTES;
}

/**
 * The chunk of a message longer than one frame: 64 KiB frames beat 256 KiB ones in both engines
 * (bench/run.mjs, 64 MiB bulk), and another channel's message waits behind less.
 */
const STEP = 65536 - HEADER_BYTES;

const PING = frame(Kind.Ping, 0, 0, 0, new Uint8Array(0));

/** peerkit's frames: any message, any size (chunked on reliable channels), its type kept. */
export function framedCodec(context: CodecContext, to: Delivery): Codec {
  const reassembler = new Reassembler(context.maxMessageBytes);
  let nextId = 0;
  return {
    ping: PING,
    prepare(data: Sendable): Piece | Outbound | PeerKitError {
      const out = encode(data);
      if (out instanceof PeerKitError) return out;
      const { reliable, maxMessageBytes } = context;
      // A small message on a reliable channel, the common case, goes without asking the transport.
      const size = reliable && out.size <= MIN_CHUNK ? undefined : context.maxMessageSize();
      const limit = reliable ? Math.min(maxMessageBytes, MAX_FRAMED_BYTES) : chunkBytes(size);
      if (out.size > limit) return tooLarge(out.size, limit, reliable);
      const id = nextId;
      nextId = (id + 1) >>> 0;
      // One frame, built now, when it surely fits whatever maxMessageSize the transport settles on.
      if (out.kind !== Kind.Blob && (out.size <= MIN_CHUNK || (size != null && out.size <= chunkBytes(size)))) {
        return frame(out.kind, id, 0, out.size, out.bytes);
      }
      return chunks(out, id, context, to);
    },
    receive(data: unknown): void {
      if (!(data instanceof ArrayBuffer)) {
        return to.error(new PeerKitError('BAD_MESSAGE', `Channel "${context.label}" got a ${typeof data}, not a frame; is the remote raw?`));
      }
      const arrival = reassembler.push(data);
      if (arrival instanceof PeerKitError) return to.error(arrival);
      if (arrival.kind === Kind.Ping) return to.ping();
      if (arrival.kind === Kind.Close) return to.closing(arrival.id);
      if (arrival.total > data.byteLength - HEADER_BYTES) {
        to.progress({ id: arrival.id, direction: 'receive', bytes: arrival.received, total: arrival.total });
      }
      if (arrival.bytes) to.message(decode(arrival.kind, arrival.bytes));
    },
    closing: (sent: number): Piece => frame(Kind.Close, sent, 0, 0, new Uint8Array(0)),
  };
}

/** A message going out as frames, cut to the transport's chunk size when its first frame is read. */
function chunks(out: Outgoing, id: number, context: CodecContext, to: Delivery): Outbound {
  let offset = 0;
  let step = 0;
  return {
    next() {
      if (step === 0) step = Math.min(STEP, chunkBytes(context.maxMessageSize()));
      // An empty message is still one frame.
      else if (offset >= out.size) return undefined;
      const start = offset;
      offset = Math.min(out.size, start + step);
      const chunk = readChunk(out, start, offset);
      return chunk instanceof Promise ? chunk.then((bytes) => frame(out.kind, id, start, out.size, bytes)) : frame(out.kind, id, start, out.size, chunk);
    },
    handed() {
      if (out.size > step) to.progress({ id, direction: 'send', bytes: offset, total: out.size });
    },
  };
}
