/**
 * Every Redis key and channel name of the Redis store, written once. The Lua scripts get theirs
 * through KEYS and ARGV, never build one.
 *
 * A name is `prefix{r:room}suffix` for a room, `prefix{i:instance id}suffix` for an instance.
 * Redis Cluster hashes only what stands between the first `{` and the next `}` when that is not
 * empty, so every key of one room (and of one instance) is in one hash slot, even for a room
 * name that holds braces: the `r:` keeps the tag from being empty.
 */

/** The suffix of each kind of name, after the tag. */
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

/** What starts the tag of each kind: rooms and instances never share a name. */
const TAG_STARTS: Record<NameKind, string> = { members: 'r:', seq: 'r:', events: 'r:', held: 'i:', alive: 'i:', signals: 'i:' };

/** Key and channel names under one prefix. */
export interface KeyNames {
  readonly prefix: string;
  /** Set of the registered instance ids: the one key outside any room's or instance's slot. */
  readonly instances: string;
  /** The `kind` name of room or instance `tag`. */
  of(tag: string, kind: NameKind): string;
}

/**
 * The names under `prefix`. Throws a TypeError for an empty prefix, or one with a brace: Redis
 * Cluster would take its braces for the hash tag and scatter a room's keys over several slots.
 */
export function keyNames(prefix: unknown): KeyNames {
  if (typeof prefix !== 'string' || prefix.length === 0 || /[{}]/.test(prefix)) {
    throw new TypeError(`RedisRoomStore: prefix must be a non-empty string without braces, got ${JSON.stringify(prefix)}`);
  }
  const head = (kind: NameKind): string => `${prefix}{${TAG_STARTS[kind]}`;
  const tail = (kind: NameKind): string => `}${SUFFIXES[kind]}`;
  return {
    prefix,
    instances: `${prefix}instances`,
    of: (tag, kind) => head(kind) + tag + tail(kind),
  };
}
