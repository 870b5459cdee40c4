import { PeerKitError } from '../errors.js';
import { isRecord } from '../util.js';
import { deriveRoomKey, helloContext, seal, signalContext, unseal } from './seal.js';

/**
 * What a Room puts in its transport's `hello`, and how it wraps signals: in the clear, or sealed
 * with the room secret. Transports carry both without looking inside.
 *
 * Presence, version 1: `{ pk: 1, key, hello }` in the clear, `{ pk: 1, key, e }` sealed, where
 * `key` is the member's session key (random per Room, kept across reconnects) and `e` the sealed
 * `{ h: hello }`. Signals: the Peer's signal as is, or `{ pk: 1, e }` with `e` the sealed
 * `{ n, s }`, `n` counting up from 1 per sender and recipient, `s` the signal. Two routing fields
 * go beside the signal's own (in the clear) or beside `n` and `s` (sealed), and are left out at
 * their defaults: `g`, the generation of the sender's Peer for this pair (0 for the first, one
 * more each time the Room rebuilds it; see room.ts), and `end: true` on the `bye` of a member
 * that is leaving the room, so its Peers are not rebuilt.
 */

const VERSION = 1;

/** A member's presence as read by the Room before opening it. */
export interface Presence {
  /** The session key; `id:<member id>` for a member that is not a Room. */
  key: string;
  /** The rest of the envelope, opened by {@link Envelopes.openHello}. */
  raw: unknown;
  /** Whether the member is a Room (and so rebuilds Peers and speaks room delivery). */
  room: boolean;
}

/** Which of the sender's Peers a signal belongs to, and whether the sender is leaving. */
export interface Route {
  g: number;
  end: boolean;
}

/** A signal opened, with its number (0 in the clear) and route. */
export interface OpenedSignal extends Route {
  n: number;
  signal: unknown;
}

const routeOf = (fields: Record<string, unknown>): Route => ({
  g: typeof fields.g === 'number' && Number.isSafeInteger(fields.g) && fields.g > 0 ? fields.g : 0,
  end: fields.end === true,
});

/** Why a member's hello could not be opened. */
export type HelloRefusal = 'wrong-secret' | 'needs-secret' | 'not-sealed';

/** A member's hello, opened, or why it could not be. */
export type OpenedHello = { hello: unknown } | { refusal: HelloRefusal };

/** The envelopes of one Room; create with {@link Envelopes.create}. */
export class Envelopes {
  /**
   * The number of the last signal wrapped, for any member: one counter for the Room, not one per
   * member record, because a member dropped after its grace and admitted again gets a new record
   * here while its side may have kept ours, and still refuses any number it has seen.
   */
  private numbered = 0;

  private constructor(
    private readonly room: string,
    private readonly self: string,
    private readonly key: CryptoKey | undefined,
  ) {}

  /** Derives the room key first when there is a secret (slow on purpose: see seal.ts). */
  static async create(room: string, self: string, secret: string | undefined, iterations: number | undefined): Promise<Envelopes> {
    const key = secret === undefined ? undefined : await deriveRoomKey(secret, room, iterations);
    return new Envelopes(room, self, key);
  }

  /** The number of the next signal to wrap: higher than any this Room wrapped before. */
  nextNumber(): number {
    return ++this.numbered;
  }

  /** Whether signals are sealed. */
  get sealed(): boolean {
    return this.key !== undefined;
  }

  /** This member's presence, for `transport.join(room, { hello })`. */
  async presence(hello: unknown): Promise<unknown> {
    if (this.key === undefined) return { pk: VERSION, key: this.self, hello };
    return { pk: VERSION, key: this.self, e: await seal(this.key, helloContext(this.room, this.self), { h: hello }) };
  }

  /** Reads the session key of a member's presence, without opening the rest. */
  read(id: string, raw: unknown): Presence {
    if (isRecord(raw) && raw.pk === VERSION && typeof raw.key === 'string' && raw.key.length > 0) return { key: raw.key, raw, room: true };
    // A member that is not a Room (another client of the same server) is known by its id alone.
    return { key: `id:${id}`, raw, room: false };
  }

  /** Opens a member's hello: the value, or why it cannot be trusted. */
  async openHello(presence: Presence): Promise<OpenedHello> {
    const { raw, key } = presence;
    const sealedHello = isRecord(raw) && raw.pk === VERSION ? raw.e : undefined;
    if (this.key === undefined) {
      if (sealedHello !== undefined) return { refusal: 'needs-secret' };
      return { hello: isRecord(raw) && raw.pk === VERSION ? raw.hello : raw };
    }
    if (sealedHello === undefined) return { refusal: 'not-sealed' };
    const opened = await unseal(this.key, helloContext(this.room, key), sealedHello);
    return isRecord(opened) ? { hello: opened.h } : { refusal: 'wrong-secret' };
  }

  /** Wraps signal number `n` for the member with session key `to`. */
  async wrap(to: string, n: number, signal: object, route: Route): Promise<unknown> {
    const fields = { ...(route.g > 0 ? { g: route.g } : {}), ...(route.end ? { end: true } : {}) };
    if (this.key === undefined) return { ...signal, ...fields };
    return { pk: VERSION, e: await seal(this.key, signalContext(this.room, this.self, to), { n, s: signal, ...fields }) };
  }

  /**
   * Opens a payload from the member with session key `from`: the signal and its number (0 when
   * in the clear), or an error when it was not sealed with this room's key for this pair.
   */
  async open(from: string, payload: unknown): Promise<OpenedSignal | PeerKitError> {
    if (this.key === undefined) return { n: 0, signal: payload, ...(isRecord(payload) ? routeOf(payload) : { g: 0, end: false }) };
    const opened = isRecord(payload) && payload.pk === VERSION ? await unseal(this.key, signalContext(this.room, from, this.self), payload.e) : undefined;
    if (!isRecord(opened) || typeof opened.n !== 'number' || !('s' in opened)) {
      return new PeerKitError('UNAUTHORIZED', 'a signal did not open with the room secret (forged, altered or redirected): dropped');
    }
    return { n: opened.n, signal: opened.s, ...routeOf(opened) };
  }
}

/** The error a refused hello gives, in words a user can act on. */
export function refusalError(id: string, refusal: HelloRefusal): PeerKitError {
  const message = {
    'wrong-secret': `member ${id} joined with another secret; it is not connected`,
    'needs-secret': `member ${id} uses encrypted signaling; join with the room's secret to connect to it`,
    'not-sealed': `member ${id} joined without the room's secret; it is not connected`,
  }[refusal];
  return new PeerKitError('UNAUTHORIZED', message);
}
