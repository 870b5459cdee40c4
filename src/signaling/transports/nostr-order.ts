/**
 * Puts each sender's payloads back in order for {@link NostrTransport}: relays may pass events
 * on out of order, so every payload carries a count per recipient. Internal: not part of the
 * public API.
 * @internal
 * @packageDocumentation
 */

/** How long a payload that overtook an earlier one waits for it, in ms. */
const REORDER_MS = 1000;
/** Payloads held per sender, and senders tracked, at most: a flood must not grow them. */
const MAX_HELD = 256;
const MAX_SENDERS = 1024;

/** One sender's payloads: one that overtook another waits for it, for {@link REORDER_MS} at most. */
class Reorder {
  #next = 1;
  readonly #held = new Map<number, unknown>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly deliver: (payload: unknown) => void) {}

  take(n: number, payload: unknown): void {
    if (n < this.#next || this.#held.size >= MAX_HELD) return;
    this.#held.set(n, payload);
    this.#flush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    while (this.#held.has(this.#next)) {
      const payload = this.#held.get(this.#next);
      this.#held.delete(this.#next++);
      this.deliver(payload);
    }
    if (this.#held.size === 0) return;
    this.#timer = setTimeout(() => {
      // The missing one is lost for good: go on from the next one held.
      this.#next = Math.min(...this.#held.keys());
      this.#flush();
    }, REORDER_MS);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

/** Every sender's {@link Reorder}, handing payloads on in order. */
export class SenderOrder {
  readonly #order = new Map<string, Reorder>();

  constructor(private readonly deliver: (from: string, payload: unknown) => void) {}

  /** Takes payload number `n` from `from`. */
  take(from: string, n: number, payload: unknown): void {
    let order = this.#order.get(from);
    if (order === undefined) {
      if (this.#order.size > MAX_SENDERS) return;
      order = new Reorder((p) => this.deliver(from, p));
      this.#order.set(from, order);
    }
    order.take(n, payload);
  }

  /** Forgets a sender that left: a sender that comes back counts from 1 again. */
  forget(from: string): void {
    this.#order.get(from)?.stop();
    this.#order.delete(from);
  }

  clear(): void {
    for (const order of this.#order.values()) order.stop();
    this.#order.clear();
  }
}
