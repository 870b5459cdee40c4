import { EventEmitter } from 'eventemitter3';
import { PeerKitError } from '../../errors.js';
import { assertDurations, assertSendable, joinRefusal } from './checks.js';
import type { PeerKitErrorCode } from '../../errors.js';
import type { JoinOptions, JoinResult, SignalingTransport, TransportEvents, TransportState } from '../transport.js';

/** The part of the WHATWG `WebSocket` this transport uses; the `ws` package's class fits it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
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

type ServerFrame =
  | { type: 'joined'; id: string; members: string[]; iceServers: RTCIceServer[]; hellos: Record<string, unknown> }
  | { type: 'member-joined'; id: string; hello: unknown }
  | { type: 'member-left'; id: string }
  | { type: 'signal'; from: string; payload: unknown }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string; re?: string; to?: string };

const OPEN = 1;
const PROTOCOL_VERSION = 1;

const isString = (value: unknown): value is string => typeof value === 'string';
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

const isIceServer = (value: unknown): boolean => {
  const urls = typeof value === 'object' && value !== null ? (value as RTCIceServer).urls : undefined;
  return isString(urls) || isStringArray(urls);
};

/** Reads a server frame: `null` when malformed, `undefined` for a type from a newer server. */
function parseServerFrame(text: unknown): ServerFrame | null | undefined {
  let f: unknown;
  try {
    f = isString(text) ? JSON.parse(text) : null;
  } catch {
    return null;
  }
  if (typeof f !== 'object' || f === null || Array.isArray(f) || !('v' in f) || f.v !== PROTOCOL_VERSION) return null;
  const { type, id, members, iceServers = [], hellos = {}, hello, from, code, message, re, to } = f as Record<string, unknown>;
  switch (type) {
    case 'joined':
      return isString(id) &&
        isStringArray(members) &&
        Array.isArray(iceServers) &&
        iceServers.every(isIceServer) &&
        typeof hellos === 'object' &&
        hellos !== null &&
        !Array.isArray(hellos)
        ? { type, id, members, iceServers: iceServers as RTCIceServer[], hellos: hellos as Record<string, unknown> }
        : null;
    case 'member-joined':
      return isString(id) ? { type, id, hello } : null;
    case 'member-left':
      return isString(id) ? { type, id } : null;
    case 'signal':
      return isString(from) && 'payload' in f ? { type, from, payload: f.payload } : null;
    case 'pong':
      return { type };
    case 'error':
      if (!isString(code) || !isString(message)) return null;
      return { type, code, message, ...(isString(re) && { re }), ...(isString(to) && { to }) };
    default:
      return isString(type) ? undefined : null;
  }
}

const MAPPED = new Map<string, PeerKitErrorCode>([
  ['ROOM_FULL', 'ROOM_FULL'],
  ['UNAUTHORIZED', 'UNAUTHORIZED'],
  ['RATE_LIMITED', 'RATE_LIMITED'],
  ['FRAME_TOO_LARGE', 'MESSAGE_TOO_LARGE'],
]);

/**
 * A {@link SignalingTransport} over WebSocket to a peerkit signaling server (`peerkit-signal`).
 * It reconnects with backoff after an unexpected close, fails over between several URLs in
 * order, re-joins its room with a new member id, and queues payloads while offline.
 *
 * @example
 * ```ts
 * import { WebSocketTransport } from 'peerkit/websocket';
 *
 * const transport = new WebSocketTransport(['wss://signal-1.example', 'wss://signal-2.example'], {
 *   token: () => fetch('/room-token?room=lobby').then((r) => r.text()),
 * });
 * transport.on('message', (from, payload) => console.log(from, payload));
 * const { selfId, members } = await transport.join('lobby');
 * ```
 */
export class WebSocketTransport extends EventEmitter<TransportEvents> implements SignalingTransport {
  readonly #urls: string[];
  readonly #options: Required<Omit<WebSocketTransportOptions, 'token'>> & Pick<WebSocketTransportOptions, 'token'>;
  #state: TransportState = 'idle';
  #room = '';
  #hello: unknown;
  #socket: WebSocketLike | undefined;
  /** Connection attempts since the last successful join; picks the URL and the delay. */
  #attempt = 0;
  #everJoined = false;
  #pendingJoin: { resolve: (result: JoinResult) => void; reject: (error: PeerKitError) => void } | undefined;
  #queue: { to: string; text: string }[] = [];
  /** Who is in the room, as far as the server has told. */
  #members = new Set<string>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #beatTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param url - The server's `ws:`/`wss:` URL, or several to try in order.
   * @throws PeerKitError `BAD_ARGUMENT` without a URL or with a negative option, `UNSUPPORTED` when
   * no `WebSocket` exists.
   */
  constructor(url: string | string[], options: WebSocketTransportOptions = {}) {
    super();
    this.#urls = Array.isArray(url) ? [...url] : [url];
    if (this.#urls.length === 0 || !this.#urls.every((u) => isString(u) && u.length > 0)) {
      throw new PeerKitError('BAD_ARGUMENT', 'WebSocketTransport needs at least one server URL');
    }
    const WebSocketCtor = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructorLike | undefined);
    if (WebSocketCtor === undefined) {
      throw new PeerKitError('UNSUPPORTED', 'no global WebSocket here; pass options.WebSocket (e.g. from the ws package)');
    }
    this.#options = {
      WebSocket: WebSocketCtor,
      minDelayMs: options.minDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      maxQueue: options.maxQueue ?? 256,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 15_000,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 10_000,
    };
    if (options.token !== undefined) this.#options.token = options.token;
    assertDurations(this.#options);
  }

  /** The current state. */
  get state(): TransportState {
    return this.#state;
  }

  /**
   * Connects and joins `room`, trying each URL once in order. Rejects with the server's refusal
   * (`ROOM_FULL`, `UNAUTHORIZED`, `RATE_LIMITED`, `TRANSPORT_ERROR`), or `TRANSPORT_ERROR` when no
   * server could be reached; the transport is closed then.
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinResult> {
    const refused = joinRefusal(this.#state, room);
    if (refused !== undefined) return Promise.reject(refused);
    this.#room = room;
    this.#hello = options.hello;
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      this.#pendingJoin = { resolve, reject };
      this.#connect();
    });
  }

  /**
   * Sends `payload` to member `to`; queued while not joined. After a re-join, queued payloads
   * for members still present are sent, the rest are dropped (their recipients are gone).
   * @throws PeerKitError `CLOSED` after `close()`, `BAD_ARGUMENT` for a payload JSON cannot carry.
   */
  send(to: string, payload: unknown): void {
    assertSendable(this.#state, to, payload);
    let text: string;
    try {
      text = JSON.stringify({ v: PROTOCOL_VERSION, type: 'signal', to, payload });
    } catch (cause) {
      throw new PeerKitError('BAD_ARGUMENT', 'payload must be JSON-serialisable', { cause });
    }
    if (this.#state === 'joined' && this.#socket?.readyState === OPEN) {
      this.#socket.send(text);
    } else if (this.#queue.length < this.#options.maxQueue) {
      this.#queue.push({ to, text });
    } else {
      const message = `offline queue full (${this.#options.maxQueue}); payload dropped`;
      this.emit('error', new PeerKitError('TRANSPORT_ERROR', message));
    }
  }

  /** Leaves the room and closes the socket; no reconnect follows. Idempotent. */
  close(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    const socket = this.#socket;
    if (socket !== undefined && this.#state === 'joined' && socket.readyState === OPEN) {
      socket.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'leave' }));
    }
    this.#shutdown(new PeerKitError('CLOSED', 'the transport was closed before joining'));
    return Promise.resolve();
  }

  #setState(next: TransportState): void {
    if (next === this.#state) return;
    this.#state = next;
    this.emit('state', next);
  }

  #connect(): void {
    const url = this.#urls[this.#attempt % this.#urls.length] ?? '';
    this.#attempt += 1;
    let socket: WebSocketLike;
    try {
      socket = new this.#options.WebSocket(url);
    } catch (cause) {
      // A malformed URL throws synchronously; treat it as one more unreachable server.
      queueMicrotask(() => this.#lost(undefined, cause));
      return;
    }
    this.#socket = socket;
    socket.onopen = () => void this.#sendJoin(socket);
    socket.onmessage = (event) => this.#receive(socket, event.data);
    socket.onclose = (event) => this.#lost(socket, `closed with code ${event.code}`);
    // Every error is followed by a close event, which is where the loss is handled.
    socket.onerror = () => {};
  }

  async #sendJoin(socket: WebSocketLike): Promise<void> {
    this.#heard();
    let token: string | undefined;
    const source = this.#options.token;
    try {
      token = typeof source === 'function' ? await source(this.#room) : source;
    } catch (cause) {
      this.#refused(new PeerKitError('UNAUTHORIZED', 'the token function failed', { cause }));
      return;
    }
    if (socket !== this.#socket || socket.readyState !== OPEN) return;
    socket.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'join', room: this.#room, token, hello: this.#hello }));
  }

  #receive(socket: WebSocketLike, data: unknown): void {
    if (socket !== this.#socket) return;
    this.#heard();
    const frame = parseServerFrame(data);
    if (frame === undefined) return;
    if (frame === null) {
      this.emit('error', new PeerKitError('BAD_MESSAGE', 'the signaling server sent a malformed frame', { cause: data }));
      return;
    }
    switch (frame.type) {
      case 'joined':
        return this.#joined(socket, frame);
      case 'member-joined':
        this.#members.add(frame.id);
        this.emit('member-joined', frame.id, frame.hello);
        return;
      case 'member-left':
        this.#members.delete(frame.id);
        this.emit('member-left', frame.id);
        return;
      case 'signal':
        this.emit('message', frame.from, frame.payload);
        return;
      case 'pong':
        return;
      case 'error': {
        // The server closes with 1012 right after; reconnecting handles it.
        if (frame.code === 'SHUTTING_DOWN') return;
        // The recipient left while the payload was under way; its member-left says so.
        if (frame.code === 'NO_SUCH_MEMBER' && frame.to !== undefined && !this.#members.has(frame.to)) return;
        const code = MAPPED.get(frame.code) ?? 'TRANSPORT_ERROR';
        const error = new PeerKitError(code, `signaling server: ${frame.code}: ${frame.message}`, { cause: frame });
        if (frame.re === 'join') this.#refused(error);
        else this.emit('error', error);
      }
    }
  }

  #joined(socket: WebSocketLike, frame: Extract<ServerFrame, { type: 'joined' }>): void {
    this.#attempt = 0;
    this.#everJoined = true;
    const present = new Set(frame.members);
    this.#members = present;
    // Flushed before `joined` is emitted, so nothing a listener sends in response overtakes them.
    for (const { to, text } of this.#queue) if (present.has(to)) socket.send(text);
    this.#queue = [];
    this.#setState('joined');
    const result: JoinResult = { selfId: frame.id, members: frame.members, iceServers: frame.iceServers, hellos: frame.hellos };
    this.#pendingJoin?.resolve(result);
    this.#pendingJoin = undefined;
    this.emit('joined', result);
  }

  /** The server refused the join: retrying would be refused again, so the transport closes. */
  #refused(error: PeerKitError): void {
    if (this.#pendingJoin === undefined) this.emit('error', error);
    this.#shutdown(error);
  }

  #lost(socket: WebSocketLike | undefined, cause: unknown): void {
    if (socket !== this.#socket || this.#state === 'closed') return;
    this.#drop();
    if (!this.#everJoined) {
      if (this.#attempt < this.#urls.length) {
        this.#connect();
        return;
      }
      const message = `could not reach a signaling server (${this.#urls.join(', ')})`;
      this.#shutdown(new PeerKitError('TRANSPORT_ERROR', message, { cause }));
      return;
    }
    this.#setState('reconnecting');
    const ceiling = Math.min(this.#options.maxDelayMs, this.#options.minDelayMs * 2 ** this.#attempt);
    this.#retryTimer = setTimeout(() => this.#connect(), Math.random() * ceiling);
  }

  /** Restarts the heartbeat: any frame from the server proves the socket alive. */
  #heard(): void {
    clearTimeout(this.#beatTimer);
    const socket = this.#socket;
    this.#beatTimer = setTimeout(() => {
      if (socket?.readyState === OPEN) socket.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'ping' }));
      this.#beatTimer = setTimeout(() => this.#lost(socket, 'heartbeat timeout'), this.#options.heartbeatTimeoutMs);
    }, this.#options.heartbeatIntervalMs);
  }

  /** Detaches and closes the current socket; its late events must not touch the transport. */
  #drop(): void {
    clearTimeout(this.#beatTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    // onerror stays set: `ws` throws on an error event that has no listener.
    socket.onopen = socket.onmessage = socket.onclose = null;
    // 4000: an application close code; browsers refuse 1001-2999 from scripts.
    socket.close(this.#state === 'closed' ? 1000 : 4000);
  }

  #shutdown(reason: PeerKitError): void {
    clearTimeout(this.#retryTimer);
    this.#setState('closed');
    this.#drop();
    this.#queue = [];
    this.#pendingJoin?.reject(reason);
    this.#pendingJoin = undefined;
  }
}
