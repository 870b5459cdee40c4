/**
 * A {@link RoomStore} shared by every server instance that uses the same Redis.
 *
 * Redis holds the truth (see redis-keys for the names, redis-codec for the formats): one hash
 * per room of its members, one set per instance of the members it holds, and one heartbeat key
 * per instance (redis-instance). Joins and leaves are Lua scripts (redis-scripts), each within
 * one room's hash slot, so the store works on one server, behind Sentinel, or on a Cluster
 * (redis-client), where rooms' channels are sharded: each lives on its room's slot.
 *
 * Each instance subscribes to the rooms it has members in and keeps a mirror of who is where
 * (redis-mirror), so a signal is routed without a round trip: delivered in-process to a local
 * member, or published on the signals channel of the instance that holds the recipient. One
 * subscriber connection receives both kinds of channel, and Redis delivers them in publication
 * order, so a member never gets a signal from someone whose `member-joined` it has not had yet.
 *
 * An instance that loses Redis, or finds it was swept, can trust none of its mirrors: it closes
 * its connections with 1012 so clients re-join on a healthy instance, and registers again under
 * a new instance id (redis-link); its old members are then swept like those of a dead instance.
 */
import type { LogLevel } from './log.js';
import type { RedisConnectionOptions } from './redis-client.js';
import { RedisTarget } from './redis-client.js';
import { decodeEvent, decodeSignal, encodeSignal } from './redis-codec.js';
import type { KeyNames } from './redis-keys.js';
import { keyNames } from './redis-keys.js';
import { StoreLink } from './redis-link.js';
import { RoomMirror } from './redis-mirror.js';
import { StoreScripts } from './redis-scripts.js';
import type { JoinOutcome, LocalMember, RoomStore, StoreEvents } from './rooms.js';

/** Options for {@link RedisRoomStore}. */
export interface RedisRoomStoreOptions extends RedisConnectionOptions {
  /**
   * How often this instance renews its heartbeat and sweeps dead instances. Members of a killed
   * instance are announced gone at the next sweep (or the next join) once Redis has seen its
   * connections close, so within one of these. A hung instance is taken for dead after ten
   * missed heartbeats: a busy one must not be, since it would lose every connection.
   * @default 1000
   */
  heartbeatMs?: number;
  /**
   * Starts every key and channel name, so that deployments sharing one Redis stay apart: Redis
   * pub/sub ignores the database number, so `/db` in the URL separates keys but not channels.
   * Instances that serve the same rooms must use the same prefix. No braces: the room name is
   * the Redis Cluster hash tag.
   * @default 'peerkit:'
   */
  prefix?: string;
  /** Receives the store's log entries. */
  log?: (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;
}

/** A room this instance has members in, and its subscription. */
interface RoomEntry {
  readonly events: string;
  readonly subscribed: Promise<unknown>;
  readonly mirror: RoomMirror;
}

/**
 * A {@link RoomStore} in Redis, for several server instances serving the same rooms. The server
 * creates one for its `redis` option; create one yourself to pass options.
 *
 * @example
 * ```ts
 * const server = createSignalingServer({ store: new RedisRoomStore({ url: 'redis://10.0.0.5:6379' }) });
 * ```
 */
export class RedisRoomStore implements RoomStore {
  readonly #names: KeyNames;
  readonly #scripts: StoreScripts;
  readonly #log: NonNullable<RedisRoomStoreOptions['log']>;
  readonly #link: StoreLink;
  #events: StoreEvents | undefined;
  #rooms = new Map<string, RoomEntry>();
  #byChannel = new Map<string, RoomEntry>();
  /** Members on this instance by id, for signals published to this instance's channel. */
  #local = new Map<string, LocalMember>();

  constructor(options: RedisRoomStoreOptions) {
    const target = new RedisTarget(options);
    const heartbeatMs = options.heartbeatMs ?? 1000;
    if (!(Number.isFinite(heartbeatMs) && heartbeatMs > 0)) {
      throw new TypeError(`RedisRoomStore: heartbeatMs must be a positive number, got ${String(heartbeatMs)}`);
    }
    this.#names = keyNames(options.prefix ?? 'peerkit:');
    this.#scripts = new StoreScripts(this.#names, target.pubsub);
    this.#log = options.log ?? (() => {});
    this.#link = new StoreLink(target, {
      names: this.#names,
      scripts: this.#scripts,
      heartbeatMs,
      log: this.#log,
      message: (channel, data) => this.#message(channel, data),
      reset: (reason) => {
        this.#forget();
        this.#events?.reset(reason);
      },
    });
  }

  /** Connects and registers this instance; rejects when Redis cannot be reached. */
  async open(events: StoreEvents): Promise<void> {
    this.#events = events;
    await this.#link.connect();
  }

  /** Forgets every room and member: what the lost link told can no longer be trusted. */
  #forget(): void {
    this.#rooms = new Map();
    this.#byChannel = new Map();
    this.#local = new Map();
  }

  #entry(room: string): RoomEntry {
    let entry = this.#rooms.get(room);
    if (entry === undefined) {
      const { registration } = this.#link.connected();
      const events = this.#names.of(room, 'events');
      entry = { events, subscribed: this.#link.subscribe(events), mirror: new RoomMirror(registration.id) };
      this.#rooms.set(room, entry);
      this.#byChannel.set(events, entry);
    }
    return entry;
  }

  /** Forgets a room once nobody on this instance is in it or joining it. */
  #release(room: string, entry: RoomEntry): void {
    if (!entry.mirror.idle || this.#rooms.get(room) !== entry) return;
    this.#rooms.delete(room);
    this.#byChannel.delete(entry.events);
    // A later join of the same room subscribes after this on the same connection, so Redis
    // processes the two in order.
    this.#link.unsubscribe(entry.events);
  }

  async join(room: string, member: LocalMember, maxMembers: number, announce: string): Promise<JoinOutcome> {
    await this.#link.ready();
    const entry = this.#entry(room);
    entry.mirror.beginJoin();
    try {
      // Subscribed before the script runs, so every change after the snapshot reaches the mirror.
      await entry.subscribed;
      const { command, registration } = this.#link.connected();
      const { id, hello } = member;
      // Swept first, so that a client re-joining right after its instance died does not meet its own ghost.
      await registration.sweep();
      // Held before it joins: a crash in between leaves an entry a sweep skips, never an untracked member.
      await registration.hold(id, room);
      const result = await this.#scripts.join(command, { room, id, instance: registration.id, maxMembers, hello, announce }).catch((error: unknown) => {
        // A script that timed out may still run once Redis answers: a leave sent after it on the
        // same connection (the room's slot, so the same node) takes the member out again.
        this.#scripts
          .leave(command, room, id, registration.id)
          .then(() => registration.release(id, room))
          .catch((cleanup: unknown) => this.#log('warn', 'join-cleanup-failed', { message: String(cleanup) }));
        throw error;
      });
      if (result === undefined) {
        await registration.release(id, room);
        return { ok: false, reason: 'ROOM_FULL' };
      }
      entry.mirror.joined(member, result.seq, result.present, announce);
      this.#local.set(id, member);
      return { ok: true, others: result.present.map((p) => p.info) };
    } finally {
      entry.mirror.endJoin();
      this.#release(room, entry);
    }
  }

  async leave(room: string, id: string, announce: string | undefined): Promise<void> {
    const entry = this.#rooms.get(room);
    if (entry?.mirror.left(id, announce) !== true) return;
    this.#local.delete(id);
    this.#release(room, entry);
    // Published even while this instance shuts down: members elsewhere must learn it is gone.
    const { command, registration } = this.#link.connected();
    await this.#scripts.leave(command, room, id, registration.id);
    await registration.release(id, room);
  }

  send(room: string, to: string, frame: string): boolean {
    const mirror = this.#rooms.get(room)?.mirror;
    const local = mirror?.local(to);
    if (local !== undefined) {
      local.deliver(frame);
      return true;
    }
    const instance = mirror?.instanceOf(to);
    if (instance === undefined) return false;
    // Not awaited: the reply only says how many subscribers got it, and waiting would hold up
    // the sender's next frame for a round trip.
    const link = this.#link.connected();
    this.#link.publish(link, this.#names.of(instance, 'signals'), encodeSignal(to, frame)).catch((error: unknown) => {
      // After a lost connection every pending relay fails; the loss itself is logged once.
      if (link === this.#link.current) this.#log('warn', 'relay-failed', { message: String(error) });
    });
    return true;
  }

  stats(): { rooms: number; members: number } {
    return { rooms: this.#rooms.size, members: this.#local.size };
  }

  /**
   * Announces this instance's remaining members gone, unregisters it and disconnects. Called by
   * the server's `close()` once its connections are closed.
   */
  async close(): Promise<void> {
    await this.#link.close();
    this.#forget();
  }

  #message(channel: string, data: string): void {
    if (channel === this.#link.current?.registration.signals) {
      const signal = decodeSignal(data);
      if (signal !== undefined) this.#local.get(signal.to)?.deliver(signal.frame);
      return;
    }
    const event = decodeEvent(data);
    if (event !== undefined) this.#byChannel.get(channel)?.mirror.receive(event);
  }
}
