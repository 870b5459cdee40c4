/**
 * The Lua scripts of the Redis store and the typed calls that run them. Each change of a room is
 * one script, so the member cap holds across instances and every change gets the room's next
 * sequence number and is published in the same atomic step.
 *
 * Every script touches the keys of one hash slot only, as Redis Cluster requires: a room's
 * scripts its `{r:room}` keys and channel, the liveness check an instance's `{i:id}` key and
 * channel. What spans slots (an instance's set of held members, the set of instances, a sweep)
 * is done by the caller in separate steps that may be repeated (see redis-instance).
 *
 * Every script gets the same leading ARGV (the counter TTL and the publish command) and its own
 * arguments after them; each body names its own arguments once, from the prelude's `args()`.
 */
import type { KeyNames } from './redis-keys.js';
import type { PubSubNames, RedisClient } from './redis-client.js';
import type { StoredMember } from './redis-codec.js';
import { LUA_FORMATS, decodeMember, encodeHello } from './redis-codec.js';

/**
 * How long a room's event counter outlives the room's last member. It must not restart while an
 * instance that took the room's events is still waiting for its join's snapshot: numbers from
 * before the restart would look newer than the snapshot. A day is far beyond any such wait, and
 * still lets the counters of rooms nobody uses any more go.
 */
const SEQ_TTL_MS = 24 * 60 * 60 * 1000;

const PRELUDE = `${LUA_FORMATS}
local SEQ_TTL, PUBLISH = ARGV[1], ARGV[2]
local function args() return unpack(ARGV, 3) end
`;

// KEYS: members hash, seq. The counter never expires while the room has members.
const JOIN = `${PRELUDE}
local id, instance, max, hello, events, announce = args()
if redis.call('HLEN', KEYS[1]) >= tonumber(max) then return false end
local others = redis.call('HGETALL', KEYS[1])
local seq = redis.call('INCR', KEYS[2])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[1], id, member_value(seq, instance, hello))
redis.call(PUBLISH, events, join_event(seq, instance, id, announce))
return {seq, others}`;

// KEYS: members hash, seq. 1 when the member was there and its leave was published, else 0:
// a sweep and the member's own instance may both remove it, and only one announces it.
const LEAVE = `${PRELUDE}
local id, instance, events = args()
if redis.call('HDEL', KEYS[1], id) == 0 then return 0 end
local n = redis.call('INCR', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('PEXPIRE', KEYS[2], SEQ_TTL) end
redis.call(PUBLISH, events, leave_event(n, instance, id))
return 1`;

// KEYS: the instance's heartbeat key. Alive while the key exists (a hung process lets it expire)
// and something listens on its signals channel (a killed one's connections were closed by the
// kernel). The count is taken on the node that owns the channel's slot, which in a cluster is
// where a sharded subscriber connects: plain PUBSUB NUMSUB would count one node of many.
const ALIVE = `${PRELUDE}
local signals, numsub = args()
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('PUBSUB', numsub, signals)[2] == 0 then return 0 end
return 1`;

/** A join the script let in: the room's counter after it, and the members before it, in joining order. */
export interface JoinResult {
  seq: number;
  present: StoredMember[];
}

/** The store's scripts, run on the client given. */
export class StoreScripts {
  readonly #names: KeyNames;
  readonly #pubsub: PubSubNames;
  readonly #common: (string | number)[];

  constructor(names: KeyNames, pubsub: PubSubNames) {
    this.#names = names;
    this.#pubsub = pubsub;
    this.#common = [SEQ_TTL_MS, pubsub.publish];
  }

  #eval(client: RedisClient, script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return client.eval(script, keys.length, ...keys, ...this.#common, ...args);
  }

  /** Adds member `id` of `instance` to `room`; undefined when the room is full. */
  async join(
    client: RedisClient,
    join: { room: string; id: string; instance: string; maxMembers: number; hello: unknown; announce: string },
  ): Promise<JoinResult | undefined> {
    const { room, id, instance } = join;
    const names = this.#names;
    const keys = [names.of(room, 'members'), names.of(room, 'seq')];
    const args = [id, instance, join.maxMembers, encodeHello(join.hello), names.of(room, 'events'), join.announce];
    const reply = await this.#eval(client, JOIN, keys, args);
    if (reply === null) return undefined;
    const [seq, flat] = Array.isArray(reply) ? reply : [];
    if (typeof seq !== 'number' || !Array.isArray(flat)) throw new Error('unexpected reply to the join script');
    const present: StoredMember[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) present.push(decodeMember(String(flat[i]), String(flat[i + 1])));
    present.sort((a, b) => a.seq - b.seq);
    return { seq, present };
  }

  /** Removes member `id` of `instance` from `room` and announces it; false when it was gone already. */
  async leave(client: RedisClient, room: string, id: string, instance: string): Promise<boolean> {
    const names = this.#names;
    return (await this.#eval(client, LEAVE, [names.of(room, 'members'), names.of(room, 'seq')], [id, instance, names.of(room, 'events')])) === 1;
  }

  /** Whether `instance` still beats and listens. */
  async alive(client: RedisClient, instance: string): Promise<boolean> {
    const names = this.#names;
    return (await this.#eval(client, ALIVE, [names.of(instance, 'alive')], [names.of(instance, 'signals'), this.#pubsub.numsub])) === 1;
  }
}
