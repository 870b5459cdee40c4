import type { Channel } from '../data/channel.js';
import type { Message } from '../data/framing.js';
import type { PeerKitError } from '../errors.js';
import type { Signal } from '../signaling/signal.js';
import type { IncomingTransfer } from '../transfer/incoming.js';
import type { PeerState } from './state.js';

/** Events of a Peer. */
export interface PeerEvents {
  /** A signal for the remote Peer: deliver it to `remote.signal()` by any means. */
  signal: [signal: Signal];
  /** The default channel opened: `send()` delivers from now on. Once per Peer. */
  connect: [];
  /** A message arrived on the default channel. */
  data: [data: Message];
  /** The remote side opened a channel with `peer.channel()`; never the channel of file transfers. */
  channel: [channel: Channel];
  /**
   * The remote offers a file (`peer.sendFile()`, `room.sendFile()`): `accept()` or `reject()` it.
   * Not emitted again when a transfer accepted here resumes on this Peer.
   */
  transfer: [incoming: IncomingTransfer];
  /** A remote media track arrived, with the streams the remote added it to. */
  track: [track: MediaStreamTrack, streams: readonly MediaStream[]];
  /** A remote MediaStream was seen for the first time. */
  stream: [stream: MediaStream];
  /** The state changed. */
  state: [state: PeerState];
  /** The connection dropped; ICE is restarting while the channels stay open. */
  reconnecting: [];
  /** The connection is back after `reconnecting`. */
  reconnect: [];
  /** Something went wrong that no call is waiting for. The Peer carries on unless it also closes. */
  error: [error: PeerKitError];
  /** The Peer closed, from either side. Once per Peer. */
  close: [];
}
