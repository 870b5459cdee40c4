import type { Message } from '../data/framing.js';
import type { PeerKitError } from '../errors.js';
import type { Peer } from '../peer/peer.js';
import type { IncomingTransfer } from '../transfer/incoming.js';

/** Where a Room is in its life; it follows its transport. */
export type RoomState = 'joined' | 'reconnecting' | 'closed';

/**
 * The state of one SFU feed (`media: 'sfu'`): `connected` once it flows, `reconnecting` while the
 * Room brings a lost one back (the SFU restarted, a session failed), by itself.
 */
export type RoomMediaState = 'connected' | 'reconnecting';

/**
 * How a Room's media is protected ({@link Room.encryption}). `e2ee`: only the members can see and
 * hear it (DTLS-SRTP between members in a mesh; SFrame through the SFU, with a `secret`).
 * `hop-by-hop`: through the SFU without end-to-end encryption (no `secret`, or `e2ee: false`),
 * which the SFU decrypts. `keyEpoch`: this member's SFrame sender key generation, 1 at joining and
 * one more each time it changes keys (a member left, or one was admitted); 0 without SFrame.
 */
export interface RoomEncryption {
  /** Whether only the members can see and hear the media. */
  media: 'e2ee' | 'hop-by-hop';
  /** This member's SFrame sender key generation; 0 without SFrame. */
  keyEpoch: number;
}

/**
 * Where a Room's media goes: member to member (`mesh`) or through the server's SFU (`sfu`). With
 * `media: 'auto'` it changes as the room grows past `meshLimit` members and shrinks back.
 */
export type RoomMediaMode = 'mesh' | 'sfu';

/** Events of a Room. */
export interface RoomEvents {
  /** A member was admitted: here is its Peer, before it connects, so listeners can be added. */
  member: [peer: Peer, id: string, hello: unknown];
  /**
   * A member came back under a new id after a signaling reconnect (its or this member's) and
   * keeps its Peer: key any per-member state by Peer, or move it from `previousId` to `id`.
   */
  rejoin: [peer: Peer, id: string, previousId: string];
  /**
   * A member's Peer closed while the member stayed in the room (its address went away, ICE
   * failed after every restart, its page was frozen), and the Room replaced it with `peer`, a new
   * one that connects in the background: add any listeners you keep on Peers to it. Admission and
   * the polite role are kept, local media is sent again, and `room.send()` messages resume on it
   * exactly once, in order.
   */
  rebuild: [peer: Peer, id: string];
  /** A member's Peer closed and was removed: it left, vanished, or failed for good. */
  leave: [id: string];
  /**
   * A message from a member: sent with `room.send()` (exactly once and in order per sender, across
   * rebuilt Peers), or with `send()` on its Peer's default channel.
   */
  data: [data: Message, from: string];
  /**
   * Member `from` offers a file (`room.sendFile()`, or `sendFile()` on its Peer): `accept()` or
   * `reject()` it. A transfer under way resumes on a rebuilt Peer without a new event.
   */
  transfer: [incoming: IncomingTransfer, from: string];
  /** A remote media track arrived from a member. */
  track: [track: MediaStreamTrack, streams: readonly MediaStream[], from: string];
  /** A remote MediaStream from a member was seen for the first time. */
  stream: [stream: MediaStream, from: string];
  /** The state changed. */
  state: [state: RoomState];
  /**
   * With `media: 'sfu'`: a feed through the SFU changed state, this member's own (`id` is
   * {@link Room.selfId}) or the one played from member `id`. Data between members is not affected.
   */
  media: [state: RoomMediaState, id: string];
  /**
   * {@link Room.encryption} changed. With end-to-end encrypted SFU media: this member moved to a
   * new sender key (a member left, or one was admitted), which it now encrypts under; the others
   * hold it already. With `media: 'auto'` and no SFrame keys (no `secret`, or `e2ee: false`): the
   * media started moving to the SFU (`hop-by-hop`) or back to the mesh (`e2ee`), with `mode`.
   */
  encryption: [encryption: RoomEncryption];
  /**
   * With `media: 'auto'`: the room's media started moving to `mode` ({@link Room.media}), because
   * the room grew past `meshLimit` members or shrank back to it. Each member's media then arrives
   * as a new `stream` (and its `track`s) from the new route, while the old one keeps playing
   * until the new one decodes; no member leaves or joins, and `room.send()` is not affected. A
   * member that joins a room already past the limit starts with `room.media` `'sfu'`, and no event.
   */
  mode: [mode: RoomMediaMode];
  /**
   * Something failed that no call waits for; `from` names the member when it is about one. With
   * end-to-end encrypted SFU media, `DECRYPT_FAILED` from a member: its frames have not decrypted
   * for 2 s (its key has not arrived) and are dropped; once, until they decrypt again.
   */
  error: [error: PeerKitError, from: string | undefined];
  /** The room was left, by `leave()` or because its transport closed for good. Once. */
  close: [];
}
