import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import type { Sendable } from '../data/framing.js';
import type { Peer } from '../peer/peer.js';
import type { JoinResult, SignalingTransport, TransportState } from '../signaling/transport.js';
import { randomHex } from '../util.js';
import { checkSecret } from './admission.js';
import { sendToMembers } from './courier.js';
import { RoomFiles } from './files.js';
import type { OpenedHello } from './envelope.js';
import type { RoomEncryption, RoomEvents, RoomMediaMode, RoomState } from './events.js';
import { checkRoomOptions } from './options.js';
import type { RoomOptions } from './options.js';
import { RoomMedia } from './room-media.js';
import { RoomMembers } from './room-members.js';
import type { WhepSession, WhipSession } from '../whip/index.js';
import type { SendFileOptions, Transfer } from '../transfer/transfer.js';

export type { RoomOptions } from './options.js';
export type { RoomEncryption, RoomEvents, RoomMediaMode, RoomMediaState, RoomState } from './events.js';

/**
 * A mesh of Peers over one {@link SignalingTransport}: one Peer per remote member, with a
 * polite role decided the same way on both sides of each pair, Peers closed when members leave
 * or vanish, local media sent to everyone, and the mesh kept (no duplicate Peers) when the
 * transport reconnects and members come back under new ids.
 *
 * @example
 * ```ts
 * import { Room, WebSocketTransport } from 'peerkit';
 *
 * const room = await Room.join('team-42', {
 *   transport: new WebSocketTransport('wss://signal.example.org'),
 *   stream: await navigator.mediaDevices.getUserMedia({ video: true, audio: true }),
 *   hello: { name: 'Ada' },
 * });
 * room.on('member', (peer, id, hello) => console.log('joined:', id, hello));
 * room.on('data', (data, from) => console.log(from, 'says', data));
 * room.send('hi all');
 * ```
 */
export class Room extends Emitter<RoomEvents> {
  /** The room's name. */
  readonly name: string;
  readonly #transport: SignalingTransport;
  readonly #options: RoomOptions;
  /** This member's session key: random, kept across signaling reconnects. */
  readonly #key = randomHex();
  readonly #media: RoomMedia;
  readonly #members: RoomMembers;
  readonly #files = new RoomFiles(this, () => this.#members.roster.all());
  #selfId = '';
  #iceServers: RTCIceServer[] = [];
  #state: RoomState = 'joined';
  #joined = false;
  #leaving: Promise<void> | undefined;

  private constructor(name: string, options: RoomOptions) {
    super();
    this.name = name;
    this.#options = { ...options };
    this.#transport = options.transport;
    const iceServers = (): RTCIceServer[] => this.#iceServers;
    this.#media = new RoomMedia({ events: this, members: () => this.#members.roster.all(), peers: () => this.peers.values(), iceServers }, this.#options);
    const host = { events: this, options: this.#options, key: this.#key, transport: this.#transport, media: this.#media, files: this.#files };
    this.#members = new RoomMembers({ ...host, iceServers, leaving: () => this.#leaving !== undefined });
  }

  /**
   * Joins room `name` through `options.transport` and connects to every member there and every
   * member who comes later.
   *
   * @returns the Room once this member has an id; its Peers connect in the background
   * @throws PeerKitError `BAD_ARGUMENT` for a bad name or options, or the transport's refusal
   * (`ROOM_FULL`, `UNAUTHORIZED`, `TRANSPORT_ERROR`...); the transport is closed then
   */
  static async join(name: string, options: RoomOptions): Promise<Room> {
    checkRoomOptions(name, options);
    const room = new Room(name, options);
    await room.#start();
    return room;
  }

  /** This member's id, assigned by the transport; it changes when the transport re-joins. */
  get selfId(): string {
    return this.#selfId;
  }

  /** The current state. */
  get state(): RoomState {
    return this.#state;
  }

  /**
   * How the media is protected: `e2ee` in a mesh and through the SFU with a `secret` (then
   * `keyEpoch` counts this member's SFrame keys; `encryption` says when it changes),
   * `hop-by-hop` through the SFU otherwise.
   */
  get encryption(): RoomEncryption {
    return this.#media.encryption;
  }

  /** The admitted members' Peers, by member id. A new map on each read. */
  get peers(): ReadonlyMap<string, Peer> {
    return this.#members.roster.peers();
  }

  /**
   * Where the media goes now: `sfu` with `media: 'sfu'`, `mesh` with `media: 'mesh'`, and with
   * `media: 'auto'` whichever the room's size calls for (it changes with a `mode` event).
   */
  get media(): RoomMediaMode {
    return this.#media.mode;
  }

  /**
   * With `media: 'sfu'` (or `'auto'` while the SFU carries the media, or the media is moving to or
   * from it): the SFU sessions, for their stats (`getStats()`): this member's publish, and the play
   * of each member's feed by member id. Undefined in a mesh.
   */
  sfuSessions():
    | {
        /** This member's WHIP session; undefined when it publishes nothing or while the session is (re)opening. */
        publish: WhipSession | undefined;
        /** The open WHEP session playing each member's feed, by member id; a feed being (re)opened is missing. */
        plays: Map<string, WhepSession>;
      }
    | undefined {
    return this.#media.sessions();
  }

  /** The hello member `id` joined with, if it gave one. */
  helloOf(id: string): unknown {
    return this.#members.roster.get(id)?.hello;
  }

  /**
   * Sends to every member present, or to member `to` only. Each member gets each message exactly
   * once, in the order sent, even across Peers the Room rebuilds: messages are numbered per member
   * and kept until the member acknowledges them, then sent again on a rebuilt Peer. Messages to a
   * member still being admitted or connecting wait, so a `send()` right after `join()` reaches
   * everyone already there; a member refused, or gone, gets nothing.
   *
   * At most 1,000 messages or 16 MiB wait unacknowledged per member; past that, the message is
   * sent to no one and the promise rejects with `BACKLOG_FULL` (awaiting each `send()` never does).
   *
   * @returns resolves when the message is handed to every member's channel (or the member is
   * gone); rejects with `BACKLOG_FULL`, `MESSAGE_TOO_LARGE` (over 16 MiB) or `BAD_ARGUMENT`
   * @throws PeerKitError `CLOSED` after `leave()`, `BAD_ARGUMENT` for an unknown member
   */
  send(data: Sendable, to?: string): Promise<void> {
    this.#assertOpen('send()');
    let members = this.#members.roster.all();
    if (to !== undefined) {
      const member = this.#members.roster.get(to);
      if (member === undefined || member.refused) throw new PeerKitError('BAD_ARGUMENT', `no member ${String(to)} in room ${this.name}`);
      members = [member];
    }
    return sendToMembers(members, data);
  }

  /**
   * Sends a File or Blob to member `to`, or to every member admitted now, each on a Transfer of
   * its own (see `peer.sendFile()`); the members get a `transfer` event. A transfer under way
   * resumes from the last verified block on a Peer the Room rebuilds for its member. When the
   * member leaves, or this Room is left, its Transfer fails with `CLOSED`.
   *
   * @returns the Transfer to `to`; without `to`, a new Map from the id of each member admitted
   * now to the Transfer to it (empty when no one is there)
   * @throws PeerKitError `CLOSED` after `leave()`, `BAD_ARGUMENT` for a member not (yet) admitted or a `file` that is not a Blob
   */
  sendFile(file: Blob, to: string, options?: SendFileOptions): Transfer;
  sendFile(file: Blob, to?: undefined, options?: SendFileOptions): Map<string, Transfer>;
  sendFile(file: Blob, to?: string, options?: SendFileOptions): Transfer | Map<string, Transfer> {
    this.#assertOpen('sendFile()');
    const sent = this.#files.send(file, to, options);
    if (to === undefined) return sent;
    const transfer = sent.get(to);
    if (transfer === undefined) throw new PeerKitError('BAD_ARGUMENT', `no admitted member ${to} in room ${this.name}`);
    return transfer;
  }

  /** Sends every track of `stream` to every member, present and future. */
  addStream(stream: MediaStream): void {
    this.#assertOpen('addStream()');
    this.#media.add(stream);
  }

  /** Stops sending the tracks of `stream` to everyone. The tracks are not stopped. */
  removeStream(stream: MediaStream): void {
    this.#assertOpen('removeStream()');
    this.#media.remove(stream);
  }

  /**
   * Swaps a sent track for another of the same kind for every member, without renegotiating
   * (switching cameras, sharing the screen instead of the camera).
   * @throws PeerKitError `BAD_ARGUMENT` when `oldTrack` is not being sent
   */
  async replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    this.#assertOpen('replaceTrack()');
    await this.#media.replace(oldTrack, newTrack);
  }

  /**
   * Leaves the room: closes every Peer (the others see `leave` at once), then the transport.
   * Idempotent; `close` is emitted once.
   */
  leave(): Promise<void> {
    this.#leaving ??= this.#release();
    return this.#leaving;
  }

  async #start(): Promise<void> {
    this.#listen(true);
    let result: JoinResult;
    let opened: OpenedHello[] | undefined;
    try {
      await this.#media.prepare(this.#members.peers);
      result = await this.#transport.join(this.name, { hello: await this.#members.seal(this.name) });
      opened = await checkSecret(this.#members.envelopes, result, this.name);
      this.#media.check(result);
    } catch (error) {
      this.#state = 'closed';
      this.#media.closeKeys();
      this.#listen(false);
      await this.#transport.close();
      throw error instanceof PeerKitError ? error : new PeerKitError('TRANSPORT_ERROR', 'the transport failed to join', { cause: error });
    }
    this.#joined = true;
    this.#selfId = result.selfId;
    this.#iceServers = this.#options.iceServers ?? result.iceServers ?? [];
    await this.#media.start(result);
    result.members.forEach((id, i) => this.#members.arrive(id, result.hellos?.[id], opened?.[i]));
  }

  /** Adds (`on`) or removes every listener the Room puts on its transport and the page. */
  #listen(on: boolean): void {
    const transport = this.#transport;
    const edit = on ? transport.on.bind(transport) : transport.off.bind(transport);
    edit('member-joined', this.#members.arrive);
    edit('member-left', this.#members.depart);
    edit('message', this.#members.deliver);
    edit('joined', this.#rejoin);
    edit('state', this.#follow);
    edit('error', this.#onTransportError);
    if (on) globalThis.addEventListener?.('pagehide', this.#onPageHide);
    else globalThis.removeEventListener?.('pagehide', this.#onPageHide);
  }

  readonly #onTransportError = (error: PeerKitError): void => void this.emit('error', error, undefined);

  /**
   * The page is going away and will not wait for a graceful close: closing the connections at
   * once lets the others see this member's channels close now, not after ICE consent expires.
   */
  readonly #onPageHide = (): void => {
    for (const member of this.#members.roster.all()) member.peer?.connection.close();
    void this.leave();
  };

  /** The transport joined again, under a new id: members still connected are kept, by session key. */
  readonly #rejoin = (result: JoinResult): void => {
    if (!this.#joined || this.#leaving) return;
    const previousId = this.#selfId;
    this.#selfId = result.selfId;
    // The server keys feeds by member id: under a new id, the feed is published again.
    if (result.sfu !== undefined && result.selfId !== previousId) this.#media.rejoined(result.sfu, result.selfId);
    this.#members.rejoined(result);
  };

  readonly #follow = (state: TransportState): void => {
    if (this.#leaving) return;
    if (state === 'joined' || state === 'reconnecting') this.#setState(state);
    else if (state === 'closed' && this.#joined) {
      this.emit('error', new PeerKitError('TRANSPORT_CLOSED', 'the signaling transport closed; leaving the room'), undefined);
      void this.leave();
    }
  };

  async #release(): Promise<void> {
    this.#setState('closed');
    await this.#members.close(this.#media.closeFeeds());
    this.#media.closeKeys();
    this.#listen(false);
    await this.#transport.close();
    this.emit('close');
  }

  #setState(next: RoomState): void {
    if (next === this.#state) return;
    this.#state = next;
    this.emit('state', next);
  }

  #assertOpen(what: string): void {
    if (this.#leaving) throw new PeerKitError('CLOSED', `${what} was called after leave()`);
  }
}
