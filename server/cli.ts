#!/usr/bin/env node
/** `peerkit-signal`: runs the signaling server from the command line until SIGINT or SIGTERM. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createSignalingServer } from './index.js';
import type { IceServer } from './protocol.js';
import type { SignalingServerOptions } from './options.js';
import type { RedisConnectionOptions, RedisTlsOptions } from './redis-client.js';

const USAGE = `Usage: peerkit-signal [options]

  --port N              port to listen on (default 8787; 0 picks a free one)
  --host H              address to bind (default 127.0.0.1; 0.0.0.0 exposes it)
  --max-frame-bytes N   largest client frame in bytes (default 65536)
  --max-members N       most members per room (default 16)
  --rate N              frames per second per connection (default 50)
  --origins a,b         allowed Origin headers, comma-separated (default: any)
  --token-secret S      require HMAC-SHA256 room tokens signed with S
                        (or set PEERKIT_TOKEN_SECRET, which keeps it out of ps)
  --ice-servers JSON    ICE servers handed to clients, e.g. '[{"urls":"stun:stun.example:3478"}]'
  --turn-urls a,b       TURN URLs to hand out with per-member credentials (needs --turn-secret)
  --turn-secret S       coturn's static-auth-secret, to mint time-limited TURN credentials
                        (or set PEERKIT_TURN_SECRET)
  --turn-ttl N          seconds a TURN credential stays valid (default 86400)
  --redis URL           share rooms with other instances through Redis,
                        e.g. redis://127.0.0.1:6379 (or set PEERKIT_REDIS_URL)
  --redis-prefix P      start of every Redis key and channel (default peerkit:);
                        deployments sharing one Redis need different ones
  --redis-sentinel a,b  Sentinels (host:port,...) to find the primary through, with
                        --redis-master NAME; --redis then gives only user, password, TLS
  --redis-master NAME   the primary's name in Sentinel
  --redis-cluster a,b   some Redis Cluster nodes (host:port,...); the rest are discovered
  --redis-tls-ca F      PEM file of the CA that signed Redis's certificate (turns TLS on)
  --redis-tls-cert F    PEM client certificate for Redis (with --redis-tls-key)
  --redis-tls-key F     PEM key of that certificate
  --redis-tls-servername N  name to check Redis's certificate against
  --redis-command-timeout-ms N  how long a Redis command may go unanswered (default 2000)
  --janus URL           bridge to a Janus VideoRoom at this WebSocket API URL and serve
                        WHIP/WHEP endpoints, e.g. ws://127.0.0.1:8188 (repeatable)
  --janus-secret S      Janus's api_secret, if it has one (or set PEERKIT_JANUS_SECRET)
  --janus-admin-key K   the VideoRoom plugin's admin_key, if it has one
                        (or set PEERKIT_JANUS_ADMIN_KEY)
  --quiet               no logs
  --help                this text
`;

function fail(message: string): never {
  process.stderr.write(`peerkit-signal: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`--${name} must be a non-negative integer, got "${text}"`);
  return value;
}

function iceServers(text: string): IceServer[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('--ice-servers is not valid JSON');
  }
  const isUrls = (urls: unknown): boolean =>
    typeof urls === 'string' || (Array.isArray(urls) && urls.every((url) => typeof url === 'string'));
  const isServer = (s: unknown): boolean => typeof s === 'object' && s !== null && isUrls((s as { urls?: unknown }).urls);
  if (!Array.isArray(value) || !value.every(isServer)) {
    fail('--ice-servers must be a JSON array of objects with "urls"');
  }
  return value as IceServer[];
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string', default: '8787' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-frame-bytes': { type: 'string' },
      'max-members': { type: 'string' },
      rate: { type: 'string' },
      origins: { type: 'string' },
      'token-secret': { type: 'string' },
      'ice-servers': { type: 'string' },
      'turn-urls': { type: 'string' },
      'turn-secret': { type: 'string' },
      'turn-ttl': { type: 'string' },
      redis: { type: 'string' },
      'redis-prefix': { type: 'string' },
      'redis-sentinel': { type: 'string' },
      'redis-master': { type: 'string' },
      'redis-cluster': { type: 'string' },
      'redis-tls-ca': { type: 'string' },
      'redis-tls-cert': { type: 'string' },
      'redis-tls-key': { type: 'string' },
      'redis-tls-servername': { type: 'string' },
      'redis-command-timeout-ms': { type: 'string' },
      janus: { type: 'string', multiple: true },
      'janus-secret': { type: 'string' },
      'janus-admin-key': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const options: SignalingServerOptions = {};
const maxFrameBytes = integer('max-frame-bytes', args['max-frame-bytes']);
const maxMembers = integer('max-members', args['max-members']);
const rate = integer('rate', args.rate);
if (maxFrameBytes !== undefined) options.maxFrameBytes = maxFrameBytes;
if (maxMembers !== undefined) options.maxMembers = maxMembers;
if (rate !== undefined) options.rate = rate;
if (args.origins !== undefined) options.origins = args.origins.split(',').map((o) => o.trim()).filter(Boolean);
const secret = args['token-secret'] ?? process.env.PEERKIT_TOKEN_SECRET;
if (secret !== undefined && secret !== '') options.tokenSecret = secret;
if (args['ice-servers'] !== undefined) options.iceServers = iceServers(args['ice-servers']);
const turnSecret = args['turn-secret'] ?? process.env.PEERKIT_TURN_SECRET;
const turnUrls = args['turn-urls']?.split(',').map((u) => u.trim()).filter(Boolean);
const turnTtl = integer('turn-ttl', args['turn-ttl']);
if ((turnSecret === undefined || turnSecret === '') !== (turnUrls === undefined) || (turnTtl !== undefined && turnUrls === undefined)) {
  fail('--turn-urls and --turn-secret go together (and --turn-ttl needs them)');
}
if (turnSecret !== undefined && turnSecret !== '' && turnUrls !== undefined) {
  options.turn = turnTtl === undefined ? { secret: turnSecret, urls: turnUrls } : { secret: turnSecret, urls: turnUrls, ttlSeconds: turnTtl };
}
/** The contents of the file a flag names. */
function pem(name: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    fail(`--${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const list = (text: string | undefined): string[] | undefined => text?.split(',').map((s) => s.trim()).filter(Boolean);

// The Redis flags as one option: a plain URL when that is all there is.
const redisUrl = args.redis ?? process.env.PEERKIT_REDIS_URL;
const redisTls: RedisTlsOptions = {};
const redisCa = pem('redis-tls-ca', args['redis-tls-ca']);
const redisCert = pem('redis-tls-cert', args['redis-tls-cert']);
const redisKey = pem('redis-tls-key', args['redis-tls-key']);
if (redisCa !== undefined) redisTls.ca = redisCa;
if (redisCert !== undefined) redisTls.cert = redisCert;
if (redisKey !== undefined) redisTls.key = redisKey;
if (args['redis-tls-servername'] !== undefined) redisTls.servername = args['redis-tls-servername'];
const redisTimeout = integer('redis-command-timeout-ms', args['redis-command-timeout-ms']);
const sentinels = list(args['redis-sentinel']);
const cluster = list(args['redis-cluster']);
const master = args['redis-master'];
const redis: RedisConnectionOptions = {
  ...(redisUrl === undefined || redisUrl === '' ? {} : { url: redisUrl }),
  ...(sentinels === undefined ? {} : { sentinels }),
  ...(master === undefined ? {} : { master }),
  ...(cluster === undefined ? {} : { cluster }),
  ...(Object.keys(redisTls).length === 0 ? {} : { tls: redisTls }),
  ...(redisTimeout === undefined ? {} : { commandTimeoutMs: redisTimeout }),
};
const redisKeys = Object.keys(redis);
if (redisKeys.length === 1 && redis.url !== undefined) options.redis = redis.url;
else if (redisKeys.length > 0) options.redis = redis;
if (args['redis-prefix'] !== undefined) options.redisPrefix = args['redis-prefix'];
if (args.janus !== undefined) {
  for (const url of args.janus) if (!/^wss?:\/\//.test(url)) fail(`--janus must be a ws:// or wss:// URL, got "${url}"`);
  options.janus = args.janus;
}
const janusSecret = args['janus-secret'] ?? process.env.PEERKIT_JANUS_SECRET;
if (janusSecret !== undefined && janusSecret !== '') options.janusSecret = janusSecret;
const janusAdminKey = args['janus-admin-key'] ?? process.env.PEERKIT_JANUS_ADMIN_KEY;
if (janusAdminKey !== undefined && janusAdminKey !== '') options.janusAdminKey = janusAdminKey;
if (args.quiet) options.logger = false;

let server;
try {
  server = createSignalingServer(options);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
const running = server;
const port = integer('port', args.port) ?? 8787;
running.listen(port, args.host).catch((error: unknown) => {
  process.stderr.write(`peerkit-signal: cannot listen on ${args.host}:${port}: ${String(error)}\n`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}
