/**
 * Payloads from senders not known yet, kept until they are: a transport or a Room may hear a
 * member's signal before its arrival (through a faster relay, over the server before the
 * roster catches up). Bounded per sender and in senders, so strangers cannot fill memory.
 * Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */
export class Strangers {
  readonly #held = new Map<string, unknown[]>();

  /**
   * @param maxSenders - senders held at once; payloads from more are dropped
   * @param maxEach - payloads held per sender; later ones are dropped
   */
  constructor(
    private readonly maxSenders: number,
    private readonly maxEach: number,
  ) {}

  /** Holds a payload from `from`, within the bounds. */
  hold(from: string, payload: unknown): void {
    const held = this.#held.get(from) ?? [];
    if (held.length >= this.maxEach || (held.length === 0 && this.#held.size >= this.maxSenders)) return;
    held.push(payload);
    this.#held.set(from, held);
  }

  /** What `from` sent before it was known, oldest first; forgotten here. */
  take(from: string): unknown[] {
    const held = this.#held.get(from) ?? [];
    this.#held.delete(from);
    return held;
  }

  clear(): void {
    this.#held.clear();
  }
}
