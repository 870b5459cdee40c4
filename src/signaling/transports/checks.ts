import { PeerKitError } from '../../errors.js';
import type { TransportState } from '../transport.js';

/** What every transport refuses in `join()`: a second call, a call after close, no room name. */
export function joinRefusal(state: TransportState, room: unknown): PeerKitError | undefined {
  if (state !== 'idle') return new PeerKitError(state === 'closed' ? 'CLOSED' : 'BAD_ARGUMENT', 'join() can be called once per transport');
  if (typeof room !== 'string' || room.length === 0) return new PeerKitError('BAD_ARGUMENT', 'room must be a non-empty string');
  return undefined;
}

/** What every transport refuses in `send()`, thrown at once: a call after close, no recipient, no payload. */
export function assertSendable(state: TransportState, to: unknown, payload: unknown): void {
  if (state === 'closed') throw new PeerKitError('CLOSED', 'send() after close()');
  if (typeof to !== 'string' || to.length === 0 || payload === undefined) {
    throw new PeerKitError('BAD_ARGUMENT', 'send() needs a member id and a payload');
  }
}

/** Throws `BAD_ARGUMENT` for a numeric option that is negative or not finite. */
export function assertDurations(options: object): void {
  for (const [name, value] of Object.entries(options)) {
    if (typeof value === 'number' && !(value >= 0 && value < Infinity)) {
      throw new PeerKitError('BAD_ARGUMENT', `${name} must be a non-negative number, got ${value}`);
    }
  }
}
