import { PeerKitError } from '../errors.js';

/** Runs a call the browser may refuse, turning its exception into `BAD_ARGUMENT`. */
export function refusable<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw new PeerKitError('BAD_ARGUMENT', err instanceof Error ? err.message : 'Refused.', { cause: err });
  }
}

/** The local tracks a Peer sends, as {@link sendersOf} keeps them. */
export interface Senders {
  /** @throws PeerKitError `BAD_ARGUMENT` when the track is already sent or the browser refuses it */
  add(track: MediaStreamTrack, streams: MediaStream[]): void;
  /** @throws PeerKitError `BAD_ARGUMENT` when the track was not added or the browser refuses */
  remove(track: MediaStreamTrack): void;
  /** @throws PeerKitError `BAD_ARGUMENT` when the old track was not added or the browser refuses the new one */
  replace(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void>;
}

/**
 * The local tracks a Peer sends, each with its RTCRtpSender. Adding and removing renegotiates
 * (the browser fires `negotiationneeded`); replacing does not.
 */
export function sendersOf(pc: RTCPeerConnection): Senders {
  const senders = new Map<MediaStreamTrack, RTCRtpSender>();
  const of = (track: MediaStreamTrack): RTCRtpSender => {
    const sender = senders.get(track);
    if (!sender) throw new PeerKitError('BAD_ARGUMENT', `Track ${track.id} was not added.`);
    return sender;
  };
  return {
    add(track, streams) {
      if (senders.has(track)) throw new PeerKitError('BAD_ARGUMENT', `Track ${track.id} is already sent.`);
      senders.set(track, refusable(() => pc.addTrack(track, ...streams)));
    },
    remove(track) {
      const sender = of(track);
      refusable(() => pc.removeTrack(sender));
      senders.delete(track);
    },
    async replace(oldTrack, newTrack) {
      const sender = of(oldTrack);
      try {
        await sender.replaceTrack(newTrack);
      } catch (err) {
        throw new PeerKitError('BAD_ARGUMENT', 'The new track was refused.', { cause: err });
      }
      senders.delete(oldTrack);
      senders.set(newTrack, sender);
    },
  };
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
