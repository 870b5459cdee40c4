/**
 * Every Redis key and channel name of the Redis store, written once. The Lua scripts get the
 * names they can know in advance through KEYS and ARGV; for the names they find while running
 * (the rooms and instances a sweep discovers) they get the pieces from {@link KeyNames.luaArgs}
 * and only join them.
 *
 * A name is `prefix{tag}suffix`. The tag is the room name for a room's keys and the instance id
 * for an instance's, so that Redis Cluster, which hashes only what stands between the first `{`
 * and the next `}`, keeps every key of one room (and of one instance) in one hash slot.
 */

/** The suffix of each kind of name. No suffix ends another, so no two names ever collide. */
const SUFFIXES = {
  /** Hash of a room's members: member id → member value (see redis-codec). */
  members: ':members',
  /** A room's event counter: every join and leave gets the next number. */
  seq: ':seq',
  /** Channel of a room's join and leave events. */
  events: ':events',
  /** Set of the members an instance holds, as held entries (see redis-codec). */
  held: ':held',
  /** An instance's heartbeat key, renewed with a TTL. */
  alive: ':alive',
  /** Channel of the signals for an instance's members. */
  signals: ':signals',
} as const;

/** A kind of per-room or per-instance name. */
export type NameKind = keyof typeof SUFFIXES;

/** The order in which {@link KeyNames.luaArgs} passes the suffixes, read by the Lua prelude. */
export const LUA_NAME_KINDS: readonly NameKind[] = ['members', 'seq', 'events', 'held', 'alive', 'signals'];

/** Key and channel names under one prefix. */
export interface KeyNames {
  readonly prefix: string;
  /** Set of the registered instance ids. */
  readonly instances: string;
  /** The `kind` name of room or instance `tag`. */
  of(tag: string, kind: NameKind): string;
  /** What a Lua script needs to build names itself: the head, then one tail per {@link LUA_NAME_KINDS}. */
  luaArgs(): string[];
}

/**
 * The names under `prefix`. Throws a TypeError for an empty prefix, or one with a brace: Redis
 * Cluster would take its braces for the hash tag and scatter a room's keys over several slots.
 */
export function keyNames(prefix: unknown): KeyNames {
  if (typeof prefix !== 'string' || prefix.length === 0 || /[{}]/.test(prefix)) {
    throw new TypeError(`RedisRoomStore: prefix must be a non-empty string without braces, got ${JSON.stringify(prefix)}`);
  }
  const head = `${prefix}{`;
  const tail = (kind: NameKind): string => `}${SUFFIXES[kind]}`;
  return {
    prefix,
    instances: `${prefix}instances`,
    of: (tag, kind) => head + tag + tail(kind),
    luaArgs: () => [head, ...LUA_NAME_KINDS.map(tail)],
  };
}
