/**
 * SFrame (RFC 9605): the header, the AES-GCM cipher suites, the key schedule and one frame's
 * encryption and decryption, on WebCrypto. Runs in pages, workers and Node 20 alike.
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';

/** The SFrame cipher suites peerkit implements (RFC 9605 section 4.5; the AES-GCM ones). */
export type SFrameSuite = 'AES_128_GCM_SHA256_128' | 'AES_256_GCM_SHA512_128';

/** A cipher suite's parameters (RFC 9605 section 4.5): its IANA id, hash and sizes in bytes. */
export interface SuiteParameters {
  readonly id: number;
  readonly hash: 'SHA-256' | 'SHA-512';
  /** Key size, `Nk`. */
  readonly keyLength: number;
  /** Nonce size, `Nn`. */
  readonly nonceLength: number;
  /** Tag size, `Nt`. */
  readonly tagLength: number;
}

/** The parameters of each suite peerkit implements. */
export const SUITES: Readonly<Record<SFrameSuite, SuiteParameters>> = {
  AES_128_GCM_SHA256_128: { id: 0x0004, hash: 'SHA-256', keyLength: 16, nonceLength: 12, tagLength: 16 },
  AES_256_GCM_SHA512_128: { id: 0x0005, hash: 'SHA-512', keyLength: 32, nonceLength: 12, tagLength: 16 },
};

/** True for the name of a suite peerkit implements. */
export function isSuite(value: unknown): value is SFrameSuite {
  return typeof value === 'string' && Object.hasOwn(SUITES, value);
}

const MAX_U64 = (1n << 64n) - 1n;

/** Bytes of `value` in big-endian order, the fewest that hold it (at least one). */
function minimalBytes(value: bigint): Uint8Array {
  let length = 1;
  while (value >> BigInt(8 * length) > 0n) length++;
  return bigEndian(value, length);
}

/** `value` as exactly `length` big-endian bytes. */
function bigEndian(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

function readBigEndian(bytes: Uint8Array, start: number, length: number): bigint {
  let value = 0n;
  for (let i = start; i < start + length; i++) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

function checkU64(name: string, value: bigint): void {
  if (value < 0n || value > MAX_U64) throw new PeerKitError('BAD_ARGUMENT', `The SFrame ${name} must be an unsigned 64-bit integer, got ${value}.`);
}

/**
 * The SFrame header for a key id and counter (RFC 9605 section 4.3): a config byte `X|K|Y|C`,
 * then the KID and the CTR fields. Values below 8 sit in the config byte itself; larger ones
 * take the extended form with the fewest bytes, the encoding the RFC's test vectors use.
 */
export function encodeHeader(kid: bigint, ctr: bigint): Uint8Array {
  checkU64('key id', kid);
  checkU64('counter', ctr);
  const kidBytes = kid < 8n ? new Uint8Array(0) : minimalBytes(kid);
  const ctrBytes = ctr < 8n ? new Uint8Array(0) : minimalBytes(ctr);
  const k = kid < 8n ? Number(kid) << 4 : 0x80 | ((kidBytes.length - 1) << 4);
  const c = ctr < 8n ? Number(ctr) : 0x08 | (ctrBytes.length - 1);
  const header = new Uint8Array(1 + kidBytes.length + ctrBytes.length);
  header[0] = k | c;
  header.set(kidBytes, 1);
  header.set(ctrBytes, 1 + kidBytes.length);
  return header;
}

/** A parsed SFrame header and its length in bytes. */
export interface SFrameHeader {
  readonly kid: bigint;
  readonly ctr: bigint;
  readonly length: number;
}

/**
 * Parses the SFrame header at the start of `bytes` (RFC 9605 section 4.3). Accepts extended
 * fields of any length, as a receiver must, not only the shortest.
 *
 * @throws PeerKitError `BAD_MESSAGE` when `bytes` is too short for the header it announces.
 */
export function decodeHeader(bytes: Uint8Array): SFrameHeader {
  const config = bytes[0];
  if (config === undefined) throw new PeerKitError('BAD_MESSAGE', 'An SFrame ciphertext cannot be empty.');
  const extendedKid = (config & 0x80) !== 0;
  const extendedCtr = (config & 0x08) !== 0;
  const kidLength = extendedKid ? ((config >> 4) & 0x07) + 1 : 0;
  const ctrLength = extendedCtr ? (config & 0x07) + 1 : 0;
  const length = 1 + kidLength + ctrLength;
  if (bytes.length < length) throw new PeerKitError('BAD_MESSAGE', `An SFrame header of ${length} bytes does not fit in ${bytes.length}.`);
  const kid = extendedKid ? readBigEndian(bytes, 1, kidLength) : BigInt((config >> 4) & 0x07);
  const ctr = extendedCtr ? readBigEndian(bytes, 1 + kidLength, ctrLength) : BigInt(config & 0x07);
  return { kid, ctr, length };
}

const encoder = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The HKDF labels of RFC 9605 section 4.4.2: a prefix, the KID as 8 bytes, the suite as 2. */
export function keyScheduleLabels(suite: SFrameSuite, kid: bigint): { key: Uint8Array; salt: Uint8Array } {
  checkU64('key id', kid);
  const tail = concat(bigEndian(kid, 8), bigEndian(BigInt(SUITES[suite].id), 2));
  return { key: concat(encoder.encode('SFrame 1.0 Secret key '), tail), salt: concat(encoder.encode('SFrame 1.0 Secret salt '), tail) };
}

/** The `sframe_key` and `sframe_salt` derived from a base key (RFC 9605 section 4.4.2). */
export interface KeyMaterial {
  readonly key: Uint8Array<ArrayBuffer>;
  readonly salt: Uint8Array<ArrayBuffer>;
}

/**
 * `derive_key_salt` of RFC 9605 section 4.4.2: `HKDF-Extract` with an empty salt, then
 * `HKDF-Expand` with the key and the salt labels. WebCrypto's HKDF is exactly Extract then Expand,
 * so one `deriveBits` per output gives the same bytes.
 */
export async function deriveKeyMaterial(suite: SFrameSuite, kid: bigint, baseKey: Uint8Array): Promise<KeyMaterial> {
  const params = SUITES[suite];
  const labels = keyScheduleLabels(suite, kid);
  const ikm = await crypto.subtle.importKey('raw', concat(baseKey), 'HKDF', false, ['deriveBits']);
  const expand = async (info: Uint8Array, length: number) =>
    new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: params.hash, salt: new Uint8Array(0), info: concat(info) }, ikm, length * 8));
  return { key: await expand(labels.key, params.keyLength), salt: await expand(labels.salt, params.nonceLength) };
}

/** One derived key, ready for AES-GCM. */
export interface SFrameKey {
  readonly suite: SFrameSuite;
  readonly kid: bigint;
  readonly key: CryptoKey;
  readonly salt: Uint8Array<ArrayBuffer>;
}

/** Derives the AES-GCM key and the salt for `kid` from `baseKey`. */
export async function deriveKey(suite: SFrameSuite, kid: bigint, baseKey: Uint8Array): Promise<SFrameKey> {
  const material = await deriveKeyMaterial(suite, kid, baseKey);
  const key = await crypto.subtle.importKey('raw', material.key, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { suite, kid, key, salt: material.salt };
}

/** `nonce = sframe_salt XOR CTR` with CTR as `Nn` big-endian bytes (RFC 9605 section 4.4.3). */
export function nonceFor(salt: Uint8Array, ctr: bigint): Uint8Array<ArrayBuffer> {
  const counter = bigEndian(ctr, salt.length);
  return counter.map((byte, i) => byte ^ (salt[i] ?? 0));
}

/**
 * `encrypt` of RFC 9605 section 4.4.3: the header for `key.kid` and `ctr`, then the AES-GCM
 * ciphertext and tag of `plaintext`, authenticated with header and `metadata` as AAD.
 */
export async function encryptFrame(key: SFrameKey, ctr: bigint, metadata: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const header = encodeHeader(key.kid, ctr);
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonceFor(key.salt, ctr), additionalData: concat(header, metadata), tagLength: SUITES[key.suite].tagLength * 8 },
    key.key,
    concat(plaintext),
  );
  return concat(header, new Uint8Array(sealed));
}

/**
 * `decrypt` of RFC 9605 section 4.4.4 once the caller has found the key for `header.kid`.
 *
 * @throws PeerKitError `DECRYPT_FAILED` when authentication fails (wrong key, altered frame).
 */
export async function decryptFrame(key: SFrameKey, header: SFrameHeader, metadata: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
  try {
    const opened = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: nonceFor(key.salt, header.ctr), additionalData: concat(ciphertext.subarray(0, header.length), metadata), tagLength: SUITES[key.suite].tagLength * 8 },
      key.key,
      concat(ciphertext.subarray(header.length)),
    );
    return new Uint8Array(opened);
  } catch (cause) {
    throw new PeerKitError('DECRYPT_FAILED', `The SFrame frame with key id ${header.kid} and counter ${header.ctr} did not authenticate.`, { cause });
  }
}
