/**
 * What a signaling server is without its HTTP server: the WebSocket sessions, the room store,
 * metrics, drain and shutdown. `createSignalingServer` puts it behind a server of its own and
 * `attach` behind one the application already has.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { remoteAddress } from './forwarded.js';
import type { HttpContext } from './http.js';
import { createLog } from './log.js';
import { Metrics } from './metrics.js';
import type { ResolvedOptions, SignalingServerOptions } from './options.js';
import { resolveOptions } from './options.js';
import { ProcessMetrics } from './process-metrics.js';
import { RedisRoomStore } from './redis-store.js';
import { MemoryRoomStore } from './rooms.js';
import type { RoomStore } from './rooms.js';
import { Session } from './session.js';
import { SfuBridge } from './sfu/bridge.js';
import type { SfuOptions } from './sfu/bridge.js';
import { MemoryPins, RedisPins } from './sfu/pins.js';
import type { RoomPins } from './sfu/pins.js';
import type { MediaHttpContext } from './sfu/http.js';

/** Where a server is in its life: serving, refusing joins before a shutdown, or shutting down. */
export type Phase = 'serving' | 'draining' | 'closing';

/** The parts of a server its front ends (own HTTP server, attach, middleware) share. */
export interface SignalingCore {
  readonly options: ResolvedOptions;
  readonly log: ReturnType<typeof createLog>;
  /** What `/healthz` and `/metrics` read. */
  readonly http: HttpContext;
  /** What the WHIP/WHEP endpoints need, when the server bridges to Janus. */
  readonly media: MediaHttpContext | undefined;
  phase(): Phase;
  /** Connects the store; upgrades are refused with 503 until it resolves. Idempotent. */
  open(): Promise<void>;
  /** Takes over an upgrade request: refuses it with 403 or 503, or accepts the WebSocket. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Refuses new joins with `DRAINING` and fails `/healthz` from now on; resolves after `ms`. */
  drain(ms?: number): Promise<void>;
  /**
   * Tells every client `SHUTTING_DOWN`, closes with 1012, waits up to `closeTimeoutMs`, cuts off
   * the rest and closes the store. `beforeWait` runs once sockets are told, to stop a listener.
   */
  close(beforeWait?: () => void): Promise<void>;
}

export function createCore(options: SignalingServerOptions): SignalingCore {
  const resolved = resolveOptions(options);
  const metrics = new Metrics();
  const processMetrics = new ProcessMetrics();
  const log = createLog(resolved.logger);
  const store: RoomStore =
    options.store ??
    (options.redis === undefined
      ? new MemoryRoomStore()
      : new RedisRoomStore({ ...(typeof options.redis === 'string' ? { url: options.redis } : options.redis), log, ...(options.redisPrefix === undefined ? {} : { prefix: options.redisPrefix }) }));
  const bridge = options.janus === undefined || options.janus.length === 0 ? undefined : new SfuBridge(sfuOptions(options), log, roomPins(options, log));
  if (bridge !== undefined && options.tokenSecret === undefined && options.store !== undefined) {
    // A store of the application's own may be shared by several instances: each would accept only
    // the media tokens it minted itself.
    log('warn', 'media-token-secret-random', { message: 'no tokenSecret: media tokens are signed with a random secret of this process; give every instance that shares rooms the same --token-secret' });
  }
  const sessions = new Set<Session>();
  let phase: Phase = 'serving';
  let opened: Promise<void> | undefined;
  let isOpen = false;
  let draining: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;

  const gauges = () => ({ connections: sessions.size, ...store.stats() });
  // Frames between maxFrameBytes and this get a FRAME_TOO_LARGE answer; past it, ws closes with 1009
  // before buffering more, which bounds memory per connection.
  const wss = new WebSocketServer({ noServer: true, maxPayload: resolved.maxFrameBytes * 4 });
  const context = {
    options: resolved,
    store,
    metrics,
    log,
    isShuttingDown: () => phase === 'closing',
    isDraining: () => phase !== 'serving',
    memberLeft: (room: string, id: string) => {
      bridge?.left(room, id).catch((error: unknown) => log('warn', 'sfu-member-left-failed', { room, id, message: String(error) }));
    },
  };

  const refuseUpgrade = (socket: Duplex, status: 403 | 503, reason: string, fields: Record<string, unknown>): void => {
    metrics.upgradesRefused += 1;
    log('warn', 'upgrade-refused', { reason, ...fields });
    const text = status === 403 ? 'Forbidden' : 'Service Unavailable';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };

  const close = (beforeWait?: () => void): Promise<void> => {
    closing ??= (async () => {
      phase = 'closing';
      clearInterval(sweepTimer);
      log('info', 'shutting-down', { connections: sessions.size });
      for (const session of sessions) session.shutdown();
      beforeWait?.();
      await waitUntil(() => sessions.size === 0, resolved.closeTimeoutMs);
      for (const session of sessions) session.terminate();
      wss.close();
      processMetrics.stop();
      await bridge?.close();
      await store.close?.();
      log('info', 'closed');
    })();
    return closing;
  };

  return {
    options: resolved,
    log,
    http: {
      isShuttingDown: () => phase !== 'serving',
      gauges,
      renderMetrics: () => metrics.render(gauges(), processMetrics.render()),
      metricsToken: resolved.metricsToken,
      health: () => {
        const janus = bridge?.health() ?? [];
        return { fields: bridge === undefined ? {} : { janus }, degraded: janus.some((instance) => !instance.up) };
      },
    },
    media: bridge === undefined ? undefined : { bridge, origins: resolved.origins, tokenSecret: resolved.mediaTokenSecret, iceServers: resolved.iceServers },
    phase: () => phase,
    open() {
      opened ??= (async () => {
        // Connected before serving, so no client is accepted that the store cannot serve.
        await store.open?.({
          reset: (reason) => {
            log('warn', 'store-reset', { reason, connections: sessions.size });
            for (const session of sessions) session.shutdown();
          },
        });
        // An unreachable Janus is logged here and retried; signaling works without it.
        await bridge?.start();
        isOpen = true;
        if (phase === 'serving') {
          sweepTimer = setInterval(() => {
            for (const session of sessions) session.sweep();
          }, resolved.pingIntervalMs);
        }
      })();
      return opened;
    },
    upgrade(req, socket, head) {
      const remote = remoteAddress(req, resolved.trustProxy);
      socket.on('error', () => socket.destroy());
      // A draining server still upgrades, so that a `join` learns DRAINING and moves at once.
      if (phase === 'closing' || !isOpen) {
        refuseUpgrade(socket, 503, isOpen ? 'shutting down' : 'not ready', { remote });
        return;
      }
      const origin = req.headers.origin;
      if (resolved.origins !== undefined && (origin === undefined || !resolved.origins.has(origin))) {
        refuseUpgrade(socket, 403, 'origin not allowed', { remote, origin });
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const session = new Session(ws, context, remote);
        sessions.add(session);
        metrics.connectionsTotal += 1;
        log('debug', 'connect', { remote, origin });
        ws.on('close', () => sessions.delete(session));
      });
    },
    drain(ms = resolved.drainMs) {
      draining ??= (async () => {
        if (phase === 'serving') phase = 'draining';
        log('info', 'draining', { connections: sessions.size, ms });
        await new Promise((resolve) => setTimeout(resolve, ms));
      })();
      return draining;
    },
    close,
  };
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Where the bridge pins rooms to Janus instances: in Redis when the rooms are, so every server agrees. */
function roomPins(options: SignalingServerOptions, log: ReturnType<typeof createLog>): RoomPins {
  if (options.redis === undefined) return new MemoryPins();
  const connection = typeof options.redis === 'string' ? { url: options.redis } : options.redis;
  return new RedisPins(connection, options.redisPrefix ?? 'peerkit:', (error) => log('debug', 'redis-error', { message: error.message }));
}

function sfuOptions(options: SignalingServerOptions): SfuOptions {
  const sfu: SfuOptions = { janus: options.janus ?? [] };
  if (options.janusSecret !== undefined) sfu.janusSecret = options.janusSecret;
  if (options.janusAdminKey !== undefined) sfu.janusAdminKey = options.janusAdminKey;
  return sfu;
}
