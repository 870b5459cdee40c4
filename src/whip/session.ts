import { EventEmitter } from 'eventemitter3';
import type { PeerKitError } from '../errors.js';
import { HttpMediaConnection } from './connection.js';
import type { MediaSessionOptions, MediaSessionState } from './connection.js';

/** The events {@link WhipSession} and {@link WhepSession} both have. */
interface CommonEvents {
  state: [state: MediaSessionState];
  error: [error: PeerKitError];
  close: [];
}

/** What {@link WhipSession} and {@link WhepSession} share: the connection and its events, state, ICE restart, stats, close. */
export abstract class MediaSession<Events extends CommonEvents> extends EventEmitter<Events> {
  /** @internal */
  protected readonly connection: HttpMediaConnection;

  /** @internal */
  constructor(kind: 'whip' | 'whep', options: MediaSessionOptions) {
    super();
    // TypeScript cannot resolve eventemitter3's event names for a type parameter; these three are in every Events.
    const common = this as unknown as EventEmitter<CommonEvents>;
    this.connection = new HttpMediaConnection(kind, options, {
      state: (state) => common.emit('state', state),
      error: (error) => common.emit('error', error),
      close: () => {
        common.emit('close');
        this.removeAllListeners();
      },
      track: (event) => this.onTrack(event),
    });
  }

  /** `connecting`, `connected`, `reconnecting` (an ICE restart is under way) or `closed`. */
  get state(): MediaSessionState {
    return this.connection.current;
  }

  /** Restarts ICE through a PATCH with `If-Match: "*"`; resolves once the server's answer is applied. */
  restartIce(): Promise<void> {
    return this.connection.restartIce();
  }

  /** The connection's statistics (outbound-rtp when publishing, inbound-rtp with framesDecoded when playing). */
  getStats(): Promise<RTCStatsReport> {
    return this.connection.pc.getStats();
  }

  /** Ends the session: DELETE on its URL, then the connection closes. Idempotent. Your tracks keep running. */
  close(): Promise<void> {
    return this.connection.close();
  }

  /** @internal A track the server sends; only a player has any. */
  protected onTrack(_event: RTCTrackEvent): void {}
}
