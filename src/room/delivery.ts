import { PeerKitError } from '../errors.js';

/**
 * Exactly-once, in-order delivery of room messages between two members, across the Peers a Room
 * builds for them one after another. Pure bookkeeping: no timers, no channels (see courier.ts).
 *
 * Each direction is a stream numbered from 1, named by a random `epoch` that lives as long as the
 * sender's Member does. The sender keeps every message until the receiver acknowledges it (the
 * highest number it delivered in order) and replays what is left on each new link; the receiver
 * delivers the next number only, drops what it has already seen, and answers each new link's
 * `sync` with where it is. Memory is bounded: past {@link DeliveryLimits} unacknowledged,
 * `push` refuses with `BACKLOG_FULL` rather than drop anything.
 */

/** How much may wait unacknowledged for one member. */
export interface DeliveryLimits {
  /** @default 1000 */
  messages: number;
  /** @default 16777216 (16 MiB) */
  bytes: number;
}

/** The bound on what waits unacknowledged, per member. */
export const DELIVERY_LIMITS: DeliveryLimits = { messages: 1000, bytes: 16 * 1024 * 1024 };

/** One message held until acknowledged. */
export interface Pending<T> {
  readonly seq: number;
  readonly size: number;
  readonly payload: T;
}

/** What each side says first on a new link. */
export interface Sync {
  /** The epoch of the sender's outgoing stream. */
  epoch: number;
  /** The epoch of the stream `ack` is about (the receiver's own outgoing one); 0 for none yet. */
  ackEpoch: number;
  /** The highest number of that stream delivered in order. */
  ack: number;
  /** The number of the first message the sender will send on this link. */
  next: number;
}

/** What to do with an arriving message. */
export type Verdict = 'deliver' | 'duplicate' | 'gap';

export class Delivery<T> {
  readonly #limits: DeliveryLimits;
  #next = 1;
  #pending: Pending<T>[] = [];
  #bytes = 0;
  #remoteEpoch = 0;
  #delivered = 0;
  #ackSent = 0;

  /** @param epoch - a random non-zero 32-bit number naming this side's outgoing stream */
  constructor(
    readonly epoch: number,
    limits: DeliveryLimits = DELIVERY_LIMITS,
  ) {
    this.#limits = { ...limits };
  }

  /** Messages waiting for an acknowledgement, oldest first. */
  get pending(): readonly Pending<T>[] {
    return this.#pending;
  }

  /** The number the next message will get. */
  get next(): number {
    return this.#next;
  }

  /** The highest number delivered in order from the remote: what to acknowledge. */
  get delivered(): number {
    return this.#delivered;
  }

  /** How many delivered messages the remote has not been told of. */
  get unacknowledged(): number {
    return this.#delivered - this.#ackSent;
  }

  /** Why a message of `size` bytes cannot be held now, or undefined when it can. */
  refusal(size: number): PeerKitError | undefined {
    const { messages, bytes } = this.#limits;
    const bound = `${messages} messages or ${bytes} bytes may wait for a member`;
    if (size > bytes) return new PeerKitError('MESSAGE_TOO_LARGE', `a ${size}-byte room message is too large: ${bound}`);
    if (this.#pending.length >= messages || this.#bytes + size > bytes) {
      return new PeerKitError('BACKLOG_FULL', `${this.#pending.length} messages (${this.#bytes} bytes) wait for this member's acknowledgement, and ${bound}: await earlier sends`);
    }
    return undefined;
  }

  /**
   * Numbers a message and holds it until acknowledged.
   * @returns the held message, or the `BACKLOG_FULL` error when it would pass the bound
   */
  push(payload: T, size: number): Pending<T> | PeerKitError {
    const refused = this.refusal(size);
    if (refused !== undefined) return refused;
    const pending = { seq: this.#next++, size, payload };
    this.#pending.push(pending);
    this.#bytes += size;
    return pending;
  }

  /** The remote delivered everything up to `ack`: those are let go. Numbers never sent are ignored. */
  acknowledge(ack: number): void {
    let drop = 0;
    while (drop < this.#pending.length && (this.#pending[drop]?.seq ?? Infinity) <= ack) {
      this.#bytes -= this.#pending[drop]?.size ?? 0;
      drop++;
    }
    if (drop > 0) this.#pending = this.#pending.slice(drop);
  }

  /** What this side says first on a new link. */
  sync(): Sync {
    this.#ackSent = this.#delivered;
    return { epoch: this.epoch, ackEpoch: this.#remoteEpoch, ack: this.#delivered, next: this.#pending[0]?.seq ?? this.#next };
  }

  /**
   * Takes the remote's {@link Sync}. A new remote epoch is a stream this side has never seen (the
   * remote's Member for us is new): its numbering is taken as it comes. An acknowledgement of
   * another epoch than ours is of a stream we no longer have, and acknowledges nothing.
   */
  synced(remote: Sync): void {
    if (remote.epoch !== this.#remoteEpoch) {
      this.#remoteEpoch = remote.epoch;
      this.#delivered = this.#ackSent = remote.next - 1;
    }
    if (remote.ackEpoch === this.epoch) this.acknowledge(remote.ack);
  }

  /** Whether to deliver message `seq` from the remote; a delivered one counts. */
  accept(seq: number): Verdict {
    if (seq <= this.#delivered) return 'duplicate';
    if (seq > this.#delivered + 1) return 'gap';
    this.#delivered = seq;
    return 'deliver';
  }

  /** The acknowledgement to send now, and it counts as sent. */
  ack(): number {
    this.#ackSent = this.#delivered;
    return this.#delivered;
  }
}
