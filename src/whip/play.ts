import type { PeerKitError } from '../errors.js';
import { MediaSession } from './session.js';
import type { MediaSessionOptions, MediaSessionState } from './connection.js';

/** Options of {@link play}. */
export interface PlayOptions extends MediaSessionOptions {
  /**
   * How long to keep asking while the server answers 409 (the stream is not live yet), with
   * backoff, before failing with `NOT_LIVE`.
   * @default 30000
   */
  timeoutMs?: number;
}

/** Events of a {@link WhepSession}. */
export interface WhepSessionEvents {
  /** A track arrived; it is also in {@link WhepSession.stream}. */
  track: [track: MediaStreamTrack, stream: MediaStream];
  /** The state changed. */
  state: [state: MediaSessionState];
  /** Something went wrong that no call is waiting for (a refused PATCH, ICE given up). */
  error: [error: PeerKitError];
  /** The session closed. Once per session. */
  close: [];
}

/**
 * One stream played from a WHEP endpoint; made by {@link play}.
 *
 * @example
 * ```ts
 * const view = await play('https://media.example/whep/live', { token });
 * video.srcObject = view.stream;
 * ```
 */
export class WhepSession extends MediaSession<WhepSessionEvents> {
  /** The tracks received, in one stream, ready for a `<video>` element's `srcObject`. */
  readonly stream = new MediaStream();

  /** @internal Use {@link play}. */
  constructor(options: MediaSessionOptions) {
    super('whep', options);
  }

  /** @internal */
  protected override onTrack({ track }: RTCTrackEvent): void {
    for (const old of this.stream.getTracks()) if (old.kind === track.kind && old !== track) this.stream.removeTrack(old);
    this.stream.addTrack(track);
    this.emit('track', track, this.stream);
  }

  /** @internal */
  async start(url: string, timeoutMs: number): Promise<void> {
    this.connection.pc.addTransceiver('audio', { direction: 'recvonly' });
    this.connection.pc.addTransceiver('video', { direction: 'recvonly' });
    await this.connection.open(url, timeoutMs);
  }
}

/**
 * Plays a stream from a WHEP endpoint; resolves once media flows, or rejects with a
 * {@link PeerKitError}: `UNAUTHORIZED`, `NOT_FOUND`, `BAD_REQUEST`, `NOT_LIVE` (still 409 after
 * `timeoutMs`), `SERVER_ERROR`, `TIMEOUT`, `ICE_FAILED`.
 *
 * @example
 * ```ts
 * import { play } from 'peerkit/whip';
 * const view = await play('https://media.example/whep/live', { token });
 * view.on('track', (track) => console.log('got', track.kind));
 * ```
 */
export async function play(url: string, options: PlayOptions = {}): Promise<WhepSession> {
  const session = new WhepSession(options);
  await session.start(url, options.timeoutMs ?? 30000);
  return session;
}
