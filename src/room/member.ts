import { PeerKitError } from '../errors.js';
import type { Outgoing, Sendable } from '../data/framing.js';
import type { Peer } from '../peer/peer.js';
import type { Signal } from '../signaling/signal.js';
import type { Courier } from './courier.js';
import type { Envelopes, OpenedSignal, Route } from './envelope.js';
import type { KeySignal } from './key-signal.js';

/** Wrapped signals kept for a member in its rejoin grace: an ICE restart's worth, with room to spare. */
const MAX_OUTBOX = 256;

/**
 * One remote member as a Room sees it: its ids over time, its Peer once admitted (and the Peers
 * that replace it), its timers, and its signals in both directions, wrapped and opened strictly in
 * order (sealing is asynchronous).
 */
export class Member {
  /** Absent while `admit` is deciding; after a rebuild, the newest Peer. */
  peer: Peer | undefined;
  hello: unknown;
  refused = false;
  /** The generation of {@link peer}: 0 for the first, one more per rebuild. */
  generation = 0;
  /** Rebuilt Peers in a row that closed without connecting. */
  failures = 0;
  /** It said it is leaving the room: its Peer is not rebuilt. */
  leaving = false;
  /** Set while it is off the transport; still set once the grace ran out. */
  private grace: ReturnType<typeof setTimeout> | undefined;
  private rebuild: ReturnType<typeof setTimeout> | undefined;
  /** Signals that arrived while `admit` was deciding. */
  private inbox: unknown[];
  /** Messages for it sent while `admit` was deciding, with what settles each `send()` (members that are not Rooms). */
  private waiting: { data: Sendable; settle: (sent: Promise<void>) => void }[] = [];
  /** Wrapped signals that could not go yet (it was away, or our transport was down), oldest first. */
  private outbox: unknown[] = [];
  private sending = Promise.resolve();
  private receiving = Promise.resolve();
  /** The number of the last signal opened from it, so a replayed one is refused. */
  private received = 0;

  constructor(
    /** Current member id; changes when the member re-joins after a reconnect. */
    public id: string,
    /** The session key, the same across reconnects. */
    readonly key: string,
    early: unknown[],
    private readonly envelopes: Envelopes,
    /** Where its signals go once opened, in order. */
    private readonly route: (member: Member, opened: OpenedSignal) => void,
    /** Room messages to it, exactly once across rebuilt Peers; absent for a member that is not a Room. */
    readonly courier?: Courier,
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
    clearTimeout(this.grace);
    this.grace = undefined;
    this.id = id;
  }

  /** Its Peer closed while it stays: `build` runs after `ms`, unless {@link cancelRebuild} first. */
  rebuildAfter(ms: number, build: () => void): void {
    this.cancelRebuild();
    this.rebuild = setTimeout(build, ms);
  }

  cancelRebuild(): void {
    clearTimeout(this.rebuild);
    this.rebuild = undefined;
  }

  /** It is gone: its timers stop, and what waited for it is let go. */
  dispose(): void {
    clearTimeout(this.grace);
    this.grace = undefined;
    this.cancelRebuild();
    this.courier?.dispose();
  }

  /**
   * Wraps a signal of our Peer for it, then hands it to `send` in order. `send` returns false
   * when the signal cannot go now (the member is away, or our transport is reconnecting): it is
   * held, after anything held before, until {@link flush}.
   */
  transmit(signal: Signal | KeySignal, send: (id: string, payload: unknown) => boolean, route: Route = { g: 0, end: false }): void {
    const n = this.envelopes.nextNumber();
    this.sending = this.sending.then(async () => {
      const payload = await this.envelopes.wrap(this.key, n, signal, route);
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

  /** Takes a payload from it: held until admitted, dropped if refused, else opened and routed in order. */
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
      this.route(this, opened);
    });
  }

  /**
   * Sends to it: through its courier when it is a Room (held until acknowledged, across rebuilt
   * Peers), else on its Peer, waiting for admission first. A member refused, or gone before a
   * decision, is no one to send to: the promise resolves.
   */
  send(data: Sendable, out: Outgoing): Promise<void> {
    if (this.refused) return Promise.resolve();
    if (this.courier !== undefined) return this.courier.send(out);
    if (this.peer !== undefined) return this.peer.send(data);
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
    this.courier?.dispose();
  }
}
