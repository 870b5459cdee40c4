/**
 * The transfer wire format (docs/protocol.md, "Transfers"): JSON control messages and binary
 * pieces of blocks, all sent as framed messages on the channel labelled {@link TRANSFER_LABEL}.
 * Each side opens its own such channel and sends only on it, so each channel carries one
 * direction.
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';
import { isRecord, toHex } from '../util.js';

export { TRANSFER_LABEL } from './transfer.js';
/** The version carried in every transfer message. */
export const TRANSFER_VERSION = 1;
/**
 * Bytes before a piece's data: version, kind, transfer id (32), block index (u32), byte offset
 * in the block (u32), the whole block's SHA-256 (32).
 */
export const PIECE_HEADER_BYTES = 74;
/**
 * Data bytes per piece a sender sends. With the header and the 13-byte frame header a piece
 * fits one frame of the framed channel (256 KiB less 13 where `maxMessageSize` allows, as
 * between Chromium and Firefox), so each piece is one `RTCDataChannel.send()` with no tiny tail
 * frame, and what a broken connection loses is rounded up to 128 KiB at most.
 */
export const PIECE_BYTES = 128 * 1024;
/** Kind 1 was the whole-block message of the unreleased first draft; receivers refuse it. */
const PIECE_KIND = 2;
const ID_PATTERN = /^[0-9a-f]{64}$/;
const MAX_NAME = 1024;
/** The largest block an offer may announce: a receiver holds up to 4 partial blocks per transfer in memory. */
const MAX_BLOCK = 16 * 1024 * 1024;

/** Half-open ranges of block indexes, `[start, end)`. */
export type Ranges = [number, number][];

/** Per partly received block: its index and how many bytes from its start the receiver holds. */
export type PartialBlocks = [index: number, bytes: number][];

/** What the sender announces about a file. */
export interface OfferMessage {
  v: 1;
  t: 'offer';
  id: string;
  name: string;
  size: number;
  type: string;
  lastModified: number;
  blockSize: number;
  meta: unknown;
}

/** The control messages of the transfer protocol. */
export type ControlMessage =
  | OfferMessage
  | { v: 1; t: 'accept'; id: string; missing: Ranges; partial: PartialBlocks }
  | { v: 1; t: 'reject'; id: string }
  | { v: 1; t: 'ack'; id: string; index: number }
  | { v: 1; t: 'nack'; id: string; index: number }
  | { v: 1; t: 'end'; id: string; root: string }
  | { v: 1; t: 'verified'; id: string }
  | { v: 1; t: 'pause'; id: string }
  | { v: 1; t: 'resume'; id: string }
  | { v: 1; t: 'cancel'; id: string; reason: 'cancel' | 'corrupt' }
  | GotMessage;

/** The receiver took `bytes` bytes of binary messages off the sender's channel (whatever they were). */
export interface GotMessage {
  v: 1;
  t: 'got';
  bytes: number;
}

/** One piece of a block as it arrived: whose, which block, where in it, the block's hash and the bytes. */
export interface PieceMessage {
  id: string;
  index: number;
  offset: number;
  hash: Uint8Array;
  data: Uint8Array;
}

/** The number of blocks of a file; an empty file still has one (empty) block. */
export function blockCount(size: number, blockSize: number): number {
  return Math.max(1, Math.ceil(size / blockSize));
}

/** The byte length of block `index`. */
export function blockLength(index: number, size: number, blockSize: number): number {
  return Math.max(0, Math.min(blockSize, size - index * blockSize));
}

/** SHA-256 of bytes. */
export async function sha256(bytes: Uint8Array | ArrayBuffer): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/**
 * The whole file's hash: SHA-256 over the concatenated SHA-256 of every block, in order.
 * WebCrypto has no incremental SHA-256, and this needs no more than 32 bytes per block in memory.
 */
export function fileRoot(hashes: readonly Uint8Array[]): Promise<string> {
  const all = new Uint8Array(hashes.length * 32);
  hashes.forEach((hash, i) => all.set(hash, i * 32));
  return sha256(all).then(toHex);
}

/** The transfer id: SHA-256 of name, size, last-modified, block size and the first block's hash. */
export async function transferId(name: string, size: number, lastModified: number, blockSize: number, firstHash: Uint8Array): Promise<string> {
  const text = `${name}\n${size}\n${lastModified}\n${blockSize}\n${toHex(firstHash)}`;
  return toHex(await sha256(new TextEncoder().encode(text)));
}

/** A piece message: header and data in one buffer, `out` when given (it must be exactly that long). */
export function encodePiece(id: string, index: number, offset: number, hash: Uint8Array, data: Uint8Array, out: Uint8Array = new Uint8Array(PIECE_HEADER_BYTES + data.byteLength)): Uint8Array {
  out[0] = TRANSFER_VERSION;
  out[1] = PIECE_KIND;
  for (let i = 0; i < 32; i++) out[2 + i] = parseInt(id.slice(i * 2, i * 2 + 2), 16);
  const view = new DataView(out.buffer, out.byteOffset);
  view.setUint32(34, index);
  view.setUint32(38, offset);
  out.set(hash, 42);
  out.set(data, PIECE_HEADER_BYTES);
  return out;
}

/** Reads a piece message, or says why it is not one. */
export function decodePiece(bytes: Uint8Array): PieceMessage | PeerKitError {
  if (bytes.byteLength < PIECE_HEADER_BYTES || bytes[0] !== TRANSFER_VERSION || bytes[1] !== PIECE_KIND) {
    return new PeerKitError('BAD_MESSAGE', 'A binary transfer message is not a version 1 piece.');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    id: toHex(bytes.subarray(2, 34)),
    index: view.getUint32(34),
    offset: view.getUint32(38),
    hash: bytes.slice(42, PIECE_HEADER_BYTES),
    data: bytes.subarray(PIECE_HEADER_BYTES),
  };
}

const isIndex = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 32;
const isSize = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function isRanges(value: unknown): value is Ranges {
  return (
    Array.isArray(value) &&
    value.every((r) => Array.isArray(r) && r.length === 2 && isIndex(r[0]) && isIndex(r[1]) && (r[0] as number) < (r[1] as number))
  );
}

/** An absent `partial` (a receiver that keeps no partial blocks) is none. */
function partialOf(value: unknown): PartialBlocks | undefined {
  if (value === undefined) return [];
  const valid = Array.isArray(value) && value.every((p) => Array.isArray(p) && p.length === 2 && isIndex(p[0]) && isIndex(p[1]));
  return valid ? (value as PartialBlocks) : undefined;
}

/** Checks a JSON value against the control messages; anything else is `BAD_MESSAGE`. */
export function parseControl(raw: unknown): ControlMessage | PeerKitError {
  const bad = (why: string): PeerKitError => new PeerKitError('BAD_MESSAGE', `Invalid transfer message: ${why}.`);
  if (!isRecord(raw) || raw['v'] !== TRANSFER_VERSION) return bad('not a version 1 object');
  const { t, id } = raw;
  // Flow control of the channel, not of one transfer: it has no id.
  if (t === 'got') return isSize(raw['bytes']) ? { v: 1, t, bytes: raw['bytes'] } : bad('got without valid bytes');
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) return bad('no valid id');
  switch (t) {
    case 'offer': {
      const { name, size, type, lastModified, blockSize } = raw;
      if (typeof name !== 'string' || name.length > MAX_NAME) return bad('offer without a valid name');
      if (typeof type !== 'string' || type.length > MAX_NAME) return bad('offer without a valid type');
      if (!isSize(size) || !isSize(lastModified) || !isIndex(blockSize) || blockSize < 1024 || blockSize > MAX_BLOCK) return bad('offer without valid sizes');
      if (blockCount(size, blockSize) >= 2 ** 32) return bad('offer with too many blocks');
      return { v: 1, t, id, name, size, type, lastModified, blockSize, meta: raw['meta'] ?? null };
    }
    case 'accept': {
      const partial = partialOf(raw['partial']);
      if (!partial) return bad('accept with an invalid partial');
      return isRanges(raw['missing']) ? { v: 1, t, id, missing: raw['missing'], partial } : bad('accept without valid ranges');
    }
    case 'ack':
    case 'nack':
      return isIndex(raw['index']) ? { v: 1, t, id, index: raw['index'] } : bad(`${t} without a valid index`);
    case 'end':
      return typeof raw['root'] === 'string' && ID_PATTERN.test(raw['root']) ? { v: 1, t, id, root: raw['root'] } : bad('end without a valid root');
    case 'cancel':
      return { v: 1, t, id, reason: raw['reason'] === 'corrupt' ? 'corrupt' : 'cancel' };
    case 'reject':
    case 'verified':
    case 'pause':
    case 'resume':
      return { v: 1, t, id };
    default:
      return bad(`unknown kind ${JSON.stringify(t)}`);
  }
}

/** The ranges of indexes in `[0, count)` that `has` says are missing. */
export function missingRanges(count: number, has: (index: number) => boolean): Ranges {
  const out: Ranges = [];
  for (let i = 0; i < count; i++) {
    if (has(i)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}
