/**
 * Room membership and delivery. Every read or write of room state goes through
 * {@link RoomStore}, so a store shared between instances (Redis pub/sub) can replace the
 * in-memory one without touching the connection code. Methods are async for that reason.
 */

/** A member connected to this instance. */
export interface LocalMember {
  readonly id: string;
  /** The `hello` value the member joined with, if any. */
  readonly hello?: unknown;
  /** Writes an already encoded frame to the member's socket. */
  deliver(frame: string): void;
}

/** Another member of a room, as a joiner learns of it. */
export interface MemberInfo {
  id: string;
  hello?: unknown;
}

/** The result of {@link RoomStore.join}. */
export type JoinOutcome = { ok: true; others: MemberInfo[] } | { ok: false; reason: 'ROOM_FULL' };

/** What a store tells the server it belongs to. */
export interface StoreEvents {
  /**
   * The store lost the state it shares with other instances (its connection dropped, or other
   * instances took this one for dead). The server closes every connection with 1012 so that
   * clients re-join and the rooms are rebuilt from the shared state.
   */
  reset(reason: string): void;
}

/** Where rooms live. Frames are passed pre-encoded so the store never needs the protocol. */
export interface RoomStore {
  /** Called once before the server listens; a shared store connects here. */
  open?(events: StoreEvents): Promise<void>;
  /** Called once after the server has closed its connections. */
  close?(): Promise<void>;
  /**
   * Adds `member` to `room` unless it already holds `maxMembers`, then hands `announce` to
   * every other member. Resolves with the members present before the joiner.
   */
  join(room: string, member: LocalMember, maxMembers: number, announce: string): Promise<JoinOutcome>;
  /**
   * Removes member `id` from `room` and hands `announce` to the members left. Without `announce`
   * the server is shutting down: members of this instance need not be told, those of others must.
   */
  leave(room: string, id: string, announce: string | undefined): Promise<void>;
  /**
   * Hands `frame` to member `to` of `room`; false when there is no such member. A store that can
   * tell at once returns the boolean itself: the relay path then costs no promise per signal.
   */
  send(room: string, to: string, frame: string): boolean | Promise<boolean>;
  /** Counts of rooms and members held by this instance, for metrics and health checks. */
  stats(): { rooms: number; members: number };
}

/** A {@link RoomStore} for a single process. */
export class MemoryRoomStore implements RoomStore {
  readonly #rooms = new Map<string, Map<string, LocalMember>>();
  #members = 0;

  async join(room: string, member: LocalMember, maxMembers: number, announce: string): Promise<JoinOutcome> {
    let members = this.#rooms.get(room);
    if (members === undefined) {
      members = new Map();
      this.#rooms.set(room, members);
    }
    if (members.size >= maxMembers) return { ok: false, reason: 'ROOM_FULL' };
    const others: MemberInfo[] = [];
    for (const other of members.values()) {
      others.push(other.hello === undefined ? { id: other.id } : { id: other.id, hello: other.hello });
      other.deliver(announce);
    }
    members.set(member.id, member);
    this.#members += 1;
    return { ok: true, others };
  }

  async leave(room: string, id: string, announce: string | undefined): Promise<void> {
    const members = this.#rooms.get(room);
    if (members === undefined || !members.delete(id)) return;
    this.#members -= 1;
    if (members.size === 0) {
      this.#rooms.delete(room);
      return;
    }
    if (announce === undefined) return;
    for (const other of members.values()) other.deliver(announce);
  }

  send(room: string, to: string, frame: string): boolean {
    const member = this.#rooms.get(room)?.get(to);
    if (member === undefined) return false;
    member.deliver(frame);
    return true;
  }

  stats(): { rooms: number; members: number } {
    return { rooms: this.#rooms.size, members: this.#members };
  }
}
