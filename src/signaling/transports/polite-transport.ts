/**
 * The part of {@link MqttTransport} and {@link NostrTransport} that does not depend on the
 * server they share: entering a room under its hash, the warning for a room with no secret,
 * paced sending and rate-limited receiving. Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */
import { PeerKitError } from '../../errors.js';
import { BaseTransport } from './base.js';
import { Pacing, RateLimits, roomHash, warnIfExposed } from './polite.js';
import type { JoinOptions } from '../transport.js';

/** What {@link PoliteTransport} needs to know of its subclass. */
export interface PoliteSetup {
  /** The class name, for the warning. */
  readonly name: string;
  /** What the room's hash is labelled with, so two transports never share one. */
  readonly label: string;
  /** The servers, for the warning (those on loopback need none). */
  readonly urls: readonly string[];
  readonly pacing: { signalsPerSecond: number; signalBurst: number; maxQueue: number };
}

/**
 * A transport over servers someone else may run (MQTT brokers, Nostr relays). It fills in how
 * it connects once the room's hash is known, how a queued payload is wrapped, and how the
 * queue drains.
 * @internal
 */
export abstract class PoliteTransport<Queued> extends BaseTransport {
  /** Payloads waiting for the connection or for their recipient's rate, and the senders' rates. */
  protected readonly pacing: Pacing<Queued>;
  /** How often each member may (re)appear: one that keeps doing so is flooding the servers. */
  protected readonly arrivals = new RateLimits(3, 0.2);
  /** What this member joined with, announced to the others. */
  protected hello: unknown;
  readonly #setup: PoliteSetup;

  constructor(setup: PoliteSetup) {
    super();
    this.#setup = setup;
    this.pacing = new Pacing(setup.pacing);
  }

  protected override enter(room: string, options: JoinOptions): void {
    this.hello = options.hello;
    warnIfExposed(this.#setup.name, this.#setup.urls, this.hello);
    roomHash(this.#setup.label, room).then(
      (hash) => {
        if (this.state === 'connecting') this.connect(hash);
      },
      (cause: unknown) => this.fail(new PeerKitError('UNSUPPORTED', 'SHA-256 (crypto.subtle) is not available here', { cause })),
    );
  }

  /** Queues the payload, wrapped, for its recipient's rate; a payload JSON cannot carry throws `BAD_ARGUMENT`. */
  protected override carry(to: string, payload: unknown): void {
    let item: Queued;
    try {
      item = this.wrap(payload);
    } catch (cause) {
      throw new PeerKitError('BAD_ARGUMENT', 'payload must be JSON-serialisable', { cause });
    }
    const full = this.pacing.enqueue(to, item);
    if (full !== undefined) return void this.emit('error', full);
    this.drain();
  }

  /** Hands a payload from member `from` to the listeners, unless `from` is over its rate. */
  protected deliver(from: string, payload: unknown): void {
    const limited = this.pacing.admit(from);
    if (limited === undefined) this.emit('message', from, payload);
    else this.emit('error', limited);
  }

  /** Starts connecting, the room's hash known; the state is `connecting`. */
  protected abstract connect(hash: string): void;

  /** What the queue keeps for `payload`; throws when JSON cannot carry it. */
  protected abstract wrap(payload: unknown): Queued;

  /** Sends what the queue lets go now, if connected. */
  protected abstract drain(): void;
}
