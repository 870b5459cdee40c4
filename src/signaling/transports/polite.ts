/**
 * What the transports over shared infrastructure (MQTT brokers, Nostr relays) have in common:
 * room names hashed before they leave the page, per-member rate limits, and the warning for a
 * room with no secret on a server someone else runs. Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */
import { PeerKitError } from '../../errors.js';
import { toHex } from '../../util.js';
import type { JoinResult } from '../transport.js';

/**
 * A hex SHA-256 of `room` under a label naming its use, so the server sees a fixed-length name
 * that says nothing of the room, and two uses of one room never share a value.
 */
export async function roomHash(label: string, room: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`peerkit/${label}/${room}`));
  return toHex(new Uint8Array(digest));
}

/**
 * One token bucket per key (a member id): `burst` tokens at most, refilled at `perSecond`.
 * Keys not seen for a while are forgotten, so ids that come and go do not pile up.
 */
export class RateLimits {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {}

  /** Takes a token for `key`; false when its bucket is empty. */
  take(key: string, now = Date.now()): boolean {
    const bucket = this.#refill(key, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Milliseconds until `key` has a token again; 0 when it has one now. */
  waitMs(key: string, now = Date.now()): number {
    const { tokens } = this.#refill(key, now);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.perSecond) * 1000);
  }

  #refill(key: string, now: number): { tokens: number; at: number } {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size > 1024) this.#forgetFull(now);
      bucket = { tokens: this.burst, at: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    return bucket;
  }

  /** A full bucket is the same as no bucket. */
  #forgetFull(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.burst) this.#buckets.delete(key);
    }
  }
}

/** Whether `url`'s host is this machine, where nobody else can listen in. */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Whether `hello` is a Room presence sealed with a secret (`{ pk, key, e }`, see room/envelope.ts).
 * The one thing these transports read in what they carry, and only to decide on a warning.
 */
export function looksSealed(hello: unknown): boolean {
  return typeof hello === 'object' && hello !== null && 'e' in hello && !('hello' in hello);
}

/**
 * Warns in the console, once per call site's transport, that a room without a secret is
 * readable by the server's operator and by anyone subscribed to its topics.
 */
export function warnIfExposed(transport: string, urls: readonly string[], hello: unknown): void {
  const exposed = urls.filter((url) => !isLoopback(url));
  if (exposed.length === 0 || looksSealed(hello)) return;
  console.warn(
    `peerkit ${transport}: this room has no secret, so ${exposed.join(', ')} and anyone subscribed to its topics can read ` +
      "every member's hello and signals (IP addresses in ICE candidates included). Pass `secret` to Room.join to encrypt them end to end.",
  );
}

/**
 * Payloads waiting to go, oldest first, each paced by its recipient's {@link RateLimits}: the
 * first one over its recipient's rate holds the ones behind it, so signals keep their order.
 */
export class PacedQueue<T> {
  #items: { to: string; item: T }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly limits: RateLimits,
    private readonly max: number,
  ) {}

  /** Adds a payload for `to`; false when the queue is full and it was not taken. */
  push(to: string, item: T): boolean {
    if (this.#items.length >= this.max) return false;
    this.#items.push({ to, item });
    return true;
  }

  /**
   * Hands payloads to `send` in order while their recipients' rates allow, dropping those whose
   * recipient is no longer `present`; comes back by itself when a rate holds the next one.
   */
  drain(present: (to: string) => boolean, send: (to: string, item: T) => void): void {
    clearTimeout(this.#timer);
    while (this.#items.length > 0) {
      const { to, item } = this.#items[0]!;
      if (!present(to)) {
        this.#items.shift();
        continue;
      }
      const wait = this.limits.waitMs(to);
      if (wait > 0) {
        this.#timer = setTimeout(() => this.drain(present, send), wait);
        return;
      }
      this.limits.take(to);
      this.#items.shift();
      send(to, item);
    }
  }

  /** Keeps the payloads `keep` returns a value for (rewritten to it), in order. */
  rewrite(keep: (to: string, item: T) => T | undefined): void {
    const kept: { to: string; item: T }[] = [];
    for (const { to, item } of this.#items) {
      const next = keep(to, item);
      if (next !== undefined) kept.push({ to, item: next });
    }
    this.#items = kept;
  }

  /** Stops pacing; what is queued stays until {@link drain} or {@link clear}. */
  pause(): void {
    clearTimeout(this.#timer);
  }

  /** Drops everything. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#items = [];
  }
}

/** The rate limits of one transport: its outgoing queue, paced per recipient, and its inbound limit per sender. */
export class Pacing<T> {
  readonly queue: PacedQueue<T>;
  readonly #inbound: RateLimits;

  constructor(private readonly options: { signalsPerSecond: number; signalBurst: number; maxQueue: number }) {
    this.queue = new PacedQueue(new RateLimits(options.signalBurst, options.signalsPerSecond), options.maxQueue);
    this.#inbound = new RateLimits(options.signalBurst, options.signalsPerSecond);
  }

  /** Queues a payload for `to`; returns the error to emit when the queue is full and it was dropped. */
  enqueue(to: string, item: T): PeerKitError | undefined {
    if (this.queue.push(to, item)) return undefined;
    return new PeerKitError('TRANSPORT_ERROR', `send queue full (${this.options.maxQueue}); payload dropped`);
  }

  /** Takes a payload from `from`; returns the error to emit when it is over its rate and dropped. */
  admit(from: string): PeerKitError | undefined {
    if (this.#inbound.take(from)) return undefined;
    return new PeerKitError('RATE_LIMITED', `member ${from} sends more than ${this.options.signalsPerSecond} signals a second; dropped one`);
  }
}

/** A join result from the members found and their hellos (`undefined` for none). */
export function joinResult(selfId: string, found: ReadonlyMap<string, unknown>): JoinResult {
  const hellos: Record<string, unknown> = {};
  for (const [id, hello] of found) if (hello !== undefined) hellos[id] = hello;
  return { selfId, members: [...found.keys()], hellos };
}

/** The options both transports have, with the same defaults. */
export interface PoliteOptions {
  minDelayMs: number;
  maxDelayMs: number;
  connectTimeoutMs: number;
  maxQueue: number;
  signalsPerSecond: number;
  signalBurst: number;
}

/** {@link PoliteOptions} from what the user gave, defaults filled in. */
export function politeDefaults(options: Partial<PoliteOptions>): PoliteOptions {
  return {
    minDelayMs: options.minDelayMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 10_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    maxQueue: options.maxQueue ?? 256,
    signalsPerSecond: options.signalsPerSecond ?? 20,
    signalBurst: options.signalBurst ?? 100,
  };
}
