/** The signaling server mounted on an HTTP server the application already runs. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { createCore } from './core.js';
import { endpointOf, pathOf, serveEndpoint } from './http.js';
import type { SignalingServerOptions } from './options.js';

/** A Connect/Express-style middleware: answers the request or calls `next()`. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Options for {@link attach}: the server's options and where it is mounted. */
export interface AttachOptions extends Omit<SignalingServerOptions, 'metricsPort'> {
  /**
   * The path clients connect to (`wss://app.example/signal`); `<path>/healthz` and
   * `<path>/metrics` are served by {@link SignalingAttachment.middleware}. Upgrades to other paths
   * are left to the application's other `upgrade` listeners.
   * @default '/'
   */
  path?: string;
}

/** The signaling server inside an application's HTTP server; made by {@link attach}. */
export interface SignalingAttachment {
  /**
   * Serves `<path>/healthz` and `<path>/metrics` and passes every other request on: `app.use(
   * signaling.middleware)` in Express or Connect, or call it first in a plain request handler.
   */
  readonly middleware: Middleware;
  /** Resolves once the room store is connected; upgrades get 503 until then. */
  readonly ready: Promise<void>;
  /** As {@link SignalingServer.drain}, leaving the HTTP server itself running. */
  drain(ms?: number): Promise<void>;
  /** As {@link SignalingServer.close}, leaving the HTTP server itself running. Idempotent. */
  close(): Promise<void>;
}

/**
 * Mounts a signaling server on an existing HTTP(S) server at `path`: WebSocket upgrades to that
 * path become signaling connections, and {@link SignalingAttachment.middleware} serves health
 * and metrics next to the application's own routes.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createServer } from 'node:http';
 * import { attach } from 'peerkit-signal';
 *
 * const app = express();
 * const httpServer = createServer(app);
 * const signaling = attach(httpServer, { path: '/signal' });
 * app.use(signaling.middleware); // GET /signal/healthz, GET /signal/metrics
 * httpServer.listen(3000); // clients: new WebSocketTransport('wss://app.example/signal')
 * process.on('SIGTERM', () => void signaling.drain().then(() => httpServer.close()));
 * ```
 */
export function attach(httpServer: Server | HttpsServer, options: AttachOptions = {}): SignalingAttachment {
  const { path = '/', ...serverOptions } = options;
  if (!path.startsWith('/')) throw new TypeError(`attach: path must start with "/", got "${path}"`);
  const core = createCore(serverOptions);
  const ready = core.open();
  // Awaiting `ready` is optional; a failure also shows as 503s and in the log.
  ready.catch((error: unknown) => core.log('error', 'store-open-failed', { message: String(error) }));
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(req.url) === path) {
      core.upgrade(req, socket, head);
      return;
    }
    // Node destroys unclaimed upgrades only when nobody listens; here someone (this) always does.
    if (httpServer.listenerCount('upgrade') === 1) socket.destroy();
  };
  httpServer.on('upgrade', onUpgrade);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= core.close().finally(() => httpServer.off('upgrade', onUpgrade));
    return closing;
  };
  return {
    middleware(req, res, next) {
      // Express and Connect strip a mount path from `url` and keep the full one in `originalUrl`.
      const endpoint = endpointOf((req as { originalUrl?: string }).originalUrl ?? req.url, path);
      if (endpoint === undefined) next();
      else serveEndpoint(core.http, endpoint, req, res);
    },
    ready,
    async drain(ms) {
      await core.drain(ms);
      await close();
    },
    close,
  };
}
