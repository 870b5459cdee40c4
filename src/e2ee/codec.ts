/**
 * How many bytes at the start of an encoded frame stay in the clear, by codec.
 *
 * RFC 9605 section 9 (appendix "SFrame over RTP") leaves RTP integration to the application. The
 * encoded transform sees each frame after the encoder and before the RTP packetizer, and the
 * receiver's depacketizer, jitter buffer and the SFU still read a few payload bytes:
 *
 * - VP8 (RFC 6386 section 9.1): the 3-byte frame tag (key frame bit, version, show frame,
 *   first partition size) on every frame, and on key frames the 7 more bytes of start code and
 *   dimensions. libwebrtc's VP8 depacketizer marks key frames and learns the size from them
 *   (so the receiver asks for no endless key frames), and Janus reads the key frame bit to switch
 *   simulcast layers and start recordings. 10 bytes on key frames, 3 on the others: the split
 *   Chromium's own E2EE sample and the deployed SFrame-like schemes use. Of the tag, the first
 *   partition's size is needed by no one but the decoder: the prefix on the wire carries it as
 *   all ones and the true tag goes inside the ciphertext (see {@link sealFrame}).
 * - Opus (RFC 6716 section 3.1): the TOC byte. NetEq reads it for the packet's duration and
 *   DTX; without it the receiver's jitter buffer misjudges every packet.
 * - VP9 and AV1: 0. Their RTP descriptors come from the encoder's side information, not from
 *   the payload, so the whole frame can be encrypted.
 *
 * H.264 is not supported: its packetizer splits the frame at Annex B start codes it finds in the
 * payload, which encryption destroys. The Room negotiates VP8 alone when encrypting, since
 * Firefox's frames do not say their codec (see sframe-worker.ts).
 * @packageDocumentation
 */

/** Codec of an encoded frame, as the lower-case MIME type (`video/vp8`, `audio/opus`). */
export type CodecName = string;

/** Bytes left clear at the start of a VP8 frame: 10 for a key frame, 3 for the others. */
function vp8ClearBytes(frame: Uint8Array): number {
  const tag = frame[0];
  if (tag === undefined) return 0;
  // RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
  return (tag & 0x01) === 0 ? 10 : 3;
}

/**
 * How many leading bytes of `frame` (an encoded frame of `codec`) stay in the clear. The sender
 * and the receiver compute it from the same clear bytes, so nothing else needs to be sent.
 */
export function clearBytes(codec: CodecName, frame: Uint8Array): number {
  let count = 0;
  switch (codec.toLowerCase()) {
    case 'video/vp8':
      count = vp8ClearBytes(frame);
      break;
    case 'audio/opus':
      count = 1;
      break;
    default:
      count = 0;
  }
  return Math.min(count, frame.length);
}

/** The parts of a frame the sender encrypts: the clear prefix as sent, and the plaintext. */
export interface SealedParts {
  readonly prefix: Uint8Array;
  readonly plaintext: Uint8Array;
}

/** VP8's frame tag is 3 bytes, of which the upper 19 bits are the first partition's size. */
const VP8_TAG = 3;

function isVp8(codec: CodecName): boolean {
  return codec.toLowerCase() === 'video/vp8';
}

/**
 * Splits `frame` into the clear prefix to send and the plaintext to encrypt. For VP8 the
 * prefix's first partition size is all ones (larger than any frame) and the true 3-byte tag
 * leads the plaintext: a decoder without the key then refuses every frame as truncated
 * (libvpx's "corrupt partition 0 length") instead of drawing the ciphertext as noise, and the
 * SFU learns nothing of the partition it never reads.
 */
export function sealFrame(codec: CodecName, frame: Uint8Array): SealedParts {
  const clear = clearBytes(codec, frame);
  const prefix = frame.slice(0, clear);
  if (!isVp8(codec) || clear < VP8_TAG) return { prefix, plaintext: frame.subarray(clear) };
  prefix[0] = (prefix[0] ?? 0) | 0xe0;
  prefix.fill(0xff, 1, VP8_TAG);
  const plaintext = new Uint8Array(VP8_TAG + frame.length - clear);
  plaintext.set(frame.subarray(0, VP8_TAG));
  plaintext.set(frame.subarray(clear), VP8_TAG);
  return { prefix, plaintext };
}

/** `head` then `tail`, in a buffer of their own. */
export function join(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/**
 * The frame that {@link sealFrame} split into `prefix` and `plaintext`, or `undefined` when the
 * plaintext's VP8 tag disagrees with the prefix's (a frame no honest sender makes).
 */
export function openFrame(codec: CodecName, prefix: Uint8Array, plaintext: Uint8Array): Uint8Array | undefined {
  if (!isVp8(codec) || prefix.length < VP8_TAG) return join(prefix, plaintext);
  const frame = new Uint8Array(prefix.length + plaintext.length - VP8_TAG);
  // The key frame bit, version and show frame bit are in both: they must agree.
  if (plaintext.length < VP8_TAG || ((plaintext[0] ?? 0) & 0x1f) !== ((prefix[0] ?? 0) & 0x1f)) return undefined;
  frame.set(plaintext.subarray(0, VP8_TAG));
  frame.set(prefix.subarray(VP8_TAG), VP8_TAG);
  frame.set(plaintext.subarray(VP8_TAG), prefix.length);
  return frame;
}
