import { EventEmitter } from 'eventemitter3';
import { PeerKitError } from '../errors.js';
import type { Message, Sendable } from '../data/framing.js';
import { Peer } from '../peer/peer.js';
import type { PeerOptions } from '../peer/peer.js';
import type { JoinResult, SignalingTransport } from '../signaling/transport.js';
import { Envelopes, refusalError } from './envelope.js';
import type { OpenedHello, Presence } from './envelope.js';
import { Member } from './member.js';

/** Where a Room is in its life; it follows its transport. */
export type RoomState = 'joined' | 'reconnecting' | 'closed';

/** Options of {@link Room.join}; Peer options apply to every member's Peer. */
export interface RoomOptions extends Omit<PeerOptions, 'polite' | 'iceServers'> {
  /** Carries the signals: WebSocketTransport, BroadcastChannelTransport, MemoryTransport or your own. */
  transport: SignalingTransport;
  /**
   * STUN and TURN servers. When absent, the list the signaling server hands out on joining is
   * used, else none.
   * @default undefined
   */
  iceServers?: RTCIceServer[];
  /** Local media sent to every member, present and future. More can be added with `addStream`. @default undefined */
  stream?: MediaStream;
  /**
   * Any JSON value the others receive before connecting to this member (a display name, say):
   * the second argument of their `member` event and of their `admit`.
   * @default undefined
   */
  hello?: unknown;
  /**
   * Decides, before any connection is made, whether to connect to a member; a member refused
   * here is never connected and its signals are dropped. An `admit` that throws refuses.
   * @default every member is admitted
   */
  admit?: (id: string, hello: unknown) => boolean | Promise<boolean>;
  /**
   * A secret shared by the members, out of band: every signal and hello is then encrypted end to
   * end (AES-256-GCM, key from PBKDF2 over the secret and the room name), so the signaling server
   * and the transport see only ciphertext and routing fields. A member with another secret is
   * never connected; `join()` rejects with `UNAUTHORIZED` when no member present can be read.
   * @default undefined
   */
  secret?: string;
  /**
   * PBKDF2 iterations for the room key; every member must use the same number.
   * @default 600000
   */
  kdfIterations?: number;
  /**
   * How long a member that dropped off the signaling server while its Peer is still connected
   * is given to come back (it gets a new id then, and keeps its Peer), in ms. Data keeps flowing
   * meanwhile; after it, the Peer is closed.
   * @default 15000
   */
  rejoinGraceMs?: number;
}

/** Events of a Room. */
export interface RoomEvents {
  /** A member was admitted: here is its Peer, before it connects, so listeners can be added. */
  member: [peer: Peer, id: string, hello: unknown];
  /**
   * A member came back under a new id after a signaling reconnect (its or this member's) and
   * keeps its Peer: key any per-member state by Peer, or move it from `previousId` to `id`.
   */
  rejoin: [peer: Peer, id: string, previousId: string];
  /** A member's Peer closed and was removed: it left, vanished, or failed for good. */
  leave: [id: string];
  /** A message from a member's default channel. */
  data: [data: Message, from: string];
  /** A remote media track arrived from a member. */
  track: [track: MediaStreamTrack, streams: readonly MediaStream[], from: string];
  /** A remote MediaStream from a member was seen for the first time. */
  stream: [stream: MediaStream, from: string];
  /** The state changed. */
  state: [state: RoomState];
  /** Something failed that no call waits for; `from` names the member when it is about one. */
  error: [error: PeerKitError, from: string | undefined];
  /** The room was left, by `leave()` or because its transport closed for good. Once. */
  close: [];
}

function randomKey(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Signals kept from senders not (yet) known, and how many such senders. */
const MAX_STRANGER_SIGNALS = 64;
const MAX_STRANGERS = 64;

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
  readonly #key = randomKey();
  #envelopes!: Envelopes;
  /** Signals from ids not yet known: a transport may deliver them before the member's arrival is handled. */
  readonly #strangers = new Map<string, unknown[]>();
  #selfId = '';
  #iceServers: RTCIceServer[] = [];
  #state: RoomState = 'joined';
  #joined = false;
  /** By current member id. A member in its rejoin grace stays under its old id. */
  readonly #members = new Map<string, Member>();
  readonly #local: { track: MediaStreamTrack; stream: MediaStream }[] = [];
  #leaving: Promise<void> | undefined;

  private constructor(name: string, options: RoomOptions) {
    super();
    this.name = name;
    this.#options = { ...options };
    this.#transport = options.transport;
    if (options.stream !== undefined) for (const track of options.stream.getTracks()) this.#local.push({ track, stream: options.stream });
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
    if (typeof name !== 'string' || name.length === 0) throw new PeerKitError('BAD_ARGUMENT', 'a room needs a non-empty name');
    const transport = options?.transport;
    if (typeof transport?.join !== 'function' || typeof transport.send !== 'function' || typeof transport.on !== 'function') {
      throw new PeerKitError('BAD_ARGUMENT', 'options.transport must be a SignalingTransport');
    }
    if (options.admit !== undefined && typeof options.admit !== 'function') {
      throw new PeerKitError('BAD_ARGUMENT', 'options.admit must be a function');
    }
    if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length === 0)) {
      throw new PeerKitError('BAD_ARGUMENT', 'options.secret must be a non-empty string');
    }
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
    const peers = new Map<string, Peer>();
    for (const [id, member] of this.#members) if (member.peer !== undefined) peers.set(id, member.peer);
    return peers;
  }

  /** The hello member `id` joined with, if it gave one. */
  helloOf(id: string): unknown {
    return this.#members.get(id)?.hello;
  }

  /**
   * Sends to every member present, or to member `to` only, on the default channel. Messages to
   * a member still being admitted or connecting wait for its admission and its channel, so a
   * `send()` right after `join()` reaches everyone already there; a member refused gets nothing.
   *
   * @returns resolves when the message is handed to every channel; rejects with the first failure
   * @throws PeerKitError `CLOSED` after `leave()`, `BAD_ARGUMENT` for an unknown member
   */
  send(data: Sendable, to?: string): Promise<void> {
    this.#assertOpen('send()');
    if (to === undefined) {
      return Promise.all([...this.#members.values()].map((member) => member.send(data))).then(() => undefined);
    }
    const member = this.#members.get(to);
    if (member === undefined || member.refused) throw new PeerKitError('BAD_ARGUMENT', `no member ${String(to)} in room ${this.name}`);
    return member.send(data);
  }

  /** Sends every track of `stream` to every member, present and future. */
  addStream(stream: MediaStream): void {
    this.#assertOpen('addStream()');
    for (const track of stream.getTracks()) {
      if (this.#local.some((local) => local.track === track)) continue;
      this.#local.push({ track, stream });
      for (const peer of this.peers.values()) peer.addTrack(track, stream);
    }
  }

  /** Stops sending the tracks of `stream` to everyone. The tracks are not stopped. */
  removeStream(stream: MediaStream): void {
    this.#assertOpen('removeStream()');
    for (const local of this.#local.filter((l) => l.stream === stream)) {
      this.#local.splice(this.#local.indexOf(local), 1);
      for (const peer of this.peers.values()) if (peer.state !== 'closed') peer.removeTrack(local.track);
    }
  }

  /**
   * Swaps a sent track for another of the same kind for every member, without renegotiating
   * (switching cameras, sharing the screen instead of the camera).
   * @throws PeerKitError `BAD_ARGUMENT` when `oldTrack` is not being sent
   */
  async replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    this.#assertOpen('replaceTrack()');
    const local = this.#local.find((l) => l.track === oldTrack);
    if (local === undefined) throw new PeerKitError('BAD_ARGUMENT', `track ${oldTrack.id} is not being sent to the room`);
    local.track = newTrack;
    await Promise.all([...this.peers.values()].filter((peer) => peer.state !== 'closed').map((peer) => peer.replaceTrack(oldTrack, newTrack)));
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
    const transport = this.#transport;
    transport.on('member-joined', this.#arrive, this);
    transport.on('member-left', this.#depart, this);
    transport.on('message', this.#deliver, this);
    transport.on('joined', this.#rejoin, this);
    transport.on('state', this.#follow, this);
    transport.on('error', this.#onTransportError, this);
    globalThis.addEventListener?.('pagehide', this.#onPageHide);
    let result: JoinResult;
    let opened: OpenedHello[] | undefined;
    try {
      this.#envelopes = await Envelopes.create(this.name, this.#key, this.#options.secret, this.#options.kdfIterations);
      result = await transport.join(this.name, { hello: await this.#envelopes.presence(this.#options.hello) });
      opened = await this.#checkSecret(result);
    } catch (error) {
      this.#state = 'closed';
      this.#unlisten();
      await transport.close();
      throw error instanceof PeerKitError ? error : new PeerKitError('TRANSPORT_ERROR', 'the transport failed to join', { cause: error });
    }
    this.#joined = true;
    this.#selfId = result.selfId;
    this.#iceServers = this.#options.iceServers ?? result.iceServers ?? [];
    result.members.forEach((id, i) => this.#arrive(id, result.hellos?.[id], opened?.[i]));
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
    for (const member of this.#members.values()) member.peer?.connection.close();
    void this.leave();
  };

  #unlisten(): void {
    const transport = this.#transport;
    transport.off('member-joined', this.#arrive, this);
    transport.off('member-left', this.#depart, this);
    transport.off('message', this.#deliver, this);
    transport.off('joined', this.#rejoin, this);
    transport.off('state', this.#follow, this);
    transport.off('error', this.#onTransportError, this);
    globalThis.removeEventListener?.('pagehide', this.#onPageHide);
  }

  /** The transport joined again, under a new id: members still connected are kept, by session key. */
  #rejoin(result: JoinResult): void {
    if (!this.#joined || this.#leaving) return;
    this.#selfId = result.selfId;
    const present = new Set(result.members);
    for (const member of [...this.#members.values()]) if (!present.has(member.id)) this.#depart(member.id);
    for (const id of result.members) this.#arrive(id, result.hellos?.[id]);
    for (const member of this.#members.values()) if (!member.away) member.flush(this.#sendTo(member));
  }

  #arrive(id: string, raw: unknown, opened?: OpenedHello): void {
    if (this.#leaving || this.#members.has(id)) return;
    const presence = this.#envelopes.read(id, raw);
    const early = this.#strangers.get(id) ?? [];
    this.#strangers.delete(id);
    // Our own previous session, not yet dropped by the server.
    if (presence.key === this.#key) return;
    const known = [...this.#members.values()].find((member) => member.key === presence.key);
    if (known !== undefined) {
      this.#members.delete(known.id);
      const previousId = known.id;
      known.returned(id);
      this.#members.set(id, known);
      if (known.peer !== undefined) this.emit('rejoin', known.peer, id, previousId);
      known.flush(this.#sendTo(known));
      for (const payload of early) this.#deliver(id, payload);
      return;
    }
    const member = new Member(id, presence.key, early, this.#envelopes);
    this.#members.set(id, member);
    void this.#admit(member, presence, opened);
  }

  async #admit(member: Member, presence: Presence, known: OpenedHello | undefined): Promise<void> {
    // A task later, so that `member` events for those present at joining reach listeners added
    // right after `await Room.join()`; their signals wait in the inbox meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const opened = known ?? (await this.#envelopes.openHello(presence));
    let admitted = 'hello' in opened;
    if ('hello' in opened) member.hello = opened.hello;
    else if (this.#members.get(member.id) === member && !this.#leaving) this.emit('error', refusalError(member.id, opened.refusal), member.id);
    const { admit } = this.#options;
    if (admitted && admit !== undefined) {
      try {
        admitted = (await admit(member.id, member.hello)) === true;
      } catch (cause) {
        admitted = false;
        this.emit('error', new PeerKitError('BAD_ARGUMENT', 'options.admit threw; the member is refused', { cause }), member.id);
      }
    }
    if (!admitted || this.#members.get(member.id) !== member || this.#leaving) return member.refuse();
    const peer = this.#connect(member);
    this.emit('member', peer, member.id, member.hello);
    member.admitted(peer, (error) => this.emit('error', error, member.id));
  }

  #connect(member: Member): Peer {
    const { transport: _t, stream: _s, hello: _h, admit: _a, rejoinGraceMs: _g, iceServers: _i, secret: _k, kdfIterations: _n, ...peerOptions } = this.#options;
    // Both sides compare the same two session keys, so exactly one of each pair is polite.
    const peer = new Peer({ ...peerOptions, iceServers: this.#iceServers, polite: this.#key > member.key });
    peer.on('signal', (signal) => member.transmit(signal, this.#sendTo(member)));
    // Off the transport, nothing can restart ICE with it: a link that degrades is gone for good.
    peer.on('state', (state) => {
      if (member.away && state !== 'connected') void peer.close();
    });
    peer.on('data', (data) => this.emit('data', data, member.id));
    peer.on('track', (track, streams) => this.emit('track', track, streams, member.id));
    peer.on('stream', (stream) => this.emit('stream', stream, member.id));
    peer.on('error', (error) => this.emit('error', error, member.id));
    peer.on('close', () => this.#remove(member));
    for (const { track, stream } of this.#local) peer.addTrack(track, stream);
    return peer;
  }

  /**
   * How signals reach `member`: held while it is away or while our transport is not joined (the
   * transport's own queue would address them to ids that a re-join makes stale), dropped once it
   * left or the transport closed.
   */
  #sendTo(member: Member): (id: string, payload: unknown) => boolean {
    return (id, payload) => {
      const state = this.#transport.state;
      if (this.#members.get(id) !== member || state === 'closed') return true;
      if (member.away || state !== 'joined') return false;
      this.#transport.send(id, payload);
      return true;
    };
  }

  #deliver(from: string, payload: unknown): void {
    const member = this.#members.get(from);
    if (member === undefined) {
      const held = this.#strangers.get(from) ?? [];
      if (held.length < MAX_STRANGER_SIGNALS && (held.length > 0 || this.#strangers.size < MAX_STRANGERS)) {
        held.push(payload);
        this.#strangers.set(from, held);
      }
      return;
    }
    member.receive(payload, (error) => this.emit('error', error, member.id));
  }

  /** A member left the transport. A Peer still connected gets a grace period to come back. */
  #depart(id: string): void {
    this.#strangers.delete(id);
    const member = this.#members.get(id);
    if (member === undefined || member.away) return;
    const state = member.peer?.state;
    if (state === 'connected' || state === 'reconnecting') {
      member.graceTimer = setTimeout(() => void member.peer?.close(), this.#options.rejoinGraceMs ?? 15_000);
      return;
    }
    this.#members.delete(id);
    if (member.peer === undefined) return;
    // Unmapped first: its `bye` has nowhere to go.
    void member.peer.close();
  }

  #remove(member: Member): void {
    clearTimeout(member.graceTimer);
    if (this.#members.get(member.id) === member) this.#members.delete(member.id);
    this.emit('leave', member.id);
  }

  #follow(state: string): void {
    if (this.#leaving) return;
    if (state === 'joined' || state === 'reconnecting') this.#setState(state);
    else if (state === 'closed' && this.#joined) {
      this.emit('error', new PeerKitError('TRANSPORT_CLOSED', 'the signaling transport closed; leaving the room'), undefined);
      void this.leave();
    }
  }

  async #release(): Promise<void> {
    this.#setState('closed');
    const members = [...this.#members.values()];
    // Messages waiting on an `admit` still deciding have no one to go to now.
    for (const member of members) if (member.peer === undefined) member.refuse();
    await Promise.all(members.map((member) => member.peer?.close()));
    for (const member of members) clearTimeout(member.graceTimer);
    this.#members.clear();
    this.#strangers.clear();
    this.#unlisten();
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
