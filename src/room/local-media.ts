import { PeerKitError } from '../errors.js';
import type { Peer } from '../peer/peer.js';

/**
 * The media this member sends to the whole room, and its fan-out: every Peer gets every track,
 * the Peers of members who come later included.
 */
export class LocalMedia {
  readonly #sent: { track: MediaStreamTrack; stream: MediaStream }[] = [];

  constructor(stream: MediaStream | undefined) {
    if (stream !== undefined) for (const track of stream.getTracks()) this.#sent.push({ track, stream });
  }

  /** Sends everything sent to the room on a new Peer. */
  attach(peer: Peer): void {
    for (const { track, stream } of this.#sent) peer.addTrack(track, stream);
  }

  /** Sends every track of `stream` not yet sent, on each of `peers` and every Peer to come. */
  add(stream: MediaStream, peers: Iterable<Peer>): void {
    const fresh = stream.getTracks().filter((track) => !this.#sent.some((sent) => sent.track === track));
    const open = [...peers];
    for (const track of fresh) {
      this.#sent.push({ track, stream });
      for (const peer of open) peer.addTrack(track, stream);
    }
  }

  /** Stops sending the tracks of `stream` on each of `peers`; the tracks are not stopped. */
  remove(stream: MediaStream, peers: Iterable<Peer>): void {
    const open = [...peers].filter((peer) => peer.state !== 'closed');
    for (const sent of this.#sent.filter((s) => s.stream === stream)) {
      this.#sent.splice(this.#sent.indexOf(sent), 1);
      for (const peer of open) peer.removeTrack(sent.track);
    }
  }

  /**
   * Swaps `oldTrack` for `newTrack` on each of `peers`, without renegotiating.
   * @throws PeerKitError `BAD_ARGUMENT` when `oldTrack` is not being sent
   */
  async replace(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack, peers: Iterable<Peer>): Promise<void> {
    const sent = this.#sent.find((s) => s.track === oldTrack);
    if (sent === undefined) throw new PeerKitError('BAD_ARGUMENT', `track ${oldTrack.id} is not being sent to the room`);
    sent.track = newTrack;
    await Promise.all([...peers].filter((peer) => peer.state !== 'closed').map((peer) => peer.replaceTrack(oldTrack, newTrack)));
  }
}
