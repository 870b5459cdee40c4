import { backoffDelay } from '../../util.js';

/** What a transport does after losing its connection. */
export type NextAttempt = { kind: 'now' } | { kind: 'later'; delayMs: number } | { kind: 'give-up' };

/**
 * The reconnect policy of {@link WebSocketTransport}: which server URL to try next and when.
 * Until the first join succeeds, each URL is tried once, in order, at once, and then the
 * transport gives up; after that, it keeps trying round the list with backoff, forever, starting
 * from the URL it was last joined through. A server that asks its clients to go elsewhere
 * (draining, restarting) is skipped at once (`afterLoss(true)`).
 * @internal
 */
export class Failover {
  readonly #urls: readonly string[];
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;
  /** Index of the URL of the last successful join. */
  #base = 0;
  /** Connection attempts since the last successful join; picks the URL and the delay. */
  #attempt = 0;
  #everJoined = false;

  constructor(urls: readonly string[], minDelayMs: number, maxDelayMs: number) {
    this.#urls = urls;
    this.#minDelayMs = minDelayMs;
    this.#maxDelayMs = maxDelayMs;
  }

  /** The URL to connect to now, counted as one attempt. */
  nextUrl(): string {
    const url = this.#urls[(this.#base + this.#attempt) % this.#urls.length] ?? '';
    this.#attempt += 1;
    return url;
  }

  /** A join succeeded: the next loss starts again from the first delay and keeps retrying. */
  joined(): void {
    this.#base = (this.#base + this.#attempt - 1) % this.#urls.length;
    this.#attempt = 0;
    this.#everJoined = true;
  }

  /**
   * What to do now that the connection is lost. Delays are "full jitter" ({@link backoffDelay}),
   * so clients dropped together by a server restart do not all come back at the same instant.
   * @param leaving - The server asked to be left (`DRAINING`, or `SHUTTING_DOWN` before its close):
   * its URL is skipped, and while there is one not tried since the last join, that one is tried at
   * once, as it is likely healthy.
   */
  afterLoss(leaving = false): NextAttempt {
    if (leaving) this.#attempt ||= 1;
    const now = leaving && this.#attempt < this.#urls.length;
    if (this.#everJoined) return { kind: 'later', delayMs: now ? 0 : backoffDelay(this.#attempt, this.#minDelayMs, this.#maxDelayMs) };
    return this.#attempt < this.#urls.length ? { kind: 'now' } : { kind: 'give-up' };
  }
}
