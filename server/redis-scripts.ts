/**
 * The Lua scripts of the Redis store and the typed calls that run them. Each change of a room is
 * one script, so the member cap holds across instances and every change gets the room's next
 * sequence number and is published in the same atomic step.
 *
 * Every script gets the same leading ARGV (the name pieces of redis-keys, then the counter TTL)
 * and its own arguments after them; the prelude reads both, and each script body names its own
 * arguments once, from the prelude's `args()`.
 *
 * Not yet for Redis Cluster: a leave touches one room's slot and its instance's, a join also the
 * global instances set, and the sweep reaches every room of a dead instance and counts
 * subscribers with PUBSUB NUMSUB, which in a cluster sees one node only.
 */
import type { KeyNames } from './redis-keys.js';
import { LUA_NAME_KINDS } from './redis-keys.js';
import type { StoredMember } from './redis-codec.js';
import { LUA_FORMATS, decodeMember, encodeHello } from './redis-codec.js';
import type { RedisConnection } from './resp.js';

/**
 * How long a room's event counter outlives the room's last member. It must not restart while an
 * instance that took the room's events is still waiting for its join's snapshot: numbers from
 * before the restart would look newer than the snapshot. A day is far beyond any such wait, and
 * still lets the counters of rooms nobody uses any more go.
 */
const SEQ_TTL_MS = 24 * 60 * 60 * 1000;

const PRELUDE = `${LUA_FORMATS}
local NAME = {${LUA_NAME_KINDS.map((kind, i) => `${kind} = {ARGV[${2 * i + 1}], ARGV[${2 * i + 2}]}`).join(', ')}}
local SEQ_TTL = ARGV[${2 * LUA_NAME_KINDS.length + 1}]
local function name(tag, kind) return NAME[kind][1] .. tag .. NAME[kind][2] end
local function args() return unpack(ARGV, ${2 * LUA_NAME_KINDS.length + 2}) end

-- Removes member id of instance from a room and publishes that it left; false when it was not there.
local function remove(members, seq, events, id, instance)
  if redis.call('HDEL', members, id) == 0 then return false end
  local n = redis.call('INCR', seq)
  if redis.call('EXISTS', members) == 0 then redis.call('PEXPIRE', seq, SEQ_TTL) end
  redis.call('PUBLISH', events, leave_event(n, instance, id))
  return true
end

-- Removes and announces the members of every instance that is gone: its heartbeat key expired
-- (a hung process), or nobody listens on its signals channel any more (a dead process, whose
-- connections the kernel closed). Atomic, so two sweepers never announce a member twice.
local function sweep(instances)
  local swept = 0
  for _, instance in ipairs(redis.call('SMEMBERS', instances)) do
    local alive = redis.call('EXISTS', name(instance, 'alive')) == 1
      and redis.call('PUBSUB', 'NUMSUB', name(instance, 'signals'))[2] > 0
    if not alive then
      local held = name(instance, 'held')
      for _, entry in ipairs(redis.call('SMEMBERS', held)) do
        local id, room = split_held(entry)
        if remove(name(room, 'members'), name(room, 'seq'), name(room, 'events'), id, instance) then swept = swept + 1 end
      end
      redis.call('DEL', held)
      redis.call('SREM', instances, instance)
    end
  end
  return swept
end
`;

// KEYS: instances set.
const SWEEP = `${PRELUDE}
return sweep(KEYS[1])`;

// KEYS: members hash, seq, held set, instances set. Sweeps first, so that a client re-joining
// right after its instance died does not meet its own ghost. Refused when this instance was
// swept itself: its members would be held by an instance nobody watches. The counter never
// expires while the room has members.
const JOIN = `${PRELUDE}
local id, instance, max, hello, events, room, announce = args()
sweep(KEYS[4])
if redis.call('SISMEMBER', KEYS[4], instance) == 0 then return redis.error_reply('FENCED this instance was swept') end
if redis.call('HLEN', KEYS[1]) >= tonumber(max) then return false end
local others = redis.call('HGETALL', KEYS[1])
local seq = redis.call('INCR', KEYS[2])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[1], id, member_value(seq, instance, hello))
redis.call('SADD', KEYS[3], held_entry(id, room))
redis.call('PUBLISH', events, join_event(seq, instance, id, announce))
return {seq, others}`;

// KEYS: members hash, seq, held set.
const LEAVE = `${PRELUDE}
local id, instance, events, room = args()
if remove(KEYS[1], KEYS[2], events, id, instance) then redis.call('SREM', KEYS[3], held_entry(id, room)) end`;

// KEYS: instances set, alive key. 0 when this instance was swept.
const BEAT = `${PRELUDE}
local instance, ttl = args()
if redis.call('SISMEMBER', KEYS[1], instance) == 0 or redis.call('PEXPIRE', KEYS[2], ttl) == 0 then return 0 end
return 1`;

/** A join the script let in: the room's counter after it, and the members before it, in joining order. */
export interface JoinResult {
  seq: number;
  present: StoredMember[];
}

/** The store's scripts, run on a connection of the caller's choosing. */
export class StoreScripts {
  readonly #names: KeyNames;
  readonly #common: (string | number)[];

  constructor(names: KeyNames) {
    this.#names = names;
    this.#common = [...names.luaArgs(), SEQ_TTL_MS];
  }

  #eval(connection: RedisConnection, script: string, keys: string[], args: (string | number)[]) {
    return connection.command(['EVAL', script, keys.length, ...keys, ...this.#common, ...args]);
  }

  /** Removes the members of dead instances; resolves with how many. */
  async sweep(connection: RedisConnection): Promise<number> {
    const swept = await this.#eval(connection, SWEEP, [this.#names.instances], []);
    return typeof swept === 'number' ? swept : 0;
  }

  /** Adds member `id` of `instance` to `room`; undefined when the room is full. */
  async join(
    connection: RedisConnection,
    join: { room: string; id: string; instance: string; maxMembers: number; hello: unknown; announce: string },
  ): Promise<JoinResult | undefined> {
    const { room, id, instance } = join;
    const names = this.#names;
    const keys = [names.of(room, 'members'), names.of(room, 'seq'), names.of(instance, 'held'), names.instances];
    const args = [id, instance, join.maxMembers, encodeHello(join.hello), names.of(room, 'events'), room, join.announce];
    const reply = await this.#eval(connection, JOIN, keys, args);
    if (reply === null) return undefined;
    const [seq, flat] = Array.isArray(reply) ? reply : [];
    if (typeof seq !== 'number' || !Array.isArray(flat)) throw new Error('unexpected reply to the join script');
    const present: StoredMember[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) present.push(decodeMember(String(flat[i]), String(flat[i + 1])));
    present.sort((a, b) => a.seq - b.seq);
    return { seq, present };
  }

  /** Removes member `id` of `instance` from `room` and announces it, unless a sweep did already. */
  async leave(connection: RedisConnection, room: string, id: string, instance: string): Promise<void> {
    const names = this.#names;
    const keys = [names.of(room, 'members'), names.of(room, 'seq'), names.of(instance, 'held')];
    await this.#eval(connection, LEAVE, keys, [id, instance, names.of(room, 'events'), room]);
  }

  /** Renews `instance`'s heartbeat for `ttlMs`; false when it was swept and must register anew. */
  async beat(connection: RedisConnection, instance: string, ttlMs: number): Promise<boolean> {
    return (await this.#eval(connection, BEAT, [this.#names.instances, this.#names.of(instance, 'alive')], [instance, ttlMs])) === 1;
  }
}
