import { PeerKitError } from '../../errors.js';
import { randomHex } from '../../util.js';
import { BaseTransport } from './base.js';
import { assertDurations } from './checks.js';
import type { JoinOptions } from '../transport.js';

/** Options for {@link BroadcastChannelTransport}. */
export interface BroadcastChannelTransportOptions {
  /**
   * How long `join()` listens for members already present before it resolves, in ms. Members
   * that answer later still arrive, as `member-joined`.
   * @default 150
   */
  discoveryMs?: number;
  /**
   * Interval of the presence beat each member sends, in ms.
   * @default 1000
   */
  heartbeatMs?: number;
  /**
   * Silence after which a member is taken for gone (a crashed or frozen tab; a closed tab says
   * goodbye at once), in ms.
   * @default 4000
   */
  timeoutMs?: number;
  /**
   * Prefix of the BroadcastChannel name; the room name follows it.
   * @default 'peerkit/'
   */
  prefix?: string;
}

/** What members say on the channel. `to` is absent on what is for everyone. */
type Wire =
  | { t: 'hi' | 'here'; from: string; to?: string; hello?: unknown }
  | { t: 'beat' | 'bye'; from: string }
  | { t: 'msg'; from: string; to: string; payload: unknown };

function parseWire(data: unknown): Wire | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { t, from, to } = data as Record<string, unknown>;
  if (typeof from !== 'string' || (to !== undefined && typeof to !== 'string')) return undefined;
  if (t === 'msg') return typeof to === 'string' && 'payload' in data ? (data as Wire) : undefined;
  return t === 'hi' || t === 'here' || t === 'beat' || t === 'bye' ? (data as Wire) : undefined;
}

/**
 * A `SignalingTransport` between tabs, windows and workers of one origin, with no server:
 * members find each other over a `BroadcastChannel`, keep presence with a heartbeat, and say
 * goodbye when a tab closes. Member ids are random, since nobody is there to assign them.
 *
 * @example
 * ```ts
 * const room = await Room.join('lobby', { transport: new BroadcastChannelTransport() });
 * // open the same page in a second tab: the two connect
 * ```
 */
export class BroadcastChannelTransport extends BaseTransport {
  readonly #options: Required<BroadcastChannelTransportOptions>;
  #channel: BroadcastChannel | undefined;
  #selfId = '';
  #hello: unknown;
  /** When each known member was last heard, by id. */
  readonly #lastHeard = new Map<string, number>();
  #beatTimer: ReturnType<typeof setInterval> | undefined;
  readonly #onPageHide = (): void => void this.close();

  /**
   * @throws PeerKitError `UNSUPPORTED` where `BroadcastChannel` does not exist, `BAD_ARGUMENT`
   * for a negative option.
   */
  constructor(options: BroadcastChannelTransportOptions = {}) {
    super();
    if (typeof BroadcastChannel === 'undefined') {
      throw new PeerKitError('UNSUPPORTED', 'BroadcastChannel does not exist here');
    }
    this.#options = {
      discoveryMs: options.discoveryMs ?? 150,
      heartbeatMs: options.heartbeatMs ?? 1000,
      timeoutMs: options.timeoutMs ?? 4000,
      prefix: options.prefix ?? 'peerkit/',
    };
    assertDurations(this.#options);
  }

  /** Announces this member on the room's channel and collects the answers of those present. */
  protected override enter(room: string, options: JoinOptions): void {
    this.#selfId = randomHex(8);
    this.#hello = options.hello;
    const channel = new BroadcastChannel(this.#options.prefix + room);
    this.#channel = channel;
    const hellos: Record<string, unknown> = {};
    // While discovering, arrivals go into the result and the rest waits; from join()'s
    // resolution until the caller's continuation has run, everything waits, in order.
    let early: Wire[] | undefined = [];
    let discovering = true;
    channel.onmessage = (event: MessageEvent) => {
      const wire = parseWire(event.data);
      if (wire === undefined || wire.from === this.#selfId || ('to' in wire && wire.to !== undefined && wire.to !== this.#selfId)) return;
      if (early === undefined) this.#receive(wire);
      else if (discovering && (wire.t === 'hi' || wire.t === 'here') && !this.#lastHeard.has(wire.from)) {
        this.#lastHeard.set(wire.from, Date.now());
        if (wire.hello !== undefined) hellos[wire.from] = wire.hello;
        if (wire.t === 'hi') this.#post({ t: 'here', from: this.#selfId, to: wire.from, hello: this.#hello });
      } else early.push(wire);
    };
    try {
      this.#post({ t: 'hi', from: this.#selfId, hello: this.#hello });
    } catch (cause) {
      this.shutdown(new PeerKitError('BAD_ARGUMENT', 'hello must be structured-cloneable', { cause }));
      return;
    }
    globalThis.addEventListener?.('pagehide', this.#onPageHide);
    this.#beatTimer = setInterval(() => this.#beat(), this.#options.heartbeatMs);
    setTimeout(() => {
      if (this.state === 'closed') return;
      discovering = false;
      this.joined({ selfId: this.#selfId, members: [...this.#lastHeard.keys()], hellos });
      setTimeout(() => {
        const waiting = early ?? [];
        early = undefined;
        if (this.state === 'joined') for (const wire of waiting) this.#receive(wire);
      }, 0);
    }, this.#options.discoveryMs);
  }

  /** Posts `payload` to member `to`; one that cannot be cloned throws `BAD_ARGUMENT`. */
  protected override carry(to: string, payload: unknown): void {
    try {
      this.#post({ t: 'msg', from: this.#selfId, to, payload });
    } catch (cause) {
      throw new PeerKitError('BAD_ARGUMENT', 'payload must be structured-cloneable', { cause });
    }
  }

  /** Says goodbye to the others and closes the channel. */
  protected override release(): void {
    if (this.#channel !== undefined) this.#post({ t: 'bye', from: this.#selfId });
    clearInterval(this.#beatTimer);
    globalThis.removeEventListener?.('pagehide', this.#onPageHide);
    this.#channel?.close();
    this.#channel = undefined;
    this.#lastHeard.clear();
  }

  #receive(wire: Wire): void {
    const known = this.#lastHeard.has(wire.from);
    if (wire.t === 'bye') {
      if (known) this.#gone(wire.from);
      return;
    }
    this.#lastHeard.set(wire.from, Date.now());
    if (wire.t === 'hi') this.#post({ t: 'here', from: this.#selfId, to: wire.from, hello: this.#hello });
    if (!known) this.emit('member-joined', wire.from, wire.t === 'hi' || wire.t === 'here' ? wire.hello : undefined);
    if (wire.t === 'msg') this.emit('message', wire.from, wire.payload);
  }

  #beat(): void {
    this.#post({ t: 'beat', from: this.#selfId });
    const deadline = Date.now() - this.#options.timeoutMs;
    for (const [id, heard] of this.#lastHeard) if (heard < deadline) this.#gone(id);
  }

  #gone(id: string): void {
    this.#lastHeard.delete(id);
    this.emit('member-left', id);
  }

  #post(wire: Wire): void {
    this.#channel?.postMessage(wire);
  }
}
