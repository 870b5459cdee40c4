import { PeerKitError } from '../../errors.js';
import { assertDurations } from './checks.js';

/** The part of the WHATWG `WebSocket` this transport uses; the `ws` package's class fits it. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed, as `WebSocket.readyState`. */
  readonly readyState: number;
  /** Called once the connection is open. */
  onopen: ((event: Event) => void) | null;
  /** Called with each text frame received. */
  onmessage: ((event: MessageEvent) => void) | null;
  /** Called once the connection has closed, with its close code. */
  onclose: ((event: CloseEvent) => void) | null;
  /** Called when the connection fails; a close follows. */
  onerror: ((event: Event) => void) | null;
  /** Sends one text frame. */
  send(data: string): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` constructor: the browser's, or one from a library such as `ws`. */
export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

/** Options for {@link WebSocketTransport}. */
export interface WebSocketTransportOptions {
  /**
   * Room token for servers that require one, or a function that returns a fresh one for each
   * (re)join, so a reconnect hours later does not present an expired token.
   * @default undefined
   */
  token?: string | ((room: string) => string | Promise<string>);
  /**
   * The `WebSocket` constructor to use; pass `ws`'s in Node.
   * @default globalThis.WebSocket
   */
  WebSocket?: WebSocketConstructorLike;
  /**
   * Upper bound of the first reconnect delay. Each delay is random between 0 and
   * `min(maxDelayMs, minDelayMs * 2 ** attempt)` ("full jitter"), so clients dropped together by
   * a server restart do not all come back at the same instant.
   * @default 500
   */
  minDelayMs?: number;
  /**
   * Largest reconnect delay.
   * @default 10000
   */
  maxDelayMs?: number;
  /**
   * Payloads kept while not joined. When the queue is full the newest payload is dropped and an
   * `error` event (`TRANSPORT_ERROR`) says so: the ones already queued, such as an offer, are
   * the ones the later ones depend on.
   * @default 256
   */
  maxQueue?: number;
  /**
   * Quiet time after which the transport sends an app-level `ping` (browsers cannot send
   * WebSocket pings).
   * @default 15000
   */
  heartbeatIntervalMs?: number;
  /**
   * How long to wait for any frame after a `ping` before the socket is taken for dead and replaced.
   * @default 10000
   */
  heartbeatTimeoutMs?: number;
}

/** The options with their defaults filled in. */
export type ResolvedWebSocketOptions = Required<Omit<WebSocketTransportOptions, 'token'>> & Pick<WebSocketTransportOptions, 'token'>;

/**
 * Fills in the defaults.
 * @throws PeerKitError `UNSUPPORTED` when no `WebSocket` exists, `BAD_ARGUMENT` for a negative option.
 */
export function resolveOptions(options: WebSocketTransportOptions): ResolvedWebSocketOptions {
  const WebSocketCtor = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructorLike | undefined);
  if (WebSocketCtor === undefined) {
    throw new PeerKitError('UNSUPPORTED', 'no global WebSocket here; pass options.WebSocket (e.g. from the ws package)');
  }
  const resolved: ResolvedWebSocketOptions = {
    WebSocket: WebSocketCtor,
    minDelayMs: options.minDelayMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 10_000,
    maxQueue: options.maxQueue ?? 256,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 15_000,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 10_000,
  };
  if (options.token !== undefined) resolved.token = options.token;
  assertDurations(resolved);
  return resolved;
}
