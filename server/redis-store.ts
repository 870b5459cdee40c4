/**
 * A {@link RoomStore} shared by every server instance that uses the same Redis.
 *
 * Redis holds the truth: one hash per room (member id → join sequence, instance, hello), one set
 * per instance of the members it holds, and one heartbeat key per instance with a TTL. Joins and
 * leaves are Lua scripts, so the member cap holds across instances and every change gets a
 * sequence number and is published on the room's channel in the same atomic step.
 *
 * Each instance subscribes to the rooms it has members in and keeps a mirror of who is where, so
 * a signal is routed without a round trip: delivered in-process to a local member, or published
 * on the channel of the instance that holds the recipient. One subscriber connection receives
 * both kinds of channel, and Redis delivers them in publication order, so a member never gets a
 * signal from someone whose `member-joined` it has not had yet.
 *
 * Every instance sweeps once per heartbeat, and every join sweeps first: the members of an
 * instance that is gone are removed and announced gone. A killed process is gone as soon as Redis
 * sees its connections close; a hung one once its heartbeat key expires. An instance that loses
 * Redis, or finds it was swept,
 * closes its connections with 1012 so clients re-join on a healthy instance, and registers again
 * under a new instance id: its old members are then swept like those of a dead instance.
 */
import { randomBytes } from 'node:crypto';
import type { LogLevel } from './log.js';
import { encodeFrame } from './protocol.js';
import type { RedisAddress, RespValue } from './resp.js';
import { RedisConnection, parseRedisUrl } from './resp.js';
import type { JoinOutcome, LocalMember, MemberInfo, RoomStore, StoreEvents } from './rooms.js';

/** Heartbeats an instance may miss before it is taken for dead. */
const TTL_BEATS = 10;

/** Every key and channel name the store uses, under one prefix (the Lua scripts build theirs from it too). */
function namesUnder(prefix: string) {
  return {
    prefix,
    seq: `${prefix}seq`,
    instances: `${prefix}instances`,
    room: (room: string): string => `${prefix}room:${room}`,
    roomChannel: (room: string): string => `${prefix}r:${room}`,
    held: (instance: string): string => `${prefix}held:${instance}`,
    alive: (instance: string): string => `${prefix}alive:${instance}`,
    instanceChannel: (instance: string): string => `${prefix}i:${instance}`,
  };
}

// Removes and announces the members of every instance that is gone: its heartbeat key expired
// (a hung process), or nobody listens on its channel any more (a dead process, whose connections
// the kernel closed). Atomic, so two sweepers never announce a member twice.
const SWEEP_FUNCTION = `
local function sweep(instances, seq, prefix)
  local swept = 0
  for _, instance in ipairs(redis.call('SMEMBERS', instances)) do
    local alive = redis.call('EXISTS', prefix .. 'alive:' .. instance) == 1
      and redis.call('PUBSUB', 'NUMSUB', prefix .. 'i:' .. instance)[2] > 0
    if not alive then
      local held = prefix .. 'held:' .. instance
      for _, entry in ipairs(redis.call('SMEMBERS', held)) do
        local cut = string.find(entry, '\\n', 1, true)
        local id = string.sub(entry, 1, cut - 1)
        local room = string.sub(entry, cut + 1)
        if redis.call('HDEL', prefix .. 'room:' .. room, id) == 1 then
          local n = redis.call('INCR', seq)
          redis.call('PUBLISH', prefix .. 'r:' .. room, 'L\\n' .. n .. '\\n' .. instance .. '\\n' .. id)
          swept = swept + 1
        end
      end
      redis.call('DEL', held)
      redis.call('SREM', instances, instance)
    end
  end
  return swept
end
`;

// KEYS: instances set, sequence. ARGV: key prefix.
const SWEEP = `${SWEEP_FUNCTION}
return sweep(KEYS[1], KEYS[2], ARGV[1])`;

// KEYS: room hash, sequence, held set, instances set. ARGV: id, instance, max, hello JSON or '',
// room channel, announce frame, room, key prefix. Sweeps first, so that a client re-joining
// right after its instance died does not meet its own ghost. Refused when this instance was
// swept itself: its members would be held by an instance nobody watches.
const JOIN = `${SWEEP_FUNCTION}
sweep(KEYS[4], KEYS[2], ARGV[8])
if redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 0 then return redis.error_reply('FENCED this instance was swept') end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return false end
local others = redis.call('HGETALL', KEYS[1])
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], seq .. '\\t' .. ARGV[2] .. '\\t' .. ARGV[4])
redis.call('SADD', KEYS[3], ARGV[1] .. '\\n' .. ARGV[7])
redis.call('PUBLISH', ARGV[5], 'J\\n' .. seq .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[6])
return {seq, others}`;

// KEYS: room hash, sequence, held set. ARGV: id, instance, room channel, room.
const LEAVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('SREM', KEYS[3], ARGV[1] .. '\\n' .. ARGV[4])
local seq = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], 'L\\n' .. seq .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[1])
return seq`;

// KEYS: instances set, alive key. ARGV: instance, TTL in ms. 0 when this instance was swept.
const BEAT = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 or redis.call('PEXPIRE', KEYS[2], ARGV[2]) == 0 then return 0 end
return 1`;

/** Options for {@link RedisRoomStore}. */
export interface RedisRoomStoreOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /**
   * How often this instance renews its heartbeat and sweeps dead instances. Members of a killed
   * instance are announced gone at the next sweep, so within one of these. A hung instance is
   * taken for dead after ten missed heartbeats: a busy one must not be, since it would lose
   * every connection.
   * @default 1000
   */
  heartbeatMs?: number;
  /**
   * Starts every key and channel name, so that deployments sharing one Redis stay apart: Redis
   * pub/sub ignores the database number, so `/db` in the URL separates keys but not channels.
   * Instances that serve the same rooms must use the same prefix.
   * @default 'peerkit:'
   */
  prefix?: string;
  /** Receives the store's log entries. */
  log?: (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;
}

/** What this instance knows of one room it has members in. */
interface RoomEntry {
  readonly channel: string;
  readonly subscribed: Promise<RespValue>;
  /** Joins on this instance still waiting for Redis; the entry stays while there are any. */
  joining: number;
  /** Members on this instance, with the sequence number of their join. */
  readonly locals: Map<string, { member: LocalMember; seq: number }>;
  /** Every member of the room, on any instance: member id → instance id. */
  readonly everyone: Map<string, string>;
  /** Sequence number of the first snapshot; events up to it are already in the mirror. */
  base: number | undefined;
  /** Events that arrived before the first snapshot. */
  early: RoomEvent[];
}

interface RoomEvent {
  kind: 'J' | 'L';
  seq: number;
  instance: string;
  id: string;
  frame: string;
}

/** Splits `text` at its first `count` newlines; the last part keeps any later ones. */
function fields(text: string, count: number): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = text.indexOf('\n', start);
    if (end === -1) break;
    parts.push(text.slice(start, end));
    start = end + 1;
  }
  parts.push(text.slice(start));
  return parts;
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
  readonly #address: RedisAddress;
  readonly #heartbeatMs: number;
  readonly #names: ReturnType<typeof namesUnder>;
  readonly #log: NonNullable<RedisRoomStoreOptions['log']>;
  #command: RedisConnection | undefined;
  #subscriber: RedisConnection | undefined;
  #instance = '';
  #events: StoreEvents | undefined;
  #rooms = new Map<string, RoomEntry>();
  #byChannel = new Map<string, RoomEntry>();
  /** Members on this instance by id, for signals published to this instance's channel. */
  #local = new Map<string, LocalMember>();
  #timer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retries = 0;
  #closed = false;

  constructor(options: RedisRoomStoreOptions) {
    this.#address = parseRedisUrl(options.url);
    const heartbeatMs = options.heartbeatMs ?? 1000;
    if (!(Number.isFinite(heartbeatMs) && heartbeatMs > 0)) {
      throw new TypeError(`RedisRoomStore: heartbeatMs must be a positive number, got ${String(heartbeatMs)}`);
    }
    this.#heartbeatMs = heartbeatMs;
    const prefix = options.prefix ?? 'peerkit:';
    if (typeof prefix !== 'string' || prefix.length === 0) {
      throw new TypeError(`RedisRoomStore: prefix must be a non-empty string, got ${JSON.stringify(prefix)}`);
    }
    this.#names = namesUnder(prefix);
    this.#log = options.log ?? (() => {});
  }

  /** Connects and registers this instance; rejects when Redis cannot be reached. */
  async open(events: StoreEvents): Promise<void> {
    this.#events = events;
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const instance = randomBytes(8).toString('hex');
    const lost = (reason: string): void => this.#lost(`Redis connection lost: ${reason}`);
    const command = await RedisConnection.open(this.#address, { lost });
    let subscriber: RedisConnection;
    try {
      subscriber = await RedisConnection.open(this.#address, { lost, message: (c, d) => this.#message(c, d) });
    } catch (error) {
      command.close();
      throw error;
    }
    this.#command = command;
    this.#subscriber = subscriber;
    this.#instance = instance;
    try {
      // Subscribed first: a sweeper takes an instance nobody listens for as dead.
      await subscriber.command(['SUBSCRIBE', this.#names.instanceChannel(instance)]);
      await command.command(['SET', this.#names.alive(instance), '1', 'PX', this.#heartbeatMs * TTL_BEATS]);
      await command.command(['SADD', this.#names.instances, instance]);
    } catch (error) {
      this.#disconnect();
      throw error;
    }
    this.#retries = 0;
    this.#timer = setInterval(() => void this.#beat(), this.#heartbeatMs);
    this.#log('info', 'store-ready', { store: 'redis', instance });
  }

  async #beat(): Promise<void> {
    const command = this.#command;
    if (command === undefined) return;
    try {
      const renewed = await command.command(['EVAL', BEAT, 2, this.#names.instances, this.#names.alive(this.#instance), this.#instance, this.#heartbeatMs * TTL_BEATS]);
      if (renewed === 0) {
        this.#lost('this instance missed its heartbeats and was swept');
        return;
      }
      const swept = await command.command(['EVAL', SWEEP, 2, this.#names.instances, this.#names.seq, this.#names.prefix]);
      if (typeof swept === 'number' && swept > 0) this.#log('info', 'swept', { members: swept });
    } catch (error) {
      // A lost connection reports itself; anything else is worth a line.
      if (command === this.#command) this.#log('warn', 'heartbeat-failed', { message: String(error) });
    }
  }

  /** Drops everything this instance knew, tells the server, and registers again later. */
  #lost(reason: string): void {
    if (this.#closed || this.#command === undefined) return;
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
    clearInterval(this.#timer);
    this.#command?.close();
    this.#subscriber?.close();
    this.#command = this.#subscriber = undefined;
    this.#rooms = new Map();
    this.#byChannel = new Map();
    this.#local = new Map();
  }

  #connection(): RedisConnection {
    if (this.#command === undefined) throw new Error('not connected to Redis');
    return this.#command;
  }

  #entry(room: string): RoomEntry {
    let entry = this.#rooms.get(room);
    if (entry === undefined) {
      const subscriber = this.#subscriber;
      if (subscriber === undefined) throw new Error('not connected to Redis');
      const channel = this.#names.roomChannel(room);
      const subscribed = subscriber.command(['SUBSCRIBE', channel]);
      entry = { channel, subscribed, joining: 0, locals: new Map(), everyone: new Map(), base: undefined, early: [] };
      this.#rooms.set(room, entry);
      this.#byChannel.set(channel, entry);
    }
    return entry;
  }

  /** Forgets a room once nobody on this instance is in it or joining it. */
  #release(room: string, entry: RoomEntry): void {
    if (entry.joining > 0 || entry.locals.size > 0 || this.#rooms.get(room) !== entry) return;
    this.#rooms.delete(room);
    this.#byChannel.delete(entry.channel);
    // A later join of the same room subscribes after this on the same connection, so Redis
    // processes the two in order.
    this.#subscriber?.command(['UNSUBSCRIBE', entry.channel]).catch(() => {});
  }

  async join(room: string, member: LocalMember, maxMembers: number, announce: string): Promise<JoinOutcome> {
    const entry = this.#entry(room);
    entry.joining += 1;
    try {
      // Subscribed before the script runs, so every change after the snapshot reaches the mirror.
      await entry.subscribed;
      const hello = member.hello === undefined ? '' : JSON.stringify(member.hello);
      const keys = [this.#names.room(room), this.#names.seq, this.#names.held(this.#instance), this.#names.instances];
      const args = [member.id, this.#instance, maxMembers, hello, entry.channel, announce, room, this.#names.prefix];
      const reply = await this.#connection().command(['EVAL', JOIN, keys.length, ...keys, ...args]);
      if (reply === null) return { ok: false, reason: 'ROOM_FULL' };
      const [seq, flat] = Array.isArray(reply) ? reply : [];
      if (typeof seq !== 'number' || !Array.isArray(flat)) throw new Error('unexpected reply to the join script');
      const present: { seq: number; instance: string; info: MemberInfo }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const id = String(flat[i]);
        const [joinSeq = '0', instance = '', helloText = ''] = String(flat[i + 1]).split('\t');
        const info: MemberInfo = helloText === '' ? { id } : { id, hello: JSON.parse(helloText) };
        present.push({ seq: Number(joinSeq), instance, info });
      }
      present.sort((a, b) => a.seq - b.seq);
      if (entry.base === undefined) {
        entry.base = seq;
        for (const other of present) entry.everyone.set(other.info.id, other.instance);
        for (const event of entry.early.splice(0)) this.#apply(entry, event);
      }
      // Members here learn of the joiner now, before it can signal them in-process.
      for (const local of entry.locals.values()) local.member.deliver(announce);
      entry.locals.set(member.id, { member, seq });
      entry.everyone.set(member.id, this.#instance);
      this.#local.set(member.id, member);
      return { ok: true, others: present.map((p) => p.info) };
    } finally {
      entry.joining -= 1;
      this.#release(room, entry);
    }
  }

  async leave(room: string, id: string, announce: string | undefined): Promise<void> {
    const entry = this.#rooms.get(room);
    if (entry?.locals.delete(id) !== true) return;
    entry.everyone.delete(id);
    this.#local.delete(id);
    if (announce !== undefined) for (const local of entry.locals.values()) local.member.deliver(announce);
    this.#release(room, entry);
    // Published even while this instance shuts down: members elsewhere must learn it is gone.
    const keys = [this.#names.room(room), this.#names.seq, this.#names.held(this.#instance)];
    await this.#connection().command(['EVAL', LEAVE, keys.length, ...keys, id, this.#instance, this.#names.roomChannel(room), room]);
  }

  send(room: string, to: string, frame: string): boolean {
    const entry = this.#rooms.get(room);
    const local = entry?.locals.get(to);
    if (local !== undefined) {
      local.member.deliver(frame);
      return true;
    }
    const instance = entry?.everyone.get(to);
    if (instance === undefined) return false;
    // Not awaited: the reply only says how many subscribers got it, and waiting would hold up
    // the sender's next frame for a round trip.
    const command = this.#connection();
    command.command(['PUBLISH', this.#names.instanceChannel(instance), `${to}\n${frame}`]).catch((error: unknown) => {
      // After a lost connection every pending relay fails; the loss itself is logged once.
      if (command === this.#command) this.#log('warn', 'relay-failed', { message: String(error) });
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
    const command = this.#command;
    if (command !== undefined) {
      try {
        await command.command(['DEL', this.#names.alive(this.#instance)]);
        await command.command(['EVAL', SWEEP, 2, this.#names.instances, this.#names.seq, this.#names.prefix]);
      } catch (error) {
        this.#log('warn', 'store-close-failed', { message: String(error) });
      }
    }
    this.#disconnect();
  }

  #message(channel: string, data: string): void {
    if (channel === this.#names.instanceChannel(this.#instance)) {
      const cut = data.indexOf('\n');
      this.#local.get(data.slice(0, cut))?.deliver(data.slice(cut + 1));
      return;
    }
    const entry = this.#byChannel.get(channel);
    if (entry === undefined) return;
    const [kind, seq = '', instance = '', id = '', frame = ''] = fields(data, 4);
    if (kind !== 'J' && kind !== 'L') return;
    const event: RoomEvent = { kind, seq: Number(seq), instance, id, frame };
    if (entry.base === undefined) entry.early.push(event);
    else this.#apply(entry, event);
  }

  #apply(entry: RoomEntry, event: RoomEvent): void {
    // This instance's own changes were applied when their scripts returned.
    if (event.instance === this.#instance || event.seq <= (entry.base ?? Infinity)) return;
    let frame: string;
    if (event.kind === 'J') {
      entry.everyone.set(event.id, event.instance);
      frame = event.frame;
    } else {
      entry.everyone.delete(event.id);
      frame = encodeFrame({ type: 'member-left', id: event.id });
    }
    // A member that joined after this change saw its result in its own snapshot.
    for (const local of entry.locals.values()) if (local.seq < event.seq) local.member.deliver(frame);
  }
}
