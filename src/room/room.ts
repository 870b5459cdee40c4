import { EventEmitter } from 'eventemitter3';
import { PeerKitError } from '../errors.js';
import { encode } from '../data/framing.js';
import type { Sendable } from '../data/framing.js';
import { Peer } from '../peer/peer.js';
import { SIGNAL_VERSION } from '../signaling/signal.js';
import type { Signal } from '../signaling/signal.js';
import type { JoinResult, SignalingTransport, TransportState } from '../signaling/transport.js';
import { backoffDelay, randomHex } from '../util.js';
import { decideAdmission } from './admission.js';
import type { AdmissionContext } from './admission.js';
import { Courier } from './courier.js';
import { Envelopes } from './envelope.js';
import type { OpenedHello, OpenedSignal, Presence } from './envelope.js';
import type { RoomEvents, RoomState } from './events.js';
import { LocalMedia } from './local-media.js';
import { Member } from './member.js';
import { DEFAULT_REJOIN_GRACE_MS, checkRoomOptions, peerOptionsOf } from './options.js';
import type { RoomOptions } from './options.js';
import { Roster } from './roster.js';

export type { RoomOptions } from './options.js';
export type { RoomEvents, RoomState } from './events.js';

/**
 * Rebuilt Peers in a row that may close without ever connecting before the member is given up
 * (`leave`), and the backoff between rebuilds: a first rebuild comes after 100 to 200 ms.
 */
const MAX_REBUILD_FAILURES = 5;
const REBUILD_DELAY_MS = 200;
const MAX_REBUILD_DELAY_MS = 10_000;

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
export class Room extends EventEmitter<RoomEvents> {
  /** The room's name. */
  readonly name: string;
  readonly #transport: SignalingTransport;
  readonly #options: RoomOptions;
  /** This member's session key: random, kept across signaling reconnects. */
  readonly #key = randomHex();
  readonly #roster = new Roster();
  readonly #media: LocalMedia;
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
    this.#media = new LocalMedia(options.stream);
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

  /** The admitted members' Peers, by member id. A new map on each read. */
  get peers(): ReadonlyMap<string, Peer> {
    return this.#roster.peers();
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
   * At most 1,000 messages or 16 MiB wait unacknowledged per member;
   * past that, the message is sent to no one and the promise rejects with `BACKLOG_FULL`, so
   * awaiting each `send()` never meets the bound on a working connection.
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
    const out = encode(data);
    // All or none: a message refused for one member is sent to no one, so sending it again later
    // duplicates nothing.
    const refusal = out instanceof PeerKitError ? out : members.map((member) => member.courier?.refusal(out.size)).find((r) => r !== undefined);
    if (refusal !== undefined || out instanceof PeerKitError) return Promise.reject(refusal);
    return Promise.all(members.map((member) => member.send(data, out))).then(() => undefined);
  }

  /** Sends every track of `stream` to every member, present and future. */
  addStream(stream: MediaStream): void {
    this.#assertOpen('addStream()');
    this.#media.add(stream, this.peers.values());
  }

  /** Stops sending the tracks of `stream` to everyone. The tracks are not stopped. */
  removeStream(stream: MediaStream): void {
    this.#assertOpen('removeStream()');
    this.#media.remove(stream, this.peers.values());
  }

  /**
   * Swaps a sent track for another of the same kind for every member, without renegotiating
   * (switching cameras, sharing the screen instead of the camera).
   * @throws PeerKitError `BAD_ARGUMENT` when `oldTrack` is not being sent
   */
  async replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    this.#assertOpen('replaceTrack()');
    await this.#media.replace(oldTrack, newTrack, this.peers.values());
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
      this.#envelopes = await Envelopes.create(this.name, this.#key, this.#options.secret, this.#options.kdfIterations);
      result = await this.#transport.join(this.name, { hello: await this.#envelopes.presence(this.#options.hello) });
      opened = await this.#checkSecret(result);
    } catch (error) {
      this.#state = 'closed';
      this.#listen(false);
      await this.#transport.close();
      throw error instanceof PeerKitError ? error : new PeerKitError('TRANSPORT_ERROR', 'the transport failed to join', { cause: error });
    }
    this.#joined = true;
    this.#selfId = result.selfId;
    this.#iceServers = this.#options.iceServers ?? result.iceServers ?? [];
    result.members.forEach((id, i) => this.#arrive(id, result.hellos?.[id], opened?.[i]));
  }

  /** Adds (`on`) or removes every listener the Room puts on its transport and the page. */
  #listen(on: boolean): void {
    const transport = this.#transport;
    if (on) {
      transport.on('member-joined', this.#arrive);
      transport.on('member-left', this.#depart);
      transport.on('message', this.#deliver);
      transport.on('joined', this.#rejoin);
      transport.on('state', this.#follow);
      transport.on('error', this.#onTransportError);
      globalThis.addEventListener?.('pagehide', this.#onPageHide);
      return;
    }
    transport.off('member-joined', this.#arrive);
    transport.off('member-left', this.#depart);
    transport.off('message', this.#deliver);
    transport.off('joined', this.#rejoin);
    transport.off('state', this.#follow);
    transport.off('error', this.#onTransportError);
    globalThis.removeEventListener?.('pagehide', this.#onPageHide);
  }

  /**
   * With a secret, a room where no member present can be read means the secret is wrong.
   * @returns the hellos opened, in the order of `result.members`, so they are not opened twice
   */
  async #checkSecret(result: JoinResult): Promise<OpenedHello[] | undefined> {
    if (!this.#envelopes.sealed || result.members.length === 0) return undefined;
    const opened = await Promise.all(
      result.members.map((id) => this.#envelopes.openHello(this.#envelopes.read(id, result.hellos?.[id]))),
    );
    if (opened.some((outcome) => 'hello' in outcome)) return opened;
    throw new PeerKitError('UNAUTHORIZED', `none of the ${result.members.length} members of room ${this.name} could be read with this secret; it is not the room's`);
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
    this.#selfId = result.selfId;
    const present = new Set(result.members);
    for (const member of this.#roster.all()) if (!present.has(member.id)) this.#depart(member.id);
    for (const id of result.members) this.#arrive(id, result.hellos?.[id]);
    for (const member of this.#roster.all()) if (!member.away) member.flush(this.#sendTo(member));
  };

  readonly #arrive = (id: string, raw: unknown, opened?: OpenedHello): void => {
    if (this.#leaving || this.#roster.get(id) !== undefined) return;
    const presence = this.#envelopes.read(id, raw);
    const early = this.#roster.takeStranger(id);
    // Our own previous session, not yet dropped by the server.
    if (presence.key === this.#key) return;
    const known = this.#roster.byKey(presence.key);
    if (known !== undefined) {
      const previousId = known.id;
      this.#roster.rename(known, id);
      if (known.peer !== undefined) this.emit('rejoin', known.peer, id, previousId);
      known.flush(this.#sendTo(known));
      for (const payload of early) this.#deliver(id, payload);
      return;
    }
    const courier = presence.room
      ? new Courier(
          (data) => this.emit('data', data, member.id),
          (error) => this.emit('error', error, member.id),
        )
      : undefined;
    const member: Member = new Member(id, presence.key, early, this.#envelopes, this.#route, courier);
    this.#roster.add(member);
    void this.#admit(member, presence, opened);
  };

  async #admit(member: Member, presence: Presence, known: OpenedHello | undefined): Promise<void> {
    const context: AdmissionContext = {
      envelopes: this.#envelopes,
      admit: this.#options.admit,
      current: (candidate) => this.#roster.holds(candidate) && this.#leaving === undefined,
      error: (error, about) => void this.emit('error', error, about.id),
    };
    if (!(await decideAdmission(context, member, presence, known))) return member.refuse();
    const peer = this.#connect(member);
    this.emit('member', peer, member.id, member.hello);
    member.admitted(peer, (error) => this.emit('error', error, member.id));
  }

  #connect(member: Member): Peer {
    const g = member.generation;
    // Both sides compare the same two session keys, so exactly one of each pair is polite.
    const peer = new Peer(peerOptionsOf(this.#options, this.#iceServers, this.#key > member.key));
    member.peer = peer;
    peer.on('signal', (signal) =>
      member.transmit(signal, this.#sendTo(member), { g, end: signal.kind === 'bye' && this.#leaving !== undefined }),
    );
    // Off the transport, nothing can restart ICE with it: a link that degrades is gone for good.
    peer.on('state', (state) => {
      if (member.away && state !== 'connected') void peer.close();
    });
    let connected = false;
    peer.on('connect', () => {
      connected = true;
      member.failures = 0;
    });
    peer.on('data', (data) => this.emit('data', data, member.id));
    peer.on('track', (track, streams) => this.emit('track', track, streams, member.id));
    peer.on('stream', (stream) => this.emit('stream', stream, member.id));
    peer.on('error', (error) => this.emit('error', error, member.id));
    peer.on('close', () => this.#closed(member, peer, connected));
    member.courier?.attach(peer);
    this.#media.attach(peer);
    return peer;
  }

  /** A signal from `member`, opened: to the Peer it belongs to, replacing ours if the remote has a newer one. */
  readonly #route = (member: Member, opened: OpenedSignal): void => {
    if (opened.g < member.generation) return;
    if (opened.end) member.leaving = true;
    if (opened.g > member.generation) {
      if (!this.#rebuildable(member)) return;
      this.#rebuild(member, opened.g);
    }
    member.peer?.signal(opened.signal as Signal);
  };

  /** Whether a Peer of `member` that closed is to be replaced, rather than the member removed. */
  #rebuildable(member: Member): boolean {
    return member.courier !== undefined && !member.leaving && !member.away && !member.refused && this.#roster.holds(member) && this.#leaving === undefined;
  }

  /**
   * A Peer of `member` closed. A Peer already replaced closes quietly; otherwise the member is
   * removed, or, while it stays in the room, given a new Peer after a short backoff (the remote
   * does the same, and whichever new Peer speaks first sets the generation for both).
   */
  #closed(member: Member, peer: Peer, connected: boolean): void {
    if (member.peer !== peer) return;
    if (!connected) member.failures++;
    if (!this.#rebuildable(member) || member.failures > MAX_REBUILD_FAILURES) return this.#remove(member);
    member.rebuildAfter(backoffDelay(member.failures, REBUILD_DELAY_MS, MAX_REBUILD_DELAY_MS, 'half'), () => {
      if (this.#rebuildable(member)) this.#rebuild(member, member.generation + 1);
      else this.#remove(member);
    });
  }

  /** Replaces the Peer of `member` with generation `g`; the old one, if still open, is closed. */
  #rebuild(member: Member, g: number): void {
    member.cancelRebuild();
    const old = member.peer;
    member.generation = g;
    const peer = this.#connect(member);
    void old?.close();
    this.emit('rebuild', peer, member.id);
  }

  /**
   * How signals reach `member`: held while it is away or while our transport is not joined (the
   * transport's own queue would address them to ids that a re-join makes stale), dropped once it
   * left or the transport closed.
   */
  #sendTo(member: Member): (id: string, payload: unknown) => boolean {
    return (id, payload) => {
      const state = this.#transport.state;
      if (this.#roster.get(id) !== member || state === 'closed') return true;
      if (member.away || state !== 'joined') return false;
      this.#transport.send(id, payload);
      return true;
    };
  }

  readonly #deliver = (from: string, payload: unknown): void => {
    const member = this.#roster.get(from);
    if (member === undefined) return this.#roster.holdStranger(from, payload);
    member.receive(payload, (error) => this.emit('error', error, member.id));
  };

  /** A member left the transport. A Peer still connected gets a grace period to come back. */
  readonly #depart = (id: string): void => {
    this.#roster.takeStranger(id);
    const member = this.#roster.get(id);
    if (member === undefined || member.away) return;
    const state = member.peer?.state;
    if (state === 'connected' || state === 'reconnecting') {
      member.departed(this.#options.rejoinGraceMs ?? DEFAULT_REJOIN_GRACE_MS, () => void member.peer?.close());
      return;
    }
    this.#roster.remove(member);
    // Its Peer closed already, and a rebuild was waiting: nothing else will say it left.
    if (state === 'closed') return this.#remove(member);
    // Unmapped first: its `bye` has nowhere to go.
    void member.peer?.close();
  };

  #remove(member: Member): void {
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
    // Messages waiting on an `admit` still deciding have no one to go to now.
    for (const member of members) if (member.peer === undefined) member.refuse();
    // Said before the Peers close, so the others remove this member rather than rebuild its Peer
    // when its channels close.
    for (const member of members) {
      if (member.peer !== undefined) member.transmit({ v: SIGNAL_VERSION, kind: 'bye' }, this.#sendTo(member), { g: member.generation, end: true });
    }
    await Promise.all(members.map((member) => member.peer?.close()));
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
