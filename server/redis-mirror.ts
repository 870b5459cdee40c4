/**
 * What one instance knows of one room it has members in, kept from the room's events so that a
 * signal is routed without asking Redis. Pure: it is fed the join script's results and the
 * room's events, and hands frames to local members; it never talks to Redis.
 *
 * Events are numbered by the room's counter. The instance subscribes to the room's events before
 * its first join runs, so every change after that join's snapshot reaches the mirror; events that
 * arrive before the snapshot wait for it, and those it already covers are dropped. A mirror that
 * missed events cannot be trusted: the store then throws every mirror away (see redis-store).
 */
import { encodeFrame } from './protocol.js';
import type { RoomEvent, StoredMember } from './redis-codec.js';
import type { LocalMember } from './rooms.js';

/** One room as this instance sees it. */
export class RoomMirror {
  readonly #self: string;
  /** Joins on this instance still waiting for Redis; the mirror is kept while there are any. */
  #joining = 0;
  /**
   * While joins wait: the events applied meanwhile, and the local members that left meanwhile.
   * A joiner's snapshot may predate an event that reached this instance before the join's reply,
   * and may hold a local member that has left since.
   */
  #meanwhile: { events: RoomEvent[]; left: Set<string> } = { events: [], left: new Set() };
  /** Members on this instance, with the room's counter after their join. */
  readonly #locals = new Map<string, { member: LocalMember; seq: number }>();
  /** Every member of the room, on any instance: member id → instance id. */
  readonly #everyone = new Map<string, string>();
  /** The counter at the first snapshot; events up to it are already in the mirror. */
  #base: number | undefined;
  /** Events that arrived before the first snapshot. */
  #early: RoomEvent[] = [];

  /** @param self - This instance's id: its own events are applied when its scripts return. */
  constructor(self: string) {
    this.#self = self;
  }

  /** No member here and no join on its way: the room can be forgotten. */
  get idle(): boolean {
    return this.#joining === 0 && this.#locals.size === 0;
  }

  /** A join on this instance was sent to Redis; call {@link endJoin} once it settled. */
  beginJoin(): void {
    this.#joining += 1;
  }

  /** A join began with {@link beginJoin} settled, whether it succeeded or not. */
  endJoin(): void {
    this.#joining -= 1;
    if (this.#joining === 0) this.#meanwhile = { events: [], left: new Set() };
  }

  /**
   * A join on this instance succeeded: the room's counter is `seq` after it, and `present` were
   * there before it. The other local members get `announce` now, before the joiner can signal
   * them in-process.
   */
  joined(member: LocalMember, seq: number, present: readonly StoredMember[], announce: string): void {
    for (const local of this.#locals.values()) local.member.deliver(announce);
    for (const event of this.#meanwhile.events) if (event.seq > seq) member.deliver(frameOf(event));
    for (const other of present) if (this.#meanwhile.left.has(other.info.id)) member.deliver(leftFrame(other.info.id));
    this.#locals.set(member.id, { member, seq });
    this.#everyone.set(member.id, this.#self);
    if (this.#base === undefined) {
      this.#base = seq;
      for (const other of present) this.#everyone.set(other.info.id, other.instance);
      for (const event of this.#early.splice(0)) this.#apply(event);
    }
  }

  /**
   * Local member `id` left; the other local members get `announce` if there is one. False when
   * `id` is not a local member.
   */
  left(id: string, announce: string | undefined): boolean {
    if (!this.#locals.delete(id)) return false;
    this.#everyone.delete(id);
    if (this.#joining > 0) this.#meanwhile.left.add(id);
    if (announce !== undefined) for (const local of this.#locals.values()) local.member.deliver(announce);
    return true;
  }

  /** An event from the room's channel. */
  receive(event: RoomEvent): void {
    if (this.#base === undefined) this.#early.push(event);
    else this.#apply(event);
  }

  /** The local member `id`, if it is one. */
  local(id: string): LocalMember | undefined {
    return this.#locals.get(id)?.member;
  }

  /** The instance that holds member `id`, if it is in the room. */
  instanceOf(id: string): string | undefined {
    return this.#everyone.get(id);
  }

  #apply(event: RoomEvent): void {
    if (event.instance === this.#self || event.seq <= (this.#base ?? Infinity)) return;
    if (event.kind === 'join') this.#everyone.set(event.id, event.instance);
    else this.#everyone.delete(event.id);
    if (this.#joining > 0) this.#meanwhile.events.push(event);
    const frame = frameOf(event);
    // A member that joined after this change saw its result in its own snapshot.
    for (const local of this.#locals.values()) if (local.seq < event.seq) local.member.deliver(frame);
  }
}

function leftFrame(id: string): string {
  return encodeFrame({ type: 'member-left', id });
}

/** What a room's local members are handed for `event`. */
function frameOf(event: RoomEvent): string {
  return event.kind === 'join' ? event.frame : leftFrame(event.id);
}
