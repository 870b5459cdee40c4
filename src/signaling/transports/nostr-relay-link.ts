/**
 * One Nostr relay as {@link NostrTransport} sees it: a WebSocket that comes back with backoff,
 * and the relay's NIP-01 answers (EVENT, EOSE, OK, CLOSED, NOTICE) and NIP-42 AUTH challenges
 * handed up as callbacks. It decides nothing about a room. Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */
import { backoffDelay } from '../../util.js';

/** What a relay link tells its owner. */
export interface RelayLinkHandlers {
  /** The socket opened (first time or again): subscribe now. */
  open(link: RelayLink): void;
  /** The socket closed or could not open; it retries by itself unless closed for good. */
  down(link: RelayLink, cause: string): void;
  event(link: RelayLink, subscription: string, event: unknown): void;
  eose(link: RelayLink, subscription: string): void;
  ok(link: RelayLink, id: string, accepted: boolean, reason: string): void;
  closed(link: RelayLink, subscription: string, reason: string): void;
  notice(link: RelayLink, text: string): void;
  auth(link: RelayLink, challenge: string): void;
}

const OPEN = 1;

/** A relay's WebSocket and its retries. */
export class RelayLink {
  #socket: WebSocket | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;

  constructor(
    readonly url: string,
    private readonly handlers: RelayLinkHandlers,
    private readonly delays: { minDelayMs: number; maxDelayMs: number },
  ) {}

  /** Whether frames can be sent now. */
  get open(): boolean {
    return this.#socket?.readyState === OPEN;
  }

  connect(): void {
    if (this.#ended) return;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch (cause) {
      // A malformed URL throws at once; it is one more relay that is down.
      queueMicrotask(() => this.#lost(undefined, String(cause)));
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#attempt = 0;
      this.handlers.open(this);
    };
    socket.onmessage = (message: MessageEvent) => this.#receive(message.data);
    socket.onclose = (event) => this.#lost(socket, `closed with code ${event.code}`);
    // Every error is followed by a close event, which is where the loss is handled.
    socket.onerror = () => {};
  }

  /** Sends one NIP-01 frame; false when the socket is not open. */
  send(frame: unknown[]): boolean {
    if (!this.open) return false;
    this.#socket?.send(JSON.stringify(frame));
    return true;
  }

  /** Closes the socket; no retry follows. */
  end(): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close(1000);
  }

  #receive(data: unknown): void {
    let frame: unknown;
    try {
      frame = typeof data === 'string' ? JSON.parse(data) : undefined;
    } catch {
      return;
    }
    if (!Array.isArray(frame)) return;
    const [type, a, b, c] = frame as unknown[];
    const text = (value: unknown): string => (typeof value === 'string' ? value : '');
    if (type === 'EVENT' && typeof a === 'string') this.handlers.event(this, a, b);
    else if (type === 'EOSE' && typeof a === 'string') this.handlers.eose(this, a);
    else if (type === 'OK' && typeof a === 'string' && typeof b === 'boolean') this.handlers.ok(this, a, b, text(c));
    else if (type === 'CLOSED' && typeof a === 'string') this.handlers.closed(this, a, text(b));
    else if (type === 'NOTICE') this.handlers.notice(this, text(a));
    else if (type === 'AUTH' && typeof a === 'string') this.handlers.auth(this, a);
  }

  #lost(socket: WebSocket | undefined, cause: string): void {
    if (socket !== this.#socket || this.#ended) return;
    this.#socket = undefined;
    this.handlers.down(this, cause);
    this.#timer = setTimeout(() => this.connect(), backoffDelay(this.#attempt++, this.delays.minDelayMs, this.delays.maxDelayMs));
  }
}
