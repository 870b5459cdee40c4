import { PeerKitError } from '../../errors.js';
import { ProtocolError, encodeFrame, parseServerFrame } from '../protocol.js';
import { BaseTransport } from './base.js';
import { Failover } from './failover.js';
import { resolveOptions } from './websocket-options.js';
import type { PeerKitErrorCode } from '../../errors.js';
import type { ClientFrame, ServerFrame, SfuInfo } from '../protocol.js';
import type { JoinOptions, JoinResult, TransportState } from '../transport.js';
import type { ResolvedWebSocketOptions, WebSocketLike, WebSocketTransportOptions } from './websocket-options.js';

export type { WebSocketConstructorLike, WebSocketLike, WebSocketTransportOptions } from './websocket-options.js';

const OPEN = 1;

/** Server refusals that have a code of their own; any other becomes `TRANSPORT_ERROR`. */
const MAPPED = new Map<string, PeerKitErrorCode>([
  ['ROOM_FULL', 'ROOM_FULL'],
  ['UNAUTHORIZED', 'UNAUTHORIZED'],
  ['RATE_LIMITED', 'RATE_LIMITED'],
  ['FRAME_TOO_LARGE', 'MESSAGE_TOO_LARGE'],
]);

/**
 * A `SignalingTransport` over WebSocket to a peerkit signaling server (`peerkit-signal`).
 * It reconnects with backoff after an unexpected close, fails over between several URLs in
 * order, re-joins its room with a new member id, and queues payloads while offline. A server
 * that is draining or restarting (`DRAINING`, `SHUTTING_DOWN`) is left at once for the next URL,
 * without backoff; a Room on top keeps its Peers, as only signaling moves.
 *
 * `join()` tries each URL once in order. It rejects with the server's refusal (`ROOM_FULL`,
 * `UNAUTHORIZED`, `RATE_LIMITED`, `TRANSPORT_ERROR`), or `TRANSPORT_ERROR` when no server could
 * be reached; the transport is closed then. `send()` queues payloads while not joined; after a
 * re-join, those for members still present are sent and the rest dropped (their recipients are
 * gone).
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
export class WebSocketTransport extends BaseTransport {
  readonly #urls: string[];
  readonly #options: ResolvedWebSocketOptions;
  readonly #failover: Failover;
  #room = '';
  #hello: unknown;
  #socket: WebSocketLike | undefined;
  /** The URL of the current socket: the SFU endpoints the server gives are relative to it. */
  #url = '';
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
    if (this.#urls.length === 0 || !this.#urls.every((u) => typeof u === 'string' && u.length > 0)) {
      throw new PeerKitError('BAD_ARGUMENT', 'WebSocketTransport needs at least one server URL');
    }
    this.#options = resolveOptions(options);
    this.#failover = new Failover(this.#urls, this.#options.minDelayMs, this.#options.maxDelayMs);
  }

  /** Connects to the first URL; the socket's `open` sends the join. */
  protected override enter(room: string, options: JoinOptions): void {
    this.#room = room;
    this.#hello = options.hello;
    this.#connect();
  }

  /** Sends `payload` now, or queues it while not joined; one JSON cannot carry throws `BAD_ARGUMENT`. */
  protected override carry(to: string, payload: unknown): void {
    let text: string;
    try {
      text = encodeFrame({ type: 'signal', to, payload });
    } catch (cause) {
      throw new PeerKitError('BAD_ARGUMENT', 'payload must be JSON-serialisable', { cause });
    }
    if (this.state === 'joined' && this.#socket?.readyState === OPEN) {
      this.#socket.send(text);
    } else if (this.#queue.length < this.#options.maxQueue) {
      this.#queue.push({ to, text });
    } else {
      const message = `offline queue full (${this.#options.maxQueue}); payload dropped`;
      this.emit('error', new PeerKitError('TRANSPORT_ERROR', message));
    }
  }

  /** Leaves the room and closes the socket; no reconnect follows. */
  protected override release(from: TransportState): void {
    const socket = this.#socket;
    if (socket !== undefined && from === 'joined' && socket.readyState === OPEN) socket.send(encodeFrame({ type: 'leave' }));
    clearTimeout(this.#retryTimer);
    this.#drop();
    this.#queue = [];
  }

  #connect(): void {
    const url = this.#failover.nextUrl();
    let socket: WebSocketLike;
    try {
      socket = new this.#options.WebSocket(url);
    } catch (cause) {
      // A malformed URL throws synchronously; treat it as one more unreachable server.
      queueMicrotask(() => this.#lost(undefined, cause));
      return;
    }
    this.#socket = socket;
    this.#url = url;
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
      // The server would refuse the join without it, and again on every retry.
      this.fail(new PeerKitError('UNAUTHORIZED', 'the token function failed', { cause }));
      return;
    }
    if (socket !== this.#socket || socket.readyState !== OPEN) return;
    const join: ClientFrame = { type: 'join', room: this.#room };
    if (token !== undefined) join.token = token;
    if (this.#hello !== undefined) join.hello = this.#hello;
    socket.send(encodeFrame(join));
  }

  #receive(socket: WebSocketLike, data: unknown): void {
    if (socket !== this.#socket) return;
    this.#heard();
    const frame = parseServerFrame(data);
    if (frame instanceof ProtocolError) {
      // A frame type from a newer server: ignored, as the protocol says.
      if (frame.code === 'UNKNOWN_TYPE') return;
      this.emit('error', new PeerKitError('BAD_MESSAGE', `the signaling server sent a malformed frame: ${frame.message}`, { cause: data }));
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
      case 'error':
        return this.#refused(frame);
    }
  }

  #joined(socket: WebSocketLike, frame: Extract<ServerFrame, { type: 'joined' }>): void {
    this.#failover.joined();
    const present = new Set(frame.members);
    this.#members = present;
    // Flushed before `joined` is emitted, so nothing a listener sends in response overtakes them.
    for (const { to, text } of this.#queue) if (present.has(to)) socket.send(text);
    this.#queue = [];
    const result: JoinResult = { selfId: frame.id, members: frame.members, iceServers: frame.iceServers, hellos: frame.hellos ?? {} };
    if (frame.sfu !== undefined) result.sfu = sfuUrls(frame.sfu, this.#url);
    this.joined(result);
  }

  #refused(frame: Extract<ServerFrame, { type: 'error' }>): void {
    // The server is going away (SHUTTING_DOWN comes before its 1012 close, DRAINING refuses a
    // join): no need to wait for its close, the next connection goes to another URL at once.
    if (frame.code === 'SHUTTING_DOWN' || frame.code === 'DRAINING') {
      return this.#lost(this.#socket, frame, true);
    }
    // The recipient left while the payload was under way; its member-left says so.
    if (frame.code === 'NO_SUCH_MEMBER' && frame.to !== undefined && !this.#members.has(frame.to)) return;
    const code = MAPPED.get(frame.code) ?? 'TRANSPORT_ERROR';
    const error = new PeerKitError(code, `signaling server: ${frame.code}: ${frame.message}`, { cause: frame });
    // A refused join would be refused again on every retry, so the transport closes.
    if (frame.re === 'join') this.fail(error);
    else this.emit('error', error);
  }

  #lost(socket: WebSocketLike | undefined, cause: unknown, leaving?: boolean): void {
    if (socket !== this.#socket || this.state === 'closed') return;
    this.#drop();
    const next = this.#failover.afterLoss(leaving);
    if (next.kind === 'now') return this.#connect();
    if (next.kind === 'give-up') {
      const message = `could not reach a signaling server (${this.#urls.join(', ')})`;
      return this.fail(new PeerKitError('TRANSPORT_ERROR', message, { cause }));
    }
    this.setState('reconnecting');
    this.#retryTimer = setTimeout(() => this.#connect(), next.delayMs);
  }

  /** Restarts the heartbeat: any frame from the server proves the socket alive. */
  #heard(): void {
    clearTimeout(this.#beatTimer);
    const socket = this.#socket;
    this.#beatTimer = setTimeout(() => {
      if (socket?.readyState === OPEN) socket.send(encodeFrame({ type: 'ping' }));
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
    socket.close(this.state === 'closed' ? 1000 : 4000);
  }
}

/** The SFU endpoints of a `joined`, resolved against the server's HTTP origin (its WebSocket URL, `ws` read as `http`). */
function sfuUrls(sfu: SfuInfo, socketUrl: string): NonNullable<JoinResult['sfu']> {
  const base = socketUrl.replace(/^ws/i, 'http');
  const resolved: NonNullable<JoinResult['sfu']> = { whip: new URL(sfu.whip, base).href, whep: new URL(sfu.whep, base).href };
  if (sfu.token !== undefined) resolved.token = sfu.token;
  return resolved;
}
