import type { EventEmitter } from 'eventemitter3';
import type { Peer } from '../peer/peer.js';
import type { WhepSession, WhipSession } from '../whip/index.js';
import type { RoomEvents, RoomMediaMode } from './events.js';
import type { LocalMedia } from './local-media.js';
import { received, sleep } from './media-flow.js';
import type { StatsSource } from './media-flow.js';
import type { Member } from './member.js';
import type { MediaKeys } from './media-keys.js';
import { SfuMedia } from './sfu-media.js';
import type { SfuEndpoints } from './sfu-media.js';

/** How often the member count is read, and how long a new count must hold before the media moves. */
const COUNT_EVERY_MS = 100;
const COUNT_HOLD_MS = 300;
/** How often a switch looks at the stats of the route it moves to. */
const SAMPLE_EVERY_MS = 100;
/** The old route is given up this long after a switch began even if the new one never flowed. */
const SWITCH_TIMEOUT_MS = 10_000;
/**
 * The old route stays up this long after the new one flows here: the others started the same
 * switch at about the same moment, but a play of this member's feed that asked before the feed
 * was live waits out its 409 backoff (up to seconds). With 1.5 s, streams paused up to 1.3 s
 * between five browsers on two cores.
 */
const OVERLAP_MS = 3000;

/** What {@link MediaMode} needs from its Room. */
export interface MediaModeHost {
  events: EventEmitter<RoomEvents>;
  /** Every member in the room as presence reports it, admitted or not. */
  members(): Member[];
  /** The mesh fan-out of the local media. */
  local: LocalMedia;
  iceServers(): RTCIceServer[];
  /** With a `secret`: the SFrame keys that encrypt this member's SFU media end to end. */
  keys: MediaKeys | undefined;
}

/**
 * `media: 'auto'`: the room's media goes member to member (mesh) while the room has at most
 * `limit` members, and through the server's SFU beyond, moving without anyone re-joining.
 *
 * Every member decides alone, from the same input: the number of members presence reports (itself
 * included), held for {@link COUNT_HOLD_MS}, so all members reach the same mode. Each move is
 * make-before-break: to the SFU, this member publishes and plays everyone, and pauses its mesh
 * senders (`replaceTrack(null)`, no renegotiation) only once those plays decode; back to the mesh,
 * it resumes the senders, and ends each play once that member's mesh media decodes here, then its
 * publish. Data stays on the members' Peers throughout.
 */
export class MediaMode {
  #mode: RoomMediaMode;
  #sfu: SfuMedia | undefined;
  #endpoints: SfuEndpoints;
  #selfId: string;
  #stream: MediaStream | undefined;
  /** Each switch's number: a switch overtaken by the next one stops where it is. */
  #switch = 0;
  #since: number | undefined;
  #closed = false;
  readonly #counter: ReturnType<typeof setInterval>;
  /** Peers the local media was attached to; those made while the media went through the SFU were not. */
  readonly #attached = new WeakSet<Peer>();
  /** Mesh senders paused while the media goes through the SFU, and the track each sent. */
  readonly #paused = new Map<RTCRtpSender, MediaStreamTrack>();
  #muted = false;
  /** Each member's stream over its Peer, and the stream the Room last announced for it. */
  readonly #meshStreams = new WeakMap<Member, MediaStream>();
  readonly #announced = new WeakMap<Member, MediaStream>();

  constructor(
    private readonly host: MediaModeHost,
    private readonly limit: number,
    endpoints: SfuEndpoints,
    selfId: string,
    stream: MediaStream | undefined,
    /** Members present when this member joined, itself included. */
    count: number,
  ) {
    this.#endpoints = endpoints;
    this.#selfId = selfId;
    this.#stream = stream;
    this.#mode = count > limit ? 'sfu' : 'mesh';
    // Joining a room already past the limit: straight to the SFU, the mesh never carries media.
    if (this.#mode === 'sfu') this.#sfu = this.#openSfu();
    this.#muted = this.#mode === 'sfu';
    host.events.on('stream', this.#onStream);
    this.#counter = setInterval(this.#count, COUNT_EVERY_MS);
  }

  /** Where the media goes now (the target of a switch under way). */
  get mode(): RoomMediaMode {
    return this.#mode;
  }

  /** The SFU sessions while there are any (through the SFU, or moving to or from it). */
  sessions(): { publish: WhipSession | undefined; plays: Map<string, WhepSession> } | undefined {
    return this.#sfu?.sessions();
  }

  /** A new Peer: it carries the local media while the room is a mesh. */
  attach(peer: Peer): void {
    if (this.#muted) return;
    this.host.local.attach(peer);
    this.#attached.add(peer);
  }

  /** `member` was admitted, or came back under a new id: played through the SFU when the room uses it. */
  watch(member: Member): void {
    if (this.#sfu !== undefined && (this.#mode === 'sfu' || this.#sfu.watching(member))) this.#sfu.watch(member);
  }

  /** `member` left, or is away from the transport: its play ends. */
  forget(member: Member): void {
    this.#sfu?.forget(member);
  }

  /** The transport re-joined under a new id, with new endpoints. */
  rejoined(endpoints: SfuEndpoints, selfId: string): void {
    this.#endpoints = endpoints;
    this.#selfId = selfId;
    this.#sfu?.rejoined(endpoints, selfId);
  }

  /** Sends `stream` on both routes: the mesh (paused while the SFU carries the media) and the SFU. */
  add(stream: MediaStream): void {
    if (this.#stream === undefined) {
      this.#sfu?.add(stream);
      this.#stream = stream;
    }
    this.host.local.add(stream, this.#attachedPeers());
    if (this.#muted) this.#pause();
  }

  /** Stops sending `stream` on both routes. */
  remove(stream: MediaStream): void {
    this.host.local.remove(stream, this.#attachedPeers());
    const gone = stream.getTracks();
    for (const [sender, track] of this.#paused) if (gone.includes(track)) this.#paused.delete(sender);
    if (stream === this.#stream) {
      this.#sfu?.remove();
      this.#stream = undefined;
    }
  }

  /** Swaps a sent track on both routes; a paused mesh sender stays paused. */
  async replace(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    await this.host.local.replace(oldTrack, newTrack, this.#attachedPeers());
    for (const [sender, track] of this.#paused) if (track === oldTrack) this.#paused.set(sender, newTrack);
    if (this.#muted) this.#pause();
    if (this.#stream?.getTracks().includes(oldTrack) === true) {
      this.#stream = new MediaStream(this.#stream.getTracks().map((track) => (track === oldTrack ? newTrack : track)));
      await this.#sfu?.replace(oldTrack, newTrack);
    }
  }

  /** Stops switching, and ends the SFU sessions (DELETE each). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#switch++;
    clearInterval(this.#counter);
    this.host.events.off('stream', this.#onStream);
    const sfu = this.#sfu;
    this.#sfu = undefined;
    await sfu?.close();
  }

  readonly #count = (): void => {
    const want: RoomMediaMode = 1 + this.host.members().length > this.limit ? 'sfu' : 'mesh';
    if (want === this.#mode) return void (this.#since = undefined);
    this.#since ??= Date.now();
    if (Date.now() - this.#since < COUNT_HOLD_MS) return;
    this.#since = undefined;
    this.#mode = want;
    const n = ++this.#switch;
    this.host.events.emit('mode', want);
    // Without SFrame keys, the SFU route is hop-by-hop: room.encryption changes with the mode.
    if (this.host.keys === undefined) this.host.events.emit('encryption', { media: want === 'sfu' ? 'hop-by-hop' : 'e2ee', keyEpoch: 0 });
    void (want === 'sfu' ? this.#toSfu(n) : this.#toMesh(n));
  };

  /** Publishes and plays everyone through the SFU; once those plays decode here, pauses the mesh senders. */
  async #toSfu(n: number): Promise<void> {
    const sfu = (this.#sfu ??= this.#openSfu());
    for (const member of this.#admitted()) if (!sfu.watching(member)) sfu.watch(member);
    const base = new Map<object, number>();
    const moved = await this.#settle(n, async () => {
      const sessions = sfu.sessions();
      if (this.#stream !== undefined && sessions.publish?.state !== 'connected') return false;
      for (const member of this.#admitted()) {
        // A member that sends nothing over the mesh has nothing to wait for through the SFU.
        if ((await received(member.peer?.connection)) === 0) continue;
        if (!(await this.#flowing(base, sessions.plays.get(member.id)))) return false;
      }
      return true;
    });
    if (moved) {
      this.#muted = true;
      this.#pause();
    }
  }

  /** Resumes the mesh senders; ends each play once that member's mesh media decodes here, then the publish. */
  async #toMesh(n: number): Promise<void> {
    this.#muted = false;
    this.#resume();
    const base = new Map<object, number>();
    const moved = await this.#settle(n, async () => {
      let all = true;
      for (const member of this.#admitted()) {
        if (this.#sfu?.watching(member) !== true) continue;
        if (await this.#flowing(base, member.peer?.connection)) this.#backToMesh(member);
        else all = false;
      }
      return all;
    });
    if (!moved) return;
    for (const member of this.#admitted()) if (this.#sfu?.watching(member) === true) this.#backToMesh(member);
    const sfu = this.#sfu;
    this.#sfu = undefined;
    await sfu?.close();
  }

  /**
   * Waits until `done` (sampled every {@link SAMPLE_EVERY_MS}) or {@link SWITCH_TIMEOUT_MS}, then
   * {@link OVERLAP_MS} more. @returns false when a newer switch (or close) overtook this one
   */
  async #settle(n: number, done: () => Promise<boolean>): Promise<boolean> {
    const current = (): boolean => n === this.#switch && !this.#closed;
    const until = Date.now() + SWITCH_TIMEOUT_MS;
    while (current() && Date.now() < until && !(await done())) await sleep(SAMPLE_EVERY_MS);
    if (!current()) return false;
    await sleep(OVERLAP_MS);
    return current();
  }

  /** Whether `source` received more since it was first sampled (its baseline kept in `base`). */
  async #flowing(base: Map<object, number>, source: StatsSource | undefined): Promise<boolean> {
    if (source === undefined) return false;
    const now = await received(source);
    const first = base.get(source);
    if (first === undefined) base.set(source, now);
    return first !== undefined && now > first;
  }

  /** `member`'s media flows over its Peer again: its mesh stream is announced again if the SFU's replaced it, and its play ends. */
  #backToMesh(member: Member): void {
    const stream = this.#meshStreams.get(member);
    this.#sfu?.forget(member);
    if (stream === undefined || this.#announced.get(member) === stream) return;
    for (const track of stream.getTracks()) this.host.events.emit('track', track, [stream], member.id);
    this.host.events.emit('stream', stream, member.id);
  }

  /** Notes each stream the Room announces, and which of them came over a member's Peer. */
  readonly #onStream = (stream: MediaStream, id: string): void => {
    const member = this.host.members().find((m) => m.id === id);
    if (member === undefined) return;
    this.#announced.set(member, stream);
    const tracks = stream.getTracks();
    if (member.peer?.connection.getReceivers().some((receiver) => tracks.includes(receiver.track)) === true) this.#meshStreams.set(member, stream);
  };

  #pause(): void {
    for (const peer of this.#attachedPeers()) {
      for (const sender of peer.connection.getSenders()) {
        const track = sender.track;
        if (track === null) continue;
        this.#paused.set(sender, track);
        // Rejected only once the connection closed, when there is nothing left to pause.
        sender.replaceTrack(null).catch(() => undefined);
      }
    }
  }

  #resume(): void {
    for (const [sender, track] of this.#paused) sender.replaceTrack(track).catch(() => undefined);
    this.#paused.clear();
    for (const member of this.#admitted()) {
      const peer = member.peer;
      if (peer !== undefined && peer.state !== 'closed' && !this.#attached.has(peer)) this.attach(peer);
    }
  }

  #openSfu(): SfuMedia {
    return new SfuMedia(this.host.events, this.#endpoints, this.#selfId, this.#stream, this.host.iceServers, this.host.keys);
  }

  #admitted(): Member[] {
    return this.host.members().filter((member) => member.peer !== undefined && !member.refused);
  }

  #attachedPeers(): Peer[] {
    return this.#admitted().flatMap((member) => (member.peer !== undefined && member.peer.state !== 'closed' && this.#attached.has(member.peer) ? [member.peer] : []));
  }
}
