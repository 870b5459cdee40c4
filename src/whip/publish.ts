import { PeerKitError } from '../errors.js';
import { MediaSession } from './session.js';
import type { MediaSessionOptions, MediaSessionState } from './connection.js';

/** Options of {@link publish}. */
export type PublishOptions = MediaSessionOptions;

/** Events of a {@link WhipSession}. */
export interface WhipSessionEvents {
  /** The state changed. */
  state: [state: MediaSessionState];
  /** Something went wrong that no call is waiting for (a refused PATCH, ICE given up). */
  error: [error: PeerKitError];
  /** The session closed. Once per session. */
  close: [];
}

/**
 * One stream published to a WHIP endpoint (RFC 9725); made by {@link publish}.
 *
 * @example
 * ```ts
 * const pub = await publish('https://media.example/whip/live', stream, { token });
 * pub.on('state', (state) => console.log(state));
 * await pub.close(); // DELETE on the session URL
 * ```
 */
export class WhipSession extends MediaSession<WhipSessionEvents> {
  /** @internal Use {@link publish}. */
  constructor(options: MediaSessionOptions) {
    super('whip', options);
  }

  /** @internal */
  async start(url: string, stream: MediaStream): Promise<void> {
    for (const track of stream.getTracks()) this.connection.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    await this.connection.open(url);
  }

  /**
   * Sends `newTrack` instead of `oldTrack` on the same session, with no renegotiation (a camera
   * switch, a screen share). `null` stops sending without ending the session. The old track is
   * not stopped: it is yours.
   */
  async replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack | null): Promise<void> {
    if (this.state === 'closed') throw new PeerKitError('CLOSED', 'replaceTrack() on a closed session.');
    const sender = this.connection.pc.getSenders().find((s) => s.track === oldTrack);
    if (sender === undefined) throw new PeerKitError('BAD_ARGUMENT', 'replaceTrack(): the old track is not one this session sends.');
    if (newTrack !== null && newTrack.kind !== oldTrack.kind) {
      throw new PeerKitError('BAD_ARGUMENT', `replaceTrack(): a ${newTrack.kind} track cannot replace a ${oldTrack.kind} track.`);
    }
    await sender.replaceTrack(newTrack);
  }
}

/**
 * Publishes `stream` (at most one audio and one video track) to a WHIP endpoint; resolves once
 * media flows, or rejects with a {@link PeerKitError}: `UNAUTHORIZED`, `NOT_FOUND`, `BAD_REQUEST`,
 * `SERVER_ERROR`, `TIMEOUT` (not connected within `connectTimeoutMs`), `ICE_FAILED`.
 *
 * @example
 * ```ts
 * import { publish } from 'peerkit/whip';
 * const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
 * const pub = await publish('https://media.example/whip/live', stream, { token });
 * ```
 */
export async function publish(url: string, stream: MediaStream, options: PublishOptions = {}): Promise<WhipSession> {
  const tracks = stream.getTracks();
  const audio = tracks.filter((t) => t.kind === 'audio').length;
  const video = tracks.filter((t) => t.kind === 'video').length;
  if (tracks.length === 0 || audio > 1 || video > 1) {
    throw new PeerKitError('BAD_ARGUMENT', `publish() takes a stream of at most one audio and one video track, got ${audio} audio and ${video} video.`);
  }
  const session = new WhipSession(options);
  await session.start(url, stream);
  return session;
}
