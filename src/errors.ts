/**
 * Stable error codes. A code never changes meaning between versions; match on it, not on
 * `message`.
 */
export type PeerKitErrorCode =
  | 'BAD_SIGNAL'
  | 'BAD_ARGUMENT'
  | 'BAD_MESSAGE'
  | 'NEGOTIATION_FAILED'
  | 'ICE_FAILED'
  | 'TURN_UNAUTHORIZED'
  | 'CLOSED'
  | 'CHANNEL_CLOSED'
  | 'MESSAGE_TOO_LARGE'
  | 'UNSUPPORTED'
  | 'PERMISSION_DENIED'
  | 'DEVICE_NOT_FOUND'
  | 'DEVICE_IN_USE'
  | 'INSECURE_CONTEXT'
  | 'CONSTRAINT_NOT_SATISFIED'
  | 'TRANSPORT_CLOSED'
  | 'TRANSPORT_ERROR'
  | 'ROOM_FULL'
  | 'UNAUTHORIZED'
  | 'RATE_LIMITED'
  | 'TIMEOUT'
  | 'TRANSFER_CANCELLED'
  | 'TRANSFER_REJECTED'
  | 'TRANSFER_CORRUPT';

/**
 * The one error class peerkit throws, rejects with, or emits on `error`.
 *
 * @example
 * ```ts
 * peer.on('error', (err) => {
 *   if (err.code === 'BAD_SIGNAL') console.warn('ignored a malformed signal', err.cause);
 * });
 * ```
 */
export class PeerKitError extends Error {
  override readonly name = 'PeerKitError';
  /** What went wrong, as a stable string. */
  readonly code: PeerKitErrorCode;

  constructor(code: PeerKitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
