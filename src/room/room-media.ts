import { PeerKitError } from '../errors.js';
import type { Peer } from '../peer/peer.js';
import type { JoinResult } from '../signaling/transport.js';
import type { WhepSession, WhipSession } from '../whip/index.js';
import type { RoomEncryption, RoomMediaMode } from './events.js';
import { LocalMedia } from './local-media.js';
import type { KeyedRoom, MediaKeys } from './media-keys.js';
import type { MediaMode } from './media-mode.js';
import type { Member } from './member.js';
import type { MemberPeers } from './member-peers.js';
import { DEFAULT_MESH_LIMIT } from './options.js';
import type { RoomOptions } from './options.js';
import type { SfuEndpoints, SfuMedia } from './sfu-media.js';

/** What {@link RoomMedia} needs from its Room. */
export interface RoomMediaHost {
  events: KeyedRoom;
  /** Every member in the room as presence reports it, admitted or not. */
  members(): Member[];
  /** The admitted members' Peers. */
  peers(): Iterable<Peer>;
  iceServers(): RTCIceServer[];
}

/**
 * A Room's media, wherever it goes: the mesh fan-out of the local media, the SFU's sessions with
 * `media: 'sfu'`, the moves between the two with `media: 'auto'`, and the SFrame keys that encrypt
 * SFU media end to end. The SFU, auto and key modules are imported only by the rooms that use
 * them, so a mesh Room's bundle carries none of them.
 */
export class RoomMedia {
  readonly #local: LocalMedia;
  #sfu: SfuMedia | undefined;
  #keys: MediaKeys | undefined;
  /** With `media: 'auto'` and an SFU to move to. */
  #auto: MediaMode | undefined;

  constructor(
    private readonly host: RoomMediaHost,
    private readonly options: RoomOptions,
  ) {
    this.#local = new LocalMedia(options.stream);
  }

  /**
   * Before the join: the SFrame keys, for rooms that encrypt SFU media.
   * @throws PeerKitError `UNSUPPORTED` without encoded transforms
   */
  async prepare(peers: MemberPeers): Promise<void> {
    const { media, secret, e2ee } = this.options;
    if ((media === 'sfu' || media === 'auto') && secret && e2ee !== false) {
      // It throws UNSUPPORTED before this member shows itself to anyone.
      const { MediaKeys } = await import('./media-keys.js');
      this.#keys = new MediaKeys(this.host.events, secret, peers);
    }
  }

  /** @throws PeerKitError `UNSUPPORTED` when `media: 'sfu'` and the transport gave no SFU endpoints */
  check(result: JoinResult): void {
    if (this.options.media === 'sfu' && result.sfu === undefined) {
      throw new PeerKitError('UNSUPPORTED', `media: 'sfu' needs a transport that gives SFU endpoints (peerkit-signal started with --janus); this one gave none`);
    }
  }

  /** After the join: the SFU media, or the auto mode, when the transport gave SFU endpoints. */
  async start(result: JoinResult): Promise<void> {
    const { media, stream } = this.options;
    if (media === 'sfu' && result.sfu !== undefined) {
      const { SfuMedia } = await import('./sfu-media.js');
      this.#sfu = new SfuMedia(this.host.events, result.sfu, result.selfId, stream, this.host.iceServers, this.#keys);
    }
    if (media === 'auto' && result.sfu !== undefined) {
      const { MediaMode } = await import('./media-mode.js');
      const host = { events: this.host.events, members: this.host.members, local: this.#local, iceServers: this.host.iceServers, keys: this.#keys };
      const count = 1 + result.members.length;
      this.#auto = new MediaMode(host, this.options.meshLimit ?? DEFAULT_MESH_LIMIT, result.sfu, result.selfId, stream, count);
    }
  }

  /** What {@link Room.encryption} says. */
  get encryption(): RoomEncryption {
    return this.#keys?.state ?? { media: this.mode === 'sfu' ? 'hop-by-hop' : 'e2ee', keyEpoch: 0 };
  }

  /** What {@link Room.media} says. */
  get mode(): RoomMediaMode {
    return this.#auto?.mode ?? (this.#sfu === undefined ? 'mesh' : 'sfu');
  }

  /** What {@link Room.sfuSessions} gives. */
  sessions(): { publish: WhipSession | undefined; plays: Map<string, WhepSession> } | undefined {
    return this.#feeds?.sessions();
  }

  /** Whichever follows the members' SFU feeds: the SFU media, or the auto mode that owns one. */
  get #feeds(): MediaMode | SfuMedia | undefined {
    return this.#auto ?? this.#sfu;
  }

  /** A new Peer: through an SFU, the stream goes there once and the Peers carry data only. */
  attach(peer: Peer): void {
    if (this.#auto !== undefined) this.#auto.attach(peer);
    else if (this.#sfu === undefined) this.#local.attach(peer);
  }

  add(stream: MediaStream): void {
    if (this.#auto !== undefined) return this.#auto.add(stream);
    if (this.#sfu !== undefined) return this.#sfu.add(stream);
    this.#local.add(stream, this.host.peers());
  }

  remove(stream: MediaStream): void {
    if (this.#auto !== undefined) return this.#auto.remove(stream);
    if (this.#sfu !== undefined) return this.#sfu.remove();
    this.#local.remove(stream, this.host.peers());
  }

  /** @throws PeerKitError `BAD_ARGUMENT` when `oldTrack` is not being sent */
  async replace(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    if (this.#auto !== undefined) return this.#auto.replace(oldTrack, newTrack);
    if (this.#sfu !== undefined) return this.#sfu.replace(oldTrack, newTrack);
    await this.#local.replace(oldTrack, newTrack, this.host.peers());
  }

  /** The transport joined again under a new id: the server keys feeds by member id. */
  rejoined(endpoints: SfuEndpoints, selfId: string): void {
    this.#feeds?.rejoined(endpoints, selfId);
  }

  /** Follows `member`'s feed, if the SFU carries it. */
  watch(member: Member): void {
    this.#feeds?.watch(member);
  }

  /** `member` was admitted: it follows this member's feed, and gets its key. */
  admitted(member: Member): void {
    this.#feeds?.watch(member);
    this.#keys?.admitted(member);
  }

  /** `member`'s feed is gone: its play stops now. */
  forget(member: Member): void {
    this.#feeds?.forget(member);
  }

  /** `member` is gone for good. */
  removed(member: Member): void {
    this.#feeds?.forget(member);
    this.#keys?.removed(member);
  }

  /** A key message from `member`. */
  receiveKey(member: Member, signal: unknown): void {
    this.#keys?.receive(member, signal);
  }

  /** Ends the SFU sessions. */
  async closeFeeds(): Promise<void> {
    await this.#feeds?.close();
  }

  /** Drops the keys; last, once nothing encrypts or decrypts any more. */
  closeKeys(): void {
    this.#keys?.close();
  }
}
