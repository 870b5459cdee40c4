/**
 * How the Redis store reaches Redis: one server, a Sentinel-managed primary or a Cluster, through
 * ioredis.
 *
 * ioredis rather than the official `redis` package: everything the store needs is an option of
 * one constructor, with no code of ours around it. Both clients have command timeouts,
 * keep-alive, TLS, ACL users, Sentinel and Cluster with sharded pub/sub; ioredis also has
 * `reconnectOnError`, which reconnects (through Sentinel, to the new primary) and resends on
 * `-READONLY` after a failover, where node-redis leaves that to the caller, and one `Redis`
 * class serves one server and Sentinel alike.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';

/** TLS settings for Redis; giving any turns TLS on, as does a `rediss://` URL. */
export type RedisTlsOptions = Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'servername' | 'rejectUnauthorized'>;

/**
 * ioredis's options, less the one whose declared type does not compile under
 * exactOptionalPropertyTypes (RedisOptions says `| undefined`, the constructors do not).
 */
type ClientOptions = Omit<RedisOptions, 'replyMapping'>;

/** A `host:port` of a Sentinel or Cluster node. */
export interface RedisNode {
  host: string;
  port: number;
}

/** Where Redis is and how to log in to it. */
export interface RedisConnectionOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. With `sentinels` or
   * `cluster` it gives only the user, password, database and TLS: its host is not used.
   */
  url?: string;
  /** Sentinels that know the primary named `master`, instead of one fixed server. */
  sentinels?: readonly (string | RedisNode)[];
  /** The name Sentinel knows the primary by (`sentinel monitor <name> ...`). */
  master?: string;
  /** Some nodes of a Redis Cluster, instead of one fixed server; the others are discovered. */
  cluster?: readonly (string | RedisNode)[];
  /** CA, client certificate and key, server name. */
  tls?: RedisTlsOptions;
  /**
   * How long a command may go unanswered. A primary that hangs without closing its connections
   * is noticed within this; a heartbeat that keeps failing past the liveness TTL resets the store.
   * @default 2000
   */
  commandTimeoutMs?: number;
}

/** The client of either kind: both have the same commands. */
export type RedisClient = Redis | Cluster;

/** The pub/sub commands of a mode: sharded in a cluster, so a room's channel stays on its slot. */
export interface PubSubNames {
  readonly subscribe: 'ssubscribe' | 'subscribe';
  readonly unsubscribe: 'sunsubscribe' | 'unsubscribe';
  readonly publish: 'SPUBLISH' | 'PUBLISH';
  readonly message: 'smessage' | 'message';
  /** The PUBSUB subcommand that counts a channel's subscribers on the node holding its slot. */
  readonly numsub: 'SHARDNUMSUB' | 'NUMSUB';
}

const SHARDED: PubSubNames = { subscribe: 'ssubscribe', unsubscribe: 'sunsubscribe', publish: 'SPUBLISH', message: 'smessage', numsub: 'SHARDNUMSUB' };
const GLOBAL: PubSubNames = { subscribe: 'subscribe', unsubscribe: 'unsubscribe', publish: 'PUBLISH', message: 'message', numsub: 'NUMSUB' };

/** Reads `host:port` (port 6379 when left out, `[v6]:port` for IPv6). */
function node(value: string | RedisNode, what: string): RedisNode {
  if (typeof value !== 'string') return { host: value.host, port: value.port };
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(value.trim());
  if (match === null) throw new TypeError(`RedisRoomStore: ${what} must be host:port, got ${JSON.stringify(value)}`);
  return { host: match[1] ?? match[2] ?? '', port: match[3] === undefined ? 6379 : Number(match[3]) };
}

/** The parts of a Redis URL ioredis is given; refuses what is not one. */
function fromUrl(url: string): { tls: boolean; host: string; port: number; username?: string; password?: string; db?: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a Redis URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`a Redis URL starts with redis:// or rediss://, got ${JSON.stringify(url)}`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new TypeError(`the database in a Redis URL is a number, got ${JSON.stringify(db)}`);
  return {
    tls: parsed.protocol === 'rediss:',
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(db === '' ? {} : { db: Number(db) }),
  };
}

/** Connection options checked once, from which every client of the store is made. */
export class RedisTarget {
  readonly pubsub: PubSubNames;
  /** For error messages: where this connects. */
  readonly description: string;
  readonly #options: ClientOptions;
  readonly #nodes: RedisNode[] | undefined;

  /** Throws a TypeError for options that cannot work. */
  constructor(options: RedisConnectionOptions) {
    const { sentinels, master, cluster, tls } = options;
    const commandTimeout = options.commandTimeoutMs ?? 2000;
    if (!(Number.isFinite(commandTimeout) && commandTimeout > 0)) {
      throw new TypeError(`RedisRoomStore: commandTimeoutMs must be a positive number, got ${String(commandTimeout)}`);
    }
    if ((sentinels !== undefined) !== (master !== undefined)) throw new TypeError('RedisRoomStore: sentinels and master go together');
    if (sentinels !== undefined && cluster !== undefined) throw new TypeError('RedisRoomStore: sentinels and cluster exclude each other');
    if (options.url === undefined && sentinels === undefined && cluster === undefined) {
      throw new TypeError('RedisRoomStore: give a url, sentinels with a master, or cluster nodes');
    }
    const url = options.url === undefined ? undefined : fromUrl(options.url);
    const useTls = url?.tls === true || tls !== undefined;
    this.#options = {
      ...(url?.username === undefined ? {} : { username: url.username }),
      ...(url?.password === undefined ? {} : { password: url.password }),
      ...(url?.db === undefined ? {} : { db: url.db }),
      // Node checks the certificate against the host connected to unless told a servername.
      ...(useTls ? { tls: { ...tls } } : {}),
      commandTimeout,
      connectTimeout: Math.max(commandTimeout, 2000),
      // Without it, a primary that vanished behind a dead network is never noticed by the kernel.
      keepAlive: 10_000,
      // After a failover the old primary answers writes with READONLY: reconnect, find the new
      // primary (through Sentinel) and resend.
      reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
      lazyConnect: true,
      // Relays are published one by one as they arrive; this sends those of one tick in one write.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 2,
    };
    if (sentinels !== undefined && master !== undefined) {
      const nodes = sentinels.map((s) => node(s, 'a sentinel'));
      if (nodes.length === 0 || master === '') throw new TypeError('RedisRoomStore: sentinels needs at least one node and a master name');
      Object.assign(this.#options, { sentinels: nodes, name: master, ...(useTls ? { enableTLSForSentinelMode: true } : {}) });
      this.description = `the primary "${master}" of Sentinel ${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    } else if (cluster !== undefined) {
      this.#nodes = cluster.map((c) => node(c, 'a cluster node'));
      if (this.#nodes.length === 0) throw new TypeError('RedisRoomStore: cluster needs at least one node');
      this.description = `the Redis Cluster of ${this.#nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    } else if (url !== undefined) {
      Object.assign(this.#options, { host: url.host, port: url.port });
      this.description = `Redis at ${url.host}:${url.port}`;
    } else {
      this.description = 'Redis';
    }
    this.pubsub = this.#nodes === undefined ? GLOBAL : SHARDED;
  }

  /**
   * A client, not connected yet. A subscriber never reconnects by itself: messages published
   * while it was away are lost, so the store must hear of the loss and start over.
   */
  client(role: 'command' | 'subscriber', onError: (error: Error) => void): RedisClient {
    const client = this.#create(role);
    client.on('error', onError);
    return client;
  }

  #create(role: 'command' | 'subscriber'): RedisClient {
    const retry = role === 'subscriber' ? () => null : (times: number) => Math.min(100 * 2 ** times, 2000);
    if (this.#nodes === undefined) {
      const options: ClientOptions = { ...this.#options, retryStrategy: retry };
      return new Redis(options);
    }
    return new Cluster(this.#nodes, {
      redisOptions: this.#options,
      lazyConnect: true,
      enableAutoPipelining: true,
      shardedSubscribers: role === 'subscriber',
      clusterRetryStrategy: retry,
      slotsRefreshTimeout: Math.max(this.#options.commandTimeout ?? 2000, 1000),
    });
  }

  /** Connects `client`; rejects with where it tried when that fails, and stops its retries. */
  async connect(client: RedisClient): Promise<void> {
    // connect() rejects with "Connection is closed."; the reason came before, as an error event.
    let reason: unknown;
    const onError = (error: Error): void => {
      reason ??= error;
    };
    client.on('error', onError);
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      reason ??= error;
      throw new Error(`cannot connect to ${this.description}: ${reason instanceof Error ? reason.message : String(reason)}`, { cause: reason });
    } finally {
      client.off('error', onError);
    }
  }
}
