import type { EventEmitter } from 'eventemitter3';
import { Peer } from '../peer/peer.js';
import type { PeerOptions } from '../peer/peer.js';
import { SIGNAL_VERSION } from '../signaling/signal.js';
import type { Signal } from '../signaling/signal.js';
import { backoffDelay } from '../util.js';
import { Courier } from './courier.js';
import type { Envelopes, OpenedSignal, Presence } from './envelope.js';
import type { RoomEvents } from './events.js';
import { Member } from './member.js';

/**
 * Rebuilt Peers in a row that may close without ever connecting before the member is given up
 * (`leave`), and the backoff between rebuilds: a first rebuild comes after 100 to 200 ms.
 */
const MAX_REBUILD_FAILURES = 5;
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
  /** How signals reach `member` (see Room). */
  sendTo(member: Member): (id: string, payload: unknown) => boolean;
  /** Whether `member` is still in the room and the room not leaving. */
  present(member: Member): boolean;
  /** Whether this member is leaving the room. */
  leaving(): boolean;
  /** `member` is gone for good: forget it and say `leave`. */
  remove(member: Member): void;
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

  /** Makes the Peer of the member's current generation. */
  connect(member: Member): Peer {
    const { events } = this.host;
    const g = member.generation;
    const peer = new Peer(this.host.peerOptions(member));
    member.peer = peer;
    peer.on('signal', (signal) => member.transmit(signal, this.host.sendTo(member), { g, end: signal.kind === 'bye' && this.host.leaving() }));
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
    if (opened.g < member.generation) return;
    if (opened.end) member.leaving = true;
    if (opened.g > member.generation) {
      if (!this.rebuildable(member)) return;
      this.rebuild(member, opened.g);
    }
    member.peer?.signal(opened.signal as Signal);
  };

  /** Whether a Peer of `member` that closed is to be replaced, rather than the member removed. */
  private rebuildable(member: Member): boolean {
    return member.courier !== undefined && !member.leaving && !member.away && !member.refused && this.host.present(member);
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
   * this member rather than rebuild its Peer when the channels close.
   */
  farewell(member: Member): void {
    if (member.peer !== undefined) member.transmit({ v: SIGNAL_VERSION, kind: 'bye' }, this.host.sendTo(member), { g: member.generation, end: true });
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
