import { PeerKitError } from '../errors.js';
import type { Sendable } from '../data/framing.js';
import type { Peer } from '../peer/peer.js';
import type { Signal } from '../signaling/signal.js';
import type { Envelopes } from './envelope.js';

/** Wrapped signals kept for a member in its rejoin grace: an ICE restart's worth, with room to spare. */
const MAX_OUTBOX = 256;

/**
 * One remote member as a Room sees it: its ids over time, its Peer once admitted, and its
 * signals in both directions, wrapped and opened strictly in order (sealing is asynchronous).
 */
export class Member {
  /** Absent while `admit` is deciding. */
  peer: Peer | undefined;
  hello: unknown;
  refused = false;
  /** Set while it is off the transport; still set once the grace ran out. */
  private grace: ReturnType<typeof setTimeout> | undefined;
  /** Signals that arrived while `admit` was deciding. */
  private inbox: unknown[];
  /** Room messages for it sent while `admit` was deciding, with what settles each `send()`. */
  private waiting: { data: Sendable; settle: (sent: Promise<void>) => void }[] = [];
  /** Wrapped signals that could not go yet (it was away, or our transport was down), oldest first. */
  private outbox: unknown[] = [];
  private sending = Promise.resolve();
  private receiving = Promise.resolve();
  private sent = 0;
  /** The number of the last signal opened from it, so a replayed one is refused. */
  private received = 0;

  constructor(
    /** Current member id; changes when the member re-joins after a reconnect. */
    public id: string,
    /** The session key, the same across reconnects. */
    readonly key: string,
    early: unknown[],
    private readonly envelopes: Envelopes,
  ) {
    this.inbox = early;
  }

  /** Whether it is off the transport, waiting to come back (or given up on). */
  get away(): boolean {
    return this.grace !== undefined;
  }

  /** It dropped off the transport: `expire` runs unless it comes back within `ms`. */
  departed(ms: number, expire: () => void): void {
    clearTimeout(this.grace);
    this.grace = setTimeout(expire, ms);
  }

  /** It is back (under `id`): ends the grace. */
  returned(id: string): void {
    this.dispose();
    this.id = id;
  }

  /** Stops the grace timer; the member is gone or back. */
  dispose(): void {
    clearTimeout(this.grace);
    this.grace = undefined;
  }

  /**
   * Wraps a signal of our Peer for it, then hands it to `send` in order. `send` returns false
   * when the signal cannot go now (the member is away, or our transport is reconnecting): it is
   * held, after anything held before, until {@link flush}.
   */
  transmit(signal: Signal, send: (id: string, payload: unknown) => boolean): void {
    const n = ++this.sent;
    this.sending = this.sending.then(async () => {
      const payload = await this.envelopes.wrap(this.key, n, signal);
      if (this.outbox.length > 0 || !send(this.id, payload)) this.hold(payload);
    });
  }

  /** Sends what was held, in order, for as long as `send` takes it. */
  flush(send: (id: string, payload: unknown) => boolean): void {
    while (this.outbox.length > 0 && send(this.id, this.outbox[0])) this.outbox.shift();
  }

  private hold(payload: unknown): void {
    if (this.outbox.length < MAX_OUTBOX) this.outbox.push(payload);
  }

  /** Takes a payload from it: held until admitted, dropped if refused, else opened and applied in order. */
  receive(payload: unknown, reject: (error: PeerKitError) => void): void {
    if (this.refused) return;
    if (this.peer === undefined) return void this.inbox.push(payload);
    this.receiving = this.receiving.then(async () => {
      const opened = await this.envelopes.open(this.key, payload);
      if (opened instanceof PeerKitError) return reject(opened);
      if (this.envelopes.sealed) {
        if (opened.n <= this.received) return reject(new PeerKitError('UNAUTHORIZED', 'a signal was replayed; it is dropped'));
        this.received = opened.n;
      }
      this.peer?.signal(opened.signal as Signal);
    });
  }

  /**
   * Sends on its Peer; before it is admitted, the message waits and goes first once it is. A
   * member refused, or gone before a decision, is no one to send to: the promise resolves.
   */
  send(data: Sendable): Promise<void> {
    if (this.peer !== undefined) return this.peer.send(data);
    if (this.refused) return Promise.resolve();
    return new Promise((settle) => this.waiting.push({ data, settle }));
  }

  /** Admitted with `peer`: the signals and messages that waited go to it now, in order. */
  admitted(peer: Peer, reject: (error: PeerKitError) => void): void {
    this.peer = peer;
    for (const payload of this.inbox.splice(0)) this.receive(payload, reject);
    for (const { data, settle } of this.waiting.splice(0)) settle(peer.send(data));
  }

  /** Refused: nothing from it is ever applied, and nothing is sent to it. */
  refuse(): void {
    this.refused = true;
    this.inbox = [];
    for (const { settle } of this.waiting.splice(0)) settle(Promise.resolve());
  }
}
