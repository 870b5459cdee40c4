import { EventEmitter } from 'eventemitter3';
import type { HttpMediaConnection, MediaSessionState } from './connection.js';

/** What {@link WhipSession} and {@link WhepSession} share: state, ICE restart, stats, close. */
export abstract class MediaSession<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  /** @internal */
  protected abstract readonly connection: HttpMediaConnection;

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
}
