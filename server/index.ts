/**
 * The peerkit signaling server: rooms of members that relay WebRTC signals to each other over
 * WebSocket, with health and metrics endpoints on the same port.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { handleHttp } from './http.js';
import { createLog } from './log.js';
import { Metrics } from './metrics.js';
import type { SignalingServerOptions } from './options.js';
import { resolveOptions } from './options.js';
import { RedisRoomStore } from './redis-store.js';
import { MemoryRoomStore } from './rooms.js';
import type { RoomStore } from './rooms.js';
import { Session } from './session.js';
import { SfuBridge } from './sfu/bridge.js';
import type { SfuOptions } from './sfu/bridge.js';
import { handleMediaHttp } from './sfu/http.js';

export { createRoomToken, verifyRoomToken } from './tokens.js';
export { turnCredentials } from './turn.js';
export type { TurnOptions } from './turn.js';
export type { RoomTokenClaims } from './tokens.js';
export type { IceServersProvider, JoinContext, SignalingServerOptions } from './options.js';
export type { LogEntry, LogLevel, Logger } from './log.js';
export type { JoinOutcome, LocalMember, MemberInfo, RoomStore, StoreEvents } from './rooms.js';
export { MemoryRoomStore } from './rooms.js';
export { RedisRoomStore } from './redis-store.js';
export type { RedisRoomStoreOptions } from './redis-store.js';
export type { RedisConnectionOptions, RedisNode, RedisTlsOptions } from './redis-client.js';
export type { ErrorCode, IceServer } from './protocol.js';
export { PROTOCOL_VERSION } from './protocol.js';
export type { JanusHealth } from './sfu/bridge.js';

/** A signaling server; create it with {@link createSignalingServer}. */
export interface SignalingServer {
  /** The HTTP server underneath, for attaching it to TLS termination or more routes. */
  readonly httpServer: Server;
  /**
   * Starts listening; resolves with the bound port (useful with port 0).
   * @param host - The address to bind, `'127.0.0.1'` when omitted, so that exposing the server
   * to a network is a deliberate choice.
   */
  listen(port: number, host?: string): Promise<{ port: number }>;
  /**
   * Stops accepting connections, tells every client with a `SHUTTING_DOWN` error frame, closes
   * their sockets with 1012 so they reconnect elsewhere, and resolves once all are gone.
   * Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Creates a signaling server. It does not listen until {@link SignalingServer.listen}.
 *
 * @example
 * ```ts
 * import { createSignalingServer } from 'peerkit/server';
 *
 * const server = createSignalingServer({
 *   origins: ['https://app.example'],
 *   iceServers: [{ urls: 'stun:stun.example:3478' }],
 * });
 * const { port } = await server.listen(8787);
 * process.on('SIGTERM', () => void server.close());
 * ```
 */
export function createSignalingServer(options: SignalingServerOptions = {}): SignalingServer {
  const resolved = resolveOptions(options);
  const metrics = new Metrics();
  const log = createLog(resolved.logger);
  const store: RoomStore =
    options.store ??
    (options.redis === undefined
      ? new MemoryRoomStore()
      : new RedisRoomStore({ ...(typeof options.redis === 'string' ? { url: options.redis } : options.redis), log, ...(options.redisPrefix === undefined ? {} : { prefix: options.redisPrefix }) }));
  const sessions = new Set<Session>();
  let shuttingDown = false;
  let closing: Promise<void> | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;

  const gauges = () => ({ connections: sessions.size, ...store.stats() });
  const bridge = options.janus === undefined || options.janus.length === 0 ? undefined : new SfuBridge(sfuOptions(options), log);
  const media = bridge === undefined ? undefined : { bridge, origins: resolved.origins, tokenSecret: resolved.tokenSecret, iceServers: resolved.iceServers };
  const health = () => {
    const janus = bridge?.health() ?? [];
    return { fields: bridge === undefined ? {} : { janus }, degraded: janus.some((instance) => !instance.up) };
  };
  const httpServer = createServer((req, res) => {
    if (media !== undefined && handleMediaHttp(media, req, res)) return;
    handleHttp({ isShuttingDown: () => shuttingDown, gauges, renderMetrics: () => metrics.render(gauges()), health }, req, res);
  });
  // Frames between maxFrameBytes and this get a FRAME_TOO_LARGE answer; past it, ws closes with 1009
  // before buffering more, which bounds memory per connection.
  const wss = new WebSocketServer({ noServer: true, maxPayload: resolved.maxFrameBytes * 4 });
  const context = { options: resolved, store, metrics, log, isShuttingDown: () => shuttingDown };

  const refuseUpgrade = (socket: Duplex, status: 403 | 503, reason: string, fields: Record<string, unknown>): void => {
    metrics.upgradesRefused += 1;
    log('warn', 'upgrade-refused', { reason, ...fields });
    const text = status === 403 ? 'Forbidden' : 'Service Unavailable';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };

  httpServer.on('upgrade', (req, socket, head) => {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    socket.on('error', () => socket.destroy());
    if (shuttingDown) {
      refuseUpgrade(socket, 503, 'shutting down', { remote });
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
  });

  return {
    httpServer,
    async listen(port, host = '127.0.0.1') {
      // Connected before listening, so no client is accepted that the store cannot serve.
      await store.open?.({
        reset: (reason) => {
          log('warn', 'store-reset', { reason, connections: sessions.size });
          for (const session of sessions) session.shutdown();
        },
      });
      // An unreachable Janus is logged here and retried; signaling works without it.
      await bridge?.start();
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const address = httpServer.address();
          const bound = typeof address === 'object' && address !== null ? address.port : port;
          sweepTimer = setInterval(() => {
            for (const session of sessions) session.sweep();
          }, resolved.pingIntervalMs);
          log('info', 'listening', { host, port: bound });
          resolve({ port: bound });
        });
      });
    },
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        clearInterval(sweepTimer);
        log('info', 'shutting-down', { connections: sessions.size });
        const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeIdleConnections();
        for (const session of sessions) session.shutdown();
        await waitUntil(() => sessions.size === 0, resolved.closeTimeoutMs);
        for (const session of sessions) session.terminate();
        httpServer.closeAllConnections();
        await stopped;
        wss.close();
        await bridge?.close();
        await store.close?.();
        log('info', 'closed');
      })();
      return closing;
    },
  };
}

function sfuOptions(options: SignalingServerOptions): SfuOptions {
  const sfu: SfuOptions = { janus: options.janus ?? [] };
  if (options.janusSecret !== undefined) sfu.janusSecret = options.janusSecret;
  if (options.janusAdminKey !== undefined) sfu.janusAdminKey = options.janusAdminKey;
  return sfu;
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}
