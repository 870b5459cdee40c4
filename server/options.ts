/** Server options, their defaults and their validation. */
import { randomBytes } from 'node:crypto';
import type { IceServer } from './protocol.js';
import type { Logger } from './log.js';
import type { RoomStore } from './rooms.js';
import type { TurnOptions } from './turn.js';
import { stderrLogger } from './log.js';
import { checkTurnOptions, turnCredentials } from './turn.js';
import type { RedisConnectionOptions } from './redis-client.js';

/** Who is joining, for an {@link IceServersProvider}. */
export interface JoinContext {
  /** The member id the server assigned. */
  id: string;
  room: string;
  /** The `sub` claim of the member's room token, when tokens are in use. */
  sub?: string;
}

/**
 * Produces the ICE servers handed to one member in `joined`; a function lets a deployment mint
 * short-lived TURN credentials per member instead of sharing static ones.
 */
export type IceServersProvider = (context: JoinContext) => IceServer[] | Promise<IceServer[]>;

/** Options for {@link createSignalingServer}. All are optional. */
export interface SignalingServerOptions {
  /**
   * Largest client frame accepted, in bytes. Larger frames up to four times this are answered
   * with `FRAME_TOO_LARGE`; beyond that the socket is closed with 1009.
   * @default 65536
   */
  maxFrameBytes?: number;
  /**
   * Most members in one room. A full mesh of n members holds n(n-1)/2 peer connections, so
   * rooms much larger than this belong on an SFU rather than a mesh.
   * @default 16
   */
  maxMembers?: number;
  /**
   * Frames per second each connection may send on average (token bucket).
   * @default 50
   */
  rate?: number;
  /**
   * Frames a connection may send in one burst (bucket size). Joining a room with many peers
   * trickles many ICE candidates at once.
   * @default twice `rate`
   */
  burst?: number;
  /**
   * Allowed values of the `Origin` header. Upgrades from other origins, or without one, are
   * refused with 403. Empty or absent: every origin is allowed.
   * @default undefined
   */
  origins?: string[];
  /**
   * Secret for HMAC-SHA256 room tokens. When set, every `join` needs a valid token for its room.
   * With `janus` it also signs the media tokens handed out in `joined`; without it those are signed
   * with a random secret of this process, so the WHIP/WHEP endpoints always need a token, but only
   * this instance accepts them: servers that share rooms (`redis`, or a shared `store`) must all
   * be given the same `tokenSecret` (with `redis` and `janus` the server refuses to start without).
   * @default undefined
   */
  tokenSecret?: string;
  /**
   * ICE servers handed to each member in `joined`, or a function that returns them per member.
   * @default []
   */
  iceServers?: IceServer[] | IceServersProvider;
  /**
   * A TURN server sharing a secret with this one (coturn's `use-auth-secret`). Each `joined` then
   * carries, after the `iceServers`, a credential minted for that member: username
   * `<expiry unix seconds>:<member id>`, password base64(HMAC-SHA1(secret, username)).
   * @default undefined
   */
  turn?: TurnOptions;
  /**
   * Interval between WebSocket pings. A client that has answered nothing (no pong, no frame)
   * since the previous ping is dropped.
   * @default 30000
   */
  pingIntervalMs?: number;
  /**
   * How long `close()` waits for clients to close their sockets before cutting them off.
   * @default 3000
   */
  closeTimeoutMs?: number;
  /**
   * Receives one structured entry per event, debug entries included; `false` silences the server.
   * @default JSON lines on stderr, debug entries left out
   */
  logger?: Logger;
  /**
   * Where room state lives.
   * @default a new in-memory store, or a Redis one with `redis`
   */
  store?: RoomStore;
  /**
   * A Redis URL (`redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS), or where
   * Redis is in more detail: Sentinel (`sentinels` and `master`), Cluster (`cluster`), TLS
   * files, a command timeout. Every server given the same Redis shares its rooms: members on
   * different instances meet, and members of an instance that is killed are reported gone
   * within a heartbeat (1 s). Ignored when `store` is given.
   * @default undefined
   */
  redis?: string | RedisConnectionOptions;
  /**
   * What every Redis key and channel name starts with, to keep deployments that share one Redis
   * apart (pub/sub ignores the `/db` of the URL). Instances serving the same rooms use the same one.
   * @default 'peerkit:'
   */
  redisPrefix?: string;
  /**
   * WebSocket URLs of Janus instances (`ws://127.0.0.1:8188`). With any, the server bridges to
   * Janus's VideoRoom and serves WHIP (`POST /whip/<room>/<member>`) and WHEP
   * (`POST /whep/<room>/<member>`) endpoints; new rooms go to the instance with the fewest.
   * @default undefined
   */
  janus?: string[];
  /**
   * Janus's `api_secret`, when Janus is configured with one.
   * @default undefined
   */
  janusSecret?: string;
  /**
   * The Janus VideoRoom plugin's `admin_key`, when it is configured with one.
   * @default undefined
   */
  janusAdminKey?: string;
  /**
   * How long {@link SignalingServer.drain} refuses new joins (with `DRAINING`, so clients join
   * another instance) and fails `/healthz`, while joined members keep relaying, before it closes
   * every connection with 1012.
   * @default 10000
   */
  drainMs?: number;
  /**
   * Reverse proxies in front of the server whose `X-Forwarded-For` is believed for the client
   * address in logs: `true` or 1 for one (nginx in front), N for a chain of N. Only set it when
   * every connection comes through those proxies, or clients can log any address they like.
   * @default false
   */
  trustProxy?: boolean | number;
  /**
   * A bearer token `GET /metrics` requires (`Authorization: Bearer <token>`); others get 401.
   * @default undefined
   */
  metricsToken?: string;
  /**
   * Serves `/metrics` (and `/healthz`) on this port of the same host instead of the main one,
   * to keep them off a port the internet reaches. Only for {@link createSignalingServer}.
   * @default undefined
   */
  metricsPort?: number;
}

/** Options after defaults, as the server uses them. */
export interface ResolvedOptions {
  maxFrameBytes: number;
  maxMembers: number;
  rate: number;
  burst: number;
  origins: ReadonlySet<string> | undefined;
  tokenSecret: string | undefined;
  /**
   * What signs and checks the media tokens of the WHIP/WHEP endpoints: `tokenSecret`, or without
   * one a random secret drawn at start-up, so the endpoints are never open.
   */
  mediaTokenSecret: string;
  /** Whether the server bridges to Janus: `joined` then tells each member its WHIP/WHEP endpoints. */
  sfu: boolean;
  iceServers: IceServersProvider;
  pingIntervalMs: number;
  closeTimeoutMs: number;
  logger: Logger;
  drainMs: number;
  /** Trusted proxy hops; 0 ignores `X-Forwarded-For`. */
  trustProxy: number;
  metricsToken: string | undefined;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`createSignalingServer: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`createSignalingServer: ${name} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

function nonEmpty(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.length === 0) throw new TypeError(`createSignalingServer: ${name} must not be empty`);
  return value;
}

function trustedHops(value: boolean | number | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return 1;
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`createSignalingServer: trustProxy must be a boolean or a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** Applies defaults and refuses nonsense at once, rather than at the first connection. */
export function resolveOptions(options: SignalingServerOptions): ResolvedOptions {
  const rate = positive('rate', options.rate, 50);
  const { iceServers, tokenSecret, origins } = options;
  nonEmpty('tokenSecret', tokenSecret);
  const staticServers = Array.isArray(iceServers) ? structuredClone(iceServers) : [];
  const given: IceServersProvider = typeof iceServers === 'function' ? iceServers : () => staticServers;
  const turn = options.turn === undefined ? undefined : checkTurnOptions(options.turn);
  const sfu = (options.janus?.length ?? 0) > 0;
  // Refused rather than warned about: a random secret per process would make every media request
  // that a load balancer sends to another instance than the member's fail with 401, intermittently.
  if (sfu && tokenSecret === undefined && options.redis !== undefined && options.store === undefined) {
    throw new TypeError('createSignalingServer: janus with redis needs a tokenSecret (--token-secret), the same on every instance: the media tokens one instance mints must be valid on the others');
  }
  return {
    maxFrameBytes: Math.floor(positive('maxFrameBytes', options.maxFrameBytes, 64 * 1024)),
    maxMembers: Math.floor(positive('maxMembers', options.maxMembers, 16)),
    rate,
    burst: positive('burst', options.burst, rate * 2),
    origins: origins !== undefined && origins.length > 0 ? new Set(origins) : undefined,
    tokenSecret,
    mediaTokenSecret: tokenSecret ?? randomBytes(32).toString('base64url'),
    sfu,
    iceServers:
      turn === undefined
        ? given
        : async (context) => [...(await given(context)), turnCredentials(turn, context.id, Date.now() / 1000)],
    pingIntervalMs: positive('pingIntervalMs', options.pingIntervalMs, 30_000),
    closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs, 3_000),
    logger: options.logger ?? stderrLogger,
    drainMs: nonNegative('drainMs', options.drainMs, 10_000),
    trustProxy: trustedHops(options.trustProxy),
    metricsToken: nonEmpty('metricsToken', options.metricsToken),
  };
}
