import { Emitter } from '../../emitter.js';
import { PeerKitError } from '../../errors.js';
import { assertSendable, joinRefusal } from './checks.js';
import type { JoinOptions, JoinResult, SignalingTransport, TransportEvents, TransportState } from '../transport.js';

/**
 * What every transport shares: the state and its `state` event, the checks `join()` and `send()`
 * make before anything else, the pending `join()` promise, and one idempotent way to `closed`.
 * A transport fills in how it enters a room, carries a payload and releases what it holds.
 * @internal
 */
export abstract class BaseTransport extends Emitter<TransportEvents> implements SignalingTransport {
  #state: TransportState = 'idle';
  #pendingJoin: { resolve: (result: JoinResult) => void; reject: (error: PeerKitError) => void } | undefined;

  /** The current state. */
  get state(): TransportState {
    return this.#state;
  }

  /**
   * Joins `room`; resolves once this member has an id. Call it once per transport.
   * Rejects with `BAD_ARGUMENT` without a room name or on a second call, `CLOSED` after `close()`.
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinResult> {
    const refused = joinRefusal(this.#state, room);
    if (refused !== undefined) return Promise.reject(refused);
    this.setState('connecting');
    const joined = new Promise<JoinResult>((resolve, reject) => {
      this.#pendingJoin = { resolve, reject };
    });
    this.enter(room, options);
    return joined;
  }

  /**
   * Sends `payload` to member `to`.
   * @throws PeerKitError `CLOSED` after `close()`, `BAD_ARGUMENT` without a member id or a payload,
   * or with a payload the transport cannot carry.
   */
  send(to: string, payload: unknown): void {
    assertSendable(this.#state, to, payload);
    this.carry(to, payload);
  }

  /** Leaves the room and releases everything; idempotent. Resolves once the goodbye is out, if the transport says one. */
  close(): Promise<void> {
    return this.shutdown(new PeerKitError('CLOSED', 'the transport was closed before joining'));
  }

  /** Starts joining `room`; {@link joined} or {@link fail} ends it. The state is `connecting`. */
  protected abstract enter(room: string, options: JoinOptions): void;

  /** Carries a payload that passed the checks of {@link send}. */
  protected abstract carry(to: string, payload: unknown): void;

  /**
   * Lets go of everything the transport holds (sockets, channels, timers), saying goodbye first
   * if `from`, the state before closing, allows. Runs once; the state already reads `closed`, so
   * whatever the release sets off finds the transport closed. A goodbye that takes a round trip
   * (an acknowledged publish) returns its promise, which `close()` waits for.
   */
  protected abstract release(from: TransportState): void | Promise<void>;

  /** Moves to `next` and emits `state`, unless the transport is there already. */
  protected setState(next: TransportState): void {
    if (next === this.#state) return;
    this.#state = next;
    this.emit('state', next);
  }

  /** In the room, first time or again: resolves a pending `join()`, then emits `joined`. */
  protected joined(result: JoinResult): void {
    this.setState('joined');
    this.#pendingJoin?.resolve(result);
    this.#pendingJoin = undefined;
    this.emit('joined', result);
  }

  /**
   * A failure that ends the transport: a pending `join()` rejects with it; after joining, with
   * no promise left to reject, it becomes an `error` event. Then the transport closes.
   */
  protected fail(error: PeerKitError): void {
    if (this.#state === 'closed') return;
    if (this.#pendingJoin === undefined) this.emit('error', error);
    void this.shutdown(error);
  }

  /**
   * The one way to `closed`: releases, rejects a pending `join()` with `reason`, emits `state`.
   * Resolves when the release's goodbye is done.
   */
  protected shutdown(reason: PeerKitError): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    const from = this.#state;
    this.#state = 'closed';
    const released = this.release(from);
    this.#pendingJoin?.reject(reason);
    this.#pendingJoin = undefined;
    this.emit('state', 'closed');
    return Promise.resolve(released);
  }
}
