/**
 * The SFU bridge: peerkit rooms on Janus VideoRooms. Each peerkit room gets one VideoRoom, pinned
 * to the Janus instance that had the fewest rooms when it was made (pins are shared through Redis
 * by the servers of one deployment, so they all use the same VideoRoom; a room whose instance died
 * is pinned again to a live one on its next request); each WHIP resource is one
 * VideoRoom publisher and each WHEP resource one subscriber, each in its own Janus session, so that
 * ending a resource ends exactly its session. A VideoRoom is destroyed once its last resource ends.
 * A resource ends by its DELETE, when the member holding it leaves the room (its signaling presence
 * ends, however: a leave, a closed or dead socket), or when Janus hangs up its PeerConnection and
 * no ICE restart revives it within a grace: a tab that crashed or closed without its DELETE leaves
 * nothing behind in Janus.
 *
 * Longer than 300 lines because it is one life cycle over one state: a resource's open makes or
 * finds its VideoRoom (pin, instance, room count), its end may destroy that room, and an
 * instance's loss forgets its rooms and ends their resources. The types, the SDP edits (sdp.ts),
 * the Janus client (janus.ts) and the pins (pins.ts) are already out; splitting the rest would
 * put the three maps (instances, rooms, resources) behind an interface with no other user.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { createLog } from '../log.js';
import type { Jsep, PeerConnectionEvent } from './janus.js';
import { JanusConnection, JanusError, VideoRoomHandle } from './janus.js';
import type { Pin, RoomPins } from './pins.js';
import { mids, parseFragment, restartFragment, withIceCredentials } from './sdp.js';

/** Options of the bridge, from `--janus`, `--janus-secret`, `--janus-admin-key`. */
export interface SfuOptions {
  /** WebSocket URLs of Janus instances' API, e.g. `ws://127.0.0.1:8188`. */
  janus: string[];
  /** Janus's `api_secret`, when it is configured with one. */
  janusSecret?: string;
  /** The VideoRoom plugin's `admin_key`, when it is configured with one (needed to create rooms). */
  janusAdminKey?: string;
}

/** Why a bridge call failed, as the HTTP status the endpoint answers with. */
export class SfuError extends Error {
  override readonly name = 'SfuError';
  constructor(
    readonly status: 400 | 404 | 409 | 500 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** One WHIP (publisher) or WHEP (subscriber) session in Janus. */
export interface MediaResource {
  readonly id: string;
  readonly kind: 'whip' | 'whep';
  readonly room: string;
  /** The publishing member (WHIP) or the member whose feed is played (WHEP). */
  readonly member: string;
  etag: string;
}

interface Resource extends MediaResource {
  handle: VideoRoomHandle;
  /** The member whose media token opened it (the token's `sub`), when the token named one. */
  holder: string | undefined;
  /** Pending end after Janus hung up its PeerConnection. */
  hangup: NodeJS.Timeout | undefined;
  /** The client's side of the negotiation: its offer (WHIP) or its answer (WHEP). */
  clientSdp: string | undefined;
  /** Janus's side: its answer (WHIP) or its offer (WHEP). */
  janusSdp: string;
  /** The VideoRoom publisher id (WHIP). */
  feed: number | undefined;
}

interface Instance {
  janus: JanusConnection;
  control: VideoRoomHandle | undefined;
  error: string | undefined;
  reconnect: NodeJS.Timeout | undefined;
  attempts: number;
  /** VideoRooms made on it and not yet destroyed. */
  rooms: number;
}

interface VideoRoom {
  instance: Instance;
  id: number;
  pin: Pin;
  resources: Set<Resource>;
  /** Feeds this server published there and ended: Janus may still list one for a moment. */
  ended: Set<number>;
}

/** The health of one Janus instance, for `/healthz`. */
export interface JanusHealth {
  url: string;
  up: boolean;
  rooms: number;
  error?: string;
}

/**
 * How long a resource outlives Janus hanging up its PeerConnection, for an ICE restart by PATCH
 * already under way. Janus itself waits for a restart before it hangs up on failed ICE, and a DTLS
 * alert means the client closed its PeerConnection, so this need not be long.
 */
const HANGUP_GRACE_MS = 5000;

/** How long a member that left is remembered, to end resources it was still opening then. */
const DEPARTED_MS = 60_000;

const memberKey = (room: string, member: string): string => JSON.stringify([room, member]);

function newEtag(): string {
  return `"${randomBytes(9).toString('base64url')}"`;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The bridge between WHIP/WHEP endpoints and Janus. */
export class SfuBridge {
  private readonly instances: Instance[];
  private readonly rooms = new Map<string, Promise<VideoRoom>>();
  private readonly resources = new Map<string, Resource>();
  /** Members that left, by {@link memberKey}, with when. */
  private readonly departed = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly options: SfuOptions,
    private readonly log: ReturnType<typeof createLog>,
    private readonly pins: RoomPins,
  ) {
    this.instances = options.janus.map((url, index) => ({
      janus: new JanusConnection(url, options.janusSecret, (why) => this.lost(index, why)),
      control: undefined,
      error: undefined,
      reconnect: undefined,
      attempts: 0,
      rooms: 0,
    }));
  }

  /** Connects to every instance; one that cannot be reached is logged, and retried in the background. */
  async start(): Promise<void> {
    await Promise.all(this.instances.map((instance) => this.connect(instance)));
  }

  /** Ends every resource and disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.resources.values()].map((resource) => this.end(resource)));
    for (const instance of this.instances) {
      clearTimeout(instance.reconnect);
      instance.janus.close();
    }
    await this.pins.close();
  }

  /** Per Janus instance: reachable or not, and how many rooms it holds. */
  health(): JanusHealth[] {
    return this.instances.map((instance) => {
      const health: JanusHealth = { url: instance.janus.url, up: instance.control !== undefined, rooms: instance.rooms };
      if (instance.error !== undefined) health.error = instance.error;
      return health;
    });
  }

  /** The resource with `id`, when it exists. */
  resource(id: string): MediaResource | undefined {
    return this.resources.get(id);
  }

  /** WHIP: publishes `member`'s offer in `room`; resolves with the resource and Janus's answer. */
  async publish(room: string, member: string, offer: string): Promise<{ resource: MediaResource; answer: string }> {
    const videoRoom = await this.room(room);
    for (const old of videoRoom.resources) {
      // A member publishes one feed: a new WHIP session (a reload, a reconnect) replaces the old one.
      if (old.kind === 'whip' && old.member === member) await this.end(old);
    }
    const resource = await this.open(videoRoom, 'whip', room, member, member);
    try {
      const join = (): ReturnType<VideoRoomHandle['message']> =>
        resource.handle.message({ request: 'joinandconfigure', ptype: 'publisher', room: videoRoom.id, display: member, audio: true, video: true }, { type: 'offer', sdp: offer });
      // 426, no such room: another server destroyed the VideoRoom as its last member there left.
      const reply = await join().catch(async (error: unknown) => {
        if (!(error instanceof JanusError && error.code === 426)) throw error;
        await this.ensureVideoRoom(videoRoom.instance, videoRoom.id, room);
        return join();
      });
      if (reply.jsep?.type !== 'answer' || typeof reply.data.id !== 'number') throw new SfuError(500, 'Janus did not answer the offer');
      resource.clientSdp = offer;
      resource.janusSdp = reply.jsep.sdp;
      resource.feed = reply.data.id;
      this.still(resource);
      this.log('debug', 'whip-publish', { room, member, feed: resource.feed });
      return { resource, answer: reply.jsep.sdp };
    } catch (error) {
      this.still(resource);
      await this.end(resource);
      throw asSfuError(error);
    }
  }

  /**
   * WHEP: subscribes to `member`'s feed in `room` for `holder` (the media token's `sub`); resolves
   * with the resource and Janus's offer.
   */
  async subscribe(room: string, member: string, holder: string | undefined): Promise<{ resource: MediaResource; offer: string }> {
    const videoRoom = await this.room(room);
    const feed = await this.feedOf(videoRoom, member);
    if (feed === undefined) throw new SfuError(409, `${member} is not publishing in ${room}`);
    const resource = await this.open(videoRoom, 'whep', room, member, holder);
    try {
      const reply = await resource.handle.message({ request: 'join', ptype: 'subscriber', room: videoRoom.id, streams: [{ feed }] });
      if (reply.jsep?.type !== 'offer') throw new SfuError(500, 'Janus made no offer for the subscription');
      resource.janusSdp = reply.jsep.sdp;
      this.still(resource);
      this.log('debug', 'whep-subscribe', { room, member, feed });
      return { resource, offer: reply.jsep.sdp };
    } catch (error) {
      this.still(resource);
      await this.end(resource);
      // 428: no such feed, the publisher went between our look and Janus's.
      if (error instanceof JanusError && error.code === 428) throw new SfuError(409, `${member} is not publishing in ${room}`);
      throw asSfuError(error);
    }
  }

  /**
   * The VideoRoom publisher id of `member`'s feed: published through this server, or through
   * another server of the deployment (Janus lists it, by the member id it was given as display).
   */
  private async feedOf(videoRoom: VideoRoom, member: string): Promise<number | undefined> {
    const local = [...videoRoom.resources].find((r) => r.kind === 'whip' && r.member === member && r.feed !== undefined);
    if (local?.feed !== undefined) return local.feed;
    const participants = await this.participants(videoRoom);
    const id = participants.find((p) => p.display === member && p.publisher === true)?.id;
    return typeof id === 'number' ? id : undefined;
  }

  /** The VideoRoom's publishers, as Janus lists them; none when it cannot say. */
  private async participants(videoRoom: VideoRoom): Promise<{ id?: unknown; display?: unknown; publisher?: unknown }[]> {
    const reply = await videoRoom.instance.control?.message({ request: 'listparticipants', room: videoRoom.id }).catch(() => undefined);
    const list = reply?.data.participants;
    return Array.isArray(list) ? list.filter((p): p is { id?: unknown; display?: unknown; publisher?: unknown } => typeof p === 'object' && p !== null) : [];
  }

  /** WHEP: the client's answer to Janus's offer starts the subscription. */
  async answer(id: string, answer: string): Promise<void> {
    const resource = this.find(id);
    if (resource.kind !== 'whep') throw new SfuError(400, 'only a WHEP session takes an SDP answer');
    await resource.handle.message({ request: 'start' }, { type: 'answer', sdp: answer }).catch((error: unknown) => {
      throw asSfuError(error);
    });
    resource.clientSdp = answer;
  }

  /**
   * A trickle-ICE fragment: candidates go to Janus. With `restart` (`If-Match: "*"`), its new
   * credentials start an ICE restart, which Janus takes as a renegotiation; resolves with the
   * restart's answer fragment then, undefined otherwise.
   */
  async patch(id: string, fragment: string, restart: boolean): Promise<string | undefined> {
    const resource = this.find(id);
    const parsed = parseFragment(fragment, mids(resource.janusSdp));
    let reply: string | undefined;
    if (restart) {
      if (parsed.ufrag === undefined || parsed.pwd === undefined) throw new SfuError(400, 'an ICE restart needs a=ice-ufrag and a=ice-pwd');
      if (resource.clientSdp === undefined) throw new SfuError(400, 'an ICE restart before the session is negotiated');
      const client: Jsep = { type: resource.kind === 'whip' ? 'offer' : 'answer', sdp: withIceCredentials(resource.clientSdp, parsed.ufrag, parsed.pwd) };
      try {
        if (resource.kind === 'whip') {
          const answered = await resource.handle.message({ request: 'configure' }, client);
          if (answered.jsep === undefined) throw new SfuError(500, 'Janus did not answer the ICE restart');
          resource.janusSdp = answered.jsep.sdp;
        } else {
          const offered = await resource.handle.message({ request: 'configure', restart: true });
          if (offered.jsep === undefined) throw new SfuError(500, 'Janus made no offer for the ICE restart');
          resource.janusSdp = offered.jsep.sdp;
          await resource.handle.message({ request: 'start' }, client);
        }
      } catch (error) {
        throw asSfuError(error);
      }
      resource.clientSdp = client.sdp;
      resource.etag = newEtag();
      // Janus took the new credentials: whatever it hung up is being restarted.
      clearTimeout(resource.hangup);
      resource.hangup = undefined;
      reply = restartFragment(resource.janusSdp);
    }
    if (parsed.candidates.length > 0) await resource.handle.trickle(parsed.candidates);
    if (parsed.end) await resource.handle.trickle(null);
    return reply;
  }

  /** Ends a resource: its Janus session, and the VideoRoom when it was the last. */
  async delete(id: string): Promise<void> {
    await this.end(this.find(id));
  }

  /**
   * Member `member` left `room` (its presence on the signaling server ended): every resource it
   * holds here ends, as its DELETEs would have ended them, and so do those it is still opening.
   */
  async left(room: string, member: string): Promise<void> {
    const now = Date.now();
    for (const [key, at] of this.departed) if (now - at > DEPARTED_MS) this.departed.delete(key);
    this.departed.set(memberKey(room, member), now);
    const held = [...this.resources.values()].filter((resource) => resource.room === room && resource.holder === member);
    if (held.length > 0) this.log('info', 'sfu-member-left', { room, member, sessions: held.length });
    await Promise.all(held.map((resource) => this.end(resource)));
  }

  /** Throws when `resource` ended while it was being opened (its holder left, Janus hung up). */
  private still(resource: Resource): void {
    if (!this.resources.has(resource.id)) throw new SfuError(404, 'the session ended while it was being set up');
  }

  private find(id: string): Resource {
    const resource = this.resources.get(id);
    if (resource === undefined) throw new SfuError(404, 'no such session');
    return resource;
  }

  private async open(videoRoom: VideoRoom, kind: 'whip' | 'whep', room: string, member: string, holder: string | undefined): Promise<Resource> {
    const id = randomBytes(16).toString('base64url');
    let resource: Resource | undefined;
    const handle = await VideoRoomHandle.open(videoRoom.instance.janus, (event, why) => {
      if (resource !== undefined) this.peerConnection(resource, event, why);
    }).catch((error: unknown) => {
      throw asSfuError(error);
    });
    resource = { id, kind, room, member, etag: newEtag(), handle, holder, hangup: undefined, clientSdp: undefined, janusSdp: '', feed: undefined };
    this.resources.set(id, resource);
    videoRoom.resources.add(resource);
    if (holder !== undefined && this.departed.has(memberKey(room, holder))) {
      await this.end(resource);
      throw new SfuError(404, `${holder} has left ${room}`);
    }
    return resource;
  }

  /**
   * What Janus says of a resource's PeerConnection: hung up, the resource ends here after a grace
   * in which an ICE restart (or Janus saying it is up again) keeps it; detached, it ends now.
   */
  private peerConnection(resource: Resource, event: PeerConnectionEvent, why: string): void {
    if (!this.resources.has(resource.id)) return;
    clearTimeout(resource.hangup);
    resource.hangup = undefined;
    if (event === 'up') return;
    const { room, member, kind } = resource;
    this.log('debug', 'janus-hangup', { room, member, kind, reason: why });
    resource.hangup = setTimeout(
      () => {
        this.log('info', 'sfu-session-hung-up', { room, member, kind, reason: why });
        void this.end(resource);
      },
      event === 'detached' ? 0 : HANGUP_GRACE_MS,
    );
    resource.hangup.unref();
  }

  private async end(resource: Resource): Promise<void> {
    if (!this.resources.delete(resource.id)) return;
    clearTimeout(resource.hangup);
    await resource.handle.destroy();
    const pending = this.rooms.get(resource.room);
    const videoRoom = pending === undefined ? undefined : await pending.catch(() => undefined);
    if (videoRoom === undefined) return;
    videoRoom.resources.delete(resource);
    if (resource.feed !== undefined) videoRoom.ended.add(resource.feed);
    if (videoRoom.resources.size > 0 || this.rooms.get(resource.room) !== pending) return;
    this.rooms.delete(resource.room);
    videoRoom.instance.rooms -= 1;
    // Members of the room on another server still publish there.
    if ((await this.participants(videoRoom)).some((p) => !videoRoom.ended.has(p.id as number))) return;
    await this.pins.unpin(resource.room, videoRoom.pin).catch((error: unknown) => this.log('warn', 'sfu-unpin-failed', { room: resource.room, reason: reason(error) }));
    await videoRoom.instance.control
      ?.message({ request: 'destroy', room: videoRoom.id })
      .then(() => this.log('debug', 'videoroom-destroyed', { room: resource.room, id: videoRoom.id }))
      .catch((error: unknown) => this.log('warn', 'videoroom-destroy-failed', { room: resource.room, reason: reason(error) }));
  }

  /** The room's VideoRoom, created on the least loaded live instance the first time. */
  private room(room: string): Promise<VideoRoom> {
    const existing = this.rooms.get(room);
    if (existing !== undefined) return existing;
    const created = this.createRoom(room);
    this.rooms.set(room, created);
    created.catch(() => {
      if (this.rooms.get(room) === created) this.rooms.delete(room);
    });
    return created;
  }

  private async createRoom(room: string): Promise<VideoRoom> {
    const up = (url: string): Instance | undefined => this.instances.find((i) => i.janus.url === url && i.control !== undefined);
    let pin: Pin;
    try {
      pin = await this.pins.pin(room, () => this.freshPin(), (url) => up(url) === undefined);
    } catch (error) {
      throw error instanceof SfuError ? error : new SfuError(503, `the room pins cannot be read: ${reason(error)}`);
    }
    const instance = up(pin.url);
    if (instance === undefined) throw new SfuError(503, `room ${room} is pinned to ${pin.url}, which this server does not reach`);
    await this.ensureVideoRoom(instance, pin.id, room);
    instance.rooms += 1;
    this.log('debug', 'videoroom-pinned', { room, id: pin.id, janus: instance.janus.url });
    return { instance, id: pin.id, pin, resources: new Set(), ended: new Set() };
  }

  /** A new room's place: a new VideoRoom id on the live instance with the fewest rooms. */
  private async freshPin(): Promise<Pin> {
    const live = this.instances.filter((instance) => instance.control !== undefined);
    if (live.length === 0) throw new SfuError(503, 'no Janus instance is reachable');
    const counts = await this.pins.counts(live.map((instance) => instance.janus.url));
    const fewest = live.reduce((best, instance, i) => ((counts[i] ?? 0) < (counts[live.indexOf(best)] ?? 0) ? instance : best));
    return { url: fewest.janus.url, id: randomInt(1, 2 ** 47) };
  }

  /** Creates VideoRoom `id` on `instance`, unless it is there already (another server made it). */
  private async ensureVideoRoom(instance: Instance, id: number, room: string): Promise<void> {
    if (instance.control === undefined) throw new SfuError(503, `${instance.janus.url} is not reachable`);
    const body: Record<string, unknown> = {
      request: 'create',
      room: id,
      description: `peerkit ${room}`.slice(0, 100),
      is_private: true,
      publishers: 64,
      audiocodec: 'opus',
      videocodec: 'vp8,h264,vp9',
      notify_joining: false,
    };
    if (this.options.janusAdminKey !== undefined) body.admin_key = this.options.janusAdminKey;
    try {
      await instance.control.message(body);
      this.log('debug', 'videoroom-created', { room, id, janus: instance.janus.url });
    } catch (error) {
      // 427: the room exists.
      if (!(error instanceof JanusError && error.code === 427)) throw asSfuError(error);
    }
  }

  private async connect(instance: Instance): Promise<void> {
    try {
      await instance.janus.connect();
      instance.control = await VideoRoomHandle.open(instance.janus, () => undefined);
      instance.error = undefined;
      instance.attempts = 0;
      this.log('info', 'janus-connected', { url: instance.janus.url });
    } catch (error) {
      instance.error = reason(error);
      instance.control = undefined;
      // Said once at error level (at start-up, or when Janus went away); the retries after it quietly.
      this.log(instance.attempts === 0 ? 'error' : 'debug', 'janus-unreachable', { url: instance.janus.url, reason: instance.error });
      instance.janus.close();
      this.retry(instance);
    }
  }

  private retry(instance: Instance): void {
    if (this.closed) return;
    const delay = Math.min(10_000, 500 * 2 ** instance.attempts);
    instance.attempts += 1;
    clearTimeout(instance.reconnect);
    instance.reconnect = setTimeout(() => void this.connect(instance), delay);
    instance.reconnect.unref();
  }

  /** Janus went away: its rooms and sessions went with it. */
  private lost(index: number, why: string): void {
    const instance = this.instances[index];
    if (this.closed || instance === undefined) return;
    instance.rooms = 0;
    instance.control = undefined;
    instance.error = why;
    this.log('error', 'janus-lost', { url: instance.janus.url, reason: why });
    for (const resource of [...this.resources.values()]) {
      const pending = this.rooms.get(resource.room);
      void pending?.then((videoRoom) => {
        if (videoRoom.instance === instance) {
          void resource.handle.destroy();
          this.resources.delete(resource.id);
          this.rooms.delete(resource.room);
        }
      }, () => undefined);
    }
    this.retry(instance);
  }
}

/** Janus's refusals as HTTP statuses: a bad description is the client's, anything else ours. */
function asSfuError(error: unknown): SfuError {
  if (error instanceof SfuError) return error;
  if (error instanceof JanusError) {
    // 0: the connection failed or timed out. Janus core 465/466: unknown JSEP type, invalid SDP;
    // VideoRoom 431/437: invalid SDP type, invalid SDP.
    if (error.code === 0) return new SfuError(503, error.message);
    if ([431, 437, 465, 466].includes(error.code)) return new SfuError(400, `Janus refused the description: ${error.message}`);
    return new SfuError(500, `Janus: ${error.message} (${error.code})`);
  }
  return new SfuError(500, reason(error));
}
