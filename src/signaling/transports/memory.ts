import { PeerKitError } from '../../errors.js';
import { BaseTransport } from './base.js';
import type { JoinOptions, JoinResult, TransportState } from '../transport.js';

/** Options for {@link MemoryHub}. */
export interface MemoryHubOptions {
  /**
   * Delay of every delivery, in ms. Deliveries stay in order whatever the delay; 0 still
   * delivers asynchronously, as any real transport would.
   * @default 0
   */
  latencyMs?: number;
}

interface Member {
  readonly id: string;
  readonly hello: unknown;
  readonly transport: MemoryTransport;
  /** Hands the member an event; the hub decides when. */
  readonly receive: (deliver: () => void) => void;
}

/**
 * The meeting place of {@link MemoryTransport}s in one JavaScript realm: transports made with
 * the same hub see each other, transports of different hubs never do.
 */
export class MemoryHub {
  readonly #latencyMs: number;
  readonly #rooms = new Map<string, Map<string, Member>>();
  #nextId = 1;

  /** @throws PeerKitError `BAD_ARGUMENT` for a negative latency. */
  constructor(options: MemoryHubOptions = {}) {
    const latencyMs = options.latencyMs ?? 0;
    if (!(latencyMs >= 0 && latencyMs < Infinity)) {
      throw new PeerKitError('BAD_ARGUMENT', `latencyMs must be a non-negative number, got ${latencyMs}`);
    }
    this.#latencyMs = latencyMs;
  }

  /** @internal Adds a member and tells the others; returns what it joined into. */
  enter(room: string, transport: MemoryTransport, hello: unknown, receive: Member['receive']): JoinResult {
    const members = this.#rooms.get(room) ?? new Map<string, Member>();
    this.#rooms.set(room, members);
    const id = `m${this.#nextId++}`;
    const hellos: Record<string, unknown> = {};
    for (const other of members.values()) {
      if (other.hello !== undefined) hellos[other.id] = copy(other.hello);
      const announced = copy(hello);
      other.receive(() => other.transport.emit('member-joined', id, announced));
    }
    const result: JoinResult = { selfId: id, members: [...members.keys()], hellos };
    members.set(id, { id, hello, transport, receive });
    return result;
  }

  /** @internal Removes a member and tells the others. */
  exit(room: string, id: string): void {
    const members = this.#rooms.get(room);
    if (members?.delete(id) !== true) return;
    if (members.size === 0) this.#rooms.delete(room);
    for (const other of members.values()) other.receive(() => other.transport.emit('member-left', id));
  }

  /** @internal Carries a payload to a member of the room, if it is there. */
  relay(room: string, from: string, to: string, payload: unknown): void {
    const target = this.#rooms.get(room)?.get(to);
    target?.receive(() => target.transport.emit('message', from, payload));
  }

  /** @internal Runs `deliver` later, in the order of the calls. */
  schedule(deliver: () => void): void {
    // Timers of equal delay fire in the order they were set, so one delay keeps every delivery in order.
    setTimeout(deliver, this.#latencyMs);
  }
}

/** A JSON round trip: what every real transport does to a payload, so tests see the same. */
function copy(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/**
 * A `SignalingTransport` inside one page, for tests and demos: transports sharing a
 * {@link MemoryHub} form rooms with no network at all. Payloads go through a JSON round trip
 * and arrive asynchronously and in order, as over a server.
 *
 * @example
 * ```ts
 * const hub = new MemoryHub();
 * const [a, b] = await Promise.all([
 *   Room.join('demo', { transport: new MemoryTransport(hub) }),
 *   Room.join('demo', { transport: new MemoryTransport(hub) }),
 * ]);
 * ```
 */
export class MemoryTransport extends BaseTransport {
  readonly #hub: MemoryHub;
  #room = '';
  #hello: unknown;
  #selfId = '';
  #offlineTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(hub: MemoryHub) {
    super();
    if (!(hub instanceof MemoryHub)) throw new PeerKitError('BAD_ARGUMENT', 'MemoryTransport needs a MemoryHub');
    this.#hub = hub;
  }

  /**
   * Simulates a lost connection, for tests: the others see this member leave, and after `ms` it
   * re-joins under a new id, as a WebSocketTransport does after its server restarts.
   */
  interrupt(ms = 0): void {
    if (this.state !== 'joined') return;
    this.#hub.exit(this.#room, this.#selfId);
    this.setState('reconnecting');
    this.#offlineTimer = setTimeout(() => this.joined(this.#enterHub()), ms);
  }

  protected override enter(room: string, options: JoinOptions): void {
    try {
      this.#hello = copy(options.hello);
    } catch (cause) {
      this.shutdown(new PeerKitError('BAD_ARGUMENT', 'hello must be JSON-serialisable', { cause }));
      return;
    }
    this.#room = room;
    this.#hub.schedule(() => {
      if (this.state !== 'closed') this.joined(this.#enterHub());
    });
  }

  protected override carry(to: string, payload: unknown): void {
    let carried: unknown;
    try {
      carried = copy(payload);
    } catch (cause) {
      throw new PeerKitError('BAD_ARGUMENT', 'payload must be JSON-serialisable', { cause });
    }
    // While offline the payload is lost, like a frame written to a dead socket.
    if (this.state !== 'joined') return;
    this.#hub.relay(this.#room, this.#selfId, to, carried);
  }

  protected override release(from: TransportState): void {
    clearTimeout(this.#offlineTimer);
    if (from === 'joined') this.#hub.exit(this.#room, this.#selfId);
  }

  #enterHub(): JoinResult {
    const result = this.#hub.enter(this.#room, this, this.#hello, (deliver) =>
      this.#hub.schedule(() => {
        // Events still in flight to a membership that ended are lost with it.
        if (this.state === 'joined' && this.#selfId === result.selfId) deliver();
      }),
    );
    this.#selfId = result.selfId;
    return result;
  }
}
