/**
 * Every `peerkit-signal` setting in one table. Each row is a flag (`--max-members 8`), an
 * environment variable (`PEERKIT_SIGNAL_MAX_MEMBERS=8`) and a key of the `--config` JSON file
 * (`{"max-members": 8}`); the command line wins over the environment, which wins over the file.
 * A new setting is one more row: its name, kind, help line and what it sets.
 */
import { readFileSync } from 'node:fs';
import type { IceServer } from './protocol.js';
import type { LogLevel } from './log.js';
import { LOG_LEVELS } from './log.js';
import type { SignalingServerOptions } from './options.js';
import type { RedisConnectionOptions, RedisTlsOptions } from './redis-client.js';

/** What the flags build: the server's options and what the process around it needs. */
export interface Settings {
  server: SignalingServerOptions;
  port: number;
  host: string;
  logLevel: LogLevel | 'silent';
  turnUrls?: string[];
  turnSecret?: string;
  turnTtl?: number;
  /** Where Redis is, from the `--redis*` flags; a URL alone becomes the plain `redis` string. */
  redis?: RedisConnectionOptions & { tls?: RedisTlsOptions };
}

/** A flag's value, parsed according to its kind. */
interface Kinds {
  string: string;
  integer: number;
  boolean: boolean;
  list: string[];
  json: unknown;
}

/** One row of the table. */
export type Flag = {
  [K in keyof Kinds]: {
    /** The long flag without `--`; its environment variable is PEERKIT_SIGNAL_ and it upper-cased. */
    name: string;
    kind: K;
    /** What the value is, as `N` in `--port N`; none for a boolean. */
    value?: string;
    /** One line of help. */
    help: string;
    /** Older or conventional environment variables read too, after PEERKIT_SIGNAL_*. */
    env?: string[];
    /** Applies a value that was given. */
    set: (settings: Settings, value: Kinds[K]) => void;
  };
}[keyof Kinds];

/** A setting that cannot be used; the CLI prints its message and the usage. */
export class FlagError extends Error {}

function iceServers(value: unknown): IceServer[] {
  const isUrls = (urls: unknown): boolean =>
    typeof urls === 'string' || (Array.isArray(urls) && urls.every((url) => typeof url === 'string'));
  const isServer = (s: unknown): boolean => typeof s === 'object' && s !== null && isUrls((s as { urls?: unknown }).urls);
  if (!Array.isArray(value) || !value.every(isServer)) throw new FlagError('--ice-servers must be a JSON array of objects with "urls"');
  return value as IceServer[];
}

/** The Redis settings, made on first use. */
const redis = (s: Settings): NonNullable<Settings['redis']> => (s.redis ??= {});
const redisTls = (s: Settings): RedisTlsOptions => (redis(s).tls ??= {});

/** The contents of a PEM file a flag names. */
function pem(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new FlagError(`--${flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function janusUrls(urls: string[]): string[] {
  for (const url of urls) if (!/^wss?:\/\//.test(url)) throw new FlagError(`--janus must be ws:// or wss:// URLs, got "${url}"`);
  return urls;
}

function logLevel(value: string): LogLevel | 'silent' {
  const levels: string[] = [...LOG_LEVELS, 'silent'];
  if (!levels.includes(value)) throw new FlagError(`--log-level must be one of ${levels.join(', ')}, got "${value}"`);
  return value as LogLevel | 'silent';
}

/** The table. `config`, `help` and `version` are handled before it, by the CLI itself. */
export const FLAGS: readonly Flag[] = [
  { name: 'port', kind: 'integer', value: 'N', help: 'port to listen on (default 8787; 0 picks a free one)', env: ['PORT'], set: (s, v) => void (s.port = v) },
  { name: 'host', kind: 'string', value: 'H', help: 'address to bind (default 127.0.0.1; 0.0.0.0 exposes it)', set: (s, v) => void (s.host = v) },
  { name: 'max-frame-bytes', kind: 'integer', value: 'N', help: 'largest client frame in bytes (default 65536)', set: (s, v) => void (s.server.maxFrameBytes = v) },
  { name: 'max-members', kind: 'integer', value: 'N', help: 'most members per room (default 16)', set: (s, v) => void (s.server.maxMembers = v) },
  { name: 'rate', kind: 'integer', value: 'N', help: 'frames per second per connection (default 50)', set: (s, v) => void (s.server.rate = v) },
  { name: 'origins', kind: 'list', value: 'a,b', help: 'allowed Origin headers (default: any)', set: (s, v) => void (s.server.origins = v) },
  { name: 'token-secret', kind: 'string', value: 'S', help: 'require HMAC-SHA256 room tokens signed with S (an environment variable keeps it out of ps); with --janus it also signs the media tokens, which without it use a random secret per process: instances sharing rooms (--redis) need the same S', env: ['PEERKIT_TOKEN_SECRET'], set: (s, v) => void (s.server.tokenSecret = v) },
  { name: 'ice-servers', kind: 'json', value: 'JSON', help: `ICE servers handed to clients, e.g. '[{"urls":"stun:stun.example:3478"}]'`, set: (s, v) => void (s.server.iceServers = iceServers(v)) },
  { name: 'turn-urls', kind: 'list', value: 'a,b', help: 'TURN URLs to hand out with per-member credentials (needs --turn-secret)', set: (s, v) => void (s.turnUrls = v) },
  { name: 'turn-secret', kind: 'string', value: 'S', help: "coturn's static-auth-secret, to mint time-limited TURN credentials", env: ['PEERKIT_TURN_SECRET'], set: (s, v) => void (s.turnSecret = v) },
  { name: 'turn-ttl', kind: 'integer', value: 'N', help: 'seconds a TURN credential stays valid (default 86400)', set: (s, v) => void (s.turnTtl = v) },
  { name: 'redis', kind: 'string', value: 'URL', help: 'share rooms with other instances through Redis, e.g. redis://127.0.0.1:6379', env: ['PEERKIT_REDIS_URL'], set: (s, v) => void (redis(s).url = v) },
  { name: 'redis-sentinel', kind: 'list', value: 'a,b', help: 'Sentinels (host:port,...) to find the primary through, with --redis-master; --redis then gives only user, password, TLS', set: (s, v) => void (redis(s).sentinels = v) },
  { name: 'redis-master', kind: 'string', value: 'NAME', help: "the primary's name in Sentinel", set: (s, v) => void (redis(s).master = v) },
  { name: 'redis-cluster', kind: 'list', value: 'a,b', help: 'some Redis Cluster nodes (host:port,...); the rest are discovered', set: (s, v) => void (redis(s).cluster = v) },
  { name: 'redis-tls-ca', kind: 'string', value: 'FILE', help: "PEM file of the CA that signed Redis's certificate (turns TLS on)", set: (s, v) => void (redisTls(s).ca = pem('redis-tls-ca', v)) },
  { name: 'redis-tls-cert', kind: 'string', value: 'FILE', help: 'PEM client certificate for Redis (with --redis-tls-key)', set: (s, v) => void (redisTls(s).cert = pem('redis-tls-cert', v)) },
  { name: 'redis-tls-key', kind: 'string', value: 'FILE', help: 'PEM key of that certificate', set: (s, v) => void (redisTls(s).key = pem('redis-tls-key', v)) },
  { name: 'redis-tls-servername', kind: 'string', value: 'NAME', help: "name to check Redis's certificate against", set: (s, v) => void (redisTls(s).servername = v) },
  { name: 'redis-command-timeout-ms', kind: 'integer', value: 'N', help: 'how long a Redis command may go unanswered (default 2000)', set: (s, v) => void (redis(s).commandTimeoutMs = v) },
  { name: 'redis-prefix', kind: 'string', value: 'P', help: 'start of every Redis key and channel (default peerkit:); deployments sharing one Redis need different ones', set: (s, v) => void (s.server.redisPrefix = v) },
  { name: 'janus', kind: 'list', value: 'a,b', help: 'bridge to Janus VideoRoom at these WebSocket API URLs (ws://127.0.0.1:8188,...) and serve WHIP/WHEP endpoints (always token-checked; see --token-secret)', set: (s, v) => void (s.server.janus = janusUrls(v)) },
  { name: 'janus-secret', kind: 'string', value: 'S', help: "Janus's api_secret, if it has one", env: ['PEERKIT_JANUS_SECRET'], set: (s, v) => void (s.server.janusSecret = v) },
  { name: 'janus-admin-key', kind: 'string', value: 'K', help: "the VideoRoom plugin's admin_key, if it has one", env: ['PEERKIT_JANUS_ADMIN_KEY'], set: (s, v) => void (s.server.janusAdminKey = v) },
  { name: 'drain-ms', kind: 'integer', value: 'N', help: 'on SIGTERM or SIGINT, refuse new joins and fail /healthz for N ms before closing (default 10000)', set: (s, v) => void (s.server.drainMs = v) },
  { name: 'trust-proxy', kind: 'integer', value: 'N', help: 'believe X-Forwarded-For from N reverse proxies in front (1: nginx) for the logged address (default 0)', set: (s, v) => void (s.server.trustProxy = v) },
  { name: 'metrics-port', kind: 'integer', value: 'N', help: 'serve /metrics on this port instead of the main one', set: (s, v) => void (s.server.metricsPort = v) },
  { name: 'metrics-token', kind: 'string', value: 'T', help: '/metrics requires "Authorization: Bearer T"', set: (s, v) => void (s.server.metricsToken = v) },
  { name: 'log-level', kind: 'string', value: 'L', help: `least severe entry logged: ${LOG_LEVELS.join(', ')} or silent (default info)`, set: (s, v) => void (s.logLevel = logLevel(v)) },
  { name: 'quiet', kind: 'boolean', help: 'no logs (as --log-level silent)', set: (s, v) => void (v && (s.logLevel = 'silent')) },
];

/** The environment variable of a flag. */
export function envName(flag: string): string {
  return `PEERKIT_SIGNAL_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * Parses one value, from the command line or the environment (text) or the config file (JSON).
 * `where` names its source in messages.
 */
export function parseValue(flag: Flag, raw: unknown, where: string): Kinds[Flag['kind']] {
  switch (flag.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw new FlagError(`${where} must be a non-empty string`);
      return raw;
    case 'integer': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isInteger(value) || value < 0) throw new FlagError(`${where} must be a non-negative integer, got ${JSON.stringify(raw)}`);
      return value;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new FlagError(`${where} must be true or false, got ${JSON.stringify(raw)}`);
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
      if (items === undefined || !items.every((item) => typeof item === 'string')) throw new FlagError(`${where} must be a comma-separated list`);
      return items.map((item: string) => item.trim()).filter(Boolean);
    }
    case 'json':
      if (typeof raw !== 'string') return raw;
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        throw new FlagError(`${where} is not valid JSON`);
      }
  }
}

/** The usage text, generated from the table. */
export function usage(): string {
  const rows = [
    ['--config FILE', 'read settings from a JSON file: {"port": 8787, "max-members": 8, ...}'],
    ...FLAGS.map((flag): [string, string] => [`--${flag.name} ${flag.value ?? ''}`.trimEnd(), flag.help]),
    ['-v, --version', 'print the version'],
    ['-h, --help', 'this text'],
  ];
  const width = Math.max(...rows.map(([left = '']) => left.length)) + 2;
  return [
    'Usage: peerkit-signal [options]',
    '',
    ...rows.map(([left = '', right = '']) => `  ${left.padEnd(width)}${right}`),
    '',
    'Every option can also be set in the environment as PEERKIT_SIGNAL_<OPTION>, e.g.',
    'PEERKIT_SIGNAL_MAX_MEMBERS=8, or in the --config file; the command line wins over the',
    'environment, which wins over the file. PORT is read too, after PEERKIT_SIGNAL_PORT.',
    '',
  ].join('\n');
}
