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
 * a new instance id; its old members are then swept like those of a dead instance.
 */
import type { LogLevel } from './log.js';
import type { RedisClient, RedisConnectionOptions } from './redis-client.js';
import { RedisTarget } from './redis-client.js';
import { decodeEvent, decodeSignal, encodeSignal } from './redis-codec.js';
import { InstanceRegistration } from './redis-instance.js';
import type { KeyNames } from './redis-keys.js';
import { keyNames } from './redis-keys.js';
import { RoomMirror } from './redis-mirror.js';
import { StoreScripts } from './redis-scripts.js';
import type { JoinOutcome, LocalMember, RoomStore, StoreEvents } from './rooms.js';

/** How long a join waits for the store to reconnect to Redis before it fails. */
const JOIN_WAIT_MS = 10_000;

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

/** The connections and registration of one life of this instance, between two losses. */
interface Link {
  readonly command: RedisClient;
  readonly subscriber: RedisClient;
  readonly registration: InstanceRegistration;
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
  readonly #target: RedisTarget;
  readonly #heartbeatMs: number;
  readonly #names: KeyNames;
  readonly #scripts: StoreScripts;
  readonly #log: NonNullable<RedisRoomStoreOptions['log']>;
  #link: Link | undefined;
  #events: StoreEvents | undefined;
  #rooms = new Map<string, RoomEntry>();
  #byChannel = new Map<string, RoomEntry>();
  /** Members on this instance by id, for signals published to this instance's channel. */
  #local = new Map<string, LocalMember>();
  #retry: NodeJS.Timeout | undefined;
  /** Joins waiting for the store to reconnect. */
  #waiting = new Set<() => void>();
  #retries = 0;
  #closed = false;

  constructor(options: RedisRoomStoreOptions) {
    this.#target = new RedisTarget(options);
    const heartbeatMs = options.heartbeatMs ?? 1000;
    if (!(Number.isFinite(heartbeatMs) && heartbeatMs > 0)) {
      throw new TypeError(`RedisRoomStore: heartbeatMs must be a positive number, got ${String(heartbeatMs)}`);
    }
    this.#heartbeatMs = heartbeatMs;
    this.#names = keyNames(options.prefix ?? 'peerkit:');
    this.#scripts = new StoreScripts(this.#names, this.#target.pubsub);
    this.#log = options.log ?? (() => {});
  }

  /** Connects and registers this instance; rejects when Redis cannot be reached. */
  async open(events: StoreEvents): Promise<void> {
    this.#events = events;
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const target = this.#target;
    const { pubsub } = target;
    // Reconnections report every failed attempt; the loss itself is logged once, as store-lost.
    const onError = (error: Error): void => this.#log('debug', 'redis-error', { message: error.message });
    const command = target.client('command', onError);
    const subscriber = target.client('subscriber', onError);
    const lost = (): void => {
      if (this.#link?.subscriber === subscriber) this.#lost('the Redis subscriber connection closed: messages may have been missed');
    };
    try {
      await target.connect(command);
      await target.connect(subscriber);
      subscriber.on(pubsub.message, (channel: string, data: string) => this.#message(channel, data));
      // A Cluster reports a lost sharded subscriber as -node; one server, as close.
      for (const event of ['close', 'end', '-node']) subscriber.on(event, lost);
      const context = { names: this.#names, scripts: this.#scripts, heartbeatMs: this.#heartbeatMs, lost: (reason: string) => this.#lost(reason), log: this.#log };
      const registration = await InstanceRegistration.register(context, command, (channel) => this.#subscribe(subscriber, channel));
      this.#link = { command, subscriber, registration };
      this.#retries = 0;
      for (const wake of this.#waiting) wake();
      this.#log('info', 'store-ready', { store: 'redis', instance: registration.id });
    } catch (error) {
      command.disconnect();
      subscriber.disconnect();
      throw error;
    }
  }

  #subscribe(subscriber: RedisClient, channel: string): Promise<unknown> {
    return this.#target.pubsub.subscribe === 'ssubscribe' ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel);
  }

  #publish(command: RedisClient, channel: string, message: string): Promise<unknown> {
    return this.#target.pubsub.publish === 'SPUBLISH' ? command.spublish(channel, message) : command.publish(channel, message);
  }

  /** Drops everything this instance knew, tells the server, and registers again later. */
  #lost(reason: string): void {
    if (this.#closed || this.#link === undefined) return;
    this.#log('error', 'store-lost', { store: 'redis', reason });
    this.#disconnect();
    this.#events?.reset(reason);
    this.#reconnect();
  }

  #reconnect(): void {
    const delay = Math.min(5000, 100 * 2 ** this.#retries) * (0.5 + Math.random() / 2);
    this.#retries += 1;
    this.#retry = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.#log('warn', 'store-reconnect-failed', { message: String(error) });
        if (!this.#closed) this.#reconnect();
      });
    }, delay);
  }

  #disconnect(): void {
    const link = this.#link;
    this.#link = undefined;
    link?.registration.stop();
    link?.command.disconnect();
    link?.subscriber.disconnect();
    this.#rooms = new Map();
    this.#byChannel = new Map();
    this.#local = new Map();
  }

  #connected(): Link {
    if (this.#link === undefined) throw new Error('not connected to Redis');
    return this.#link;
  }

  #entry(room: string): RoomEntry {
    let entry = this.#rooms.get(room);
    if (entry === undefined) {
      const link = this.#connected();
      const events = this.#names.of(room, 'events');
      entry = { events, subscribed: this.#subscribe(link.subscriber, events), mirror: new RoomMirror(link.registration.id) };
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
    const subscriber = this.#link?.subscriber;
    const unsubscribed = this.#target.pubsub.unsubscribe === 'sunsubscribe' ? subscriber?.sunsubscribe(entry.events) : subscriber?.unsubscribe(entry.events);
    unsubscribed?.catch((error: unknown) => this.#log('debug', 'unsubscribe-failed', { message: String(error) }));
  }

  /**
   * Resolves once connected, waiting up to {@link JOIN_WAIT_MS} while the store reconnects: a
   * client that re-joins right after a reset (a failover) is served once Redis is back.
   */
  async #ready(): Promise<void> {
    if (this.#link !== undefined || this.#closed) return;
    let wake = (): void => {};
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.#waiting.add(wake);
    const timer = setTimeout(wake, JOIN_WAIT_MS);
    try {
      await woken;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(wake);
    }
  }

  async join(room: string, member: LocalMember, maxMembers: number, announce: string): Promise<JoinOutcome> {
    await this.#ready();
    const entry = this.#entry(room);
    entry.mirror.beginJoin();
    try {
      // Subscribed before the script runs, so every change after the snapshot reaches the mirror.
      await entry.subscribed;
      const { command, registration } = this.#connected();
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
    const { command, registration } = this.#connected();
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
    const link = this.#connected();
    this.#publish(link.command, this.#names.of(instance, 'signals'), encodeSignal(to, frame)).catch((error: unknown) => {
      // After a lost connection every pending relay fails; the loss itself is logged once.
      if (link === this.#link) this.#log('warn', 'relay-failed', { message: String(error) });
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
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    try {
      await this.#link?.registration.unregister();
    } catch (error) {
      this.#log('warn', 'store-close-failed', { message: String(error) });
    }
    this.#disconnect();
  }

  #message(channel: string, data: string): void {
    if (channel === this.#link?.registration.signals) {
      const signal = decodeSignal(data);
      if (signal !== undefined) this.#local.get(signal.to)?.deliver(signal.frame);
      return;
    }
    const event = decodeEvent(data);
    if (event !== undefined) this.#byChannel.get(channel)?.mirror.receive(event);
  }
}
