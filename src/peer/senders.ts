import { PeerKitError } from '../errors.js';

/** Runs a call the browser may refuse, turning its exception into `BAD_ARGUMENT`. */
export function refusable<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw new PeerKitError('BAD_ARGUMENT', err instanceof Error ? err.message : 'Refused.', { cause: err });
  }
}

/**
 * The local tracks a Peer sends, each with its RTCRtpSender. Adding and removing renegotiates
 * (the browser fires `negotiationneeded`); replacing does not.
 */
export class Senders {
  private readonly senders = new Map<MediaStreamTrack, RTCRtpSender>();

  constructor(private readonly pc: RTCPeerConnection) {}

  /** @throws PeerKitError `BAD_ARGUMENT` when the track is already sent or the browser refuses it */
  add(track: MediaStreamTrack, streams: MediaStream[]): void {
    if (this.senders.has(track)) throw new PeerKitError('BAD_ARGUMENT', `Track ${track.id} is already sent.`);
    this.senders.set(track, refusable(() => this.pc.addTrack(track, ...streams)));
  }

  /** @throws PeerKitError `BAD_ARGUMENT` when the track was not added or the browser refuses */
  remove(track: MediaStreamTrack): void {
    const sender = this.of(track);
    refusable(() => this.pc.removeTrack(sender));
    this.senders.delete(track);
  }

  /** @throws PeerKitError `BAD_ARGUMENT` when the old track was not added or the browser refuses the new one */
  async replace(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    const sender = this.of(oldTrack);
    try {
      await sender.replaceTrack(newTrack);
    } catch (err) {
      throw new PeerKitError('BAD_ARGUMENT', 'The new track was refused.', { cause: err });
    }
    this.senders.delete(oldTrack);
    this.senders.set(newTrack, sender);
  }

  private of(track: MediaStreamTrack): RTCRtpSender {
    const sender = this.senders.get(track);
    if (!sender) throw new PeerKitError('BAD_ARGUMENT', `Track ${track.id} was not added.`);
    return sender;
  }
}

/** Calls `seen` once for each remote MediaStream, when the first of its tracks arrives. */
export function firstSeen(seen: (stream: MediaStream) => void): (streams: readonly MediaStream[]) => void {
  const ids = new Set<string>();
  return (streams) => {
    for (const stream of streams) {
      if (ids.has(stream.id)) continue;
      ids.add(stream.id);
      seen(stream);
    }
  };
}
