/**
 * When a member's SFrame sender key changes (docs/protocol.md section 8.6, "Key schedule"): which
 * key an admitted member gets, when a new key is drawn and handed out, and when it is used. Timers
 * and sets only, so that the bound on what a member who left can decrypt is tested without a
 * browser; drawing, delivering and installing keys is {@link KeyScheduleHost}'s.
 * @packageDocumentation
 */

/** Coalesces membership changes that come together (a room joined, several members admitted). */
export const REKEY_DEBOUNCE_MS = 100;
/** How long a new key is handed out before frames are encrypted under it. */
export const SWITCH_DELAY_MS = 1000;

/** A sender key, as far as the schedule looks at it. */
export interface ScheduledKey {
  readonly epoch: number;
}

/** What the schedule asks of its owner. */
export interface KeyScheduleHost<M, K extends ScheduledKey> {
  /** A fresh key for `epoch`. */
  draw(epoch: number): K;
  /** Hands `key` to `member`; `first` when it is the first key `member` gets since it was admitted. */
  give(member: M, key: K, first: boolean): void;
  /** Frames are encrypted under `key` from now on, no longer under `old`. */
  switched(key: K, old: K): void;
  /** `key` was handed out but will never be used: a member who held it is gone. */
  discarded(key: K): void;
}

/**
 * One member's sender keys over time. A new key starts when a member is gone (so it cannot decrypt
 * what follows) and when one is admitted while the current key was already handed out (so it
 * cannot decrypt what came before). A new key is handed out at once and used
 * {@link SWITCH_DELAY_MS} later. A member gone during that delay holds the key about to be used:
 * that key is then replaced by a fresh one before it encrypts anything, due at the same moment, so
 * no one who left can decrypt more than {@link REKEY_DEBOUNCE_MS} + {@link SWITCH_DELAY_MS} after
 * it was gone, however the changes fall.
 */
export class KeySchedule<M extends object, K extends ScheduledKey & object> {
  readonly #host: KeyScheduleHost<M, K>;
  readonly #members = new Set<M>();
  /** The epoch of the first key given to each member: it may hold every key since. */
  readonly #firstGiven = new WeakMap<M, number>();
  /** Keys handed to anyone. */
  readonly #shared = new WeakSet<K>();
  #current: K;
  /** A key handed out and not used yet. */
  #next: K | undefined;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  #switch: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(host: KeyScheduleHost<M, K>) {
    this.#host = host;
    this.#current = host.draw(1);
  }

  /** The key frames are encrypted under now. */
  get current(): K {
    return this.#current;
  }

  /** Whether `member` is admitted (and not gone since). */
  has(member: M): boolean {
    return this.#members.has(member);
  }

  /** `member` was admitted: it gets a key that never encrypted anything it could have recorded. */
  admitted(member: M): void {
    if (this.#closed) return;
    this.#members.add(member);
    if (this.#next !== undefined) this.#give(member, this.#next);
    else if (!this.#shared.has(this.#current)) this.#give(member, this.#current);
    else this.#rekey();
  }

  /** `member` is gone: a new key, unless it was never given one. @returns whether it was admitted */
  removed(member: M): boolean {
    if (!this.#members.delete(member)) return false;
    // While a change is pending, the current key is shared, and the leaver holds the next one too.
    if (this.#shared.has(this.#current)) this.#rekey();
    return true;
  }

  /**
   * `member` asked for our key again (it admitted this member anew and forgot what it was given):
   * it gets the keys it may hold. One that asks before it was given anything waits for that.
   */
  askedAgain(member: M): void {
    const first = this.#firstGiven.get(member);
    if (this.#closed || first === undefined || !this.#members.has(member)) return;
    if (this.#current.epoch >= first) this.#give(member, this.#current);
    if (this.#next !== undefined) this.#give(member, this.#next);
  }

  /** Stops every timer: no key changes any more. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearTimeout(this.#switch);
  }

  #give(member: M, key: K): void {
    this.#shared.add(key);
    const first = !this.#firstGiven.has(member);
    if (first) this.#firstGiven.set(member, key.epoch);
    this.#host.give(member, key, first);
  }

  #rekey(): void {
    if (this.#debounce !== undefined || this.#closed) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#handOut();
    }, REKEY_DEBOUNCE_MS);
  }

  /**
   * Draws the next key and gives it to every member. One that replaces a pending key keeps its
   * due time: waiting longer would let whoever left before keep decrypting the current key.
   */
  #handOut(): void {
    const replaced = this.#next;
    const next = this.#host.draw(this.#current.epoch + 1);
    this.#next = next;
    if (replaced !== undefined) this.#host.discarded(replaced);
    else this.#switch = setTimeout(() => this.#use(), SWITCH_DELAY_MS);
    for (const member of this.#members) this.#give(member, next);
  }

  #use(): void {
    const next = this.#next;
    if (next === undefined || this.#closed) return;
    const old = this.#current;
    this.#current = next;
    this.#next = undefined;
    this.#host.switched(next, old);
  }
}
