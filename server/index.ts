/**
 * The peerkit signaling server: rooms of members that relay WebRTC signals to each other over
 * WebSocket, with health and metrics endpoints on the same port.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createCore } from './core.js';
import { handleHttp } from './http.js';
import { handleMediaHttp } from './sfu/http.js';
import type { SignalingServerOptions } from './options.js';

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
export { attach } from './attach.js';
export type { AttachOptions, Middleware, SignalingAttachment } from './attach.js';
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
  /**
   * Drains, then closes: from now on `/healthz` answers 503 and joins are refused with
   * `DRAINING` (clients join another instance), joined members keep relaying; after `ms`,
   * {@link close}. Resolves once closed. `peerkit-signal` calls it on SIGTERM and SIGINT.
   * @param ms - How long to drain.
   * @default options.drainMs (10000)
   */
  drain(ms?: number): Promise<void>;
}

/**
 * Creates a signaling server. It does not listen until {@link SignalingServer.listen}.
 *
 * @example
 * ```ts
 * import { createSignalingServer } from 'peerkit-signal';
 *
 * const server = createSignalingServer({
 *   origins: ['https://app.example'],
 *   iceServers: [{ urls: 'stun:stun.example:3478' }],
 * });
 * const { port } = await server.listen(8787);
 * process.on('SIGTERM', () => void server.drain());
 * ```
 */
export function createSignalingServer(options: SignalingServerOptions = {}): SignalingServer {
  const core = createCore(options);
  const { log } = core;
  const separateMetrics = options.metricsPort !== undefined;
  const mainHttp = separateMetrics ? { ...core.http, renderMetrics: undefined } : core.http;
  const { media } = core;
  const httpServer = createServer((req, res) => {
    if (media !== undefined && handleMediaHttp(media, req, res)) return;
    handleHttp(mainHttp, req, res);
  });
  const metricsServer = separateMetrics ? createServer((req, res) => handleHttp(core.http, req, res)) : undefined;
  httpServer.on('upgrade', (req, socket, head) => core.upgrade(req, socket, head));
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await core.close(() => httpServer.closeIdleConnections());
      httpServer.closeAllConnections();
      await stopped;
      if (metricsServer !== undefined) await new Promise<void>((resolve) => metricsServer.close(() => resolve()).closeAllConnections());
    })();
    return closing;
  };

  return {
    httpServer,
    async listen(port, host = '127.0.0.1') {
      await core.open();
      const bound = await listenOn(httpServer, port, host);
      if (metricsServer !== undefined) {
        const metricsPort = await listenOn(metricsServer, options.metricsPort ?? 0, host);
        log('info', 'metrics-listening', { host, port: metricsPort });
      }
      log('info', 'listening', { host, port: bound });
      return { port: bound };
    },
    close,
    async drain(ms) {
      await core.drain(ms);
      await close();
    },
  };
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
