/**
 * The Nostr events of {@link NostrTransport}, made and checked in one place: what goes in an
 * event's content, how an event is signed with a member's throwaway key, and which events
 * received are for this member. Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import type { Event as NostrEvent } from 'nostr-tools/pure';
import { isRecord } from '../../util.js';

export type { NostrEvent };

/** What goes in an event's content. `hi` asks the others to answer with `here`. */
export type Content =
  | { t: 'hi' | 'here' | 'beat'; h?: unknown }
  | { t: 'bye' }
  | { t: 'msg'; n: number; p: unknown };

/** Who this member is on the relays, and which room it is in. */
export interface Identity {
  /** The throwaway secret key every event is signed with. */
  key: Uint8Array;
  /** Its public key, hex: the member id. */
  id: string;
  /** The room's hash, the `y` tag of everything said to the whole room. */
  hash: string;
}

/** The kind of a NIP-42 AUTH event. */
const AUTH_KIND = 22242;
/** Events older than this (relay replay, clock skew) are ignored, in seconds. */
const MAX_AGE_S = 120;

const now = (): number => Math.floor(Date.now() / 1000);

/** A fresh throwaway key pair. */
export function newIdentity(hash = ''): Identity {
  const key = generateSecretKey();
  return { key, id: getPublicKey(key), hash };
}

export function parseContent(text: string): Content | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  if (value.t === 'hi' || value.t === 'here' || value.t === 'beat') return { t: value.t, ...('h' in value && { h: value.h }) };
  if (value.t === 'bye') return { t: 'bye' };
  if (value.t === 'msg' && 'p' in value && Number.isSafeInteger(value.n)) return { t: 'msg', n: value.n as number, p: value.p };
  return undefined;
}

/** `content`, signed with `key`: to member `to` (a `p` tag), else to the room `hash` (a `y` tag). */
export function signContent(kind: number, content: Content, key: Uint8Array, hash: string, to?: string): NostrEvent {
  const tags = to === undefined ? [['y', hash]] : [['p', to]];
  return finalizeEvent({ kind, created_at: now(), tags, content: JSON.stringify(content) }, key);
}

/** A NIP-42 AUTH event answering `challenge` from the relay at `url`. */
export function signAuth(url: string, challenge: string, key: Uint8Array): NostrEvent {
  return finalizeEvent({ kind: AUTH_KIND, created_at: now(), tags: [['relay', url], ['challenge', challenge]], content: '' }, key);
}

/**
 * `raw` as an event of `kind` for `me`, from someone else and recent, or `undefined`; `forged`
 * when all that holds but the signature does not. The signature is checked last: it takes tens
 * of ms in Firefox, and not every relay applies tag filters.
 */
export function eventFor(raw: unknown, kind: number, me: Identity): NostrEvent | 'forged' | undefined {
  if (!isRecord(raw) || typeof raw.id !== 'string') return undefined;
  const event = raw as unknown as NostrEvent;
  if (event.kind !== kind || !Array.isArray(event.tags) || typeof event.content !== 'string') return undefined;
  if (event.pubkey === me.id || now() - event.created_at > MAX_AGE_S) return undefined;
  const to = event.tags.find((tag) => tag[0] === 'p')?.[1];
  const room = event.tags.find((tag) => tag[0] === 'y')?.[1];
  if (to === undefined ? room !== me.hash : to !== me.id) return undefined;
  return verifyEvent(event) ? event : 'forged';
}
