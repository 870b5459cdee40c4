import type { EventEmitter } from 'eventemitter3';
import { Peer } from '../peer/peer.js';
import type { PeerOptions } from '../peer/peer.js';
import { SIGNAL_VERSION } from '../signaling/signal.js';
import type { Signal } from '../signaling/signal.js';
import type { SignalingTransport } from '../signaling/transport.js';
import { backoffDelay } from '../util.js';
import { Courier } from './courier.js';
import type { Envelopes, OpenedSignal, Presence } from './envelope.js';
import type { RoomEvents } from './events.js';
import { isKeySignal } from './key-signal.js';
import { Member } from './member.js';

/**
 * Rebuilt Peers in a row that may close without ever connecting before the member is given up
 * (`leave`), and the backoff between rebuilds: 100 to 200 ms before the first, doubling up to
 * 5 to 10 s, so a member is given about half a minute (a network switch, a page frozen a while).
 */
const MAX_REBUILD_FAILURES = 8;
const REBUILD_DELAY_MS = 200;
const MAX_REBUILD_DELAY_MS = 10_000;

/** What {@link MemberPeers} needs from its Room. */
export interface MemberPeersHost {
  /** The Room, whose events the Peers' events become. */
  events: EventEmitter<RoomEvents>;
  /** The options of a Peer to `member`. */
  peerOptions(member: Member): PeerOptions;
  /** Adds the room's local media to a new Peer. */
  attachMedia(peer: Peer): void;
  /** Carries the signals. */
  transport(): SignalingTransport;
  /** The member now known by `id`. */
  lookup(id: string): Member | undefined;
  /** Whether this member is leaving the room. */
  leaving(): boolean;
  /** Forgets `member` without a word: its Peer's `close` will say `leave`. */
  forget(member: Member): void;
  /** `member` is gone for good: forget it and say `leave`. */
  remove(member: Member): void;
  /** A key message from `member` (end-to-end encrypted SFU media; see key-signal.ts). */
  key(member: Member, signal: unknown): void;
}

/**
 * The Peer of each member over time: makes and wires it, routes the member's signals to the Peer
 * they belong to, and, when a Peer closes while its member stays (a Room on the other side, not
 * leaving, not away), makes a new one. Each Peer of a pair has a generation, carried in its
 * signals: a signal of an older generation than ours is dropped, one of a newer generation means
 * the remote rebuilt first, and ours is replaced at once to match.
 */
export class MemberPeers {
  constructor(private readonly host: MemberPeersHost) {}

  /** A member that just arrived; a Room gets a courier for exactly-once room messages. */
  create(id: string, presence: Presence, early: unknown[], envelopes: Envelopes): Member {
    const { events } = this.host;
    const courier = presence.room
      ? new Courier(
          (data) => events.emit('data', data, member.id),
          (error) => events.emit('error', error, member.id),
        )
      : undefined;
    const member: Member = new Member(id, presence.key, early, envelopes, this.route, courier);
    return member;
  }

  /** `member` was admitted: its first Peer, announced with `member` before it connects. */
  admit(member: Member): void {
    const peer = this.connect(member);
    this.host.events.emit('member', peer, member.id, member.hello);
    member.admitted(peer, (error) => this.host.events.emit('error', error, member.id));
  }

  /** Makes the Peer of the member's current generation. */
  private connect(member: Member): Peer {
    const { events } = this.host;
    const g = member.generation;
    const peer = new Peer(this.host.peerOptions(member));
    member.peer = peer;
    peer.on('signal', (signal) => member.transmit(signal, this.sendTo(member), { g, end: signal.kind === 'bye' && this.host.leaving() }));
    // Off the transport, nothing can restart ICE with it: a link that degrades is gone for good.
    peer.on('state', (state) => {
      if (member.away && state !== 'connected') void peer.close();
    });
    let connected = false;
    peer.on('connect', () => {
      connected = true;
      member.failures = 0;
    });
    peer.on('data', (data) => events.emit('data', data, member.id));
    peer.on('track', (track, streams) => events.emit('track', track, streams, member.id));
    peer.on('stream', (stream) => events.emit('stream', stream, member.id));
    peer.on('error', (error) => events.emit('error', error, member.id));
    peer.on('close', () => this.closed(member, peer, connected));
    member.courier?.attach(peer);
    this.host.attachMedia(peer);
    return peer;
  }

  /** A signal from `member`, opened: to the Peer it belongs to, replacing ours if the remote has a newer one. */
  readonly route = (member: Member, opened: OpenedSignal): void => {
    // Key messages belong to the member, not to any one Peer generation.
    if (isKeySignal(opened.signal)) return this.host.key(member, opened.signal);
    if (opened.g < member.generation) return;
    if (opened.end) member.leaving = true;
    if (opened.g > member.generation) {
      if (!this.rebuildable(member)) return;
      this.rebuild(member, opened.g);
    }
    member.peer?.signal(opened.signal as Signal);
  };

  /**
   * How signals reach `member`: held while it is away or while our transport is not joined (the
   * transport's own queue would address them to ids that a re-join makes stale), dropped once it
   * left or the transport closed.
   */
  sendTo(member: Member): (id: string, payload: unknown) => boolean {
    const transport = this.host.transport();
    return (id, payload) => {
      const state = transport.state;
      if (this.host.lookup(id) !== member || state === 'closed') return true;
      if (member.away || state !== 'joined') return false;
      transport.send(id, payload);
      return true;
    };
  }

  /** `member` came back under a new id and keeps its Peer: `rejoin`, and what was held for it goes. */
  returned(member: Member, previousId: string): void {
    if (member.peer !== undefined) this.host.events.emit('rejoin', member.peer, member.id, previousId);
    member.flush(this.sendTo(member));
  }

  /** `member` left the transport. A Peer still connected gets `graceMs` to come back. */
  depart(member: Member, graceMs: number): void {
    if (member.away) return;
    const state = member.peer?.state;
    if (state === 'connected' || state === 'reconnecting') return member.departed(graceMs, () => void member.peer?.close());
    this.host.forget(member);
    // Its Peer closed already, and a rebuild was waiting: nothing else will say it left.
    if (state === 'closed') return this.host.remove(member);
    // Unmapped first: its `bye` has nowhere to go.
    void member.peer?.close();
  }

  /** Whether a Peer of `member` that closed is to be replaced, rather than the member removed. */
  private rebuildable(member: Member): boolean {
    const present = this.host.lookup(member.id) === member && !this.host.leaving();
    return present && member.courier !== undefined && !member.leaving && !member.away && !member.refused;
  }

  /**
   * A Peer of `member` closed. A Peer already replaced closes quietly; otherwise the member is
   * removed, or, while it stays in the room, given a new Peer after a short backoff (the remote
   * does the same, and whichever new Peer speaks first sets the generation for both).
   */
  private closed(member: Member, peer: Peer, connected: boolean): void {
    if (member.peer !== peer) return;
    if (!connected) member.failures++;
    if (!this.rebuildable(member) || member.failures > MAX_REBUILD_FAILURES) return this.host.remove(member);
    member.rebuildAfter(backoffDelay(member.failures, REBUILD_DELAY_MS, MAX_REBUILD_DELAY_MS, 'half'), () => {
      if (this.rebuildable(member)) this.rebuild(member, member.generation + 1);
      else this.host.remove(member);
    });
  }

  /**
   * This member is leaving: says so to `member` before its Peer closes, so the other side removes
   * this member rather than rebuild its Peer when the channels close. A member whose `admit` is
   * still deciding is refused: the messages waiting for it have no one to go to now.
   */
  farewell(member: Member): void {
    if (member.peer === undefined) return member.refuse();
    member.transmit({ v: SIGNAL_VERSION, kind: 'bye' }, this.sendTo(member), { g: member.generation, end: true });
  }

  /** Replaces the Peer of `member` with one of generation `g`; the old one, if still open, is closed. */
  private rebuild(member: Member, g: number): void {
    member.cancelRebuild();
    const old = member.peer;
    member.generation = g;
    const peer = this.connect(member);
    void old?.close();
    this.host.events.emit('rebuild', peer, member.id);
  }
}
