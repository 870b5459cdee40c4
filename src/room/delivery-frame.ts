import { PeerKitError } from '../errors.js';
import { readU64 as getU64, writeU64 as setU64 } from '../util.js';
import type { Sync } from './delivery.js';

/**
 * The frames of room delivery (see delivery.ts), one per message on the room channel. Big-endian;
 * a `u64` is two `u32` (high, low) and stays below 2^53.
 *
 * - data: type 1 (u8), seq (u64), ack (u64), kind (u8: peerkit frame kind of the payload,
 *   0 string, 1 ArrayBuffer, 2 typed array, 3 JSON, 4 Blob), then the payload's bytes.
 * - ack: type 2 (u8), ack (u64).
 * - sync: type 3 (u8), epoch (u32), ackEpoch (u32), ack (u64), next (u64).
 *
 * A receiver ignores a frame of an unknown type, so later versions can add some.
 */

const DATA = 1;
const ACK = 2;
const SYNC = 3;
const DATA_HEADER = 18;
const ACK_BYTES = 9;
const SYNC_BYTES = 25;

/** A decoded frame. */
export type DeliveryFrame =
  | { type: 'data'; seq: number; ack: number; kind: number; payload: Uint8Array }
  | { type: 'ack'; ack: number }
  | ({ type: 'sync' } & Sync)
  | { type: 'unknown' };

/** A data frame: message `seq` of kind `kind`, carrying acknowledgement `ack`. */
export function dataFrame(seq: number, ack: number, kind: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(DATA_HEADER + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, DATA);
  setU64(view, 1, seq);
  setU64(view, 9, ack);
  view.setUint8(17, kind);
  out.set(payload, DATA_HEADER);
  return out;
}

/** An acknowledgement alone. */
export function ackFrame(ack: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(ACK_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, ACK);
  setU64(view, 1, ack);
  return out;
}

/** What a side says first on a new link. */
export function syncFrame(sync: Sync): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(SYNC_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, SYNC);
  view.setUint32(1, sync.epoch);
  view.setUint32(5, sync.ackEpoch);
  setU64(view, 9, sync.ack);
  setU64(view, 17, sync.next);
  return out;
}

/** Reads one frame, or says why it is not one. */
export function readFrame(bytes: Uint8Array): DeliveryFrame | PeerKitError {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const short = (need: number): PeerKitError => new PeerKitError('BAD_MESSAGE', `a room delivery frame of ${bytes.byteLength} bytes is shorter than the ${need} its type needs`);
  if (bytes.byteLength < 1) return short(1);
  switch (view.getUint8(0)) {
    case DATA:
      if (bytes.byteLength < DATA_HEADER) return short(DATA_HEADER);
      return { type: 'data', seq: getU64(view, 1), ack: getU64(view, 9), kind: view.getUint8(17), payload: bytes.subarray(DATA_HEADER) };
    case ACK:
      if (bytes.byteLength < ACK_BYTES) return short(ACK_BYTES);
      return { type: 'ack', ack: getU64(view, 1) };
    case SYNC:
      if (bytes.byteLength < SYNC_BYTES) return short(SYNC_BYTES);
      return { type: 'sync', epoch: view.getUint32(1), ackEpoch: view.getUint32(5), ack: getU64(view, 9), next: getU64(view, 17) };
    default:
      return { type: 'unknown' };
  }
}
