import type { EventEmitter } from 'eventemitter3';
import type { PeerKitError } from '../errors.js';
import type { JoinResult, SignalingTransport } from '../signaling/transport.js';
import { decideAdmission } from './admission.js';
import { Envelopes } from './envelope.js';
import type { OpenedHello, Presence } from './envelope.js';
import type { RoomEvents } from './events.js';
import type { RoomFiles } from './files.js';
import type { Member } from './member.js';
import { MemberPeers } from './member-peers.js';
import { DEFAULT_REJOIN_GRACE_MS, peerOptionsOf } from './options.js';
import type { RoomOptions } from './options.js';
import type { RoomMedia } from './room-media.js';
import { Roster } from './roster.js';

/** What {@link RoomMembers} needs from its Room. */
export interface RoomMembersHost {
  events: EventEmitter<RoomEvents>;
  options: RoomOptions;
  /** This member's session key. */
  key: string;
  transport: SignalingTransport;
  media: RoomMedia;
  files: RoomFiles;
  iceServers(): RTCIceServer[];
  /** Whether this member is leaving the room. */
  leaving(): boolean;
}

/**
 * A Room's members as the transport reports them: each one's arrival (a new member, or one
 * come back under a new id, known by its session key), admission, messages (held while the
 * sender is still a stranger), departure and removal.
 */
export class RoomMembers {
  readonly roster = new Roster();
  readonly peers: MemberPeers;
  /** Set by {@link seal}, before the transport joins. */
  envelopes!: Envelopes;

  constructor(private readonly host: RoomMembersHost) {
    const { events, options, key, media, files } = host;
    this.peers = new MemberPeers({
      events,
      transport: () => host.transport,
      // Both sides compare the same two session keys, so exactly one of each pair is polite.
      peerOptions: (member) => peerOptionsOf(options, host.iceServers(), key > member.key),
      attachMedia: (peer) => {
        media.attach(peer);
        files.wire(peer);
      },
      lookup: (id) => this.roster.get(id),
      leaving: () => host.leaving(),
      forget: (member) => this.roster.remove(member),
      remove: (member) => this.#remove(member),
      key: (member, signal) => media.receiveKey(member, signal),
    });
  }

  /** This member's hello, sealed with the room's keys, for the transport to join with. */
  async seal(name: string): Promise<unknown> {
    const { key, options } = this.host;
    this.envelopes = await Envelopes.create(name, key, options.secret, options.kdfIterations);
    return this.envelopes.presence(options.hello);
  }

  /** The transport joined again: members gone meanwhile depart, members still connected are kept. */
  rejoined(result: JoinResult): void {
    const present = new Set(result.members);
    for (const member of this.roster.all()) if (!present.has(member.id)) this.depart(member.id);
    for (const id of result.members) this.arrive(id, result.hellos?.[id]);
    for (const member of this.roster.all()) if (!member.away) member.flush(this.peers.sendTo(member));
  }

  readonly arrive = (id: string, raw: unknown, opened?: OpenedHello): void => {
    if (this.host.leaving() || this.roster.get(id) !== undefined) return;
    const presence = this.envelopes.read(id, raw);
    const early = this.roster.takeStranger(id);
    // Our own previous session, not yet dropped by the server.
    if (presence.key === this.host.key) return;
    const known = this.roster.byKey(presence.key);
    if (known !== undefined) {
      this.peers.returned(known, this.roster.rename(known, id));
      if (known.peer !== undefined) this.host.media.watch(known);
      for (const payload of early) this.deliver(id, payload);
      return;
    }
    const member = this.peers.create(id, presence, early, this.envelopes);
    this.roster.add(member);
    void this.#admit(member, presence, opened);
  };

  async #admit(member: Member, presence: Presence, known: OpenedHello | undefined): Promise<void> {
    const current = (candidate: Member): boolean => this.roster.holds(candidate) && !this.host.leaving();
    const error = (failure: PeerKitError, about: Member): void => void this.host.events.emit('error', failure, about.id);
    if (await decideAdmission({ envelopes: this.envelopes, admit: this.host.options.admit, current, error }, member, presence, known)) {
      this.peers.admit(member);
      this.host.media.admitted(member);
    } else member.refuse();
  }

  readonly deliver = (from: string, payload: unknown): void => {
    const member = this.roster.get(from);
    if (member === undefined) return this.roster.holdStranger(from, payload);
    member.receive(payload, (error) => this.host.events.emit('error', error, member.id));
  };

  /** A member left the transport. */
  readonly depart = (id: string): void => {
    this.roster.takeStranger(id);
    const member = this.roster.get(id);
    if (member === undefined) return;
    // Its feed left the SFU with it: its play stops now, not when the play stalls.
    this.host.media.forget(member);
    this.peers.depart(member, this.host.options.rejoinGraceMs ?? DEFAULT_REJOIN_GRACE_MS);
  };

  /** This member leaves: each member is told, and its Peer closed along with `alongside`. */
  async close(alongside: Promise<void>): Promise<void> {
    const members = this.roster.all();
    for (const member of members) this.peers.farewell(member);
    await Promise.all([...members.map((member) => member.peer?.close()), alongside]);
    for (const member of members) member.dispose();
    this.roster.clear();
  }

  #remove(member: Member): void {
    this.host.media.removed(member);
    this.host.files.forget(member);
    member.dispose();
    this.roster.remove(member);
    this.host.events.emit('leave', member.id);
  }
}
