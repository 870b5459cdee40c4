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
 *   Chromium's own E2EE sample and the deployed SFrame-like schemes use.
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

