/**
 * Time-limited TURN credentials in the "TURN REST API" scheme that coturn implements with
 * `use-auth-secret` (draft-uberti-behave-turn-rest-00): the username is `<expiry>:<user>` and the
 * password is base64(HMAC-SHA1(shared secret, username)). coturn recomputes the password from the
 * secret it shares with this server and refuses the allocation once the expiry has passed, so
 * nothing is stored per user and a leaked credential dies on its own.
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from './protocol.js';

/** TURN servers that share a secret with this server (coturn's `static-auth-secret`). */
export interface TurnOptions {
  /** The shared secret, the same as coturn's `static-auth-secret`. */
  secret: string;
  /** TURN URLs handed out with the credentials, e.g. `['turn:turn.example:3478?transport=udp']`. */
  urls: string[];
  /**
   * How long a credential stays valid. It only has to outlive the start of a call: coturn checks
   * it when an allocation is made or refreshed, and browsers refresh with the same credential.
   * @default 86400
   */
  ttlSeconds?: number;
}

/**
 * Mints one TURN credential for `user`, valid for `ttlSeconds` from `nowSeconds`.
 *
 * @example
 * ```ts
 * const server = turnCredentials({ secret, urls: ['turn:turn.example:3478'] }, 'alice', Date.now() / 1000);
 * // { urls: [...], username: '1767225600:alice', credential: 'b64...' }
 * ```
 */
export function turnCredentials(turn: TurnOptions, user: string, nowSeconds: number): IceServer {
  const expiry = Math.floor(nowSeconds + (turn.ttlSeconds ?? 86_400));
  const username = `${expiry}:${user}`;
  const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
  return { urls: [...turn.urls], username, credential };
}

/** Refuses a TURN configuration that could only fail later, at the first allocation. */
export function checkTurnOptions(turn: TurnOptions): TurnOptions {
  const { secret, urls, ttlSeconds } = turn;
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new TypeError('createSignalingServer: turn.secret must be a non-empty string');
  }
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && /^turns?:/.test(u))) {
    throw new TypeError('createSignalingServer: turn.urls must be a non-empty list of turn: or turns: URLs');
  }
  if (ttlSeconds !== undefined && !(Number.isFinite(ttlSeconds) && ttlSeconds > 0)) {
    throw new TypeError(`createSignalingServer: turn.ttlSeconds must be a positive number, got ${String(ttlSeconds)}`);
  }
  const copy: TurnOptions = { secret, urls: [...urls] };
  if (ttlSeconds !== undefined) copy.ttlSeconds = ttlSeconds;
  return copy;
}
