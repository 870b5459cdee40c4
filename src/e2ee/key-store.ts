/**
 * An SFrame context (RFC 9605 section 4.4.1): keys by key id, the send counter, the overlap
 * during which a replaced or removed key still decrypts, and the replay window.
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';
import { decodeHeader, decryptFrame, deriveKey, encryptFrame, type SFrameKey, type SFrameSuite } from './sframe.js';

/** Options of a {@link KeyStore}. */
export interface KeyStoreOptions {
  /**
   * How long a key that was replaced (`setKey` on its id again) or removed still decrypts, in ms.
   * Senders switch keys when their message arrives, receivers when theirs does; this covers the
   * difference, so frames sent under the old key just before the switch still play.
   * @default 5000
   */
  overlapMs?: number;
  /**
   * How many counter values below the highest seen a frame may carry and still be accepted, per
   * key id (RFC 9605 section 7.5). Audio and video of one sender share a counter and their frames
   * reach the decryptor in different orders, so this is wider than one stream's reordering.
   * @default 1024
   */
  replayWindow?: number;
  /** The clock, for tests. @default performance.now */
  now?: () => number;
}

interface Entry {
  current: SFrameKey;
  /** The key this one replaced, until `retireAt`. */
  previous?: { key: SFrameKey; retireAt: number };
  /** Set once the id was removed: encrypting stops at once, decrypting at this time. */
  removedAt?: number;
}

interface ReplayState {
  highest: bigint;
  seen: Set<bigint>;
}

/**
 * Keys by key id for one suite, with RFC 9605's counter and replay rules.
 *
 * @example
 * ```ts
 * const store = new KeyStore('AES_128_GCM_SHA256_128');
 * await store.setKey(1n, baseKey);
 * const frame = await store.encrypt(1n, clearBytes, payload);
 * const payloadAgain = await store.decrypt(clearBytes, frame);
 * ```
 */
export class KeyStore {
  readonly suite: SFrameSuite;
  private readonly overlapMs: number;
  private readonly replayWindow: bigint;
  private readonly now: () => number;
  private readonly keys = new Map<bigint, Entry>();
  private readonly replay = new Map<bigint, ReplayState>();
  /** One counter for every key id: a counter value is never used twice under any key. */
  private counter = 0n;

  constructor(suite: SFrameSuite, options: KeyStoreOptions = {}) {
    this.suite = suite;
    this.overlapMs = options.overlapMs ?? 5000;
    this.replayWindow = BigInt(options.replayWindow ?? 1024);
    this.now = options.now ?? (() => performance.now());
  }

  /** Sets the base key of `kid`; a key it replaces keeps decrypting for the overlap. */
  async setKey(kid: bigint, baseKey: Uint8Array): Promise<void> {
    const key = await deriveKey(this.suite, kid, baseKey);
    const old = this.keys.get(kid);
    const previous = old && old.removedAt === undefined ? { key: old.current, retireAt: this.now() + this.overlapMs } : undefined;
    this.keys.set(kid, previous ? { current: key, previous } : { current: key });
  }

  /** Stops encrypting with `kid` now and decrypting after the overlap. */
  removeKey(kid: bigint): void {
    const entry = this.keys.get(kid);
    if (entry && entry.removedAt === undefined) entry.removedAt = this.now() + this.overlapMs;
  }

  /** True when frames can be encrypted under `kid`. */
  canEncrypt(kid: bigint): boolean {
    const entry = this.keys.get(kid);
    return entry !== undefined && entry.removedAt === undefined;
  }

  /** Encrypts one frame under `kid` with the next counter value. */
  async encrypt(kid: bigint, metadata: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    const entry = this.keys.get(kid);
    if (!entry || entry.removedAt !== undefined) throw new PeerKitError('BAD_ARGUMENT', `No SFrame key with id ${kid} to encrypt with.`);
    const ctr = this.counter++;
    return encryptFrame(entry.current, ctr, metadata, plaintext);
  }

  /**
   * Decrypts one SFrame ciphertext: finds its key by the header's key id, tries the current key
   * and, during the overlap, the one it replaced, and applies the replay window.
   *
   * @returns the plaintext, or `undefined` for a frame the replay window drops (a counter seen
   * already or too old: RTP retransmissions deliver the odd frame twice, which is no failure).
   * @throws PeerKitError `DECRYPT_FAILED` for an unknown key id or a frame that does not
   * authenticate; `BAD_MESSAGE` for a truncated header.
   */
  async decrypt(metadata: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array | undefined> {
    const header = decodeHeader(ciphertext);
    const entry = this.keys.get(header.kid);
    const now = this.now();
    if (entry?.removedAt !== undefined && entry.removedAt <= now) this.keys.delete(header.kid);
    if (entry?.previous && entry.previous.retireAt <= now) delete entry.previous;
    if (!entry || !this.keys.has(header.kid)) throw new PeerKitError('DECRYPT_FAILED', `No SFrame key with id ${header.kid}.`);
    if (this.isReplay(header.kid, header.ctr)) return undefined;
    let plaintext: Uint8Array;
    try {
      plaintext = await decryptFrame(entry.current, header, metadata, ciphertext);
    } catch (error) {
      if (!entry.previous) throw error;
      plaintext = await decryptFrame(entry.previous.key, header, metadata, ciphertext);
    }
    // Only an authentic frame moves the window: a forged counter must not push real frames out.
    this.markSeen(header.kid, header.ctr);
    return plaintext;
  }

  private isReplay(kid: bigint, ctr: bigint): boolean {
    const state = this.replay.get(kid);
    return state !== undefined && (ctr + this.replayWindow <= state.highest || state.seen.has(ctr));
  }

  private markSeen(kid: bigint, ctr: bigint): void {
    const state = this.replay.get(kid) ?? { highest: ctr, seen: new Set<bigint>() };
    this.replay.set(kid, state);
    state.seen.add(ctr);
    if (ctr > state.highest) state.highest = ctr;
    if (state.seen.size <= this.replayWindow) return;
    for (const old of state.seen) if (old + this.replayWindow <= state.highest) state.seen.delete(old);
  }
}
