import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import type { Sendable } from '../data/framing.js';
import type { Peer } from '../peer/peer.js';
import type { JoinResult, SignalingTransport, TransportState } from '../signaling/transport.js';
import { randomHex } from '../util.js';
import { checkSecret, decideAdmission } from './admission.js';
import { sendToMembers } from './courier.js';
import { Envelopes } from './envelope.js';
import { RoomFiles } from './files.js';
import type { OpenedHello, Presence } from './envelope.js';
import type { RoomEncryption, RoomEvents, RoomMediaMode, RoomState } from './events.js';
import type { Member } from './member.js';
import { MemberPeers } from './member-peers.js';
import { DEFAULT_REJOIN_GRACE_MS, checkRoomOptions, peerOptionsOf } from './options.js';
import type { RoomOptions } from './options.js';
import { RoomMedia } from './room-media.js';
import { Roster } from './roster.js';
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
  readonly #roster = new Roster();
  readonly #media: RoomMedia;
  readonly #peers = new MemberPeers({
    events: this,
    transport: () => this.#transport,
    // Both sides compare the same two session keys, so exactly one of each pair is polite.
    peerOptions: (member) => peerOptionsOf(this.#options, this.#iceServers, this.#key > member.key),
    attachMedia: (peer) => {
      this.#media.attach(peer);
      this.#files.wire(peer);
    },
    lookup: (id) => this.#roster.get(id),
    leaving: () => this.#leaving !== undefined,
    forget: (member) => this.#roster.remove(member),
    remove: (member) => this.#remove(member),
    key: (member, signal) => this.#media.receiveKey(member, signal),
  });
  readonly #files = new RoomFiles(this, () => this.#roster.all());
  #envelopes!: Envelopes;
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
    this.#media = new RoomMedia(
      { events: this, members: () => this.#roster.all(), peers: () => this.peers.values(), iceServers: () => this.#iceServers },
      this.#options,
    );
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
    return this.#roster.peers();
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
    return this.#roster.get(id)?.hello;
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
    let members = this.#roster.all();
    if (to !== undefined) {
      const member = this.#roster.get(to);
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
      await this.#media.prepare(this.#peers);
      this.#envelopes = await Envelopes.create(this.name, this.#key, this.#options.secret, this.#options.kdfIterations);
      result = await this.#transport.join(this.name, { hello: await this.#envelopes.presence(this.#options.hello) });
      opened = await checkSecret(this.#envelopes, result, this.name);
      if (this.#options.media === 'sfu' && result.sfu === undefined) {
        throw new PeerKitError('UNSUPPORTED', `media: 'sfu' needs a transport that gives SFU endpoints (peerkit-signal started with --janus); this one gave none`);
      }
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
    result.members.forEach((id, i) => this.#arrive(id, result.hellos?.[id], opened?.[i]));
  }

  /** Adds (`on`) or removes every listener the Room puts on its transport and the page. */
  #listen(on: boolean): void {
    const transport = this.#transport;
    const edit = on ? transport.on.bind(transport) : transport.off.bind(transport);
    edit('member-joined', this.#arrive);
    edit('member-left', this.#depart);
    edit('message', this.#deliver);
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
    for (const member of this.#roster.all()) member.peer?.connection.close();
    void this.leave();
  };

  /** The transport joined again, under a new id: members still connected are kept, by session key. */
  readonly #rejoin = (result: JoinResult): void => {
    if (!this.#joined || this.#leaving) return;
    const previousId = this.#selfId;
    this.#selfId = result.selfId;
    // The server keys feeds by member id: under a new id, the feed is published again.
    if (result.sfu !== undefined && result.selfId !== previousId) this.#media.rejoined(result.sfu, result.selfId);
    const present = new Set(result.members);
    for (const member of this.#roster.all()) if (!present.has(member.id)) this.#depart(member.id);
    for (const id of result.members) this.#arrive(id, result.hellos?.[id]);
    for (const member of this.#roster.all()) if (!member.away) member.flush(this.#peers.sendTo(member));
  };

  readonly #arrive = (id: string, raw: unknown, opened?: OpenedHello): void => {
    if (this.#leaving || this.#roster.get(id) !== undefined) return;
    const presence = this.#envelopes.read(id, raw);
    const early = this.#roster.takeStranger(id);
    // Our own previous session, not yet dropped by the server.
    if (presence.key === this.#key) return;
    const known = this.#roster.byKey(presence.key);
    if (known !== undefined) {
      this.#peers.returned(known, this.#roster.rename(known, id));
      if (known.peer !== undefined) this.#media.watch(known);
      for (const payload of early) this.#deliver(id, payload);
      return;
    }
    const member = this.#peers.create(id, presence, early, this.#envelopes);
    this.#roster.add(member);
    void this.#admit(member, presence, opened);
  };

  async #admit(member: Member, presence: Presence, known: OpenedHello | undefined): Promise<void> {
    const current = (candidate: Member): boolean => this.#roster.holds(candidate) && this.#leaving === undefined;
    const error = (failure: PeerKitError, about: Member): void => void this.emit('error', failure, about.id);
    if (await decideAdmission({ envelopes: this.#envelopes, admit: this.#options.admit, current, error }, member, presence, known)) {
      this.#peers.admit(member);
      this.#media.admitted(member);
    } else member.refuse();
  }

  readonly #deliver = (from: string, payload: unknown): void => {
    const member = this.#roster.get(from);
    if (member === undefined) return this.#roster.holdStranger(from, payload);
    member.receive(payload, (error) => this.emit('error', error, member.id));
  };

  /** A member left the transport. */
  readonly #depart = (id: string): void => {
    this.#roster.takeStranger(id);
    const member = this.#roster.get(id);
    if (member === undefined) return;
    // Its feed left the SFU with it: its play stops now, not when the play stalls.
    this.#media.forget(member);
    this.#peers.depart(member, this.#options.rejoinGraceMs ?? DEFAULT_REJOIN_GRACE_MS);
  };

  #remove(member: Member): void {
    this.#media.removed(member);
    this.#files.forget(member);
    member.dispose();
    this.#roster.remove(member);
    this.emit('leave', member.id);
  }

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
    const members = this.#roster.all();
    for (const member of members) this.#peers.farewell(member);
    await Promise.all([...members.map((member) => member.peer?.close()), this.#media.closeFeeds()]);
    this.#media.closeKeys();
    for (const member of members) member.dispose();
    this.#roster.clear();
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
