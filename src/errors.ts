/**
 * Stable error codes. A code never changes meaning between versions; match on it, not on
 * `message`. `publish` and `play` (WHIP/WHEP) map HTTP statuses onto `UNAUTHORIZED` (401, 403),
 * `NOT_FOUND`, `BAD_REQUEST`, `NOT_LIVE` and `SERVER_ERROR`, and also fail with `TIMEOUT`,
 * `ICE_FAILED` and `CLOSED`.
 */
export type PeerKitErrorCode =
  | 'BAD_SIGNAL'
  | 'BAD_ARGUMENT'
  | 'BAD_MESSAGE'
  | 'NEGOTIATION_FAILED'
  /**
   * ICE found no working path: before the connection ever came up (the message says what was
   * tried: candidates gathered, received, checks), or after the ICE restarts of one that dropped.
   */
  | 'ICE_FAILED'
  | 'TURN_UNAUTHORIZED'
  | 'CLOSED'
  | 'CHANNEL_CLOSED'
  | 'MESSAGE_TOO_LARGE'
  | 'UNSUPPORTED'
  /** An end-to-end encrypted media frame did not decrypt (missing or wrong key); it was dropped. */
  | 'DECRYPT_FAILED'
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
  /** `room.send()` past the bound of unacknowledged messages for a member; nothing was sent. */
  | 'BACKLOG_FULL'
  | 'TIMEOUT'
  /** A Peer did not connect within its `connectTimeoutMs`; the message says how far it got. */
  | 'CONNECT_TIMEOUT'
  /** WHIP/WHEP: the endpoint or session does not exist (HTTP 404). */
  | 'NOT_FOUND'
  /** WHIP/WHEP: the server refused the request or the offer (HTTP 400, 422, or another 4xx). */
  | 'BAD_REQUEST'
  /** WHEP: the stream was still not live (HTTP 409) when `timeoutMs` ran out. */
  | 'NOT_LIVE'
  /** WHIP/WHEP: the server failed (HTTP 5xx) or could not be reached. */
  | 'SERVER_ERROR'
  /** A file transfer was cancelled by either side. */
  | 'TRANSFER_CANCELLED'
  /** The receiver rejected a file transfer. */
  | 'TRANSFER_REJECTED'
  /** A transfer's data failed verification and could not be repaired. */
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
  /** Always `'PeerKitError'`, so logs and `error.name` checks tell it apart. */
  override readonly name = 'PeerKitError';
  /** What went wrong, as a stable string. */
  readonly code: PeerKitErrorCode;

  constructor(code: PeerKitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
