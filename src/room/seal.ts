import { PeerKitError } from '../errors.js';

/**
 * End-to-end encryption of what a Room sends through its transport, so that the signaling
 * server and any transport see only ciphertext and routing fields.
 *
 * Key: PBKDF2-HMAC-SHA-256 over the shared secret, salted with the room name (the slow KDF that
 * WebCrypto has everywhere), to an AES-256-GCM key. Each message has a fresh random 96-bit IV.
 * The additional data binds a ciphertext to its room, its purpose, and for signals to the
 * sender's and recipient's session keys, so a server cannot redirect one member's signal to
 * another; a sequence number inside stops it replaying old ones.
 */

/** PBKDF2 iterations: OWASP's 2023 figure for PBKDF2-HMAC-SHA-256. */
export const DEFAULT_KDF_ITERATIONS = 600_000;

const IV_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Derives the room key; slow on purpose, so a captured ciphertext resists guessing the secret. */
export async function deriveRoomKey(secret: string, room: string, iterations = DEFAULT_KDF_ITERATIONS): Promise<CryptoKey> {
  if (typeof secret !== 'string' || secret.length === 0) throw new PeerKitError('BAD_ARGUMENT', 'secret must be a non-empty string');
  if (!Number.isInteger(iterations) || iterations < 1) throw new PeerKitError('BAD_ARGUMENT', `kdfIterations must be a positive integer, got ${iterations}`);
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) throw new PeerKitError('INSECURE_CONTEXT', 'encrypted signaling needs WebCrypto, found only in secure contexts (https, localhost)');
  const material = await subtle.importKey('raw', encoder.encode(secret), 'PBKDF2', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: encoder.encode(`peerkit/1 room-key ${room}`), iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Encrypts `value` as JSON; returns base64 of IV then ciphertext. */
export async function seal(key: CryptoKey, context: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plain = encoder.encode(JSON.stringify(value));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(context) }, key, plain));
  const out = new Uint8Array(IV_BYTES + sealed.length);
  out.set(iv);
  out.set(sealed, IV_BYTES);
  return toBase64(out);
}

/** Decrypts what {@link seal} made with the same key and context; `undefined` when it cannot. */
export async function unseal(key: CryptoKey, context: string, text: unknown): Promise<unknown> {
  if (typeof text !== 'string') return undefined;
  try {
    const bytes = fromBase64(text);
    if (bytes.length <= IV_BYTES) return undefined;
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, IV_BYTES), additionalData: encoder.encode(context) },
      key,
      bytes.subarray(IV_BYTES),
    );
    return JSON.parse(decoder.decode(plain));
  } catch {
    return undefined;
  }
}

/** The additional data of a member's hello. */
export const helloContext = (room: string, key: string): string => `peerkit/1 hello ${room} ${key}`;

/** The additional data of a signal from one session to another. */
export const signalContext = (room: string, from: string, to: string): string => `peerkit/1 signal ${room} ${from} ${to}`;
