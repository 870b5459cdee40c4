/**
 * Room tokens: `base64url(JSON {room, exp, sub?}) + "." + base64url(HMAC-SHA256(secret, first part))`.
 * `exp` is in Unix seconds. An application server that knows the secret mints one per user and
 * room; the signaling server only verifies it, so it needs no user database.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a valid token says. */
export interface RoomTokenClaims {
  room: string;
  exp: number;
  sub?: string;
}

function sign(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/**
 * Mints a token that lets its holder join `room` for `ttlSeconds`.
 *
 * @param sub - An optional subject (a user id) that the server writes to its logs.
 * @example
 * ```ts
 * const token = createRoomToken(process.env.PEERKIT_TOKEN_SECRET!, 'lobby', 3600, 'user-42');
 * ```
 */
export function createRoomToken(secret: string, room: string, ttlSeconds: number, sub?: string): string {
  if (secret.length === 0) throw new TypeError('createRoomToken: secret must not be empty');
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError('createRoomToken: ttlSeconds must be a positive number');
  }
  const claims: RoomTokenClaims = { room, exp: Math.floor(Date.now() / 1000 + ttlSeconds) };
  if (sub !== undefined) claims.sub = sub;
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${sign(secret, body).toString('base64url')}`;
}

/**
 * Checks `token` for `room` at `nowSeconds`; returns the claims, or why the token is refused.
 * The signature is checked before the body is parsed, so unsigned input is never interpreted.
 */
export function verifyRoomToken(
  secret: string,
  token: string,
  room: string,
  nowSeconds: number,
): RoomTokenClaims | { refused: string } {
  const dot = token.indexOf('.');
  if (dot <= 0) return { refused: 'malformed token' };
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = sign(secret, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { refused: 'bad token signature' };
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { refused: 'malformed token' };
  }
  if (typeof claims !== 'object' || claims === null) return { refused: 'malformed token' };
  const { room: tokenRoom, exp, sub } = claims as Record<string, unknown>;
  if (typeof tokenRoom !== 'string' || typeof exp !== 'number') return { refused: 'malformed token' };
  if (tokenRoom !== room) return { refused: 'token is for another room' };
  if (exp <= nowSeconds) return { refused: 'token expired' };
  const result: RoomTokenClaims = { room: tokenRoom, exp };
  if (typeof sub === 'string') result.sub = sub;
  return result;
}
